//! The stationary two-dimensional Fokker–Planck equation (docs/theory.md §3 and §8.1), solved on a
//! rectangular grid of cell-centred finite volumes.
//!
//! # The equation
//!
//! ```text
//! 0 = −∇·J,      J_a = A_a p − Σ_b ∂_b (D_ab p),
//! ```
//!
//! with any drift `A(w)` and any symmetric positive definite diffusion matrix `D(w)`, both
//! position dependent, and no flux through the boundary of the box.
//!
//! # The scheme: a monotone Markov chain on the cells
//!
//! The operator is discretised as the generator of a continuous-time jump process between
//! cells (Kushner's Markov chain approximation), so that the discrete stationary equation is
//! `Qᵀ π = 0` for a matrix `Q` whose off-diagonal rates are all non-negative. Such a matrix
//! (the negative of an M-matrix) has a non-negative stationary vector (Perron–Frobenius): the
//! density cannot go negative, whatever the drift, the anisotropy or the sign of `D_xy`.
//! Round-off in the far tail is the only source of negative values, and the solver reports
//! them ([`FpSolution::min_density`], [`FpSolution::negative_cells`]).
//!
//! Work in grid units `x̃ = x / h_x`, `ỹ = y / h_y`, where the diffusion matrix is
//! `D̃ = H⁻¹ D H⁻¹` and the drift `Ã = H⁻¹ A` (`H = diag(h_x, h_y)`).
//!
//! 1. **Diffusion, including the mixed terms: Selling's decomposition.** Every symmetric
//!    positive definite 2×2 matrix can be written `D̃ = Σ_{k=1..3} λ_k v_k v_kᵀ` with
//!    `λ_k ≥ 0` and integer offsets `v_k` (the perpendiculars of a `D̃`-obtuse superbase,
//!    found by Selling's reduction). Each term is a second difference along the lattice
//!    direction `v_k`, i.e. jumps `l → l ± v_k` at rate `λ_k`. All rates are non-negative,
//!    so the mixed derivative `2 ∂_x∂_y(D_xy p)` is monotone even when `|D_xy|` exceeds
//!    `D_xx` or `D_yy` (where the classical nine-point stencil puts negative weights on the
//!    axis neighbours). The price: when `D̃` is strongly anisotropic and not aligned with the
//!    grid, the offsets `v_k` are longer than one cell (e.g. `(2, 1)`), so the stencil widens.
//!    Diagonal `D̃` gives back the five-point stencil.
//! 2. **Drift: exponential fitting (Scharfetter–Gummel) along each offset.** Writing
//!    `Ã = D̃ b̃` with `b̃ = D̃⁻¹ Ã` gives `Ã = Σ_k λ_k (v_kᵀ b̃) v_k`: the drift is carried by
//!    the same offsets with Péclet numbers `P = v_kᵀ b̃`. Along each offset the 1-D
//!    Scharfetter–Gummel flux gives the rates
//!    `rate(l → l + s v_k) = λ_k(l) B(−P)`, `P = s v_kᵀ ½(b̃(l) + b̃(l + s v_k))`,
//!    `B(z) = z / (eᶻ − 1) > 0`. Since `B(−z) − B(z) = z` exactly, the mean jump is exactly
//!    `Ã(l)` (with `b̃` averaged over the jump); since `B(−z)/B(z) = eᶻ`, a zero-flux
//!    (equilibrium) density `D p ∝ exp ∫ D⁻¹A` is reproduced to second order along every
//!    offset, and large Péclet numbers upwind automatically instead of oscillating.
//!    `D(l)` sits at the source cell (`λ_k(l)`), which is the Itô form `∂_a ∂_b (D_ab p)` of
//!    docs/theory.md §3.
//! 3. **No flux**: jumps whose target lies outside the grid are dropped, so probability never
//!    leaves the box.
//! 4. **Normalisation**: the equations `Qᵀ π = 0` are linearly dependent (they sum to zero);
//!    one of them is replaced by `π_anchor = 1` at a well-populated cell, the system is solved
//!    by a sparse LU with partial pivoting (faer), and `π` is normalised to sum to 1.
//!
//! The current at a cell centre is assembled from the net probability flow of every jump
//! touching it: a flow `φ` over the displacement `Δw` contributes `½ φ Δw / (h_x h_y)` to
//! each of its two end cells. This is exactly how [`crate::stats::grid::GridHistogram`] bins
//! simulated displacements at their midpoints (docs/theory.md §7.3), and for jumps between
//! neighbours it is the average of the two face fluxes of the cell.

