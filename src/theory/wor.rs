//! Without replacement: the effective landscape and the per-epoch diffusion matrix
//! (docs/theory.md section 4).
//!
//! One WOR epoch from `w` sweeps the batches `B_1 … B_M` of a random permutation. To second
//! order in `η` its displacement is
//!
//! ```text
//! Δw = −η Σ_k g_{B_k}(w) + η² Σ_{j<k} H_{B_k}(w) g_{B_j}(w).
//! ```
//!
//! When `B` divides `N` the batches partition the data, the first term is exactly `−η M ḡ`
//! and all the noise is of second order. Averaging over permutations,
//! `E[H_{B_k} g_{B_j}] = (N/(N−1)) H̄ ḡ − (1/(N(N−1))) Σ_a h_a g_a` for `j ≠ k`, so the
//! per-epoch drift is `A_WOR = −η M ∇L_eff` with
//!
//! ```text
//! L_eff = L − (η (M − 1)/4) [ (N/(N−1)) |∇L|² − (1/(N(N−1))) Σ_a |∇l_a|² ],
//! ∇L_eff = ḡ − (η (M − 1)/2) [ (N/(N−1)) H̄ ḡ − (1/(N(N−1))) Σ_a h_a g_a ].
//! ```
//!
//! `∇L_eff` needs only per-example gradients and Hessians; its minimum `w_eff` is found by a
//! quasi-Newton iteration with `H̄` as the Jacobian, which converges because `∇∇L_eff − H̄`
//! is of order `η`.
//!
//! The per-epoch diffusion matrix is half the covariance of `Δw` over permutations,
//! `D_WOR = (η⁴/2) Cov_perm[Σ_{j<k} H_{B_k} g_{B_j}]` when `B` divides `N`; when it does not,
//! the dropped examples make the first-order term random as well and its covariance (of
//! order `η²`) is included. SGWORLD adds `η M T I`.
//!
//! [`wor_diffusion`] gives `D_WOR` in closed form, exactly over all `N!` permutations, from
//! per-example sums (docs/theory.md section 4, and the derivation in [`closed_form`]);
//! [`wor_diffusion_monte_carlo`] and [`wor_diffusion_exact`] (enumeration) check it.

use rayon::prelude::*;

use crate::dynamics::{BatchSampler, Dynamics};

pub mod closed_form;
mod effective;

use crate::landscape::Landscape;
pub use closed_form::{wor_diffusion, wor_diffusion_from};
pub use effective::EffectiveLandscape;

/// Per-example gradients `g_i` and Hessians `h_i` at one point.
#[derive(Clone, Debug)]
pub struct PerExample {
    /// Dimension `d`.
    pub dim: usize,
    /// `g_i`, example-major, `N × d`.
    pub gradients: Vec<f64>,
    /// `h_i`, example-major, `N × d × d` (each row-major).
    pub hessians: Vec<f64>,
}

impl PerExample {
    /// Evaluate every `g_i` and `h_i` at `w`.
    pub fn at(landscape: &dyn Landscape, w: &[f64]) -> Self {
        let d = landscape.dim();
        let n = landscape.n_examples();
        let mut gradients = vec![0.0; n * d];
        let mut hessians = vec![0.0; n * d * d];
        for i in 0..n {
            landscape.add_example_gradient(i, w, 1.0, &mut gradients[i * d..(i + 1) * d]);
            landscape.add_example_hessian(i, w, 1.0, &mut hessians[i * d * d..(i + 1) * d * d]);
        }
        Self {
            dim: d,
            gradients,
            hessians,
        }
    }

    /// Number of examples `N`.
    pub fn n(&self) -> usize {
        self.gradients.len() / self.dim
    }

    /// `g_i`.
    pub fn gradient(&self, i: usize) -> &[f64] {
        &self.gradients[i * self.dim..(i + 1) * self.dim]
    }

    /// `h_i`, row-major.
    pub fn hessian(&self, i: usize) -> &[f64] {
        let dd = self.dim * self.dim;
        &self.hessians[i * dd..(i + 1) * dd]
    }

