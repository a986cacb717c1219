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
//! over lanes become AVX2 or wider instructions on machines that have them, without any
//! `unsafe` here and without a build flag.

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
    fn with_simd<S: Simd>(self, _simd: S) {
        let Self {
            stepping,
            mut chunk,
            observer,
        } = self;
        let mut sampler = BatchSampler::new(stepping.dynamics.n_examples);
        let walkers = chunk.rngs.len();
        let interleave = observer.accepts_interleaved_walkers();
        for group in (0..walkers).step_by(LANES) {
            let end = (group + LANES).min(walkers);
            let live = chunk.diverged[group..end].iter().filter(|&&d| !d).count();
            // A group of few live walkers is cheaper one walker at a time (same results).
            if interleave && live > LANES / 2 {
                lane_group::<D, K, O>(stepping, &mut chunk, group..end, &mut sampler, observer);
            } else {
                for k in group..end {
                    one_walker::<D, K, O>(stepping, &mut chunk, k, &mut sampler, observer);
                }
            }
        }
    }
}

/// One walker through all time units, then its position is written back (a diverged walker
/// keeps the state in which it left the escape radius).
#[inline(always)]
fn one_walker<const D: usize, K: GradientKernel<D>, O: Observer>(
    stepping: &Stepping<'_, K>,
    chunk: &mut Chunk<'_>,
    k: usize,
    sampler: &mut BatchSampler,
    observer: &mut O,
) {
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
    for unit in stepping.start_time..stepping.start_time + stepping.units {
        let before = w;
        match dynamics.replacement {
            Replacement::Wr => {
                let batch = sampler.with_replacement(rng, b);
                let g = stepping.kernel.walker_gradient(batch, &w);
                super::ensemble::update(&mut w, &g, eta, noise_std, rng);
            }
            Replacement::Wor => {
                let permutation = sampler.permutation(rng);
                for batch in permutation.chunks_exact(b) {
                    let g = stepping.kernel.walker_gradient(batch, &w);
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

/// Walkers `range` (at most [`LANES`]) through all time units together, one per lane.
#[inline(always)]
fn lane_group<const D: usize, K: GradientKernel<D>, O: Observer>(
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
                let g = stepping.kernel.lane_gradient(&batch, &w);
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
                    let g = stepping.kernel.lane_gradient(&batch, &w);
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
