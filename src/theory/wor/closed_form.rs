//! `D_WOR` in closed form: the exact covariance over all `N!` permutations of one epoch's
//! noise, from per-example sums (docs/theory.md section 4).
//!
//! One epoch of a permutation `π` sweeps the batches `B_0 … B_{M−1}` (positions
//! `kB … (k+1)B − 1`); the last `r = N − M B` positions are dropped. Give every example its
//! label `ℓ(i) ∈ {0 … M−1}` or "dropped". To second order in `η` the epoch's displacement,
//! less its mean, is `η (z − E z)` with ([`super::EpochNoise`])
//!
//! ```text
//! z = −X + η Y,   X = Σ_k g_{B_k} − M ḡ = −(1/B) Σ_i ρ_i g_i + const,
//!                 Y = Σ_{j<k} H_{B_k} g_{B_j} = (1/B²) Σ_{a≠b} I_ab h_a g_b,
//! ```
//!
//! `ρ_i = [i dropped]`, `I_ab = [a, b used and ℓ(a) > ℓ(b)]`. So
//! `D_WOR = (η²/2) [Cov X − η (Cov(X, Y) + Cov(Y, X)) + η² Cov Y]`, and each covariance is
//! a sum over index tuples weighted by a covariance of indicators that depends only on which
//! indices coincide:
//!
//! - `Cov X = r (N − r) / (B² (N − 1)) · S` (a random `r`-subset), `S` the gradient covariance.
//! - `Cov(ρ_i, I_ab) = c₀` for `i ∉ {a, b}`, `c₁ = −(r/N) p₂` otherwise, with
//!   `p₂ = E I_ab = M(M−1)B² / (2N(N−1))` and `c₀ = p₂ · 2r / (N(N−2))`.
//! - `Cov Y = (1/B⁴) Σ_σ (E_σ − p₂²) S_σ` over the seven ways `σ` in which the slots
//!   `(a, b, c, e)` of `Cov(I_ab, I_ce)` can coincide (`a ≠ b`, `c ≠ e`). `E_σ = E[I_ab I_ce]`
//!   counts batch assignments: `k` distinct examples fall into `m` distinct batches with
//!   group sizes `s_g` with probability `M^(m) Π_g B^(s_g) / N^(k)` (falling factorials),
//!   and the order of those `m` batches is uniform. `S_σ`, the sum of `(h_a g_b)(h_c g_e)ᵀ`
//!   over tuples whose coincidences are exactly `σ`, follows by Möbius inversion on the
//!   lattice of set partitions, `S_σ = Σ_{τ ≥ σ} μ(σ, τ) F_τ`, from the fifteen unrestricted
//!   sums `F_τ` (indices tied within the blocks of `τ`, free otherwise), each a product of
//!   per-example sums of cost at most `O(N d³)`.
//!
//! The result agrees with enumerating all permutations to round-off (tests below).

use super::{PerExample, WorDiffusion};
use crate::dynamics::Dynamics;
use crate::landscape::Landscape;

/// `D_WOR(w)` of `dynamics` in closed form, exact over all permutations (see the module
/// documentation), without the thermal term `η M T I`.
pub fn wor_diffusion(landscape: &dyn Landscape, dynamics: &Dynamics, w: &[f64]) -> WorDiffusion {
    let per_example = PerExample::at(landscape, w);
    wor_diffusion_from(&per_example, dynamics.eta, dynamics.batch_size)
}

/// [`wor_diffusion`] from per-example gradients and Hessians already evaluated at `w`.
pub fn wor_diffusion_from(per_example: &PerExample, eta: f64, batch_size: usize) -> WorDiffusion {
    let d = per_example.dim;
    let n = per_example.n();
    let batches = n.checked_div(batch_size).unwrap_or(0);
    let sums = ExampleSums::new(per_example);
    let counts = Counts {
        n: n as f64,
        m: batches as f64,
        b: batch_size.max(1) as f64,
        r: (n - batches * batch_size.max(1)) as f64,
    };
    let cov_x = counts.first_order_covariance(&sums);
    let cross = counts.cross_covariance(&sums, per_example);
    let cov_y = counts.second_order_covariance(&sums);
    let mut diffusion = vec![0.0; d * d];
    for a in 0..d {
        for b in 0..d {
            let k = a * d + b;
            let cov_z = cov_x[k] - eta * (cross[k] + cross[b * d + a]) + eta * eta * cov_y[k];
            diffusion[k] = 0.5 * eta * eta * cov_z;
        }
    }
    symmetrise_in_place(&mut diffusion, d);
    let (_, _, pair) = per_example.means();
    let orderings = counts.m * (counts.m - 1.0) / 2.0;
    WorDiffusion {
        diffusion,
        mean_second_order: pair.iter().map(|k| orderings * k).collect(),
        permutations: None,
    }
}

