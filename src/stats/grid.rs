//! Density and current histograms on a 2-D grid (docs/theory.md section 7), to hold against the
//! Fokker–Planck solution of [`crate::theory::fokker_planck`].
//!
//! - Density: the position at the start of every time unit after burn-in (every step with
//!   replacement, every epoch boundary without) is binned; [`GridHistogram::density`] gives
//!   the mass per cell normalised over the samples that fell inside the grid, and
//!   [`GridHistogram::outside_fraction`] the rest.
//! - Current: each unit's displacement `Δw` is binned at the cell of its midpoint
//!   `(w_n + w_{n+1})/2`, and `J(cell) ≈ Σ Δw / (samples · cell area)`, normalised by all
//!   walker-units observed, inside the grid or not.

use crate::dynamics::Observer;
use crate::theory::fokker_planck::Grid2d;

/// An [`Observer`] accumulating the density histogram and the midpoint-binned current of the
/// first two coordinates of every walker.
#[derive(Clone, Debug)]
pub struct GridHistogram {
    grid: Grid2d,
    burn_in: u64,
    /// Walker-units observed after burn-in.
    samples: u64,
    /// Samples whose position fell outside the grid.
    outside: u64,
    counts: Vec<u64>,
    displacement: Vec<[f64; 2]>,
}

impl GridHistogram {
    /// An empty histogram of units `burn_in..` on `grid`.
    pub fn new(grid: Grid2d, burn_in: u64) -> Self {
        let n = grid.cells();
        Self {
            grid,
            burn_in,
            samples: 0,
            outside: 0,
            counts: vec![0; n],
            displacement: vec![[0.0; 2]; n],
        }
    }

    /// The grid.
    pub fn grid(&self) -> &Grid2d {
        &self.grid
    }

    /// Walker-units observed after burn-in (inside the grid or not).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Raw counts per cell, row-major.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Fraction of samples whose position fell outside the grid (0 before any sample).
    pub fn outside_fraction(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.outside as f64 / self.samples as f64
        }
    }

    /// Mass per cell, row-major, normalised over the samples inside the grid (sums to 1; all
    /// zeros before any sample inside).
    pub fn density(&self) -> Vec<f64> {
        let inside = self.samples - self.outside;
        if inside == 0 {
            return vec![0.0; self.counts.len()];
        }
        self.counts
            .iter()
            .map(|&c| c as f64 / inside as f64)
            .collect()
    }

    /// Current at cell centres, `Σ Δw / (samples · cell area)` per cell (probability per unit
    /// length per time unit), all zeros before any sample.
    pub fn current(&self) -> Vec<[f64; 2]> {
        if self.samples == 0 {
            return vec![[0.0; 2]; self.displacement.len()];
        }
        let scale = 1.0 / (self.samples as f64 * self.grid.cell_area());
        self.displacement
            .iter()
            .map(|d| [d[0] * scale, d[1] * scale])
            .collect()
    }
}

impl Observer for GridHistogram {
    fn fork(&self) -> Self {
        Self::new(self.grid, self.burn_in)
    }

    fn observe(&mut self, _walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        if unit < self.burn_in || before.len() < 2 || after.len() < 2 {
            return;
        }
        self.samples += 1;
        match self.grid.locate([before[0], before[1]]) {
            Some(cell) => self.counts[cell] += 1,
            None => self.outside += 1,
        }
        let midpoint = [0.5 * (before[0] + after[0]), 0.5 * (before[1] + after[1])];
        if let Some(cell) = self.grid.locate(midpoint) {
            self.displacement[cell][0] += after[0] - before[0];
            self.displacement[cell][1] += after[1] - before[1];
        }
    }

    fn merge(&mut self, other: Self) {
        self.samples += other.samples;
        self.outside += other.outside;
        self.counts
            .iter_mut()
            .zip(&other.counts)
            .for_each(|(m, t)| *m += t);
        self.displacement
            .iter_mut()
            .zip(&other.displacement)
            .for_each(|(m, t)| {
                m[0] += t[0];
                m[1] += t[1];
            });
    }
}

/// Total variation distance `½ Σ |p_i − q_i|` between two mass vectors of equal length
/// (extra entries of the longer one count against it).
pub fn total_variation(p: &[f64], q: &[f64]) -> f64 {
    let common: f64 = p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum();
    let rest: f64 = if p.len() > q.len() {
        p[q.len()..].iter().map(|a| a.abs()).sum()
    } else {
        q[p.len()..].iter().map(|b| b.abs()).sum()
    };
    0.5 * (common + rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_density_and_current_by_hand() {
        let grid = Grid2d::new(2, 2, [0.0, 2.0, 0.0, 2.0]).expect("valid");
        let mut h = GridHistogram::new(grid, 1);
        // Burn-in unit: ignored.
        h.observe(0, 0, &[0.5, 0.5], &[1.5, 0.5]);
        // In cell 0, moving right across the face: midpoint (1.0, 0.5) lands in cell 1.
        h.observe(0, 1, &[0.5, 0.5], &[1.5, 0.5]);
        // In cell 3, small move up.
        h.observe(0, 2, &[1.5, 1.5], &[1.5, 1.7]);
        // Outside.
        h.observe(0, 3, &[5.0, 5.0], &[5.0, 6.0]);
        let mut other = h.fork();
        other.observe(1, 4, &[0.5, 1.5], &[0.5, 1.5]);
        h.merge(other);
        assert_eq!(h.samples(), 4);
        assert!((h.outside_fraction() - 0.25).abs() < 1e-15);
        assert_eq!(h.density(), vec![1.0 / 3.0, 0.0, 1.0 / 3.0, 1.0 / 3.0]);
        let j = h.current();
        assert!((j[1][0] - 1.0 / 4.0).abs() < 1e-15);
        assert!((j[3][1] - 0.2 / 4.0).abs() < 1e-12);
        assert_eq!(j[0], [0.0, 0.0]);
    }

    #[test]
    fn total_variation_basics() {
        assert_eq!(total_variation(&[0.5, 0.5], &[0.5, 0.5]), 0.0);
        assert!((total_variation(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-15);
        assert!((total_variation(&[0.2, 0.8], &[0.4, 0.6]) - 0.2).abs() < 1e-15);
    }
}
