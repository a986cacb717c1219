//! Running a preset headless: the ensemble, its statistics and a report that the CLI prints
//! and the exporters write. The GUI drives [`Ensemble`] itself, in small slices.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::dynamics::Ensemble;
use crate::preset::{Experiment, Preset};
use crate::stats::grid::{GridHistogram, total_variation};
use crate::stats::{
    EntropyProduction, IftPoint, MomentStats, Moments, SigmaHistogram, sampled_diffusion,
};
use crate::theory::force::GridForce;
use crate::theory::{
    LinearTheory, TheoryOptions, drift_and_diffusion, fokker_planck, fokker_planck_grid,
    linear_theory,
};

/// One-unit displacements from the predicted mean used for the sampled diffusion matrix.
pub const DIFFUSION_SAMPLES: usize = 100_000;

/// Trajectory length (time units) of the `Σ` histogram behind the DFT slope.
pub const DFT_UNITS: usize = 5;

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
    pub sim: Option<SimReport>,
    /// The linearised theory (docs/theory.md sections 3, 4); absent when it has no prediction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory: Option<LinearTheory>,
    /// Why the theory has no prediction ("no prediction: ...").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory_error: Option<String>,
    /// Seconds spent on the theory.
    pub theory_seconds: f64,
    /// Why the theory's predictions are only approximate here ([`expansion_note`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory_note: Option<String>,
    /// The 2-D Fokker–Planck solution against the simulated histogram (2-D landscapes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fp: Option<FpReport>,
    /// Why there is no Fokker–Planck solution on a 2-D landscape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fp_error: Option<String>,
}

/// The Fokker–Planck solve of a run (docs/theory.md §3, §7.3 and §8).
#[derive(Clone, Debug, Serialize)]
pub struct FpReport {
    /// Cells `[nx, ny]`.
    pub grid: [usize; 2],
    /// `[w1_min, w1_max, w2_min, w2_max]`.
    pub bounds: [f64; 4],
    /// Total variation between the solved density and the simulated histogram on the grid
    /// (absent without samples).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tv_vs_sim: Option<f64>,
    /// Fraction of simulated samples outside the grid.
    pub outside_fraction: f64,
    pub solve_seconds: f64,
    /// Smallest solved cell mass (negative only through round-off in the far tail).
    pub min_density: f64,
    pub negative_cells: usize,
    /// Entropy production per time unit of the solution, `∫ Jᵀ D⁻¹ J / p` (computed when the
    /// simulation's `σ` uses the solution's force).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ep_rate: Option<f64>,
}

/// Simulated statistics: the stationary moments plus, when the theory has a prediction,
/// entropy production measured with its `v` and `D` (docs/theory.md section 7) and the sampled
/// diffusion matrix at its mean. Dereferences to the [`Moments`].
#[derive(Clone, Debug, Serialize)]
pub struct SimReport {
    #[serde(flatten)]
    pub moments: Moments,
    /// Mean entropy production per time unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ep_rate: Option<f64>,
    /// The model behind `σ`: `"linearised"` (`v = −C Σ⁻¹ (w − w*)`, constant `D`), or
    /// `"fokker-planck"` (the force `D⁻¹ J/p` of the 2-D solution, on landscapes with
    /// several minima, where one linearisation cannot describe the stationary state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ep_model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ep_rate_error: Option<f64>,
    /// `⟨exp(−Σ)⟩` for trajectories of 1 … 5 time units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ift: Option<Vec<IftPoint>>,
    /// Slope of `ln P(Σ)/P(−Σ)` against `Σ` for trajectories of [`DFT_UNITS`] units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dft_slope: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dft_slope_error: Option<f64>,
    /// Half the covariance of [`DIFFUSION_SAMPLES`] one-unit displacements from the
    /// predicted mean (row-major), to compare with `theory.diffusion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diffusion_sampled: Option<Vec<f64>>,
    /// `|simulated mean − theory.mean|` (the effective minimum without replacement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_to_mean: Option<f64>,
    /// `|simulated mean − theory.minimum|` (the minimum of `L`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_to_minimum: Option<f64>,
    /// The `Σ` histogram behind the DFT slope (for plots; not serialised).
    #[serde(skip)]
    pub sigma_histogram: Option<SigmaHistogram>,
}

/// A run stopped by its cancel flag before it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the run was cancelled after {done} of {total} time units")]
pub struct Cancelled {
    pub done: u64,
    pub total: u64,
}