use std::time::Instant;

use faer::prelude::*;
use faer::sparse::linalg::solvers::Lu;
use faer::sparse::{SparseColMat, Triplet};
use rayon::prelude::*;

use super::relaxation::FactorisedGenerator;

/// Largest number of cells per axis a grid may have.
pub const MAX_CELLS_PER_AXIS: usize = 1024;

/// Selling's reduction converges in a number of steps that grows like the logarithm of the
/// anisotropy; this cap is only reached for condition numbers beyond any real use.
const MAX_SELLING_STEPS: usize = 200;

/// Solution values below `−NEGATIVE_TOLERANCE · max π` count as negative cells; smaller
/// negative values are round-off of the sparse solve in the far tail.
const NEGATIVE_TOLERANCE: f64 = 1e-10;

/// What can go wrong when setting up or solving the stationary problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FpError {
    /// Too few or too many cells.
    #[error(
        "fp.grid: the grid needs between 1 and {MAX_CELLS_PER_AXIS} cells per axis, got {nx} × {ny}"
    )]
    GridSize {
        /// Cells along `w1`.
        nx: usize,
        /// Cells along `w2`.
        ny: usize,
    },
    /// Bounds not finite or not increasing.
    #[error(
        "fp.bounds: need [w1_min, w1_max, w2_min, w2_max], finite, with min < max, got {bounds:?}"
    )]
    Bounds {
        /// The bounds given.
        bounds: [f64; 4],
    },
    /// The drift is not finite at a cell centre.
    #[error("the drift is not finite at w = ({}, {}): A = {drift:?}", at[0], at[1])]
    NonFiniteDrift {
        /// The cell centre.
        at: [f64; 2],
        /// The drift there.
        drift: [f64; 2],
    },
    /// The diffusion matrix is not finite at a cell centre.
    #[error("the diffusion matrix is not finite at w = ({}, {}): D = {diffusion:?}", at[0], at[1])]
    NonFiniteDiffusion {
        /// The cell centre.
        at: [f64; 2],
        /// The diffusion matrix there.
        diffusion: [[f64; 2]; 2],
    },
    /// The diffusion matrix is singular or indefinite at a cell centre.
    #[error(
        "the diffusion matrix is singular or not positive definite at w = ({}, {}): D = {diffusion:?}; \
         the Fokker–Planck solve needs noise in every direction (a positive temperature helps)",
        at[0], at[1]
    )]
    SingularDiffusion {
        /// The cell centre.
        at: [f64; 2],
        /// The diffusion matrix there.
        diffusion: [[f64; 2]; 2],
    },
    /// Selling's reduction did not terminate: the diffusion is too anisotropic.
    #[error("the diffusion matrix at w = ({}, {}) is too anisotropic for the grid: D = {diffusion:?}", at[0], at[1])]
    Anisotropy {
        /// The cell centre.
        at: [f64; 2],
        /// The diffusion matrix there.
        diffusion: [[f64; 2]; 2],
    },
    /// The sparse LU failed.
    #[error("the sparse solve failed: {0}")]
    Solver(String),
    /// The solution is not finite.
    #[error("the stationary density is not finite: the problem is singular on this grid")]
    NonFiniteSolution,
}

