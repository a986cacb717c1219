//! Where the walkers start (docs/theory.md §9.6): at one point, or as a sample of the
//! predicted stationary density, so that a comparison with the prediction is meaningful from
//! the first step instead of after several relaxation times.
//!
//! - On a 2-D grid solution: cells are drawn with probability equal to their Fokker–Planck
//!   mass (negative round-off counted as zero), and the walker is placed uniformly within its
//!   cell. The sample has the grid density exactly, to within the cell.
//! - Otherwise, the Gaussian `N(mean, Σ)` of the linearised theory: `w = mean + L ξ`,
//!   `Σ = L Lᵀ` (Cholesky), `ξ ~ N(0, I)`.
//!
//! Both are drawn from one stream seeded by the caller, so a seed gives the same positions on
//! every machine and thread count.

use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::fokker_planck::FpSolution;
use super::linear::LinearTheory;
use crate::dynamics::{Dynamics, Ensemble};
use crate::landscape::Landscape;

/// How the walkers start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartKind {
    /// Every walker at the same point.
    #[default]
    Point,
    /// A sample of the predicted stationary density.
    Stationary,
}

impl StartKind {
    /// `"point"` or `"stationary"`.
    pub fn name(self) -> &'static str {
        match self {
            StartKind::Point => "point",
            StartKind::Stationary => "stationary",
        }
    }
}

/// Why no stationary sample can be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SamplingError {
    /// The grid solution has no positive mass.
    #[error("the Fokker–Planck density has no positive mass to sample")]
    EmptyDensity,
    /// The covariance is not positive definite (or has the wrong size).
    #[error("the predicted covariance is not positive definite: no Gaussian sample")]
    Covariance,
    /// The prediction's dimension is not the landscape's.
    #[error("the prediction is {prediction}-dimensional and the landscape {landscape}-dimensional")]
    Dimension {
        /// Dimension of the prediction.
        prediction: usize,
        /// Dimension of the landscape.
        landscape: usize,
    },
}

/// The prediction a stationary start samples.
#[derive(Clone, Copy, Debug)]
pub enum StationaryPrediction<'a> {
    /// The 2-D Fokker–Planck grid solution (preferred where there is one).
    Grid(&'a FpSolution),
    /// The Gaussian of the linearised theory.
    Gaussian(&'a LinearTheory),
}

impl StationaryPrediction<'_> {
    /// The dimension of the sampled positions.
    pub fn dim(&self) -> usize {
        match self {
            StationaryPrediction::Grid(_) => 2,
            StationaryPrediction::Gaussian(theory) => theory.dim(),
        }
    }
}

/// `walkers` positions (walker-major, `2 · walkers` numbers) drawn from the grid density of
/// `solution`: a cell by its mass, then uniformly within it.
pub fn sample_grid_density(
    solution: &FpSolution,
    walkers: usize,
    seed: u64,
) -> Result<Vec<f64>, SamplingError> {
    let mut cumulative = Vec::with_capacity(solution.density.len());
    let mut total = 0.0;
    for m in &solution.density {
        total += m.max(0.0);
        cumulative.push(total);
    }
    if !(total > 0.0 && total.is_finite()) {
        return Err(SamplingError::EmptyDensity);
    }
    let grid = &solution.grid;
    let [hx, hy] = grid.cell_size();
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut positions = Vec::with_capacity(2 * walkers);
    for _ in 0..walkers {
        let u = rng.random::<f64>() * total;
        // The first cell whose cumulative mass exceeds u (never an empty cell).
        let cell = cumulative
            .partition_point(|&c| c <= u)
            .min(cumulative.len() - 1);
        let [cx, cy] = grid.centre_of(cell);
        positions.push(cx + (rng.random::<f64>() - 0.5) * hx);
        positions.push(cy + (rng.random::<f64>() - 0.5) * hy);
    }
    Ok(positions)
}

/// `walkers` positions (walker-major) from `N(mean, cov)`, `cov` row-major `d × d`.
pub fn sample_gaussian(
    mean: &[f64],
    cov: &[f64],
    walkers: usize,
    seed: u64,
) -> Result<Vec<f64>, SamplingError> {
    let d = mean.len();
    if cov.len() != d * d || cov.iter().any(|x| !x.is_finite()) {
        return Err(SamplingError::Covariance);
    }
    let lower = DMatrix::from_row_slice(d, d, cov)
        .cholesky()
        .ok_or(SamplingError::Covariance)?
        .l();
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut xi = vec![0.0; d];
    let mut positions = Vec::with_capacity(d * walkers);
    for _ in 0..walkers {
        xi.iter_mut()
            .for_each(|x| *x = StandardNormal.sample(&mut rng));
        for a in 0..d {
            let offset: f64 = (0..=a).map(|b| lower[(a, b)] * xi[b]).sum();
            positions.push(mean[a] + offset);
        }
    }
    Ok(positions)
}

