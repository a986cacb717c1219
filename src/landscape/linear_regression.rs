//! Bayesian linear regression: a straight line `f(x) = w0 x + w1` through noisy points.
//!
//! Weights `w = (slope, intercept)`. With Gaussian noise of standard deviation `σ`
//! (`noise_std`) and a Gaussian prior of precision `λ` (`prior_precision`) on both weights,
//! the per-example loss is
//!
//! ```text
//! l_i(w) = N (y_i − w0 x_i − w1)² / (2σ²) + λ |w|² / 2.
//! ```
//!
//! The factor `N` makes the mean loss the *whole* negative log posterior (docs/theory.md
//! section 1, Bayesian convention):
//!
//! ```text
//! L(w) = (1/N) Σ_i l_i = Σ_i (y_i − w0 x_i − w1)² / (2σ²) + λ |w|² / 2 = −ln p(w | data) + const,
//! ```
//!
//! so SGLD or SGWORLD at `T = 1` target the exact posterior `p(w) ∝ exp(−L(w))`. Every `l_i`
//! is quadratic, `l_i = ½ wᵀ h_i w − b_iᵀ w + c_i` with
//! `h_i = (N/σ²) φ_i φ_iᵀ + λ I`, `b_i = (N/σ²) y_i φ_i`, `φ_i = (x_i, 1)`. Hence the
//! posterior is Gaussian with
//!
//! ```text
//! precision = ∇∇L = H̄ = (1/σ²) Σ_i φ_i φ_iᵀ + λ I,     mean = H̄⁻¹ b̄ = argmin L,
//! ```
//!
//! i.e. covariance `H̄⁻¹` — *not* `(N H̄)⁻¹`: the factor `N` is already inside `l_i`.
//!
//! Data come from a CSV file (`data`, see [`super::csv`]) or are generated: `n` points with
//! `x` uniform on `[−x_scale, x_scale]` (`x_distribution = "uniform"`, the default) or
//! Gaussian with standard deviation `x_scale` (`"gaussian"`), and
//! `y = true_w[0] x + true_w[1] + σ ε`, `ε ~ N(0, 1)`, drawn from `data_seed`.

use std::path::{Path, PathBuf};

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use super::csv;
use super::{Landscape, LandscapeError, QuadraticExamples};

/// How generated `x` values are spread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XDistribution {
    /// Uniform on `[−x_scale, x_scale]`.
    Uniform,
    /// Gaussian, mean 0, standard deviation `x_scale`.
    Gaussian,
}

/// `[landscape]` keys of `kind = "linear-regression"`.
///
/// `data` and the generation keys (`n`, `data_seed`, `true_w`, `x_distribution`, `x_scale`)
/// exclude each other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearRegressionSpec {
    /// An `x,y` CSV file, relative to the preset's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Number of generated points `N` (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<usize>,
    /// Seed of the generated data (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
    /// `[slope, intercept]` of the line the data are generated from (default `[1.0, 0.5]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_w: Option<[f64; 2]>,
    /// Spread of generated `x` (default uniform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_distribution: Option<XDistribution>,
    /// Half-width (uniform) or standard deviation (Gaussian) of generated `x` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_scale: Option<f64>,
    /// Noise standard deviation `σ` of the likelihood (and of generated data).
    #[serde(default = "default_noise_std")]
    pub noise_std: f64,
    /// Prior precision `λ` on both weights.
    #[serde(default = "default_prior_precision")]
    pub prior_precision: f64,
}

fn default_noise_std() -> f64 {
    0.5
}

fn default_prior_precision() -> f64 {
    1.0
}

impl Default for LinearRegressionSpec {
    fn default() -> Self {
        Self {
            data: None,
            n: None,
            data_seed: None,
            true_w: None,
            x_distribution: None,
            x_scale: None,
            noise_std: default_noise_std(),
            prior_precision: default_prior_precision(),
        }
    }
}

/// The linear-regression landscape; see the module documentation.
#[derive(Clone, Debug)]
pub struct LinearRegression {
    x: Vec<f64>,
    y: Vec<f64>,
    noise_std: f64,
    prior_precision: f64,
    /// `N / σ²`, the scale of every data term.
    data_scale: f64,
    posterior_mean: [f64; 2],
    posterior_cov: [f64; 4],
}

