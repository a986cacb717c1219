//! The throughput measurement behind `neqlab bench`: walker-steps per second of SGD with
//! replacement (`B = 10`) on the bowl (`N = 100`) and on the seven-weight regression network
//! (`N = 200`, docs/theory.md §6), on every core, and of one walker on the network.
//! The settings match `shared/bench`'s NumPy and JAX references, so the ratios are fair.
//!
//! Each figure is the median of `repeats` timed runs of fresh ensembles (seeds `0, 1, …`);
//! the kernels are those of docs/theory.md §11. Each also comes per second of the process's
//! CPU time (all threads, over all repeats): on a machine shared with other work, wall time
//! counts the time others took from the cores and CPU time does not, so the ratio of two CPU
//! figures stays meaningful (on Linux; elsewhere these are `None`).

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
    /// Bowl, all cores: walker-steps per second of CPU time.
    pub bowl_walker_steps_per_cpu_second: Option<f64>,
    /// Network, all cores: walker-steps per second of CPU time.
    pub net_walker_steps_per_cpu_second: Option<f64>,
    /// Network, one walker: steps per second of CPU time.
    pub net_single_walker_steps_per_cpu_second: Option<f64>,
}

/// One measured figure: the median over the repeats of wall-clock rates, and the rate per
/// second of CPU time over all repeats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Walker-steps per second of wall time, the median of the repeats.
    pub per_second: f64,
    /// Walker-steps per second of the process's CPU time (`None` where it cannot be read).
    pub per_cpu_second: Option<f64>,
}

/// CPU time of the whole process (every thread) so far, in seconds (Linux).
pub fn process_cpu_seconds() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Some(t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9)
    }
    #[cfg(not(target_os = "linux"))]
    None
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

/// Walker-steps per second of `repeats` runs of `walkers × steps` SGD-WR steps.
pub fn measure(
    spec: &LandscapeSpec,
    eta: f64,
    walkers: usize,
    steps: u64,
    repeats: usize,
) -> Result<Rate, BenchError> {
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
    let work = (walkers as u64 * steps) as f64;
    let mut cpu_seconds = Some(0.0);
    let mut rates: Vec<f64> = (0..repeats.max(1))
        .map(|repeat| {
            let mut ensemble =
                Ensemble::new(landscape.as_ref(), dynamics, walkers, &start, repeat as u64);
            let cpu = process_cpu_seconds();
            let started = Instant::now();
            ensemble.advance(landscape.as_ref(), steps, &mut ());
            let wall = started.elapsed().as_secs_f64();
            cpu_seconds = cpu_seconds
                .zip(cpu.zip(process_cpu_seconds()))
                .map(|(sum, (before, after))| sum + (after - before));
            work / wall
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    Ok(Rate {
        per_second: rates[rates.len() / 2],
        per_cpu_second: cpu_seconds
            .filter(|&s| s > 0.0)
            .map(|s| work * rates.len() as f64 / s),
    })
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
    let bowl_rate = measure(&bowl, BOWL_ETA, walkers, steps, repeats)?;
    let net_rate = measure(&net, NET_ETA, walkers, steps, repeats)?;
    let single = measure(&net, NET_ETA, 1, single_walker_steps, repeats)?;
    Ok(BenchReport {
        threads: rayon::current_num_threads(),
        walkers,
        steps,
        repeats,
        single_walker_steps,
        bowl_walker_steps_per_second: bowl_rate.per_second,
        net_walker_steps_per_second: net_rate.per_second,
        net_single_walker_steps_per_second: single.per_second,
        bowl_walker_steps_per_cpu_second: bowl_rate.per_cpu_second,
        net_walker_steps_per_cpu_second: net_rate.per_cpu_second,
        net_single_walker_steps_per_cpu_second: single.per_cpu_second,
    })
}

/// `{:.4e}` of a figure, or "n/a".
fn figure(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".into(), |v| format!("{v:.4e}"))
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
            "bowl (N = 100, B = 10, SGD WR): {:.4e} walker-steps/s ({} per CPU-second)",
            self.bowl_walker_steps_per_second,
            figure(self.bowl_walker_steps_per_cpu_second)
        )?;
        writeln!(
            f,
            "net (N = 200, B = 10, SGD WR, eta = 1e-7): {:.4e} walker-steps/s ({} per CPU-second)",
            self.net_walker_steps_per_second,
            figure(self.net_walker_steps_per_cpu_second)
        )?;
        writeln!(
            f,
            "net, one walker ({} steps): {:.4e} steps/s ({} per CPU-second)",
            self.single_walker_steps,
            self.net_single_walker_steps_per_second,
            figure(self.net_single_walker_steps_per_cpu_second)
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
        #[cfg(target_os = "linux")]
        for rate in [
            report.bowl_walker_steps_per_cpu_second,
            report.net_walker_steps_per_cpu_second,
            report.net_single_walker_steps_per_cpu_second,
        ] {
            assert!(rate.is_some_and(|r| r.is_finite() && r > 0.0), "{rate:?}");
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
            "bowl_walker_steps_per_cpu_second",
            "net_walker_steps_per_cpu_second",
            "net_single_walker_steps_per_cpu_second",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(report.single_walker_steps, 200);
    }
}
