//! The seven-weight nonlinear regression network of docs/theory.md §6.
//!
//! A 1–2–1 network with two tanh hidden units,
//!
//! ```text
//! f(x) = w5 tanh(w1 x + w3) + w6 tanh(w2 x + w4) + w7,
//! ```
//!
//! stored zero-based (`w[0] .. w[6]` are `w1 .. w7`). The per-example loss is
//!
//! ```text
//! l_i(w) = (N / (2 s²)) [ (y_i − f(x_i))² + λ |w|² ],
//! ```
//!
//! with `s = noise_std` (0.1) and `λ = l2` (0.001), so that `L = (1/N) Σ l_i` is a negative
//! log posterior (Gaussian likelihood of width `s`, Gaussian prior of precision `N λ / s²`).
//! Writing `K = N/(2s²)`, `r = f − y`, `t_1 = tanh(w1 x + w3)`, `t_2 = tanh(w2 x + w4)`,
//! `d_k = 1 − t_k²`:
//!
//! ```text
//! ∂f/∂w = (w5 d_1 x, w6 d_2 x, w5 d_1, w6 d_2, t_1, t_2, 1),
//! g_i   = 2K [ r ∂f + λ w ],
//! h_i   = 2K [ ∂f ∂fᵀ + r ∂∂f + λ I ],
//! ```
//!
//! where the only non-zero second derivatives of `f` are, with `t'' = −2 t d`,
//! `∂²f/∂w1² = w5 t_1'' x²`, `∂²f/∂w1∂w3 = w5 t_1'' x`, `∂²f/∂w3² = w5 t_1''`,
//! `∂²f/∂w1∂w5 = d_1 x`, `∂²f/∂w3∂w5 = d_1`, and the same for `(w2, w4, w6)` with `t_2`.
//!
//! Data: `x_i = −3.00, −2.97, …, 2.97` (`N = 200`) and `y_i = exp(−x_i²) + 0.1 ε_i`,
//! `ε_i ~ N(0, 1)` drawn from `data_seed` (the data noise is 0.1 whatever `noise_std`, which
//! is the width the likelihood assumes), or `data` from an `x,y` CSV file.
//!
//! [`Landscape::start`] is the trained minimum: Newton's method from the paper-like point
//! [`PAPER_START`], run once when the landscape is built.

use std::path::{Path, PathBuf};

use pulp::Simd;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use super::csv;
use super::kernel::{GradientKernel, LANES, Lanes, WalkerKernel};
use super::newton::newton_minimum;
use super::tanh::{tanh, tanh_lanes};
use super::{Landscape, LandscapeError};

/// A point near the trained network, as in the paper: Newton's method starts here.
pub const PAPER_START: [f64; 7] = [1.28, 1.23, 0.70, -0.53, 0.93, -0.91, -0.01];

/// Number of weights.
pub const NET_DIM: usize = 7;

/// `[landscape]` keys of `kind = "regression-net"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegressionNetSpec {
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
}

fn default_noise_std() -> f64 {
    0.1
}

fn default_l2() -> f64 {
    0.001
}

impl Default for RegressionNetSpec {
    fn default() -> Self {
        Self {
            data: None,
            data_seed: None,
            noise_std: default_noise_std(),
            l2: default_l2(),
        }
    }
}

/// Read or generate the data of a regression-net spec: `(x, y)`.
pub(crate) fn net_data(
    data: Option<&Path>,
    data_seed: Option<u64>,
    base_dir: &Path,
) -> Result<(Vec<f64>, Vec<f64>), LandscapeError> {
    match data {
        Some(path) => {
            if data_seed.is_some() {
                return Err(LandscapeError::invalid(
                    "data_seed",
                    "seeds generated data, so it cannot be combined with `data` (a data file)",
                ));
            }
            let data = csv::read_xy(&csv::resolve(path, base_dir))?;
            Ok((data.x, data.y))
        }
        None => {
            let mut rng = Pcg64::seed_from_u64(data_seed.unwrap_or(1));
            let x: Vec<f64> = (0..200).map(|i| (3 * i - 300) as f64 / 100.0).collect();
            let y = x
                .iter()
                .map(|&xi| {
                    let noise: f64 = StandardNormal.sample(&mut rng);
                    (-xi * xi).exp() + 0.1 * noise
                })
                .collect();
            Ok((x, y))
        }
    }
}

