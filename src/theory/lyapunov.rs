//! Lyapunov equations of the linearised (Ornstein–Uhlenbeck) theory (docs/theory.md §3.1).
//!
//! The continuous-time stationary covariance of `dx = −K x dt + noise` with diffusion matrix
//! `D` solves `K Σ + Σ K = 2 D`; with `K = η H` this is `H Σ + Σ H = (2/η) D` (§3.1).
//! For a symmetric `K = O diag(k) Oᵀ` the solution is, in the eigenbasis,
//! `Σ = O [ (Oᵀ 2D O)_ij / (k_i + k_j) ] Oᵀ`.
//!
//! The discrete-time map `x ← (I − K) x + noise` with noise covariance `Q` has the exact
//! stationary covariance `Σ = (I − K) Σ (I − K) + Q`, in the eigenbasis
//! `Σ_ij = Q_ij / (1 − (1 − k_i)(1 − k_j))`. With `Q = 2D` it differs from the continuous
//! solution by `O(k)`: this is the discretisation gap of SGD with a finite learning rate.

use nalgebra::{DMatrix, SymmetricEigen};

/// Eigen-decomposition of a symmetric matrix given row-major: `(eigenvalues, O)` with
/// `M = O diag(eigenvalues) Oᵀ`.
pub fn symmetric_eigen(dim: usize, m: &[f64]) -> (Vec<f64>, DMatrix<f64>) {
    let matrix = symmetrise(&DMatrix::from_row_slice(dim, dim, m));
    let eigen = SymmetricEigen::new(matrix);
    (
        eigen.eigenvalues.iter().copied().collect(),
        eigen.eigenvectors,
    )
}

/// `(M + Mᵀ)/2`.
pub fn symmetrise(m: &DMatrix<f64>) -> DMatrix<f64> {
    (m + m.transpose()) * 0.5
}

/// Row-major copy of a matrix.
pub fn to_row_major(m: &DMatrix<f64>) -> Vec<f64> {
    let mut out = Vec::with_capacity(m.nrows() * m.ncols());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            out.push(m[(i, j)]);
        }
    }
    out
}

/// Solve `K Σ + Σ K = Q` for symmetric `K` and `Q` in the eigenbasis of `K`.
///
/// Returns `None` when some `k_i + k_j ≤ 0` (no stable stationary state).
pub fn solve_continuous(k: &DMatrix<f64>, q: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let eigen = SymmetricEigen::new(symmetrise(k));
    let o = &eigen.eigenvectors;
    let h = &eigen.eigenvalues;
    let mut rotated = o.transpose() * symmetrise(q) * o;
    let d = h.len();
    for i in 0..d {
        for j in 0..d {
            let denominator = h[i] + h[j];
            if denominator.is_nan() || denominator <= 0.0 {
                return None;
            }
            rotated[(i, j)] /= denominator;
        }
    }
    Some(symmetrise(&(o * rotated * o.transpose())))
}

/// Solve the discrete Lyapunov equation `Σ = (I − K) Σ (I − K) + Q` for symmetric `K`, `Q`.
///
/// Returns `None` when the map is not contracting (`|1 − k_i| ≥ 1` for some eigenvalue).
pub fn solve_discrete(k: &DMatrix<f64>, q: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let eigen = SymmetricEigen::new(symmetrise(k));
    let o = &eigen.eigenvectors;
    let h = &eigen.eigenvalues;
    if h.iter().any(|&x| x.is_nan() || (1.0 - x).abs() >= 1.0) {
        return None;
    }
    let mut rotated = o.transpose() * symmetrise(q) * o;
    let d = h.len();
    for i in 0..d {
        for j in 0..d {
            rotated[(i, j)] /= 1.0 - (1.0 - h[i]) * (1.0 - h[j]);
        }
    }
    Some(symmetrise(&(o * rotated * o.transpose())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    use rand_pcg::Pcg64;

    fn random_spd(d: usize, rng: &mut Pcg64, spread: f64) -> DMatrix<f64> {
        let a = DMatrix::from_fn(d, d, |_, _| StandardNormal.sample(rng));
        let b: f64 = spread;
        a.transpose() * &a + DMatrix::identity(d, d) * b
    }

    /// The residual of `HΣ + ΣH − (2/η) D` vanishes to round-off for random SPD `H`, `D`
    /// of dimensions 1 to 8, including badly conditioned ones.
    #[test]
    fn continuous_residual_vanishes_for_random_spd() {
        let mut rng = Pcg64::seed_from_u64(7);
        let eta = 0.03;
        for d in 1..=8 {
            for spread in [1e-3, 1.0, 100.0] {
                let h = random_spd(d, &mut rng, spread);
                let diffusion = random_spd(d, &mut rng, 0.1);
                let q = &diffusion * (2.0 / eta);
                let sigma = solve_continuous(&h, &q).expect("stable");
                let residual = &h * &sigma + &sigma * &h - &q;
                let relative = residual.norm() / q.norm();
                assert!(relative < 1e-10, "d = {d}: residual {relative:e}");
                // Σ is symmetric positive definite.
                let eigen = SymmetricEigen::new(sigma.clone());
                assert!(eigen.eigenvalues.iter().all(|&x| x > 0.0));
            }
        }
    }

    #[test]
    fn discrete_residual_vanishes_and_approaches_continuous() {
        let mut rng = Pcg64::seed_from_u64(8);
        for d in 1..=5 {
            let h = random_spd(d, &mut rng, 1.0);
            let scale = 0.5 / SymmetricEigen::new(h.clone()).eigenvalues.max();
            let k = &h * scale;
            let q = random_spd(d, &mut rng, 0.1);
            let sigma = solve_discrete(&k, &q).expect("contracting");
            let identity = DMatrix::<f64>::identity(d, d);
            let step = &identity - &k;
            let residual = &step * &sigma * &step + &q - &sigma;
            assert!(residual.norm() / sigma.norm() < 1e-10);
            // Small steps: discrete → continuous with an O(k) gap.
            let small = &k * 1e-4;
            let discrete = solve_discrete(&small, &q).expect("contracting");
            let continuous = solve_continuous(&small, &q).expect("stable");
            let gap = (&discrete - &continuous).norm() / continuous.norm();
            assert!(gap < 1e-4, "gap {gap:e}");
        }
    }

    #[test]
    fn unstable_input_gives_none() {
        let k = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, -2.0]);
        let q = DMatrix::identity(2, 2);
        assert!(solve_continuous(&k, &q).is_none());
        assert!(solve_discrete(&k, &q).is_none());
    }
}