impl std::ops::Deref for SimReport {
    type Target = Moments;
    fn deref(&self) -> &Moments {
        &self.moments
    }
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Run the preset's simulation, calling `progress` with the fraction done.
pub fn simulate(
    preset: &Preset,
    experiment: &Experiment,
    progress: &mut dyn FnMut(f64),
) -> (RunReport, Ensemble) {
    match simulate_until(preset, experiment, progress, None) {
        Ok(done) => done,
        // Without a flag nothing cancels; keep the types honest all the same.
        Err(stopped) => (stopped.1, stopped.2),
    }
}

/// [`simulate`], checking `cancel` between slices of at most 256 time units: once it is set,
/// the run stops at the next slice boundary and returns [`Cancelled`] (no report).
pub fn simulate_cancellable(
    preset: &Preset,
    experiment: &Experiment,
    progress: &mut dyn FnMut(f64),
    cancel: &AtomicBool,
) -> Result<(RunReport, Ensemble), Cancelled> {
    simulate_until(preset, experiment, progress, Some(cancel)).map_err(|stopped| stopped.0)
}

type Stopped = (Cancelled, RunReport, Ensemble);

fn simulate_until(
    preset: &Preset,
    experiment: &Experiment,
    progress: &mut dyn FnMut(f64),
    cancel: Option<&AtomicBool>,
) -> Result<(RunReport, Ensemble), Box<Stopped>> {
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
    let theory_started = Instant::now();
    let (theory, theory_error) = match linear_theory(experiment, &TheoryOptions::default()) {
        Ok(theory) => (Some(theory), None),
        Err(error) => (None, Some(error.to_string())),
    };
    let theory_seconds = theory_started.elapsed().as_secs_f64();
    let grid =
        (landscape.dim() == 2).then(|| fokker_planck_grid(experiment, &preset.fp, theory.as_ref()));
    // Several minima: one linearisation cannot describe the stationary state, so `σ` uses the
    // force of the Fokker–Planck solution, solved before the run (and reported after it).
    let mut early_solution = None;
    let mut force = None;
    if landscape.minimum_hints().len() > 1
        && let Some(Ok(_)) = &grid
        && let Ok(solution) = fokker_planck(experiment, &preset.fp, theory.as_ref())
    {
        force = drift_and_diffusion(experiment, theory.as_ref())
            .ok()
            .and_then(|fields| GridForce::new(&solution, &fields))
            .map(Arc::new);
        early_solution = Some(solution);
    }
    let (entropy, ep_model) = match (&force, &theory) {
        (Some(force), _) => (
            Some(EntropyProduction::from_force(
                force.clone(),
                spec.burn_in,
                DFT_UNITS,
            )),
            Some("fokker-planck"),
        ),
        (None, Some(t)) => (
            EntropyProduction::new(t, spec.burn_in, DFT_UNITS),
            Some("linearised"),
        ),
        (None, None) => (None, None),
    };
    let histogram = match &grid {
        Some(Ok(grid)) => Some(GridHistogram::new(*grid, spec.burn_in)),
        _ => None,
    };
    let mut stats = (
        (MomentStats::new(&experiment.start, spec.burn_in), entropy),
        histogram,
    );
    let total = if spec.steps == 0 {
        0
    } else {
        spec.burn_in + spec.steps
    };
    let started = Instant::now();
    let mut done = 0;
    let mut cancelled = None;
    while done < total {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            cancelled = Some(Cancelled { done, total });
            break;
        }
        let slice = SLICE_UNITS.min(total - done);
        ensemble.advance(landscape, slice, &mut stats);
        done += slice;
        progress(done as f64 / total as f64);
    }
    let seconds = started.elapsed().as_secs_f64();
    let walker_steps = (total * dynamics.steps_per_unit() as u64) as f64 * spec.walkers as f64;
    let mut report = RunReport {
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
        sim: stats.0.0.moments().map(|moments| {
            let entropy = stats.0.1.as_ref().map(EntropyProduction::stats);
            let diffusion_sampled = theory.as_ref().filter(|_| cancelled.is_none()).map(|t| {
                sampled_diffusion(
                    landscape,
                    dynamics,
                    &t.mean,
                    DIFFUSION_SAMPLES,
                    spec.seed ^ 0x4449_4646,
                )
            });
            SimReport {
                distance_to_mean: theory.as_ref().map(|t| distance(&moments.mean, &t.mean)),
                distance_to_minimum: theory.as_ref().map(|t| distance(&moments.mean, &t.minimum)),
                moments,
                ep_rate: entropy.as_ref().map(|e| e.ep_rate),
                ep_model: entropy.as_ref().and(ep_model),
                ep_rate_error: entropy.as_ref().map(|e| e.ep_rate_error),
                ift: entropy.as_ref().map(|e| e.ift.clone()),
                dft_slope: entropy.as_ref().and_then(|e| e.dft_slope),
                dft_slope_error: entropy.as_ref().and_then(|e| e.dft_slope_error),
                diffusion_sampled,
                sigma_histogram: stats.0.1.as_ref().map(EntropyProduction::sigma_histogram),
            }
        }),
        theory_note: theory
            .as_ref()
            .and_then(|t| expansion_note(t, &experiment.dynamics)),
        theory,
        theory_error,
        theory_seconds,
        fp: None,
        fp_error: None,
    };
    match grid.filter(|_| cancelled.is_none()) {
        None => {}
        Some(Err(error)) => report.fp_error = Some(error.to_string()),
        Some(Ok(grid)) => match early_solution
            .map(Ok)
            .unwrap_or_else(|| fokker_planck(experiment, &preset.fp, report.theory.as_ref()))
        {
            Err(error) => report.fp_error = Some(error.to_string()),
            Ok(solution) => {
                let histogram = stats.1.as_ref();
                let tv_vs_sim = histogram
                    .filter(|h| h.samples() > 0)
                    .map(|h| total_variation(&h.density(), &solution.density));
                report.fp = Some(FpReport {
                    grid: [grid.nx, grid.ny],
                    bounds: grid.bounds,
                    tv_vs_sim,
                    outside_fraction: histogram.map(|h| h.outside_fraction()).unwrap_or(0.0),
                    solve_seconds: solution.solve_seconds,
                    min_density: solution.min_density,
                    negative_cells: solution.negative_cells,
                    ep_rate: force.as_ref().map(|f| f.rate()),
                });
            }
        },
    }
    match cancelled {
        Some(cancelled) => Err(Box::new((cancelled, report, ensemble))),
        None => Ok((report, ensemble)),
    }
}