/// Check `noise_std` and `l2`.
pub(crate) fn check_net_keys(noise_std: f64, l2: f64) -> Result<(), LandscapeError> {
    if !(noise_std.is_finite() && noise_std > 0.0) {
        return Err(LandscapeError::invalid(
            "noise_std",
            format!("must be positive and finite, got {noise_std}"),
        ));
    }
    if !(l2.is_finite() && l2 >= 0.0) {
        return Err(LandscapeError::invalid(
            "l2",
            format!("must be non-negative and finite, got {l2}"),
        ));
    }
    Ok(())
}

/// The network's model and data, without a start point: the derivatives of docs/theory.md
/// section 6, and the minibatch-gradient kernel of the network family.
#[derive(Clone, Debug)]
pub struct NetModel {
    /// The examples `(x_i, y_i)`, side by side: one bounds check and one 16-byte load per
    /// example of a batch.
    pub(crate) data: Vec<[f64; 2]>,
    /// `2K / B` for every batch size `B ≤ N` (index `B`): a load instead of a division in each
    /// step's gradient, with the same bits.
    two_k_per_batch: Vec<f64>,
    /// The CPU features found when the model was built, under which the scalar paths run
    /// (see [`Forward`]).
    arch: pulp::Arch,
    /// `2K = N / s²`.
    pub(crate) two_k: f64,
    /// `λ`.
    pub(crate) l2: f64,
}

/// Hidden activations and residual of one example: `(t_1, t_2, r = f − y)`.
#[inline(always)]
fn forward(w: &[f64], x: f64, y: f64) -> (f64, f64, f64) {
    let (t1, t2) = (tanh(w[0].mul_add(x, w[2])), tanh(w[1].mul_add(x, w[3])));
    (t1, t2, residual([w[4], w[5], w[6]], t1, t2, y))
}

/// The code that calls [`tanh`] outside the ensemble's kernels runs through
/// `pulp::Arch::dispatch`, so that it is compiled under the CPU features found at run time,
/// where `f64::mul_add` is one instruction instead of a call into the runtime library (about
/// 8× slower for this model's batch gradient). The bits are the same either way. Plain structs
/// with `#[inline(always)]` methods, because a closure passed to `dispatch` was not inlined
/// into the feature-enabled code and gained nothing.
struct Forward<'a>(&'a [f64], f64, f64);

impl pulp::WithSimd for Forward<'_> {
    type Output = (f64, f64, f64);
    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> Self::Output {
        forward(self.0, self.1, self.2)
    }
}

/// [`NetModel::batch_gradient`] under the detected CPU features (see [`Forward`]).
struct BatchJob<'a>(&'a NetModel, &'a [usize], &'a [f64]);

impl pulp::WithSimd for BatchJob<'_> {
    type Output = [f64; NET_DIM];
    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> Self::Output {
        self.0.batch_gradient_inline(self.1, self.2)
    }
}

/// `r = f − y = w5 t_1 + (w6 t_2 + (w7 − y))`, fused: `w7 − y` does not wait for the `tanh`,
/// and each product costs one rounding and one multiply-add of latency.
#[inline(always)]
fn residual([w5, w6, w7]: [f64; 3], t1: f64, t2: f64, y: f64) -> f64 {
    w5.mul_add(t1, w6.mul_add(t2, w7 - y))
}

/// `1 − t²`, rounded once.
#[inline(always)]
fn sech2(t: f64) -> f64 {
    (-t).mul_add(t, 1.0)
}

impl NetModel {
    pub(crate) fn new(x: &[f64], y: &[f64], noise_std: f64, l2: f64) -> Self {
        let n = x.len() as f64;
        let two_k = n / (noise_std * noise_std);
        Self {
            data: x.iter().zip(y).map(|(&x, &y)| [x, y]).collect(),
            two_k_per_batch: (0..=x.len()).map(|b| two_k / b as f64).collect(),
            arch: pulp::Arch::new(),
            two_k,
            l2,
        }
    }

    pub(crate) fn loss(&self, i: usize, w: &[f64]) -> f64 {
        let [x, y] = self.data[i];
        let (_, _, r) = self.arch.dispatch(Forward(w, x, y));
        let norm2: f64 = w.iter().map(|v| v * v).sum();
        0.5 * self.two_k * (r * r + self.l2 * norm2)
    }

