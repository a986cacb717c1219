//! The stationary-state estimators give the same bits whether the walkers reach them in SIMD
//! lane groups (`Observer::observe_lanes`) or one walker at a time (`Observer::observe`):
//! every sum keeps one slot per lane and sees its values in the same order either way
//! (docs/theory.md §11.5).

use std::path::Path;

use neqlab::dynamics::{Algorithm, Dynamics, Ensemble, Observer};
use neqlab::landscape::{LANES, Lanes};
use neqlab::preset::{Preset, shipped};
use neqlab::stationary::{Prediction, PredictionOptions, SimulationStats};

/// The estimators, refusing interleaved walkers: the ensemble then feeds them one walker at a
/// time (the same positions, docs/theory.md §11.3).
struct OneAtATime(SimulationStats);

impl Observer for OneAtATime {
    fn fork(&self) -> Self {
        Self(self.0.fork())
    }
    fn begin_walker(&mut self, walker: usize) {
        self.0.begin_walker(walker);
    }
    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        self.0.observe(walker, unit, before, after);
    }
    fn merge(&mut self, other: Self) {
        self.0.merge(other.0);
    }
    fn walkers_per_part(&self) -> usize {
        self.0.walkers_per_part()
    }
    fn accepts_interleaved_walkers(&self) -> bool {
        false
    }
    fn observe_lanes(&mut self, _: usize, _: u64, _: &[bool; LANES], _: &[Lanes], _: &[Lanes]) {
        unreachable!("the ensemble only calls observe_lanes on observers that accept it")
    }
}

/// `bowl-current`'s prediction (moments, the 128² density and current, entropy production
/// with the linearised model), 203 walkers (the last lane group is partial), three advances of
/// 40, 7 and 90 units after a burn-in of 20 (windows cut at the ends): with the preset's SGD,
/// and with SGLD at `η h = 2.2`, where the walkers diverge one by one and lanes die at
/// different units. The `Debug` text compares every number bit for bit (NaN included).
#[test]
fn estimates_are_the_same_bits_in_lanes_and_one_walker_at_a_time() {
    let name = "bowl-current";
    let text = shipped(name).expect("shipped preset");
    let path = Path::new("presets").join(format!("{name}.toml"));
    let preset = Preset::from_toml(text, &path).expect("preset parses");
    let experiment = preset.build(&path, Some(text)).expect("experiment builds");
    let prediction = Prediction::compute(&experiment, &PredictionOptions::with_plane(&preset.fp));
    let landscape = experiment.landscape.as_ref();
    let n = landscape.n_examples();
    let diverging = Dynamics::new(Algorithm::Sgld, None, 0.55, 10, 1.0, n).expect("valid");
    for dynamics in [experiment.dynamics, diverging] {
        let stats = || SimulationStats::for_prediction(&experiment.start, &prediction, 20);
        let ensemble = || Ensemble::new(landscape, dynamics, 203, &experiment.start, 7);
        let (mut lanes, mut lanes_walkers) = (stats(), ensemble());
        let (mut single, mut single_walkers) = (OneAtATime(stats()), ensemble());
        assert!(lanes.accepts_interleaved_walkers());
        for units in [40, 7, 90] {
            lanes_walkers.advance(landscape, units, &mut lanes);
            single_walkers.advance(landscape, units, &mut single);
        }
        let bits =
            |e: &Ensemble| -> Vec<u64> { e.positions().iter().map(|x| x.to_bits()).collect() };
        assert_eq!(bits(&lanes_walkers), bits(&single_walkers));
        let (a, b) = (lanes.estimates(), single.0.estimates());
        assert!(a.moments.is_some() && a.grid.is_some() && a.entropy.is_some());
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{dynamics:?}");
    }
}
