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
use crate::landscape::{LANES, Lanes};
use crate::theory::fokker_planck::{CellLocator, Grid2d};

use super::add_into;
pub use super::field::{CurrentField, TWO_SIGMA_MASS, coarse_grid, total_variation};

/// Independent walker groups (walker index mod `CURRENT_GROUPS`) behind the current's
/// standard error.
pub const CURRENT_GROUPS: usize = 32;

/// One walker-unit recorded by a fork: the cells of its position and of its midpoint
/// (`u32::MAX` outside the grid), its walker group and its displacement.
#[derive(Clone, Copy, Debug)]
struct Event {
    position: u32,
    midpoint: u32,
    group: u8,
    step: [f64; 2],
}

const OUTSIDE: u32 = CellLocator::OUTSIDE;

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
    /// The grid's cell lookup, precomputed.
    locator: CellLocator,
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
            locator: grid.locator(),
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

    /// One walker-unit after burn-in: `cells` of its position and midpoint, its `step`.
    #[inline(always)]
    fn record_unit(&mut self, walker: usize, [position, midpoint]: [u32; 2], step: [f64; 2]) {
        let group = walker % CURRENT_GROUPS;
        self.group_samples[group] += 1;
        if position == OUTSIDE {
            self.outside += 1;
        }
        self.record(Event {
            position,
            midpoint,
            group: group as u8,
            step,
        });
    }

    #[inline(always)]
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
            locator: self.locator,
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
        let (b, a) = ([before[0], before[1]], [after[0], after[1]]);
        let midpoint = [0.5 * (b[0] + a[0]), 0.5 * (b[1] + a[1])];
        let cells = [self.locator.cell(b), self.locator.cell(midpoint)];
        self.record_unit(walker, cells, [a[0] - b[0], a[1] - b[1]]);
    }

    /// The cells of a group's positions and midpoints in one loop over the lanes (which
    /// vectorises), then one event per live lane, in lane order as through `observe`.
    #[inline(always)]
    fn observe_lanes(
        &mut self,
        first_walker: usize,
        unit: u64,
        live: &[bool; LANES],
        before: &[Lanes],
        after: &[Lanes],
    ) {
        if unit < self.burn_in || before.len() < 2 || after.len() < 2 {
            return;
        }
        let (mut position, mut midpoint) = ([OUTSIDE; LANES], [OUTSIDE; LANES]);
        for l in 0..LANES {
            let (b, a) = ([before[0][l], before[1][l]], [after[0][l], after[1][l]]);
            position[l] = self.locator.cell(b);
            midpoint[l] = self
                .locator
                .cell([0.5 * (b[0] + a[0]), 0.5 * (b[1] + a[1])]);
        }
        if !self.counts.is_empty() {
            // A dense histogram (the root, fed directly) adds at once.
            for l in (0..LANES).filter(|&l| live[l]) {
                let step = [after[0][l] - before[0][l], after[1][l] - before[1][l]];
                self.record_unit(first_walker + l, [position[l], midpoint[l]], step);
            }
            return;
        }
        // A fork: the groups of the lanes are consecutive (LANES divides CURRENT_GROUPS and
        // `first_walker` is a multiple of LANES), and the events go in with one copy.
        const { assert!(CURRENT_GROUPS.is_multiple_of(LANES)) };
        let g = first_walker % CURRENT_GROUPS;
        let mut events = [Event {
            position: OUTSIDE,
            midpoint: OUTSIDE,
            group: 0,
            step: [0.0; 2],
        }; LANES];
        let mut n = 0;
        for l in 0..LANES {
            self.group_samples[g + l] += u64::from(live[l]);
            self.outside += u64::from(live[l] && position[l] == OUTSIDE);
            if live[l] {
                events[n] = Event {
                    position: position[l],
                    midpoint: midpoint[l],
                    group: (g + l) as u8,
                    step: [after[0][l] - before[0][l], after[1][l] - before[1][l]],
                };
                n += 1;
            }
        }
        self.events.extend_from_slice(&events[..n]);
    }

    /// Each walker-unit is binned on its own (the group is the walker's index).
    fn accepts_interleaved_walkers(&self) -> bool {
        true
    }

    /// A dense histogram takes the event lists of many forks in one parallel replay
    /// ([`replay_in_bands`](GridHistogram::replay_in_bands)); otherwise one by one.
    fn merge_all(&mut self, parts: Vec<Self>) {
        let events: usize = parts.iter().map(|p| p.events.len()).sum();
        if self.counts.is_empty() || parts.iter().any(|p| !p.counts.is_empty()) || events < 4096 {
            for part in parts {
                self.merge(part);
            }
            return;
        }
        for part in &parts {
            add_into(&mut self.group_samples, &part.group_samples);
            self.outside += part.outside;
        }
        self.replay_in_bands(&parts);
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

impl GridHistogram {
    /// Replay the events of `parts` into this dense histogram, in parallel: the cells are cut
    /// into bands, one task per band, and each task applies, in order, the events of every
    /// part that fall in its band. Each cell (and each of its group sums) sees its events in
    /// the same order as one-by-one merges would, so the bits do not depend on the bands or
    /// the threads.
    fn replay_in_bands(&mut self, parts: &[Self]) {
        use rayon::prelude::*;
        let cells = self.grid.cells();
        let bands = rayon::current_num_threads().max(1);
        let band = cells.div_ceil(bands).max(1);
        self.counts
            .par_chunks_mut(band)
            .zip(self.displacement.par_chunks_mut(band * CURRENT_GROUPS))
            .enumerate()
            .for_each(|(b, (counts, displacement))| {
                let first = b * band;
                let cells = first..first + counts.len();
                for event in parts.iter().flat_map(|p| &p.events) {
                    let position = event.position as usize;
                    if cells.contains(&position) {
                        counts[position - first] += 1;
                    }
                    let midpoint = event.midpoint as usize;
                    if cells.contains(&midpoint) {
                        let slot = (midpoint - first) * CURRENT_GROUPS + event.group as usize;
                        displacement[slot][0] += event.step[0];
                        displacement[slot][1] += event.step[1];
                    }
                }
            });
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

    /// The parallel replay of many forks' events gives the bits of one-by-one merges, with
    /// any number of threads (and so of bands): 40 000 walker-units over 12 forks on a 32²
    /// grid (and a grid of 3 cells), replayed with 1, 2 and 3 threads.
    #[test]
    fn parallel_replay_equals_sequential_merges() {
        // A grid of fewer cells than bands, too.
        for grid in [
            Grid2d::square(32, [-1.0, 1.0, -1.0, 1.0]).expect("grid"),
            Grid2d::new(3, 1, [-1.0, 1.0, -1.0, 1.0]).expect("grid"),
        ] {
            replay_matches(grid);
        }
    }

    fn replay_matches(grid: Grid2d) {
        let forks = |root: &GridHistogram| -> Vec<GridHistogram> {
            (0..12)
                .map(|f| {
                    let mut part = root.fork();
                    for k in 0..3333u64 {
                        let t = (f * 3333 + k as usize) as f64 * 0.013;
                        let before = [1.2 * (0.7 * t).sin(), (1.1 * t).cos()];
                        let after = [before[0] + 0.01 * t.cos(), before[1] - 0.02 * t.sin()];
                        part.observe(f * 7 + (k as usize % 5), k, &before, &after);
                    }
                    part
                })
                .collect()
        };
        let mut sequential = GridHistogram::new(grid, 0);
        for part in forks(&sequential) {
            sequential.merge(part);
        }
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let mut parallel = GridHistogram::new(grid, 0);
            let parts = forks(&parallel);
            pool.install(|| parallel.merge_all(parts));
            assert_eq!(parallel.samples(), sequential.samples());
            assert_eq!(parallel.outside, sequential.outside);
            assert_eq!(parallel.counts, sequential.counts, "{threads} threads");
            let bits = |h: &GridHistogram| -> Vec<[u64; 2]> {
                h.displacement
                    .iter()
                    .map(|d| [d[0].to_bits(), d[1].to_bits()])
                    .collect()
            };
            assert_eq!(bits(&parallel), bits(&sequential), "{threads} threads");
        }
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
