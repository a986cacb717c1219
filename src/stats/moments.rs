//! Mean, covariance and stochastic area of the stationary cloud (docs/theory.md §7.1, §7.2).
//!
//! Positions are sampled once per time unit after burn-in (every step with replacement,
//! every epoch boundary without). Sums are taken about a fixed `shift` (the start point) so
//! that a small cloud far from the origin loses no precision. The stochastic area matrix
//! `⟨(x_a Δx_b − x_b Δx_a)/2⟩`, `x = w − mean`, is built from `Σ w_a Δw_b` and `Σ Δw_b`,
//! so it uses the final mean exactly.

use serde::Serialize;

use crate::dynamics::Observer;

/// Accumulates the moments of walker positions and one-unit displacements.
#[derive(Clone, Debug)]
pub struct MomentStats {
    dim: usize,
    burn_in: u64,
    shift: Vec<f64>,
    count: u64,
    sum: Vec<f64>,
    sum_outer: Vec<f64>,
    sum_displacement: Vec<f64>,
    /// `Σ (w − shift)_a Δw_b` at the start of each unit.
    sum_position_displacement: Vec<f64>,
}

/// Mean, covariance and stochastic area from a [`MomentStats`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Moments {
    /// Samples used (walker × time units after burn-in).
    pub samples: u64,
    /// Mean position.
    pub mean: Vec<f64>,
    /// Row-major `d × d`.
    pub cov: Vec<f64>,
    /// Stochastic area matrix, row-major `d × d`, antisymmetric.
    pub area: Vec<f64>,
}

impl MomentStats {
    /// Statistics of units `burn_in..`, about `shift`.
    pub fn new(shift: &[f64], burn_in: u64) -> Self {
        let dim = shift.len();
        Self {
            dim,
            burn_in,
            shift: shift.to_vec(),
            count: 0,
            sum: vec![0.0; dim],
            sum_outer: vec![0.0; dim * dim],
            sum_displacement: vec![0.0; dim],
            sum_position_displacement: vec![0.0; dim * dim],
        }
    }

    /// Samples accumulated so far.
    pub fn samples(&self) -> u64 {
        self.count
    }

    /// The moments, or `None` before the first sample.
    pub fn moments(&self) -> Option<Moments> {
        if self.count == 0 {
            return None;
        }
        let d = self.dim;
        let n = self.count as f64;
        let centred_mean: Vec<f64> = self.sum.iter().map(|s| s / n).collect();
        let mut cov = vec![0.0; d * d];
        let mut area = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] = self.sum_outer[a * d + b] / n - centred_mean[a] * centred_mean[b];
                let ab = self.sum_position_displacement[a * d + b] / n
                    - centred_mean[a] * self.sum_displacement[b] / n;
                let ba = self.sum_position_displacement[b * d + a] / n
                    - centred_mean[b] * self.sum_displacement[a] / n;
                area[a * d + b] = 0.5 * (ab - ba);
            }
        }
        let mean = centred_mean
            .iter()
            .zip(&self.shift)
            .map(|(m, s)| m + s)
            .collect();
        Some(Moments {
            samples: self.count,
            mean,
            cov,
            area,
        })
    }
}

impl Observer for MomentStats {
    fn fork(&self) -> Self {
        Self::new(&self.shift, self.burn_in)
    }

    fn observe(&mut self, _walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        if unit < self.burn_in {
            return;
        }
        let d = self.dim;
        self.count += 1;
        for a in 0..d {
            let xa = before[a] - self.shift[a];
            self.sum[a] += xa;
            self.sum_displacement[a] += after[a] - before[a];
            for b in 0..d {
                self.sum_outer[a * d + b] += xa * (before[b] - self.shift[b]);
                self.sum_position_displacement[a * d + b] += xa * (after[b] - before[b]);
            }
        }
    }

    /// Sums over walker-units need no per-walker state.
    fn accepts_interleaved_walkers(&self) -> bool {
        true
    }

    fn merge(&mut self, other: Self) {
        self.count += other.count;
        let pairs = [
            (&mut self.sum, &other.sum),
            (&mut self.sum_outer, &other.sum_outer),
            (&mut self.sum_displacement, &other.sum_displacement),
            (
                &mut self.sum_position_displacement,
                &other.sum_position_displacement,
            ),
        ];
        for (mine, theirs) in pairs {
            super::add_into(mine, theirs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_of_a_circle_walk() {
        // A walker stepping around the unit square counter-clockwise sweeps +1 area per 4 steps
        // about the centre; each step sweeps (x_a Δx_b − x_b Δx_a)/2 = 0.5 · 0.5 = 0.25.
        let corners = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        let mut stats = MomentStats::new(&[0.0, 0.0], 0);
        for k in 0..400 {
            stats.observe(
                0,
                k,
                &corners[k as usize % 4],
                &corners[(k as usize + 1) % 4],
            );
        }
        let m = stats.moments().expect("samples");
        assert!((m.mean[0] - 0.5).abs() < 1e-12 && (m.mean[1] - 0.5).abs() < 1e-12);
        assert!((m.area[1] - 0.25).abs() < 1e-12, "{:?}", m.area);
        assert!((m.area[2] + 0.25).abs() < 1e-12);
        assert!((m.cov[0] - 0.25).abs() < 1e-12 && m.cov[1].abs() < 1e-12);
    }

    #[test]
    fn burn_in_is_skipped() {
        let mut stats = MomentStats::new(&[0.0], 5);
        for k in 0..10 {
            stats.observe(0, k, &[k as f64], &[k as f64 + 1.0]);
        }
        assert_eq!(stats.samples(), 5);
        assert!((stats.moments().expect("samples").mean[0] - 7.0).abs() < 1e-12);
    }
}
