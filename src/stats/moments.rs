//! Mean, covariance and stochastic area of the stationary cloud (docs/theory.md §7.1, §7.2).
//!
//! Positions are sampled once per time unit after burn-in (every step with replacement,
//! every epoch boundary without). Sums are taken about a fixed `shift` (the start point) so
//! that a small cloud far from the origin loses no precision. The stochastic area matrix
//! `⟨(x_a Δx_b − x_b Δx_a)/2⟩`, `x = w − mean`, is built from `Σ w_a Δw_b` and `Σ Δw_b`,
//! so it uses the final mean exactly.

use serde::Serialize;

use super::add_into;
use crate::dynamics::Observer;
use crate::dynamics::ensemble::{MAX_LANE_DIM, default_observe_lanes};
use crate::landscape::{LANES, Lanes};

/// Accumulates the moments of walker positions and one-unit displacements.
///
/// Up to [`MAX_LANE_DIM`] weights the sums live in [`LaneSums`], one slot per SIMD lane
/// (walker `k` in slot `k mod LANES`), so that a group of walkers stepped together adds its
/// lanes in one vectorised loop and one walker at a time adds to its own slot: each slot sees
/// the same values in the same order either way, so the moments are the same bits on both
/// paths. Larger dimensions use plain sums.
#[derive(Clone, Debug)]
pub struct MomentStats {
    dim: usize,
    burn_in: u64,
    shift: Vec<f64>,
    /// Slot sums, for `dim ≤ MAX_LANE_DIM`.
    lanes: Option<Box<LaneSums>>,
    count: u64,
    sum: Vec<f64>,
    sum_outer: Vec<f64>,
    sum_displacement: Vec<f64>,
    /// `Σ (w − shift)_a Δw_b` at the start of each unit.
    sum_position_displacement: Vec<f64>,
}

/// The sums of [`MomentStats`] per lane slot: `x = w − shift` at the start of each unit and
/// its displacement `Δw`.
#[derive(Clone, Debug, Default)]
struct LaneSums {
    count: [u64; LANES],
    sum: [Lanes; MAX_LANE_DIM],
    sum_outer: [[Lanes; MAX_LANE_DIM]; MAX_LANE_DIM],
    sum_displacement: [Lanes; MAX_LANE_DIM],
    sum_position_displacement: [[Lanes; MAX_LANE_DIM]; MAX_LANE_DIM],
}

impl LaneSums {
    /// Add `x` (rows of lanes, zero in lanes that are not live) and `dw` to every slot, for
    /// the first `d` weights.
    #[inline(always)]
    fn add(&mut self, d: usize, live: &[bool; LANES], x: &[Lanes], dw: &[Lanes]) {
        for (count, &live) in self.count.iter_mut().zip(live) {
            *count += u64::from(live);
        }
        for a in 0..d {
            for l in 0..LANES {
                self.sum[a][l] += x[a][l];
                self.sum_displacement[a][l] += dw[a][l];
            }
            for b in 0..d {
                for l in 0..LANES {
                    self.sum_outer[a][b][l] += x[a][l] * x[b][l];
                    self.sum_position_displacement[a][b][l] += x[a][l] * dw[b][l];
                }
            }
        }
    }

    /// Add one walker's `x` and `dw` to slot `l` alone: the same operations as
    /// [`add`](Self::add) performs in that lane.
    fn add_one(&mut self, d: usize, l: usize, x: &[f64], dw: &[f64]) {
        self.count[l] += 1;
        for a in 0..d {
            self.sum[a][l] += x[a];
            self.sum_displacement[a][l] += dw[a];
            for b in 0..d {
                self.sum_outer[a][b][l] += x[a] * x[b];
                self.sum_position_displacement[a][b][l] += x[a] * dw[b];
            }
        }
    }

