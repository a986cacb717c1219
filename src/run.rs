//! Running a preset headless: the ensemble, its statistics and the stationary model
//! ([`crate::stationary`]), and the report that `neqlab run` prints and the exporters write.
//! The app drives [`Ensemble`] itself, in small slices, feeding the same
//! [`SimulationStats`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::dynamics::{Algorithm, Ensemble, Replacement, TimeUnit};
use crate::preset::{Experiment, Preset};
use crate::stationary::validity::serialize_records;
use crate::stationary::{
    EntropySource, Prediction, PredictionOptions, RunProgress, Simulated, SimulationStats,
    StationaryState, Validity,
};
use crate::stats::occupation::Occupation;
use crate::stats::stationarity::{RunLength, Stationarity};
use crate::stats::{IftPoint, Moments, SigmaHistogram, sampled_diffusion};
use crate::theory::linear::LinearTheory;
use crate::theory::start::{StartKind, StationaryPrediction, start_ensemble};

pub use crate::stationary::DFT_UNITS;
pub use crate::stationary::validity::EXPANSION_LIMIT;

/// One-unit displacements from the predicted mean used for the sampled diffusion matrix.
pub const DIFFUSION_SAMPLES: usize = 100_000;

/// Time units per slice between progress reports.
const SLICE_UNITS: u64 = 256;

/// What a simulation measured, next to what theory predicts (the JSON of `neqlab run`).
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The landscape kind.
    pub landscape: String,
    /// The update rule.
    pub algorithm: Algorithm,
    /// With or without replacement.
    pub replacement: Replacement,
    /// Learning rate `η`.
    pub eta: f64,
    /// Batch size `B`.
    pub batch: usize,
    /// Temperature `T`.
    pub temperature: f64,
    /// Walkers simulated.
    pub walkers: usize,
    /// Time units recorded after the burn-in.
    pub steps: u64,
    /// Time units discarded first.
    pub burn_in: u64,
    /// Seed of the walkers' random streams.
    pub seed: u64,
    /// How the walkers started: `"point"` or `"stationary"` (a sample of the predicted
    /// stationary density; docs/theory.md §9.6).
    pub start: StartKind,
    /// Why a stationary start fell back to the point start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_error: Option<String>,
    /// A step with replacement, an epoch without.
    pub time_unit: TimeUnit,
    /// Examples dropped from each permutation without replacement (`N mod B`).
    pub dropped_per_epoch: usize,
    /// Walkers that diverged and were frozen.
    pub diverged_walkers: usize,
    /// Gradient steps (not epochs) per second over all walkers.
    pub walker_steps_per_second: f64,
    /// Seconds of simulation.
    pub seconds: f64,
    /// Stationary statistics; absent when `steps = 0` or every walker diverged.
    pub sim: Option<SimReport>,
    /// The linearised theory (docs/theory.md §3.1, §4.4); absent when it has no prediction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory: Option<TheoryReport>,
    /// Why the theory has no prediction ("no prediction: ...").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory_error: Option<String>,
    /// Seconds spent on the theory.
    pub theory_seconds: f64,
    /// Why the theory's predictions are only approximate here (the sentence of
    /// [`Validity::ExpansionStretched`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory_note: Option<String>,
    /// Where the predictions are outside their regime, each with a sentence.
    #[serde(serialize_with = "serialize_records")]
    pub validity: Vec<Validity>,
    /// The 2-D Fokker–Planck solution against the simulated histogram (2-D landscapes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fp: Option<FpReport>,
    /// Why there is no Fokker–Planck solution on a 2-D landscape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fp_error: Option<String>,
}

/// The linearised theory of a run and its relaxation time (docs/theory.md §3.1, §4.4, §9.3).
/// Dereferences to the [`LinearTheory`], whose keys it serialises at its own level.
#[derive(Clone, Debug, Serialize)]
pub struct TheoryReport {
    /// The linearised theory.
    #[serde(flatten)]
    pub linear: LinearTheory,
    /// The slowest relaxation time of the linearised mean, `−1/ln ρ(P)` in time units
    /// (`≈ 1/(η h_min)` per step; docs/theory.md §9.3).
    pub relaxation_time: Option<f64>,
}

