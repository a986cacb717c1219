//! Exact samplers of `B = 10` distinct indices from `N = 100` and `N = 200` (docs/theory.md
//! section 11.2): the library's partial Fisher–Yates shuffle on 32-bit halves of each random
//! word against the alternatives it was chosen over. All draw a uniformly random subset; they
//! differ in work per batch.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use neqlab::dynamics::BatchSampler;
use neqlab::dynamics::schedule::uniform_below;

const B: usize = 10;

/// Partial Fisher–Yates with `random_range` (the sampler before issue 15): `B` swaps on an
/// index array, undone before the next draw.
struct PartialFisherYates {
    indices: Vec<usize>,
    swaps: Vec<usize>,
}

impl PartialFisherYates {
    fn new(n: usize) -> Self {
        Self {
            indices: (0..n).collect(),
            swaps: Vec::new(),
        }
    }
    fn draw(&mut self, rng: &mut Pcg64Mcg, halves: bool) -> &[usize] {
        for (j, &r) in self.swaps.iter().enumerate().rev() {
            self.indices.swap(j, r);
        }
        self.swaps.clear();
        let n = self.indices.len();
        for j in 0..B {
            let r = if halves {
                let word = rng.next_u32();
                j + uniform_below(rng, word, (n - j) as u32) as usize
            } else {
                rng.random_range(j..n)
            };
            self.indices.swap(j, r);
            self.swaps.push(r);
        }
        &self.indices[..B]
    }
}

/// Floyd's algorithm with a membership bitset and 32-bit halves of each word: for
/// `j = N − B … N − 1`, `t` uniform in `0..=j`, add `t` or, if taken, `j`.
fn floyd_bitset(rng: &mut Pcg64Mcg, n: usize, members: &mut [u64], out: &mut [usize; B]) {
    let mut add = |t: usize, j: usize| {
        let pick = if members[t >> 6] >> (t & 63) & 1 == 1 {
            j
        } else {
            t
        };
        members[pick >> 6] |= 1 << (pick & 63);
        pick
    };
    for s in (0..B).step_by(2) {
        let j = n - B + s;
        let word = rng.next_u64();
        let t = uniform_below(rng, word as u32, (j + 1) as u32) as usize;
        out[s] = add(t, j);
        let t = uniform_below(rng, (word >> 32) as u32, (j + 2) as u32) as usize;
        out[s + 1] = add(t, j + 1);
    }
    for &i in out.iter() {
        members[i >> 6] = 0;
    }
}

/// Floyd's algorithm with a linear membership scan and `random_range`.
fn floyd_scan(rng: &mut Pcg64Mcg, n: usize, out: &mut [usize; B]) {
    for (s, j) in (n - B..n).enumerate() {
        let t = rng.random_range(0..=j);
        out[s] = if out[..s].contains(&t) { j } else { t };
    }
}

/// Sequential rejection with a membership bitmask held in registers (`N ≤ 256`): each pick is
/// uniform over `0..N` (32-bit halves) and redrawn while already taken.
fn rejection_bitmask(rng: &mut Pcg64Mcg, n: usize, out: &mut [usize; B]) {
    let mut taken = [0u64; 4];
    let mut spare: Option<u32> = None;
    for slot in out.iter_mut() {
        loop {
            let word = match spare.take() {
                Some(half) => half,
                None => {
                    let word = rng.next_u64();
                    spare = Some((word >> 32) as u32);
                    word as u32
                }
            };
            let i = uniform_below(rng, word, n as u32) as usize;
            let bit = 1u64 << (i & 63);
            if taken[i >> 6] & bit == 0 {
                taken[i >> 6] |= bit;
                *slot = i;
                break;
            }
        }
    }
}

fn samplers(c: &mut Criterion) {
    for n in [100, 200] {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut sampler = BatchSampler::new(n);
        c.bench_function(
            &format!("N = {n}: partial Fisher-Yates, 32-bit halves (library)"),
            |b| b.iter(|| black_box(sampler.with_replacement(&mut rng, B)[0])),
        );
        let mut members = vec![0u64; n.div_ceil(64)];
        let mut picks = [0; B];
        c.bench_function(&format!("N = {n}: Floyd, bitset, 32-bit halves"), |b| {
            b.iter(|| {
                floyd_bitset(&mut rng, n, &mut members, &mut picks);
                black_box(picks[0])
            })
        });
        let mut fisher_yates = PartialFisherYates::new(n);
        c.bench_function(
            &format!("N = {n}: partial Fisher-Yates, random_range"),
            |b| b.iter(|| black_box(fisher_yates.draw(&mut rng, false)[0])),
        );
        c.bench_function(
            &format!("N = {n}: partial Fisher-Yates, a 32-bit word per step"),
            |b| b.iter(|| black_box(fisher_yates.draw(&mut rng, true)[0])),
        );
        let mut out = [0; B];
        c.bench_function(&format!("N = {n}: rejection, bitmask in registers"), |b| {
            b.iter(|| {
                rejection_bitmask(&mut rng, n, &mut out);
                black_box(out[0])
            })
        });
        c.bench_function(&format!("N = {n}: Floyd, linear scan, random_range"), |b| {
            b.iter(|| {
                floyd_scan(&mut rng, n, &mut out);
                black_box(out[0])
            })
        });
        c.bench_function(
            &format!("N = {n}: ten raw 64-bit words (the generator alone)"),
            |b| b.iter(|| (0..B).fold(0u64, |acc, _| acc ^ black_box(rng.next_u64()))),
        );
    }
}

criterion_group!(benches, samplers);
criterion_main!(benches);