    /// `ḡ`, `H̄`, and the pair average
    /// `K = (N/(N−1)) H̄ ḡ − (1/(N(N−1))) Σ_a h_a g_a = E[H_{B_k} g_{B_j}]` (j ≠ k).
    pub fn means(&self) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let d = self.dim;
        let n = self.n();
        let nf = n as f64;
        let mut g = vec![0.0; d];
        let mut h = vec![0.0; d * d];
        let mut hg_sum = vec![0.0; d];
        let examples = self
            .gradients
            .chunks_exact(d)
            .zip(self.hessians.chunks_exact(d * d));
        for (gi, hi) in examples {
            for (sum, x) in g.iter_mut().zip(gi) {
                *sum += x;
            }
            for (sum, x) in h.iter_mut().zip(hi) {
                *sum += x;
            }
            for (sum, row) in hg_sum.iter_mut().zip(hi.chunks_exact(d)) {
                *sum += row.iter().zip(gi).map(|(h, g)| h * g).sum::<f64>();
            }
        }
        g.iter_mut().for_each(|x| *x /= nf);
        h.iter_mut().for_each(|x| *x /= nf);
        let mut pair = vec![0.0; d];
        if n >= 2 {
            for a in 0..d {
                let hg: f64 = (0..d).map(|b| h[a * d + b] * g[b]).sum();
                pair[a] = nf / (nf - 1.0) * hg - hg_sum[a] / (nf * (nf - 1.0));
            }
        }
        (g, h, pair)
    }
}

/// Per-epoch noise of one permutation, in units that keep round-off away: returns
/// `z = −(Σ_k g_{B_k} − M ḡ) + η Σ_{j<k} H_{B_k} g_{B_j}`, so that `Δw − E[Δw] ≈ η (z − E z)`.
/// The first term is skipped (exactly zero) when `B` divides `N`.
struct EpochNoise<'a> {
    per_example: &'a PerExample,
    mean_gradient: Vec<f64>,
    eta: f64,
    batch_size: usize,
    batches: usize,
    partitions: bool,
    // Scratch.
    gradient_sum: Vec<f64>,
    batch_gradient: Vec<f64>,
    batch_hessian: Vec<f64>,
}

impl<'a> EpochNoise<'a> {
    fn new(per_example: &'a PerExample, eta: f64, batch_size: usize) -> Self {
        let d = per_example.dim;
        let n = per_example.n();
        Self {
            per_example,
            mean_gradient: per_example.means().0,
            eta,
            batch_size,
            batches: n / batch_size,
            partitions: n.is_multiple_of(batch_size),
            gradient_sum: vec![0.0; d],
            batch_gradient: vec![0.0; d],
            batch_hessian: vec![0.0; d * d],
        }
    }

    fn evaluate(&mut self, permutation: &[usize], z: &mut [f64]) {
        let d = self.per_example.dim;
        let inv = 1.0 / self.batch_size as f64;
        z.fill(0.0);
        self.gradient_sum.fill(0.0);
        for batch in permutation.chunks_exact(self.batch_size).take(self.batches) {
            self.batch_gradient.fill(0.0);
            self.batch_hessian.fill(0.0);
            for &i in batch {
                let gi = self.per_example.gradient(i);
                let hi = self.per_example.hessian(i);
                for (x, y) in self.batch_gradient.iter_mut().zip(gi) {
                    *x += y * inv;
                }
                for (x, y) in self.batch_hessian.iter_mut().zip(hi) {
                    *x += y * inv;
                }
            }
            // η H_{B_k} Σ_{j<k} g_{B_j}
            for (za, row) in z.iter_mut().zip(self.batch_hessian.chunks_exact(d)) {
                let hg: f64 = row.iter().zip(&self.gradient_sum).map(|(h, g)| h * g).sum();
                *za += self.eta * hg;
            }
            for (s, g) in self.gradient_sum.iter_mut().zip(&self.batch_gradient) {
                *s += g;
            }
        }
        if !self.partitions {
            let m = self.batches as f64;
            for ((za, s), g) in z
                .iter_mut()
                .zip(&self.gradient_sum)
                .zip(&self.mean_gradient)
            {
                *za -= s - m * g;
            }
        }
    }
}

