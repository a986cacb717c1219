//! Where the theory holds: short ensemble simulations on a coarse subgrid of the map,
//! each cell's simulated covariance against its prediction (docs/theory.md section 10).
//!
//! Each simulated cell runs `walkers` independent walkers from the predicted mean. Its
//! relaxation time is predicted, `τ = 1/(η h_min)` steps with replacement and
//! `1/(η M h_min)` epochs without (`h_min` the smallest eigenvalue of the cell's Hessian);
//! the walkers burn in for `burn_in_relaxations · τ` time units (the covariance relaxes as
//! `exp(−2t/τ)`, so 5τ leaves `e⁻¹⁰`) and record for `record_relaxations · τ` more. The
//! walkers are split into `groups` independent groups; the spread of the group covariances
//! gives the standard error of every entry of the pooled covariance, and
//!
//! ```text
//! sim_cov_rel_error = ‖Σ_sim − Σ‖_F / ‖Σ‖_F,    floor = ‖SE(Σ_sim)‖_F / ‖Σ‖_F,
//! ```
//!
//! the floor being what sampling noise alone would give. With `n_eff` effectively
//! independent samples (about `walkers · record / (τ/2)` for the slowest direction) the
//! floor is about `sqrt((tr Σ)² + tr Σ²) / (‖Σ‖_F sqrt(n_eff))`, a few percent with the
//! defaults. An error well above its floor is the theory failing, not the sampling.
//!
//! The job is synchronous and cancellable: [`simulate_map`] checks `cancel` between slices
//! of work and reports [`MapProgress`]; a background thread (the app's job mechanism) can
//! wrap it as it is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::{HyperMap, MODES, MapCell, MapError};
use crate::dynamics::{Dynamics, Ensemble, Observer};
use crate::preset::Experiment;
use crate::stats::{MomentStats, Moments};

/// How to simulate the validity overlay.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationOptions {
    /// Learning rates per batch size and mode (spread over the stable cells).
    pub etas: usize,
    /// Batch sizes per mode (spread over the map's).
    pub batches: usize,
    /// Walkers per cell (fewer when a cell would exceed `max_gradients_per_cell`).
    pub walkers: usize,
    /// Fewest walkers worth simulating; a cell that needs fewer is skipped.
    pub min_walkers: usize,
    /// Independent groups of walkers for the standard errors.
    pub groups: usize,
    /// Burn-in in relaxation times.
    pub burn_in_relaxations: f64,
    /// Recorded time in relaxation times.
    pub record_relaxations: f64,
    /// Largest number of per-example gradient evaluations one cell may spend.
    pub max_gradients_per_cell: f64,
    /// Seed of the walkers' streams (each cell derives its own).
    pub seed: u64,
}

impl Default for SimulationOptions {
    fn default() -> Self {
        Self {
            etas: 8,
            batches: 4,
            walkers: 512,
            min_walkers: 64,
            groups: 8,
            burn_in_relaxations: 5.0,
            record_relaxations: 10.0,
            max_gradients_per_cell: 4e8,
            seed: 1,
        }
    }
}

/// The simulation of one cell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimulatedCell {
    /// Walkers simulated.
    pub walkers: usize,
    /// Time units discarded.
    pub burn_in: u64,
    /// Time units recorded after the burn-in.
    pub units: u64,
    /// The predicted relaxation time `τ` in time units.
    pub relaxation_units: f64,
    /// Sampling-noise floor of `sim_cov_rel_error` (see the module documentation).
    pub cov_rel_error_floor: f64,
    /// `|simulated mean − predicted mean| / sqrt(tr Σ)`.
    pub mean_error: f64,
    /// Walkers that ran away.
    pub diverged_walkers: usize,
    /// Wall-clock seconds of this cell.
    pub seconds: f64,
}

/// What the overlay simulated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimulationSummary {
    /// Cells simulated (both modes).
    pub cells: usize,
    /// Cells chosen but skipped (too slow for the budget, or all walkers diverged).
    pub skipped: usize,
    /// Wall-clock seconds of the whole simulation.
    pub seconds: f64,
    /// Per-example gradient evaluations spent.
    pub gradient_evaluations: f64,
}

/// Progress of [`simulate_map`].
#[derive(Clone, Debug, PartialEq)]
pub struct MapProgress {
    /// Fraction of the planned gradient evaluations done, in `[0, 1]`.
    pub fraction: f64,
    /// Cells finished so far.
    pub cells_done: usize,
    /// Cells planned.
    pub cells_total: usize,
    /// The cell just simulated, with its index in [`HyperMap::cells`] (a live view applies
    /// it to its copy of the map).
    pub finished: Option<(usize, MapCell)>,
}

/// One planned cell: its index in the map and the run.
#[derive(Clone, Copy, Debug)]
struct Plan {
    index: usize,
    dynamics: Dynamics,
    walkers: usize,
    burn_in: u64,
    units: u64,
    relaxation_units: f64,
    gradients: f64,
}

