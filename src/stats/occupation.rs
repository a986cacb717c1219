//! Occupation of the wells: the fraction of walkers near each minimum, simulated against
//! predicted, with its sampling error (docs/theory.md §9.5).
//!
//! # Near a minimum: its basin of attraction
//!
//! A point belongs to the minimum that steepest descent of the full loss `L` leads it to. On
//! the grid of the Fokker–Planck solve this is computed once per grid: every cell points to the
//! neighbour (of its eight) with the steepest descent `(L(here) − L(there)) / distance`, or to
//! itself when no neighbour is lower; following the pointers ends in a sink, and a sink belongs
//! to the minimum in its cell, or else (a sink on the box edge, where `L` keeps falling
//! outward) to the nearest minimum. Points outside the grid belong to the nearest minimum.
//! The separatrix then runs through the saddle, which a nearest-minimum rule (in any fixed
//! metric) only does for symmetric wells.
//!
//! # Predicted against simulated
//!
//! The predicted occupation of basin `b` is the Fokker–Planck mass `P_b = Σ_{cells in b} π`.
//! The simulated one is the fraction of samples in `b`. Under the hypothesis that the walkers
//! sample the stationary state, that fraction has the standard error
//! `sqrt(P_b (1 − P_b) / n_eff)`:
//!
//! - walkers are independent, so a snapshot of `W` walkers at one time has `n_eff = W`;
//! - across time one walker's samples are correlated: the basin indicator of a two-state
//!   hopping process has the autocorrelation `e^{−|t|/τ}`, `τ` the relaxation time, so the
//!   average over `R` consecutive units carries [`effective_samples_per_walker`]`(R, τ)`
//!   independent samples (`≈ R/(2τ)` for `R ≫ τ ≫ 1`, 1 for `R ≪ τ`), and
//!   `n_eff = W · effective_samples_per_walker(R, τ)`.

use rayon::prelude::*;
use std::sync::Arc;

use serde::Serialize;

use crate::dynamics::Observer;
use crate::theory::fokker_planck::Grid2d;

/// Why basins cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OccupationError {
    /// No minimum was given.
    #[error("occupations need at least one minimum")]
    NoMinima,
    /// The loss is not finite at a cell centre.
    #[error("the loss is not finite at w = ({}, {})", at[0], at[1])]
    NonFiniteLoss {
        /// The cell centre.
        at: [f64; 2],
    },
}

/// The basins of attraction of steepest descent on a grid (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct Basins {
    grid: Grid2d,
    minima: Vec<[f64; 2]>,
    /// Basin (index into `minima`) of every cell, row-major.
    labels: Vec<usize>,
}

impl Basins {
    /// Basins of steepest descent of `loss` on the cell centres of `grid`, one per minimum
    /// (minima in the same cell are merged, the first kept).
    pub fn gradient_flow(
        grid: &Grid2d,
        loss: &(dyn Fn([f64; 2]) -> f64 + Sync),
        minima: &[[f64; 2]],
    ) -> Result<Self, OccupationError> {
        let mut kept: Vec<[f64; 2]> = Vec::new();
        for m in minima {
            let duplicate = kept
                .iter()
                .any(|k| grid.locate(*k).is_some() && grid.locate(*k) == grid.locate(*m));
            if !duplicate && m.iter().all(|x| x.is_finite()) {
                kept.push(*m);
            }
        }
        if kept.is_empty() {
            return Err(OccupationError::NoMinima);
        }
        let values: Vec<f64> = (0..grid.cells())
            .into_par_iter()
            .map(|c| loss(grid.centre_of(c)))
            .collect();
        if let Some(c) = values.iter().position(|v| !v.is_finite()) {
            return Err(OccupationError::NonFiniteLoss {
                at: grid.centre_of(c),
            });
        }
        let next = descent_pointers(grid, &values);
        let nearest = |w: [f64; 2]| nearest_minimum(&kept, w);
        let mut sink_label = vec![usize::MAX; grid.cells()];
        for (b, m) in kept.iter().enumerate() {
            if let Some(c) = grid.locate(*m) {
                sink_label[c] = b;
            }
        }
        let mut labels = vec![usize::MAX; grid.cells()];
        let mut path = Vec::new();
        for start in 0..grid.cells() {
            let mut c = start;
            path.clear();
            while labels[c] == usize::MAX && next[c] != c {
                path.push(c);
                c = next[c];
            }
            let label = if labels[c] != usize::MAX {
                labels[c]
            } else if sink_label[c] != usize::MAX {
                sink_label[c]
            } else {
                nearest(grid.centre_of(c))
            };
            labels[c] = label;
            for &p in &path {
                labels[p] = label;
            }
        }
        Ok(Self {
            grid: *grid,
            minima: kept,
            labels,
        })
    }

