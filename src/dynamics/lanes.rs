//! Stepping walkers with a landscape family's [`GradientKernel`] (docs/theory.md §11).
//!
//! Two paths, with identical results bit for bit:
//!
//! - **lanes**: [`LANES`] walkers advance together, one per SIMD lane. Each walker still draws
//!   its batch and its noise from its own stream, in the same order as alone; only the
//!   gradient arithmetic runs across lanes. The observer then sees the walkers of a group
//!   interleaved in time, so this path is taken only for observers that
//!   [accept it](super::Observer::accepts_interleaved_walkers).
//! - **one walker at a time**: the same kernel for one walker (the network vectorises over the
//!   examples of the batch instead), with every observer.
//!
//! Both are compiled under the CPU features [`pulp::Arch`] finds at run time, so the loops
//! over lanes become AVX2 or wider instructions on machines that have them, and `f64::mul_add`
//! one instruction, without any `unsafe` here and without a build flag; the kernels get the
//! token of those features for their explicit vector code. Nothing in the stepping loop may
//! be an out-of-line call (the batch sampler and the empty observer are `#[inline(always)]`):
//! a call lets the callee clobber every vector register, which then have to be saved and
//! reloaded each step (docs/theory.md §11.3).

use pulp::{Simd, WithSimd};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

use super::{BatchSampler, Dynamics, Observer, Replacement};
use crate::landscape::{GradientKernel, LANES, Lanes};

/// What every chunk of walkers shares: the kernel, the rule, the time span.
pub(crate) struct Stepping<'a, K> {
    pub kernel: &'a K,
    pub dynamics: Dynamics,
    pub escape_radius: f64,
    /// The first time unit of this advance.
    pub start_time: u64,
    pub units: u64,
}

/// One chunk of walkers: walker `first_walker + k` is `positions[k·D ..]`, `rngs[k]`,
/// `diverged[k]`.
pub(crate) struct Chunk<'a> {
    pub first_walker: usize,
    pub positions: &'a mut [f64],
    pub rngs: &'a mut [Pcg64Mcg],
    pub diverged: &'a mut [bool],
}

/// Advance one chunk by `stepping.units` time units, reporting to `observer`.
pub(crate) fn advance_chunk<const D: usize, K: GradientKernel<D>, O: Observer>(
    stepping: &Stepping<'_, K>,
    chunk: Chunk<'_>,
    observer: &mut O,
) {
    pulp::Arch::new().dispatch(ChunkJob::<D, K, O> {
        stepping,
        chunk,
        observer,
    });
}

/// The work of [`advance_chunk`], run by [`pulp::Arch::dispatch`] under the detected CPU
/// features (everything below is `#[inline(always)]` so that it is compiled under them too).
struct ChunkJob<'a, 'b, const D: usize, K, O> {
    stepping: &'a Stepping<'a, K>,
    chunk: Chunk<'b>,
    observer: &'a mut O,
}

impl<const D: usize, K: GradientKernel<D>, O: Observer> WithSimd for ChunkJob<'_, '_, D, K, O> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self {
            stepping,
            mut chunk,
            observer,
        } = self;
        let mut sampler = BatchSampler::new(stepping.dynamics.n_examples);
        let mut ahead = BatchSampler::new(stepping.dynamics.n_examples);
        let walkers = chunk.rngs.len();
        let interleave = observer.accepts_interleaved_walkers();
        for group in (0..walkers).step_by(LANES) {
            let end = (group + LANES).min(walkers);
            let live = chunk.diverged[group..end].iter().filter(|&&d| !d).count();
            // A group of few live walkers is cheaper one walker at a time (same results).
            if interleave && live > LANES / 2 {
                lane_group::<D, K, O, S>(
                    simd,
                    stepping,
                    &mut chunk,
                    group..end,
                    &mut sampler,
                    observer,
                );
            } else {
                for k in group..end {
                    let scratch = [&mut sampler, &mut ahead];
                    one_walker::<D, K, O, S>(simd, stepping, &mut chunk, k, scratch, observer);
                }
            }
        }
    }
}