/// `walkers` positions (walker-major) sampled from `prediction`.
pub fn stationary_positions(
    prediction: StationaryPrediction<'_>,
    walkers: usize,
    seed: u64,
) -> Result<Vec<f64>, SamplingError> {
    match prediction {
        StationaryPrediction::Grid(solution) => sample_grid_density(solution, walkers, seed),
        StationaryPrediction::Gaussian(theory) => {
            sample_gaussian(&theory.mean, &theory.cov, walkers, seed)
        }
    }
}

/// Seed of the start sample, derived from the walkers' seed so that the start and the walkers'
/// own streams differ.
pub fn start_seed(seed: u64) -> u64 {
    seed ^ 0x7374_6172_7473
}

/// The ensemble of a run: `walkers` walkers at `point` for [`StartKind::Point`], or sampled
/// from `prediction` (seeded with [`start_seed`]`(seed)`) for [`StartKind::Stationary`]; the
/// walkers' streams come from `seed` either way.
pub fn start_ensemble(
    landscape: &dyn Landscape,
    dynamics: Dynamics,
    walkers: usize,
    start: StartKind,
    point: &[f64],
    prediction: StationaryPrediction<'_>,
    seed: u64,
) -> Result<Ensemble, SamplingError> {
    match start {
        StartKind::Point => Ok(Ensemble::new(landscape, dynamics, walkers, point, seed)),
        StartKind::Stationary => {
            if prediction.dim() != landscape.dim() {
                return Err(SamplingError::Dimension {
                    prediction: prediction.dim(),
                    landscape: landscape.dim(),
                });
            }
            let positions = stationary_positions(prediction, walkers, start_seed(seed))?;
            Ok(Ensemble::from_positions(
                landscape, dynamics, positions, seed,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::fokker_planck::Grid2d;

    fn solution_with(density: Vec<f64>) -> FpSolution {
        let grid = Grid2d::new(3, 2, [0.0, 3.0, 0.0, 1.0]).expect("grid");
        FpSolution {
            grid,
            current: vec![[0.0; 2]; grid.cells()],
            density,
            solve_seconds: 0.0,
            min_density: 0.0,
            negative_cells: 0,
            stencil_reach: 1,
        }
    }

    /// Cell frequencies follow the masses: 60 000 draws, three cells of mass 0.5, 0.3, 0.2
    /// (binomial standard errors ≤ 0.2%; we allow 1%); empty and negative cells stay empty;
    /// positions stay inside their cells; the seed reproduces the sample.
    #[test]
    fn grid_sample_follows_the_masses() {
        let solution = solution_with(vec![0.5, 0.0, -1e-18, 0.3, 0.2, 0.0]);
        let positions = sample_grid_density(&solution, 60_000, 9).expect("samples");
        assert_eq!(
            positions,
            sample_grid_density(&solution, 60_000, 9).expect("again")
        );
        let mut counts = [0usize; 6];
        for w in positions.chunks_exact(2) {
            counts[solution.grid.locate([w[0], w[1]]).expect("inside")] += 1;
        }
        let fractions: Vec<f64> = counts.iter().map(|&c| c as f64 / 60_000.0).collect();
        for (f, m) in fractions.iter().zip([0.5, 0.0, 0.0, 0.3, 0.2, 0.0]) {
            assert!((f - m).abs() < 0.01, "{fractions:?}");
        }
        assert_eq!(counts[1] + counts[2] + counts[5], 0);
        assert_eq!(
            sample_grid_density(&solution_with(vec![0.0; 6]), 3, 1),
            Err(SamplingError::EmptyDensity)
        );
    }

    /// Mean and covariance of 200 000 Gaussian draws: standard errors are `sqrt(Σ_aa/n)` for
    /// the mean (≤ 0.005 here) and about `sqrt(2/n) Σ` for the covariance (0.3%); we allow
    /// four of them.
    #[test]
    fn gaussian_sample_has_the_moments() {
        let (mean, cov) = (
            [1.0, -2.0, 0.5],
            [2.0, 0.6, 0.0, 0.6, 1.0, -0.3, 0.0, -0.3, 0.5],
        );
        let n = 200_000;
        let positions = sample_gaussian(&mean, &cov, n, 4).expect("positive definite");
        let mut m = [0.0; 3];
        for w in positions.chunks_exact(3) {
            (0..3).for_each(|a| m[a] += w[a] / n as f64);
        }
        let mut c = [0.0; 9];
        for w in positions.chunks_exact(3) {
            for a in 0..3 {
                for b in 0..3 {
                    c[3 * a + b] += (w[a] - m[a]) * (w[b] - m[b]) / n as f64;
                }
            }
        }
        for a in 0..3 {
            assert!(
                (m[a] - mean[a]).abs() < 4.0 * (cov[4 * a] / n as f64).sqrt(),
                "{m:?}"
            );
        }
        for (got, want) in c.iter().zip(cov) {
            assert!(
                (got - want).abs() < 4.0 * (2.0 / n as f64).sqrt() * 2.0,
                "{c:?}"
            );
        }
        assert_eq!(
            sample_gaussian(&[0.0, 0.0], &[1.0, 2.0, 2.0, 1.0], 1, 1),
            Err(SamplingError::Covariance)
        );
    }
}
