//! Loss landscapes with per-example losses (docs/theory.md §1).
//!
//! A [`Landscape`] knows the per-example losses `l_i(w)`, their gradients `g_i = ∇l_i` and
//! Hessians `h_i = ∇∇l_i`; everything else (the full loss `L = (1/N) Σ_i l_i`, its gradient
//! `ḡ`, Hessian `H̄`, and the gradient covariance `S(w)`) follows from those. Steppers in
//! [`crate::dynamics`] only see this trait.

pub mod bowl;
pub mod csv;
pub mod double_well;
pub mod kernel;
pub mod linear_regression;
pub mod newton;
pub mod regression_net;
pub mod regression_net_2d;
pub mod tanh;

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use bowl::{Bowl, BowlSpec};
pub use csv::CsvError;
pub use double_well::{DoubleWell, DoubleWellSpec};
pub use kernel::{GradientKernel, LANES, Lanes, WalkerKernel};
pub use linear_regression::{LinearRegression, LinearRegressionSpec};
pub use regression_net::{NetModel, RegressionNet, RegressionNetSpec};
pub use regression_net_2d::{RegressionNet2d, RegressionNet2dSpec};

/// Errors raised while building a landscape from its specification.
#[derive(Debug, thiserror::Error)]
pub enum LandscapeError {
    /// A key of `[landscape]` holds a value the landscape cannot use.
    #[error("landscape.{key}: {message}")]
    InvalidKey {
        /// The key under `[landscape]`, e.g. `hessian` or `n_examples`.
        key: String,
        /// What is wrong with its value.
        message: String,
    },
    /// Newton's method failed where the landscape needs a minimum (e.g. the frozen weights of
    /// `regression-net-2d`).
    #[error("{0}")]
    Minimum(String),
    /// A data file named by `data` cannot be used.
    #[error(transparent)]
    Csv(#[from] CsvError),
}

impl LandscapeError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::InvalidKey {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// Per-example quadratic form of a quadratic landscape:
/// `l_i(w) = ½ wᵀ h_i w − b_iᵀ w + c_i`, so `g_i = h_i w − b_i` (docs/theory.md §5).
#[derive(Clone, Debug)]
pub struct QuadraticExamples {
    /// Dimension `d`.
    pub dim: usize,
    /// `h_i`, row-major `d × d`, one per example.
    pub hessians: Vec<Vec<f64>>,
    /// `b_i`, one per example.
    pub linear: Vec<Vec<f64>>,
}

/// A loss landscape with per-example losses (docs/theory.md §1).
///
/// Vectors are slices of length [`dim`](Landscape::dim); matrices are row-major `d × d`
/// slices. The `add_*` methods accumulate `scale ·` their quantity into `out`, so that batch
/// means need no allocation.
pub trait Landscape: Send + Sync {
    /// The preset `kind` of this landscape (`"bowl"`, `"double-well"`, ...).
    fn kind(&self) -> &'static str;
    /// Dimension `d` of the weight space.
    fn dim(&self) -> usize;
    /// Number of examples `N`.
    fn n_examples(&self) -> usize;
    /// Per-example loss `l_i(w)`.
    fn example_loss(&self, i: usize, w: &[f64]) -> f64;
    /// `out += scale · g_i(w)`.
    fn add_example_gradient(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]);
    /// `out += scale · h_i(w)` (row-major `d × d`).
    fn add_example_hessian(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]);

    /// Mean gradient over a minibatch, `g_B = (1/B) Σ_{i in batch} g_i`, written to `out`.
    /// Allocation-free; landscapes override it when they can do better.
    fn batch_gradient(&self, batch: &[usize], w: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        let scale = 1.0 / batch.len() as f64;
        for &i in batch {
            self.add_example_gradient(i, w, scale, out);
        }
    }

    /// Full loss `L(w) = (1/N) Σ_i l_i(w)`.
    fn loss(&self, w: &[f64]) -> f64 {
        let n = self.n_examples();
        (0..n).map(|i| self.example_loss(i, w)).sum::<f64>() / n as f64
    }

    /// Full gradient `ḡ = ∇L`, written to `out`.
    fn gradient(&self, w: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        let n = self.n_examples();
        let scale = 1.0 / n as f64;
        for i in 0..n {
            self.add_example_gradient(i, w, scale, out);
        }
    }

    /// Full Hessian `H̄ = ∇∇L` (row-major), written to `out`.
    fn hessian(&self, w: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        let n = self.n_examples();
        let scale = 1.0 / n as f64;
        for i in 0..n {
            self.add_example_hessian(i, w, scale, out);
        }
    }

    /// A sensible starting point for walkers and for Newton's method.
    fn start(&self) -> Vec<f64>;

    /// Points near every local minimum, for landscapes with several (used to seed Newton's
    /// method and to choose plot bounds). Empty when [`start`](Landscape::start) suffices.
    fn minimum_hints(&self) -> Vec<Vec<f64>> {
        Vec::new()
    }

    /// A position-scale beyond which a walker counts as run away (diverged).
    fn escape_radius(&self) -> f64 {
        1e6
    }

    /// The per-example quadratic forms, when every `l_i` is quadratic.
    fn quadratic(&self) -> Option<QuadraticExamples> {
        None
    }

    /// The specialised minibatch-gradient kernel of this landscape's family, which steps
    /// walkers in SIMD lanes (docs/theory.md §11); `Generic` when there is none.
    fn walker_kernel(&self) -> WalkerKernel<'_> {
        WalkerKernel::Generic
    }

    /// Names of the weights, for tables and axis labels.
    fn weight_names(&self) -> Vec<String> {
        (1..=self.dim()).map(|a| format!("w{a}")).collect()
    }
}

