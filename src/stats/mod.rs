//! Estimators from simulation (THEORY.md section 7): moments of the stationary cloud and
//! the stochastic area matrix, accumulated by [`Observer`](crate::dynamics::Observer)s.

pub mod grid;
pub mod moments;

pub use moments::{MomentStats, Moments};
