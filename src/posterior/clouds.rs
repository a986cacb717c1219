//! The stationary clouds of SGLD and SGWORLD at one learning rate: walker ensembles over the
//! posterior's ellipses, with their stochastic area (docs/theory.md sections 4, 5 and 7).

use serde::Serialize;

use super::{PosteriorError, relaxation_burn_in};
use crate::dynamics::{Algorithm, Dynamics, Ensemble};
use crate::landscape::Landscape;
use crate::stats::MomentStats;
use crate::theory::exact::{Gaussian, PermutationOptions, QuadraticModel};

/// How to run the clouds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CloudSpec {
    /// Learning rate.
    pub eta: f64,
    /// Batch size `B`.
    pub batch: usize,
    /// Temperature `T > 0`.
    pub temperature: f64,
    /// Walkers per algorithm.
    pub walkers: usize,
    /// Time units recorded after the burn-in (steps for SGLD, epochs for SGWORLD).
    pub units: u64,
    /// Seed of the walkers and of the permutations.
    pub seed: u64,
}

/// The stationary cloud of one algorithm at one `η`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cloud {
    /// Walker positions after the run.
    pub positions: Vec<[f64; 2]>,
    /// Stochastic area `⟨(x₁Δx₂ − x₂Δx₁)/2⟩` per time unit (SGLD: step; SGWORLD: epoch).
    pub area: f64,
    /// The exact stationary Gaussian (SGWORLD: at epoch boundaries), if stable.
    pub exact: Option<Gaussian>,
    /// Walkers that left every finite value.
    pub diverged_walkers: usize,
}

/// SGLD's and SGWORLD's clouds at one `η`, over the posterior.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Clouds {
    /// The learning rate.
    pub eta: f64,
    /// The batch size.
    pub batch: usize,
    /// The target `N(μ, T H̄⁻¹)`.
    pub posterior: Gaussian,
    /// SGLD (with replacement).
    pub sgld: Cloud,
    /// SGWORLD (without replacement).
    pub sgworld: Cloud,
}

/// Walker clouds of SGLD and SGWORLD from the minimum, burnt in for ten relaxation times
/// `1/(η h_min)` of the mean, then run `spec.units` time units. The landscape must be
/// quadratic with two weights.
pub fn stationary_clouds(
    landscape: &dyn Landscape,
    spec: &CloudSpec,
) -> Result<Clouds, PosteriorError> {
    let model = QuadraticModel::from_landscape(landscape)?;
    if model.dim() != 2 {
        return Err(PosteriorError::Invalid {
            key: "landscape",
            message: format!(
                "the cloud view needs 2 weights, the landscape has {}",
                model.dim()
            ),
        });
    }
    let posterior = model.posterior(spec.temperature)?;
    Ok(Clouds {
        eta: spec.eta,
        batch: spec.batch,
        sgld: cloud(landscape, &model, Algorithm::Sgld, spec)?,
        sgworld: cloud(landscape, &model, Algorithm::Sgworld, spec)?,
        posterior,
    })
}

/// One algorithm's cloud.
fn cloud(
    landscape: &dyn Landscape,
    model: &QuadraticModel,
    algorithm: Algorithm,
    spec: &CloudSpec,
) -> Result<Cloud, PosteriorError> {
    let n = model.n_examples();
    let dynamics = Dynamics::new(algorithm, None, spec.eta, spec.batch, spec.temperature, n)?;
    let exact = match algorithm {
        Algorithm::Sgworld => {
            let permutations = PermutationOptions {
                seed: spec.seed,
                ..PermutationOptions::default()
            };
            model
                .sgworld(spec.eta, spec.batch, spec.temperature, &permutations)
                .ok()
                .map(|s| s.stationary.gaussian)
        }
        _ => model
            .sgld(spec.eta, spec.batch, spec.temperature)
            .ok()
            .map(|s| s.gaussian),
    };
    let burn_in =
        relaxation_burn_in(model, spec.eta, 1e7).div_ceil(dynamics.steps_per_unit() as u64);
    let start = model.minimum();
    let mut ensemble = Ensemble::new(landscape, dynamics, spec.walkers, &start, spec.seed);
    let mut stats = MomentStats::new(&start, burn_in);
    ensemble.advance(landscape, burn_in + spec.units, &mut stats);
    Ok(Cloud {
        positions: ensemble.active_positions().map(|w| [w[0], w[1]]).collect(),
        area: stats.moments().map_or(0.0, |m| m.area[1]),
        exact,
        diverged_walkers: ensemble.diverged_walkers(),
    })
}
