//! When the `(N/B)²` law of SGLD against SGWORLD applies (docs/theory.md §5.5).
//!
//! At small `η` every sampler's stationary covariance misses the target `T H̄⁻¹` at first
//! order in `η`, `Σ = T H̄⁻¹ + η Σ₁`. SGLD's step map (docs/theory.md §5.1–5.2) gives the
//! discrete Lyapunov equation `Σ = (I − ηH̄) Σ (I − ηH̄) + η² c_B S̄ + 2ηT I`, with `S̄` the
//! gradient covariance averaged over the posterior (docs/theory.md §3: the minibatch
//! noise `(η²/2) c_B S` next to the thermal `η T I`); at first order
//!
//! ```text
//! H̄ Σ₁ + Σ₁ H̄ = T H̄ + c_B S̄.
//! ```
//!
//! Full-batch ULA has `S̄ = 0`, so `Σ₁ = (T/2) I`: its discretisation bias. SGWORLD's
//! minibatch noise enters only at order `η⁴` per epoch (docs/theory.md §4.3), so at
//! small `η` it is biased like ULA. A Gaussian off by `ΔΣ` is `tr((Σ_t⁻¹ ΔΣ)²)/4` away in KL
//! divergence; in the eigenbasis of `H̄` (eigenvalues `h_i`, `s̃ = Oᵀ S̄ O`),
//!
//! ```text
//! KL_SGLD / KL_ULA ≈ Σ_ij h_i h_j (δ_ij + 2 c_B s̃_ij / (T (h_i + h_j)))² / Σ_i h_i²,
//! ```
//!
//! which is `(1 + r)²` in one dimension, with the gradient-noise ratio
//! `r = c_B tr S̄ / (T tr H̄)`, the minibatch bias over the discretisation bias. When the data are what the posterior says they are, the
//! per-example gradients scatter as `S̄ ≈ N T H̄`, so `r ≈ c_B N ≈ N/B` and the ratio is
//! about `(N/B)²`. When the gradient noise is negligible next to `T` (`r ≪ 1`, a landscape
//! whose examples barely disagree) both samplers are biased alike and the ratio is near 1:
//! the law does not apply. It is shown only where `r ≥ 1`.

use nalgebra::{DMatrix, SymmetricEigen};
use serde::Serialize;

use super::PosteriorError;
use crate::dynamics::{Algorithm, Dynamics};
use crate::landscape::{Landscape, gradient_covariance};
use crate::theory::exact::QuadraticModel;

/// The gradient-noise ratio from which on the `(N/B)²` law is shown.
pub const LAW_THRESHOLD: f64 = 1.0;

/// The balance of minibatch and thermal noise in SGLD at small `η`, and what it predicts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NoiseBalance {
    /// `r = c_B tr S̄ / (T tr H̄)`: SGLD's minibatch bias over the discretisation bias.
    pub gradient_noise_ratio: f64,
    /// The small-`η` `KL_SGLD / KL_ULA` (and so `KL_SGLD / KL_SGWORLD`) of the first-order
    /// theory above.
    pub predicted_ratio: f64,
    /// `(N/B)²`.
    pub nb_squared: f64,
    /// Whether the gradient noise is not negligible next to `T` (`r ≥ 1`), so that the
    /// `(N/B)²` law applies.
    pub law_applies: bool,
}

/// The noise balance of SGLD with batch size `batch` at temperature `temperature` on a
/// quadratic landscape.
pub fn noise_balance(
    landscape: &dyn Landscape,
    batch: usize,
    temperature: f64,
) -> Result<NoiseBalance, PosteriorError> {
    let model = QuadraticModel::from_landscape(landscape)?;
    let n = model.n_examples();
    let d = model.dim();
    // Validates B and T with the dynamics' messages.
    let dynamics = Dynamics::new(Algorithm::Sgld, None, 1e-3, batch, temperature, n)?;
    let c_b = dynamics.finite_population_factor();
    let hessian = DMatrix::from_row_slice(d, d, &model.hessian());
    let covariance = model.posterior(temperature)?.cov;
    let covariance = DMatrix::from_row_slice(d, d, &covariance);
    let minimum = model.minimum();
    // S̄ = S(μ) + (1/N) Σ_i (H_i − H̄) Σ (H_i − H̄): for quadratic examples the gradient
    // g_i(w) − ḡ(w) moves with w through H_i − H̄, and w spreads with Σ = T H̄⁻¹.
    let mut spread = DMatrix::from_row_slice(d, d, &gradient_covariance(landscape, &minimum));
    let mut example = vec![0.0; d * d];
    for i in 0..n {
        example.fill(0.0);
        landscape.add_example_hessian(i, &minimum, 1.0, &mut example);
        let deviation = DMatrix::from_row_slice(d, d, &example) - &hessian;
        spread += &deviation * &covariance * deviation.transpose() / n as f64;
    }
    let eigen = SymmetricEigen::new(hessian.clone());
    let rotated = eigen.eigenvectors.transpose() * &spread * &eigen.eigenvectors;
    let h = &eigen.eigenvalues;
    let (mut biased, mut discretised) = (0.0, 0.0);
    for i in 0..d {
        discretised += h[i] * h[i];
        for j in 0..d {
            let identity = if i == j { 1.0 } else { 0.0 };
            let relative = identity + 2.0 * c_b * rotated[(i, j)] / (temperature * (h[i] + h[j]));
            biased += h[i] * h[j] * relative * relative;
        }
    }
    let gradient_noise_ratio = c_b * spread.trace() / (temperature * hessian.trace());
    let nb = n as f64 / batch as f64;
    Ok(NoiseBalance {
        gradient_noise_ratio,
        predicted_ratio: biased / discretised,
        nb_squared: nb * nb,
        law_applies: gradient_noise_ratio >= LAW_THRESHOLD,
    })
}