/// A rectangular grid of `nx × ny` cells on `bounds = [x_min, x_max, y_min, y_max]`.
/// Cells are numbered row-major, `iy * nx + ix`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid2d {
    /// Cells along `w1`.
    pub nx: usize,
    /// Cells along `w2`.
    pub ny: usize,
    /// `[x_min, x_max, y_min, y_max]`.
    pub bounds: [f64; 4],
}

impl Grid2d {
    /// A validated grid.
    pub fn new(nx: usize, ny: usize, bounds: [f64; 4]) -> Result<Self, FpError> {
        let grid = Self { nx, ny, bounds };
        grid.validate()?;
        Ok(grid)
    }

    /// A validated `n × n` grid.
    pub fn square(n: usize, bounds: [f64; 4]) -> Result<Self, FpError> {
        Self::new(n, n, bounds)
    }

    /// Check the sizes (1 to [`MAX_CELLS_PER_AXIS`] per axis) and the bounds (finite, min < max).
    pub fn validate(&self) -> Result<(), FpError> {
        if !(1..=MAX_CELLS_PER_AXIS).contains(&self.nx)
            || !(1..=MAX_CELLS_PER_AXIS).contains(&self.ny)
        {
            return Err(FpError::GridSize {
                nx: self.nx,
                ny: self.ny,
            });
        }
        let b = self.bounds;
        if b.iter().any(|x| !x.is_finite()) || b[0] >= b[1] || b[2] >= b[3] {
            return Err(FpError::Bounds { bounds: b });
        }
        // The widths themselves must be finite and positive (e.g. not [-1e308, 1e308]).
        let [hx, hy] = self.cell_size();
        if !(hx.is_finite() && hy.is_finite() && hx > 0.0 && hy > 0.0) {
            return Err(FpError::Bounds { bounds: b });
        }
        Ok(())
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.nx * self.ny
    }

    /// Cell widths `[h_x, h_y]`.
    pub fn cell_size(&self) -> [f64; 2] {
        [
            (self.bounds[1] - self.bounds[0]) / self.nx as f64,
            (self.bounds[3] - self.bounds[2]) / self.ny as f64,
        ]
    }

    /// Cell area `h_x h_y`.
    pub fn cell_area(&self) -> f64 {
        let [hx, hy] = self.cell_size();
        hx * hy
    }

    /// Row-major index of cell `(ix, iy)`.
    pub fn index(&self, ix: usize, iy: usize) -> usize {
        iy * self.nx + ix
    }

    /// Centre of cell `(ix, iy)`.
    pub fn centre(&self, ix: usize, iy: usize) -> [f64; 2] {
        let [hx, hy] = self.cell_size();
        [
            self.bounds[0] + (ix as f64 + 0.5) * hx,
            self.bounds[2] + (iy as f64 + 0.5) * hy,
        ]
    }

    /// Centre of the cell with row-major index `cell`.
    pub fn centre_of(&self, cell: usize) -> [f64; 2] {
        self.centre(cell % self.nx, cell / self.nx)
    }

    /// Centres of all cells, row-major.
    pub fn centres(&self) -> Vec<[f64; 2]> {
        (0..self.cells()).map(|c| self.centre_of(c)).collect()
    }

    /// The row-major index of the cell containing `w`, or `None` outside the grid (and for
    /// non-finite `w`). Cells are half-open `[min, max)`; the upper bounds belong to the last cell.
    pub fn locate(&self, w: [f64; 2]) -> Option<usize> {
        let cell = self.locator().cell(w);
        (cell != CellLocator::OUTSIDE).then_some(cell as usize)
    }

    /// [`locate`](Self::locate) with the cell size computed once, for many points.
    pub fn locator(&self) -> CellLocator {
        CellLocator::new(self)
    }
}

/// [`Grid2d::locate`] with the cell size computed once and no branch but selects, so that a
/// loop over points vectorises (the density and current histogram locates two points per
/// walker-unit). Grids of `u32::MAX` cells or more, or with cells of zero or non-finite size,
/// hold no point.
#[derive(Clone, Copy, Debug)]
pub struct CellLocator {
    /// Lower corner.
    origin: [f64; 2],
    /// Cell size, as [`Grid2d::cell_size`] computes it.
    size: [f64; 2],
    /// Cells along each axis, as floats and as indices.
    extent: [f64; 2],
    nx: u32,
    ny: u32,
    /// Whether the grid has cells at all (else every point is outside).
    valid: bool,
}