fn symmetrise_in_place(m: &mut [f64], d: usize) {
    for a in 0..d {
        for b in 0..a {
            let mean = 0.5 * (m[a * d + b] + m[b * d + a]);
            m[a * d + b] = mean;
            m[b * d + a] = mean;
        }
    }
}

/// `x (x − 1) ⋯ (x − k + 1)`.
fn falling(x: f64, k: usize) -> f64 {
    (0..k).map(|j| x - j as f64).product()
}

/// Sizes of one WOR schedule, as floats: `N`, `M`, `B`, `r = N − M B`.
#[derive(Clone, Copy, Debug)]
struct Counts {
    n: f64,
    m: f64,
    b: f64,
    r: f64,
}

impl Counts {
    /// `p₂ = E I_ab = M(M−1)B² / (2N(N−1))`.
    fn pair_probability(&self) -> f64 {
        if self.n < 2.0 {
            return 0.0;
        }
        self.m * (self.m - 1.0) * self.b * self.b / (2.0 * self.n * (self.n - 1.0))
    }

    /// `Cov X = r (N − r) / (B² (N − 1)) · S`, `S = (1/N) Σ (g_i − ḡ)(g_i − ḡ)ᵀ`.
    fn first_order_covariance(&self, sums: &ExampleSums) -> Vec<f64> {
        let d = sums.dim;
        if self.r == 0.0 || self.n < 2.0 {
            return vec![0.0; d * d];
        }
        let factor = self.r * (self.n - self.r) / (self.b * self.b * (self.n - 1.0));
        (0..d * d)
            .map(|k| {
                let (a, b) = (k / d, k % d);
                let s = sums.gg[k] / self.n - sums.g[a] * sums.g[b] / (self.n * self.n);
                factor * s
            })
            .collect()
    }

    /// `Cov(X, Y) = −(1/B³) Σ_{a≠b} [c₀ G + (c₁ − c₀)(g_a + g_b)] (h_a g_b)ᵀ`.
    fn cross_covariance(&self, sums: &ExampleSums, per_example: &PerExample) -> Vec<f64> {
        let d = sums.dim;
        let mut out = vec![0.0; d * d];
        if self.r == 0.0 || self.n < 3.0 {
            return out;
        }
        let p2 = self.pair_probability();
        let c0 = p2 * 2.0 * self.r / (self.n * (self.n - 2.0));
        let c1 = -(self.r / self.n) * p2;
        // Σ_{a≠b} h_a g_b = Hs G − V.
        let hs_g = mat_vec(&sums.h, &sums.g, d);
        let pairs: Vec<f64> = (0..d).map(|a| hs_g[a] - sums.v[a]).collect();
        let scale = -1.0 / (self.b * self.b * self.b);
        for (a, b) in (0..d).flat_map(|a| (0..d).map(move |b| (a, b))) {
            out[a * d + b] += scale * c0 * sums.g[a] * pairs[b];
        }
        // Σ_{a≠b} g_a (h_a g_b)ᵀ = Σ_a g_a (h_a G − h_a g_a)ᵀ and
        // Σ_{a≠b} g_b (h_a g_b)ᵀ = Σ_b g_b (Hs g_b − h_b g_b)ᵀ.
        for i in 0..per_example.n() {
            let gi = per_example.gradient(i);
            let hi = per_example.hessian(i);
            for a in 0..d {
                for b in 0..d {
                    let row = &hi[b * d..(b + 1) * d];
                    let h_rest: f64 = row.iter().zip(&sums.g).map(|(h, g)| h * g).sum::<f64>()
                        - row.iter().zip(gi).map(|(h, g)| h * g).sum::<f64>();
                    let hs_rest: f64 = (0..d)
                        .map(|c| (sums.h[b * d + c] - hi[b * d + c]) * gi[c])
                        .sum();
                    out[a * d + b] += scale * (c1 - c0) * gi[a] * (h_rest + hs_rest);
                }
            }
        }
        out
    }

