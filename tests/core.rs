//! Core dynamics against exact results.

use std::path::Path;

use nalgebra::{Cholesky, Matrix2, Vector2};
use neqlab::dynamics::{Algorithm, Dynamics, Ensemble, Observer};
use neqlab::landscape::{LinearRegression, LinearRegressionSpec};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;

/// Per-walker time sums of `w` and `w wᵀ` (three independent entries), so that standard
/// errors come from the spread between independent walkers.
struct PerWalker {
    sums: Vec<[f64; 6]>,
}

impl Observer for PerWalker {
    fn fork(&self) -> Self {
        Self { sums: Vec::new() }
    }
    fn begin_walker(&mut self, _walker: usize) {
        self.sums.push([0.0; 6]);
    }
    fn observe(&mut self, _walker: usize, _unit: u64, _before: &[f64], after: &[f64]) {
        if let Some(s) = self.sums.last_mut() {
            s[0] += after[0];
            s[1] += after[1];
            s[2] += after[0] * after[0];
            s[3] += after[0] * after[1];
            s[4] += after[1] * after[1];
            s[5] += 1.0;
        }
    }
    fn merge(&mut self, other: Self) {
        self.sums.extend(other.sums);
    }
}

/// SGLD at T = 1 and a small learning rate samples the exact Gaussian posterior of Bayesian
/// linear regression.
///
/// Walkers start from exact posterior draws, so no burn-in is needed. At η = 2·10⁻⁶ the
/// minibatch part of D is `(η/2) c_B λ(S)/T ≈ 0.4%` of the thermal part and the ULA bias is
/// `O(η λ(H)) ≈ 0.1%`; the slowest relaxation time is `1/(η λ_min(H)) ≈ 4·10³` steps, so
/// 2000 walkers × 3·10⁴ steps give about 10⁴ independent samples, a standard error near 1.4%
/// on each variance. The test compares each moment with the exact one in units of the
/// standard error measured between walkers and allows 4 of them (plus the 0.5% bias).
#[test]
fn sgld_samples_the_linear_regression_posterior() {
    let spec: LinearRegressionSpec = toml::from_str(
        "n = 100\ndata_seed = 1\ntrue_w = [1.0, 0.5]\nnoise_std = 0.5\nprior_precision = 1.0",
    )
    .expect("spec");
    let landscape = LinearRegression::new(&spec, Path::new(".")).expect("landscape");
    let (mean, cov) = landscape.posterior();
    let cov_matrix = Matrix2::from_row_slice(&cov);
    let chol = Cholesky::new(cov_matrix).expect("posterior covariance is positive definite");
    let walkers = 2000;
    let mut rng = Pcg64::seed_from_u64(3);
    let positions: Vec<f64> = (0..walkers)
        .flat_map(|_| {
            let xi = Vector2::new(
                StandardNormal.sample(&mut rng),
                StandardNormal.sample(&mut rng),
            );
            let w = Vector2::new(mean[0], mean[1]) + chol.l() * xi;
            [w[0], w[1]]
        })
        .collect();
    let dynamics = Dynamics::new(Algorithm::Sgld, None, 2e-6, 10, 1.0, 100).expect("valid");
    let mut ensemble = Ensemble::from_positions(&landscape, dynamics, positions, 7);
    let mut observer = PerWalker { sums: Vec::new() };
    ensemble.advance(&landscape, 30_000, &mut observer);
    assert_eq!(observer.sums.len(), walkers);

    // Per-walker time averages of w0, w1, w0², w0w1, w1².
    let averages: Vec<[f64; 5]> = observer
        .sums
        .iter()
        .map(|s| {
            [
                s[0] / s[5],
                s[1] / s[5],
                s[2] / s[5],
                s[3] / s[5],
                s[4] / s[5],
            ]
        })
        .collect();
    let ensemble_mean = |k: usize| averages.iter().map(|a| a[k]).sum::<f64>() / walkers as f64;
    let standard_error = |k: usize| {
        let m = ensemble_mean(k);
        let var = averages.iter().map(|a| (a[k] - m).powi(2)).sum::<f64>() / (walkers - 1) as f64;
        (var / walkers as f64).sqrt()
    };
    let exact = [
        mean[0],
        mean[1],
        cov[0] + mean[0] * mean[0],
        cov[1] + mean[0] * mean[1],
        cov[3] + mean[1] * mean[1],
    ];
    let names = ["<w0>", "<w1>", "<w0 w0>", "<w0 w1>", "<w1 w1>"];
    for k in 0..5 {
        let (simulated, error) = (ensemble_mean(k), standard_error(k));
        let bias_allowance = if k >= 2 {
            0.005 * (cov[0].max(cov[3]))
        } else {
            0.0
        };
        assert!(
            (simulated - exact[k]).abs() < 4.0 * error + bias_allowance,
            "{}: simulated {simulated:.6e} ± {error:.1e}, exact {:.6e}",
            names[k],
            exact[k]
        );
    }
}
