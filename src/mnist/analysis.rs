//! Entropy production of a stationary trajectory in a few projected coordinates
//! (docs/theory.md sections 3 and 7), with every matrix estimated from the trajectory itself.
//!
//! Given `x_0 … x_T` in `R^k` (here: the weights projected on the leading principal
//! directions of the stationary fluctuations, centred):
//!
//! - `Σ = Cov(x_n)`, the stationary covariance;
//! - `C_ab = ⟨(x_a Δx_b − x_b Δx_a)/2⟩`, the stochastic area per time unit, which the
//!   Ornstein–Uhlenbeck theory identifies with the circulation `C = (η/2)(HΣ − ΣH)`;
//! - `D = Cov(Δx)/2`, the diffusion matrix per time unit;
//! - the velocity field `v(x) = −C Σ⁻¹ x` of the stationary current `J = v p`;
//! - the entropy produced in step `n`, `σ_n = v(x̃_n)ᵀ D⁻¹ Δx_n` with the Stratonovich
//!   midpoint `x̃_n = (x_n + x_{n+1})/2`, and over `k` steps `Σ_k = σ_n + … + σ_{n+k−1}`;
//! - the mean production rate `⟨σ⟩` (measured) against `−tr(C D⁻¹ C Σ⁻¹)` (OU formula);
//! - the integral fluctuation theorem `⟨exp(−Σ_k)⟩ = 1`;
//! - the detailed fluctuation theorem `ln P(Σ_k)/P(−Σ_k) = Σ_k`: the fitted slope.
//!
//! This is a plain function of a trajectory, sharing the step entropy and the DFT fit with
//! the walker-ensemble estimator of [`crate::stats::entropy`] through
//! [`crate::stats::fluctuation`]; it differs in estimating every matrix from the one
//! trajectory it is given instead of taking them from the theory.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::stats::fluctuation::{DftFit, StepEntropy, dft_slope};
use crate::theory::linear::entropy_production_rate;

/// Why a trajectory cannot be analysed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// Fewer recorded positions than the estimators need.
    #[error("need at least {needed} recorded time units for the analysis, got {got}")]
    TooShort {
        /// Positions needed.
        needed: usize,
        /// Positions recorded.
        got: usize,
    },
    /// An estimated matrix cannot be inverted.
    #[error("the {which} matrix of the projected trajectory is singular (no fluctuations?)")]
    Singular {
        /// `covariance` or `diffusion`.
        which: &'static str,
    },
}

/// Everything measured on one projected trajectory; matrices row-major `dim × dim`.
#[derive(Clone, Debug, Serialize)]
pub struct EntropyAnalysis {
    /// Coordinates `k` of the trajectory.
    pub dim: usize,
    /// Recorded positions `T + 1`.
    pub samples: usize,
    /// Stationary covariance `Σ`.
    pub covariance: Vec<f64>,
    /// Stochastic area per time unit, `C`.
    pub circulation: Vec<f64>,
    /// Diffusion matrix per time unit, `D`.
    pub diffusion: Vec<f64>,
    /// Measured mean entropy production per time unit, `⟨σ⟩`.
    pub ep_rate: f64,
    /// Its standard error (from the variance of `σ` over independent-looking steps).
    pub ep_rate_stderr: f64,
    /// `−tr(C D⁻¹ C Σ⁻¹)` with the estimated matrices.
    pub ep_rate_formula: f64,
    /// `⟨exp(−Σ_k)⟩` for `k = 1 ..= ift.len()`.
    pub ift: Vec<f64>,
    /// Standard errors of `ift`, counting `T/k` non-overlapping windows as independent.
    pub ift_stderr: Vec<f64>,
    /// How many windows effectively carry each `ift` average: `(Σw)²/Σw²` with
    /// `w = exp(−Σ_k)`. Below [`IFT_MIN_EFFECTIVE`] a handful of rare negative-Σ windows
    /// decide the mean, and the standard error means nothing (see [`Self::ift_measured`]).
    pub ift_effective: Vec<f64>,
    /// Trajectory length `k` used for the detailed fluctuation theorem.
    pub dft_k: usize,
    /// Slope of `ln P(Σ)/P(−Σ)` against `Σ` (1 in theory); NaN when the histogram is too thin.
    pub dft_slope: f64,
    /// Standard error of `dft_slope`.
    pub dft_slope_stderr: f64,
}

/// Fewest effective windows for which `⟨exp(−Σ_k)⟩` counts as a measurement.
pub const IFT_MIN_EFFECTIVE: f64 = 10.0;

