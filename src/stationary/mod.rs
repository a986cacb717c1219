//! The one model of a stationary state: what theory predicts ([`Prediction`]), what a
//! simulation measured ([`Simulated`]) and how the two compare ([`StationaryState`]).
//! `neqlab run --json`, `neqlab figure`, the app's views and its Export menu all read it; none
//! of them computes physics of its own.
//!
//! ```text
//! Preset ──build──▶ Experiment ──Prediction::compute──▶ Prediction ─┐
//!                        │                                          ├─▶ StationaryState ─▶ views, figures, JSON
//!                        └──Ensemble + SimulationStats──▶ Simulated ┘
//! ```
//!
//! - [`prediction`]: minima (searched once), the linearised theory, the loss map, the
//!   Fokker–Planck solution, its force, moments and area, the relaxation time, and the
//!   [`Validity`] flags. It needs no simulation, and parts can be skipped
//!   ([`PredictionOptions::plane`]) for many cheap predictions.
//! - [`simulated`]: [`SimulationStats`], the observer a simulation feeds, incrementally (the
//!   app's worker feeds it a few units per frame) and its [`Simulated`] estimates, among them
//!   the current with its standard error per cell.
//! - [`arrows`]: current arrows on one physical scale ([`ArrowScale`], [`current_arrows`]).
//! - [`validity`]: where a prediction is outside its regime, in words.

pub mod arrows;
pub mod prediction;
pub mod simulated;
pub mod validity;

pub use arrows::{ARROW_BLOCK, ArrowScale, CurrentArrow, current_arrows};
pub use prediction::{
    EntropySource, FokkerPlanck, PlanePrediction, Prediction, PredictionOptions, provisional_grid,
};
pub use simulated::{DFT_UNITS, Simulated, SimulatedGrid, SimulationStats, mean_loss};
pub use validity::{PredictionPart, Validity};

use crate::stats::gaussian_kl;
use crate::stats::grid::total_variation;
use crate::stats::occupation::{Occupation, compare_occupations, effective_samples_per_walker};
use crate::stats::stationarity::{
    RunLength, Stationarity, StationarityCriteria, assess_stationarity,
};
use crate::theory::start::StartKind;

/// How far a simulation has got, for the stationarity verdict: its burn-in and recorded length
/// in time units, its walkers, and how they started.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunProgress {
    /// Burn-in and recorded length, in time units.
    pub length: RunLength,
    /// Walkers that are still moving (diverged ones left out).
    pub walkers: usize,
    /// At a point, or sampled from the predicted stationary density.
    pub start: StartKind,
}

/// A prediction and a simulation of the same experiment, side by side: the comparisons every
/// view and report shows. Either side may be missing (a prediction still solving, a simulation
/// not started); a comparison needs both.
#[derive(Clone, Copy, Debug, Default)]
pub struct StationaryState<'a> {
    /// What theory predicts.
    pub prediction: Option<&'a Prediction>,
    /// What the simulation measured.
    pub simulated: Option<&'a Simulated>,
}

impl<'a> StationaryState<'a> {
    /// Both sides.
    pub fn new(prediction: Option<&'a Prediction>, simulated: Option<&'a Simulated>) -> Self {
        Self {
            prediction,
            simulated,
        }
    }

    /// Total variation between the simulated histogram and the Fokker–Planck density, on the
    /// same grid (docs/theory.md §7.3); `None` without samples.
    pub fn total_variation(&self) -> Option<f64> {
        let grid = self.simulated?.grid.as_ref()?;
        let fp = self.prediction?.fokker_planck()?;
        (grid.samples > 0 && grid.field.grid == fp.solution.grid)
            .then(|| total_variation(&grid.field.mass, &fp.solution.density))
    }

    /// `KL(simulated Gaussian fit ‖ predicted Gaussian)` ([`Prediction::reference_gaussian`]).
    pub fn gaussian_kl(&self) -> Option<f64> {
        let moments = self.simulated?.moments.as_ref()?;
        let reference = self.prediction?.reference_gaussian()?;
        gaussian_kl(&moments.mean, &moments.cov, &reference.mean, &reference.cov)
    }

