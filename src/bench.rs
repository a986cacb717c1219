//! The throughput measurement behind `neqlab bench`: walker-steps per second of SGD with
//! replacement (`B = 10`) on the bowl (`N = 100`) and on the seven-weight regression network
//! (`N = 200`, docs/theory.md §6), on every core, and of one walker on the network.
//! The settings match `shared/bench`'s NumPy and JAX references, so the ratios are fair.
//!
//! Each figure is the median of `repeats` timed runs of fresh ensembles (seeds `0, 1, …`);
//! the kernels are those of docs/theory.md §11.

use std::fmt;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::dynamics::{Algorithm, Dynamics, DynamicsError, Ensemble};
use crate::landscape::{BowlSpec, LandscapeError, LandscapeSpec, RegressionNetSpec};

/// Learning rate of the bowl measurement (stable: `η h_max = 0.04`).
pub const BOWL_ETA: f64 = 1e-2;
/// Learning rate of the network measurement (the references' value; the walkers barely move,
/// so every step costs the same).
pub const NET_ETA: f64 = 1e-7;
/// Batch size of every measurement.
pub const BATCH_SIZE: usize = 10;
/// The one-walker measurement runs as many steps as the ensemble one, at most this many.
pub const MAX_SINGLE_WALKER_STEPS: u64 = 2_000_000;

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchOptions {
    /// Walkers per ensemble measurement.
    pub walkers: usize,
    /// Steps per ensemble measurement.
    pub steps: u64,
    /// Timed runs per figure; the median is reported.
    pub repeats: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            walkers: 1000,
            steps: 2000,
            repeats: 5,
        }
    }
}

/// The figures of one `neqlab bench` (field names are the JSON keys).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    /// Worker threads of the rayon pool.
    pub threads: usize,
    /// Walkers per ensemble measurement.
    pub walkers: usize,
    /// Steps per ensemble measurement.
    pub steps: u64,
    /// Timed runs per figure.
    pub repeats: usize,
    /// Steps of the one-walker measurement.
    pub single_walker_steps: u64,
    /// Bowl, all cores: median walker-steps per second.
    pub bowl_walker_steps_per_second: f64,
    /// Network, all cores: median walker-steps per second.
    pub net_walker_steps_per_second: f64,
    /// Network, one walker: median steps per second.
    pub net_single_walker_steps_per_second: f64,
}

/// A landscape or a dynamics of the measurement could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The landscape failed to build.
    #[error("building the {kind} landscape: {source}")]
    Landscape {
        /// The landscape kind.
        kind: &'static str,
        /// The failure.
        source: LandscapeError,
    },
    /// The dynamics were rejected.
    #[error(transparent)]
    Dynamics(#[from] DynamicsError),
}

/// Median walker-steps per second of `repeats` runs of `walkers × steps` SGD-WR steps.
pub fn measure(
    spec: &LandscapeSpec,
    eta: f64,
    walkers: usize,
    steps: u64,
    repeats: usize,
) -> Result<f64, BenchError> {
    let landscape = spec
        .build(Path::new("."))
        .map_err(|source| BenchError::Landscape {
            kind: spec.kind(),
            source,
        })?;
    let dynamics = Dynamics::new(
        Algorithm::Sgd,
        None,
        eta,
        BATCH_SIZE,
        0.0,
        landscape.n_examples(),
    )?;
    let start = landscape.start();
    let mut rates: Vec<f64> = (0..repeats.max(1))
        .map(|repeat| {
            let mut ensemble =
                Ensemble::new(landscape.as_ref(), dynamics, walkers, &start, repeat as u64);
            let started = Instant::now();
            ensemble.advance(landscape.as_ref(), steps, &mut ());
            (walkers as u64 * steps) as f64 / started.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

/// Run the three measurements.
pub fn run(options: &BenchOptions) -> Result<BenchReport, BenchError> {
    let BenchOptions {
        walkers,
        steps,
        repeats,
    } = *options;
    let bowl = LandscapeSpec::Bowl(BowlSpec::default());
    let net = LandscapeSpec::RegressionNet(RegressionNetSpec::default());
    let single_walker_steps = (walkers as u64 * steps).clamp(1, MAX_SINGLE_WALKER_STEPS);
    Ok(BenchReport {
        threads: rayon::current_num_threads(),
        walkers,
        steps,
        repeats,
        single_walker_steps,
        bowl_walker_steps_per_second: measure(&bowl, BOWL_ETA, walkers, steps, repeats)?,
        net_walker_steps_per_second: measure(&net, NET_ETA, walkers, steps, repeats)?,
        net_single_walker_steps_per_second: measure(
            &net,
            NET_ETA,
            1,
            single_walker_steps,
            repeats,
        )?,
    })
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "threads: {}; {} walkers x {} steps, median of {}",
            self.threads, self.walkers, self.steps, self.repeats
        )?;
        writeln!(
            f,
            "bowl (N = 100, B = 10, SGD WR): {:.4e} walker-steps/s",
            self.bowl_walker_steps_per_second
        )?;
        writeln!(
            f,
            "net (N = 200, B = 10, SGD WR, eta = 1e-7): {:.4e} walker-steps/s",
            self.net_walker_steps_per_second
        )?;
        writeln!(
            f,
            "net, one walker ({} steps): {:.4e} steps/s",
            self.single_walker_steps, self.net_single_walker_steps_per_second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny run produces positive, finite rates and the JSON keys `neqlab bench --json`
    /// has always printed. (No speed is asserted: speed belongs to benches.)
    #[test]
    fn tiny_run_reports_every_figure() {
        let report = run(&BenchOptions {
            walkers: 10,
            steps: 20,
            repeats: 1,
        })
        .expect("runs");
        for rate in [
            report.bowl_walker_steps_per_second,
            report.net_walker_steps_per_second,
            report.net_single_walker_steps_per_second,
        ] {
            assert!(rate.is_finite() && rate > 0.0, "{rate}");
        }
        let json = serde_json::to_value(&report).expect("serialises");
        for key in [
            "threads",
            "walkers",
            "steps",
            "repeats",
            "single_walker_steps",
            "bowl_walker_steps_per_second",
            "net_walker_steps_per_second",
            "net_single_walker_steps_per_second",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(report.single_walker_steps, 200);
    }
}