/// Gradient covariance over examples, `S(w) = (1/N) Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ` (docs/theory.md
/// section 1), row-major `d × d`.
pub fn gradient_covariance(landscape: &dyn Landscape, w: &[f64]) -> Vec<f64> {
    let d = landscape.dim();
    let n = landscape.n_examples();
    let mut mean = vec![0.0; d];
    landscape.gradient(w, &mut mean);
    let mut g = vec![0.0; d];
    let mut s = vec![0.0; d * d];
    for i in 0..n {
        g.fill(0.0);
        landscape.add_example_gradient(i, w, 1.0, &mut g);
        for a in 0..d {
            let ga = g[a] - mean[a];
            for b in 0..d {
                s[a * d + b] += ga * (g[b] - mean[b]);
            }
        }
    }
    s.iter_mut().for_each(|x| *x /= n as f64);
    s
}

/// The `[landscape]` table of a preset: `kind` and that landscape's keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum LandscapeSpec {
    /// `kind = "bowl"`: the anisotropic quadratic bowl `½ (w − x_i)ᵀ A (w − x_i)` with
    /// rotated data noise (docs/theory.md §1.4).
    #[serde(rename = "bowl")]
    Bowl(BowlSpec),
    /// `kind = "linear-regression"`: Bayesian linear regression, a quadratic posterior
    /// (docs/theory.md §1.3, §1.4).
    #[serde(rename = "linear-regression")]
    LinearRegression(LinearRegressionSpec),
    /// `kind = "double-well"`: a tilted quartic double well with position-dependent,
    /// non-commuting noise (docs/theory.md §1.4).
    #[serde(rename = "double-well")]
    DoubleWell(DoubleWellSpec),
    /// `kind = "regression-net"`: the seven-weight nonlinear regression network
    /// (docs/theory.md §6.1).
    #[serde(rename = "regression-net")]
    RegressionNet(RegressionNetSpec),
    /// `kind = "regression-net-2d"`: the same network with all but two weights frozen at
    /// their minimum (docs/theory.md §6.3).
    #[serde(rename = "regression-net-2d")]
    RegressionNet2d(RegressionNet2dSpec),
}

/// Every landscape kind a preset may name.
pub const KINDS: [&str; 5] = [
    "bowl",
    "linear-regression",
    "double-well",
    "regression-net",
    "regression-net-2d",
];

impl LandscapeSpec {
    /// The preset `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Bowl(_) => "bowl",
            Self::LinearRegression(_) => "linear-regression",
            Self::DoubleWell(_) => "double-well",
            Self::RegressionNet(_) => "regression-net",
            Self::RegressionNet2d(_) => "regression-net-2d",
        }
    }

    /// Build the landscape. Relative data paths are resolved against `base_dir` (the folder of
    /// the preset file).
    pub fn build(&self, base_dir: &Path) -> Result<Arc<dyn Landscape>, LandscapeError> {
        Ok(match self {
            Self::Bowl(spec) => Arc::new(Bowl::new(spec)?),
            Self::LinearRegression(spec) => Arc::new(LinearRegression::new(spec, base_dir)?),
            Self::DoubleWell(spec) => Arc::new(DoubleWell::new(spec)?),
            Self::RegressionNet(spec) => Arc::new(RegressionNet::new(spec, base_dir)?),
            Self::RegressionNet2d(spec) => Arc::new(RegressionNet2d::new(spec, base_dir)?),
        })
    }

    /// Whether the landscape is two-dimensional (and so has 2-D views and a Fokker–Planck solve).
    pub fn is_2d(&self) -> bool {
        !matches!(self, Self::RegressionNet(_))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Finite-difference checks shared by the landscape tests.
    use super::Landscape;

    /// Property-test settings with a fixed seed, so every run checks the same points.
    pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
        proptest::test_runner::Config {
            cases,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x6e65_716c_6162),
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        }
    }

    /// Largest relative mismatch between `g_i` and central differences of `l_i`, and between
    /// `h_i` and central differences of `g_i`, over every example, at `w`.
    pub fn finite_difference_mismatch(landscape: &dyn Landscape, w: &[f64]) -> (f64, f64) {
        let d = landscape.dim();
        let mut worst_gradient: f64 = 0.0;
        let mut worst_hessian: f64 = 0.0;
        for i in 0..landscape.n_examples() {
            let mut g = vec![0.0; d];
            landscape.add_example_gradient(i, w, 1.0, &mut g);
            let mut h = vec![0.0; d * d];
            landscape.add_example_hessian(i, w, 1.0, &mut h);
            let g_scale = g.iter().fold(1e-8_f64, |m, x| m.max(x.abs()));
            let h_scale = h.iter().fold(1e-8_f64, |m, x| m.max(x.abs()));
            for a in 0..d {
                let step = 1e-5 * (1.0 + w[a].abs());
                let mut plus = w.to_vec();
                let mut minus = w.to_vec();
                plus[a] += step;
                minus[a] -= step;
                let numeric = (landscape.example_loss(i, &plus)
                    - landscape.example_loss(i, &minus))
                    / (2.0 * step);
                worst_gradient = worst_gradient.max((numeric - g[a]).abs() / g_scale);
                let mut g_plus = vec![0.0; d];
                let mut g_minus = vec![0.0; d];
                landscape.add_example_gradient(i, &plus, 1.0, &mut g_plus);
                landscape.add_example_gradient(i, &minus, 1.0, &mut g_minus);
                for b in 0..d {
                    let numeric = (g_plus[b] - g_minus[b]) / (2.0 * step);
                    worst_hessian = worst_hessian.max((numeric - h[b * d + a]).abs() / h_scale);
                }
            }
        }
        (worst_gradient, worst_hessian)
    }
}