    /// `out += scale · g_i` (length 7).
    pub(crate) fn add_gradient(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
        let [x, y] = self.data[i];
        let (t1, t2, r) = self.arch.dispatch(Forward(w, x, y));
        let c = scale * self.two_k;
        let a = c * r * w[4] * (1.0 - t1 * t1);
        let b = c * r * w[5] * (1.0 - t2 * t2);
        let decay = c * self.l2;
        out[0] += a * x + decay * w[0];
        out[1] += b * x + decay * w[1];
        out[2] += a + decay * w[2];
        out[3] += b + decay * w[3];
        out[4] += c * r * t1 + decay * w[4];
        out[5] += c * r * t2 + decay * w[5];
        out[6] += c * r + decay * w[6];
    }

    /// `out += scale · h_i` (row-major 7 × 7).
    pub(crate) fn add_hessian(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
        let [x, y] = self.data[i];
        let (t1, t2, r) = self.arch.dispatch(Forward(w, x, y));
        let (d1, d2) = (1.0 - t1 * t1, 1.0 - t2 * t2);
        let df = [
            w[4] * d1 * x,
            w[5] * d2 * x,
            w[4] * d1,
            w[5] * d2,
            t1,
            t2,
            1.0,
        ];
        let c = scale * self.two_k;
        for a in 0..NET_DIM {
            for b in 0..NET_DIM {
                out[a * NET_DIM + b] += c * df[a] * df[b];
            }
            out[a * NET_DIM + a] += c * self.l2;
        }
        // r ∂∂f: hidden unit k has input weight `p`, bias `q`, output weight `o`.
        for (p, q, o, t, d) in [(0, 2, 4, t1, d1), (1, 3, 5, t2, d2)] {
            let second = -2.0 * t * d * w[o] * c * r;
            let first = d * c * r;
            let mut add = |u: usize, v: usize, value: f64| {
                out[u * NET_DIM + v] += value;
                if u != v {
                    out[v * NET_DIM + u] += value;
                }
            };
            add(p, p, second * x * x);
            add(p, q, second * x);
            add(q, q, second);
            add(p, o, first * x);
            add(q, o, first);
        }
    }

    /// `out = (1/B) Σ_{i in batch} g_i`: one pass accumulating seven sums, two `tanh` per
    /// example, no allocation.
    #[inline]
    pub(crate) fn batch_gradient(&self, batch: &[usize], w: &[f64], out: &mut [f64; NET_DIM]) {
        *out = self.arch.dispatch(BatchJob(self, batch, w));
    }

    /// [`NetModel::batch_gradient`] in whatever CPU features the caller is compiled with.
    #[inline(always)]
    fn batch_gradient_inline(&self, batch: &[usize], w: &[f64]) -> [f64; NET_DIM] {
        let mut sums = [0.0; SUMS];
        for &i in batch {
            let [x, y] = self.data[i];
            let (t1, t2, r) = forward(w, x, y);
            sums = accumulate(sums, x, t1, t2, r);
        }
        self.finish(&sums, w, batch.len())
    }
}

/// The seven batch sums of `g_B` (docs/theory.md §6): with `a = r (1 − t_1²)`,
/// `b = r (1 − t_2²)`, they are `Σa, Σa x, Σb, Σb x, Σr t_1, Σr t_2, Σr`.
const SUMS: usize = 7;

/// One example's terms added to the [`SUMS`] batch sums; the products with `x`, `t_1`, `t_2`
/// are fused into their sums. Every path adds the examples in batch order through this one
/// function.
#[inline(always)]
fn accumulate(sums: [f64; SUMS], x: f64, t1: f64, t2: f64, r: f64) -> [f64; SUMS] {
    let [sa, sax, sb, sbx, st1, st2, sr] = sums;
    let [a, b] = [r * sech2(t1), r * sech2(t2)];
    [
        sa + a,
        a.mul_add(x, sax),
        sb + b,
        b.mul_add(x, sbx),
        r.mul_add(t1, st1),
        r.mul_add(t2, st2),
        sr + r,
    ]
}

impl NetModel {
    /// `g_B` from the batch sums, in the order of [`NetModel::batch_gradient`].
    #[inline(always)]
    fn finish(&self, sums: &[f64; SUMS], w: &[f64], batch_size: usize) -> [f64; NET_DIM] {
        let [sa, sax, sb, sbx, st1, st2, sr] = *sums;
        let c = (self.two_k_per_batch.get(batch_size).copied())
            .unwrap_or_else(|| self.two_k / batch_size as f64);
        let decay = self.two_k * self.l2;
        let (c5, c6) = (c * w[4], c * w[5]);
        [
            c5.mul_add(sax, decay * w[0]),
            c6.mul_add(sbx, decay * w[1]),
            c5.mul_add(sa, decay * w[2]),
            c6.mul_add(sb, decay * w[3]),
            c.mul_add(st1, decay * w[4]),
            c.mul_add(st2, decay * w[5]),
            c.mul_add(sr, decay * w[6]),
        ]
    }
}

