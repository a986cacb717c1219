//! Minibatch schedules (docs/theory.md §2).
//!
//! With replacement a step draws `B` distinct indices uniformly at random, independently of
//! earlier steps; without replacement an epoch draws a uniformly random permutation and cuts
//! it into consecutive batches. Both work in place on buffers of length `N`, so sampling
//! allocates nothing.

use rand::{Rng, RngExt};

use crate::landscape::LANES;

/// An index buffer that yields random batches and permutations without allocating.
///
/// Every draw starts from the identity arrangement, so the indices drawn depend only on the
/// random stream, never on earlier draws.
#[derive(Clone, Debug)]
pub struct BatchSampler {
    indices: Vec<usize>,
    /// Positions swapped by the last with-replacement draw, undone before the next one.
    swaps: Vec<usize>,
    /// The buffer holds a full permutation and must be reset to the identity.
    scrambled: bool,
    /// Swaps made by the last with-replacement draw.
    last_batch: usize,
}

impl BatchSampler {
    /// A sampler over the indices `0..n`.
    pub fn new(n: usize) -> Self {
        Self {
            indices: (0..n).collect(),
            swaps: vec![0; n],
            scrambled: false,
            last_batch: 0,
        }
    }

    /// Number of examples `N`.
    pub fn n_examples(&self) -> usize {
        self.indices.len()
    }

    #[inline(always)]
    fn restore_identity(&mut self, swapped: usize) {
        if self.scrambled {
            for (i, slot) in self.indices.iter_mut().enumerate() {
                *slot = i;
            }
            self.scrambled = false;
        } else {
            // Only positions `j < swapped` and the `r` they were swapped with moved, so writing
            // each its own index restores the identity with independent stores, no swap
            // chain to undo in reverse.
            for (j, &r) in self.swaps[..swapped].iter().enumerate() {
                self.indices[r] = r;
                self.indices[j] = j;
            }
        }
    }

    /// `batch_size` distinct indices, a uniformly random subset in uniformly random order
    /// (docs/theory.md §11.2): the first `B` steps of a Fisher–Yates shuffle, step
    /// `j` swapping position `j` with a uniform position in `j..N`, `O(B)` work. Each 64-bit
    /// output of the generator serves two steps ([`uniform_below`] on its halves); the swaps
    /// are undone before the next draw.
    #[inline(always)]
    pub fn with_replacement<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        batch_size: usize,
    ) -> &[usize] {
        let n = self.indices.len();
        assert!(batch_size <= n, "a batch of {batch_size} from {n} examples");
        self.restore_identity(self.last_batch);
        if n <= u32::MAX as usize {
            let mut j = 0;
            while j + 1 < batch_size {
                let word = rng.next_u64();
                let r = j + uniform_below(rng, word as u32, (n - j) as u32) as usize;
                self.indices.swap(j, r);
                self.swaps[j] = r;
                let r =
                    j + 1 + uniform_below(rng, (word >> 32) as u32, (n - j - 1) as u32) as usize;
                self.indices.swap(j + 1, r);
                self.swaps[j + 1] = r;
                j += 2;
            }
            if j < batch_size {
                let word = rng.next_u32();
                let r = j + uniform_below(rng, word, (n - j) as u32) as usize;
                self.indices.swap(j, r);
                self.swaps[j] = r;
            }
        } else {
            for j in 0..batch_size {
                let r = rng.random_range(j..n);
                self.indices.swap(j, r);
                self.swaps[j] = r;
            }
        }
        self.last_batch = batch_size;
        &self.indices[..batch_size]
    }

    /// The batch of the last [`with_replacement`](Self::with_replacement) draw (empty after a
    /// [`permutation`](Self::permutation)).
    #[inline(always)]
    pub fn batch(&self) -> &[usize] {
        &self.indices[..self.last_batch]
    }

    /// The with-replacement batches of up to [`LANES`] walkers: walker `l` draws from
    /// `rngs[l]` exactly the batch [`with_replacement`](Self::with_replacement) draws, into
    /// `out[k][l]`, `k < B`; lanes that are not `live` (or beyond `rngs`) are left as they are.
    pub fn lanes_with_replacement<R: Rng>(
        &mut self,
        rngs: &mut [R],
        live: &[bool; LANES],
        out: &mut [[usize; LANES]],
    ) {
        let batch_size = out.len();
        for (l, rng) in rngs.iter_mut().enumerate().take(LANES) {
            if live[l] {
                let batch = self.with_replacement(rng, batch_size);
                for (row, &i) in out.iter_mut().zip(batch) {
                    row[l] = i;
                }
            }
        }
    }

    /// A uniformly random permutation of `0..n` (Fisher–Yates from the identity).
    pub fn permutation<R: Rng + ?Sized>(&mut self, rng: &mut R) -> &[usize] {
        self.restore_identity(self.last_batch);
        self.last_batch = 0;
        let n = self.indices.len();
        for i in (1..n).rev() {
            let j = if n <= u32::MAX as usize {
                let word = rng.next_u32();
                uniform_below(rng, word, (i + 1) as u32) as usize
            } else {
                rng.random_range(0..=i)
            };
            self.indices.swap(i, j);
        }
        self.scrambled = true;
        &self.indices
    }
}