    /// `Cov Y = (1/B⁴) Σ_σ (E_σ − p₂²) S_σ` over the valid coincidence patterns `σ`.
    fn second_order_covariance(&self, sums: &ExampleSums) -> Vec<f64> {
        let d = sums.dim;
        let mut out = vec![0.0; d * d];
        let p2 = self.pair_probability();
        if p2 == 0.0 {
            return out;
        }
        let partitions = slot_partitions();
        let unrestricted: Vec<Vec<f64>> = partitions.iter().map(|p| sums.tied_sum(p)).collect();
        let scale = 1.0 / self.b.powi(4);
        for sigma in partitions.iter().filter(|p| valid_pattern(p)) {
            let weight = self.joint_order_probability(sigma) - p2 * p2;
            if weight == 0.0 {
                continue;
            }
            for (tau, f) in partitions.iter().zip(&unrestricted) {
                let Some(mu) = mobius(sigma, tau) else {
                    continue;
                };
                for (o, x) in out.iter_mut().zip(f) {
                    *o += scale * weight * mu * x;
                }
            }
        }
        out
    }

    /// `E[I_ab I_ce]` when the slots `(a, b, c, e)` coincide as `sigma` (distinct blocks are
    /// distinct examples): the probability that all of them are used and `ℓ(a) > ℓ(b)`,
    /// `ℓ(c) > ℓ(e)`.
    fn joint_order_probability(&self, sigma: &[usize; 4]) -> f64 {
        let k = blocks(sigma);
        if (k as f64) > self.n {
            return 0.0;
        }
        let total = falling(self.n, k);
        let mut probability = 0.0;
        // Which of the k examples share a batch: every set partition of them.
        for grouping in set_partitions(k) {
            let groups = grouping.iter().copied().max().map_or(0, |g| g + 1);
            let group_of = |slot: usize| grouping[sigma[slot]];
            let (a, b, c, e) = (group_of(0), group_of(1), group_of(2), group_of(3));
            if a == b || c == e {
                continue;
            }
            let mut placements = falling(self.m, groups);
            for g in 0..groups {
                let size = grouping.iter().filter(|&&x| x == g).count();
                placements *= falling(self.b, size);
            }
            if placements == 0.0 {
                continue;
            }
            // The batches of the groups are in uniformly random order.
            let orders = permutations(groups);
            let favourable = orders
                .iter()
                .filter(|rank| rank[a] > rank[b] && rank[c] > rank[e])
                .count();
            probability += placements / total * favourable as f64 / orders.len() as f64;
        }
        probability
    }
}

/// Per-example sums at one point: `G = Σ g_i`, `Hs = Σ h_i`, `V = Σ h_i g_i`,
/// `Gg = Σ g_i g_iᵀ`, and the per-example vectors `h_i G`, `h_i g_i`, `Hs g_i`.
struct ExampleSums {
    dim: usize,
    g: Vec<f64>,
    h: Vec<f64>,
    v: Vec<f64>,
    gg: Vec<f64>,
    /// `h_i G`, example-major.
    h_total_gradient: Vec<f64>,
    /// `h_i g_i`.
    h_own_gradient: Vec<f64>,
    /// `Hs g_i`.
    total_h_gradient: Vec<f64>,
    /// `A[i][k][l] = Σ_n (h_n)_{ik} (g_n)_l`.
    hessian_gradient: Vec<f64>,
    /// `Σ_n h_n Gg h_nᵀ`.
    sandwiched: Vec<f64>,
}

fn mat_vec(m: &[f64], v: &[f64], d: usize) -> Vec<f64> {
    (0..d)
        .map(|a| (0..d).map(|b| m[a * d + b] * v[b]).sum())
        .collect()
}

/// `Σ_i x_i y_iᵀ` over example-major stacks of vectors.
fn outer_sum(x: &[f64], y: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    for (xi, yi) in x.chunks_exact(d).zip(y.chunks_exact(d)) {
        for a in 0..d {
            for b in 0..d {
                out[a * d + b] += xi[a] * yi[b];
            }
        }
    }
    out
}