impl LinearRegression {
    /// Read or generate the data and build the landscape; relative `data` paths resolve
    /// against `base_dir`.
    pub fn new(spec: &LinearRegressionSpec, base_dir: &Path) -> Result<Self, LandscapeError> {
        if !(spec.noise_std.is_finite() && spec.noise_std > 0.0) {
            return Err(LandscapeError::invalid(
                "noise_std",
                format!("must be positive and finite, got {}", spec.noise_std),
            ));
        }
        if !(spec.prior_precision.is_finite() && spec.prior_precision >= 0.0) {
            return Err(LandscapeError::invalid(
                "prior_precision",
                format!(
                    "must be non-negative and finite, got {}",
                    spec.prior_precision
                ),
            ));
        }
        let (x, y) = match &spec.data {
            Some(path) => {
                let generation_keys = [
                    ("n", spec.n.is_some()),
                    ("data_seed", spec.data_seed.is_some()),
                    ("true_w", spec.true_w.is_some()),
                    ("x_distribution", spec.x_distribution.is_some()),
                    ("x_scale", spec.x_scale.is_some()),
                ];
                if let Some((key, _)) = generation_keys.iter().find(|(_, set)| *set) {
                    return Err(LandscapeError::invalid(
                        key,
                        "generates data, so it cannot be combined with `data` (a data file)",
                    ));
                }
                let data = csv::read_xy(&csv::resolve(path, base_dir))?;
                (data.x, data.y)
            }
            None => generate(spec)?,
        };
        let n = x.len() as f64;
        let data_scale = n / (spec.noise_std * spec.noise_std);
        let mut landscape = Self {
            x,
            y,
            noise_std: spec.noise_std,
            prior_precision: spec.prior_precision,
            data_scale,
            posterior_mean: [0.0; 2],
            posterior_cov: [0.0; 4],
        };
        // H̄ = (1/σ²) Σ φφᵀ + λI and b̄ = (1/σ²) Σ y φ.
        let inverse_variance = 1.0 / (spec.noise_std * spec.noise_std);
        let (mut sxx, mut sx, mut sxy, mut sy) = (0.0, 0.0, 0.0, 0.0);
        for (&xi, &yi) in landscape.x.iter().zip(&landscape.y) {
            sxx += xi * xi;
            sx += xi;
            sxy += xi * yi;
            sy += yi;
        }
        let h = [
            inverse_variance * sxx + spec.prior_precision,
            inverse_variance * sx,
            inverse_variance * sx,
            inverse_variance * n + spec.prior_precision,
        ];
        let b = [inverse_variance * sxy, inverse_variance * sy];
        let determinant = h[0] * h[3] - h[1] * h[2];
        if !(determinant.is_finite() && determinant > 0.0) {
            return Err(LandscapeError::invalid(
                "data",
                "the posterior is improper: all x are equal and prior_precision = 0",
            ));
        }
        let cov = [
            h[3] / determinant,
            -h[1] / determinant,
            -h[2] / determinant,
            h[0] / determinant,
        ];
        landscape.posterior_cov = cov;
        landscape.posterior_mean = [cov[0] * b[0] + cov[1] * b[1], cov[2] * b[0] + cov[3] * b[1]];
        Ok(landscape)
    }

    /// The exact Gaussian posterior `p(w) ∝ exp(−L(w))`: `(mean, covariance)`, the covariance
    /// row-major `2 × 2`. The mean is the minimum of `L`, the covariance `H̄⁻¹` (module docs).
    pub fn posterior(&self) -> (Vec<f64>, Vec<f64>) {
        (self.posterior_mean.to_vec(), self.posterior_cov.to_vec())
    }

    /// The data `x_i`.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// The data `y_i`.
    pub fn y(&self) -> &[f64] {
        &self.y
    }

    /// Noise standard deviation `σ`.
    pub fn noise_std(&self) -> f64 {
        self.noise_std
    }

    /// Prior precision `λ`.
    pub fn prior_precision(&self) -> f64 {
        self.prior_precision
    }
}