impl CellLocator {
    /// The index of no cell: the point lies outside the grid (or is not finite).
    pub const OUTSIDE: u32 = u32::MAX;

    /// The locator of `grid`.
    pub fn new(grid: &Grid2d) -> Self {
        let size = grid.cell_size();
        let fits = u32::try_from(grid.cells()).is_ok_and(|n| n < Self::OUTSIDE);
        Self {
            origin: [grid.bounds[0], grid.bounds[2]],
            size,
            extent: [grid.nx as f64, grid.ny as f64],
            nx: grid.nx as u32,
            ny: grid.ny as u32,
            valid: fits
                && grid.nx > 0
                && grid.ny > 0
                && size.iter().all(|h| *h > 0.0 && h.is_finite()),
        }
    }

    /// The row-major index of the cell holding `w`, or [`OUTSIDE`](Self::OUTSIDE).
    #[inline(always)]
    pub fn cell(&self, w: [f64; 2]) -> u32 {
        let fx = (w[0] - self.origin[0]) / self.size[0];
        let fy = (w[1] - self.origin[1]) / self.size[1];
        // NaN fails every comparison.
        let inside = fx >= 0.0 && fy >= 0.0 && fx <= self.extent[0] && fy <= self.extent[1];
        let ix = (fx as u32).min(self.nx.saturating_sub(1));
        let iy = (fy as u32).min(self.ny.saturating_sub(1));
        if inside && self.valid {
            iy * self.nx + ix
        } else {
            Self::OUTSIDE
        }
    }
}

/// The stationary state on a grid.
#[derive(Clone, Debug)]
pub struct FpSolution {
    /// The grid.
    pub grid: Grid2d,
    /// Probability mass per cell, row-major `iy * nx + ix`, summing to 1.
    pub density: Vec<f64>,
    /// Probability current `J` at cell centres (probability per unit length per time unit),
    /// row-major.
    pub current: Vec<[f64; 2]>,
    /// Wall-clock time of the assembly and the sparse solve.
    pub solve_seconds: f64,
    /// Smallest entry of `density` (negative only through round-off; see the module docs).
    pub min_density: f64,
    /// Cells whose mass is below `−1e-10 ·` the largest mass.
    pub negative_cells: usize,
    /// Longest jump of the Selling stencil, in cells (1 for a diagonal `D̃`; larger when the
    /// diffusion is strongly anisotropic and tilted against the grid).
    pub stencil_reach: usize,
}

impl FpSolution {
    /// The solution on a grid `factor` times coarser per axis (e.g. to hold a fine solve
    /// against a coarser histogram): masses summed and currents averaged over blocks of
    /// `factor × factor` cells. `None` unless `factor ≥ 1` divides both `nx` and `ny`.
    pub fn coarsened(&self, factor: usize) -> Option<FpSolution> {
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        if factor == 0 || nx % factor != 0 || ny % factor != 0 {
            return None;
        }
        let grid = Grid2d {
            nx: nx / factor,
            ny: ny / factor,
            bounds: self.grid.bounds,
        };
        let mut density = vec![0.0; grid.cells()];
        let mut current = vec![[0.0; 2]; grid.cells()];
        let block = (factor * factor) as f64;
        for (cell, (m, j)) in self.density.iter().zip(&self.current).enumerate() {
            let coarse = grid.index(cell % nx / factor, cell / nx / factor);
            density[coarse] += m;
            current[coarse][0] += j[0] / block;
            current[coarse][1] += j[1] / block;
        }
        Some(FpSolution {
            grid,
            min_density: density.iter().copied().fold(f64::INFINITY, f64::min),
            negative_cells: density.iter().filter(|&&m| m < 0.0).count(),
            density,
            current,
            solve_seconds: self.solve_seconds,
            stencil_reach: self.stencil_reach,
        })
    }
}

