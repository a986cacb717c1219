//! Density and current histograms on a 2-D grid (docs/theory.md §7.3), to hold against the
//! Fokker–Planck solution of [`crate::theory::fokker_planck`], and [`CurrentField`]: a
//! density and current on a grid, simulated or predicted, with what the views and reports
//! derive from it.
//!
//! - Density: the position at the start of every time unit after burn-in (every step with
//!   replacement, every epoch boundary without) is binned; [`GridHistogram::density`] gives
//!   the mass per cell normalised over the samples that fell inside the grid, and
//!   [`GridHistogram::outside_fraction`] the rest.
//! - Current: each unit's displacement `Δw` is binned at the cell of its midpoint
//!   `(w_n + w_{n+1})/2`, and `J(cell) ≈ Σ Δw / (samples · cell area)`, normalised by all
//!   walker-units observed, inside the grid or not.
//! - Standard error of the current: see [`GridHistogram::field`].

use crate::dynamics::Observer;
use crate::theory::exact::Gaussian;
use crate::theory::fokker_planck::Grid2d;

use super::add_into;

/// Independent walker groups (walker index mod `CURRENT_GROUPS`) behind the current's
/// standard error.
pub const CURRENT_GROUPS: usize = 32;

/// Mass inside the `2σ` ellipse of a 2-D Gaussian, `1 − e⁻²`: the mass of the region in which
/// [`CurrentField::significant_fraction`] counts cells.
pub const TWO_SIGMA_MASS: f64 = 0.864_664_716_763_387_3;

/// One walker-unit recorded by a fork: the cells of its position and of its midpoint
/// (`u32::MAX` outside the grid), its walker group and its displacement.
#[derive(Clone, Copy, Debug)]
struct Event {
    position: u32,
    midpoint: u32,
    group: u8,
    step: [f64; 2],
}

const OUTSIDE: u32 = u32::MAX;

/// An [`Observer`] accumulating the density histogram and the midpoint-binned current of the
/// first two coordinates of every walker, the current per walker group for its standard error.
///
/// Only the root holds the dense grid (`CURRENT_GROUPS` displacement sums per cell); the
/// per-chunk forks made by [`Ensemble::advance`](crate::dynamics::Ensemble::advance) (one per
/// 64 walkers) record their events in a list, so a fork costs no grid-sized allocation and a
/// merge touches only the cells hit. Merges replay events in chunk order: results do not
/// depend on the number of threads.
#[derive(Clone, Debug)]
pub struct GridHistogram {
    grid: Grid2d,
    burn_in: u64,
    /// Walker-units observed after burn-in, per group.
    group_samples: [u64; CURRENT_GROUPS],
    /// Samples whose position fell outside the grid.
    outside: u64,
    /// Root only: counts per cell.
    counts: Vec<u64>,
    /// Root only: `Σ Δw` per cell and group, cell-major (`cell · CURRENT_GROUPS + group`), so
    /// that a cell's groups sit side by side.
    displacement: Vec<[f64; 2]>,
    /// Forks only: the events to replay at the root.
    events: Vec<Event>,
}

impl GridHistogram {
    /// An empty histogram of units `burn_in..` on `grid`.
    pub fn new(grid: Grid2d, burn_in: u64) -> Self {
        let n = grid.cells();
        Self {
            grid,
            burn_in,
            group_samples: [0; CURRENT_GROUPS],
            outside: 0,
            counts: vec![0; n],
            displacement: vec![[0.0; 2]; n * CURRENT_GROUPS],
            events: Vec::new(),
        }
    }

    /// The grid.
    pub fn grid(&self) -> &Grid2d {
        &self.grid
    }

    /// Walker-units observed after burn-in (inside the grid or not).
    pub fn samples(&self) -> u64 {
        self.group_samples.iter().sum()
    }

