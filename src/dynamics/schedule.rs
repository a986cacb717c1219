//! Minibatch schedules (docs/theory.md section 2).
//!
//! With replacement a step draws `B` distinct indices uniformly at random, independently of
//! earlier steps; without replacement an epoch draws a uniformly random permutation and cuts
//! it into consecutive batches. Both work in place on one index buffer of length `N`, so
//! sampling allocates nothing.

use rand::{Rng, RngExt};

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
}

impl BatchSampler {
    /// A sampler over the indices `0..n`.
    pub fn new(n: usize) -> Self {
        Self {
            indices: (0..n).collect(),
            swaps: Vec::with_capacity(n),
            scrambled: false,
        }
    }

    fn restore_identity(&mut self) {
        if self.scrambled {
            for (i, slot) in self.indices.iter_mut().enumerate() {
                *slot = i;
            }
            self.scrambled = false;
        } else {
            for (j, &r) in self.swaps.iter().enumerate().rev() {
                self.indices.swap(j, r);
            }
        }
        self.swaps.clear();
    }

    /// `batch_size` distinct indices, uniformly at random: the first `B` steps of a
    /// Fisher–Yates shuffle, `O(B)` work.
    pub fn with_replacement<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        batch_size: usize,
    ) -> &[usize] {
        self.restore_identity();
        let n = self.indices.len();
        for j in 0..batch_size {
            let r = rng.random_range(j..n);
            self.indices.swap(j, r);
            self.swaps.push(r);
        }
        &self.indices[..batch_size]
    }

    /// A uniformly random permutation of `0..n` (Fisher–Yates).
    pub fn permutation<R: Rng + ?Sized>(&mut self, rng: &mut R) -> &[usize] {
        self.restore_identity();
        let n = self.indices.len();
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            self.indices.swap(i, j);
        }
        self.scrambled = true;
        &self.indices
    }
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
