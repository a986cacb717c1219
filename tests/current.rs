//! The simulated current's standard error (docs/theory.md §7.3) against independent replicas.
//!
//! Run in release mode: `cargo test --release --test current`.

use std::path::Path;

use neqlab::dynamics::Ensemble;
use neqlab::preset::Preset;

/// `Σ |Δw|²` per cell of the midpoint: the variance of the current a test would get by
/// treating every walker-step as independent.
#[derive(Clone)]
struct SquaredSteps {
    grid: neqlab::theory::fokker_planck::Grid2d,
    burn_in: u64,
    sum: Vec<f64>,
}

impl neqlab::dynamics::Observer for SquaredSteps {
    fn fork(&self) -> Self {
        Self {
            sum: vec![0.0; self.sum.len()],
            ..self.clone()
        }
    }
    fn observe(&mut self, _: usize, unit: u64, before: &[f64], after: &[f64]) {
        let midpoint = [0.5 * (before[0] + after[0]), 0.5 * (before[1] + after[1])];
        if unit >= self.burn_in
            && let Some(cell) = self.grid.locate(midpoint)
        {
            self.sum[cell] += (after[0] - before[0]).powi(2) + (after[1] - before[1]).powi(2);
        }
    }
    fn merge(&mut self, other: Self) {
        self.sum
            .iter_mut()
            .zip(other.sum)
            .for_each(|(a, b)| *a += b);
    }
}

/// The current's standard error from walker groups (`GridHistogram::field`, docs/theory.md
/// section 7) against the spread of independent replicas, on the shipped rotating bowl at
/// the prediction's 2σ cells of a 32 × 32 grid.
///
/// 24 replicas of 512 walkers × 1000 steps after 500 of burn-in. Per cell, the variance of
/// `J` across replicas is known to a relative `sqrt(2/23) ≈ 0.3`, and the mean estimated
/// variance (32 groups, 24 replicas) to about 0.06; averaged over the ~60 cells of the 2σ
/// region (neighbouring cells are correlated, so count them as a few dozen independent
/// ones) the ratio of the two is known to about 0.06, and must lie within [0.8, 1.25]
/// (measured: 0.96). Treating walker-steps as independent ignores that a walker lingers near
/// a cell, stepping back and forth, for about a relaxation time (50 steps): its steps there
/// partly cancel, and the naive variance comes out about twice too large (measured: 1.94);
/// the test checks that it is off by more than 40 %, so it can tell the two estimators apart.
#[test]
fn current_standard_error_matches_the_spread_of_replicas() {
    use neqlab::stationary::{Prediction, PredictionOptions};
    use neqlab::stats::GridHistogram;
    let text = neqlab::preset::shipped("bowl-current").expect("shipped");
    let path = Path::new("presets/bowl-current.toml");
    let preset = Preset::from_toml(text, path)
        .expect("preset")
        .with_overrides(&["fp.grid=32".into()])
        .expect("overrides");
    let experiment = preset.build(path, Some(text)).expect("experiment");
    let prediction = Prediction::compute(&experiment, &PredictionOptions::with_plane(&preset.fp));
    let grid = prediction.grid().expect("grid");
    let region = prediction
        .fokker_planck()
        .expect("solution")
        .field
        .two_sigma_region();
    let (replicas, walkers, burn_in, steps) = (24, 512, 500u64, 1000u64);
    let landscape = experiment.landscape.as_ref();
    let mut currents = Vec::new();
    let mut estimated = vec![0.0; grid.cells()];
    let mut naive = vec![0.0; grid.cells()];
    for replica in 0..replicas {
        let mut ensemble = Ensemble::new(
            landscape,
            experiment.dynamics,
            walkers,
            &experiment.start,
            1000 + replica,
        );
        let mut observer = (
            GridHistogram::new(grid, burn_in),
            SquaredSteps {
                grid,
                burn_in,
                sum: vec![0.0; grid.cells()],
            },
        );
        ensemble.advance(landscape, burn_in + steps, &mut observer);
        let field = observer.0.field(1);
        let errors = field.current_error.as_ref().expect("errors");
        for &cell in &region {
            estimated[cell] += errors[cell].powi(2) / replicas as f64;
            let samples = (walkers as u64 * steps) as f64;
            let scale = samples * grid.cell_area();
            naive[cell] += observer.1.sum[cell] / scale.powi(2) / replicas as f64;
        }
        currents.push(field.current);
    }
    let (mut spread, mut expected, mut iid) = (0.0, 0.0, 0.0);
    for &cell in &region {
        let mean =
            [0, 1].map(|a| currents.iter().map(|j| j[cell][a]).sum::<f64>() / replicas as f64);
        let variance: f64 = currents
            .iter()
            .map(|j| (j[cell][0] - mean[0]).powi(2) + (j[cell][1] - mean[1]).powi(2))
            .sum::<f64>()
            / (replicas - 1) as f64;
        spread += variance;
        expected += estimated[cell];
        iid += naive[cell];
    }
    let ratio = spread / expected;
    println!(
        "{} cells: replica variance / group estimate = {ratio:.3}; iid estimate / replica variance = {:.3}",
        region.len(),
        iid / spread
    );
    assert!(region.len() >= 20, "{} cells", region.len());
    assert!((0.8..1.25).contains(&ratio), "ratio {ratio}");
    assert!(
        iid > 1.4 * spread,
        "the naive estimate {iid:e} is not far from {spread:e}"
    );
}