    /// Raw counts per cell, row-major (of a histogram that holds the dense grid: the one an
    /// ensemble advanced, or any that merged one; a bare fork's counts are still in its list of
    /// events, and this is empty).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Fold the list of events of a fork into dense arrays: it becomes a histogram like the
    /// root.
    fn densify(&mut self) {
        if !self.counts.is_empty() {
            return;
        }
        let cells = self.grid.cells();
        self.counts = vec![0; cells];
        self.displacement = vec![[0.0; 2]; cells * CURRENT_GROUPS];
        for event in std::mem::take(&mut self.events) {
            self.add(event);
        }
    }

    /// This histogram with dense arrays (a copy, for a fork).
    fn dense(&self) -> std::borrow::Cow<'_, Self> {
        if self.counts.is_empty() {
            let mut copy = self.clone();
            copy.densify();
            std::borrow::Cow::Owned(copy)
        } else {
            std::borrow::Cow::Borrowed(self)
        }
    }

    /// Fraction of samples whose position fell outside the grid (0 before any sample).
    pub fn outside_fraction(&self) -> f64 {
        match self.samples() {
            0 => 0.0,
            samples => self.outside as f64 / samples as f64,
        }
    }

    /// Mass per cell, row-major, normalised over the samples inside the grid (sums to 1; all
    /// zeros before any sample inside).
    pub fn density(&self) -> Vec<f64> {
        let inside = self.samples() - self.outside;
        if inside == 0 {
            return vec![0.0; self.grid.cells()];
        }
        self.dense()
            .counts
            .iter()
            .map(|&c| c as f64 / inside as f64)
            .collect()
    }

    /// Current at cell centres, `Σ Δw / (samples · cell area)` per cell (probability per unit
    /// length per time unit), all zeros before any sample.
    pub fn current(&self) -> Vec<[f64; 2]> {
        self.field(1).current
    }

    /// The density, the current and its standard error, averaged over blocks of
    /// `block × block` cells (1: the cells themselves; see [`coarse_grid`]).
    ///
    /// The standard error is honest for correlated walker-steps. Successive units of one
    /// walker are correlated (a walker stays near a cell for about a relaxation time), so the
    /// scatter of single displacements underestimates the error. Walkers are independent,
    /// though: the walkers of group `g` (index mod [`CURRENT_GROUPS`]) give an estimate
    /// `J_g = Σ_g Δw / (S_g · area)` from their own `S_g` samples, and the `G` group estimates
    /// are independent and identically distributed whatever the correlation in time (batch
    /// means over walkers, docs/theory.md §7.3). With `J = Σ_g S_g J_g / S` and
    /// `w_g = S_g / S̄`,
    ///
    /// ```text
    /// s²(J_a) = G/(G − 1) · Σ_g w_g (J_{g,a} − J_a)² / Σ_g w_g,     se²(J_a) = s²(J_a) / G,
    /// ```
    ///
    /// per component `a`, and the error of the vector is the root-mean-square error
    /// `se(J) = sqrt(se²(J_x) + se²(J_y))`. For `J = 0` and isotropic Gaussian errors
    /// `|Ĵ|²/se² ~ χ²₂/2`, so `|Ĵ| > 2 se` happens with probability `e⁻⁴ ≈ 1.8 %`.
    pub fn field(&self, block: usize) -> CurrentField {
        let dense = self.dense();
        let (counts, displacement) = (&dense.counts, &dense.displacement);
        let coarse = coarse_grid(&self.grid, block);
        let block = block.clamp(1, self.grid.nx.min(self.grid.ny));
        let samples = self.samples();
        let inside = samples - self.outside;
        let area = self.grid.cell_area() * (block * block) as f64;
        // Per group: its samples and the factor from a displacement sum to its current.
        let groups: Vec<(usize, f64, f64)> = (0..CURRENT_GROUPS)
            .filter(|&g| self.group_samples[g] > 0)
            .map(|g| {
                let n = self.group_samples[g] as f64;
                (g, n, 1.0 / (n * area))
            })
            .collect();
        let mut mass = vec![0.0; coarse.cells()];
        let mut current = vec![[0.0; 2]; coarse.cells()];
        let mut error = vec![0.0; coarse.cells()];
        for target in 0..coarse.cells() {
            let (bx, by) = (target % coarse.nx, target / coarse.nx);
            let mut sums = [[0.0; 2]; CURRENT_GROUPS];
            for iy in by * block..(by + 1) * block {
                for ix in bx * block..(bx + 1) * block {
                    let cell = self.grid.index(ix, iy);
                    mass[target] += counts[cell] as f64;
                    let row = &displacement[cell * CURRENT_GROUPS..][..CURRENT_GROUPS];
                    for (sum, d) in sums.iter_mut().zip(row) {
                        sum[0] += d[0];
                        sum[1] += d[1];
                    }
                }
            }
            if inside > 0 {
                mass[target] /= inside as f64;
            }
            if samples > 0 && sums.iter().any(|s| *s != [0.0; 2]) {
                (current[target], error[target]) = group_estimate(&sums, &groups, samples, area);
            }
        }
        CurrentField {
            grid: coarse,
            mass,
            current,
            current_error: Some(error),
        }
    }

    fn record(&mut self, event: Event) {
        if self.counts.is_empty() {
            self.events.push(event);
        } else {
            self.add(event);
        }
    }

    fn add(&mut self, event: Event) {
        if event.position != OUTSIDE {
            self.counts[event.position as usize] += 1;
        }
        if event.midpoint != OUTSIDE {
            let slot = event.midpoint as usize * CURRENT_GROUPS + event.group as usize;
            self.displacement[slot][0] += event.step[0];
            self.displacement[slot][1] += event.step[1];
        }
    }
}