/// Evenly spread picks of `count` from `0..len` (all when `len ≤ count`).
fn spread(len: usize, count: usize) -> Vec<usize> {
    if len <= count {
        return (0..len).collect();
    }
    if count <= 1 {
        return vec![len - 1];
    }
    let mut picks: Vec<usize> = (0..count)
        .map(|k| ((k as f64) * (len - 1) as f64 / (count - 1) as f64).round() as usize)
        .collect();
    picks.dedup();
    picks
}

/// The cells to simulate and their runs; cells over budget are listed apart.
fn plan(
    map: &HyperMap,
    context: &super::MapContext,
    options: &SimulationOptions,
) -> Result<(Vec<Plan>, Vec<usize>), MapError> {
    let mut plans = Vec::new();
    let mut skipped = Vec::new();
    for mode in MODES {
        for b in spread(map.batches.len(), options.batches) {
            let candidates: Vec<usize> = (0..map.etas.len())
                .filter(|&e| {
                    map.cell(mode, b, e)
                        .is_some_and(|c| c.stable && c.theory.is_some())
                })
                .collect();
            for pick in spread(candidates.len(), options.etas) {
                let e = candidates[pick];
                let index = map.index(mode, b, e);
                let cell = &map.cells[index];
                let Some(theory) = &cell.theory else { continue };
                let dynamics = context.dynamics(cell.eta, cell.batch, mode)?;
                let h_min = theory.hessian_eigenvalues().first().copied().unwrap_or(0.0);
                let rate = cell.eta * dynamics.steps_per_unit() as f64 * h_min;
                if rate.is_nan() || rate <= 0.0 {
                    skipped.push(index);
                    continue;
                }
                let relaxation_units = 1.0 / rate;
                let burn_in = (options.burn_in_relaxations * relaxation_units)
                    .ceil()
                    .max(1.0);
                let units = (options.record_relaxations * relaxation_units)
                    .ceil()
                    .max(10.0);
                let per_walker =
                    (burn_in + units) * (dynamics.steps_per_unit() * dynamics.batch_size) as f64;
                let walkers = options
                    .walkers
                    .min((options.max_gradients_per_cell / per_walker).floor() as usize);
                if walkers < options.min_walkers.max(options.groups) {
                    skipped.push(index);
                    continue;
                }
                plans.push(Plan {
                    index,
                    dynamics,
                    walkers,
                    burn_in: burn_in as u64,
                    units: units as u64,
                    relaxation_units,
                    gradients: per_walker * walkers as f64,
                });
            }
        }
    }
    Ok((plans, skipped))
}

/// Routes each walker's time units to the [`MomentStats`] of its group (`walker mod G`).
#[derive(Clone, Debug)]
struct Groups(Vec<MomentStats>);

impl Observer for Groups {
    fn fork(&self) -> Self {
        Self(self.0.iter().map(Observer::fork).collect())
    }
    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        let count = self.0.len();
        self.0[walker % count].observe(walker, unit, before, after);
    }
    fn merge(&mut self, other: Self) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            mine.merge(theirs);
        }
    }
}

/// Simulate a coarse subgrid of `map` (see the module documentation) and fill in each
/// simulated cell's `sim_cov_rel_error` and `sim`. Checks `cancel` between slices of at most
/// about 2·10⁷ gradient evaluations and reports progress after each; on cancellation the
/// cells finished so far stay filled in and [`MapError::Cancelled`] is returned.
pub fn simulate_map(
    map: &mut HyperMap,
    experiment: &Experiment,
    options: &SimulationOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(MapProgress),
) -> Result<(), MapError> {
    let started = Instant::now();
    let context = super::MapContext::new(experiment)?;
    let (plans, skipped) = plan(map, &context, options)?;
    let total: f64 = plans.iter().map(|p| p.gradients).sum::<f64>().max(1.0);
    let mut done = 0.0;
    let mut finished = 0;
    let mut skipped_count = skipped.len();
    for index in skipped {
        map.cells[index].note =
            Some("not simulated: the relaxation time is too long for the simulation budget".into());
    }
    progress(MapProgress {
        fraction: 0.0,
        cells_done: 0,
        cells_total: plans.len(),
        finished: None,
    });
    for plan in &plans {
        let outcome = simulate_cell(&context, map, plan, options, cancel, &mut |spent| {
            progress(MapProgress {
                fraction: ((done + spent) / total).min(1.0),
                cells_done: finished,
                cells_total: plans.len(),
                finished: None,
            })
        });
        done += plan.gradients;
        match outcome {
            CellOutcome::Cancelled => {
                map.seconds += started.elapsed().as_secs_f64();
                return Err(MapError::Cancelled {
                    done: finished,
                    total: plans.len(),
                });
            }
            CellOutcome::Failed(reason) => {
                map.cells[plan.index].note = Some(reason);
                skipped_count += 1;
            }
            CellOutcome::Done(error, sim) => {
                let cell = &mut map.cells[plan.index];
                cell.sim_cov_rel_error = Some(error);
                cell.sim = Some(sim);
                finished += 1;
                progress(MapProgress {
                    fraction: (done / total).min(1.0),
                    cells_done: finished,
                    cells_total: plans.len(),
                    finished: Some((plan.index, cell.clone())),
                });
            }
        }
    }
    progress(MapProgress {
        fraction: 1.0,
        cells_done: finished,
        cells_total: plans.len(),
        finished: None,
    });
    let seconds = started.elapsed().as_secs_f64();
    map.seconds += seconds;
    map.simulation = Some(SimulationSummary {
        cells: finished,
        skipped: skipped_count,
        seconds,
        gradient_evaluations: done,
    });
    Ok(())
}

