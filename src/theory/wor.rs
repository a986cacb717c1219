//! Without replacement: the effective landscape and the per-epoch diffusion matrix
//! (THEORY.md section 4).
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
//! `D_WOR = (η⁴/2) Cov_perm[Σ_{j<k} H_{B_k} g_{B_j}]` when `B` divides `N` (estimated here by
//! Monte Carlo); when it does not, the dropped examples make the first-order term random as
//! well and its covariance (of order `η²`) is included. SGWORLD adds `η M T I`.

use nalgebra::DMatrix;
use rayon::prelude::*;

use super::TheoryError;
use crate::dynamics::{BatchSampler, Dynamics};
use crate::landscape::Landscape;

/// Per-example gradients `g_i` and Hessians `h_i` at one point.
#[derive(Clone, Debug)]
pub struct PerExample {
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

    fn n(&self) -> usize {
        self.gradients.len() / self.dim
    }

    fn gradient(&self, i: usize) -> &[f64] {
        &self.gradients[i * self.dim..(i + 1) * self.dim]
    }

    fn hessian(&self, i: usize) -> &[f64] {
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
        for i in 0..n {
            let gi = self.gradient(i);
            let hi = self.hessian(i);
            for a in 0..d {
                g[a] += gi[a] / nf;
                for b in 0..d {
                    h[a * d + b] += hi[a * d + b] / nf;
                    hg_sum[a] += hi[a * d + b] * gi[b];
                }
            }
        }
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

/// The effective landscape of one WOR schedule: learning rate `η` and `M` batches per epoch.
#[derive(Clone, Copy)]
pub struct EffectiveLandscape<'a> {
    pub landscape: &'a dyn Landscape,
    pub eta: f64,
    pub batches_per_epoch: usize,
}

impl<'a> EffectiveLandscape<'a> {
    /// The effective landscape of `dynamics` (which should be without replacement).
    pub fn new(landscape: &'a dyn Landscape, dynamics: &Dynamics) -> Self {
        Self {
            landscape,
            eta: dynamics.eta,
            batches_per_epoch: dynamics.batches_per_epoch(),
        }
    }

    /// `η (M − 1) / 2`, the prefactor of the gradient correction.
    fn shift(&self) -> f64 {
        self.eta * (self.batches_per_epoch as f64 - 1.0).max(0.0) / 2.0
    }

    /// `L_eff(w)`.
    pub fn loss(&self, w: &[f64]) -> f64 {
        let l = self.landscape;
        let d = l.dim();
        let n = l.n_examples() as f64;
        let mut g = vec![0.0; d];
        l.gradient(w, &mut g);
        let mean_square: f64 = g.iter().map(|x| x * x).sum();
        let mut example_square = 0.0;
        let mut gi = vec![0.0; d];
        for i in 0..l.n_examples() {
            gi.fill(0.0);
            l.add_example_gradient(i, w, 1.0, &mut gi);
            example_square += gi.iter().map(|x| x * x).sum::<f64>();
        }
        l.loss(w)
            - self.shift() / 2.0 * (n / (n - 1.0) * mean_square - example_square / (n * (n - 1.0)))
    }

    /// `∇L_eff(w)` and `H̄(w)` (row-major), from per-example gradients and Hessians.
    pub fn gradient_and_mean_hessian(&self, w: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let per_example = PerExample::at(self.landscape, w);
        let (g, h, pair) = per_example.means();
        let shift = self.shift();
        let gradient = g.iter().zip(&pair).map(|(g, k)| g - shift * k).collect();
        (gradient, h)
    }

    /// `∇L_eff(w)`.
    pub fn gradient(&self, w: &[f64]) -> Vec<f64> {
        self.gradient_and_mean_hessian(w).0
    }

