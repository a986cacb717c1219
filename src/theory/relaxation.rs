//! How long the stationary state takes to establish itself: relaxation times from the
//! Fokker–Planck operator and from the linearised theory (docs/theory.md §9.1–§9.3).
//!
//! # From the 2-D Fokker–Planck solution
//!
//! The discretised equation is `∂_t p = Qᵀ p` on the cells ([`FactorisedGenerator`]). Its
//! eigenvalues are `0` (the stationary `π`) and `λ_1, λ_2, …` with `Re λ_k < 0`; a density
//! started anywhere approaches `π` as `p(t) − π = Σ_k c_k e^{λ_k t} u_k`. The slowest nonzero
//! eigenvalue `λ_1` (smallest `|λ|`) sets the relaxation time `τ = 1/(−Re λ_1)`.
//!
//! - Out of equilibrium the operator is not symmetric (in any inner product) and `λ_1` may be
//!   complex: the slowest mode then decays like `e^{Re λ_1 t}` while it rotates at the
//!   angular frequency `Im λ_1`. The decay rate is `−Re λ_1`.
//! - Shift-invert at the shift `0`, with the zero eigenvalue deflated: on the perturbations of
//!   zero total mass `Qᵀ` is invertible, and its inverse is applied by one pair of triangular
//!   solves with the sparse LU the stationary solve already computed
//!   ([`FactorisedGenerator::solve_zero_mass`]). The largest eigenvalues `θ = 1/λ` of that
//!   inverse are the slowest modes; they are found by Arnoldi's method with full
//!   re-orthogonalisation, restarted from the wanted Ritz vectors when the Krylov space fills.
//! - Convergence: a Ritz pair `(θ, V y)` of the inverse has the residual
//!   `‖(Qᵀ)⁻¹ V y − θ V y‖ = β_{j+1} |y_j|` (Arnoldi's identity); it is accepted when that is
//!   below `tolerance · |θ|`.
//! - For two wells the slowest mode is the exchange of probability between them. In a
//!   two-state picture with rates `k_12` (well 1 to 2) and `k_21`, the occupation of well 1
//!   relaxes as `m_1(t) − m_1^∞ ∝ e^{−(k_12 + k_21) t}`, so `λ_1 = −(k_12 + k_21)`, and
//!   `m_1^∞ = k_21/(k_12 + k_21)`. In a symmetric double well `−λ_1 = 2k`.
//!
//! # From the linearised theory
//!
//! About one minimum the mean obeys the linear map `m ← P m` per time unit, with
//! `P = I − η H` per step with replacement and, without replacement, the epoch map `P` of
//! [`wor_epoch_map`] (`(I − η H̄)^M` for identical per-example Hessians). Its slowest decay
//! rate is `−ln ρ(P)`, `ρ` the largest `|eigenvalue|`; to leading order in `η h` that is
//! `η h_min` per step, or `η M h_min` per epoch (`h_min` of `H_eff`), the rate of the
//! Ornstein–Uhlenbeck process with drift matrix `K = η H` (or `η M H_eff`), which is also
//! what the continuous Fokker–Planck equation gives. The two differ at second order:
//! `−ln(1 − η h) = η h (1 + η h/2 + …)` per step; per epoch, for identical per-example
//! Hessians, `−M ln(1 − η h̄)` against `η M h_eff` (the bowl at `η M h̄ = 0.2`: 0.2020 against
//! 0.182; the decay of the simulated mean gives 0.2020). The covariance relaxes twice as fast
//! as the mean.
//!
//! Both rates are per time unit of the report: steps with replacement, epochs without.

use std::time::Instant;

use faer::Col;
use faer::prelude::Solve;
use faer::sparse::linalg::solvers::Lu;
use nalgebra::{Complex, DMatrix, DVector};
use serde::Serialize;

use super::TheoryError;
use super::fokker_planck::{FpSolution, Jump, solve_stationary_factorised};
use super::linear::{LinearTheory, drift_and_diffusion, fokker_planck_grid, wor_epoch_map};
use super::lyapunov::symmetric_eigen;
use crate::dynamics::{Replacement, TimeUnit};
use crate::preset::{Experiment, FpSpec};

/// Largest Krylov space of the Arnoldi iteration before a restart.
const MAX_KRYLOV: usize = 48;

