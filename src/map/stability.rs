//! Linear stability of SGD's discrete dynamics about the minimum (docs/theory.md section 10).
//!
//! Linearised about the minimum `w*`, one step on a batch `B` is `x ← A_B x + noise` with
//! `A_B = I − η H_B`, `H_B = (1/B) Σ_{i∈B} h_i(w*)`. The mean obeys `m ← (I − η H̄) m` and the
//! second moment `X ← E[A_B X A_B] + …`. The map diverges when either linear map has spectral
//! radius `ρ ≥ 1`:
//!
//! ```text
//! ρ_mean = max_i |1 − η λ_i(H̄)|,
//! E[A_B X A_B] = X − η (H̄ X + X H̄) + η² E[H_B X H_B],
//! E[H_B X H_B] = (1/B²) [ (π₁ − π₂) Σ_i h_i X h_i + π₂ Hs X Hs ],
//! ```
//!
//! with `Hs = Σ_i h_i`, `π₁ = B/N`, `π₂ = B(B−1)/(N(N−1))` the probabilities that one or two
//! given examples are in a batch of `B` distinct examples. `X ↦ E[A_B X A_B]` is self-adjoint
//! for the Frobenius product, so on the `d(d+1)/2` symmetric matrices (an orthonormal basis)
//! it is a symmetric matrix whose eigenvalues give `ρ_cov` at the cost of one small
//! eigen-decomposition. With replacement this second-moment map is exact for quadratic
//! landscapes; without replacement an epoch composes `M` such steps on disjoint batches, and
//! the same per-step criterion is used (exact when the `h_i` are equal, as on the bowl).
//! With equal `h_i` both radii reach 1 at `η = 2/λ_max`.

use nalgebra::{DMatrix, SymmetricEigen};

use crate::landscape::Landscape;

/// The per-example curvature at the minimum that stability needs, as operators on the
/// symmetric matrices (orthonormal basis `E_ii`, `(E_ij + E_ji)/√2`).
#[derive(Clone, Debug)]
pub struct StabilityModel {
    n_examples: usize,
    /// Eigenvalues of `H̄(w*)`.
    hessian_eigenvalues: Vec<f64>,
    /// `X ↦ H̄ X + X H̄`.
    anticommutator: DMatrix<f64>,
    /// `X ↦ Σ_i h_i X h_i`.
    each_example: DMatrix<f64>,
    /// `X ↦ Hs X Hs`.
    all_examples: DMatrix<f64>,
}

/// The orthonormal basis of symmetric `d × d` matrices, row-major.
fn symmetric_basis(d: usize) -> Vec<Vec<f64>> {
    let mut basis = Vec::with_capacity(d * (d + 1) / 2);
    for i in 0..d {
        for j in i..d {
            let mut e = vec![0.0; d * d];
            if i == j {
                e[i * d + i] = 1.0;
            } else {
                let s = std::f64::consts::FRAC_1_SQRT_2;
                e[i * d + j] = s;
                e[j * d + i] = s;
            }
            basis.push(e);
        }
    }
    basis
}

fn multiply(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..d {
                out[i * d + j] += aik * b[k * d + j];
            }
        }
    }
    out
}

/// The matrix of a linear map on symmetric matrices in `basis`: `⟨E_p, map(E_q)⟩`.
fn operator(basis: &[Vec<f64>], map: impl Fn(&[f64]) -> Vec<f64>) -> DMatrix<f64> {
    let p = basis.len();
    let images: Vec<Vec<f64>> = basis.iter().map(|e| map(e)).collect();
    let mut out = DMatrix::zeros(p, p);
    for (row, ep) in basis.iter().enumerate() {
        for (column, image) in images.iter().enumerate() {
            out[(row, column)] = ep.iter().zip(image).map(|(x, y)| x * y).sum();
        }
    }
    (&out + out.transpose()) * 0.5
}