impl EntropyAnalysis {
    /// Whether `⟨exp(−Σ_k)⟩` (`k` from 1) is carried by at least [`IFT_MIN_EFFECTIVE`]
    /// windows rather than by one or two outliers.
    pub fn ift_measured(&self, k: usize) -> bool {
        k >= 1
            && self
                .ift_effective
                .get(k - 1)
                .is_some_and(|&n| n >= IFT_MIN_EFFECTIVE)
    }
}

/// Effective number of samples behind a weighted mean with weights `w`: `(Σw)²/Σw²`,
/// between 1 (one weight dominates) and `w.len()` (all equal).
fn effective_count(weights: &[f64]) -> f64 {
    let sum: f64 = weights.iter().sum();
    let squares: f64 = weights.iter().map(|w| w * w).sum();
    if squares > 0.0 && squares.is_finite() {
        sum * sum / squares
    } else {
        0.0
    }
}

fn row_major(m: &DMatrix<f64>) -> Vec<f64> {
    let mut out = Vec::with_capacity(m.nrows() * m.ncols());
    for r in 0..m.nrows() {
        for c in 0..m.ncols() {
            out.push(m[(r, c)]);
        }
    }
    out
}

/// The matrices estimated from a trajectory.
struct Estimates {
    mean: Vec<f64>,
    covariance: DMatrix<f64>,
    /// Stochastic area per time unit, `C`.
    area: DMatrix<f64>,
    /// `Cov(Δx)/2`.
    diffusion: DMatrix<f64>,
}

/// Mean, covariance, stochastic area and diffusion of `samples` positions of `dim`
/// coordinates (row-major).
fn estimate(trajectory: &[f64], dim: usize, samples: usize) -> Estimates {
    let steps = samples - 1;
    let at = |n: usize| &trajectory[n * dim..(n + 1) * dim];
    let mut mean = vec![0.0; dim];
    for n in 0..samples {
        for (m, &x) in mean.iter_mut().zip(at(n)) {
            *m += x / samples as f64;
        }
    }
    let mut covariance = DMatrix::zeros(dim, dim);
    let mut area = DMatrix::zeros(dim, dim);
    let mut increment_mean = DVector::zeros(dim);
    let mut increment_second = DMatrix::zeros(dim, dim);
    let mut x = DVector::zeros(dim);
    let mut dx = DVector::zeros(dim);
    for n in 0..samples {
        for a in 0..dim {
            x[a] = at(n)[a] - mean[a];
        }
        covariance += &x * x.transpose() / samples as f64;
        if n < steps {
            for a in 0..dim {
                dx[a] = at(n + 1)[a] - at(n)[a];
            }
            let outer = &x * dx.transpose();
            area += (&outer - outer.transpose()) / (2.0 * steps as f64);
            increment_mean += &dx / steps as f64;
            increment_second += &dx * dx.transpose() / steps as f64;
        }
    }
    let diffusion = (increment_second - &increment_mean * increment_mean.transpose()) / 2.0;
    Estimates {
        mean,
        covariance,
        area,
        diffusion,
    }
}

/// `⟨exp(−Σ_k)⟩`, its standard error and its effective number of windows, `k = 1..=max_k`.
fn integral_theorem(sigma: &[f64], max_k: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let steps = sigma.len();
    let mut ift = Vec::with_capacity(max_k);
    let mut ift_stderr = Vec::with_capacity(max_k);
    let mut ift_effective = Vec::with_capacity(max_k);
    for k in 1..=max_k {
        let exps: Vec<f64> = window_sums(sigma, k).iter().map(|s| (-s).exp()).collect();
        let mean_exp = exps.iter().sum::<f64>() / exps.len() as f64;
        let var = exps.iter().map(|e| (e - mean_exp).powi(2)).sum::<f64>()
            / (exps.len() - 1).max(1) as f64;
        ift.push(mean_exp);
        ift_stderr.push((var / (steps / k).max(1) as f64).sqrt());
        // Overlapping windows are correlated over k steps: count non-overlapping ones.
        ift_effective.push(effective_count(&exps) * (steps / k).max(1) as f64 / exps.len() as f64);
    }
    (ift, ift_stderr, ift_effective)
}

