//! Exact stationary moments of SGLD, SGWORLD and full-batch ULA on quadratic landscapes
//! (docs/theory.md sections 4 and 5).
//!
//! When every per-example loss is quadratic, `l_i(w) = ½ wᵀ h_i w − b_iᵀ w + c_i`, one step of
//! any of the algorithms is a random affine map
//!
//! ```text
//! w ← (I − η H_B) w + η b_B + sqrt(2ηT) ξ,     H_B = (1/B) Σ_{i∈B} h_i,  b_B = (1/B) Σ_{i∈B} b_i,
//! ```
//!
//! and so is one epoch of SGWORLD (the composition of its `M = ⌊N/B⌋` steps):
//! `w ← P w + q + ζ`, `Cov ζ = Q`. For any i.i.d. sequence of such maps the stationary mean and
//! covariance solve, with no expansion in `η`,
//!
//! ```text
//! m = E[P] m + E[q],
//! S = E[P S Pᵀ] + E[r rᵀ] + E[Q],        r = P m + q − m   (E[r] = 0),
//! ```
//!
//! a `d × d` and a `d² × d²` linear system (`vec(P S Pᵀ) = (P ⊗ P) vec S`). The averages it
//! needs are collected in [`AffineAverages`]: `E[P]`, `E[q]`, `E[P ⊗ P]`, `E[q ⊗ P]`,
//! `E[q qᵀ]`, `E[Q]`; `E[r rᵀ] = E[(P m + q)(P m + q)ᵀ] − m mᵀ` follows from them.
//!
//! - SGLD (with replacement): `P = I − η H_B`, `q = η b_B`, `Q = 2ηT I`. The averages follow
//!   exactly from the inclusion probabilities of drawing `B` of `N` examples without repetition,
//!   `P(i ∈ B) = B/N` and `P(i, j ∈ B) = B(B−1)/(N(N−1))` for `i ≠ j`, through `E[H_B]`,
//!   `E[H_B ⊗ H_B]`, `E[b_B ⊗ H_B]` and `E[b_B b_Bᵀ]` ([`QuadraticModel::sgld_averages`]).
//! - SGWORLD (without replacement): the epoch map averaged over random permutations by Monte
//!   Carlo ([`QuadraticModel::sgworld`]), or over an explicit list of permutations
//!   ([`QuadraticModel::epoch_averages`]), e.g. all `N!` of a tiny data set.
//! - ULA (full batch): SGLD with `B = N`, deterministic `P = I − η H̄`.
//!
//! Everything is computed in coordinates centred on the minimum `μ = H̄⁻¹ b̄` of `L`, where the
//! per-example linear terms become `b̃_i = b_i − h_i μ` (they sum to zero), so that a narrow
//! posterior far from the origin loses no precision. The target is the Gibbs density
//! `exp(−L/T)`, i.e. `N(μ, T H̄⁻¹)`; at `T = 1`, when `L` is the negative log posterior of the
//! whole data set, this is the exact Bayesian posterior.

use nalgebra::{Cholesky, DMatrix, DVector, SymmetricEigen};
use rayon::prelude::*;
use serde::Serialize;

mod affine;
mod epoch_sums;
mod equal_curvature;
mod kl;

pub use affine::{AffineAverages, spectral_radius};
pub use kl::kl_divergence;

use crate::dynamics::BatchSampler;
use crate::dynamics::ensemble::walker_rng;
use crate::landscape::{Landscape, QuadraticExamples};

/// Landscape kinds that provide per-example quadratic forms today (the bowl); any landscape
/// whose [`Landscape::quadratic`] returns `Some` is accepted.
pub const QUADRATIC_KINDS_HINT: &str =
    "landscapes with quadratic per-example losses (bowl, linear-regression)";