/// Restarts before giving up.
const MAX_RESTARTS: usize = 20;

/// Why there is no relaxation time.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RelaxationError {
    /// The operator has too few cells for the number of modes asked for.
    #[error("the Fokker–Planck grid has {cells} cells, too few for {modes} relaxation modes")]
    TooFewCells {
        /// Cells of the grid.
        cells: usize,
        /// Modes asked for.
        modes: usize,
    },
    /// Arnoldi's method did not converge.
    #[error(
        "the slowest relaxation mode did not converge after {restarts} restarts \
         (relative residual {residual:.1e})"
    )]
    NotConverged {
        /// Restarts made.
        restarts: usize,
        /// The worst relative residual of the last cycle.
        residual: f64,
    },
    /// The eigenvalue found does not decay (round-off on a singular problem).
    #[error("the slowest relaxation mode does not decay (eigenvalue {re:.3e} + {im:.3e} i)")]
    NotDecaying {
        /// Real part of the eigenvalue.
        re: f64,
        /// Imaginary part.
        im: f64,
    },
    /// The linearised map does not contract (the theory should have refused it first).
    #[error("the linearised map does not contract: its largest |eigenvalue| is {radius:.6}")]
    NotContracting {
        /// The spectral radius `ρ(P)`.
        radius: f64,
    },
}

/// The discretised Fokker–Planck operator `Qᵀ` of a solve (`∂_t p = Qᵀ p` on the cells), with
/// the sparse LU of its anchored form kept, so that systems in `Qᵀ` restricted to
/// perturbations of zero total mass cost one pair of triangular solves each
/// (docs/theory.md §9.1).
///
/// Why this deflates the zero eigenvalue: the columns of `Qᵀ` sum to zero, so the perturbations
/// `u` with `Σ u = 0` form an invariant subspace that holds every eigenvector except the
/// stationary `π` (which has mass 1). On that subspace `Qᵀ` is invertible. The anchored matrix
/// `M` (the rows of `Qᵀ`, except row `a`, replaced by `x_a = 0`) solves it: for `Σ w = 0`,
/// `M x = (w with w_a ← 0)` gives `(Qᵀ x)_i = w_i` for `i ≠ a`, and row `a` follows because
/// the columns sum to zero; `v = x − (Σ x) π` is then the zero-mass solution of `Qᵀ v = w`.
pub struct FactorisedGenerator {
    lu: Lu<usize, f64>,
    anchor: usize,
    /// The normalised stationary masses `π`.
    stationary: Vec<f64>,
    jumps: Vec<Jump>,
    out_rate: Vec<f64>,
}

impl FactorisedGenerator {
    /// The operator of a solve: the LU of the matrix anchored at `anchor`, the normalised
    /// stationary masses, the jumps and each cell's total outgoing rate.
    pub(crate) fn new(
        lu: Lu<usize, f64>,
        anchor: usize,
        stationary: Vec<f64>,
        jumps: Vec<Jump>,
        out_rate: Vec<f64>,
    ) -> Self {
        Self {
            lu,
            anchor,
            stationary,
            jumps,
            out_rate,
        }
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.out_rate.len()
    }

    /// The stationary masses `π` (summing to 1).
    pub fn stationary(&self) -> &[f64] {
        &self.stationary
    }

    /// `Qᵀ x`: the rate of change of the masses `x` under the discretised Fokker–Planck
    /// equation, per time unit.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let mut y: Vec<f64> = x
            .iter()
            .zip(&self.out_rate)
            .map(|(xi, out)| -out * xi)
            .collect();
        for jump in &self.jumps {
            y[jump.target] += jump.rate * x[jump.source];
        }
        y
    }

    /// The zero-mass solution `v` of `Qᵀ v = w` (see the type's documentation); `w` is first
    /// projected onto zero total mass (`w ← w − mean(w)`).
    pub fn solve_zero_mass(&self, w: &[f64]) -> Vec<f64> {
        let n = self.cells();
        let mean = w.iter().sum::<f64>() / n as f64;
        let rhs = Col::<f64>::from_fn(n, |i| if i == self.anchor { 0.0 } else { w[i] - mean });
        let x = self.lu.solve(&rhs);
        let mass: f64 = (0..n).map(|i| x[i]).sum();
        (0..n).map(|i| x[i] - mass * self.stationary[i]).collect()
    }
}