/// Running mean and covariance of vectors (sums about the first sample for stability).
#[derive(Clone, Debug)]
struct Accumulator {
    dim: usize,
    count: u64,
    shift: Option<Vec<f64>>,
    sum: Vec<f64>,
    outer: Vec<f64>,
}

impl Accumulator {
    fn new(dim: usize) -> Self {
        Self {
            dim,
            count: 0,
            shift: None,
            sum: vec![0.0; dim],
            outer: vec![0.0; dim * dim],
        }
    }

    fn add(&mut self, z: &[f64], weight: f64) {
        let d = self.dim;
        let shift = self.shift.get_or_insert_with(|| z.to_vec());
        self.count += 1;
        for a in 0..d {
            let za = z[a] - shift[a];
            self.sum[a] += weight * za;
            for b in 0..d {
                self.outer[a * d + b] += weight * za * (z[b] - shift[b]);
            }
        }
    }

    fn merge(&mut self, other: Self) {
        // Chunks share the same shift only if we make them: re-centre `other` onto ours.
        let Some(theirs) = other.shift else {
            return;
        };
        let d = self.dim;
        let mine = self.shift.get_or_insert_with(|| theirs.clone()).clone();
        let delta: Vec<f64> = (0..d).map(|a| theirs[a] - mine[a]).collect();
        let n = other.count as f64;
        for a in 0..d {
            for b in 0..d {
                self.outer[a * d + b] += other.outer[a * d + b]
                    + delta[a] * other.sum[b]
                    + other.sum[a] * delta[b]
                    + n * delta[a] * delta[b];
            }
        }
        for ((s, o), delta) in self.sum.iter_mut().zip(&other.sum).zip(&delta) {
            *s += o + n * delta;
        }
        self.count += other.count;
    }

    /// Mean and covariance with total weight `total` (the count for unit weights).
    fn mean_and_covariance(&self, total: f64) -> (Vec<f64>, Vec<f64>) {
        let d = self.dim;
        let shift = self.shift.clone().unwrap_or_else(|| vec![0.0; d]);
        let centred: Vec<f64> = self.sum.iter().map(|s| s / total).collect();
        let mut cov = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] = self.outer[a * d + b] / total - centred[a] * centred[b];
            }
        }
        let mean = centred.iter().zip(&shift).map(|(c, s)| c + s).collect();
        (mean, cov)
    }
}

/// The per-epoch minibatch diffusion matrix of WOR at `w` (docs/theory.md section 4), without the
/// thermal term `η M T I`.
#[derive(Clone, Debug)]
pub struct WorDiffusion {
    /// `D_WOR`, row-major `d × d`, per epoch.
    pub diffusion: Vec<f64>,
    /// The permutation mean of the second-order term, `E[Σ_{j<k} H_{B_k} g_{B_j}]`
    /// (a check of `∇L_eff`: it equals `M (M−1)/2 · K`).
    pub mean_second_order: Vec<f64>,
    /// Permutations averaged over: `Some(N!)` for the enumeration, the sample size for the
    /// Monte Carlo, `None` for the closed form (exact over all `N!`).
    pub permutations: Option<usize>,
}

/// Permutations per parallel work item of the Monte Carlo (fixed, so results do not depend
/// on the number of threads).
const PERMUTATION_CHUNK: usize = 256;