/// `B(z) = z / (eᶻ − 1)`, the Bernoulli function of the Scharfetter–Gummel flux; positive
/// for every real `z`, `B(0) = 1`, `B(−z) = B(z) + z`.
pub fn bernoulli(z: f64) -> f64 {
    if z.abs() < 1e-5 {
        1.0 - z / 2.0 + z * z / 12.0
    } else if z > 700.0 {
        z * (-z).exp()
    } else {
        z / z.exp_m1()
    }
}

/// Selling's decomposition of a symmetric positive definite `d`:
/// `d = Σ_k λ_k v_k v_kᵀ`, `λ_k ≥ 0`, `v_k` integer. `None` when the reduction does not
/// terminate (extreme anisotropy or a matrix that is not positive definite).
pub fn selling_decomposition(d: [[f64; 2]; 2]) -> Option<[(f64, [i64; 2]); 3]> {
    let dot = |a: [i64; 2], b: [i64; 2]| {
        let (a0, a1, b0, b1) = (a[0] as f64, a[1] as f64, b[0] as f64, b[1] as f64);
        a0 * (d[0][0] * b0 + d[0][1] * b1) + a1 * (d[1][0] * b0 + d[1][1] * b1)
    };
    let mut e: [[i64; 2]; 3] = [[1, 0], [0, 1], [-1, -1]];
    for _ in 0..MAX_SELLING_STEPS {
        let violated = [(0, 1), (0, 2), (1, 2)]
            .into_iter()
            .find(|&(i, j)| dot(e[i], e[j]) > 0.0);
        match violated {
            Some((i, j)) => {
                let (ei, ej) = (e[i], e[j]);
                e = [[-ei[0], -ei[1]], ej, [ei[0] - ej[0], ei[1] - ej[1]]];
            }
            None => {
                let term = |i: usize, j: usize, k: usize| {
                    let weight = (-dot(e[i], e[j])).max(0.0);
                    (weight, [-e[k][1], e[k][0]])
                };
                return Some([term(1, 2, 0), term(0, 2, 1), term(0, 1, 2)]);
            }
        }
    }
    None
}

/// Local data at one cell centre.
#[derive(Clone, Copy)]
struct CellData {
    /// Selling weights (jump rates, per time unit) and offsets of `D̃`.
    stencil: [(f64, [i64; 2]); 3],
    /// `b̃ = D̃⁻¹ Ã` in grid units.
    b: [f64; 2],
}

/// One jump of the chain: from `source` to `target` at `rate`, displacement `[Δx, Δy]`.
#[derive(Clone, Copy)]
pub(crate) struct Jump {
    pub(crate) source: usize,
    pub(crate) target: usize,
    pub(crate) rate: f64,
    displacement: [f64; 2],
}

/// Solve the stationary Fokker–Planck equation `0 = −∇·J`, `J_a = A_a p − Σ_b ∂_b (D_ab p)`
/// (docs/theory.md §3 and §8.1) on `grid` with no-flux boundaries. See the module documentation for
/// the scheme. `diffusion` is symmetrised (`D_xy ← ½(D_xy + D_yx)`) and must be positive
/// definite everywhere on the grid.
pub fn solve_stationary(
    grid: &Grid2d,
    drift: &(dyn Fn([f64; 2]) -> [f64; 2] + Sync),
    diffusion: &(dyn Fn([f64; 2]) -> [[f64; 2]; 2] + Sync),
) -> Result<FpSolution, FpError> {
    solve_stationary_factorised(grid, drift, diffusion).map(|(solution, _)| solution)
}