/// Errors of the exact moment engine.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExactError {
    /// The landscape's per-example losses are not quadratic.
    #[error(
        "landscape `{kind}` is not quadratic: exact stationary moments need {QUADRATIC_KINDS_HINT}"
    )]
    NotQuadratic {
        /// The landscape's kind.
        kind: String,
    },
    /// Inconsistent or degenerate quadratic forms.
    #[error("quadratic landscape: {0}")]
    InvalidModel(String),
    /// A learning rate, batch size, temperature or count that cannot be used.
    #[error("{key}: {message}")]
    InvalidArgument {
        /// The argument.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The second-moment map is not contracting: the moments grow without bound.
    #[error(
        "unstable: spectral radius of the second-moment map is {spectral_radius:.6} ≥ 1 at eta = {eta}"
    )]
    Unstable {
        /// The learning rate.
        eta: f64,
        /// Spectral radius of `E[P ⊗ P]`.
        spectral_radius: f64,
    },
    /// A covariance that is not positive definite (KL undefined).
    #[error("{0}")]
    NotPositiveDefinite(String),
}

/// A Gaussian `N(mean, cov)`; `cov` row-major `d × d`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gaussian {
    /// The mean.
    pub mean: Vec<f64>,
    /// The covariance, row-major.
    pub cov: Vec<f64>,
}

/// The exact stationary state of a random affine map.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stationary {
    /// Stationary mean and covariance (per time unit: steps with replacement, epoch
    /// boundaries without).
    pub gaussian: Gaussian,
    /// Spectral radius of the second-moment map `E[P ⊗ P]` (< 1: stable).
    pub spectral_radius: f64,
}

/// Options of the SGWORLD Monte Carlo over permutations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PermutationOptions {
    /// Random permutations drawn (rounded up to a multiple of `blocks`).
    pub permutations: usize,
    /// Blocks for the jackknife standard error.
    pub blocks: usize,
    /// Seed of the permutation streams (block `k` uses stream `k`).
    pub seed: u64,
}

/// Default number of random permutations for SGWORLD.
pub const DEFAULT_PERMUTATIONS: usize = 4000;

impl Default for PermutationOptions {
    fn default() -> Self {
        Self {
            permutations: DEFAULT_PERMUTATIONS,
            blocks: 20,
            seed: 1,
        }
    }
}

/// SGWORLD's exact stationary state with its Monte Carlo blocks.
#[derive(Clone, Debug)]
pub struct SgworldExact {
    /// The stationary state at epoch boundaries, from all permutations.
    pub stationary: Stationary,
    /// Permutations actually averaged.
    pub permutations: usize,
    /// Examples dropped from every permutation (`N mod B`).
    pub dropped_per_epoch: usize,
    /// Per-block sums of the epoch map.
    pub blocks: Vec<AffineAverages>,
    eta: f64,
    model_minimum: DVector<f64>,
}

impl SgworldExact {
    /// Jackknife standard error, over blocks of permutations, of `statistic` evaluated on the
    /// stationary state (e.g. its KL divergence from the posterior). Blocks whose deletion
    /// makes the map unstable are skipped; `None` with fewer than two usable blocks.
    pub fn jackknife_standard_error(
        &self,
        statistic: impl Fn(&Gaussian) -> Option<f64>,
    ) -> Option<f64> {
        let k = self.blocks.len();
        if k < 2 {
            return None;
        }
        let mut total = AffineAverages::zeros(self.model_minimum.len());
        for block in &self.blocks {
            total.accumulate(block, 1.0);
        }
        let values: Vec<f64> = self
            .blocks
            .iter()
            .filter_map(|block| {
                let mut rest = total.clone();
                rest.accumulate(block, -1.0);
                let (mean, cov, _) = rest.stationary(self.eta).ok()?;
                statistic(&to_gaussian(&mean, &cov, &self.model_minimum))
            })
            .collect();
        let n = values.len();
        if n < 2 {
            return None;
        }
        let average = values.iter().sum::<f64>() / n as f64;
        let variance =
            values.iter().map(|v| (v - average).powi(2)).sum::<f64>() * (n as f64 - 1.0) / n as f64;
        Some(variance.sqrt())
    }
}

