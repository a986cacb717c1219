//! What a simulation measures of the stationary state (docs/theory.md §7): the
//! moments and stochastic area of the walkers, on 2-D landscapes the density and current with
//! its standard error per cell, and entropy production with the model of the prediction.
//!
//! [`SimulationStats`] is the [`Observer`] that accumulates them; it can be fed in slices
//! (the app's worker advances the walkers a few units per frame) and read at any time as
//! [`Simulated`] estimates.

use crate::dynamics::{Ensemble, Observer};
use crate::landscape::{LANES, Landscape, Lanes};
use crate::stats::entropy::{EntropyStats, MAX_UNITS, SigmaHistogram};
use crate::stats::grid::{CurrentField, GridHistogram};
use crate::stats::occupation::BasinCounts;
use crate::stats::{EntropyProduction, MomentStats, Moments};
use crate::theory::fokker_planck::Grid2d;

use super::arrows::ARROW_BLOCK;
use super::prediction::Prediction;

/// Trajectory length (time units) of the `Σ` histogram behind the DFT slope.
pub const DFT_UNITS: usize = 5;

/// The estimators a simulation feeds: an [`Observer`].
#[derive(Clone, Debug)]
pub struct SimulationStats {
    moments: MomentStats,
    grid: Option<GridHistogram>,
    entropy: Option<EntropyProduction>,
    occupation: Option<BasinCounts>,
    burn_in: u64,
}

/// The simulated density and current on the prediction's grid.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatedGrid {
    /// Density, current and its standard error per cell.
    pub field: CurrentField,
    /// The same over the arrow blocks ([`ARROW_BLOCK`]), the error from the walker groups.
    pub arrow_field: CurrentField,
    /// Walker-units recorded, inside the grid or not.
    pub samples: u64,
    /// Fraction of them outside the grid.
    pub outside_fraction: f64,
    /// [`CurrentField::significant_fraction`] of `field`, computed once with the estimates
    /// (it sorts the cells by mass: too costly to redo on every frame the app draws).
    pub significant_fraction: Option<f64>,
}

/// Entropy production measured so far.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatedEntropy {
    /// Rate, fluctuation theorems and their standard errors.
    pub stats: EntropyStats,
    /// The `Σ` histogram of trajectories of `k = 1 …` [`MAX_UNITS`] units.
    pub histograms: Vec<SigmaHistogram>,
    /// Total entropy produced and the walker-units it was produced in.
    pub sum_and_count: (f64, u64),
}

/// The estimates of a simulation at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Simulated {
    /// Mean, covariance and stochastic area; `None` before the first recorded unit.
    pub moments: Option<Moments>,
    /// The 2-D density and current, on 2-D landscapes.
    pub grid: Option<SimulatedGrid>,
    /// Entropy production, when the prediction gives a model for it.
    pub entropy: Option<SimulatedEntropy>,
    /// Samples per basin, with several minima (docs/theory.md §9.5).
    pub occupation: Option<BasinCounts>,
}

impl SimulationStats {
    /// Statistics of the units `burn_in..` of walkers started at `start`: moments always, the
    /// grid histogram on `grid` (2-D), entropy production with the model of `prediction`.
    pub fn new(
        start: &[f64],
        grid: Option<Grid2d>,
        prediction: Option<&Prediction>,
        burn_in: u64,
    ) -> Self {
        Self {
            moments: MomentStats::new(start, burn_in),
            grid: grid.map(|g| GridHistogram::new(g, burn_in)),
            entropy: prediction.and_then(|p| p.entropy_production(burn_in, DFT_UNITS)),
            occupation: prediction
                .and_then(Prediction::basins)
                .map(|b| BasinCounts::new(b.clone(), burn_in)),
            burn_in,
        }
    }

    /// Statistics on `prediction`'s grid and entropy model.
    pub fn for_prediction(start: &[f64], prediction: &Prediction, burn_in: u64) -> Self {
        Self::new(start, prediction.grid(), Some(prediction), burn_in)
    }

    /// Take up a new prediction while the walkers keep going: from time unit `now` on (or the
    /// burn-in, if later) the histogram records on its grid (afresh only if the grid moved)
    /// and entropy production uses its model.
    pub fn set_prediction(&mut self, prediction: &Prediction, now: u64) {
        let from = self.burn_in.max(now);
        if let Some(grid) = prediction.grid()
            && self.grid.as_ref().map(|h| *h.grid()) != Some(grid)
        {
            self.grid = Some(GridHistogram::new(grid, from));
        }
        self.entropy = prediction.entropy_production(from, DFT_UNITS);
        if self.occupation.as_ref().map(|o| o.basins()) != prediction.basins() {
            self.occupation = prediction
                .basins()
                .map(|b| BasinCounts::new(b.clone(), from));
        }
    }