/// [`solve_stationary`], also returning the factorised operator of the solve
/// ([`FactorisedGenerator`]) for the spectral gap of [`crate::theory::relaxation`]
/// (docs/theory.md §9.1): a few more triangular solves, no second factorisation.
pub fn solve_stationary_factorised(
    grid: &Grid2d,
    drift: &(dyn Fn([f64; 2]) -> [f64; 2] + Sync),
    diffusion: &(dyn Fn([f64; 2]) -> [[f64; 2]; 2] + Sync),
) -> Result<(FpSolution, FactorisedGenerator), FpError> {
    let started = Instant::now();
    grid.validate()?;
    let chain = assemble(grid, drift, diffusion)?;
    let n = grid.cells();
    let [hx, hy] = grid.cell_size();
    let cells = &chain.cells;
    let jumps = chain.jumps;

    // Qᵀ π = 0 with the equation of one `anchor` cell replaced by `π_anchor = 1`, which keeps
    // the matrix as sparse as the stencil (a dense normalisation row Σ π = 1 makes the sparse
    // LU fill in badly). The anchor is the cell of smallest `|b̃| = |D̃⁻¹ Ã|`, where the drift
    // vanishes relative to the noise (the mode of an equilibrium), so that its mass is far from
    // the underflow range; the solution is normalised afterwards.
    let anchor = (0..n)
        .min_by(|&a, &b| {
            let norm = |c: usize| cells[c].b[0].hypot(cells[c].b[1]);
            norm(a).total_cmp(&norm(b))
        })
        .unwrap_or(0);
    let mut out_rate = vec![0.0; n];
    for jump in &jumps {
        out_rate[jump.source] += jump.rate;
    }
    let mut anchored = solve_anchored(&jumps, &out_rate, anchor)?;
    if !well_scaled(&anchored.solution) {
        // The anchor sat where the mass is astronomically small (e.g. the shallower well at a
        // low temperature): anchor again at the most populated cell of the first attempt.
        let second = anchored
            .solution
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.is_nan())
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(c, _)| c)
            .ok_or(FpError::NonFiniteSolution)?;
        anchored = solve_anchored(&jumps, &out_rate, second)?;
    }
    let mut density = std::mem::take(&mut anchored.solution);
    let total: f64 = density.iter().sum();
    if !(total.is_finite() && total > 0.0) || density.iter().any(|x| !x.is_finite()) {
        return Err(FpError::NonFiniteSolution);
    }
    density.iter_mut().for_each(|m| *m /= total);
    let max_density = density.iter().copied().fold(0.0, f64::max);
    let min_density = density.iter().copied().fold(f64::INFINITY, f64::min);
    let negative_cells = density
        .iter()
        .filter(|&&m| m < -NEGATIVE_TOLERANCE * max_density)
        .count();

    // Current at cell centres: each jump's gross flow π_source · rate, half to each end.
    let mut current = vec![[0.0; 2]; n];
    let area = hx * hy;
    for jump in &jumps {
        let flow = 0.5 * density[jump.source] * jump.rate / area;
        for end in [jump.source, jump.target] {
            current[end][0] += flow * jump.displacement[0];
            current[end][1] += flow * jump.displacement[1];
        }
    }

    let generator = FactorisedGenerator::new(
        anchored.lu,
        anchored.anchor,
        density.clone(),
        jumps,
        out_rate,
    );
    let solution = FpSolution {
        grid: *grid,
        density,
        current,
        solve_seconds: started.elapsed().as_secs_f64(),
        min_density,
        negative_cells,
        stencil_reach: chain.stencil_reach,
    };
    Ok((solution, generator))
}

/// The jump process of the scheme: local data per cell, every jump, the stencil's reach.
struct Chain {
    cells: Vec<CellData>,
    jumps: Vec<Jump>,
    stencil_reach: usize,
}