/// A quadratic landscape in coordinates centred on the minimum of `L`.
#[derive(Clone, Debug)]
pub struct QuadraticModel {
    dim: usize,
    /// `h_i`.
    hessians: Vec<DMatrix<f64>>,
    /// Centred linear terms `b̃_i = b_i − h_i μ` (they sum to zero).
    linear: Vec<DVector<f64>>,
    /// `μ = H̄⁻¹ b̄`, the minimum of `L`.
    minimum: DVector<f64>,
    /// `H̄`.
    hessian: DMatrix<f64>,
}

impl QuadraticModel {
    /// The model of a landscape, or [`ExactError::NotQuadratic`] naming its kind.
    pub fn from_landscape(landscape: &dyn Landscape) -> Result<Self, ExactError> {
        let examples = landscape
            .quadratic()
            .ok_or_else(|| ExactError::NotQuadratic {
                kind: landscape.kind().to_string(),
            })?;
        Self::from_examples(&examples)
    }

    /// The model of explicit quadratic forms; `H̄` must be symmetric positive definite.
    pub fn from_examples(examples: &QuadraticExamples) -> Result<Self, ExactError> {
        let d = examples.dim;
        let n = examples.hessians.len();
        if d == 0 || n == 0 || examples.linear.len() != n {
            return Err(ExactError::InvalidModel(format!(
                "needs d ≥ 1 and as many linear terms as Hessians (d = {d}, {n} Hessians, {} linear terms)",
                examples.linear.len()
            )));
        }
        if examples.hessians.iter().any(|h| h.len() != d * d)
            || examples.linear.iter().any(|b| b.len() != d)
        {
            return Err(ExactError::InvalidModel(format!(
                "every h_i must have {} entries and every b_i {d}",
                d * d
            )));
        }
        let hessians: Vec<DMatrix<f64>> = examples
            .hessians
            .iter()
            .map(|h| {
                let m = DMatrix::from_row_slice(d, d, h);
                (&m + m.transpose()) * 0.5
            })
            .collect();
        let raw_linear: Vec<DVector<f64>> = examples
            .linear
            .iter()
            .map(|b| DVector::from_column_slice(b))
            .collect();
        let inv_n = 1.0 / n as f64;
        let hessian = hessians.iter().fold(DMatrix::zeros(d, d), |acc, h| acc + h) * inv_n;
        let b_mean = raw_linear.iter().fold(DVector::zeros(d), |acc, b| acc + b) * inv_n;
        if hessian.iter().any(|x| !x.is_finite()) || b_mean.iter().any(|x| !x.is_finite()) {
            return Err(ExactError::InvalidModel("non-finite h_i or b_i".into()));
        }
        let cholesky = Cholesky::new(hessian.clone()).ok_or_else(|| {
            ExactError::InvalidModel(
                "the mean Hessian H̄ is not positive definite: L has no unique minimum".into(),
            )
        })?;
        let minimum = cholesky.solve(&b_mean);
        let linear = raw_linear
            .iter()
            .zip(&hessians)
            .map(|(b, h)| b - h * &minimum)
            .collect();
        Ok(Self {
            dim: d,
            hessians,
            linear,
            minimum,
            hessian,
        })
    }

    /// Dimension `d`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of examples `N`.
    pub fn n_examples(&self) -> usize {
        self.hessians.len()
    }

    /// The mean Hessian `H̄`, row-major.
    pub fn hessian(&self) -> Vec<f64> {
        self.hessian.transpose().as_slice().to_vec()
    }

    /// Eigenvalues of `H̄`, ascending.
    pub fn hessian_eigenvalues(&self) -> Vec<f64> {
        let mut values: Vec<f64> = SymmetricEigen::new(self.hessian.clone())
            .eigenvalues
            .iter()
            .copied()
            .collect();
        values.sort_by(f64::total_cmp);
        values
    }

    /// The minimum `μ` of `L`.
    pub fn minimum(&self) -> Vec<f64> {
        self.minimum.as_slice().to_vec()
    }

