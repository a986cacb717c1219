//! What each stationary-state estimator costs per walker-step, in CPU time (docs/theory.md
//! §11.5): the shipped `bowl-current` preset (4000 walkers, the app's default) past its
//! burn-in, advanced 4 × 50 steps with no observer, with the moments, with moments and the
//! 128² density and current histogram, with moments and entropy production, and with all of
//! them (what the app and `neqlab run` feed); the best of 5 repetitions each. CPU time, not
//! wall time, so the figures hold on a machine shared with other work; run it on one thread
//! to leave out the time idle workers spin:
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release --example estimator_cost
//! ```

use std::path::Path;

use neqlab::bench::process_cpu_seconds;
use neqlab::dynamics::{Ensemble, Observer};
use neqlab::landscape::Landscape;
use neqlab::preset::{Preset, shipped};
use neqlab::stationary::{Prediction, PredictionOptions, SimulationStats};

const WALKERS: usize = 4000;
const ADVANCES: u64 = 4;
const UNITS: u64 = 50;

/// CPU nanoseconds per walker-step of `ADVANCES × UNITS` steps fed to `observer`, best of 5.
fn cost<O: Observer>(ensemble: &mut Ensemble, landscape: &dyn Landscape, observer: &mut O) -> f64 {
    let mut best = f64::NAN;
    for _ in 0..5 {
        let start = process_cpu_seconds();
        for _ in 0..ADVANCES {
            ensemble.advance(landscape, UNITS, observer);
        }
        if let (Some(start), Some(end)) = (start, process_cpu_seconds()) {
            best = best.min(end - start);
        }
    }
    best / (WALKERS as f64 * (ADVANCES * UNITS) as f64) * 1e9
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = "bowl-current";
    let text = shipped(name).ok_or("no shipped bowl-current")?;
    let path = Path::new("presets").join(format!("{name}.toml"));
    let preset = Preset::from_toml(text, &path)?;
    let experiment = preset.build(&path, Some(text))?;
    let prediction = Prediction::compute(&experiment, &PredictionOptions::with_plane(&preset.fp));
    let landscape = experiment.landscape.as_ref();
    let start = &experiment.start;
    let mut ensemble = Ensemble::new(landscape, experiment.dynamics, WALKERS, start, 1);
    ensemble.advance(landscape, preset.dynamics.burn_in, &mut ());
    let grid = prediction.grid();
    let report = |label: &str, ns: f64| println!("{label:<36} {ns:6.1} ns of CPU per walker-step");
    report("walkers alone", cost(&mut ensemble, landscape, &mut ()));
    let mut moments = SimulationStats::new(start, None, None, 0);
    report("moments", cost(&mut ensemble, landscape, &mut moments));
    let mut histogram = SimulationStats::new(start, grid, None, 0);
    report(
        "moments, density and current",
        cost(&mut ensemble, landscape, &mut histogram),
    );
    let mut entropy = SimulationStats::new(start, None, Some(&prediction), 0);
    report(
        "moments, entropy production",
        cost(&mut ensemble, landscape, &mut entropy),
    );
    let mut all = SimulationStats::for_prediction(start, &prediction, 0);
    report(
        "all (the app's estimators)",
        cost(&mut ensemble, landscape, &mut all),
    );
    let (Some(before), repeats) = (process_cpu_seconds(), 20) else {
        return Ok(());
    };
    for _ in 0..repeats {
        std::hint::black_box(all.estimates());
    }
    let after = process_cpu_seconds().unwrap_or(f64::NAN);
    println!(
        "one snapshot of the estimates: {:.2} ms of CPU",
        (after - before) / repeats as f64 * 1e3
    );
    Ok(())
}