impl Observer for GridHistogram {
    fn fork(&self) -> Self {
        Self {
            grid: self.grid,
            burn_in: self.burn_in,
            group_samples: [0; CURRENT_GROUPS],
            outside: 0,
            counts: Vec::new(),
            displacement: Vec::new(),
            events: Vec::with_capacity(1024),
        }
    }

    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        if unit < self.burn_in || before.len() < 2 || after.len() < 2 {
            return;
        }
        let group = walker % CURRENT_GROUPS;
        self.group_samples[group] += 1;
        let cell = |w: [f64; 2]| self.grid.locate(w).map_or(OUTSIDE, |c| c as u32);
        let position = cell([before[0], before[1]]);
        if position == OUTSIDE {
            self.outside += 1;
        }
        let midpoint = cell([0.5 * (before[0] + after[0]), 0.5 * (before[1] + after[1])]);
        self.record(Event {
            position,
            midpoint,
            group: group as u8,
            step: [after[0] - before[0], after[1] - before[1]],
        });
    }

    /// Each walker-unit is binned on its own (the group is the walker's index).
    fn accepts_interleaved_walkers(&self) -> bool {
        true
    }

    fn merge(&mut self, other: Self) {
        add_into(&mut self.group_samples, &other.group_samples);
        self.outside += other.outside;
        for event in other.events {
            self.record(event);
        }
        if !other.counts.is_empty() {
            self.densify();
            add_into(&mut self.counts, &other.counts);
            self.displacement
                .iter_mut()
                .zip(&other.displacement)
                .for_each(|(m, t)| {
                    m[0] += t[0];
                    m[1] += t[1];
                });
        }
    }
}