/// Analyse a trajectory of `samples = trajectory.len() / dim` positions (row-major).
/// `max_k` is the longest window of the integral fluctuation theorem, `dft_k` the window of
/// the detailed one.
pub fn analyse(
    trajectory: &[f64],
    dim: usize,
    max_k: usize,
    dft_k: usize,
) -> Result<EntropyAnalysis, AnalysisError> {
    let samples = trajectory.len() / dim.max(1);
    let needed = 10 * (dim + max_k).max(dft_k);
    if dim == 0 || samples < needed {
        return Err(AnalysisError::TooShort {
            needed,
            got: samples,
        });
    }
    let steps = samples - 1;
    let at = |n: usize| &trajectory[n * dim..(n + 1) * dim];
    let estimates = estimate(trajectory, dim, samples);
    let sigma_inverse = estimates
        .covariance
        .clone()
        .cholesky()
        .ok_or(AnalysisError::Singular {
            which: "covariance",
        })?
        .inverse();
    let diffusion_inverse = estimates
        .diffusion
        .clone()
        .cholesky()
        .ok_or(AnalysisError::Singular { which: "diffusion" })?
        .inverse();
    // σ_n = v(x̃)ᵀ D⁻¹ Δx with v(x) = −C Σ⁻¹ (x − mean).
    let velocity = -(&estimates.area * &sigma_inverse);
    let step_entropy = StepEntropy::new(
        &row_major(&velocity),
        &row_major(&diffusion_inverse),
        &estimates.mean,
    );
    let sigma: Vec<f64> = (0..steps)
        .map(|n| step_entropy.sigma(at(n), at(n + 1)))
        .collect();
    let ep_rate = sigma.iter().sum::<f64>() / steps as f64;
    let ep_variance =
        sigma.iter().map(|s| (s - ep_rate).powi(2)).sum::<f64>() / (steps - 1).max(1) as f64;
    let ep_rate_formula =
        entropy_production_rate(&estimates.area, &estimates.diffusion, &estimates.covariance);
    let (ift, ift_stderr, ift_effective) = integral_theorem(&sigma, max_k);
    let fit = dft_fit(&window_sums(&sigma, dft_k.max(1)));
    Ok(EntropyAnalysis {
        dim,
        samples,
        covariance: row_major(&estimates.covariance),
        circulation: row_major(&estimates.area),
        diffusion: row_major(&estimates.diffusion),
        ep_rate,
        ep_rate_stderr: (ep_variance / steps as f64).sqrt(),
        ep_rate_formula,
        ift,
        ift_stderr,
        ift_effective,
        dft_k: dft_k.max(1),
        dft_slope: fit.map_or(f64::NAN, |f| f.slope),
        dft_slope_stderr: fit.map_or(f64::NAN, |f| f.standard_error),
    })
}

/// Sums of `k` consecutive values (overlapping windows).
fn window_sums(values: &[f64], k: usize) -> Vec<f64> {
    if values.len() < k {
        return Vec::new();
    }
    let mut sum: f64 = values[..k].iter().sum();
    let mut out = Vec::with_capacity(values.len() - k + 1);
    out.push(sum);
    for n in k..values.len() {
        sum += values[n] - values[n - k];
        out.push(sum);
    }
    out
}