/// A relaxation mode of the discretised Fokker–Planck operator.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Mode {
    /// The eigenvalue `λ` of `Qᵀ`, `[Re λ, Im λ]`, per time unit (`Re λ < 0`).
    pub eigenvalue: [f64; 2],
    /// Relative residual `‖(Qᵀ)⁻¹ u − u/λ‖ · |λ| / ‖u‖` of the eigenpair.
    pub residual: f64,
}

impl Mode {
    /// Decay rate `−Re λ`, per time unit.
    pub fn rate(&self) -> f64 {
        -self.eigenvalue[0]
    }
}

/// The slowest relaxation of a Fokker–Planck solution (docs/theory.md §9.1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FpRelaxation {
    /// The slowest nonzero eigenvalue `λ_1 = [Re, Im]`, per time unit.
    pub eigenvalue: [f64; 2],
    /// The decay rate `−Re λ_1`, per time unit.
    pub rate: f64,
    /// `τ = 1/rate`, in time units (steps with replacement, epochs without).
    pub relaxation_time: f64,
    /// Relative residual of the eigenpair.
    pub residual: f64,
    /// Solves with the factorised operator that the Arnoldi iteration used.
    pub solves: usize,
    /// Wall-clock time of the eigenvalue search (the factorisation not included).
    pub seconds: f64,
}

/// The slowest `count` relaxation modes of the discretised operator (smallest `|λ|` first;
/// a complex pair counts as two modes), by shift-invert Arnoldi (see the module
/// documentation). Also returns the number of solves used.
pub fn slowest_modes(
    generator: &FactorisedGenerator,
    count: usize,
    tolerance: f64,
) -> Result<(Vec<Mode>, usize), RelaxationError> {
    let n = generator.cells();
    let count = count.max(1);
    let max_krylov = MAX_KRYLOV.max(2 * count + 8).min(n.saturating_sub(1));
    if count > max_krylov || n < 3 {
        return Err(RelaxationError::TooFewCells {
            cells: n,
            modes: count,
        });
    }
    let mut start = initial_vector(generator.stationary());
    let mut solves = 0;
    let mut worst = f64::INFINITY;
    for _ in 0..=MAX_RESTARTS {
        let outcome = arnoldi(generator, &start, count, max_krylov, tolerance, &mut solves);
        worst = outcome.worst_residual;
        if outcome.converged {
            let modes = outcome
                .ritz
                .iter()
                .map(|r| {
                    let lambda = Complex::new(1.0, 0.0) / r.theta;
                    Mode {
                        eigenvalue: [lambda.re, lambda.im],
                        residual: r.residual,
                    }
                })
                .collect();
            return Ok((modes, solves));
        }
        start = outcome.restart;
    }
    Err(RelaxationError::NotConverged {
        restarts: MAX_RESTARTS,
        residual: worst,
    })
}