enum CellOutcome {
    Done(f64, SimulatedCell),
    Failed(String),
    Cancelled,
}

/// Gradient evaluations between two checks of the cancel flag.
const SLICE_GRADIENTS: f64 = 2e7;

fn simulate_cell(
    context: &super::MapContext,
    map: &HyperMap,
    plan: &Plan,
    options: &SimulationOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> CellOutcome {
    let started = Instant::now();
    let cell = &map.cells[plan.index];
    let Some(theory) = &cell.theory else {
        return CellOutcome::Failed("no prediction to compare with".into());
    };
    let landscape = context.landscape.as_ref();
    let seed = options.seed ^ (plan.index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut ensemble = Ensemble::new(landscape, plan.dynamics, plan.walkers, &theory.mean, seed);
    let groups = options.groups.max(2);
    let mut observer = Groups(vec![MomentStats::new(&theory.mean, plan.burn_in); groups]);
    let per_unit =
        (plan.walkers * plan.dynamics.steps_per_unit() * plan.dynamics.batch_size) as f64;
    let slice = ((SLICE_GRADIENTS / per_unit).floor() as u64).max(1);
    let total = plan.burn_in + plan.units;
    let mut elapsed = 0;
    while elapsed < total {
        if cancel.load(Ordering::Relaxed) {
            return CellOutcome::Cancelled;
        }
        let step = slice.min(total - elapsed);
        ensemble.advance(landscape, step, &mut observer);
        elapsed += step;
        progress(elapsed as f64 * per_unit);
    }
    let diverged_walkers = ensemble.diverged_walkers();
    let group_moments: Vec<Moments> = observer.0.iter().filter_map(MomentStats::moments).collect();
    let mut pooled = MomentStats::new(&theory.mean, plan.burn_in);
    for group in observer.0 {
        pooled.merge(group);
    }
    let (Some(moments), true) = (pooled.moments(), group_moments.len() >= 2) else {
        return CellOutcome::Failed(format!(
            "simulation failed: {diverged_walkers} of {} walkers diverged",
            plan.walkers
        ));
    };
    let norm = theory.cov.iter().map(|x| x * x).sum::<f64>().sqrt();
    let difference = moments
        .cov
        .iter()
        .zip(&theory.cov)
        .map(|(s, t)| (s - t).powi(2))
        .sum::<f64>()
        .sqrt();
    let trace: f64 = (0..theory.dim())
        .map(|a| theory.cov[a * theory.dim() + a])
        .sum();
    let mean_error = moments
        .mean
        .iter()
        .zip(&theory.mean)
        .map(|(s, t)| (s - t).powi(2))
        .sum::<f64>()
        .sqrt()
        / trace.max(f64::MIN_POSITIVE).sqrt();
    CellOutcome::Done(
        difference / norm,
        SimulatedCell {
            walkers: plan.walkers,
            burn_in: plan.burn_in,
            units: plan.units,
            relaxation_units: plan.relaxation_units,
            cov_rel_error_floor: standard_error_norm(&group_moments) / norm,
            mean_error,
            diverged_walkers,
            seconds: started.elapsed().as_secs_f64(),
        },
    )
}

/// `‖SE‖_F` of the pooled covariance from `G` equal groups: each entry's standard error is
/// the spread of the group values over `sqrt(G)`.
fn standard_error_norm(groups: &[Moments]) -> f64 {
    let g = groups.len() as f64;
    let width = groups.first().map_or(0, |m| m.cov.len());
    (0..width)
        .map(|k| {
            let average = groups.iter().map(|m| m.cov[k]).sum::<f64>() / g;
            groups
                .iter()
                .map(|m| (m.cov[k] - average).powi(2))
                .sum::<f64>()
                / (g - 1.0)
                / g
        })
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_picks_ends_and_evenly() {
        assert_eq!(spread(3, 8), [0, 1, 2]);
        assert_eq!(spread(64, 8), [0, 9, 18, 27, 36, 45, 54, 63]);
        assert_eq!(spread(7, 4), [0, 2, 4, 6]);
        assert_eq!(spread(5, 1), [4]);
    }
}