/// `J` of one cell or block from its per-group displacement sums, and its standard error:
/// [`weighted_group_error`](super::weighted_group_error) per component, in one pass over the
/// groups (this runs for every cell of every snapshot the app draws; a test holds the two equal). `groups` holds each
/// group with samples, its sample count `S_g` and the factor `1/(S_g · area)`. A cell no
/// walker crossed has `J = 0` and error 0: callers skip it.
fn group_estimate(
    sums: &[[f64; 2]; CURRENT_GROUPS],
    groups: &[(usize, f64, f64)],
    samples: u64,
    area: f64,
) -> ([f64; 2], f64) {
    let scale = 1.0 / (samples as f64 * area);
    let mut total = [0.0; 2];
    for s in sums {
        total[0] += s[0];
        total[1] += s[1];
    }
    let j = [total[0] * scale, total[1] * scale];
    let (mut spread, mut weight) = (0.0, 0.0);
    for &(g, n, group_scale) in groups {
        let dx = sums[g][0] * group_scale - j[0];
        let dy = sums[g][1] * group_scale - j[1];
        spread += n * (dx * dx + dy * dy);
        weight += n;
    }
    let k = groups.len() as f64;
    if k < 2.0 {
        return (j, f64::NAN);
    }
    (j, (spread / weight * k / (k - 1.0) / k).sqrt())
}

/// The grid of blocks of `block × block` cells of `grid` (`block` clamped to the grid): cells
/// beyond the last whole block are left out, so the bounds shrink to the blocks' edges.
pub fn coarse_grid(grid: &Grid2d, block: usize) -> Grid2d {
    let block = block.clamp(1, grid.nx.min(grid.ny).max(1));
    let (nx, ny) = (grid.nx / block, grid.ny / block);
    let [hx, hy] = grid.cell_size();
    let b = grid.bounds;
    // Where the blocks cover the grid, its bounds stay exactly as they were.
    let edge = |low: f64, high: f64, cells: usize, all: usize, h: f64| {
        if cells == all {
            high
        } else {
            low + cells as f64 * h
        }
    };
    Grid2d {
        nx,
        ny,
        bounds: [
            b[0],
            edge(b[0], b[1], nx * block, grid.nx, hx),
            b[2],
            edge(b[2], b[3], ny * block, grid.ny, hy),
        ],
    }
}

/// A probability density and current on a grid: simulated ([`GridHistogram::field`], with
/// the current's standard error) or predicted (a Fokker–Planck solution, exact on its grid).
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentField {
    /// The grid (of cells, or of blocks of cells).
    pub grid: Grid2d,
    /// Probability mass per cell, row-major, summing to one over the grid.
    pub mass: Vec<f64>,
    /// Probability current `J` per cell (probability per unit length per time unit).
    pub current: Vec<[f64; 2]>,
    /// Root-mean-square standard error of `J` per cell (simulation only).
    pub current_error: Option<Vec<f64>>,
}

impl CurrentField {
    /// A field known exactly (no standard error), e.g. a Fokker–Planck solution.
    pub fn exact(grid: Grid2d, mass: Vec<f64>, current: Vec<[f64; 2]>) -> Self {
        Self {
            grid,
            mass,
            current,
            current_error: None,
        }
    }

    /// An exact field averaged over blocks of `block × block` cells ([`coarse_grid`]): masses
    /// summed, currents averaged. A simulated field has no error once coarsened this way (the
    /// error of a block needs the walker groups: use [`GridHistogram::field`]), so it is
    /// dropped.
    pub fn block_average(&self, block: usize) -> Self {
        let coarse = coarse_grid(&self.grid, block);
        let block = block.clamp(1, self.grid.nx.min(self.grid.ny).max(1));
        let mut mass = vec![0.0; coarse.cells()];
        let mut current = vec![[0.0; 2]; coarse.cells()];
        let cells = (block * block) as f64;
        for iy in 0..coarse.ny * block {
            for ix in 0..coarse.nx * block {
                let cell = self.grid.index(ix, iy);
                let target = coarse.index(ix / block, iy / block);
                mass[target] += self.mass[cell];
                current[target][0] += self.current[cell][0] / cells;
                current[target][1] += self.current[cell][1] / cells;
            }
        }
        Self::exact(coarse, mass, current)
    }