/// The slowest relaxation of the discretised operator: [`slowest_modes`] with one mode, to a
/// relative residual of `1e-9`.
pub fn fp_relaxation(generator: &FactorisedGenerator) -> Result<FpRelaxation, RelaxationError> {
    let started = Instant::now();
    let (modes, solves) = slowest_modes(generator, 1, 1e-9)?;
    let mode = modes[0];
    let rate = mode.rate();
    if !(rate.is_finite() && rate > 0.0) {
        return Err(RelaxationError::NotDecaying {
            re: mode.eigenvalue[0],
            im: mode.eigenvalue[1],
        });
    }
    Ok(FpRelaxation {
        eigenvalue: mode.eigenvalue,
        rate,
        relaxation_time: 1.0 / rate,
        residual: mode.residual,
        solves,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The stationary Fokker–Planck solution of `experiment` (as [`super::fokker_planck`]) and its
/// slowest relaxation, from one factorisation. The outer error says why there is no solution;
/// the inner one why there is a solution but no relaxation time.
pub fn fokker_planck_with_relaxation(
    experiment: &Experiment,
    fp: &FpSpec,
    linear: Option<&LinearTheory>,
) -> Result<(FpSolution, Result<FpRelaxation, RelaxationError>), TheoryError> {
    let grid = fokker_planck_grid(experiment, fp, linear)?;
    let fields = drift_and_diffusion(experiment, linear)?;
    let (solution, generator) =
        solve_stationary_factorised(&grid, &|w| fields.drift(w), &|w| fields.diffusion(w))
            .map_err(|e| TheoryError::NoFokkerPlanck(e.to_string()))?;
    let relaxation = fp_relaxation(&generator);
    Ok((solution, relaxation))
}

/// The relaxation of the linearised theory (docs/theory.md §9.3).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LinearRelaxation {
    /// `−ln ρ(P)`, the slowest decay rate of the mean under the linearised map, per time unit.
    pub rate: f64,
    /// `τ = 1/rate`, in time units.
    pub relaxation_time: f64,
    /// The leading order in `η h`: `η h_min` per step, `η M h_min` per epoch (`h_min` the
    /// smallest eigenvalue of the theory's Hessian, `H_eff` without replacement).
    pub leading_order_rate: f64,
    /// Steps with replacement, epochs without.
    pub time_unit: TimeUnit,
}

/// The relaxation of `theory`, the linearised theory of `experiment` (see the module
/// documentation): with replacement `P = I − η H̄(w*)`; without, the epoch map of
/// [`wor_epoch_map`] about `w_eff`.
pub fn linear_relaxation(
    experiment: &Experiment,
    theory: &LinearTheory,
) -> Result<LinearRelaxation, RelaxationError> {
    let d = theory.dim();
    let dynamics = &experiment.dynamics;
    let h_min = theory
        .hessian_eigenvalues()
        .first()
        .copied()
        .unwrap_or(f64::NAN);
    let (contraction, leading_order_rate) = match dynamics.replacement {
        Replacement::Wr => {
            let hessian = DMatrix::from_row_slice(d, d, &theory.hessian);
            let p = DMatrix::<f64>::identity(d, d) - hessian * dynamics.eta;
            (p, dynamics.eta * h_min)
        }
        Replacement::Wor => {
            let mut hessian_mean = vec![0.0; d * d];
            experiment
                .landscape
                .hessian(&theory.mean, &mut hessian_mean);
            let m = dynamics.batches_per_epoch() as f64;
            let map = wor_epoch_map(
                &DMatrix::from_row_slice(d, d, &hessian_mean),
                &DMatrix::from_row_slice(d, d, &theory.hessian),
                &DMatrix::zeros(d, d),
                dynamics,
            );
            (
                DMatrix::<f64>::identity(d, d) - map.k,
                dynamics.eta * m * h_min,
            )
        }
    };
    // `P` is symmetric in both cases (the epoch map is symmetrised).
    let flat: Vec<f64> = contraction.transpose().iter().copied().collect();
    let radius = symmetric_eigen(d, &flat)
        .0
        .iter()
        .fold(0.0_f64, |r, p| r.max(p.abs()));
    if !(radius.is_finite() && radius < 1.0) {
        return Err(RelaxationError::NotContracting { radius });
    }
    let rate = -radius.ln();
    Ok(LinearRelaxation {
        rate,
        relaxation_time: 1.0 / rate,
        leading_order_rate,
        time_unit: dynamics.time_unit(),
    })
}

/// The relaxation time a report should use, in time units: the Fokker–Planck one when there is
/// a solution (it sees every well), else the linearised one.
pub fn relaxation_time(
    fp: Option<&FpRelaxation>,
    linear: Option<&LinearRelaxation>,
) -> Option<f64> {
    fp.map(|r| r.relaxation_time)
        .or(linear.map(|r| r.relaxation_time))
}

/// A start vector of zero mass with a component on every populated mode: `π_i r_i`, `r_i`
/// deterministic pseudo-random in `[−1, 1]`, centred and normalised.
fn initial_vector(stationary: &[f64]) -> Vec<f64> {
    let mut state: u64 = 0x7265_6c61_7865;
    let mut v: Vec<f64> = stationary
        .iter()
        .map(|p| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            p.max(0.0) * r + 1e-3 * r / stationary.len() as f64
        })
        .collect();
    project_zero_mass(&mut v);
    normalise(&mut v);
    v
}

fn project_zero_mass(v: &mut [f64]) {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    v.iter_mut().for_each(|x| *x -= mean);
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Normalise `v` to unit length; returns the old length.
fn normalise(v: &mut [f64]) -> f64 {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

/// A Ritz value `θ` of the inverse operator and its residual estimate.
#[derive(Clone, Copy, Debug)]
struct Ritz {
    theta: Complex<f64>,
    /// `β |y_j| / |θ|`.
    residual: f64,
}

/// Wanted Ritz values and their unit eigenvectors in the Krylov basis.
type RitzPairs = (Vec<Ritz>, Vec<DVector<Complex<f64>>>);

struct ArnoldiOutcome {
    converged: bool,
    /// The wanted Ritz values, largest `|θ|` first.
    ritz: Vec<Ritz>,
    worst_residual: f64,
    /// The real parts of the wanted Ritz vectors, summed: the next start.
    restart: Vec<f64>,
}

/// One Arnoldi cycle on `(Qᵀ)⁻¹` restricted to zero mass, from `start`, until the `count`
/// largest Ritz values have converged or the space holds `max_krylov` vectors.
fn arnoldi(
    generator: &FactorisedGenerator,
    start: &[f64],
    count: usize,
    max_krylov: usize,
    tolerance: f64,
    solves: &mut usize,
) -> ArnoldiOutcome {
    let mut basis: Vec<Vec<f64>> = vec![start.to_vec()];
    let mut h = DMatrix::<f64>::zeros(max_krylov + 1, max_krylov);
    let mut last: Option<RitzPairs> = None;
    for j in 0..max_krylov {
        let mut w = generator.solve_zero_mass(&basis[j]);
        *solves += 1;
        project_zero_mass(&mut w);
        // Classical Gram–Schmidt, twice, against the whole basis.
        for _ in 0..2 {
            for (i, v) in basis.iter().enumerate() {
                let c = dot(v, &w);
                h[(i, j)] += c;
                w.iter_mut().zip(v).for_each(|(x, y)| *x -= c * y);
            }
        }
        let beta = normalise(&mut w);
        h[(j + 1, j)] = beta;
        let size = j + 1;
        let (ritz, vectors) = wanted_ritz(&h.view((0, 0), (size, size)).into_owned(), beta, count);
        let worst = ritz.iter().fold(0.0_f64, |m, r| m.max(r.residual));
        let breakdown = beta.is_nan() || beta <= 1e-14 * h[(0, 0)].abs().max(f64::MIN_POSITIVE);
        if ritz.len() >= count && (worst < tolerance || breakdown) {
            return ArnoldiOutcome {
                converged: true,
                worst_residual: worst,
                restart: Vec::new(),
                ritz,
            };
        }
        last = Some((ritz, vectors));
        if breakdown {
            break;
        }
        basis.push(w);
    }
    let (ritz, vectors) = last.unwrap_or_default();
    let worst = ritz.iter().fold(0.0_f64, |m, r| m.max(r.residual));
    // Restart from Σ Re(V y_k) over the wanted Ritz vectors (a real vector whose Krylov space
    // holds both members of a complex pair).
    let mut restart = vec![0.0; start.len()];
    for y in &vectors {
        for (k, v) in basis.iter().enumerate().take(y.len()) {
            let c = y[k].re;
            restart.iter_mut().zip(v).for_each(|(r, x)| *r += c * x);
        }
    }
    project_zero_mass(&mut restart);
    if normalise(&mut restart) == 0.0 {
        restart = start.to_vec();
    }
    ArnoldiOutcome {
        converged: false,
        ritz,
        worst_residual: worst,
        restart,
    }
}

/// The `count` Ritz values of largest modulus of the Hessenberg matrix `h` (a complex pair is
/// completed if it straddles the cut), with residual estimates `β |y_last| / |θ|` and their
/// unit eigenvectors `y`.
fn wanted_ritz(h: &DMatrix<f64>, beta: f64, count: usize) -> RitzPairs {
    let mut values: Vec<Complex<f64>> = h.complex_eigenvalues().iter().copied().collect();
    values.sort_by(|a, b| b.norm().total_cmp(&a.norm()).then(b.im.total_cmp(&a.im)));
    let mut take = count.min(values.len());
    // Keep conjugate pairs together.
    if take < values.len() && values[take - 1].im > 0.0 {
        take += 1;
    }
    let size = h.nrows();
    let complex_h = h.map(|x| Complex::new(x, 0.0));
    values
        .into_iter()
        .take(take)
        .map(|theta| {
            let y = ritz_vector(&complex_h, theta);
            let residual = if theta.norm() > 0.0 {
                beta * y[size - 1].norm() / theta.norm()
            } else {
                f64::INFINITY
            };
            (Ritz { theta, residual }, y)
        })
        .unzip()
}

/// A unit eigenvector of `h` for the eigenvalue `theta`, by inverse iteration with a slightly
/// perturbed shift.
fn ritz_vector(h: &DMatrix<Complex<f64>>, theta: Complex<f64>) -> DVector<Complex<f64>> {
    let size = h.nrows();
    let scale = theta.norm().max(f64::MIN_POSITIVE);
    let shift = theta + Complex::new(1e-10 * scale, 1e-10 * scale);
    let shifted = h - DMatrix::<Complex<f64>>::identity(size, size) * shift;
    let lu = shifted.lu();
    let mut y = DVector::<Complex<f64>>::from_element(size, Complex::new(1.0, 0.0));
    for _ in 0..3 {
        match lu.solve(&y) {
            Some(next) if next.iter().all(|z| z.re.is_finite() && z.im.is_finite()) => {
                let norm = next.norm();
                if norm > 0.0 {
                    y = next / Complex::new(norm, 0.0);
                }
            }
            _ => break,
        }
    }
    let norm = y.norm();
    y / Complex::new(norm, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::fokker_planck::{Grid2d, solve_stationary_factorised};

    /// A one-dimensional-like chain (a grid one cell high) of the Ornstein–Uhlenbeck process
    /// `dx = −k x dt + sqrt(2D) dW`: the discrete operator's slowest rates approach `k`, `2k`.
    #[test]
    fn ou_chain_rates() {
        let (k, d) = (0.5_f64, 0.2);
        let sigma = (d / k).sqrt();
        let grid = Grid2d::new(400, 1, [-8.0 * sigma, 8.0 * sigma, -1.0, 1.0]).expect("grid");
        let (_, generator) =
            solve_stationary_factorised(&grid, &|w| [-k * w[0], 0.0], &|_| [[d, 0.0], [0.0, d]])
                .expect("solves");
        let (modes, _) = slowest_modes(&generator, 3, 1e-10).expect("converges");
        for (mode, expected) in modes.iter().zip([k, 2.0 * k, 3.0 * k]) {
            assert!(
                (mode.rate() - expected).abs() < 2e-3 * expected && mode.eigenvalue[1].abs() < 1e-9,
                "{mode:?} vs {expected}"
            );
        }
    }

    /// A rotating drift `−K x` with `K = [[k, −ω], [ω, k]]` and isotropic noise: the slowest
    /// modes are the complex pair `−k ± iω` of the mean (the spectrum of an Ornstein–Uhlenbeck
    /// generator is `−Σ n_i κ_i` over the eigenvalues `κ_i` of `K`).
    #[test]
    fn rotating_ou_has_a_complex_pair() {
        let (k, omega, d) = (0.4_f64, 0.3, 0.1);
        let half = 7.0 * (d / k).sqrt();
        let grid = Grid2d::square(96, [-half, half, -half, half]).expect("grid");
        let (_, generator) = solve_stationary_factorised(
            &grid,
            &|w| [-k * w[0] + omega * w[1], -omega * w[0] - k * w[1]],
            &|_| [[d, 0.0], [0.0, d]],
        )
        .expect("solves");
        let (modes, _) = slowest_modes(&generator, 2, 1e-10).expect("converges");
        for mode in &modes[..2] {
            assert!((mode.rate() - k).abs() < 5e-3 * k, "{mode:?}");
            assert!(
                (mode.eigenvalue[1].abs() - omega).abs() < 5e-3 * omega,
                "{mode:?}"
            );
        }
        assert!(modes[0].eigenvalue[1] * modes[1].eigenvalue[1] < 0.0);
        let relaxation = fp_relaxation(&generator).expect("converges");
        assert!((relaxation.relaxation_time * k - 1.0).abs() < 5e-3);
    }
}