    /// The histogram's grid, if it records one.
    pub fn grid(&self) -> Option<Grid2d> {
        self.grid.as_ref().map(|h| *h.grid())
    }

    /// Entropy produced so far and the walker-units it was produced in.
    pub fn entropy_sum_and_count(&self) -> Option<(f64, u64)> {
        self.entropy.as_ref().map(EntropyProduction::sum_and_count)
    }

    /// The estimates so far.
    pub fn estimates(&self) -> Simulated {
        Simulated {
            moments: self.moments.moments(),
            grid: self.grid.as_ref().map(|h| {
                let field = h.field(1);
                SimulatedGrid {
                    significant_fraction: field.significant_fraction(),
                    field,
                    arrow_field: h.field(ARROW_BLOCK),
                    samples: h.samples(),
                    outside_fraction: h.outside_fraction(),
                }
            }),
            entropy: self.entropy.as_ref().map(|e| SimulatedEntropy {
                stats: e.stats(),
                histograms: (1..=MAX_UNITS).map(|k| e.sigma_histogram_of(k)).collect(),
                sum_and_count: e.sum_and_count(),
            }),
            occupation: self.occupation.clone(),
        }
    }
}

impl Observer for SimulationStats {
    fn fork(&self) -> Self {
        Self {
            moments: self.moments.fork(),
            grid: self.grid.as_ref().map(Observer::fork),
            entropy: self.entropy.as_ref().map(Observer::fork),
            occupation: self.occupation.as_ref().map(Observer::fork),
            burn_in: self.burn_in,
        }
    }

    fn begin_walker(&mut self, walker: usize) {
        if let Some(entropy) = &mut self.entropy {
            entropy.begin_walker(walker);
        }
    }

    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        self.moments.observe(walker, unit, before, after);
        if let Some(grid) = &mut self.grid {
            grid.observe(walker, unit, before, after);
        }
        if let Some(entropy) = &mut self.entropy {
            entropy.observe(walker, unit, before, after);
        }
        if let Some(occupation) = &mut self.occupation {
            occupation.observe(walker, unit, before, after);
        }
    }

    fn accepts_interleaved_walkers(&self) -> bool {
        self.moments.accepts_interleaved_walkers()
            && self.grid.accepts_interleaved_walkers()
            && self.entropy.accepts_interleaved_walkers()
            && self.occupation.accepts_interleaved_walkers()
    }

    fn walkers_per_part(&self) -> usize {
        self.moments
            .walkers_per_part()
            .max(self.grid.walkers_per_part())
            .max(self.entropy.walkers_per_part())
    }

    #[inline(always)]
    fn observe_lanes(
        &mut self,
        first_walker: usize,
        unit: u64,
        live: &[bool; LANES],
        before: &[Lanes],
        after: &[Lanes],
    ) {
        self.moments
            .observe_lanes(first_walker, unit, live, before, after);
        self.grid
            .observe_lanes(first_walker, unit, live, before, after);
        self.entropy
            .observe_lanes(first_walker, unit, live, before, after);
        self.occupation
            .observe_lanes(first_walker, unit, live, before, after);
    }

    fn merge_all(&mut self, parts: Vec<Self>) {
        let mut moments = Vec::with_capacity(parts.len());
        let (mut grid, mut entropy, mut occupation) = (Vec::new(), Vec::new(), Vec::new());
        for part in parts {
            moments.push(part.moments);
            grid.push(part.grid);
            entropy.push(part.entropy);
            occupation.push(part.occupation);
        }
        self.moments.merge_all(moments);
        self.grid.merge_all(grid);
        self.entropy.merge_all(entropy);
        self.occupation.merge_all(occupation);
    }

    fn merge(&mut self, other: Self) {
        self.moments.merge(other.moments);
        if let (Some(mine), Some(theirs)) = (&mut self.grid, other.grid) {
            mine.merge(theirs);
        }
        if let (Some(mine), Some(theirs)) = (&mut self.entropy, other.entropy) {
            mine.merge(theirs);
        }
        if let (Some(mine), Some(theirs)) = (&mut self.occupation, other.occupation) {
            mine.merge(theirs);
        }
    }
}

impl Simulated {
    /// The Σ histogram of trajectories of `units` time units, if entropy is measured.
    pub fn sigma_histogram(&self, units: usize) -> Option<&SigmaHistogram> {
        let k = units.clamp(1, MAX_UNITS) - 1;
        self.entropy.as_ref()?.histograms.get(k)
    }
}

/// Mean full loss `L` of the first `walkers` active walkers (non-finite losses left out);
/// NaN when there is none.
pub fn mean_loss(landscape: &dyn Landscape, ensemble: &Ensemble, walkers: usize) -> f64 {
    let (sum, count) = ensemble
        .active_positions()
        .take(walkers)
        .map(|w| landscape.loss(w))
        .filter(|l| l.is_finite())
        .fold((0.0, 0usize), |(s, c), l| (s + l, c + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}