/// Local data at every cell centre and every jump of the chain, in parallel (the closures may
/// be expensive).
fn assemble(
    grid: &Grid2d,
    drift: &(dyn Fn([f64; 2]) -> [f64; 2] + Sync),
    diffusion: &(dyn Fn([f64; 2]) -> [[f64; 2]; 2] + Sync),
) -> Result<Chain, FpError> {
    let n = grid.cells();
    let (nx, ny) = (grid.nx, grid.ny);
    let [hx, hy] = grid.cell_size();
    let cells: Vec<CellData> = (0..n)
        .into_par_iter()
        .map(|cell| cell_data(grid.centre_of(cell), drift, diffusion, [hx, hy]))
        .collect::<Result<_, _>>()?;
    let stencil_reach = cells
        .iter()
        .flat_map(|c| c.stencil.iter())
        .filter(|(weight, _)| *weight > 0.0)
        .map(|(_, v)| v[0].unsigned_abs().max(v[1].unsigned_abs()) as usize)
        .max()
        .unwrap_or(1);
    let cells_ref = &cells;
    let jumps: Vec<Jump> = (0..n)
        .into_par_iter()
        .flat_map_iter(|source| {
            let (ix, iy) = ((source % nx) as i64, (source / nx) as i64);
            let here = cells_ref[source];
            here.stencil
                .into_iter()
                .filter(|(weight, _)| *weight > 0.0)
                .flat_map(|(weight, v)| [(weight, v), (weight, [-v[0], -v[1]])])
                .filter_map(move |(weight, v)| {
                    let (tx, ty) = (ix + v[0], iy + v[1]);
                    if tx < 0 || ty < 0 || tx >= nx as i64 || ty >= ny as i64 {
                        return None;
                    }
                    let target = ty as usize * nx + tx as usize;
                    let there = cells_ref[target];
                    let peclet = 0.5
                        * (v[0] as f64 * (here.b[0] + there.b[0])
                            + v[1] as f64 * (here.b[1] + there.b[1]));
                    Some(Jump {
                        source,
                        target,
                        rate: weight * bernoulli(-peclet),
                        displacement: [v[0] as f64 * hx, v[1] as f64 * hy],
                    })
                })
        })
        .collect();
    Ok(Chain {
        cells,
        jumps,
        stencil_reach,
    })
}

/// Whether an unnormalised solution is finite and far from overflow.
fn well_scaled(solution: &[f64]) -> bool {
    solution.iter().all(|m| m.is_finite() && m.abs() < 1e200)
}

/// An unnormalised solution of the anchored system and its factorisation.
struct Anchored {
    solution: Vec<f64>,
    lu: Lu<usize, f64>,
    anchor: usize,
}

/// The stationary equations `Qᵀ π = 0` with the equation of cell `anchor` replaced by
/// `π_anchor = 1` (scaled like the other rows), solved by sparse LU; unnormalised.
fn solve_anchored(jumps: &[Jump], out_rate: &[f64], anchor: usize) -> Result<Anchored, FpError> {
    let n = out_rate.len();
    let scale = if out_rate[anchor] > 0.0 && out_rate[anchor].is_finite() {
        out_rate[anchor]
    } else {
        1.0
    };
    let mut triplets: Vec<Triplet<usize, usize, f64>> = Vec::with_capacity(jumps.len() + n);
    triplets.extend(
        jumps
            .iter()
            .filter(|j| j.target != anchor)
            .map(|j| Triplet::new(j.target, j.source, j.rate)),
    );
    triplets.extend(
        (0..n)
            .filter(|&c| c != anchor)
            .map(|c| Triplet::new(c, c, -out_rate[c])),
    );
    triplets.push(Triplet::new(anchor, anchor, scale));
    let matrix = SparseColMat::<usize, f64>::try_new_from_triplets(n, n, &triplets)
        .map_err(|e| FpError::Solver(format!("{e:?}")))?;
    let lu = matrix
        .sp_lu()
        .map_err(|e| FpError::Solver(format!("LU factorisation: {e:?}")))?;
    let rhs = Col::<f64>::from_fn(n, |i| if i == anchor { scale } else { 0.0 });
    let solution = lu.solve(&rhs);
    Ok(Anchored {
        solution: (0..n).map(|i| solution[i]).collect(),
        lu,
        anchor,
    })
}