impl StabilityModel {
    /// Evaluate the per-example Hessians at `minimum`.
    pub fn new(landscape: &dyn Landscape, minimum: &[f64]) -> Self {
        let d = landscape.dim();
        let n = landscape.n_examples();
        let mut hessians = vec![vec![0.0; d * d]; n];
        let mut total = vec![0.0; d * d];
        for (i, h) in hessians.iter_mut().enumerate() {
            landscape.add_example_hessian(i, minimum, 1.0, h);
            for (t, x) in total.iter_mut().zip(h.iter()) {
                *t += x;
            }
        }
        let mean: Vec<f64> = total.iter().map(|x| x / n as f64).collect();
        let basis = symmetric_basis(d);
        let sandwich = |h: &[f64], x: &[f64]| multiply(&multiply(h, x, d), h, d);
        let anticommutator = operator(&basis, |x| {
            let (a, b) = (multiply(&mean, x, d), multiply(x, &mean, d));
            a.iter().zip(&b).map(|(a, b)| a + b).collect()
        });
        let each_example = operator(&basis, |x| {
            let mut sum = vec![0.0; d * d];
            for h in &hessians {
                for (s, y) in sum.iter_mut().zip(sandwich(h, x)) {
                    *s += y;
                }
            }
            sum
        });
        let all_examples = operator(&basis, |x| sandwich(&total, x));
        let mean_matrix = DMatrix::from_row_slice(d, d, &mean);
        let mut hessian_eigenvalues: Vec<f64> =
            SymmetricEigen::new((&mean_matrix + mean_matrix.transpose()) * 0.5)
                .eigenvalues
                .iter()
                .copied()
                .collect();
        hessian_eigenvalues.sort_by(f64::total_cmp);
        Self {
            n_examples: n,
            hessian_eigenvalues,
            anticommutator,
            each_example,
            all_examples,
        }
    }

    /// Eigenvalues of `H̄(w*)`, ascending.
    pub fn hessian_eigenvalues(&self) -> &[f64] {
        &self.hessian_eigenvalues
    }

    /// `ρ_mean = max_i |1 − η λ_i(H̄)|`.
    pub fn mean_radius(&self, eta: f64) -> f64 {
        self.hessian_eigenvalues
            .iter()
            .map(|h| (1.0 - eta * h).abs())
            .fold(0.0, f64::max)
    }

    /// `ρ_cov`, the spectral radius of `X ↦ E[A_B X A_B]` on symmetric matrices.
    pub fn covariance_radius(&self, eta: f64, batch: usize) -> f64 {
        let n = self.n_examples as f64;
        let b = batch.max(1) as f64;
        let pi1 = b / n;
        let pi2 = if self.n_examples > 1 {
            b * (b - 1.0) / (n * (n - 1.0))
        } else {
            0.0
        };
        let p = self.anticommutator.nrows();
        let map = DMatrix::<f64>::identity(p, p) - &self.anticommutator * eta
            + (&self.each_example * ((pi1 - pi2) / (b * b)) + &self.all_examples * (pi2 / (b * b)))
                * (eta * eta);
        if map.iter().any(|x| !x.is_finite()) {
            return f64::INFINITY;
        }
        map.symmetric_eigenvalues()
            .iter()
            .map(|x| x.abs())
            .fold(0.0, f64::max)
    }

    /// `max(ρ_mean, ρ_cov)`: the dynamics are linearly stable when it is below 1.
    pub fn spectral_radius(&self, eta: f64, batch: usize) -> f64 {
        self.mean_radius(eta)
            .max(self.covariance_radius(eta, batch))
    }

