//! Kullback–Leibler divergence between Gaussians, without cancellation
//! (docs/theory.md section 5).

use nalgebra::{Cholesky, DMatrix, DVector, SymmetricEigen};

use super::{ExactError, Gaussian};

/// `u − ln(1 + u)`, accurate for small `u` (the series `u²/2 − u³/3 + u⁴/4 − u⁵/5`).
fn u_minus_log1p(u: f64) -> f64 {
    if u.abs() < 1e-3 {
        u * u * (0.5 - u * (1.0 / 3.0 - u * (0.25 - u / 5.0)))
    } else {
        u - u.ln_1p()
    }
}

/// Kullback–Leibler divergence `KL(N(m, S) ‖ N(μ, Σ))` with `P = Σ⁻¹`:
///
/// ```text
/// KL = ½ [ tr(P S) + (m − μ)ᵀ P (m − μ) − d − ln det(P S) ].
/// ```
///
/// Computed without cancellation: with `Σ = L Lᵀ` (Cholesky) the eigenvalues `1 + u_k` of
/// `L⁻¹ S L⁻ᵀ` come from `U = L⁻¹ (S − Σ) L⁻ᵀ`, and `KL = ½ Σ_k (u_k − ln(1 + u_k)) +
/// ½ |L⁻¹ (m − μ)|²`, accurate even when `S` is within `10⁻⁸` of `Σ`.
pub fn kl_divergence(from: &Gaussian, to: &Gaussian) -> Result<f64, ExactError> {
    let d = to.mean.len();
    if from.mean.len() != d || from.cov.len() != d * d || to.cov.len() != d * d {
        return Err(ExactError::InvalidArgument {
            key: "kl",
            message: "Gaussians of different dimensions".into(),
        });
    }
    let sigma = DMatrix::from_row_slice(d, d, &to.cov);
    let s = DMatrix::from_row_slice(d, d, &from.cov);
    let lower = Cholesky::new(sigma.clone())
        .ok_or_else(|| {
            ExactError::NotPositiveDefinite("the target covariance is not positive definite".into())
        })?
        .l();
    let difference = &s - &sigma;
    let solve = |m: &DMatrix<f64>| lower.solve_lower_triangular(m);
    let half = solve(&difference).ok_or_else(|| {
        ExactError::NotPositiveDefinite("the target covariance is singular".into())
    })?;
    let u = solve(&half.transpose()).ok_or_else(|| {
        ExactError::NotPositiveDefinite("the target covariance is singular".into())
    })?;
    let u = (&u + u.transpose()) * 0.5;
    let eigenvalues = SymmetricEigen::new(u).eigenvalues;
    if eigenvalues.iter().any(|&x| x.is_nan() || x <= -1.0) {
        return Err(ExactError::NotPositiveDefinite(
            "the stationary covariance is not positive definite".into(),
        ));
    }
    let delta = DVector::from_iterator(d, from.mean.iter().zip(&to.mean).map(|(a, b)| a - b));
    let whitened = lower.solve_lower_triangular(&delta).ok_or_else(|| {
        ExactError::NotPositiveDefinite("the target covariance is singular".into())
    })?;
    Ok(
        0.5 * eigenvalues.iter().map(|&x| u_minus_log1p(x)).sum::<f64>()
            + 0.5 * whitened.norm_squared(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1-D check of the KL formula: `KL(N(m, s) ‖ N(0, 1)) = ½ (s + m² − 1 − ln s)`.
    #[test]
    fn kl_matches_the_one_dimensional_formula() {
        for (m, s) in [(0.0, 1.0), (0.3, 2.0), (-1.0, 0.5), (1e-5, 1.0 + 1e-6)] {
            let kl = kl_divergence(
                &Gaussian {
                    mean: vec![m],
                    cov: vec![s],
                },
                &Gaussian {
                    mean: vec![0.0],
                    cov: vec![1.0],
                },
            )
            .expect("valid");
            // Grouped so that the reference itself does not cancel: (s − 1) is exact here.
            let expected = 0.5 * ((s - 1.0) - f64::ln_1p(s - 1.0) + m * m);
            assert!(
                (kl - expected).abs() <= 1e-9 * expected.max(1e-12),
                "{kl} vs {expected}"
            );
        }
    }

    /// Against the textbook trace/determinant formula in 2-D, where cancellation is harmless.
    #[test]
    fn kl_matches_the_trace_formula() {
        let from = Gaussian {
            mean: vec![0.2, -0.1],
            cov: vec![1.3, 0.2, 0.2, 0.7],
        };
        let to = Gaussian {
            mean: vec![0.0, 0.1],
            cov: vec![1.0, -0.3, -0.3, 0.5],
        };
        let sigma = DMatrix::from_row_slice(2, 2, &to.cov);
        let precision = sigma.try_inverse().expect("invertible");
        let s = DMatrix::from_row_slice(2, 2, &from.cov);
        let ps = &precision * &s;
        let delta = DVector::from_vec(vec![0.2, -0.2]);
        let expected = 0.5
            * (ps.trace() + (delta.transpose() * &precision * &delta)[0]
                - 2.0
                - ps.determinant().ln());
        let kl = kl_divergence(&from, &to).expect("valid");
        assert!((kl - expected).abs() < 1e-12, "{kl} vs {expected}");
        assert!(kl_divergence(&to, &to).expect("valid").abs() < 1e-15);
    }
}