fn outer(x: &[f64], y: &[f64]) -> Vec<f64> {
    x.iter()
        .flat_map(|a| y.iter().map(move |b| a * b))
        .collect()
}

fn transpose(m: &[f64], d: usize) -> Vec<f64> {
    (0..d * d).map(|k| m[(k % d) * d + k / d]).collect()
}

impl ExampleSums {
    fn new(per_example: &PerExample) -> Self {
        let d = per_example.dim;
        let n = per_example.n();
        let mut g = vec![0.0; d];
        let mut h = vec![0.0; d * d];
        let mut gg = vec![0.0; d * d];
        for i in 0..n {
            let gi = per_example.gradient(i);
            for (x, y) in g.iter_mut().zip(gi) {
                *x += y;
            }
            for (x, y) in h.iter_mut().zip(per_example.hessian(i)) {
                *x += y;
            }
            for a in 0..d {
                for b in 0..d {
                    gg[a * d + b] += gi[a] * gi[b];
                }
            }
        }
        let mut h_total_gradient = vec![0.0; n * d];
        let mut h_own_gradient = vec![0.0; n * d];
        let mut total_h_gradient = vec![0.0; n * d];
        let mut hessian_gradient = vec![0.0; d * d * d];
        let mut sandwiched = vec![0.0; d * d];
        // (Gg h_i)ᵀ = h_i Gg, stored by rows: scratch[b][a] = (Gg h_iᵀ)[a][b].
        let mut scratch = vec![0.0; d * d];
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
        for i in 0..n {
            let gi = per_example.gradient(i);
            let hi = per_example.hessian(i);
            let rows = i * d..(i + 1) * d;
            for (a, row) in hi.chunks_exact(d).enumerate() {
                h_total_gradient[rows.start + a] = dot(row, &g);
                h_own_gradient[rows.start + a] = dot(row, gi);
                total_h_gradient[rows.start + a] = dot(&h[a * d..(a + 1) * d], gi);
            }
            for (ik, hik) in hi.iter().enumerate() {
                for (out, gl) in hessian_gradient[ik * d..(ik + 1) * d].iter_mut().zip(gi) {
                    *out += hik * gl;
                }
            }
            // h_i Gg h_iᵀ with h_i symmetric: scratch = h_i Gg (rows), then rows of h_i
            // against rows of scratch.
            for (a, row) in hi.chunks_exact(d).enumerate() {
                for b in 0..d {
                    scratch[a * d + b] = (0..d).map(|c| row[c] * gg[c * d + b]).sum();
                }
            }
            for (a, left) in scratch.chunks_exact(d).enumerate() {
                for (b, right) in hi.chunks_exact(d).enumerate() {
                    sandwiched[a * d + b] += dot(left, right);
                }
            }
        }
        let v = (0..d)
            .map(|a| h_own_gradient.chunks_exact(d).map(|x| x[a]).sum())
            .collect();
        Self {
            dim: d,
            g,
            h,
            v,
            gg,
            h_total_gradient,
            h_own_gradient,
            total_h_gradient,
            hessian_gradient,
            sandwiched,
        }
    }