    /// The minima, one per basin.
    pub fn minima(&self) -> &[[f64; 2]] {
        &self.minima
    }

    /// The basin of every cell, row-major.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The basin of a point: its cell's, or the nearest minimum's outside the grid.
    pub fn basin_of(&self, w: [f64; 2]) -> usize {
        match self.grid.locate(w) {
            Some(c) => self.labels[c],
            None => nearest_minimum(&self.minima, w),
        }
    }

    /// Mass per basin of a mass vector on the grid (e.g. the Fokker–Planck `π`; negative
    /// round-off counts as zero), normalised to sum to 1 (all zeros for an empty vector).
    pub fn masses(&self, density: &[f64]) -> Vec<f64> {
        let mut masses = vec![0.0; self.minima.len()];
        for (m, &label) in density.iter().zip(&self.labels) {
            masses[label] += m.max(0.0);
        }
        let total: f64 = masses.iter().sum();
        if total > 0.0 {
            masses.iter_mut().for_each(|m| *m /= total);
        }
        masses
    }

    /// Samples per basin from per-cell counts on the grid (e.g. a histogram's counts).
    pub fn count_cells(&self, counts: &[u64]) -> Vec<u64> {
        let mut out = vec![0; self.minima.len()];
        for (n, &label) in counts.iter().zip(&self.labels) {
            out[label] += n;
        }
        out
    }

    /// Samples per basin from positions (the first two coordinates of each; non-finite
    /// positions are skipped).
    pub fn count_positions<'a>(&self, positions: impl Iterator<Item = &'a [f64]>) -> Vec<u64> {
        let mut out = vec![0; self.minima.len()];
        for w in positions.filter(|w| w.len() >= 2 && w[0].is_finite() && w[1].is_finite()) {
            out[self.basin_of([w[0], w[1]])] += 1;
        }
        out
    }
}

/// Index of the minimum nearest to `w` (Euclidean).
fn nearest_minimum(minima: &[[f64; 2]], w: [f64; 2]) -> usize {
    let distance = |m: &[f64; 2]| (m[0] - w[0]).hypot(m[1] - w[1]);
    (0..minima.len())
        .min_by(|&a, &b| distance(&minima[a]).total_cmp(&distance(&minima[b])))
        .unwrap_or(0)
}

/// For every cell, the neighbour of steepest descent (itself if none is lower).
fn descent_pointers(grid: &Grid2d, values: &[f64]) -> Vec<usize> {
    let [hx, hy] = grid.cell_size();
    let (nx, ny) = (grid.nx as i64, grid.ny as i64);
    (0..grid.cells())
        .map(|c| {
            let (ix, iy) = ((c % grid.nx) as i64, (c / grid.nx) as i64);
            let mut best = (0.0, c);
            for (dx, dy) in [
                (-1, -1),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ] {
                let (tx, ty) = (ix + dx, iy + dy);
                if tx < 0 || ty < 0 || tx >= nx || ty >= ny {
                    continue;
                }
                let t = grid.index(tx as usize, ty as usize);
                let slope = (values[c] - values[t]) / (dx as f64 * hx).hypot(dy as f64 * hy);
                if slope > best.0 {
                    best = (slope, t);
                }
            }
            best.1
        })
        .collect()
}

/// The simulated side of the occupation check: samples per basin of every walker-unit from
/// `burn_in` on (the position at the start of each unit, as the grid histogram records it), and
/// the basin of every walker at its latest unit (a snapshot: [`BasinCounts::current`]). An
/// [`Observer`]; walkers outside the grid belong to the nearest minimum.
#[derive(Clone, Debug, PartialEq)]
pub struct BasinCounts {
    basins: Arc<Basins>,
    burn_in: u64,
    recorded: Vec<u64>,
    /// Per basin, the walkers whose latest position lies in it, with the unit it was seen at.
    latest: Vec<u64>,
    latest_unit: u64,
}