/// One walker through all time units, then its position is written back (a diverged walker
/// keeps the state in which it left the escape radius). `scratch` is the chunk's two samplers
/// (the second holds the next batch while the first holds this one, when pipelined), so that
/// nothing is allocated per walker.
#[inline(always)]
fn one_walker<const D: usize, K: GradientKernel<D>, O: Observer, S: Simd>(
    simd: S,
    stepping: &Stepping<'_, K>,
    chunk: &mut Chunk<'_>,
    k: usize,
    scratch: [&mut BatchSampler; 2],
    observer: &mut O,
) {
    let [sampler, ahead] = scratch;
    if chunk.diverged[k] {
        return;
    }
    let walker = chunk.first_walker + k;
    let dynamics = &stepping.dynamics;
    let (eta, noise_std, b) = (dynamics.eta, dynamics.noise_std(), dynamics.batch_size);
    let mut w = [0.0; D];
    w.copy_from_slice(&chunk.positions[k * D..(k + 1) * D]);
    let rng = &mut chunk.rngs[k];
    observer.begin_walker(walker);
    if dynamics.replacement == Replacement::Wr && noise_std == 0.0 {
        sgd_with_replacement(
            simd,
            stepping,
            walker,
            &mut w,
            rng,
            [sampler, ahead],
            observer,
        );
        chunk.diverged[k] = !w.iter().all(|x| x.abs() < stepping.escape_radius);
        chunk.positions[k * D..(k + 1) * D].copy_from_slice(&w);
        return;
    }
    for unit in stepping.start_time..stepping.start_time + stepping.units {
        let before = w;
        match dynamics.replacement {
            Replacement::Wr => {
                let batch = sampler.with_replacement(rng, b);
                let g = stepping.kernel.walker_gradient(simd, batch, &w);
                super::ensemble::update(&mut w, &g, eta, noise_std, rng);
            }
            Replacement::Wor => {
                let permutation = sampler.permutation(rng);
                for batch in permutation.chunks_exact(b) {
                    let g = stepping.kernel.walker_gradient(simd, batch, &w);
                    super::ensemble::update(&mut w, &g, eta, noise_std, rng);
                }
            }
        }
        if !w.iter().all(|x| x.abs() < stepping.escape_radius) {
            chunk.diverged[k] = true;
            break;
        }
        observer.observe(walker, unit, &before, &w);
    }
    chunk.positions[k * D..(k + 1) * D].copy_from_slice(&w);
}

/// [`one_walker`] for SGD with replacement and no noise, software-pipelined: the batch of the
/// next unit is drawn before the gradient of this one, so that the sampler's work (which does
/// not depend on the position) runs while the gradient's long dependency chain (`tanh`, then
/// the sums) is in flight, instead of after it. The batches are drawn from a copy of the
/// stream that replaces it once the step is taken, so the walker consumes the same random
/// words as without pipelining, even when it leaves the escape radius (it then stops).
#[inline(always)]
fn sgd_with_replacement<const D: usize, K: GradientKernel<D>, O: Observer, S: Simd>(
    simd: S,
    stepping: &Stepping<'_, K>,
    walker: usize,
    w: &mut [f64; D],
    rng: &mut Pcg64Mcg,
    samplers: [&mut BatchSampler; 2],
    observer: &mut O,
) {
    let (eta, b) = (stepping.dynamics.eta, stepping.dynamics.batch_size);
    let end = stepping.start_time + stepping.units;
    if stepping.units == 0 {
        return;
    }
    // samplers[now] holds this unit's batch; the other one draws the next unit's.
    let mut now = 0;
    samplers[now].with_replacement(rng, b);
    for unit in stepping.start_time..end {
        let mut stream = rng.clone();
        if unit + 1 < end {
            samplers[1 - now].with_replacement(&mut stream, b);
        }
        let before = *w;
        let g = stepping
            .kernel
            .walker_gradient(simd, samplers[now].batch(), w);
        for (x, g) in w.iter_mut().zip(g) {
            *x -= eta * g;
        }
        if !w.iter().all(|x| x.abs() < stepping.escape_radius) {
            return;
        }
        *rng = stream;
        observer.observe(walker, unit, &before, w);
        now = 1 - now;
    }
}