    /// `F_τ = Σ (h_a g_b)(h_c g_e)ᵀ` with the slots `(a, b, c, e)` tied within the blocks of
    /// `tau` and free otherwise (the fifteen partitions of four slots).
    fn tied_sum(&self, tau: &[usize; 4]) -> Vec<f64> {
        let d = self.dim;
        let hs_g = mat_vec(&self.h, &self.g, d);
        let (hg_total, hg_own, total_hg) = (
            &self.h_total_gradient,
            &self.h_own_gradient,
            &self.total_h_gradient,
        );
        match *tau {
            [0, 1, 2, 3] => outer(&hs_g, &hs_g),
            [0, 0, 1, 2] => outer(&self.v, &hs_g),
            [0, 1, 2, 2] => outer(&hs_g, &self.v),
            [0, 1, 0, 2] => outer_sum(hg_total, hg_total, d),
            [0, 1, 2, 0] => outer_sum(hg_total, total_hg, d),
            [0, 1, 1, 2] => outer_sum(total_hg, hg_total, d),
            [0, 1, 2, 1] => {
                // Hs Gg Hsᵀ.
                let left: Vec<f64> = (0..d * d)
                    .map(|k| {
                        let (a, b) = (k / d, k % d);
                        (0..d).map(|c| self.h[a * d + c] * self.gg[c * d + b]).sum()
                    })
                    .collect();
                (0..d * d)
                    .map(|k| {
                        let (a, b) = (k / d, k % d);
                        (0..d).map(|c| left[a * d + c] * self.h[b * d + c]).sum()
                    })
                    .collect()
            }
            [0, 0, 1, 1] => outer(&self.v, &self.v),
            [0, 1, 0, 1] => self.sandwiched.clone(),
            [0, 1, 1, 0] => {
                // Σ_{k,l} A[i][k][l] A[j][l][k].
                let a = &self.hessian_gradient;
                (0..d * d)
                    .map(|ij| {
                        let (i, j) = (ij / d, ij % d);
                        let mut sum = 0.0;
                        for k in 0..d {
                            for l in 0..d {
                                sum += a[(i * d + k) * d + l] * a[(j * d + l) * d + k];
                            }
                        }
                        sum
                    })
                    .collect()
            }
            [0, 0, 0, 1] => outer_sum(hg_own, hg_total, d),
            [0, 1, 0, 0] => transpose(&outer_sum(hg_own, hg_total, d), d),
            [0, 0, 1, 0] => outer_sum(hg_own, total_hg, d),
            [0, 1, 1, 1] => transpose(&outer_sum(hg_own, total_hg, d), d),
            [0, 0, 0, 0] => outer_sum(hg_own, hg_own, d),
            _ => vec![0.0; d * d],
        }
    }
}

/// Number of blocks of a partition written as a restricted growth string.
fn blocks(partition: &[usize]) -> usize {
    partition.iter().copied().max().map_or(0, |b| b + 1)
}

/// Every set partition of `k` items as a restricted growth string (`x[0] = 0`,
/// `x[i] ≤ 1 + max x[..i]`).
fn set_partitions(k: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for _ in 0..k {
        out = out
            .into_iter()
            .flat_map(|prefix: Vec<usize>| {
                let next = blocks(&prefix);
                (0..=next).map(move |b| {
                    let mut grown = prefix.clone();
                    grown.push(b);
                    grown
                })
            })
            .collect();
    }
    out
}

/// The fifteen partitions of the slots `(a, b, c, e)`.
fn slot_partitions() -> Vec<[usize; 4]> {
    set_partitions(4)
        .into_iter()
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect()
}

/// `a ≠ b` and `c ≠ e`: the patterns that occur in `Cov(I_ab, I_ce)`.
fn valid_pattern(sigma: &[usize; 4]) -> bool {
    sigma[0] != sigma[1] && sigma[2] != sigma[3]
}

/// The Möbius function `μ(σ, τ)` of the partition lattice when `τ` is coarser than (or equal
/// to) `σ`: `Π_{blocks β of τ} (−1)^{n_β − 1} (n_β − 1)!`, `n_β` the blocks of `σ` inside
/// `β`; `None` when `τ` is not coarser.
fn mobius(sigma: &[usize; 4], tau: &[usize; 4]) -> Option<f64> {
    for i in 0..4 {
        for j in 0..4 {
            if sigma[i] == sigma[j] && tau[i] != tau[j] {
                return None;
            }
        }
    }
    let mut mu = 1.0;
    for beta in 0..blocks(tau) {
        let mut inside: Vec<usize> = (0..4)
            .filter(|&i| tau[i] == beta)
            .map(|i| sigma[i])
            .collect();
        inside.sort_unstable();
        inside.dedup();
        let count = inside.len();
        let factorial: f64 = (1..count).map(|x| x as f64).product();
        mu *= if count % 2 == 1 {
            factorial
        } else {
            -factorial
        };
    }
    Some(mu)
}