    /// Largest probability density (mass per area).
    pub fn peak_density(&self) -> f64 {
        self.mass.iter().copied().fold(0.0, f64::max) / self.grid.cell_area()
    }

    /// Mean and covariance (row-major 2 × 2) of the density, from the cell centres.
    pub fn moments(&self) -> Gaussian {
        let total: f64 = self.mass.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let mut mean = [0.0; 2];
        for (cell, m) in self.mass.iter().enumerate() {
            let w = self.grid.centre_of(cell);
            mean[0] += m * w[0] / total;
            mean[1] += m * w[1] / total;
        }
        let mut cov = vec![0.0; 4];
        for (cell, m) in self.mass.iter().enumerate() {
            let w = self.grid.centre_of(cell);
            let x = [w[0] - mean[0], w[1] - mean[1]];
            cov[0] += m * x[0] * x[0] / total;
            cov[1] += m * x[0] * x[1] / total;
            cov[3] += m * x[1] * x[1] / total;
        }
        cov[2] = cov[1];
        Gaussian {
            mean: mean.to_vec(),
            cov,
        }
    }

    /// The stochastic area `C_12 = ∫ (x₁ J₂ − x₂ J₁)/2 dw`, `x = w − mean` (docs/theory.md
    /// §7.2, §8.4): in the stationary state the mean of `x ∘ dx` antisymmetrised is
    /// `∫ x Jᵀ dw`, the quantity [`crate::stats::Moments::area`] measures along trajectories.
    pub fn stochastic_area(&self, mean: [f64; 2]) -> f64 {
        let area = self.grid.cell_area();
        self.current
            .iter()
            .enumerate()
            .map(|(cell, j)| {
                let w = self.grid.centre_of(cell);
                let x = [w[0] - mean[0], w[1] - mean[1]];
                0.5 * (x[0] * j[1] - x[1] * j[0]) * area
            })
            .sum()
    }

    /// Whether the current of `cell` exceeds twice its standard error (always, for an exact
    /// field).
    pub fn is_significant(&self, cell: usize) -> bool {
        let j = self.current[cell];
        match &self.current_error {
            None => true,
            Some(error) => j[0].hypot(j[1]) > 2.0 * error[cell],
        }
    }

