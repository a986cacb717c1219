//! The reduced regression network for the 2-D views (docs/theory.md section 6).
//!
//! The seven-weight network of [`super::regression_net`] with two weights free,
//! `free = [a, b]` (zero-based, default `[4, 5]`: the output weights `w5`, `w6`), and the
//! other five frozen at the full network's minimum `w*`, found by Newton's method
//! ([`super::newton::newton_minimum`]) from the trained point of
//! [`RegressionNet`]. For `u = (u_a, u_b)` the full weights are `w(u) = w*` with entries `a`
//! and `b` replaced by `u`, and
//!
//! ```text
//! l_i(u) = l_i^net(w(u)),   g_i(u) = (g_i^net)_{a,b},   h_i(u) = (h_i^net)_{{a,b}×{a,b}},
//! ```
//!
//! so the minimum of the reduced `L` is `(w*_a, w*_b)` exactly. A failure of Newton's method
//! is a [`LandscapeError::Minimum`].
//!
//! When both free weights are output weights (`w5`, `w6`, `w7`), the hidden layer is frozen:
//! its activations are computed once per example, and a loss or gradient costs no `tanh`
//! (the Fokker–Planck solve evaluates `S(w)` over all examples at every cell).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::newton::newton_minimum;
use super::regression_net::{NET_DIM, NetModel};
use super::{Landscape, LandscapeError, RegressionNet, RegressionNetSpec};

/// `[landscape]` keys of `kind = "regression-net-2d"`: those of `regression-net` plus `free`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegressionNet2dSpec {
    /// An `x,y` CSV file, relative to the preset's folder, instead of the generated data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Seed of the generated noise `ε` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
    /// Likelihood width `s`.
    #[serde(default = "default_noise_std")]
    pub noise_std: f64,
    /// Weight decay `λ`.
    #[serde(default = "default_l2")]
    pub l2: f64,
    /// The two free weights, zero-based (`[4, 5]` are `w5`, `w6`).
    #[serde(default = "default_free")]
    pub free: [usize; 2],
}

fn default_noise_std() -> f64 {
    0.1
}

fn default_l2() -> f64 {
    0.001
}

fn default_free() -> [usize; 2] {
    [4, 5]
}

impl Default for RegressionNet2dSpec {
    fn default() -> Self {
        Self {
            data: None,
            data_seed: None,
            noise_std: default_noise_std(),
            l2: default_l2(),
            free: default_free(),
        }
    }
}

/// The reduced network; see the module documentation.
#[derive(Clone, Debug)]
pub struct RegressionNet2d {
    model: NetModel,
    /// The full network's minimum `w*`; entries `free` are overwritten by the walker.
    frozen: [f64; NET_DIM],
    free: [usize; 2],
    /// Hidden activations `(t_1, t_2)` of every example, when both free weights are output
    /// weights (indices 4 to 6).
    hidden: Option<Vec<[f64; 2]>>,
}

/// Output weights `w5, w6, w7` (zero-based) multiply `t_1`, `t_2` and 1.
const FIRST_OUTPUT: usize = 4;

impl RegressionNet2d {
    /// Build the full network, find its minimum by Newton's method, and freeze all but `free`.
    pub fn new(spec: &RegressionNet2dSpec, base_dir: &Path) -> Result<Self, LandscapeError> {
        let [a, b] = spec.free;
        if a >= NET_DIM || b >= NET_DIM || a == b {
            return Err(LandscapeError::invalid(
                "free",
                format!(
                    "needs two different weight indices from 0 to 6 (zero-based: [4, 5] are w5, w6), got [{a}, {b}]"
                ),
            ));
        }
        let full_spec = RegressionNetSpec {
            data: spec.data.clone(),
            data_seed: spec.data_seed,
            noise_std: spec.noise_std,
            l2: spec.l2,
        };
        let net = RegressionNet::new(&full_spec, base_dir)?;
        let minimum = newton_minimum(&net, &net.start()).map_err(|error| {
            LandscapeError::Minimum(format!(
                "regression-net-2d: cannot freeze the five other weights, because Newton's \
                 method found no minimum of the full network from its trained start: {error}"
            ))
        })?;
        let mut frozen = [0.0; NET_DIM];
        frozen.copy_from_slice(&minimum.w);
        let model = net.model().clone();
        let hidden = (a >= FIRST_OUTPUT && b >= FIRST_OUTPUT).then(|| {
            model
                .data
                .iter()
                .map(|&[x, _]| {
                    [
                        (frozen[0] * x + frozen[2]).tanh(),
                        (frozen[1] * x + frozen[3]).tanh(),
                    ]
                })
                .collect()
        });
        Ok(Self {
            model,
            frozen,
            free: spec.free,
            hidden,
        })
    }

    /// Output-layer feature of output weight `j` (4, 5 or 6) for example `i`.
    #[inline(always)]
    fn feature(hidden: [f64; 2], j: usize) -> f64 {
        match j {
            4 => hidden[0],
            5 => hidden[1],
            _ => 1.0,
        }
    }