    /// Simulated and predicted stochastic area `C_12` (2-D).
    pub fn areas(&self) -> (Option<f64>, Option<f64>) {
        let simulated = self
            .simulated
            .and_then(|s| s.moments.as_ref())
            .filter(|m| m.area.len() == 4)
            .map(|m| m.area[1]);
        (simulated, self.prediction.and_then(Prediction::area))
    }

    /// The scale shared by every arrow of the view, magnified by `gain`: `τ` of the
    /// prediction, `p_peak` of the Fokker–Planck density, else of the simulated one.
    pub fn arrow_scale(&self, gain: f64) -> Option<ArrowScale> {
        let prediction = self.prediction?;
        let peak = prediction
            .fokker_planck()
            .map(FokkerPlanck::peak_density)
            .filter(|p| *p > 0.0)
            .or_else(|| {
                let grid = self.simulated?.grid.as_ref()?;
                Some(grid.field.peak_density()).filter(|p| *p > 0.0)
            })?;
        Some(ArrowScale {
            relaxation_time: prediction.relaxation_time?,
            peak_density: peak,
            gain: if gain.is_finite() && gain > 0.0 {
                gain
            } else {
                1.0
            },
            time_unit: prediction.time_unit(),
        })
    }

    /// The simulated current's arrows on `scale`.
    pub fn simulated_arrows(&self, scale: &ArrowScale) -> Vec<CurrentArrow> {
        self.simulated
            .and_then(|s| s.grid.as_ref())
            .map(|g| current_arrows(&g.arrow_field, scale))
            .unwrap_or_default()
    }

    /// The predicted current's arrows on `scale`.
    pub fn predicted_arrows(&self, scale: &ArrowScale) -> Vec<CurrentArrow> {
        self.prediction
            .and_then(Prediction::fokker_planck)
            .map(|fp| current_arrows(&fp.arrow_field, scale))
            .unwrap_or_default()
    }

    /// Simulated against predicted occupation of every basin, with several minima (empty
    /// otherwise, or before a recorded unit). The error is that of `W · n_eff(R, τ)`
    /// independent samples: `W` walkers, each carrying
    /// [`effective_samples_per_walker`]`(R, τ)` over its `R` recorded units with the basin
    /// indicator's autocorrelation `e^{−t/τ}` (docs/theory.md §9.5).
    pub fn occupations(&self, progress: &RunProgress) -> Vec<Occupation> {
        let (Some(prediction), Some(simulated)) = (self.prediction, self.simulated) else {
            return Vec::new();
        };
        let (Some(counts), Some(fp)) = (&simulated.occupation, prediction.fokker_planck()) else {
            return Vec::new();
        };
        if prediction.basins() != Some(counts.basins()) {
            return Vec::new();
        }
        let tau = prediction.stationarity_relaxation_time().unwrap_or(0.0);
        let per_walker = effective_samples_per_walker(progress.length.recorded, tau);
        compare_occupations(
            counts.basins(),
            &fp.solution.density,
            counts.recorded(),
            progress.walkers as f64 * per_walker,
        )
    }

    /// Whether the run has reached its stationary state: long enough against the relaxation
    /// time ([`Prediction::stationarity_relaxation_time`]) for its start to be forgotten, and
    /// with several minima the wells occupied as predicted (docs/theory.md §9.4, §9.5). `None`
    /// without a prediction.
    pub fn stationarity(&self, progress: &RunProgress) -> Option<Stationarity> {
        let prediction = self.prediction?;
        Some(assess_stationarity(
            progress.length,
            prediction.stationarity_relaxation_time(),
            progress.start,
            &self.occupations(progress),
            &StationarityCriteria::default(),
            prediction.time_unit(),
        ))
    }

    /// Among the cells inside the `2σ` region of the simulated density, the fraction whose
    /// `|J|` exceeds two standard errors
    /// ([`CurrentField::significant_fraction`](crate::stats::grid::CurrentField::significant_fraction)).
    pub fn current_significant_fraction(&self) -> Option<f64> {
        self.simulated?.grid.as_ref()?.significant_fraction
    }
}