    /// The target of Langevin dynamics at temperature `T`: `exp(−L/T) = N(μ, T H̄⁻¹)`; at
    /// `T = 1` the exact posterior when `L` is the full negative log posterior.
    pub fn posterior(&self, temperature: f64) -> Result<Gaussian, ExactError> {
        check_temperature(temperature)?;
        if temperature == 0.0 {
            return Err(ExactError::InvalidArgument {
                key: "temperature",
                message: "the posterior exp(−L/T) needs T > 0 (T = 1 is the Bayesian posterior)"
                    .into(),
            });
        }
        let inverse = self
            .hessian
            .clone()
            .try_inverse()
            .ok_or_else(|| ExactError::InvalidModel("the mean Hessian is singular".into()))?;
        let cov = (&inverse + inverse.transpose()) * (0.5 * temperature);
        Ok(to_gaussian(&DVector::zeros(self.dim), &cov, &self.minimum))
    }

    /// The arguments of one update: `η > 0`, `T ≥ 0`, both finite, and `1 ≤ B ≤ N`.
    fn check_step(&self, eta: f64, batch: usize, temperature: f64) -> Result<(), ExactError> {
        check_eta(eta)?;
        check_temperature(temperature)?;
        let n = self.n_examples();
        if batch == 0 || batch > n {
            return Err(ExactError::InvalidArgument {
                key: "batch",
                message: format!("the batch size must be between 1 and N = {n}, got {batch}"),
            });
        }
        Ok(())
    }

    /// `E[P]`, `E[q]`, `E[P ⊗ P]`, `E[q ⊗ P]`, `E[q qᵀ]`, `E[Q]` of one SGLD step, exactly,
    /// from the inclusion probabilities `π₁ = B/N`, `π₂ = B(B−1)/(N(N−1))`:
    ///
    /// ```text
    /// E[H_B]       = H̄,                         E[b_B] = b̄ (= 0 centred),
    /// E[H_B ⊗ H_B] = (1/B²)[π₁ Σ_i h_i⊗h_i + π₂ Σ_{i≠j} h_i⊗h_j],
    /// E[b_B ⊗ H_B] = (1/B²)[π₁ Σ_i b_i⊗h_i + π₂ Σ_{i≠j} b_i⊗h_j],
    /// E[b_B b_Bᵀ]  = (1/B²)[π₁ Σ_i b_i b_iᵀ + π₂ Σ_{i≠j} b_i b_jᵀ],
    /// ```
    ///
    /// with `Σ_{i≠j} x_i⊗y_j = (Σ x)⊗(Σ y) − Σ x_i⊗y_i`; then `P = I − η H_B`, `q = η b_B`,
    /// `Q = 2ηT I`. With `B = N` this is full-batch ULA.
    pub fn sgld_averages(
        &self,
        eta: f64,
        batch: usize,
        temperature: f64,
    ) -> Result<AffineAverages, ExactError> {
        self.check_step(eta, batch, temperature)?;
        let d = self.dim;
        let n = self.n_examples() as f64;
        let b = batch as f64;
        let pi1 = b / n;
        let pi2 = if self.n_examples() > 1 {
            b * (b - 1.0) / (n * (n - 1.0))
        } else {
            0.0
        };
        let mut hh_diag = DMatrix::zeros(d * d, d * d);
        let mut bh_diag = DMatrix::zeros(d * d, d);
        let mut bb_diag = DMatrix::zeros(d, d);
        let mut h_sum = DMatrix::zeros(d, d);
        let mut b_sum = DVector::zeros(d);
        for (h, bi) in self.hessians.iter().zip(&self.linear) {
            hh_diag += h.kronecker(h);
            bh_diag += bi.kronecker(h);
            bb_diag += bi * bi.transpose();
            h_sum += h;
            b_sum += bi;
        }
        let scale = 1.0 / (b * b);
        let e_hh = (&hh_diag * pi1 + (h_sum.kronecker(&h_sum) - &hh_diag) * pi2) * scale;
        let e_bh = (&bh_diag * pi1 + (b_sum.kronecker(&h_sum) - &bh_diag) * pi2) * scale;
        let e_bb = (&bb_diag * pi1 + (&b_sum * b_sum.transpose() - &bb_diag) * pi2) * scale;
        let e_h = &h_sum / n;
        let e_b = &b_sum / n;

        let identity = DMatrix::<f64>::identity(d, d);
        // P ⊗ P = (I − ηH)⊗(I − ηH) = I⊗I − η(I⊗H + H⊗I) + η² H⊗H.
        let pp = identity.kronecker(&identity)
            - (identity.kronecker(&e_h) + e_h.kronecker(&identity)) * eta
            + e_hh * (eta * eta);
        // q ⊗ P = η b ⊗ (I − ηH) = η (b ⊗ I) − η² (b ⊗ H).
        let qp = e_b.kronecker(&identity) * eta - e_bh * (eta * eta);
        Ok(AffineAverages {
            dim: d,
            weight: 1.0,
            p: &identity - &e_h * eta,
            q: &e_b * eta,
            pp,
            qp,
            qq: e_bb * (eta * eta),
            noise: identity * (2.0 * eta * temperature),
        })
    }

