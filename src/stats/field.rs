//! A density and current on a grid, simulated or predicted ([`CurrentField`]), with what the
//! views and reports derive from it (docs/theory.md §7.3, §8): block averages, moments,
//! the stochastic area, significance of the current, the total-variation distance.

use crate::theory::exact::Gaussian;
use crate::theory::fokker_planck::Grid2d;

/// Mass inside the `2σ` ellipse of a 2-D Gaussian, `1 − e⁻²`: the mass of the region in which
/// [`CurrentField::significant_fraction`] counts cells.
pub const TWO_SIGMA_MASS: f64 = 0.864_664_716_763_387_3;

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

/// A probability density and current on a grid: simulated ([`GridHistogram::field`](super::grid::GridHistogram::field), with
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
    /// error of a block needs the walker groups: use [`GridHistogram::field`](super::grid::GridHistogram::field)), so it is
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
    /// equilibrium (about `e⁻⁴` by chance, see [`GridHistogram::field`](super::grid::GridHistogram::field)), near one where the
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