/// A uniform integer in `0..range` from the 32 random bits `word`, exactly (Lemire's
/// multiply-and-reject): `⌊word · range / 2³²⌋` is uniform once the `2³² mod range` values of
/// `word` whose low product bits fall below that threshold are rejected and redrawn from
/// `rng`. The threshold is only computed when the low bits fall below `range`, which happens
/// with probability `range / 2³²`.
#[inline(always)]
pub fn uniform_below<R: Rng + ?Sized>(rng: &mut R, word: u32, range: u32) -> u32 {
    debug_assert!(range > 0);
    let mut product = u64::from(word) * u64::from(range);
    if (product as u32) < range {
        let threshold = range.wrapping_neg() % range;
        while (product as u32) < threshold {
            product = u64::from(rng.next_u32()) * u64::from(range);
        }
    }
    (product >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    /// Chi-square test that every example enters a with-replacement batch with probability
    /// `B/N`. With `N = 50` categories the statistic has 49 degrees of freedom (the counts sum
    /// to `steps · B`, which removes one); its 99.9% quantile is 85.4, so a correct sampler
    /// fails this fixed-seed test with probability 0.1% (less when `B/N` is large: an
    /// inclusion count has variance `e (1 − B/N)`, below its mean `e`, so the statistic is
    /// then smaller). Also checks distinctness.
    #[test]
    fn with_replacement_inclusion_is_uniform() {
        for b in [7, 20] {
            inclusion_is_uniform(b);
        }
    }

    fn inclusion_is_uniform(b: usize) {
        let (n, steps) = (50, 200_000);
        let mut sampler = BatchSampler::new(n);
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        let mut counts = vec![0u64; n];
        for _ in 0..steps {
            let batch = sampler.with_replacement(&mut rng, b);
            let mut seen = [false; 50];
            for &i in batch {
                assert!(!seen[i], "index {i} twice in one batch");
                seen[i] = true;
                counts[i] += 1;
            }
        }
        let expected = steps as f64 * b as f64 / n as f64;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 85.4, "chi-square {chi2} with 49 degrees of freedom");
    }

    /// Pairs enter together with probability `B(B−1)/(N(N−1))` (docs/theory.md §5): the
    /// draws are subsets, not independent indices. 10⁵ batches of 4 from 6 give each of the
    /// 15 pairs an expected 40 000 joint draws with standard deviation about 155; batches of 5
    /// (an odd size: the last step takes a fresh word) 66 667 with 149; 800 is over 5σ.
    #[test]
    fn with_replacement_pairs_follow_sampling_without_replacement() {
        for b in [4, 5] {
            pairs_follow_sampling_without_replacement(b);
        }
    }

    fn pairs_follow_sampling_without_replacement(b: usize) {
        let (n, steps) = (6, 100_000);
        let mut sampler = BatchSampler::new(n);
        let mut rng = Pcg64Mcg::seed_from_u64(5);
        let mut pairs = [[0u64; 6]; 6];
        for _ in 0..steps {
            let batch = sampler.with_replacement(&mut rng, b).to_vec();
            for &i in &batch {
                for &j in &batch {
                    if i < j {
                        pairs[i][j] += 1;
                    }
                }
            }
        }
        let expected = steps as f64 * (b * (b - 1)) as f64 / (n * (n - 1)) as f64;
        for (i, row) in pairs.iter().enumerate() {
            for &count in row.iter().skip(i + 1) {
                assert!(
                    (count as f64 - expected).abs() < 800.0,
                    "pair count {count} vs {expected}"
                );
            }
        }
    }

    /// With `range = 3·2³⁰` a quarter of the words are rejected; without the rejection the
    /// residues `v mod 3` would come out with probabilities (1/2, 1/4, 1/4). With rejection
    /// they are uniform: 3·10⁵ draws give 10⁵ per residue, standard deviation 258; 5σ = 1291.
    #[test]
    fn uniform_below_rejects_exactly() {
        let mut rng = Pcg64Mcg::seed_from_u64(21);
        let range = 3 << 30;
        let mut counts = [0u64; 3];
        for _ in 0..300_000 {
            let word = rng.next_u32();
            let v = uniform_below(&mut rng, word, range);
            assert!(v < range);
            counts[(v % 3) as usize] += 1;
        }
        for count in counts {
            assert!((count as f64 - 1e5).abs() < 1291.0, "{counts:?}");
        }
    }

    /// Every batch size from 1 to N, odd and even (the last step of an odd batch takes a
    /// fresh word), gives distinct indices in range, interleaved with permutations.
    #[test]
    fn every_batch_size_gives_distinct_indices() {
        let n = 13;
        let mut sampler = BatchSampler::new(n);
        let mut rng = Pcg64Mcg::seed_from_u64(4);
        for b in 1..=n {
            for _ in 0..50 {
                let mut batch = sampler.with_replacement(&mut rng, b).to_vec();
                batch.sort_unstable();
                batch.dedup();
                assert_eq!(batch.len(), b);
                assert!(batch.iter().all(|&i| i < n));
                if b % 3 == 0 {
                    sampler.permutation(&mut rng);
                }
            }
        }
    }

    /// The lane sampler gives each live lane exactly the batch the one-walker sampler draws
    /// from the same stream, and leaves the other lanes alone.
    #[test]
    fn lanes_draw_what_each_walker_draws_alone() {
        for (n, b) in [(100, 10), (200, 7), (13, 13), (70, 1)] {
            let mut sampler = BatchSampler::new(n);
            let mut rngs: Vec<Pcg64Mcg> = (0..6).map(Pcg64Mcg::seed_from_u64).collect();
            let mut alone = rngs.clone();
            let live = [true, false, true, true, true, true, true, true];
            for _ in 0..200 {
                let mut out = vec![[usize::MAX; LANES]; b];
                sampler.lanes_with_replacement(&mut rngs, &live, &mut out);
                for (l, rng) in alone.iter_mut().enumerate() {
                    if live[l] {
                        let batch = sampler.with_replacement(rng, b).to_vec();
                        let lane: Vec<usize> = out.iter().map(|row| row[l]).collect();
                        assert_eq!(lane, batch, "lane {l}");
                    } else {
                        assert!(out.iter().all(|row| row[l] == usize::MAX));
                    }
                }
            }
        }
    }

    #[test]
    fn permutation_uses_every_example_once() {
        let n = 37;
        let mut sampler = BatchSampler::new(n);
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        for _ in 0..100 {
            let mut perm = sampler.permutation(&mut rng).to_vec();
            perm.sort_unstable();
            assert_eq!(perm, (0..n).collect::<Vec<_>>());
            // Interleave with-replacement draws: the buffer must recover.
            let batch = sampler.with_replacement(&mut rng, 5).to_vec();
            assert_eq!(batch.len(), 5);
        }
    }

    /// Every position of a permutation holds each index with probability 1/N: 60 000
    /// permutations of 6 put each index at each position 10 000 times on average, standard
    /// deviation 91; 5σ = 456.
    #[test]
    fn permutation_is_uniform_over_positions() {
        let (n, draws) = (6, 60_000);
        let mut sampler = BatchSampler::new(n);
        let mut rng = Pcg64Mcg::seed_from_u64(9);
        let mut counts = [[0u64; 6]; 6];
        for _ in 0..draws {
            for (position, &i) in sampler.permutation(&mut rng).iter().enumerate() {
                counts[position][i] += 1;
            }
        }
        for row in counts {
            for count in row {
                assert!((count as f64 - 10_000.0).abs() < 456.0, "{count}");
            }
        }
    }
}