impl std::ops::Deref for TheoryReport {
    type Target = LinearTheory;
    fn deref(&self) -> &LinearTheory {
        &self.linear
    }
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
    /// Seconds of the assembly and sparse solve.
    pub solve_seconds: f64,
    /// Smallest solved cell mass (negative only through round-off in the far tail).
    pub min_density: f64,
    /// Cells with a negative mass.
    pub negative_cells: usize,
    /// Entropy production per time unit of the solution, `∫ Jᵀ D⁻¹ J / p` (computed when the
    /// simulation's `σ` uses the solution's force).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ep_rate: Option<f64>,
    /// The slowest relaxation time of the discretised operator (its spectral gap), in time
    /// units (docs/theory.md §9.1); `null` when the eigenvalue search failed.
    pub relaxation_time: Option<f64>,
    /// Why there is no relaxation time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relaxation_error: Option<String>,
}

/// Simulated statistics: the stationary moments plus, when the theory has a prediction,
/// entropy production measured with its model (docs/theory.md §7.5) and the sampled
/// diffusion matrix at its mean. Dereferences to the [`Moments`].
#[derive(Clone, Debug, Serialize)]
pub struct SimReport {
    /// Mean, covariance and stochastic area.
    #[serde(flatten)]
    pub moments: Moments,
    /// Mean entropy production per time unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ep_rate: Option<f64>,
    /// The model behind `σ`: `"linearised"` (`v = −C Σ⁻¹ (w − w*)`, constant `D`), or
    /// `"fokker-planck"` (the force `D⁻¹ J/p` of the 2-D solution, on landscapes with
    /// several minima, where one linearisation cannot describe the stationary state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ep_model: Option<EntropySource>,
    /// Standard error of `ep_rate` (walker groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ep_rate_error: Option<f64>,
    /// `⟨exp(−Σ)⟩` for trajectories of 1 … 5 time units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ift: Option<Vec<IftPoint>>,
    /// Slope of `ln P(Σ)/P(−Σ)` against `Σ` for trajectories of [`DFT_UNITS`] units; `null`
    /// (the key stays) when fewer than two bin pairs have enough counts for the fit.
    pub dft_slope: Option<f64>,
    /// Its standard error.
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
    /// Among the cells inside the `2σ` region of the simulated density, the fraction whose
    /// `|J|` exceeds two standard errors (2-D; docs/theory.md §7.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_significant_fraction: Option<f64>,
    /// Whether the run reached its stationary state: long enough against the relaxation time,
    /// and with several minima the wells occupied as predicted (docs/theory.md §9.4, §9.5).
    /// When `false`, the comparisons with the prediction (TV, KL, entropy production) are not
    /// of the stationary state.
    pub stationary: bool,
    /// The recorded length in relaxation times, `R/τ` (`null` without a relaxation time).
    pub relaxation_times_recorded: Option<f64>,
    /// The burn-in in relaxation times, `b/τ`.
    pub burn_in_relaxation_times: Option<f64>,
    /// The relaxation time `τ` the verdict used (time units): the Fokker–Planck one where
    /// there is one, else the linearised one.
    pub relaxation_time: Option<f64>,
    /// Further time units to record before the start is forgotten (when it is not yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_still_needed: Option<f64>,
    /// Why the run is not stationary, one sentence per failed check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_stationary_because: Vec<String>,
    /// Simulated against predicted occupation of every basin, where there are several minima.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub occupations: Vec<Occupation>,
    /// The `Σ` histogram behind the DFT slope (for plots; not serialised).
    #[serde(skip)]
    pub sigma_histogram: Option<SigmaHistogram>,
}

