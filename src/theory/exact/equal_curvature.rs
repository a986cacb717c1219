//! SGWORLD's exact stationary state when every example has the same Hessian
//! (docs/theory.md sections 4, 5, 10), in closed form.
//!
//! With `h_i = H` for all `i` (the bowl) every step has the same contraction
//! `A = I − η H`, so an epoch of `M` steps is `w ← A^M w + q + ζ` with
//!
//! ```text
//! q = η Σ_{k=0}^{M−1} A^{M−1−k} b̃_{B_k},      Cov ζ = 2ηT Σ_{j=0}^{M−1} A^{2j},
//! ```
//!
//! in coordinates centred on the minimum (`Σ_i b̃_i = 0`). Only `q` is random. A batch mean
//! of `B` distinct examples has `E b̃_B = 0` and `E[b̃_B b̃_Bᵀ] = c_B S̃`,
//! `c_B = (N − B)/(B(N − 1))`, `S̃ = (1/N) Σ_i b̃_i b̃_iᵀ`; two different batches of one
//! permutation hold distinct examples, so `E[b̃_{B_j} b̃_{B_k}ᵀ] = −S̃/(N − 1)` for `j ≠ k`
//! (whether or not examples are dropped). Hence, exactly over all permutations,
//!
//! ```text
//! E[q qᵀ] = η² [ (c_B + 1/(N−1)) Σ_j A^j S̃ A^j − (1/(N−1)) (Σ_j A^j) S̃ (Σ_j A^j) ],
//! ```
//!
//! `E q = 0`, and the stationary state at epoch boundaries follows from the averages of the
//! general random affine map ([`AffineAverages`]) with `P = A^M` deterministic.

use nalgebra::{DMatrix, DVector};

use super::{AffineAverages, ExactError, QuadraticModel, Stationary};

/// Relative tolerance within which per-example Hessians count as equal.
const EQUAL_TOLERANCE: f64 = 1e-12;

impl QuadraticModel {
    /// Whether every example has the same Hessian (to [`EQUAL_TOLERANCE`] relative).
    pub fn has_equal_hessians(&self) -> bool {
        let scale = self.hessian.norm().max(f64::MIN_POSITIVE);
        self.hessians
            .iter()
            .all(|h| (h - &self.hessian).norm() <= EQUAL_TOLERANCE * scale)
    }

    /// SGWORLD's exact stationary state at epoch boundaries on a landscape whose examples
    /// share one Hessian (see the module documentation); `None` when they do not.
    pub fn sgworld_equal_curvature(
        &self,
        eta: f64,
        batch: usize,
        temperature: f64,
    ) -> Option<Result<Stationary, ExactError>> {
        if !self.has_equal_hessians() {
            return None;
        }
        Some(
            self.equal_curvature_averages(eta, batch, temperature)
                .and_then(|averages| self.stationary(&averages, eta)),
        )
    }