    /// The first learning rate at which the dynamics turn unstable, `η_max(B)`: bisection in
    /// `log η` on [`spectral_radius`](Self::spectral_radius) `≥ 1`, bracketed by the grid
    /// `etas` (increasing) and by `2/λ_max`, where the mean map alone reaches 1. `None` when
    /// even the smallest grid learning rate is unstable, or the landscape has no curvature.
    pub fn boundary(&self, etas: &[f64], batch: usize) -> Option<f64> {
        let lambda_max = self.hessian_eigenvalues.last().copied()?;
        if lambda_max.is_nan() || lambda_max <= 0.0 {
            return None;
        }
        let limit = 2.0 / lambda_max;
        let unstable = |eta: f64| self.spectral_radius(eta, batch) >= 1.0;
        let mut low = None;
        let mut high = limit;
        for &eta in etas.iter().filter(|&&eta| eta < limit) {
            if unstable(eta) {
                high = eta;
                break;
            }
            low = Some(eta);
        }
        let mut low = match low {
            Some(low) => low,
            None => {
                let probe = etas.first().copied().unwrap_or(limit).min(limit) * 1e-6;
                if unstable(probe) {
                    return None;
                }
                probe
            }
        };
        for _ in 0..200 {
            if high / low < 1.0 + 1e-13 {
                break;
            }
            let middle = (low * high).sqrt();
            if unstable(middle) {
                high = middle;
            } else {
                low = middle;
            }
        }
        Some((low * high).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::{Bowl, BowlSpec};

    /// On the bowl every example has the Hessian `A`, so `E[A_B X A_B] = A X A` and the
    /// boundary is `2/λ_max` for every batch size.
    #[test]
    fn bowl_boundary_is_two_over_lambda_max() {
        let bowl = Bowl::new(&BowlSpec::default()).expect("bowl");
        let model = StabilityModel::new(&bowl, &[0.0, 0.0]);
        let etas: Vec<f64> = (0..50).map(|k| 0.01 * 1.1f64.powi(k)).collect();
        for batch in [1, 7, 100] {
            let boundary = model.boundary(&etas, batch).expect("boundary");
            assert!((boundary - 0.5).abs() < 1e-10, "B = {batch}: {boundary}");
            // ρ_cov = max (1 − η λ_i)(1 − η λ_j) = max((1 − 0.3)², (1 − 1.2)²) = 0.49.
            let rho = model.covariance_radius(0.3, batch);
            assert!((rho - 0.49).abs() < 1e-12, "{rho}");
            let rho = model.covariance_radius(0.45, batch);
            assert!((rho - 0.8f64.powi(2)).abs() < 1e-12, "{rho}");
        }
    }

    /// One dimension, two examples with curvatures 0 and 2 (mean 1): `E[A_B X A_B]` for
    /// `B = 1` is `½[(1)² + (1 − 2η)²] X`, which reaches 1 at `η = 1`, half of `2/λ`.
    #[test]
    fn curvature_noise_lowers_the_boundary() {
        struct TwoCurvatures;
        impl Landscape for TwoCurvatures {
            fn kind(&self) -> &'static str {
                "two-curvatures"
            }
            fn dim(&self) -> usize {
                1
            }
            fn n_examples(&self) -> usize {
                2
            }
            fn example_loss(&self, i: usize, w: &[f64]) -> f64 {
                i as f64 * w[0] * w[0]
            }
            fn add_example_gradient(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
                out[0] += scale * 2.0 * i as f64 * w[0];
            }
            fn add_example_hessian(&self, i: usize, _: &[f64], scale: f64, out: &mut [f64]) {
                out[0] += scale * 2.0 * i as f64;
            }
            fn start(&self) -> Vec<f64> {
                vec![0.0]
            }
        }
        let model = StabilityModel::new(&TwoCurvatures, &[0.0]);
        let rho = model.covariance_radius(0.4, 1);
        assert!((rho - 0.5 * (1.0 + 0.2f64.powi(2))).abs() < 1e-12, "{rho}");
        let boundary = model.boundary(&[0.1, 0.5, 1.5], 1).expect("boundary");
        assert!((boundary - 1.0).abs() < 1e-10, "{boundary}");
        // Full batch: only the mean Hessian matters, boundary 2/λ = 2.
        let full = model.boundary(&[0.1, 0.5, 1.5], 2).expect("boundary");
        assert!((full - 2.0).abs() < 1e-10, "{full}");
    }
}
