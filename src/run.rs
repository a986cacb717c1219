//! Running a preset headless: the ensemble, its statistics and a report that the CLI prints
//! and the exporters write. The GUI drives [`Ensemble`] itself, in small slices.

use std::time::Instant;

use serde::Serialize;

use crate::dynamics::Ensemble;
use crate::preset::{Experiment, Preset};
use crate::stats::{MomentStats, Moments};

/// Time units per slice between progress reports.
const SLICE_UNITS: u64 = 256;

/// What a simulation measured.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub landscape: String,
    pub algorithm: String,
    pub replacement: String,
    pub eta: f64,
    pub batch: usize,
    pub temperature: f64,
    pub walkers: usize,
    pub steps: u64,
    pub burn_in: u64,
    pub seed: u64,
    pub time_unit: String,
    /// Examples dropped from each permutation without replacement (`N mod B`).
    pub dropped_per_epoch: usize,
    pub diverged_walkers: usize,
    /// Gradient steps (not epochs) per second over all walkers.
    pub walker_steps_per_second: f64,
    pub seconds: f64,
    /// Stationary statistics; absent when `steps = 0` or every walker diverged.
    pub sim: Option<Moments>,
}

/// Run the preset's simulation, calling `progress` with the fraction done.
pub fn simulate(
    preset: &Preset,
    experiment: &Experiment,
    progress: &mut dyn FnMut(f64),
) -> (RunReport, Ensemble) {
    let spec = &preset.dynamics;
    let dynamics = experiment.dynamics;
    let landscape = experiment.landscape.as_ref();
    let mut ensemble = Ensemble::new(
        landscape,
        dynamics,
        spec.walkers,
        &experiment.start,
        spec.seed,
    );
    let mut stats = MomentStats::new(&experiment.start, spec.burn_in);
    let total = if spec.steps == 0 {
        0
    } else {
        spec.burn_in + spec.steps
    };
    let started = Instant::now();
    let mut done = 0;
    while done < total {
        let slice = SLICE_UNITS.min(total - done);
        ensemble.advance(landscape, slice, &mut stats);
        done += slice;
        progress(done as f64 / total as f64);
    }
    let seconds = started.elapsed().as_secs_f64();
    let walker_steps = (total * dynamics.steps_per_unit() as u64) as f64 * spec.walkers as f64;
    let report = RunReport {
        landscape: preset.landscape.kind().to_string(),
        algorithm: dynamics.algorithm.name().to_string(),
        replacement: dynamics.replacement.name().to_string(),
        eta: dynamics.eta,
        batch: dynamics.batch_size,
        temperature: dynamics.temperature,
        walkers: spec.walkers,
        steps: spec.steps,
        burn_in: spec.burn_in,
        seed: spec.seed,
        time_unit: dynamics.time_unit().name().to_string(),
        dropped_per_epoch: dynamics.dropped_per_epoch(),
        diverged_walkers: ensemble.diverged_walkers(),
        walker_steps_per_second: if seconds > 0.0 {
            walker_steps / seconds
        } else {
            0.0
        },
        seconds,
        sim: stats.moments(),
    };
    (report, ensemble)
}