/// Examples of one walker's batch whose two `tanh` share one vector of [`LANES`] lanes.
const PAIRED: usize = LANES / 2;

/// Examples of one walker's batch whose `tanh` are evaluated before any of their terms: three
/// vectors (a whole batch of 10).
const GROUP: usize = 3 * PAIRED;

/// Two `tanh` per example, in explicit SIMD registers ([`tanh_lanes`]). One walker: both hidden
/// units of [`PAIRED`] examples fill the lanes (`B = 10` takes three vectors instead of four),
/// and the terms are then summed in batch order; many walkers: one walker per lane, summing as
/// it goes. Either way each `tanh` argument, each term and each sum is the same sequence of
/// operations (fused multiply-adds included) as in the scalar [`NetModel::batch_gradient`], so
/// all three agree bit for bit.
impl GradientKernel<NET_DIM> for NetModel {
    #[inline(always)]
    fn walker_gradient<S: Simd>(
        &self,
        simd: S,
        batch: &[usize],
        w: &[f64; NET_DIM],
    ) -> [f64; NET_DIM] {
        let mut sums = [0.0; SUMS];
        for group in batch.chunks(GROUP) {
            // Vector c holds hidden unit 1 of example PAIRED·c + k of the group in lane k and
            // its unit 2 in lane PAIRED + k. All the `tanh` come first, so that their chains
            // run side by side; lanes without an example compute `tanh(w3)`, `tanh(w4)`.
            let (mut x, mut y) = ([0.0; GROUP], [0.0; GROUP]);
            for ((x, y), &i) in x.iter_mut().zip(&mut y).zip(group) {
                [*x, *y] = self.data[i];
            }
            let (mut t1, mut t2) = ([0.0; GROUP], [0.0; GROUP]);
            for c in 0..GROUP / PAIRED {
                let x = &x[c * PAIRED..(c + 1) * PAIRED];
                let mut z = [0.0; LANES];
                for k in 0..PAIRED {
                    z[k] = w[0].mul_add(x[k], w[2]);
                    z[PAIRED + k] = w[1].mul_add(x[k], w[3]);
                }
                let t = tanh_lanes(simd, &z);
                t1[c * PAIRED..(c + 1) * PAIRED].copy_from_slice(&t[..PAIRED]);
                t2[c * PAIRED..(c + 1) * PAIRED].copy_from_slice(&t[PAIRED..]);
            }
            for k in 0..group.len() {
                let r = residual([w[4], w[5], w[6]], t1[k], t2[k], y[k]);
                sums = accumulate(sums, x[k], t1[k], t2[k], r);
            }
        }
        self.finish(&sums, w, batch.len())
    }

    #[inline(always)]
    fn lane_gradient<S: Simd>(
        &self,
        simd: S,
        batch: &[[usize; LANES]],
        w: &[Lanes; NET_DIM],
    ) -> [Lanes; NET_DIM] {
        let mut sums = [[0.0; LANES]; SUMS];
        for row in batch {
            let (mut x, mut y) = ([0.0; LANES], [0.0; LANES]);
            for l in 0..LANES {
                [x[l], y[l]] = self.data[row[l]];
            }
            let (mut z1, mut z2) = ([0.0; LANES], [0.0; LANES]);
            for l in 0..LANES {
                z1[l] = w[0][l].mul_add(x[l], w[2][l]);
                z2[l] = w[1][l].mul_add(x[l], w[3][l]);
            }
            let (t1, t2) = (tanh_lanes(simd, &z1), tanh_lanes(simd, &z2));
            for l in 0..LANES {
                let (t1, t2) = (t1[l], t2[l]);
                let r = residual([w[4][l], w[5][l], w[6][l]], t1, t2, y[l]);
                let lane = accumulate(std::array::from_fn(|j| sums[j][l]), x[l], t1, t2, r);
                for (sum, value) in sums.iter_mut().zip(lane) {
                    sum[l] = value;
                }
            }
        }
        let mut out = [[0.0; LANES]; NET_DIM];
        for l in 0..LANES {
            let walker: [f64; NET_DIM] = std::array::from_fn(|a| w[a][l]);
            let lane_sums: [f64; SUMS] = std::array::from_fn(|j| sums[j][l]);
            let g = self.finish(&lane_sums, &walker, batch.len());
            for (row, value) in out.iter_mut().zip(g) {
                row[l] = value;
            }
        }
        out
    }
}