impl std::ops::Deref for SimReport {
    type Target = Moments;
    fn deref(&self) -> &Moments {
        &self.moments
    }
}

/// A run stopped by its cancel flag before it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the run was cancelled after {done} of {total} time units")]
pub struct Cancelled {
    /// Time units done.
    pub done: u64,
    /// Time units asked for.
    pub total: u64,
}

/// Everything a run produced: the report, the walkers, and the stationary model.
pub struct RunOutcome {
    /// What `neqlab run` prints.
    pub report: RunReport,
    /// The walkers at the end.
    pub ensemble: Ensemble,
    /// The prediction the run was compared with.
    pub prediction: Prediction,
    /// The simulated estimates.
    pub simulated: Simulated,
}

impl RunOutcome {
    /// The stationary model of the run.
    pub fn state(&self) -> StationaryState<'_> {
        StationaryState::new(Some(&self.prediction), Some(&self.simulated))
    }
}

/// Run the preset's simulation, calling `progress` with the fraction done.
pub fn simulate(
    preset: &Preset,
    experiment: &Experiment,
    progress: &mut dyn FnMut(f64),
) -> (RunReport, Ensemble) {
    let never_stop = &mut |_, _| Ok::<(), std::convert::Infallible>(());
    match run_until(preset, experiment, progress, never_stop) {
        Ok(outcome) => (outcome.report, outcome.ensemble),
        Err(never) => match never {},
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
    run(preset, experiment, progress, Some(cancel)).map(|o| (o.report, o.ensemble))
}

/// Predict, simulate and compare: the whole run, with the model behind the report.
pub fn run(
    preset: &Preset,
    experiment: &Experiment,
    progress: &mut dyn FnMut(f64),
    cancel: Option<&AtomicBool>,
) -> Result<RunOutcome, Cancelled> {
    run_until(
        preset,
        experiment,
        progress,
        &mut |done, total| match cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            true => Err(Cancelled { done, total }),
            false => Ok(()),
        },
    )
}

/// [`run`], asking `stop(done, total)` before every slice whether to stop with its error.
fn run_until<E>(
    preset: &Preset,
    experiment: &Experiment,
    progress: &mut dyn FnMut(f64),
    stop: &mut dyn FnMut(u64, u64) -> Result<(), E>,
) -> Result<RunOutcome, E> {
    let spec = &preset.dynamics;
    let prediction = Prediction::compute(experiment, &PredictionOptions::with_plane(&preset.fp));
    let mut stats = SimulationStats::for_prediction(&experiment.start, &prediction, spec.burn_in);
    let (mut ensemble, start) = starting_ensemble(experiment, spec.walkers, spec.seed, &prediction);
    let total = if spec.steps == 0 {
        0
    } else {
        spec.burn_in + spec.steps
    };
    let started = Instant::now();
    let mut done = 0;
    while done < total {
        stop(done, total)?;
        let slice = SLICE_UNITS.min(total - done);
        ensemble.advance(experiment.landscape.as_ref(), slice, &mut stats);
        done += slice;
        progress(done as f64 / total as f64);
    }
    let seconds = started.elapsed().as_secs_f64();
    let simulated = stats.estimates();
    let mut report = report(
        preset,
        experiment,
        &ensemble,
        &prediction,
        &simulated,
        seconds,
        *start.as_ref().unwrap_or(&StartKind::Point),
    );
    report.start_error = start.err();
    Ok(RunOutcome {
        report,
        ensemble,
        prediction,
        simulated,
    })
}