    fn equal_curvature_averages(
        &self,
        eta: f64,
        batch: usize,
        temperature: f64,
    ) -> Result<AffineAverages, ExactError> {
        self.check_step(eta, batch, temperature)?;
        let d = self.dim;
        let n = self.n_examples() as f64;
        let b = batch as f64;
        let m = self.n_examples() / batch;
        let identity = DMatrix::<f64>::identity(d, d);
        let step = &identity - &self.hessian * eta;
        let spread = self
            .linear
            .iter()
            .fold(DMatrix::zeros(d, d), |acc, x| acc + x * x.transpose())
            / n;
        let (same, different) = if self.n_examples() > 1 {
            ((n - b) / (b * (n - 1.0)), -1.0 / (n - 1.0))
        } else {
            (0.0, 0.0)
        };
        let mut power = identity.clone();
        let mut power_sum = DMatrix::zeros(d, d);
        let mut sandwiched = DMatrix::zeros(d, d);
        let mut squares = DMatrix::zeros(d, d);
        for _ in 0..m {
            power_sum += &power;
            sandwiched += &power * &spread * &power;
            squares += &power * &power;
            power = &power * &step;
        }
        let qq = (sandwiched * (same - different) + &power_sum * &spread * &power_sum * different)
            * (eta * eta);
        let p = power;
        Ok(AffineAverages {
            dim: d,
            weight: 1.0,
            pp: p.kronecker(&p),
            p,
            q: DVector::zeros(d),
            qp: DMatrix::zeros(d * d, d),
            qq,
            noise: squares * (2.0 * eta * temperature),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::PermutationOptions;
    use super::*;
    use crate::landscape::QuadraticExamples;

    /// Six examples sharing one Hessian, with scattered linear terms.
    fn shared_curvature(n: usize) -> QuadraticModel {
        let examples = QuadraticExamples {
            dim: 2,
            hessians: vec![vec![1.0, 0.3, 0.3, 2.5]; n],
            linear: (0..n)
                .map(|i| {
                    let t = i as f64 * 2.1;
                    vec![t.cos() + 0.2, (1.3 * t).sin()]
                })
                .collect(),
        };
        QuadraticModel::from_examples(&examples).expect("valid model")
    }

    /// Every permutation of every example, as index lists (Heap's algorithm).
    fn all_permutations(n: usize) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        crate::theory::wor::for_each_permutation(n, |permutation| out.push(permutation.to_vec()));
        out
    }

    /// Against the epoch map averaged over all `N!` permutations (B | N and B ∤ N), at a
    /// learning rate where the epoch is far from the small-η limit: equal to round-off.
    #[test]
    fn closed_form_matches_all_permutations() {
        let model = shared_curvature(6);
        assert!(model.has_equal_hessians());
        let permutations = all_permutations(6);
        for (batch, eta) in [(2, 0.3), (4, 0.2), (1, 0.1), (6, 0.5)] {
            let enumerated = model
                .epoch_averages(permutations.iter().map(Vec::as_slice), eta, batch, 0.7)
                .and_then(|averages| model.stationary(&averages, eta))
                .expect("stable");
            let closed = model
                .sgworld_equal_curvature(eta, batch, 0.7)
                .expect("equal Hessians")
                .expect("stable");
            for (x, y) in closed.gaussian.cov.iter().chain(&closed.gaussian.mean).zip(
                enumerated
                    .gaussian
                    .cov
                    .iter()
                    .chain(&enumerated.gaussian.mean),
            ) {
                assert!(
                    (x - y).abs() < 1e-11 * y.abs().max(1e-3),
                    "B = {batch}: {x} vs {y}"
                );
            }
            assert!((closed.spectral_radius - enumerated.spectral_radius).abs() < 1e-12);
        }
    }

    /// Against the Monte Carlo over permutations on the bowl (N = 100).
    #[test]
    fn closed_form_matches_the_permutation_monte_carlo() {
        use crate::landscape::{Bowl, BowlSpec};
        let bowl = Bowl::new(&BowlSpec::default()).expect("bowl");
        let model = QuadraticModel::from_landscape(&bowl).expect("quadratic");
        let (eta, batch, temperature) = (0.05, 10, 0.01);
        let closed = model
            .sgworld_equal_curvature(eta, batch, temperature)
            .expect("equal Hessians")
            .expect("stable");
        let sampled = model
            .sgworld(eta, batch, temperature, &PermutationOptions::default())
            .expect("stable");
        // The Monte Carlo averages 4000 permutations: its covariance entries carry a relative
        // standard error of order 1/sqrt(4000) ≈ 1.6% of the minibatch part; allow 2% overall.
        let norm: f64 = closed
            .gaussian
            .cov
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt();
        let diff: f64 = closed
            .gaussian
            .cov
            .iter()
            .zip(&sampled.stationary.gaussian.cov)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(diff / norm < 0.02, "relative difference {}", diff / norm);
        assert!(shared_curvature(6).has_equal_hessians());
        let regression =
            crate::landscape::LinearRegression::new(&Default::default(), std::path::Path::new("."))
                .expect("regression");
        let varied = QuadraticModel::from_landscape(&regression).expect("quadratic");
        assert!(varied.sgworld_equal_curvature(eta, batch, 1.0).is_none());
    }
}
