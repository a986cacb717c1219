//! Estimators from simulation (docs/theory.md section 7): moments of the stationary cloud and
//! the stochastic area matrix, entropy production and fluctuation theorems, accumulated by
//! [`Observer`](crate::dynamics::Observer)s.

pub mod entropy;
pub mod grid;
pub mod moments;
pub mod occupation;
pub mod stationarity;

pub use entropy::{
    EntropyProduction, EntropyStats, IftPoint, SigmaHistogram, gaussian_kl, sampled_diffusion,
};
pub use moments::{MomentStats, Moments};

use crate::dynamics::Observer;

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
}