fn generate(spec: &LinearRegressionSpec) -> Result<(Vec<f64>, Vec<f64>), LandscapeError> {
    let n = spec.n.unwrap_or(100);
    if n < 2 {
        return Err(LandscapeError::invalid(
            "n",
            format!("needs at least 2 examples, got {n}"),
        ));
    }
    let true_w = spec.true_w.unwrap_or([1.0, 0.5]);
    if true_w.iter().any(|v| !v.is_finite()) {
        return Err(LandscapeError::invalid("true_w", "must be finite"));
    }
    let x_scale = spec.x_scale.unwrap_or(1.0);
    if !(x_scale.is_finite() && x_scale > 0.0) {
        return Err(LandscapeError::invalid(
            "x_scale",
            format!("must be positive and finite, got {x_scale}"),
        ));
    }
    let distribution = spec.x_distribution.unwrap_or(XDistribution::Uniform);
    let mut rng = Pcg64::seed_from_u64(spec.data_seed.unwrap_or(1));
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let xi = match distribution {
            XDistribution::Uniform => x_scale * (2.0 * rng.random::<f64>() - 1.0),
            XDistribution::Gaussian => {
                let u: f64 = StandardNormal.sample(&mut rng);
                x_scale * u
            }
        };
        let noise: f64 = StandardNormal.sample(&mut rng);
        x.push(xi);
        y.push(true_w[0] * xi + true_w[1] + spec.noise_std * noise);
    }
    Ok((x, y))
}