    /// Residual `r = f − y` of example `i` from its frozen hidden activations.
    #[inline(always)]
    fn cached_residual(&self, hidden: [f64; 2], i: usize, w: &[f64; NET_DIM]) -> f64 {
        w[4] * hidden[0] + w[5] * hidden[1] + w[6] - self.model.data[i][1]
    }

    /// The full weights `w(u)`.
    #[inline(always)]
    fn full(&self, u: &[f64]) -> [f64; NET_DIM] {
        let mut w = self.frozen;
        w[self.free[0]] = u[0];
        w[self.free[1]] = u[1];
        w
    }

    /// The full network's minimum, at which the other five weights are frozen.
    pub fn full_minimum(&self) -> &[f64] {
        &self.frozen
    }

    /// The zero-based indices of the two free weights.
    pub fn free(&self) -> [usize; 2] {
        self.free
    }
}

impl Landscape for RegressionNet2d {
    fn kind(&self) -> &'static str {
        "regression-net-2d"
    }

    fn dim(&self) -> usize {
        2
    }

    fn n_examples(&self) -> usize {
        self.model.data.len()
    }

    fn example_loss(&self, i: usize, u: &[f64]) -> f64 {
        let w = self.full(u);
        match &self.hidden {
            Some(hidden) => {
                let r = self.cached_residual(hidden[i], i, &w);
                let norm2: f64 = w.iter().map(|v| v * v).sum();
                0.5 * self.model.two_k * (r * r + self.model.l2 * norm2)
            }
            None => self.model.loss(i, &w),
        }
    }

    fn add_example_gradient(&self, i: usize, u: &[f64], scale: f64, out: &mut [f64]) {
        if let Some(hidden) = &self.hidden {
            let w = self.full(u);
            let c = scale * self.model.two_k;
            let r = self.cached_residual(hidden[i], i, &w);
            for (k, &j) in self.free.iter().enumerate() {
                out[k] += c * (r * Self::feature(hidden[i], j) + self.model.l2 * w[j]);
            }
            return;
        }
        let mut g = [0.0; NET_DIM];
        self.model.add_gradient(i, &self.full(u), scale, &mut g);
        out[0] += g[self.free[0]];
        out[1] += g[self.free[1]];
    }

    fn add_example_hessian(&self, i: usize, u: &[f64], scale: f64, out: &mut [f64]) {
        let mut h = [0.0; NET_DIM * NET_DIM];
        self.model.add_hessian(i, &self.full(u), scale, &mut h);
        let [a, b] = self.free;
        out[0] += h[a * NET_DIM + a];
        out[1] += h[a * NET_DIM + b];
        out[2] += h[b * NET_DIM + a];
        out[3] += h[b * NET_DIM + b];
    }

    fn batch_gradient(&self, batch: &[usize], u: &[f64], out: &mut [f64]) {
        if self.hidden.is_some() {
            out[..2].fill(0.0);
            let scale = 1.0 / batch.len() as f64;
            for &i in batch {
                self.add_example_gradient(i, u, scale, out);
            }
            return;
        }
        let mut g = [0.0; NET_DIM];
        self.model.batch_gradient(batch, &self.full(u), &mut g);
        out[0] = g[self.free[0]];
        out[1] = g[self.free[1]];
    }

    /// The minimum `(w*_a, w*_b)`.
    fn start(&self) -> Vec<f64> {
        vec![self.frozen[self.free[0]], self.frozen[self.free[1]]]
    }

    fn weight_names(&self) -> Vec<String> {
        self.free.iter().map(|a| format!("w{}", a + 1)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::testing::finite_difference_mismatch;
    use proptest::prelude::*;

    fn default_net() -> RegressionNet2d {
        RegressionNet2d::new(&RegressionNet2dSpec::default(), Path::new(".")).expect("valid")
    }

    proptest! {
        #![proptest_config(crate::landscape::testing::proptest_config(32))]

        #[test]
        fn derivatives_match_finite_differences(
            a in 0..NET_DIM,
            shift in 1..NET_DIM,
            u0 in -2.0..2.0_f64,
            u1 in -2.0..2.0_f64,
        ) {
            let spec = RegressionNet2dSpec {
                free: [a, (a + shift) % NET_DIM],
                ..RegressionNet2dSpec::default()
            };
            let net = RegressionNet2d::new(&spec, Path::new(".")).expect("valid");
            // Central differences with step 1e-5·(1+|w|) carry a truncation error of order
            // step² |l'''| and a rounding error of order ε |l| / step; relative to the largest
            // gradient entry both stay below 1e-5 here, while a wrong derivative is off by O(1).
            let (g, h) = finite_difference_mismatch(&net, &[u0, u1]);
            prop_assert!(g < 1e-5 && h < 1e-5, "gradient {g}, hessian {h}");
        }

        #[test]
        fn batch_gradient_is_the_mean_of_example_gradients(
            u0 in -2.0..2.0_f64,
            u1 in -2.0..2.0_f64,
            batch in proptest::collection::vec(0..200_usize, 1..20),
        ) {
            let net = default_net();
            let u = [u0, u1];
            let mut fast = [0.0; 2];
            net.batch_gradient(&batch, &u, &mut fast);
            let mut slow = [0.0; 2];
            for &i in &batch {
                net.add_example_gradient(i, &u, 1.0 / batch.len() as f64, &mut slow);
            }
            let scale = slow.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
            for a in 0..2 {
                prop_assert!((fast[a] - slow[a]).abs() < 1e-12 * scale);
            }
        }
    }

    /// With output weights free, the cached hidden layer gives the full network's loss and
    /// gradient (here the uncached path is the full model itself).
    #[test]
    fn cached_hidden_layer_matches_the_full_model() {
        for free in [[4, 5], [5, 6], [6, 4]] {
            let spec = RegressionNet2dSpec {
                free,
                ..RegressionNet2dSpec::default()
            };
            let net = RegressionNet2d::new(&spec, Path::new(".")).expect("valid");
            assert!(net.hidden.is_some(), "{free:?} are output weights");
            for (i, u) in [(0, [0.3, -1.2]), (17, [-0.8, 0.4]), (199, [1.5, 2.0])] {
                let w = net.full(&u);
                let full_loss = net.model.loss(i, &w);
                assert!((net.example_loss(i, &u) - full_loss).abs() <= 1e-12 * full_loss.abs());
                let mut g = [0.0; NET_DIM];
                net.model.add_gradient(i, &w, 0.7, &mut g);
                let mut cached = [0.0; 2];
                net.add_example_gradient(i, &u, 0.7, &mut cached);
                for k in 0..2 {
                    let expected = g[free[k]];
                    assert!(
                        (cached[k] - expected).abs() <= 1e-12 * expected.abs().max(1.0),
                        "{free:?} example {i}: {} vs {expected}",
                        cached[k]
                    );
                }
            }
        }
        let hidden_free = RegressionNet2dSpec {
            free: [0, 4],
            ..RegressionNet2dSpec::default()
        };
        let net = RegressionNet2d::new(&hidden_free, Path::new(".")).expect("valid");
        assert!(net.hidden.is_none(), "w1 is a hidden weight: no cache");
    }

    /// The reduced gradient is the full network's gradient restricted to the free weights, and
    /// the start is a minimum of the reduced loss that Newton's method returns to.
    #[test]
    fn agrees_with_the_full_network_and_starts_at_its_minimum() {
        let net = default_net();
        let full = RegressionNet::new(&RegressionNetSpec::default(), Path::new(".")).expect("ok");
        let u = [0.8, -1.1];
        let mut w = net.full_minimum().to_vec();
        w[4] = u[0];
        w[5] = u[1];
        let mut g_full = vec![0.0; NET_DIM];
        full.gradient(&w, &mut g_full);
        let mut g = [0.0; 2];
        net.gradient(&u, &mut g);
        assert!((g[0] - g_full[4]).abs() < 1e-9 * g_full[4].abs().max(1.0));
        assert!((g[1] - g_full[5]).abs() < 1e-9 * g_full[5].abs().max(1.0));
        assert!((net.loss(&u) - full.loss(&w)).abs() < 1e-12 * full.loss(&w));

        let start = net.start();
        let mut h = [0.0; 4];
        net.hessian(&start, &mut h);
        net.gradient(&start, &mut g);
        assert!(g.iter().all(|v| v.abs() < 1e-8 * h[0].abs()), "{g:?}");
        let minimum = newton_minimum(&net, &[start[0] + 0.05, start[1] - 0.05]).expect("ok");
        assert!(
            (minimum.w[0] - start[0]).abs() < 1e-9 && (minimum.w[1] - start[1]).abs() < 1e-9,
            "{:?} vs {start:?}",
            minimum.w
        );
        eprintln!("reduced Hessian at the minimum: {h:?}");
        assert_eq!(net.weight_names(), vec!["w5".to_string(), "w6".to_string()]);
    }

    /// Two data points and no weight decay: the full network's minima form a continuum with a
    /// singular Hessian, Newton's method cannot certify a minimum, and the error says so.
    #[test]
    fn newton_failure_is_a_minimum_error() {
        let folder = tempfile::tempdir().expect("tempdir");
        std::fs::write(folder.path().join("two.csv"), "x,y\n-1,0.2\n1,0.7\n").expect("write");
        let spec = RegressionNet2dSpec {
            data: Some("two.csv".into()),
            l2: 0.0,
            ..RegressionNet2dSpec::default()
        };
        let error = RegressionNet2d::new(&spec, folder.path()).expect_err("no strict minimum");
        assert!(matches!(error, LandscapeError::Minimum(_)), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("Newton"), "{message}");
    }

    #[test]
    fn rejects_bad_free_weights() {
        for free in [[4, 4], [4, 7]] {
            let spec = RegressionNet2dSpec {
                free,
                ..RegressionNet2dSpec::default()
            };
            let message = RegressionNet2d::new(&spec, Path::new("."))
                .expect_err("invalid")
                .to_string();
            assert!(message.starts_with("landscape.free"), "{message}");
        }
    }
}