impl BasinCounts {
    /// Empty counts on `basins`, recording units `burn_in..`.
    pub fn new(basins: Arc<Basins>, burn_in: u64) -> Self {
        let n = basins.minima().len();
        Self {
            basins,
            burn_in,
            recorded: vec![0; n],
            latest: vec![0; n],
            latest_unit: 0,
        }
    }

    /// The basins counted in.
    pub fn basins(&self) -> &Arc<Basins> {
        &self.basins
    }

    /// Samples per basin over the recorded units.
    pub fn recorded(&self) -> &[u64] {
        &self.recorded
    }

    /// Walkers per basin at the latest unit observed (after its step).
    pub fn current(&self) -> &[u64] {
        &self.latest
    }

    fn count(&mut self, unit: u64, before: [f64; 2], after: [f64; 2]) {
        if unit >= self.burn_in {
            self.recorded[self.basins.basin_of(before)] += 1;
        }
        if unit > self.latest_unit {
            self.latest.iter_mut().for_each(|n| *n = 0);
            self.latest_unit = unit;
        }
        if unit == self.latest_unit {
            self.latest[self.basins.basin_of(after)] += 1;
        }
    }
}

impl Observer for BasinCounts {
    fn fork(&self) -> Self {
        Self::new(self.basins.clone(), self.burn_in)
    }

    fn observe(&mut self, _walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        let finite = |w: &[f64]| w.len() >= 2 && w[0].is_finite() && w[1].is_finite();
        if finite(before) && finite(after) {
            self.count(unit, [before[0], before[1]], [after[0], after[1]]);
        }
    }

    fn merge(&mut self, other: Self) {
        self.recorded
            .iter_mut()
            .zip(&other.recorded)
            .for_each(|(a, b)| *a += b);
        match other.latest_unit.cmp(&self.latest_unit) {
            std::cmp::Ordering::Greater => {
                self.latest = other.latest;
                self.latest_unit = other.latest_unit;
            }
            std::cmp::Ordering::Equal => self
                .latest
                .iter_mut()
                .zip(&other.latest)
                .for_each(|(a, b)| *a += b),
            std::cmp::Ordering::Less => {}
        }
    }

    /// Recorded counts are per walker-unit, and the latest counts only the newest unit, which
    /// every walker of an interleaved group reaches: the order of arrival does not matter.
    fn accepts_interleaved_walkers(&self) -> bool {
        true
    }
}

/// One basin's occupation, simulated against predicted (the JSON's `sim.occupations` entry).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Occupation {
    /// The minimum whose basin this is.
    pub minimum: [f64; 2],
    /// Fraction of the simulated samples in the basin.
    pub simulated: f64,
    /// Fokker–Planck mass of the basin.
    pub predicted: f64,
    /// Standard error of `simulated` if the walkers sampled the predicted state,
    /// `sqrt(predicted (1 − predicted) / n_eff)`.
    pub error: f64,
}

impl Occupation {
    /// `|simulated − predicted|` in standard errors (infinite for a zero error and a
    /// difference).
    pub fn deviation_in_errors(&self) -> f64 {
        let difference = (self.simulated - self.predicted).abs();
        if difference == 0.0 {
            0.0
        } else {
            difference / self.error
        }
    }
}

/// Occupations of every basin: `predicted` from the grid masses `density`, `simulated` from
/// `counts` per basin (from [`Basins::count_cells`] or [`Basins::count_positions`]), with the
/// error for `effective_samples` independent samples. Empty when there are no samples.
pub fn compare_occupations(
    basins: &Basins,
    density: &[f64],
    counts: &[u64],
    effective_samples: f64,
) -> Vec<Occupation> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return Vec::new();
    }
    basins
        .minima()
        .iter()
        .zip(basins.masses(density))
        .zip(counts)
        .map(|((minimum, predicted), &count)| Occupation {
            minimum: *minimum,
            simulated: count as f64 / total as f64,
            predicted,
            error: (predicted * (1.0 - predicted)).max(0.0).sqrt()
                / effective_samples.max(f64::MIN_POSITIVE).sqrt(),
        })
        .collect()
}