/// The seven-weight regression network; see the module documentation.
#[derive(Clone, Debug)]
pub struct RegressionNet {
    model: NetModel,
    /// The trained minimum (Newton from [`PAPER_START`]).
    minimum: Vec<f64>,
}

impl RegressionNet {
    /// Read or generate the data, build the landscape and train it once (Newton's method from
    /// [`PAPER_START`]) for [`Landscape::start`].
    pub fn new(spec: &RegressionNetSpec, base_dir: &Path) -> Result<Self, LandscapeError> {
        check_net_keys(spec.noise_std, spec.l2)?;
        let (x, y) = net_data(spec.data.as_deref(), spec.data_seed, base_dir)?;
        let mut net = Self {
            model: NetModel::new(&x, &y, spec.noise_std, spec.l2),
            minimum: PAPER_START.to_vec(),
        };
        net.minimum = net.trained_minimum();
        Ok(net)
    }

    /// The examples `(x_i, y_i)`.
    pub fn data(&self) -> &[[f64; 2]] {
        &self.model.data
    }

    pub(crate) fn model(&self) -> &NetModel {
        &self.model
    }

    /// The network's output `f(x)` at weights `w`.
    pub fn predict(w: &[f64], x: f64) -> f64 {
        forward(w, x, 0.0).2
    }

    /// Newton's method from [`PAPER_START`]; when it fails (unusual data from a file), the
    /// best point it reached, which is still far better trained than the paper-like start.
    fn trained_minimum(&self) -> Vec<f64> {
        match newton_minimum(self, &PAPER_START) {
            Ok(minimum) => minimum.w,
            Err(error) if error.best.w.iter().all(|v| v.is_finite()) => error.best.w,
            Err(_) => PAPER_START.to_vec(),
        }
    }
}