    /// One step on `batch` (indices): `P = I − η H_B`, `q = η b̃_B`, `Q = 2ηT I`, centred.
    pub fn step_map(
        &self,
        batch: &[usize],
        eta: f64,
        temperature: f64,
    ) -> (DMatrix<f64>, DVector<f64>, DMatrix<f64>) {
        let d = self.dim;
        let scale = 1.0 / batch.len() as f64;
        let mut h = DMatrix::zeros(d, d);
        let mut b = DVector::zeros(d);
        for &i in batch {
            h += &self.hessians[i];
            b += &self.linear[i];
        }
        let identity = DMatrix::<f64>::identity(d, d);
        (
            &identity - h * (eta * scale),
            b * (eta * scale),
            identity * (2.0 * eta * temperature),
        )
    }

    /// The epoch map of SGWORLD for one permutation: the composition of the steps on its
    /// consecutive batches of `batch` (the last `N mod B` indices dropped),
    /// `P = A_M ⋯ A_1`, `q = Σ_k (A_M ⋯ A_{k+1}) c_k`,
    /// `Q = 2ηT Σ_k (A_M ⋯ A_{k+1})(A_M ⋯ A_{k+1})ᵀ`.
    pub fn epoch_map(
        &self,
        permutation: &[usize],
        batch: usize,
        eta: f64,
        temperature: f64,
    ) -> (DMatrix<f64>, DVector<f64>, DMatrix<f64>) {
        let d = self.dim;
        let identity = DMatrix::<f64>::identity(d, d);
        let mut later = identity.clone();
        let mut q = DVector::zeros(d);
        let mut noise = DMatrix::zeros(d, d);
        let batches: Vec<&[usize]> = permutation.chunks_exact(batch).collect();
        for indices in batches.iter().rev() {
            let (a, c, _) = self.step_map(indices, eta, temperature);
            noise += &later * later.transpose();
            q += &later * c;
            later *= a;
        }
        (later, q, noise * (2.0 * eta * temperature))
    }

    /// The epoch map expanded to second order in `η` (docs/theory.md §5.3):
    /// `P₂ = I − η Σ_k H_k + η² Σ_{j<k} H_k H_j`, `q₂ = η Σ_k b̃_k − η² Σ_{j<k} H_k b̃_j`,
    /// with `H_k`, `b̃_k` the batch means of the `k`-th batch of `permutation`.
    pub fn epoch_map_second_order(
        &self,
        permutation: &[usize],
        batch: usize,
        eta: f64,
    ) -> (DMatrix<f64>, DVector<f64>) {
        let d = self.dim;
        let scale = 1.0 / batch as f64;
        let mut h_before = DMatrix::zeros(d, d);
        let mut b_before = DVector::zeros(d);
        let mut hh = DMatrix::zeros(d, d);
        let mut hb = DVector::zeros(d);
        for indices in permutation.chunks_exact(batch) {
            let mut h = DMatrix::zeros(d, d);
            let mut b = DVector::zeros(d);
            for &i in indices {
                h += &self.hessians[i];
                b += &self.linear[i];
            }
            h *= scale;
            b *= scale;
            hh += &h * &h_before;
            hb += &h * &b_before;
            h_before += h;
            b_before += b;
        }
        let identity = DMatrix::<f64>::identity(d, d);
        (
            identity - h_before * eta + hh * (eta * eta),
            b_before * eta - hb * (eta * eta),
        )
    }