/// Independent samples carried by the average of `recorded` consecutive time units of one
/// walker, for a quantity whose autocorrelation is `ρ^k`, `ρ = e^{−1/τ}` (the basin indicator
/// of two-state hopping, `τ` the relaxation time):
///
/// ```text
/// n_eff = R / [ (1 + ρ)/(1 − ρ) − 2ρ (1 − ρ^R) / (R (1 − ρ)²) ],
/// ```
///
/// the exact variance of the mean of `R` such samples. Between 1 and `R`; `R` itself when
/// `τ = 0`, and `recorded` when it is below one unit.
pub fn effective_samples_per_walker(recorded: f64, relaxation_time: f64) -> f64 {
    if recorded.is_nan() || recorded < 1.0 {
        return recorded.max(0.0);
    }
    if relaxation_time.is_nan() || relaxation_time <= 0.0 {
        return recorded;
    }
    if !relaxation_time.is_finite() || recorded / relaxation_time < 1e-3 {
        // The bracket below cancels to `R (1 + O(R/τ))`: one sample.
        return 1.0;
    }
    let rho = (-1.0 / relaxation_time).exp();
    let one_minus_rho = -(-1.0 / relaxation_time).exp_m1();
    let one_minus_rho_r = -(-recorded / relaxation_time).exp_m1();
    let bracket = (1.0 + rho) / one_minus_rho
        - 2.0 * rho * one_minus_rho_r / (recorded * one_minus_rho * one_minus_rho);
    (recorded / bracket).clamp(1.0, recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The asymmetric double well `L = (x² − 1)²/4 + 0.3 x + y²/2`: the separatrix sits at the
    /// maximum of `L` along `x` (the root of `x³ − x + 0.3 = 0` between the wells, at
    /// `x ≈ 0.3389`), not halfway between the minima.
    #[test]
    fn basins_split_at_the_saddle() {
        let loss =
            |w: [f64; 2]| 0.25 * (w[0] * w[0] - 1.0).powi(2) + 0.3 * w[0] + 0.5 * w[1] * w[1];
        // Minima: the other roots of x³ − x + 0.3 = 0, x ≈ −1.1254 and 0.7866.
        let minima = [[-1.125_4, 0.0], [0.786_6, 0.0]];
        let grid = Grid2d::new(300, 31, [-2.0, 2.0, -1.0, 1.0]).expect("grid");
        let basins = Basins::gradient_flow(&grid, &loss, &minima).expect("basins");
        let saddle = 0.338_9;
        for c in 0..grid.cells() {
            let x = grid.centre_of(c)[0];
            // Cells within one width of the saddle may go either way.
            if (x - saddle).abs() > 4.0 / 300.0 {
                assert_eq!(basins.labels()[c], usize::from(x > saddle), "x = {x}");
            }
        }
        assert_eq!(basins.basin_of([5.0, 0.0]), 1);
        assert_eq!(basins.basin_of([-5.0, 9.0]), 0);
        let counts = basins.count_positions(
            [[0.0, 0.0], [0.5, 0.1], [f64::NAN, 0.0]]
                .iter()
                .map(|w| &w[..]),
        );
        assert_eq!(counts, vec![1, 1]);
    }

    #[test]
    fn masses_and_comparison() {
        let grid = Grid2d::new(4, 1, [0.0, 4.0, 0.0, 1.0]).expect("grid");
        let loss = |w: [f64; 2]| (w[0] - 0.5).powi(2) * (w[0] - 3.5).powi(2);
        let basins = Basins::gradient_flow(&grid, &loss, &[[0.5, 0.5], [3.5, 0.5], [0.6, 0.5]])
            .expect("basins");
        assert_eq!(
            basins.minima().len(),
            2,
            "the third minimum shares the first's cell"
        );
        assert_eq!(basins.labels(), &[0, 0, 1, 1]);
        let masses = basins.masses(&[0.1, 0.2, 0.3, 0.4]);
        assert!((masses[0] - 0.3).abs() < 1e-15 && (masses[1] - 0.7).abs() < 1e-15);
        let occupations = compare_occupations(&basins, &[0.1, 0.2, 0.3, 0.4], &[10, 30], 100.0);
        assert!((occupations[0].simulated - 0.25).abs() < 1e-15);
        assert!((occupations[0].error - (0.21_f64 / 100.0).sqrt()).abs() < 1e-15);
        assert!(
            (occupations[0].deviation_in_errors() - 0.05 / 0.21_f64.sqrt() * 10.0).abs() < 1e-12
        );
        assert!(compare_occupations(&basins, &[0.5; 4], &[0, 0], 1.0).is_empty());
    }

    /// `BasinCounts` records `before` from the burn-in on, keeps the latest unit's `after` as
    /// the snapshot, and merges parts of the same units by adding them and a later unit by
    /// replacing them.
    #[test]
    fn basin_counts_record_and_snapshot() {
        let grid = Grid2d::new(4, 1, [0.0, 4.0, 0.0, 1.0]).expect("grid");
        let loss = |w: [f64; 2]| (w[0] - 0.5).powi(2) * (w[0] - 3.5).powi(2);
        let basins =
            Arc::new(Basins::gradient_flow(&grid, &loss, &[[0.5, 0.5], [3.5, 0.5]]).expect("b"));
        let mut counts = BasinCounts::new(basins, 1);
        let (left, right) = ([0.5, 0.5], [3.5, 0.5]);
        let mut part = counts.fork();
        part.observe(0, 0, &left, &left); // burn-in: not recorded
        part.observe(0, 1, &left, &right);
        part.observe(1, 1, &right, &right);
        part.observe(0, 2, &right, &right);
        part.observe(1, 2, &right, &left);
        let mut other = counts.fork();
        other.observe(2, 1, &left, &left);
        other.observe(2, 2, &left, &[f64::NAN, 0.0]); // diverged: skipped
        counts.merge(part);
        counts.merge(other);
        // Recorded (unit ≥ 1, by the position before the step): left at (0, 1) and (2, 1);
        // right at (1, 1), (0, 2) and (1, 2); the diverged step is skipped.
        assert_eq!(counts.recorded(), &[2, 3]);
        assert_eq!(counts.current(), &[1, 1]);
        let mut later = counts.fork();
        later.observe(0, 3, &right, &right);
        counts.merge(later);
        assert_eq!(counts.recorded(), &[2, 4]);
        assert_eq!(counts.current(), &[0, 1]);
    }

    /// The effective sample size against the variance of the mean of a simulated AR(1) chain
    /// `x_{k+1} = ρ x_k + sqrt(1 − ρ²) ξ`: 4000 chains of 200 steps at τ = 10 (ρ = e^{−0.1}).
    /// The variance of the 4000 chain means is estimated to ±2.2% (√(2/4000)), so the formula
    /// must match to within 10%.
    #[test]
    fn effective_samples_match_an_ar1_chain() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        let (tau, length, chains) = (10.0_f64, 200usize, 4000usize);
        let rho = (-1.0 / tau).exp();
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let means: Vec<f64> = (0..chains)
            .map(|_| {
                let mut x: f64 = StandardNormal.sample(&mut rng);
                let mut sum = 0.0;
                for _ in 0..length {
                    sum += x;
                    let xi: f64 = StandardNormal.sample(&mut rng);
                    x = rho * x + (1.0 - rho * rho).sqrt() * xi;
                }
                sum / length as f64
            })
            .collect();
        let variance = means.iter().map(|m| m * m).sum::<f64>() / chains as f64;
        let predicted = effective_samples_per_walker(length as f64, tau);
        let measured = 1.0 / variance;
        assert!(
            (measured / predicted - 1.0).abs() < 0.1,
            "{measured} vs {predicted}"
        );
        // Limits.
        assert_eq!(effective_samples_per_walker(500.0, 0.0), 500.0);
        assert_eq!(effective_samples_per_walker(500.0, 1e20), 1.0);
        // R ≫ τ: n_eff → R (1 − ρ)/(1 + ρ) ≈ R/(2τ).
        let long = 1e6 * (1.0 - rho) / (1.0 + rho);
        assert!((effective_samples_per_walker(1e6, 10.0) / long - 1.0).abs() < 1e-4);
        assert_eq!(effective_samples_per_walker(0.0, 10.0), 0.0);
    }
}