/// The threshold of [`expansion_note`] on `η h_max` (with replacement) or `η M h_max`
/// (without).
pub const EXPANSION_LIMIT: f64 = 0.3;

/// A validity note when the expansion in `η` (docs/theory.md §3.1, §4.4) is stretched:
/// `η M h_max > 0.3` without replacement or `η h_max > 0.3` with, `h_max` the largest
/// eigenvalue of the theory's Hessian.
pub fn expansion_note(
    theory: &LinearTheory,
    dynamics: &crate::dynamics::Dynamics,
) -> Option<String> {
    let h_max = theory.hessian_eigenvalues().last().copied().unwrap_or(0.0);
    let (product, label) = match dynamics.replacement {
        crate::dynamics::Replacement::Wor => (
            dynamics.eta * dynamics.batches_per_epoch() as f64 * h_max,
            "η·M·h",
        ),
        crate::dynamics::Replacement::Wr => (dynamics.eta * h_max, "η·h"),
    };
    (product > EXPANSION_LIMIT).then(|| {
        format!(
            "the expansion in η of docs/theory.md needs {label} ≪ 1 (here {product:.2}): predictions are approximate"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short_net() -> (Preset, Experiment) {
        let text = crate::preset::shipped("regression-net").expect("shipped");
        let path = std::path::Path::new("presets/regression-net.toml");
        let preset = Preset::from_toml(text, path)
            .expect("parses")
            .with_overrides(&[
                "dynamics.walkers=4".into(),
                "dynamics.steps=600".into(),
                "dynamics.burn_in=100".into(),
            ])
            .expect("overrides");
        let experiment = preset.build(path, Some(text)).expect("builds");
        (preset, experiment)
    }

    /// A set flag stops the run at the first slice boundary; a clear one changes nothing.
    #[test]
    fn cancellable_run_stops_on_the_flag() {
        let (preset, experiment) = short_net();
        let cancel = AtomicBool::new(false);
        let mut calls = 0;
        let result = simulate_cancellable(
            &preset,
            &experiment,
            &mut |_| {
                calls += 1;
                cancel.store(true, Ordering::Relaxed);
            },
            &cancel,
        );
        assert_eq!(calls, 1);
        assert_eq!(
            result.err(),
            Some(Cancelled {
                done: 256,
                total: 700
            })
        );
        let cancel = AtomicBool::new(false);
        let (report, _) =
            simulate_cancellable(&preset, &experiment, &mut |_| {}, &cancel).expect("runs");
        let sim = report.sim.expect("statistics");
        assert_eq!(sim.mean.len(), 7);
        let histogram = sim.sigma_histogram.expect("Σ histogram");
        assert!(histogram.total() > 0);
    }
}
