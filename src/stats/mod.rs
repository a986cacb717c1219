//! Estimators from simulation (docs/theory.md §7): moments of the stationary cloud and
//! the stochastic area matrix, entropy production and fluctuation theorems, accumulated by
//! [`Observer`](crate::dynamics::Observer)s.

pub mod compare;
pub mod entropy;
pub mod exp;
pub mod field;
pub mod fluctuation;
pub mod gaussian;
pub mod grid;
pub mod moments;
pub mod occupation;
pub mod stationarity;

pub use entropy::{EntropyProduction, EntropyStats, IftPoint, SigmaHistogram};
pub use gaussian::{gaussian_kl, sampled_diffusion};
pub use grid::{CurrentField, GridHistogram};
pub use moments::{MomentStats, Moments};

use crate::dynamics::Observer;
use crate::dynamics::ensemble::CHUNK;
use crate::landscape::{LANES, Lanes};

/// An observer that may be absent (e.g. entropy production when the theory has no
/// prediction).
impl<O: Observer> Observer for Option<O> {
    fn fork(&self) -> Self {
        self.as_ref().map(Observer::fork)
    }
    fn begin_walker(&mut self, walker: usize) {
        if let Some(o) = self {
            o.begin_walker(walker);
        }
    }
    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        if let Some(o) = self {
            o.observe(walker, unit, before, after);
        }
    }
    fn merge(&mut self, other: Self) {
        if let (Some(o), Some(p)) = (self, other) {
            o.merge(p);
        }
    }
    fn merge_all(&mut self, parts: Vec<Self>) {
        if let Some(o) = self {
            o.merge_all(parts.into_iter().flatten().collect());
        }
    }
    /// An absent observer has no per-walker state.
    fn accepts_interleaved_walkers(&self) -> bool {
        self.as_ref()
            .is_none_or(Observer::accepts_interleaved_walkers)
    }
    fn walkers_per_part(&self) -> usize {
        self.as_ref().map_or(CHUNK, Observer::walkers_per_part)
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
        if let Some(o) = self {
            o.observe_lanes(first_walker, unit, live, before, after);
        }
    }
}

/// Add `from` into `into` element by element (the merge of per-chunk sums).
pub(crate) fn add_into<T: Copy + std::ops::AddAssign>(into: &mut [T], from: &[T]) {
    into.iter_mut().zip(from).for_each(|(a, &b)| *a += b);
}

/// The standard error of a weighted mean `m = Σ_g n_g m_g / Σ_g n_g` of independent group
/// means `m_g` with weights `n_g` (samples per group; batch means, docs/theory.md §7):
///
/// ```text
/// s² = k/(k − 1) · Σ_g n_g (m_g − m)² / Σ_g n_g,      se = s / √k,
/// ```
///
/// over the `k` groups given. Groups of walkers are independent whatever the correlation of
/// one walker's successive steps, so this error holds for correlated samples. NaN for fewer
/// than two groups.
pub fn weighted_group_error(groups: impl Iterator<Item = (f64, f64)>, mean: f64) -> f64 {
    let (mut weight, mut spread, mut k) = (0.0, 0.0, 0usize);
    for (n, m) in groups {
        weight += n;
        spread += n * (m - mean).powi(2);
        k += 1;
    }
    if k < 2 || weight <= 0.0 {
        return f64::NAN;
    }
    let k = k as f64;
    (spread / weight * k / (k - 1.0) / k).sqrt()
}