    /// `H_eff = ∇∇L_eff(w)`: `H̄` plus central differences of the `O(η)` correction (which
    /// needs third derivatives of the `l_i`), symmetrised.
    pub fn hessian(&self, w: &[f64]) -> Vec<f64> {
        let d = self.landscape.dim();
        let (_, mean_hessian) = self.gradient_and_mean_hessian(w);
        let shift = self.shift();
        if shift == 0.0 {
            return mean_hessian;
        }
        let correction = |x: &[f64]| PerExample::at(self.landscape, x).means().2;
        let mut jacobian = vec![0.0; d * d];
        for b in 0..d {
            let step = 1e-5 * (1.0 + w[b].abs());
            let mut plus = w.to_vec();
            let mut minus = w.to_vec();
            plus[b] += step;
            minus[b] -= step;
            let (kp, km) = (correction(&plus), correction(&minus));
            for a in 0..d {
                jacobian[a * d + b] = (kp[a] - km[a]) / (2.0 * step);
            }
        }
        let mut out = mean_hessian;
        for a in 0..d {
            for b in 0..d {
                out[a * d + b] -= shift * 0.5 * (jacobian[a * d + b] + jacobian[b * d + a]);
            }
        }
        out
    }

    /// The minimum `w_eff` of `L_eff` near `start` (usually the minimum of `L`): iterate
    /// `w ← w − H̄(w)⁻¹ ∇L_eff(w)` until the step is at round-off.
    pub fn minimum(&self, start: &[f64]) -> Result<Vec<f64>, TheoryError> {
        let d = self.landscape.dim();
        let mut w = start.to_vec();
        let mut last_step = f64::INFINITY;
        for _ in 0..200 {
            let (gradient, hessian) = self.gradient_and_mean_hessian(&w);
            let h = DMatrix::from_row_slice(d, d, &hessian);
            let Some(cholesky) = h.cholesky() else {
                return Err(TheoryError::NoEffectiveMinimum {
                    reason: format!("the Hessian of L is not positive definite at {w:?}"),
                });
            };
            let step = cholesky.solve(&nalgebra::DVector::from_column_slice(&gradient));
            let size = step.norm();
            if !size.is_finite() {
                return Err(TheoryError::NoEffectiveMinimum {
                    reason: "the iteration produced non-finite values".into(),
                });
            }
            for a in 0..d {
                w[a] -= step[a];
            }
            let scale = 1.0 + w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if size <= 1e-14 * scale || (size <= 1e-11 * scale && size >= 0.5 * last_step) {
                return Ok(w);
            }
            last_step = size;
        }
        Err(TheoryError::NoEffectiveMinimum {
            reason: format!("no convergence in 200 iterations (last step {last_step:.3e})"),
        })
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

/// The per-epoch minibatch diffusion matrix of WOR at `w` (THEORY.md section 4), without the
/// thermal term `η M T I`.
#[derive(Clone, Debug)]
pub struct WorDiffusion {
    /// `D_WOR`, row-major `d × d`, per epoch.
    pub diffusion: Vec<f64>,
    /// The permutation mean of the second-order term, `E[Σ_{j<k} H_{B_k} g_{B_j}]`
    /// (a check of `∇L_eff`: it equals `M (M−1)/2 · K`).
    pub mean_second_order: Vec<f64>,
    /// Permutations averaged over (all `N!` for the exact enumeration).
    pub permutations: usize,
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
    let mut permutation: Vec<usize> = (0..n).collect();
    let mut count = 0;
    // Heap's algorithm, iterative.
    let mut c = vec![0usize; n];
    noise.evaluate(&permutation, &mut z);
    accumulator.add(&z, 1.0);
    count += 1;
    let mut i = 0;
    while i < n {
        if c[i] < i {
            if i % 2 == 0 {
                permutation.swap(0, i);
            } else {
                permutation.swap(c[i], i);
            }
            noise.evaluate(&permutation, &mut z);
            accumulator.add(&z, 1.0);
            count += 1;
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    finish(vec![accumulator], dynamics, &per_example, count)
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
        permutations,
    }
}
