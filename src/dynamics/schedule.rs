//! Minibatch schedules (docs/theory.md section 2).
//!
//! With replacement a step draws `B` distinct indices uniformly at random, independently of
//! earlier steps; without replacement an epoch draws a uniformly random permutation and cuts
//! it into consecutive batches. Both work in place on buffers of length `N`, so sampling
//! allocates nothing.

use rand::{Rng, RngExt};

/// An index buffer that yields random batches and permutations without allocating.
///
/// Every draw depends only on the random stream, never on earlier draws.
#[derive(Clone, Debug)]
pub struct BatchSampler {
    /// The last permutation; reset to the identity before each shuffle.
    indices: Vec<usize>,
    /// The last with-replacement batch, in the order Floyd's algorithm chose it.
    batch: Vec<usize>,
    /// Membership bits of `batch` while it is drawn (all zero between draws).
    members: Vec<u64>,
}

impl BatchSampler {
    /// A sampler over the indices `0..n`.
    pub fn new(n: usize) -> Self {
        Self {
            indices: (0..n).collect(),
            batch: Vec::with_capacity(n),
            members: vec![0; n.div_ceil(64)],
        }
    }

    /// Number of examples `N`.
    pub fn n_examples(&self) -> usize {
        self.indices.len()
    }

    /// `batch_size` distinct indices, a uniformly random subset (docs/theory.md section 11).
    ///
    /// Floyd's algorithm: for `j = N − B, …, N − 1` draw `t` uniform in `0..=j` and add `t`,
    /// or `j` if `t` is already in. By induction every `B`-subset comes out with probability
    /// `1 / C(N, B)`. `B` uniform draws, `O(B)` work with a membership bitset, and each
    /// 64-bit output of the generator serves two draws ([`uniform_below`] on its halves).
    /// The order within the batch is not uniformly random, which only affects the rounding
    /// of the batch sum.
    pub fn with_replacement<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        batch_size: usize,
    ) -> &[usize] {
        let n = self.indices.len();
        assert!(batch_size <= n, "a batch of {batch_size} from {n} examples");
        self.batch.clear();
        let members = &mut self.members;
        let mut add = |batch: &mut Vec<usize>, t: usize, j: usize| {
            let seen = members[t >> 6] >> (t & 63) & 1 == 1;
            let pick = if seen { j } else { t };
            members[pick >> 6] |= 1 << (pick & 63);
            batch.push(pick);
        };
        let mut j = n - batch_size;
        if n <= u32::MAX as usize {
            while j + 1 < n {
                let word = rng.next_u64();
                let t = uniform_below(rng, word as u32, (j + 1) as u32);
                add(&mut self.batch, t as usize, j);
                let t = uniform_below(rng, (word >> 32) as u32, (j + 2) as u32);
                add(&mut self.batch, t as usize, j + 1);
                j += 2;
            }
            if j < n {
                let word = rng.next_u32();
                let t = uniform_below(rng, word, (j + 1) as u32);
                add(&mut self.batch, t as usize, j);
            }
        } else {
            for j in j..n {
                let t = rng.random_range(0..=j);
                add(&mut self.batch, t, j);
            }
        }
        for &i in &self.batch {
            self.members[i >> 6] = 0;
        }
        &self.batch
    }

    /// A uniformly random permutation of `0..n` (Fisher–Yates from the identity).
    pub fn permutation<R: Rng + ?Sized>(&mut self, rng: &mut R) -> &[usize] {
        for (i, slot) in self.indices.iter_mut().enumerate() {
            *slot = i;
        }
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
    /// fails this fixed-seed test with probability 0.1%. Also checks distinctness.
    #[test]
    fn with_replacement_inclusion_is_uniform() {
        let (n, b, steps) = (50, 7, 200_000);
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

    /// Pairs enter together with probability `B(B−1)/(N(N−1))` (docs/theory.md section 5): the
    /// draws are subsets, not independent indices. 10⁵ batches of 4 from 6 give each of the
    /// 15 pairs an expected 40 000 joint draws with standard deviation about 155; 5σ = 800.
    #[test]
    fn with_replacement_pairs_follow_sampling_without_replacement() {
        let (n, b, steps) = (6, 4, 100_000);
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

    /// Every batch size from 1 to N, odd and even (the last draw of an odd batch takes a
    /// fresh word), gives distinct indices in range.
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