/// `D_WOR(w)` by Monte Carlo over `permutations` uniformly random permutations, seeded.
pub fn wor_diffusion_monte_carlo(
    landscape: &dyn Landscape,
    dynamics: &Dynamics,
    w: &[f64],
    permutations: usize,
    seed: u64,
) -> WorDiffusion {
    let d = landscape.dim();
    let n = landscape.n_examples();
    let per_example = PerExample::at(landscape, w);
    let chunks = permutations.div_ceil(PERMUTATION_CHUNK);
    let parts: Vec<Accumulator> = (0..chunks)
        .into_par_iter()
        .map(|chunk| {
            let mut rng = crate::dynamics::ensemble::walker_rng(seed ^ 0x5744_4f52, chunk);
            let mut sampler = BatchSampler::new(n);
            let mut noise = EpochNoise::new(&per_example, dynamics.eta, dynamics.batch_size);
            let mut z = vec![0.0; d];
            let mut accumulator = Accumulator::new(d);
            let count = PERMUTATION_CHUNK.min(permutations - chunk * PERMUTATION_CHUNK);
            for _ in 0..count {
                let permutation = sampler.permutation(&mut rng);
                noise.evaluate(permutation, &mut z);
                accumulator.add(&z, 1.0);
            }
            accumulator
        })
        .collect();
    finish(parts, dynamics, &per_example, permutations)
}

/// `D_WOR(w)` by enumerating all `N!` permutations (tiny data sets only: `N ≤ 9`).
pub fn wor_diffusion_exact(
    landscape: &dyn Landscape,
    dynamics: &Dynamics,
    w: &[f64],
) -> WorDiffusion {
    let d = landscape.dim();
    let n = landscape.n_examples();
    assert!(n <= 9, "exact enumeration needs N ≤ 9, got {n}");
    let per_example = PerExample::at(landscape, w);
    let mut noise = EpochNoise::new(&per_example, dynamics.eta, dynamics.batch_size);
    let mut accumulator = Accumulator::new(d);
    let mut z = vec![0.0; d];
    let mut count = 0;
    for_each_permutation(n, |permutation| {
        noise.evaluate(permutation, &mut z);
        accumulator.add(&z, 1.0);
        count += 1;
    });
    finish(vec![accumulator], dynamics, &per_example, count)
}