/// Every permutation of `0..m` as a rank table (`rank[g]` is group `g`'s batch order).
fn permutations(m: usize) -> Vec<Vec<usize>> {
    if m == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for smaller in permutations(m - 1) {
        for position in 0..m {
            let mut rank: Vec<usize> = smaller
                .iter()
                .map(|&r| if r >= position { r + 1 } else { r })
                .collect();
            rank.push(position);
            out.push(rank);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::Poisson;
    use super::super::{wor_diffusion_exact, wor_diffusion_monte_carlo};
    use super::*;
    use crate::dynamics::{Algorithm, Replacement};

    fn sgd_wor(eta: f64, batch: usize, n: usize) -> Dynamics {
        Dynamics::new(Algorithm::Sgd, Some(Replacement::Wor), eta, batch, 0.0, n).expect("valid")
    }

    fn relative_error(a: &[f64], b: &[f64]) -> f64 {
        let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
        let norm: f64 = b.iter().map(|x| x * x).sum();
        (diff / norm).sqrt()
    }

    #[test]
    fn partitions_and_mobius_are_those_of_four_slots() {
        assert_eq!(slot_partitions().len(), 15);
        assert_eq!(
            slot_partitions()
                .iter()
                .filter(|p| valid_pattern(p))
                .count(),
            7
        );
        assert_eq!(permutations(3).len(), 6);
        // μ from the finest to the coarsest partition of four items is (−1)³ 3! = −6.
        assert_eq!(mobius(&[0, 1, 2, 3], &[0, 0, 0, 0]), Some(-6.0));
        assert_eq!(mobius(&[0, 0, 1, 1], &[0, 1, 0, 1]), None);
        // Inversion recovers exact coincidence counts: Σ_{τ≥σ} μ(σ,τ) #{tuples tied by τ}
        // = #{tuples with exactly σ} = N^(blocks σ).
        let n = 5.0_f64;
        for sigma in slot_partitions() {
            let count: f64 = slot_partitions()
                .iter()
                .filter_map(|tau| mobius(&sigma, tau).map(|mu| mu * n.powi(blocks(tau) as i32)))
                .sum();
            assert!(
                (count - falling(n, blocks(&sigma))).abs() < 1e-9,
                "{sigma:?}"
            );
        }
    }

    /// The closed form against the covariance over all `N!` permutations, for batches that
    /// divide `N` and batches that leave examples out, to round-off.
    #[test]
    fn closed_form_matches_enumeration() {
        for (n, b) in [
            (6, 2),
            (6, 3),
            (6, 1),
            (7, 2),
            (7, 3),
            (8, 3),
            (5, 5),
            (6, 4),
        ] {
            let landscape = Poisson::new(n);
            let dynamics = sgd_wor(0.05, b, n);
            let w = [0.3, -0.4];
            let exact = wor_diffusion_exact(&landscape, &dynamics, &w);
            let closed = wor_diffusion(&landscape, &dynamics, &w);
            let norm: f64 = exact.diffusion.iter().map(|x| x * x).sum::<f64>().sqrt();
            let diff: f64 = exact
                .diffusion
                .iter()
                .zip(&closed.diffusion)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                diff <= 1e-10 * norm.max(1e-300) || (norm == 0.0 && diff < 1e-300),
                "N = {n}, B = {b}: {:?} vs {:?}",
                closed.diffusion,
                exact.diffusion
            );
            for (x, y) in closed
                .mean_second_order
                .iter()
                .zip(&exact.mean_second_order)
            {
                assert!((x - y).abs() < 1e-10 * y.abs().max(1.0), "{x} vs {y}");
            }
        }
    }

    /// Away from the tiny data sets that can be enumerated: against 4·10⁵ random permutations
    /// (N = 40). The relative standard error of a covariance entry from n samples is about
    /// sqrt(2/n) ≈ 0.2%; we allow 1.5% in the Frobenius norm.
    #[test]
    fn closed_form_matches_monte_carlo() {
        for (n, b) in [(40, 5), (40, 7)] {
            let landscape = Poisson::new(n);
            let dynamics = sgd_wor(0.02, b, n);
            let w = [0.2, 0.1];
            let sampled = wor_diffusion_monte_carlo(&landscape, &dynamics, &w, 400_000, 5);
            let closed = wor_diffusion(&landscape, &dynamics, &w);
            let error = relative_error(&closed.diffusion, &sampled.diffusion);
            assert!(error < 0.015, "N = {n}, B = {b}: relative error {error}");
        }
    }
}