/// The walkers of a run: at the start point, or for `start = "stationary"` sampled from the
/// prediction (the Fokker–Planck grid density where there is one, else the linearised
/// Gaussian; docs/theory.md §9.6). A stationary start that cannot be drawn falls back to the
/// point start, with the reason.
pub fn starting_ensemble(
    experiment: &Experiment,
    walkers: usize,
    seed: u64,
    prediction: &Prediction,
) -> (Ensemble, Result<StartKind, String>) {
    let landscape = experiment.landscape.as_ref();
    let point = || {
        Ensemble::new(
            landscape,
            experiment.dynamics,
            walkers,
            &experiment.start,
            seed,
        )
    };
    if experiment.start_kind == StartKind::Point {
        return (point(), Ok(StartKind::Point));
    }
    let sampled = match (prediction.fokker_planck(), prediction.linear.as_ref()) {
        (Some(fp), _) => Ok(StationaryPrediction::Grid(&fp.solution)),
        (None, Ok(linear)) => Ok(StationaryPrediction::Gaussian(linear)),
        (None, Err(error)) => Err(format!(
            "no stationary prediction to sample ({error}): the walkers start at the start point"
        )),
    }
    .and_then(|source| {
        start_ensemble(
            landscape,
            experiment.dynamics,
            walkers,
            StartKind::Stationary,
            &experiment.start,
            source,
            seed,
        )
        .map_err(|e| format!("{e}: the walkers start at the start point"))
    });
    match sampled {
        Ok(ensemble) => (ensemble, Ok(StartKind::Stationary)),
        Err(reason) => (point(), Err(reason)),
    }
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// The report of a finished run.
fn report(
    preset: &Preset,
    experiment: &Experiment,
    ensemble: &Ensemble,
    prediction: &Prediction,
    simulated: &Simulated,
    seconds: f64,
    start: StartKind,
) -> RunReport {
    let spec = &preset.dynamics;
    let dynamics = experiment.dynamics;
    let total = if spec.steps == 0 {
        0
    } else {
        spec.burn_in + spec.steps
    };
    let walker_steps = (total * dynamics.steps_per_unit() as u64) as f64 * spec.walkers as f64;
    let theory = prediction.linear.as_ref().ok().map(|linear| TheoryReport {
        linear: linear.clone(),
        relaxation_time: prediction.linear_relaxation.map(|r| r.relaxation_time),
    });
    let theory_note = prediction.validity.iter().find_map(|flag| {
        matches!(flag, Validity::ExpansionStretched { .. }).then(|| flag.to_string())
    });
    let (fp, fp_error) = match prediction.plane.as_ref().map(|p| &p.fokker_planck) {
        None => (None, None),
        Some(Err(error)) => (None, Some(error.to_string())),
        Some(Ok(_)) => (Some(fp_report(prediction, simulated)), None),
    };
    RunReport {
        landscape: preset.landscape.kind().to_string(),
        algorithm: dynamics.algorithm,
        replacement: dynamics.replacement,
        eta: dynamics.eta,
        batch: dynamics.batch_size,
        temperature: dynamics.temperature,
        walkers: spec.walkers,
        steps: spec.steps,
        burn_in: spec.burn_in,
        seed: spec.seed,
        start,
        start_error: None,
        time_unit: dynamics.time_unit(),
        dropped_per_epoch: dynamics.dropped_per_epoch(),
        diverged_walkers: ensemble.diverged_walkers(),
        walker_steps_per_second: if seconds > 0.0 {
            walker_steps / seconds
        } else {
            0.0
        },
        seconds,
        sim: sim_report(experiment, spec.seed, prediction, simulated).map(|sim| {
            let progress = RunProgress {
                length: RunLength {
                    burn_in: spec.burn_in as f64,
                    recorded: spec.steps as f64,
                },
                walkers: ensemble.walkers() - ensemble.diverged_walkers(),
                start,
            };
            with_stationarity(sim, prediction, simulated, &progress)
        }),
        theory,
        theory_error: prediction.linear.as_ref().err().map(|e| e.to_string()),
        theory_seconds: prediction.linear_seconds,
        theory_note,
        validity: prediction.validity.clone(),
        fp,
        fp_error,
    }
}

/// The simulated statistics of a report; `None` without a recorded unit.
fn sim_report(
    experiment: &Experiment,
    seed: u64,
    prediction: &Prediction,
    simulated: &Simulated,
) -> Option<SimReport> {
    let moments = simulated.moments.clone()?;
    let theory = prediction.linear.as_ref().ok();
    let entropy = simulated.entropy.as_ref().map(|e| &e.stats);
    let diffusion_sampled = theory.map(|t| {
        sampled_diffusion(
            experiment.landscape.as_ref(),
            experiment.dynamics,
            &t.mean,
            DIFFUSION_SAMPLES,
            seed ^ 0x4449_4646,
        )
    });
    Some(SimReport {
        distance_to_mean: theory.map(|t| distance(&moments.mean, &t.mean)),
        distance_to_minimum: theory.map(|t| distance(&moments.mean, &t.minimum)),
        moments,
        ep_rate: entropy.map(|e| e.ep_rate),
        ep_model: entropy.and(prediction.entropy_source()),
        ep_rate_error: entropy.map(|e| e.ep_rate_error),
        ift: entropy.map(|e| e.ift.clone()),
        dft_slope: entropy.and_then(|e| e.dft_slope),
        dft_slope_error: entropy.and_then(|e| e.dft_slope_error),
        diffusion_sampled,
        current_significant_fraction: StationaryState::new(Some(prediction), Some(simulated))
            .current_significant_fraction(),
        stationary: true,
        relaxation_times_recorded: None,
        burn_in_relaxation_times: None,
        relaxation_time: None,
        time_still_needed: None,
        not_stationary_because: Vec::new(),
        occupations: Vec::new(),
        sigma_histogram: simulated.sigma_histogram(DFT_UNITS).cloned(),
    })
}

/// `sim` with the stationarity verdict and the occupations of `progress`.
fn with_stationarity(
    mut sim: SimReport,
    prediction: &Prediction,
    simulated: &Simulated,
    progress: &RunProgress,
) -> SimReport {
    let state = StationaryState::new(Some(prediction), Some(simulated));
    let verdict = state.stationarity(progress).unwrap_or(Stationarity {
        stationary: true,
        relaxation_time: None,
        burn_in_relaxation_times: None,
        recorded_relaxation_times: None,
        start_memory: None,
        time_still_needed: None,
        reasons: Vec::new(),
    });
    sim.stationary = verdict.stationary;
    sim.relaxation_times_recorded = verdict.recorded_relaxation_times;
    sim.burn_in_relaxation_times = verdict.burn_in_relaxation_times;
    sim.relaxation_time = verdict.relaxation_time;
    sim.time_still_needed = verdict.time_still_needed;
    sim.not_stationary_because = verdict.reasons;
    sim.occupations = state.occupations(progress);
    sim
}

/// The Fokker–Planck part of a report (a prediction with a solution).
fn fp_report(prediction: &Prediction, simulated: &Simulated) -> FpReport {
    let state = StationaryState::new(Some(prediction), Some(simulated));
    let grid = prediction.grid();
    let solution = prediction.fokker_planck().map(|fp| &fp.solution);
    let histogram = simulated.grid.as_ref();
    FpReport {
        grid: grid.map_or([0, 0], |g| [g.nx, g.ny]),
        bounds: grid.map_or([0.0; 4], |g| g.bounds),
        tv_vs_sim: state.total_variation(),
        outside_fraction: histogram.map_or(0.0, |h| h.outside_fraction),
        solve_seconds: solution.map_or(0.0, |s| s.solve_seconds),
        min_density: solution.map_or(0.0, |s| s.min_density),
        negative_cells: solution.map_or(0, |s| s.negative_cells),
        ep_rate: prediction.force().map(|f| f.rate()),
        relaxation_time: prediction.fp_relaxation_time(),
        relaxation_error: prediction
            .fokker_planck()
            .and_then(|fp| fp.relaxation.as_ref().err())
            .map(|e| e.to_string()),
    }
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