impl Landscape for RegressionNet {
    fn kind(&self) -> &'static str {
        "regression-net"
    }

    fn dim(&self) -> usize {
        NET_DIM
    }

    fn n_examples(&self) -> usize {
        self.model.data.len()
    }

    fn example_loss(&self, i: usize, w: &[f64]) -> f64 {
        self.model.loss(i, w)
    }

    fn add_example_gradient(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
        self.model.add_gradient(i, w, scale, out);
    }

    fn add_example_hessian(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
        self.model.add_hessian(i, w, scale, out);
    }

    fn batch_gradient(&self, batch: &[usize], w: &[f64], out: &mut [f64]) {
        let mut g = [0.0; NET_DIM];
        self.model.batch_gradient(batch, w, &mut g);
        out.copy_from_slice(&g);
    }

    fn walker_kernel(&self) -> WalkerKernel<'_> {
        WalkerKernel::Net(&self.model)
    }

    fn start(&self) -> Vec<f64> {
        self.minimum.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::testing::finite_difference_mismatch;
    use proptest::prelude::*;

    fn default_net() -> RegressionNet {
        RegressionNet::new(&RegressionNetSpec::default(), Path::new(".")).expect("valid")
    }

    #[test]
    fn lane_kernel_matches_the_scalar_reference_bit_for_bit() {
        let net = default_net();
        // Weights up to ±1.5 around the minimum reach saturated and linear tanh alike.
        crate::landscape::kernel::testing::lanes_match_reference(net.model(), &net, 3.0, 20);
    }

    #[test]
    fn data_follow_section_6() {
        let net = default_net();
        assert_eq!(net.n_examples(), 200);
        assert_eq!(net.data()[0][0], -3.0);
        assert_eq!(net.data()[1][0], -2.97);
        assert_eq!(net.data()[199][0], 2.97);
        // ε = (y − exp(−x²)) / 0.1 over 200 draws: mean within 4/sqrt(200) = 0.28, variance
        // within 4·sqrt(2/200) = 0.4 of 1.
        let eps: Vec<f64> = net
            .data()
            .iter()
            .map(|[x, y]| (y - (-x * x).exp()) / 0.1)
            .collect();
        let mean = eps.iter().sum::<f64>() / 200.0;
        let var = eps.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / 199.0;
        assert!(mean.abs() < 0.28 && (var - 1.0).abs() < 0.4, "{mean} {var}");
    }

    #[test]
    fn derivatives_match_finite_differences_at_the_start() {
        let net = default_net();
        for w in [PAPER_START.to_vec(), net.start()] {
            let (g, h) = finite_difference_mismatch(&net, &w);
            assert!(g < 1e-6 && h < 1e-6, "gradient {g}, hessian {h}");
        }
    }

    fn weights() -> impl Strategy<Value = Vec<f64>> {
        proptest::collection::vec(-2.0..2.0_f64, NET_DIM)
    }

    proptest! {
        #![proptest_config(crate::landscape::testing::proptest_config(32))]

        #[test]
        fn derivatives_match_finite_differences_anywhere(w in weights()) {
            let net = default_net();
            let (g, h) = finite_difference_mismatch(&net, &w);
            // Central differences with step 1e-5 (1 + |w|) carry a truncation error
            // step² |l'''| / 6; with losses scaled by N/s² = 2·10⁴ it reaches ~1e-6 of an
            // example's gradient at large weights. A wrong term gives an O(1) mismatch.
            prop_assert!(g < 1e-5 && h < 1e-5, "gradient {g}, hessian {h}");
        }

        #[test]
        fn batch_gradient_is_the_mean_of_example_gradients(
            w in weights(),
            batch in proptest::collection::vec(0..200_usize, 1..20),
        ) {
            let net = default_net();
            let mut fast = vec![0.0; NET_DIM];
            net.batch_gradient(&batch, &w, &mut fast);
            let mut slow = vec![0.0; NET_DIM];
            for &i in &batch {
                net.add_example_gradient(i, &w, 1.0 / batch.len() as f64, &mut slow);
            }
            let scale = slow.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
            for a in 0..NET_DIM {
                prop_assert!((fast[a] - slow[a]).abs() < 1e-12 * scale, "{fast:?} {slow:?}");
            }
        }
    }

    /// Newton's method converges from the paper-like start, to a point with a positive
    /// definite Hessian whose eigenvalues span the range docs/theory.md §6 quotes (about 55
    /// to 3·10⁴), and `start()` is that point.
    #[test]
    fn newton_converges_from_the_paper_start() {
        let net = default_net();
        let minimum = newton_minimum(&net, &PAPER_START).expect("converges");
        let start = net.start();
        assert!(
            start
                .iter()
                .zip(&minimum.w)
                .all(|(a, b)| (a - b).abs() < 1e-9),
            "{start:?} vs {:?}",
            minimum.w
        );
        let mut h = vec![0.0; NET_DIM * NET_DIM];
        net.hessian(&start, &mut h);
        let eigenvalues = nalgebra::DMatrix::from_row_slice(NET_DIM, NET_DIM, &h)
            .symmetric_eigen()
            .eigenvalues;
        let smallest = eigenvalues.iter().fold(f64::INFINITY, |m, v| m.min(*v));
        let largest = eigenvalues.iter().fold(0.0_f64, |m, v| m.max(*v));
        eprintln!(
            "minimum {start:?}, loss {}, Hessian eigenvalues {smallest} .. {largest}",
            minimum.loss
        );
        assert!((20.0..200.0).contains(&smallest), "{eigenvalues:?}");
        assert!((1e4..1e5).contains(&largest), "{eigenvalues:?}");
    }

    #[test]
    fn rejects_bad_keys_by_name() {
        let spec = RegressionNetSpec {
            noise_std: -0.1,
            ..RegressionNetSpec::default()
        };
        let message = RegressionNet::new(&spec, Path::new("."))
            .expect_err("negative")
            .to_string();
        assert!(message.starts_with("landscape.noise_std"), "{message}");
        let spec = RegressionNetSpec {
            l2: f64::INFINITY,
            ..RegressionNetSpec::default()
        };
        let message = RegressionNet::new(&spec, Path::new("."))
            .expect_err("infinite")
            .to_string();
        assert!(message.starts_with("landscape.l2"), "{message}");
        let spec = RegressionNetSpec {
            data: Some("absent.csv".into()),
            ..RegressionNetSpec::default()
        };
        let message = RegressionNet::new(&spec, Path::new("/nonexistent"))
            .expect_err("missing file")
            .to_string();
        assert!(message.contains("absent.csv"), "{message}");
    }
}