    /// Exact permutation average of [`epoch_map_second_order`](Self::epoch_map_second_order).
    /// Two different batches of a permutation hold examples `i ≠ l` with probability
    /// `B²/(N(N−1))` (whether or not `B` divides `N`), so for batches `j ≠ k`
    /// `E[H_k H_j] = ((Σh)² − Σ h_i²)/(N(N−1))` and `E[H_k b̃_j] = −Σ h_i b̃_i/(N(N−1))`
    /// (`Σ b̃ = 0`); with `E[H_k] = H̄`, `E[b̃_k] = 0`:
    /// `E[P₂] = I − ηM H̄ + η² (M(M−1)/2) E[H_k H_j]`, `E[q₂] = −η² (M(M−1)/2) E[H_k b̃_j]`.
    /// Used as a control variate: the Monte Carlo then only estimates `E[P − P₂]`,
    /// `E[q − q₂]`, which are of order `η³` and far less noisy than `E[q]` itself.
    pub fn epoch_second_order_expectation(
        &self,
        batch: usize,
        eta: f64,
    ) -> (DMatrix<f64>, DVector<f64>) {
        let d = self.dim;
        let n = self.n_examples() as f64;
        let m = (self.n_examples() / batch) as f64;
        let mut h_sum = DMatrix::zeros(d, d);
        let mut h_squares = DMatrix::zeros(d, d);
        let mut hb = DVector::zeros(d);
        for (h, b) in self.hessians.iter().zip(&self.linear) {
            h_sum += h;
            h_squares += h * h;
            hb += h * b;
        }
        let pairs = if self.n_examples() > 1 {
            1.0 / (n * (n - 1.0))
        } else {
            0.0
        };
        let e_hh = (&h_sum * &h_sum - h_squares) * pairs;
        let e_hb = hb * (-pairs);
        let orderings = m * (m - 1.0) / 2.0;
        let identity = DMatrix::<f64>::identity(d, d);
        (
            identity - &self.hessian * (eta * m) + e_hh * (eta * eta * orderings),
            e_hb * (-eta * eta * orderings),
        )
    }