    /// Add another part's slots, slot by slot.
    fn merge(&mut self, other: &Self, d: usize) {
        add_into(&mut self.count, &other.count);
        for a in 0..d {
            add_into(&mut self.sum[a], &other.sum[a]);
            add_into(&mut self.sum_displacement[a], &other.sum_displacement[a]);
            for b in 0..d {
                add_into(&mut self.sum_outer[a][b], &other.sum_outer[a][b]);
                add_into(
                    &mut self.sum_position_displacement[a][b],
                    &other.sum_position_displacement[a][b],
                );
            }
        }
    }
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
            lanes: (dim <= MAX_LANE_DIM).then(Box::default),
            count: 0,
            sum: vec![0.0; dim],
            sum_outer: vec![0.0; dim * dim],
            sum_displacement: vec![0.0; dim],
            sum_position_displacement: vec![0.0; dim * dim],
        }
    }

    /// Samples accumulated so far.
    pub fn samples(&self) -> u64 {
        self.count + self.lanes.as_ref().map_or(0, |s| s.count.iter().sum())
    }

    /// The plain sums with the slot sums added (slot by slot, in order).
    fn totals(&self) -> Self {
        let mut total = self.clone();
        if let Some(slots) = total.lanes.take() {
            let d = self.dim;
            total.count += slots.count.iter().sum::<u64>();
            for a in 0..d {
                total.sum[a] += slots.sum[a].iter().sum::<f64>();
                total.sum_displacement[a] += slots.sum_displacement[a].iter().sum::<f64>();
                for b in 0..d {
                    total.sum_outer[a * d + b] += slots.sum_outer[a][b].iter().sum::<f64>();
                    total.sum_position_displacement[a * d + b] +=
                        slots.sum_position_displacement[a][b].iter().sum::<f64>();
                }
            }
        }
        total
    }

    /// The moments, or `None` before the first sample.
    pub fn moments(&self) -> Option<Moments> {
        let t = self.totals();
        if t.count == 0 {
            return None;
        }
        let d = self.dim;
        let n = t.count as f64;
        let centred_mean: Vec<f64> = t.sum.iter().map(|s| s / n).collect();
        let mut cov = vec![0.0; d * d];
        let mut area = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] = t.sum_outer[a * d + b] / n - centred_mean[a] * centred_mean[b];
                let ab = t.sum_position_displacement[a * d + b] / n
                    - centred_mean[a] * t.sum_displacement[b] / n;
                let ba = t.sum_position_displacement[b * d + a] / n
                    - centred_mean[b] * t.sum_displacement[a] / n;
                area[a * d + b] = 0.5 * (ab - ba);
            }
        }
        let mean = centred_mean
            .iter()
            .zip(&self.shift)
            .map(|(m, s)| m + s)
            .collect();
        Some(Moments {
            samples: t.count,
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

    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        if unit < self.burn_in {
            return;
        }
        let d = self.dim;
        if let Some(slots) = &mut self.lanes {
            // Slot `walker mod LANES` alone, as `observe_lanes` adds it.
            let (mut x, mut dw) = ([0.0; MAX_LANE_DIM], [0.0; MAX_LANE_DIM]);
            for a in 0..d {
                x[a] = before[a] - self.shift[a];
                dw[a] = after[a] - before[a];
            }
            slots.add_one(d, walker % LANES, &x, &dw);
            return;
        }
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

    /// All lanes in one loop per sum. Lanes that are not live add exact zeros (`x = Δw = 0`),
    /// which leave a slot's sum unchanged bit for bit.
    #[inline(always)]
    fn observe_lanes(
        &mut self,
        first_walker: usize,
        unit: u64,
        live: &[bool; LANES],
        before: &[Lanes],
        after: &[Lanes],
    ) {
        if unit < self.burn_in {
            return;
        }
        let d = self.dim;
        let Some(slots) = &mut self.lanes else {
            return default_observe_lanes(self, first_walker, unit, live, before, after);
        };
        debug_assert!(first_walker.is_multiple_of(LANES));
        let (mut x, mut dw) = ([[0.0; LANES]; MAX_LANE_DIM], [[0.0; LANES]; MAX_LANE_DIM]);
        for a in 0..d {
            for l in 0..LANES {
                if live[l] {
                    x[a][l] = before[a][l] - self.shift[a];
                    dw[a][l] = after[a][l] - before[a][l];
                }
            }
        }
        slots.add(d, live, &x, &dw);
    }

    /// Sums over walker-units need no per-walker state.
    fn accepts_interleaved_walkers(&self) -> bool {
        true
    }

    fn merge(&mut self, other: Self) {
        if let (Some(mine), Some(theirs)) = (&mut self.lanes, &other.lanes) {
            mine.merge(theirs, self.dim);
        }
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
            add_into(mine, theirs);
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