/// Drift and diffusion at one cell centre, turned into the Selling stencil and `b̃`.
fn cell_data(
    at: [f64; 2],
    drift: &(dyn Fn([f64; 2]) -> [f64; 2] + Sync),
    diffusion: &(dyn Fn([f64; 2]) -> [[f64; 2]; 2] + Sync),
    [hx, hy]: [f64; 2],
) -> Result<CellData, FpError> {
    let a = drift(at);
    if a.iter().any(|x| !x.is_finite()) {
        return Err(FpError::NonFiniteDrift { at, drift: a });
    }
    let d = diffusion(at);
    if d.iter().flatten().any(|x| !x.is_finite()) {
        return Err(FpError::NonFiniteDiffusion { at, diffusion: d });
    }
    let off = 0.5 * (d[0][1] + d[1][0]);
    // Grid units: D̃ = H⁻¹ D H⁻¹, Ã = H⁻¹ A.
    let dg = [
        [d[0][0] / (hx * hx), off / (hx * hy)],
        [off / (hx * hy), d[1][1] / (hy * hy)],
    ];
    let det = dg[0][0] * dg[1][1] - dg[0][1] * dg[1][0];
    let trace = dg[0][0] + dg[1][1];
    if !(dg[0][0] > 0.0 && dg[1][1] > 0.0 && det > 1e-14 * trace * trace) {
        return Err(FpError::SingularDiffusion { at, diffusion: d });
    }
    let ag = [a[0] / hx, a[1] / hy];
    let b = [
        (dg[1][1] * ag[0] - dg[0][1] * ag[1]) / det,
        (dg[0][0] * ag[1] - dg[1][0] * ag[0]) / det,
    ];
    let stencil = selling_decomposition(dg).ok_or(FpError::Anisotropy { at, diffusion: d })?;
    Ok(CellData { stencil, b })
}

/// Plot bounds `[x_min, x_max, y_min, y_max]` for a 2-D Fokker–Planck solve: the box of
/// ±6 standard deviations of the Gaussian `N(mean, cov)` (first two coordinates; `cov`
/// row-major `d × d`), the same box around every point of `extra_points` (the minima of a
/// nonconvex landscape), and a 5 % margin on each side. Degenerate or non-finite inputs fall
/// back to a unit half-width.
pub fn automatic_bounds(mean: &[f64], cov: &[f64], extra_points: &[[f64; 2]]) -> [f64; 4] {
    let d = (cov.len() as f64).sqrt() as usize;
    let centre = [
        mean.first().copied().unwrap_or(0.0),
        mean.get(1).copied().unwrap_or(0.0),
    ];
    let variance = |a: usize| cov.get(a * d + a).copied().unwrap_or(f64::NAN);
    let mut half_width = [6.0 * variance(0).sqrt(), 6.0 * variance(1).sqrt()];
    for h in &mut half_width {
        if !(h.is_finite() && *h > 0.0) {
            *h = f64::NAN;
        }
    }
    // A degenerate axis borrows the other's width, or 1.
    let fallback = half_width
        .iter()
        .copied()
        .find(|h| h.is_finite())
        .unwrap_or(1.0);
    for h in &mut half_width {
        if !h.is_finite() {
            *h = fallback;
        }
    }
    let mut bounds = [
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let points = std::iter::once(centre).chain(extra_points.iter().copied());
    for p in points.filter(|p| p.iter().all(|x| x.is_finite())) {
        for a in 0..2 {
            bounds[2 * a] = bounds[2 * a].min(p[a] - half_width[a]);
            bounds[2 * a + 1] = bounds[2 * a + 1].max(p[a] + half_width[a]);
        }
    }
    if !bounds.iter().all(|x| x.is_finite()) {
        return [-1.0, 1.0, -1.0, 1.0];
    }
    for a in 0..2 {
        let margin = 0.05 * (bounds[2 * a + 1] - bounds[2 * a]);
        bounds[2 * a] -= margin;
        bounds[2 * a + 1] += margin;
    }
    bounds
}

#[cfg(test)]
mod tests;