    /// Sums of the SGWORLD epoch map over the given permutations (each of `0..N`).
    pub fn epoch_averages<'a>(
        &self,
        permutations: impl IntoIterator<Item = &'a [usize]>,
        eta: f64,
        batch: usize,
        temperature: f64,
    ) -> Result<AffineAverages, ExactError> {
        self.check_step(eta, batch, temperature)?;
        let mut sums = AffineAverages::zeros(self.dim);
        for permutation in permutations {
            if permutation.len() != self.n_examples() {
                return Err(ExactError::InvalidArgument {
                    key: "permutations",
                    message: format!(
                        "a permutation of {} indices for N = {}",
                        permutation.len(),
                        self.n_examples()
                    ),
                });
            }
            let (p, q, noise) = self.epoch_map(permutation, batch, eta, temperature);
            sums.add(&p, &q, &noise, 1.0);
        }
        Ok(sums)
    }

    /// Solve an average's stationary state and move it back to the original coordinates.
    pub fn stationary(
        &self,
        averages: &AffineAverages,
        eta: f64,
    ) -> Result<Stationary, ExactError> {
        let (mean, cov, spectral_radius) = averages.stationary(eta)?;
        Ok(Stationary {
            gaussian: to_gaussian(&mean, &cov, &self.minimum),
            spectral_radius,
        })
    }

    /// Exact stationary state of SGLD (one step per time unit).
    pub fn sgld(&self, eta: f64, batch: usize, temperature: f64) -> Result<Stationary, ExactError> {
        self.stationary(&self.sgld_averages(eta, batch, temperature)?, eta)
    }

    /// Exact stationary state of full-batch ULA, `w ← w − η ∇L + sqrt(2ηT) ξ`. In the
    /// eigenbasis of `H̄` its covariance is `T / (h (1 − η h / 2))`.
    pub fn ula(&self, eta: f64, temperature: f64) -> Result<Stationary, ExactError> {
        self.sgld(eta, self.n_examples(), temperature)
    }

    /// SGWORLD's stationary state at epoch boundaries, the epoch map averaged over
    /// `options.permutations` uniformly random permutations in `options.blocks` blocks
    /// (parallel, reproducible from `options.seed`).
    pub fn sgworld(
        &self,
        eta: f64,
        batch: usize,
        temperature: f64,
        options: &PermutationOptions,
    ) -> Result<SgworldExact, ExactError> {
        self.check_step(eta, batch, temperature)?;
        if options.blocks == 0 || options.permutations == 0 {
            return Err(ExactError::InvalidArgument {
                key: "permutations",
                message: "needs at least one permutation and one block".into(),
            });
        }
        let per_block = options.permutations.div_ceil(options.blocks);
        let n = self.n_examples();
        let control = self.epoch_second_order_expectation(batch, eta);
        let blocks: Vec<AffineAverages> = (0..options.blocks)
            .into_par_iter()
            .map(|block| {
                let mut rng = walker_rng(options.seed, block);
                let mut sampler = BatchSampler::new(n);
                let mut sums = AffineAverages::zeros(self.dim);
                let mut scratch = self.epoch_scratch(batch);
                for _ in 0..per_block {
                    let permutation = sampler.permutation(&mut rng);
                    self.add_permutation(
                        permutation,
                        batch,
                        eta,
                        temperature,
                        &control,
                        &mut scratch,
                        &mut sums,
                    );
                }
                sums
            })
            .collect();
        let mut total = AffineAverages::zeros(self.dim);
        for block in &blocks {
            total.accumulate(block, 1.0);
        }
        let stationary = self.stationary(&total, eta)?;
        Ok(SgworldExact {
            stationary,
            permutations: per_block * options.blocks,
            dropped_per_epoch: n % batch,
            blocks,
            eta,
            model_minimum: self.minimum.clone(),
        })
    }
}

fn check_eta(eta: f64) -> Result<(), ExactError> {
    if eta.is_finite() && eta > 0.0 {
        Ok(())
    } else {
        Err(ExactError::InvalidArgument {
            key: "eta",
            message: format!("the learning rate must be positive and finite, got {eta}"),
        })
    }
}

fn check_temperature(temperature: f64) -> Result<(), ExactError> {
    if temperature.is_finite() && temperature >= 0.0 {
        Ok(())
    } else {
        Err(ExactError::InvalidArgument {
            key: "temperature",
            message: format!("the temperature must be non-negative and finite, got {temperature}"),
        })
    }
}

/// Back from centred coordinates to a row-major [`Gaussian`].
fn to_gaussian(mean: &DVector<f64>, cov: &DMatrix<f64>, shift: &DVector<f64>) -> Gaussian {
    Gaussian {
        mean: (mean + shift).as_slice().to_vec(),
        cov: cov.transpose().as_slice().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectral_radius_of_a_rotation_and_a_jordan_block() {
        let rotation = DMatrix::from_row_slice(2, 2, &[0.0, -0.9, 0.9, 0.0]);
        assert!((spectral_radius(&rotation) - 0.9).abs() < 1e-12);
        let jordan = DMatrix::from_row_slice(2, 2, &[0.5, 3.0, 0.0, 0.5]);
        assert!((spectral_radius(&jordan) - 0.5).abs() < 1e-12);
    }
}
