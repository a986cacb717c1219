//! Exact stationary moments without replacement on quadratic landscapes, for the map's KL
//! divergence (docs/theory.md sections 5 and 10).

use crate::dynamics::Dynamics;
use crate::theory::exact::{ExactError, PermutationOptions, QuadraticModel, Stationary};

/// Permutations averaged per cell when the examples' Hessians differ (the epoch map has no
/// closed-form average then). With the second-order control variate of
/// [`QuadraticModel::sgworld`] the KL of `sgld-vs-sgworld` is stable to about 1% at this
/// count (tests/map.rs).
pub const MAP_PERMUTATIONS: usize = 4000;

/// SGWORLD's stationary state at epoch boundaries: in closed form when every example has the
/// same Hessian, else averaged over [`MAP_PERMUTATIONS`] random permutations.
pub fn sgworld(model: &QuadraticModel, dynamics: &Dynamics) -> Result<Stationary, ExactError> {
    let (eta, batch, temperature) = (dynamics.eta, dynamics.batch_size, dynamics.temperature);
    if let Some(closed) = model.sgworld_equal_curvature(eta, batch, temperature) {
        return closed;
    }
    let options = PermutationOptions {
        permutations: MAP_PERMUTATIONS,
        blocks: 4,
        seed: 1,
    };
    model
        .sgworld(eta, batch, temperature, &options)
        .map(|exact| exact.stationary)
}