    /// The cells of the smallest set holding [`TWO_SIGMA_MASS`] of the mass (the densest
    /// first): for a Gaussian, the inside of its `2σ` ellipse.
    pub fn two_sigma_region(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.mass.len()).collect();
        order.sort_by(|&a, &b| self.mass[b].total_cmp(&self.mass[a]));
        let total: f64 = self.mass.iter().sum();
        let mut held = 0.0;
        let mut region = Vec::new();
        for cell in order {
            if held >= TWO_SIGMA_MASS * total || self.mass[cell] <= 0.0 {
                break;
            }
            held += self.mass[cell];
            region.push(cell);
        }
        region
    }

    /// Among the cells of the [`two_sigma_region`](Self::two_sigma_region), the fraction
    /// whose `|J|` exceeds two standard errors (docs/theory.md §7.3). Near zero in
    /// equilibrium (about `e⁻⁴` by chance, see [`GridHistogram::field`]), near one where the
    /// state circulates and enough walker-units were recorded. `None` without a standard
    /// error or without mass.
    pub fn significant_fraction(&self) -> Option<f64> {
        self.current_error.as_ref()?;
        let region = self.two_sigma_region();
        if region.is_empty() {
            return None;
        }
        let significant = region.iter().filter(|&&c| self.is_significant(c)).count();
        Some(significant as f64 / region.len() as f64)
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
    use crate::stats::weighted_group_error;

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
        // One 2 × 2 block: the whole grid, current averaged over its four cells.
        let whole = h.field(2);
        assert_eq!((whole.grid.nx, whole.grid.ny), (1, 1));
        assert!((whole.mass[0] - 1.0).abs() < 1e-15);
        assert!((whole.current[0][0] - 0.25 / 4.0).abs() < 1e-15);
    }

    /// Forks record events and the root replays them: splitting the walkers into chunks must
    /// give exactly the histogram of one pass.
    #[test]
    fn forked_histograms_merge_exactly() {
        let grid = Grid2d::square(8, [-1.1, 1.1, -1.1, 1.1]).expect("grid");
        let steps: Vec<([f64; 2], [f64; 2])> = (0..200)
            .map(|k| {
                let t = k as f64 * 0.37;
                (
                    [t.sin(), (1.3 * t).cos()],
                    [(t + 0.1).sin(), (1.3 * t + 0.2).cos()],
                )
            })
            .collect();
        let mut whole = GridHistogram::new(grid, 0);
        for (k, (a, b)) in steps.iter().enumerate() {
            whole.observe(k % 5, k as u64, a, b);
        }
        let mut root = GridHistogram::new(grid, 0);
        for (chunk, part_steps) in steps.chunks(37).enumerate() {
            let mut part = root.fork();
            for (k, (a, b)) in part_steps.iter().enumerate() {
                let index = chunk * 37 + k;
                part.observe(index % 5, index as u64, a, b);
            }
            root.merge(part);
        }
        assert_eq!(root.samples(), whole.samples());
        assert_eq!(root.density(), whole.density());
        assert_eq!(root.field(1), whole.field(1));
        assert!((whole.density().iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    /// A fork is a histogram in its own right: roots merged into a fresh fork, and a fork read
    /// directly, give what one histogram of all the samples gives.
    #[test]
    fn forks_read_and_merge_like_roots() {
        let grid = Grid2d::square(4, [0.0, 4.0, 0.0, 4.0]).expect("grid");
        let mut whole = GridHistogram::new(grid, 0);
        let mut parts = vec![GridHistogram::new(grid, 0), GridHistogram::new(grid, 0)];
        let mut fork = whole.fork();
        for k in 0..40u64 {
            let x = (k % 7) as f64 * 0.5 + 0.2;
            let (before, after) = ([x, 1.3], [x + 0.3, 1.1]);
            whole.observe(k as usize, k, &before, &after);
            parts[(k % 2) as usize].observe(k as usize, k, &before, &after);
            fork.observe(k as usize, k, &before, &after);
        }
        let mut merged = parts[0].fork();
        for part in parts {
            merged.merge(part);
        }
        assert_eq!(merged.density(), whole.density());
        assert_eq!(merged.field(2).mass, whole.field(2).mass);
        assert_eq!(fork.density(), whole.density());
        assert_eq!(fork.field(1), whole.field(1));
    }

    /// Groups that all measure the same current give a zero error; groups that disagree give
    /// the spread of their means over `√G`.
    #[test]
    fn standard_error_is_the_spread_of_the_groups() {
        let grid = Grid2d::square(1, [0.0, 1.0, 0.0, 1.0]).expect("grid");
        let mut agree = GridHistogram::new(grid, 0);
        let mut disagree = GridHistogram::new(grid, 0);
        for walker in 0..CURRENT_GROUPS {
            agree.observe(walker, 0, &[0.4, 0.5], &[0.6, 0.5]);
            let dx = if walker % 2 == 0 { 0.1 } else { -0.1 };
            disagree.observe(walker, 0, &[0.5, 0.5], &[0.5 + dx, 0.5]);
        }
        let field = agree.field(1);
        assert!((field.current[0][0] - 0.2).abs() < 1e-15);
        assert!(field.current_error.as_ref().expect("error")[0] < 1e-15);
        assert!(field.is_significant(0));
        let field = disagree.field(1);
        assert!(field.current[0][0].abs() < 1e-15);
        // Group means ±0.1, sample variance 0.01 · G/(G − 1), error sqrt(0.01/(G − 1)).
        let expected = (0.01 / (CURRENT_GROUPS as f64 - 1.0)).sqrt();
        let error = field.current_error.as_ref().expect("error")[0];
        assert!((error - expected).abs() < 1e-12, "{error} vs {expected}");
        assert!(!field.is_significant(0));
        assert_eq!(field.significant_fraction(), Some(0.0));
    }

    /// The one-pass estimate of a cell is `weighted_group_error` of its two components.
    #[test]
    fn one_pass_estimate_is_the_group_error_of_each_component() {
        let mut sums = [[0.0; 2]; CURRENT_GROUPS];
        let mut groups = Vec::new();
        let area = 0.25;
        for (g, s) in sums.iter_mut().enumerate().skip(3) {
            *s = [(g as f64 * 0.37).sin(), (g as f64 * 0.91).cos()];
            let n = (10 + g) as f64;
            groups.push((g, n, 1.0 / (n * area)));
        }
        let samples: u64 = groups.iter().map(|g| g.1 as u64).sum();
        let (j, error) = group_estimate(&sums, &groups, samples, area);
        let mut variance = 0.0;
        for a in 0..2 {
            let mean = sums.iter().map(|s| s[a]).sum::<f64>() / (samples as f64 * area);
            assert!((j[a] - mean).abs() < 1e-15);
            let means = groups.iter().map(|&(g, n, scale)| (n, sums[g][a] * scale));
            variance += weighted_group_error(means, mean).powi(2);
        }
        assert!((error - variance.sqrt()).abs() < 1e-12 * error, "{error}");
    }

    #[test]
    fn two_sigma_region_holds_the_densest_cells() {
        let grid = Grid2d::square(2, [0.0, 2.0, 0.0, 2.0]).expect("grid");
        let field = CurrentField::exact(grid, vec![0.5, 0.4, 0.05, 0.05], vec![[0.0; 2]; 4]);
        assert_eq!(field.two_sigma_region(), vec![0, 1]);
        assert_eq!(field.significant_fraction(), None, "exact: no error");
        let moments = field.moments();
        assert!(
            (moments.mean[0] - (0.5 * 0.5 + 0.4 * 1.5 + 0.05 * 0.5 + 0.05 * 1.5)).abs() < 1e-12
        );
    }

    #[test]
    fn block_average_sums_mass_and_averages_current() {
        let grid = Grid2d::square(4, [0.0, 4.0, 0.0, 4.0]).expect("grid");
        let field = CurrentField::exact(
            grid,
            vec![1.0 / 16.0; 16],
            (0..16).map(|k| [k as f64, 1.0]).collect(),
        );
        let coarse = field.block_average(2);
        assert_eq!(
            coarse.grid,
            Grid2d::square(2, [0.0, 4.0, 0.0, 4.0]).expect("grid")
        );
        assert!((coarse.mass[0] - 0.25).abs() < 1e-15);
        // Cells 0, 1, 4, 5.
        assert!((coarse.current[0][0] - 2.5).abs() < 1e-15);
        assert!((coarse.current[3][1] - 1.0).abs() < 1e-15);
        // A block size that does not divide the grid leaves the last cells out.
        let three = coarse_grid(&grid, 3);
        assert_eq!((three.nx, three.bounds[1]), (1, 3.0));
        // Whole blocks keep the bounds to the bit (fields on the grid compare equal).
        let odd = Grid2d::square(128, [-0.17, -0.037, -0.065, 0.045]).expect("grid");
        assert_eq!(coarse_grid(&odd, 1), odd);
        assert_eq!(coarse_grid(&odd, 8).bounds, odd.bounds);
    }

    #[test]
    fn total_variation_basics() {
        assert_eq!(total_variation(&[0.5, 0.5], &[0.5, 0.5]), 0.0);
        assert!((total_variation(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-15);
        assert!((total_variation(&[0.2, 0.8], &[0.4, 0.6]) - 0.2).abs() < 1e-15);
    }
}