/// Visit all `n!` permutations of `0..n`, starting with the identity (Heap's algorithm,
/// iterative: each permutation differs from the previous one by one swap).
pub(crate) fn for_each_permutation(n: usize, mut visit: impl FnMut(&[usize])) {
    let mut permutation: Vec<usize> = (0..n).collect();
    let mut c = vec![0usize; n];
    visit(&permutation);
    let mut i = 0;
    while i < n {
        if c[i] < i {
            if i % 2 == 0 {
                permutation.swap(0, i);
            } else {
                permutation.swap(c[i], i);
            }
            visit(&permutation);
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
}

fn finish(
    parts: Vec<Accumulator>,
    dynamics: &Dynamics,
    per_example: &PerExample,
    permutations: usize,
) -> WorDiffusion {
    let d = per_example.dim;
    let mut total = Accumulator::new(d);
    for part in parts {
        total.merge(part);
    }
    let (mean_z, cov_z) = total.mean_and_covariance(total.count.max(1) as f64);
    let eta = dynamics.eta;
    // Δw − E Δw = η (z − E z): D = (η²/2) Cov z.
    let diffusion = cov_z.iter().map(|c| 0.5 * eta * eta * c).collect();
    // The first-order part of `z` (present when B does not divide N) has zero mean.
    let mean_second_order = mean_z.iter().map(|z| z / eta).collect();
    WorDiffusion {
        diffusion,
        mean_second_order,
        permutations: Some(permutations),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dynamics::Algorithm;

    /// A small convex landscape with position-dependent per-example Hessians (Poisson
    /// regression with a ridge): `l_i(w) = exp(x_i·w) − y_i x_i·w + ½ λ |w|²`.
    pub(crate) struct Poisson {
        pub x: Vec<[f64; 2]>,
        pub y: Vec<f64>,
        pub ridge: f64,
    }

    impl Poisson {
        pub(crate) fn new(n: usize) -> Self {
            let x: Vec<[f64; 2]> = (0..n)
                .map(|i| {
                    let t = i as f64 * 2.399_963;
                    [0.8 * t.cos() + 0.3, 0.6 * (1.7 * t).sin() - 0.1]
                })
                .collect();
            let y = (0..n).map(|i| ((i * 7) % 5) as f64 * 0.6 + 0.2).collect();
            Self { x, y, ridge: 0.1 }
        }
    }

    impl Landscape for Poisson {
        fn kind(&self) -> &'static str {
            "poisson"
        }
        fn dim(&self) -> usize {
            2
        }
        fn n_examples(&self) -> usize {
            self.x.len()
        }
        fn example_loss(&self, i: usize, w: &[f64]) -> f64 {
            let u = self.x[i][0] * w[0] + self.x[i][1] * w[1];
            u.exp() - self.y[i] * u + 0.5 * self.ridge * (w[0] * w[0] + w[1] * w[1])
        }
        fn add_example_gradient(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
            let x = self.x[i];
            let u = x[0] * w[0] + x[1] * w[1];
            let r = u.exp() - self.y[i];
            for a in 0..2 {
                out[a] += scale * (r * x[a] + self.ridge * w[a]);
            }
        }
        fn add_example_hessian(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
            let x = self.x[i];
            let e = (x[0] * w[0] + x[1] * w[1]).exp();
            for a in 0..2 {
                for b in 0..2 {
                    out[a * 2 + b] += scale * e * x[a] * x[b];
                }
                out[a * 2 + a] += scale * self.ridge;
            }
        }
        fn start(&self) -> Vec<f64> {
            vec![0.0, 0.0]
        }
    }

    fn sgd_wor(eta: f64, batch: usize, n: usize) -> Dynamics {
        Dynamics::new(
            Algorithm::Sgd,
            Some(crate::dynamics::Replacement::Wor),
            eta,
            batch,
            0.0,
            n,
        )
        .expect("valid")
    }

    #[test]
    fn poisson_derivatives_match_finite_differences() {
        let landscape = Poisson::new(12);
        let (g, h) =
            crate::landscape::testing::finite_difference_mismatch(&landscape, &[0.3, -0.4]);
        assert!(g < 1e-7 && h < 1e-7, "{g} {h}");
    }

    /// `∇L_eff` against central differences of `L_eff`, at a learning rate large enough that
    /// the correction is a sizeable part of the gradient.
    #[test]
    fn effective_gradient_matches_finite_differences() {
        let landscape = Poisson::new(12);
        let dynamics = sgd_wor(0.2, 3, 12);
        let effective = EffectiveLandscape::new(&landscape, &dynamics);
        for w in [[0.3, -0.4], [-0.5, 0.8], [1.0, 0.2]] {
            let gradient = effective.gradient(&w);
            let mut plain = vec![0.0; 2];
            landscape.gradient(&w, &mut plain);
            let correction = ((gradient[0] - plain[0]).powi(2) + (gradient[1] - plain[1]).powi(2))
                .sqrt()
                / (plain[0].powi(2) + plain[1].powi(2)).sqrt();
            assert!(
                correction > 0.01,
                "correction {correction} too small to test"
            );
            for a in 0..2 {
                let step = 1e-5;
                let mut plus = w;
                let mut minus = w;
                plus[a] += step;
                minus[a] -= step;
                let numeric = (effective.loss(&plus) - effective.loss(&minus)) / (2.0 * step);
                let error = (numeric - gradient[a]).abs() / gradient[a].abs().max(1e-3);
                assert!(
                    error < 1e-7,
                    "w = {w:?}, a = {a}: {numeric} vs {}",
                    gradient[a]
                );
            }
        }
    }

    /// `H_eff` against central differences of `∇L_eff`.
    #[test]
    fn effective_hessian_matches_finite_differences() {
        let landscape = Poisson::new(12);
        let dynamics = sgd_wor(0.2, 3, 12);
        let effective = EffectiveLandscape::new(&landscape, &dynamics);
        let w = [0.3, -0.4];
        let hessian = effective.hessian(&w);
        for b in 0..2 {
            let step = 1e-5;
            let mut plus = w;
            let mut minus = w;
            plus[b] += step;
            minus[b] -= step;
            let (gp, gm) = (effective.gradient(&plus), effective.gradient(&minus));
            for a in 0..2 {
                let numeric = (gp[a] - gm[a]) / (2.0 * step);
                assert!(
                    (numeric - hessian[a * 2 + b]).abs() < 1e-6,
                    "{numeric} vs {hessian:?}"
                );
            }
        }
    }

    /// `w_eff` is a stationary point of `L_eff`, and its distance to the minimum of `L`
    /// scales like `η`.
    #[test]
    fn effective_minimum_shifts_linearly_in_eta() {
        let landscape = Poisson::new(12);
        let minimum = {
            let dynamics = sgd_wor(1e-30, 3, 12);
            EffectiveLandscape::new(&landscape, &dynamics)
                .minimum(&[0.0, 0.0])
                .expect("minimum of L")
        };
        let shift = |eta: f64| {
            let dynamics = sgd_wor(eta, 3, 12);
            let effective = EffectiveLandscape::new(&landscape, &dynamics);
            let w = effective.minimum(&minimum).expect("w_eff");
            let g = effective.gradient(&w);
            assert!(g[0].abs() + g[1].abs() < 1e-12, "{g:?}");
            ((w[0] - minimum[0]).powi(2) + (w[1] - minimum[1]).powi(2)).sqrt()
        };
        let (small, half) = (shift(1e-3), shift(5e-4));
        assert!(small > 1e-6);
        assert!((small / half - 2.0).abs() < 0.01, "{small} {half}");
    }

    /// The permutation mean of `Σ_{j<k} H_{B_k} g_{B_j}` is `M (M−1)/2 · K`, with
    /// `K = (N/(N−1)) H̄ ḡ − (1/(N(N−1))) Σ_a h_a g_a` (docs/theory.md section 4), checked exactly
    /// by enumerating all 720 permutations of 6 examples.
    #[test]
    fn second_order_mean_matches_the_effective_gradient() {
        let landscape = Poisson::new(6);
        let dynamics = sgd_wor(0.05, 2, 6);
        let w = [0.3, -0.4];
        let exact = wor_diffusion_exact(&landscape, &dynamics, &w);
        assert_eq!(exact.permutations, Some(720));
        let (_, _, pair) = PerExample::at(&landscape, &w).means();
        for (mean, k) in exact.mean_second_order.iter().zip(&pair) {
            let expected = 3.0 * k;
            assert!(
                (mean - expected).abs() < 1e-10 * expected.abs().max(1.0),
                "{:?} vs {expected}",
                exact.mean_second_order
            );
        }
    }

    /// `D_WOR` by Monte Carlo over 10⁵ permutations against the exact covariance over all
    /// `N!` permutations, with `B | N` (N = 6, B = 2) and with a remainder (N = 7, B = 2).
    /// With 10⁵ samples the relative standard error of a covariance entry is about
    /// sqrt(2/10⁵) ≈ 0.45% (more for heavy tails); we allow 3% in the Frobenius norm.
    #[test]
    fn monte_carlo_diffusion_matches_enumeration() {
        for (n, b) in [(6, 2), (7, 2), (6, 3)] {
            let landscape = Poisson::new(n);
            let dynamics = sgd_wor(0.05, b, n);
            let w = [0.3, -0.4];
            let exact = wor_diffusion_exact(&landscape, &dynamics, &w);
            let sampled = wor_diffusion_monte_carlo(&landscape, &dynamics, &w, 100_000, 3);
            let diff: f64 = exact
                .diffusion
                .iter()
                .zip(&sampled.diffusion)
                .map(|(x, y)| (x - y).powi(2))
                .sum();
            let norm: f64 = exact.diffusion.iter().map(|x| x * x).sum();
            let error = (diff / norm).sqrt();
            println!("N = {n}, B = {b}: Monte Carlo vs exact D_WOR, relative error {error:.4}");
            assert!(error < 0.03, "N = {n}, B = {b}: error {error}");
            assert!(norm > 0.0);
        }
    }

    /// Monte Carlo results do not depend on the number of threads.
    #[test]
    fn monte_carlo_is_deterministic() {
        let landscape = Poisson::new(20);
        let dynamics = sgd_wor(0.05, 5, 20);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool")
                .install(|| {
                    wor_diffusion_monte_carlo(&landscape, &dynamics, &[0.1, 0.1], 2000, 9).diffusion
                })
        };
        assert_eq!(run(1), run(2));
    }
}