impl Landscape for LinearRegression {
    fn kind(&self) -> &'static str {
        "linear-regression"
    }

    fn dim(&self) -> usize {
        2
    }

    fn n_examples(&self) -> usize {
        self.x.len()
    }

    fn example_loss(&self, i: usize, w: &[f64]) -> f64 {
        let r = w[0] * self.x[i] + w[1] - self.y[i];
        0.5 * self.data_scale * r * r + 0.5 * self.prior_precision * (w[0] * w[0] + w[1] * w[1])
    }

    /// `g_i = (N/σ²) r_i (x_i, 1) + λ w`, `r_i = w0 x_i + w1 − y_i`.
    fn add_example_gradient(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
        let xi = self.x[i];
        let r = scale * self.data_scale * (w[0] * xi + w[1] - self.y[i]);
        out[0] += r * xi + scale * self.prior_precision * w[0];
        out[1] += r + scale * self.prior_precision * w[1];
    }

    /// `h_i = (N/σ²) (x_i, 1)(x_i, 1)ᵀ + λ I`.
    fn add_example_hessian(&self, i: usize, _w: &[f64], scale: f64, out: &mut [f64]) {
        let xi = self.x[i];
        let k = scale * self.data_scale;
        out[0] += k * xi * xi + scale * self.prior_precision;
        out[1] += k * xi;
        out[2] += k * xi;
        out[3] += k + scale * self.prior_precision;
    }

    fn batch_gradient(&self, batch: &[usize], w: &[f64], out: &mut [f64]) {
        let (mut srx, mut sr) = (0.0, 0.0);
        for &i in batch {
            let xi = self.x[i];
            let r = w[0] * xi + w[1] - self.y[i];
            srx += r * xi;
            sr += r;
        }
        let k = self.data_scale / batch.len() as f64;
        out[0] = k * srx + self.prior_precision * w[0];
        out[1] = k * sr + self.prior_precision * w[1];
    }

    fn start(&self) -> Vec<f64> {
        self.posterior_mean.to_vec()
    }

    fn escape_radius(&self) -> f64 {
        let scale = self
            .posterior_mean
            .iter()
            .fold(1.0_f64, |m, v| m.max(v.abs()))
            .max(self.posterior_cov[0].sqrt())
            .max(self.posterior_cov[3].sqrt());
        1e6 * scale
    }

    fn quadratic(&self) -> Option<QuadraticExamples> {
        let n = self.x.len();
        let mut hessians = Vec::with_capacity(n);
        let mut linear = Vec::with_capacity(n);
        for i in 0..n {
            let mut h = vec![0.0; 4];
            self.add_example_hessian(i, &[0.0, 0.0], 1.0, &mut h);
            hessians.push(h);
            let k = self.data_scale * self.y[i];
            linear.push(vec![k * self.x[i], k]);
        }
        Some(QuadraticExamples {
            dim: 2,
            hessians,
            linear,
        })
    }

    fn weight_names(&self) -> Vec<String> {
        vec!["slope".into(), "intercept".into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::testing::finite_difference_mismatch;

    fn default_landscape() -> LinearRegression {
        LinearRegression::new(&LinearRegressionSpec::default(), Path::new(".")).expect("valid")
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let landscape = default_landscape();
        for w in [[0.0, 0.0], [1.3, -0.4], [-2.0, 3.0]] {
            let (g, h) = finite_difference_mismatch(&landscape, &w);
            assert!(g < 1e-7 && h < 1e-6, "at {w:?}: gradient {g}, hessian {h}");
        }
    }

    #[test]
    fn batch_gradient_is_the_mean_of_example_gradients() {
        let landscape = default_landscape();
        let w = [0.7, -0.2];
        let batch = [4, 9, 33, 71, 98];
        let mut fast = [0.0; 2];
        landscape.batch_gradient(&batch, &w, &mut fast);
        let mut slow = [0.0; 2];
        for &i in &batch {
            landscape.add_example_gradient(i, &w, 1.0 / batch.len() as f64, &mut slow);
        }
        for a in 0..2 {
            assert!((fast[a] - slow[a]).abs() < 1e-10 * (1.0 + slow[a].abs()));
        }
    }

    /// `l_i = ½ wᵀ h_i w − b_iᵀ w + c_i`: the quadratic forms reproduce every example gradient.
    #[test]
    fn quadratic_forms_reproduce_the_gradients() {
        let landscape = default_landscape();
        let quadratic = landscape.quadratic().expect("quadratic");
        let w = [0.3, 1.1];
        for i in 0..landscape.n_examples() {
            let h = &quadratic.hessians[i];
            let b = &quadratic.linear[i];
            let mut g = [0.0; 2];
            landscape.add_example_gradient(i, &w, 1.0, &mut g);
            let from_quadratic = [
                h[0] * w[0] + h[1] * w[1] - b[0],
                h[2] * w[0] + h[3] * w[1] - b[1],
            ];
            for a in 0..2 {
                assert!((g[a] - from_quadratic[a]).abs() < 1e-9 * (1.0 + g[a].abs()));
            }
        }
    }

    /// The posterior mean is the minimum of `L` (zero gradient) and the covariance is the
    /// inverse of `H̄ = ∇∇L` (not of `N H̄`): `H̄ Σ = I`.
    #[test]
    fn posterior_is_the_minimum_and_inverse_mean_hessian() {
        let landscape = default_landscape();
        let (mean, cov) = landscape.posterior();
        let mut g = [0.0; 2];
        landscape.gradient(&mean, &mut g);
        // The gradient's natural scale at unit distance is the largest Hessian entry.
        let mut h = [0.0; 4];
        landscape.hessian(&mean, &mut h);
        let h_scale = h.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        assert!(g.iter().all(|v| v.abs() < 1e-10 * h_scale), "{g:?}");
        let product = [
            h[0] * cov[0] + h[1] * cov[2],
            h[0] * cov[1] + h[1] * cov[3],
            h[2] * cov[0] + h[3] * cov[2],
            h[2] * cov[1] + h[3] * cov[3],
        ];
        for (p, identity) in product.iter().zip([1.0, 0.0, 0.0, 1.0]) {
            assert!((p - identity).abs() < 1e-10, "{product:?}");
        }
    }

    /// Independent check of the convention `p(w) ∝ exp(−L(w))`: integrate `exp(−L)` on a
    /// grid of ±8 posterior standard deviations (401² points, spacing 0.04 std, so the
    /// trapezoid error on a Gaussian is far below 1e-6) and compare its mean and covariance with
    /// [`LinearRegression::posterior`]. Had the covariance been `(N H̄)⁻¹`, they would differ by
    /// a factor of `N = 100`.
    #[test]
    fn posterior_matches_direct_integration_of_exp_minus_loss() {
        let landscape = default_landscape();
        let (mean, cov) = landscape.posterior();
        let l_min = landscape.loss(&mean);
        let (s0, s1) = (cov[0].sqrt(), cov[3].sqrt());
        let points = 401;
        let (mut z, mut m0, mut m1, mut c00, mut c01, mut c11) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for a in 0..points {
            for b in 0..points {
                let u = -8.0 + 16.0 * a as f64 / (points - 1) as f64;
                let v = -8.0 + 16.0 * b as f64 / (points - 1) as f64;
                let w = [mean[0] + u * s0, mean[1] + v * s1];
                let p = (-(landscape.loss(&w) - l_min)).exp();
                let (d0, d1) = (w[0] - mean[0], w[1] - mean[1]);
                z += p;
                m0 += p * d0;
                m1 += p * d1;
                c00 += p * d0 * d0;
                c01 += p * d0 * d1;
                c11 += p * d1 * d1;
            }
        }
        let (m0, m1) = (m0 / z, m1 / z);
        assert!(m0.abs() < 1e-6 * s0 && m1.abs() < 1e-6 * s1, "{m0} {m1}");
        let integrated = [c00 / z - m0 * m0, c01 / z - m0 * m1, c11 / z - m1 * m1];
        for (got, want) in integrated.iter().zip([cov[0], cov[1], cov[3]]) {
            assert!(
                (got - want).abs() < 1e-6 * cov[0].max(cov[3]),
                "{got} vs {want}"
            );
        }
    }

    #[test]
    fn generated_data_follow_the_true_line() {
        // N = 2000 points with σ = 0.5, x uniform on [−1, 1]: the posterior standard deviation
        // of the slope is about σ / sqrt(N/3) = 0.019, of the intercept σ / sqrt(N) = 0.011;
        // allow 5 standard deviations.
        let spec = LinearRegressionSpec {
            n: Some(2000),
            true_w: Some([2.0, -1.0]),
            ..LinearRegressionSpec::default()
        };
        let landscape = LinearRegression::new(&spec, Path::new(".")).expect("valid");
        let (mean, _) = landscape.posterior();
        assert!(
            (mean[0] - 2.0).abs() < 0.1 && (mean[1] + 1.0).abs() < 0.06,
            "{mean:?}"
        );
        let spec = LinearRegressionSpec {
            x_distribution: Some(XDistribution::Gaussian),
            x_scale: Some(3.0),
            ..spec
        };
        let landscape = LinearRegression::new(&spec, Path::new(".")).expect("valid");
        assert!(landscape.x().iter().any(|x| x.abs() > 3.0));
    }

    #[test]
    fn reads_csv_relative_to_the_preset_folder_and_names_bad_lines() {
        let folder = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            folder.path().join("line.csv"),
            "x,y\n0,1\n1,3\n2,5\n# end\n",
        )
        .expect("write");
        let spec = LinearRegressionSpec {
            data: Some("line.csv".into()),
            prior_precision: 0.0,
            ..LinearRegressionSpec::default()
        };
        let landscape = LinearRegression::new(&spec, folder.path()).expect("valid");
        let (mean, _) = landscape.posterior();
        assert!((mean[0] - 2.0).abs() < 1e-12 && (mean[1] - 1.0).abs() < 1e-12);
        std::fs::write(folder.path().join("line.csv"), "x,y\n0,1\n1,oops\n").expect("write");
        let message = LinearRegression::new(&spec, folder.path())
            .expect_err("malformed")
            .to_string();
        assert!(message.contains("line.csv:3:"), "{message}");
    }

    #[test]
    fn rejects_bad_keys_by_name() {
        let bad = [
            (
                LinearRegressionSpec {
                    noise_std: 0.0,
                    ..LinearRegressionSpec::default()
                },
                "landscape.noise_std",
            ),
            (
                LinearRegressionSpec {
                    prior_precision: -1.0,
                    ..LinearRegressionSpec::default()
                },
                "landscape.prior_precision",
            ),
            (
                LinearRegressionSpec {
                    n: Some(1),
                    ..LinearRegressionSpec::default()
                },
                "landscape.n",
            ),
            (
                LinearRegressionSpec {
                    data: Some("d.csv".into()),
                    n: Some(10),
                    ..LinearRegressionSpec::default()
                },
                "landscape.n",
            ),
            (
                LinearRegressionSpec {
                    x_scale: Some(f64::NAN),
                    ..LinearRegressionSpec::default()
                },
                "landscape.x_scale",
            ),
        ];
        for (spec, key) in bad {
            let message = LinearRegression::new(&spec, Path::new("."))
                .expect_err(key)
                .to_string();
            assert!(message.starts_with(key), "{message}");
        }
    }
}