/// Walkers `range` (at most [`LANES`]) through all time units together, one per lane.
#[inline(always)]
fn lane_group<const D: usize, K: GradientKernel<D>, O: Observer, S: Simd>(
    simd: S,
    stepping: &Stepping<'_, K>,
    chunk: &mut Chunk<'_>,
    range: std::ops::Range<usize>,
    sampler: &mut BatchSampler,
    observer: &mut O,
) {
    let dynamics = &stepping.dynamics;
    let (eta, noise_std, b) = (dynamics.eta, dynamics.noise_std(), dynamics.batch_size);
    let first = range.start;
    debug_assert!((chunk.first_walker + first).is_multiple_of(LANES));
    let rngs = &mut chunk.rngs[range.clone()];
    let mut live = [false; LANES];
    let mut w: [Lanes; D] = [[0.0; LANES]; D];
    for (l, k) in range.clone().enumerate() {
        if !chunk.diverged[k] {
            live[l] = true;
            observer.begin_walker(chunk.first_walker + k);
            for (a, row) in w.iter_mut().enumerate() {
                row[l] = chunk.positions[k * D + a];
            }
        }
    }
    let mut batch = vec![[0usize; LANES]; b];
    let mut permutations = match dynamics.replacement {
        Replacement::Wr => Vec::new(),
        Replacement::Wor => vec![vec![0usize; dynamics.n_examples]; LANES],
    };
    for unit in stepping.start_time..stepping.start_time + stepping.units {
        let before = w;
        match dynamics.replacement {
            Replacement::Wr => {
                sampler.lanes_with_replacement(rngs, &live, &mut batch);
                let g = stepping.kernel.lane_gradient(simd, &batch, &w);
                lane_update(&mut w, &g, eta, noise_std, rngs, &live);
            }
            Replacement::Wor => {
                for (l, rng) in rngs.iter_mut().enumerate() {
                    if live[l] {
                        permutations[l].copy_from_slice(sampler.permutation(rng));
                    }
                }
                for m in 0..dynamics.batches_per_epoch() {
                    for (l, permutation) in permutations.iter().enumerate() {
                        if live[l] {
                            for (row, &i) in batch.iter_mut().zip(&permutation[m * b..]) {
                                row[l] = i;
                            }
                        }
                    }
                    let g = stepping.kernel.lane_gradient(simd, &batch, &w);
                    lane_update(&mut w, &g, eta, noise_std, rngs, &live);
                }
            }
        }
        for (l, k) in range.clone().enumerate() {
            if live[l] && !w.iter().all(|row| row[l].abs() < stepping.escape_radius) {
                live[l] = false;
                chunk.diverged[k] = true;
                for (a, row) in w.iter_mut().enumerate() {
                    chunk.positions[k * D + a] = row[l];
                    row[l] = 0.0;
                }
            }
        }
        observer.observe_lanes(chunk.first_walker + first, unit, &live, &before, &w);
        if !live.contains(&true) {
            break;
        }
    }
    for (l, k) in range.enumerate() {
        if live[l] {
            for (a, row) in w.iter().enumerate() {
                chunk.positions[k * D + a] = row[l];
            }
        }
    }
}

/// `w ← w − η g + sqrt(2ηT) ξ` in every live lane, with lane `l`'s normals drawn from its own
/// stream in component order, exactly as [`super::ensemble::update`] draws them.
#[inline(always)]
fn lane_update<const D: usize>(
    w: &mut [Lanes; D],
    g: &[Lanes; D],
    eta: f64,
    noise_std: f64,
    rngs: &mut [Pcg64Mcg],
    live: &[bool; LANES],
) {
    if noise_std > 0.0 {
        let mut xi = [[0.0; LANES]; D];
        for (l, rng) in rngs.iter_mut().enumerate() {
            if live[l] {
                for row in xi.iter_mut() {
                    row[l] = StandardNormal.sample(rng);
                }
            }
        }
        for ((row, grow), xrow) in w.iter_mut().zip(g).zip(&xi) {
            for l in 0..LANES {
                row[l] += -eta * grow[l] + noise_std * xrow[l];
            }
        }
    } else {
        for (row, grow) in w.iter_mut().zip(g) {
            for l in 0..LANES {
                row[l] -= eta * grow[l];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dynamics::ensemble::tests::{Sequential, bits};
    use crate::dynamics::{Algorithm, Dynamics, Ensemble};
    use crate::landscape::{Bowl, BowlSpec, Landscape, RegressionNet, RegressionNetSpec};

    /// SGD with replacement and no noise, one walker at a time (the pipelined path that draws
    /// each batch a step ahead) against the lane path: the same positions and divergences in
    /// every bit, over two advances (so the random streams must also end where they should).
    /// On the bowl with η h = 2.2 every walker diverges, each at its own time (its batches set
    /// its amplitude), so the stream of a walker that leaves the escape radius is checked too.
    #[test]
    fn pipelined_one_walker_sgd_equals_the_lane_path() {
        let bowl = Bowl::new(&BowlSpec::default()).expect("valid");
        let net = RegressionNet::new(&RegressionNetSpec::default(), std::path::Path::new("."))
            .expect("valid");
        let cases: [(&dyn Landscape, f64, usize, u64); 3] = [
            (&bowl, 0.55, 10, 200),
            (&bowl, 0.05, 7, 40),
            (&net, 1e-6, 10, 40),
        ];
        for (landscape, eta, batch_size, units) in cases {
            let n = landscape.n_examples();
            let dynamics =
                Dynamics::new(Algorithm::Sgd, None, eta, batch_size, 0.0, n).expect("valid");
            let start = landscape.start();
            let mut lanes = Ensemble::new(landscape, dynamics, 100, &start, 3);
            let mut alone = Ensemble::new(landscape, dynamics, 100, &start, 3);
            let mut record = Sequential::default();
            for _ in 0..2 {
                lanes.advance(landscape, units, &mut ());
                alone.advance(landscape, units, &mut record);
                assert_eq!(bits(lanes.positions()), bits(alone.positions()));
                assert_eq!(lanes.diverged_walkers(), alone.diverged_walkers());
            }
            assert!(!record.0.is_empty());
            if eta == 0.55 {
                assert_eq!(alone.diverged_walkers(), 100, "every walker diverges");
            }
        }
    }
}