/// Slope of `ln P(Σ)/P(−Σ)` against `Σ` (docs/theory.md section 3): a histogram of `|Σ|` up to
/// three standard deviations in 20 bins, split by sign, fitted by
/// [`dft_slope`](crate::stats::fluctuation::dft_slope) over bins with at least 10 counts on
/// both sides. `None` below 100 values or without such bins.
fn dft_fit(values: &[f64]) -> Option<DftFit> {
    let n = values.len();
    if n < 100 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    let edge = 3.0 * sd + mean.abs();
    if edge <= 0.0 || !edge.is_finite() {
        return None;
    }
    const BINS: usize = 20;
    let mut positive = [0u64; BINS];
    let mut negative = [0u64; BINS];
    for &v in values {
        let bin = (v.abs() / edge * BINS as f64) as usize;
        if bin < BINS {
            if v > 0.0 {
                positive[bin] += 1;
            } else if v < 0.0 {
                negative[bin] += 1;
            }
        }
    }
    let centre = |bin: usize| (bin as f64 + 0.5) * edge / BINS as f64;
    dft_slope(
        (0..BINS).map(|bin| (centre(bin), positive[bin], negative[bin])),
        10,
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    use rand_pcg::Pcg64Mcg;

    /// A 2-D Ornstein–Uhlenbeck chain `x ← x − A x + sqrt(2 D0) ξ` with a rotating drift
    /// `A = [[a, −b], [b, a]]` and isotropic noise: stationary covariance `Σ = s I` with
    /// `s ≈ D0 / a`, velocity `v = −(A − aI) x`, so `C = b s [[0, −1], [1, 0]]` and the
    /// production rate `−tr(C D⁻¹ C Σ⁻¹) = 2b²/a`, all up to corrections of order `a, b`. The test checks the estimators are
    /// consistent with each other and with the fluctuation theorems.
    fn ou_trajectory(steps: usize, a: f64, b: f64, d0: f64, seed: u64) -> Vec<f64> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let mut x = [0.0f64; 2];
        let mut out = Vec::with_capacity(2 * steps);
        let noise = (2.0 * d0).sqrt();
        for _ in 0..steps {
            let (x0, x1) = (x[0], x[1]);
            let n0: f64 = StandardNormal.sample(&mut rng);
            let n1: f64 = StandardNormal.sample(&mut rng);
            x[0] = x0 - a * x0 + b * x1 + noise * n0;
            x[1] = x1 - a * x1 - b * x0 + noise * n1;
            out.extend_from_slice(&x);
        }
        out
    }

    /// 200 000 steps of a chain with relaxation time 1/a = 20 steps: about 10⁴ independent
    /// samples, so matrix entries are good to ~1–2%. The OU production rate for this chain is
    /// 2b²/a = 0.1 per step up to discrete-time corrections of order a + b (~10%): tolerance
    /// 20%; measured and formula (same estimated matrices) must agree within 10%. The IFT mean of exp(−Σ_k) has standard error ≲ 0.01 for k ≤ 5:
    /// tolerance 0.05.
    #[test]
    fn rotating_ou_chain_satisfies_the_fluctuation_theorems() {
        let (a, b, d0) = (0.05, 0.05, 0.01);
        let trajectory = ou_trajectory(200_000, a, b, d0, 7);
        let analysis = analyse(&trajectory, 2, 5, 5).expect("analysable");
        let expected_rate = 2.0 * b * b / a;
        assert!(
            (analysis.ep_rate - expected_rate).abs() < 0.2 * expected_rate,
            "rate {} vs {expected_rate}",
            analysis.ep_rate
        );
        assert!(
            (analysis.ep_rate - analysis.ep_rate_formula).abs() < 0.1 * expected_rate,
            "measured {} vs formula {}",
            analysis.ep_rate,
            analysis.ep_rate_formula
        );
        for (k, value) in analysis.ift.iter().enumerate() {
            assert!((value - 1.0).abs() < 0.05, "k = {}: {value}", k + 1);
            // For Gaussian Σ_k (variance 2kμ, the DFT) the weights exp(−Σ_k) are log-normal
            // and the effective fraction is E[w]²/E[w²] = exp(−2kμ): 0.82 at k = 1, 0.37 at 5.
            let windows = 200_000.0 / (k + 1) as f64;
            let expected = windows * (-2.0 * (k + 1) as f64 * expected_rate).exp();
            let ratio = analysis.ift_effective[k] / expected;
            assert!(
                (0.8..1.25).contains(&ratio),
                "k = {}: {} effective, {expected} expected",
                k + 1,
                analysis.ift_effective[k]
            );
            assert!(analysis.ift_measured(k + 1));
        }
        assert!(
            (analysis.dft_slope - 1.0).abs() < 0.2,
            "slope {} ± {}",
            analysis.dft_slope,
            analysis.dft_slope_stderr
        );
        // C is antisymmetric with C_01 = −b Σ_00 to leading order: x0 Δx1 − x1 Δx0 ≈ −b|x|².
        assert!(analysis.circulation[1] < 0.0 && analysis.circulation[2] > 0.0);
    }

    /// Without rotation (b = 0) the chain is in equilibrium: the production rate is zero
    /// within its standard error (5σ) and the slope estimate is meaningless.
    #[test]
    fn equilibrium_chain_produces_no_entropy() {
        let trajectory = ou_trajectory(100_000, 0.05, 0.0, 0.01, 3);
        let analysis = analyse(&trajectory, 2, 5, 5).expect("analysable");
        assert!(
            analysis.ep_rate.abs() < 5.0 * analysis.ep_rate_stderr + 1e-4,
            "{} ± {}",
            analysis.ep_rate,
            analysis.ep_rate_stderr
        );
    }

    #[test]
    fn effective_count_spots_a_dominating_weight() {
        assert!((effective_count(&[1.0; 50]) - 50.0).abs() < 1e-12);
        let mut weights = vec![1.0; 200];
        weights[17] = (13.0f64).exp();
        assert!(effective_count(&weights) < 1.01);
        // Two equal giants: two effective samples.
        weights[40] = (13.0f64).exp();
        assert!((effective_count(&weights) - 2.0).abs() < 0.01);
        assert_eq!(effective_count(&[]), 0.0);
    }

    #[test]
    fn short_or_degenerate_trajectories_are_errors() {
        assert!(matches!(
            analyse(&[0.0; 20], 2, 5, 5),
            Err(AnalysisError::TooShort { .. })
        ));
        let constant = vec![1.0; 2000];
        assert!(matches!(
            analyse(&constant, 2, 5, 5),
            Err(AnalysisError::Singular { .. })
        ));
    }
}
