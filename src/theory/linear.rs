//! The linearised (Ornstein–Uhlenbeck) theory of the stationary state (docs/theory.md §3.1
//! and §4.4), for any landscape and algorithm.
//!
//! With replacement (time in steps), about the minimum `w*` of `L` with `H = H̄(w*)`:
//!
//! ```text
//! D = (η²/2) c_B S(w*) + η T I,      H Σ + Σ H = (2/η) D,      C = (η/2)(H Σ − Σ H).
//! ```
//!
//! Without replacement (time in epochs), about the minimum `w_eff` of `L_eff` with
//! `H_eff = ∇∇L_eff(w_eff)`:
//!
//! ```text
//! D = D_WOR(w_eff) + η M T I,        H_eff Σ + Σ H_eff = (2/(η M)) D,
//! C = (η M/2)(H_eff Σ − Σ H_eff).
//! ```
//!
//! Both are the Ornstein–Uhlenbeck process `Δx = −K x + noise` with drift matrix `K = η H`
//! per step or `K = η M H_eff` per epoch, stationary covariance `K Σ + Σ K = 2 D`,
//! circulation `C = (K Σ − Σ K)/2`, mean local velocity `v(w) = −C Σ⁻¹ (w − mean)`, and
//! entropy production rate `⟨vᵀ D⁻¹ v⟩ = −tr(C D⁻¹ C Σ⁻¹) ≥ 0`, zero iff `C = 0`.

use std::sync::Arc;

use nalgebra::DMatrix;
use serde::Serialize;

use super::TheoryError;
use super::fokker_planck::{FpSolution, Grid2d, automatic_bounds, solve_stationary};
use super::lyapunov::{
    solve_continuous, solve_discrete, symmetric_eigen, symmetrise, to_row_major,
};
use super::wor::{EffectiveLandscape, wor_diffusion, wor_diffusion_monte_carlo};
use crate::dynamics::{Dynamics, Replacement, TimeUnit};
use crate::landscape::newton::newton_minimum;
use crate::landscape::{Landscape, gradient_covariance};
use crate::preset::{Experiment, FpSpec};

/// Settings of the theory that are not part of the preset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TheoryOptions {
    /// `0` (the default): `D_WOR` in closed form, exact over all permutations
    /// ([`super::wor::wor_diffusion`]); otherwise the number of random permutations of a
    /// Monte Carlo estimate (a cross-check).
    pub permutations: usize,
    /// Seed of that Monte Carlo.
    pub seed: u64,
}

impl Default for TheoryOptions {
    fn default() -> Self {
        Self {
            permutations: 0,
            seed: 1,
        }
    }
}

/// The Gaussian stationary state predicted by the linearised theory. Matrices are row-major
/// `d × d`; rates and matrices are per time unit (a step with replacement, an epoch without).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinearTheory {
    /// The minimum of `L` (Newton's method).
    pub minimum: Vec<f64>,
    /// The predicted stationary mean: `w_eff` without replacement, else the minimum.
    pub mean: Vec<f64>,
    /// The Hessian in the Lyapunov equation: `H̄(w*)`, or `H_eff(w_eff)` without replacement.
    pub hessian: Vec<f64>,
    /// The diffusion matrix `D` at the mean, per time unit.
    pub diffusion: Vec<f64>,
    /// The stationary covariance `Σ`.
    pub cov: Vec<f64>,
    /// The circulation `C` (antisymmetric), per time unit.
    pub circulation: Vec<f64>,
    /// Entropy production rate `−tr(C D⁻¹ C Σ⁻¹)`, per time unit.
    pub ep_rate: f64,
    /// Permutations of a `D_WOR` Monte Carlo; `null` for the exact closed form (and with
    /// replacement). Always serialised, so that scripts reading the key of earlier reports
    /// (which estimated `D_WOR` by Monte Carlo) still find it.
    pub permutations: Option<usize>,
    /// The time unit of every rate and matrix: a step with replacement, an epoch without.
    pub time_unit: TimeUnit,
    /// `‖HΣ − ΣH‖_F / ‖HΣ + ΣH‖_F`: zero in equilibrium (then `C = 0`), of order one far from
    /// it (docs/theory.md §3.1).
    pub nonequilibrium_ratio: f64,
}

impl LinearTheory {
    /// Dimension `d`.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Eigenvalues of [`hessian`](Self::hessian), ascending.
    pub fn hessian_eigenvalues(&self) -> Vec<f64> {
        let mut values = symmetric_eigen(self.dim(), &self.hessian).0;
        values.sort_by(f64::total_cmp);
        values
    }

    /// The matrix `−C Σ⁻¹` of the mean local velocity `v(w) = −C Σ⁻¹ (w − mean)`.
    pub fn velocity_matrix(&self) -> Vec<f64> {
        let d = self.dim();
        let c = DMatrix::from_row_slice(d, d, &self.circulation);
        let sigma = DMatrix::from_row_slice(d, d, &self.cov);
        match sigma.try_inverse() {
            Some(inverse) => to_row_major(&(-(c * inverse))),
            None => vec![0.0; d * d],
        }
    }

    /// `D⁻¹` (row-major); `None` if `D` is singular.
    pub fn diffusion_inverse(&self) -> Option<Vec<f64>> {
        let d = self.dim();
        DMatrix::from_row_slice(d, d, &self.diffusion)
            .try_inverse()
            .map(|m| to_row_major(&m))
    }
}

/// The linearised theory of `experiment` (see the module documentation).
///
/// Newton's method starts from the experiment's start point (the preset's `dynamics.start`
/// or the landscape's own). Without replacement `D_WOR` is exact (closed form) unless
/// `options.permutations` asks for a Monte Carlo estimate.
pub fn linear_theory(
    experiment: &Experiment,
    options: &TheoryOptions,
) -> Result<LinearTheory, TheoryError> {
    let minimum = find_minimum(experiment.landscape.as_ref(), &experiment.start)?;
    linear_theory_about(
        experiment.landscape.as_ref(),
        &experiment.dynamics,
        minimum,
        options,
    )
}

/// [`linear_theory`] about a `minimum` of `L` already found ([`find_minimum`],
/// [`local_minima`]): the hyperparameter map (docs/theory.md §10) finds it once and evaluates
/// every `(η, B, replacement)` cell with this same function, so its cells equal `neqlab run`'s.
pub fn linear_theory_about(
    landscape: &dyn Landscape,
    dynamics: &Dynamics,
    minimum: Vec<f64>,
    options: &TheoryOptions,
) -> Result<LinearTheory, TheoryError> {
    let d = landscape.dim();
    let ExpansionPoint {
        mean,
        hessian,
        diffusion,
        minibatch,
        rate,
        permutations,
    } = expansion_point(landscape, dynamics, &minimum, options)?;
    check_stable(d, &mean, &hessian, dynamics)?;
    check_diffusion(d, &diffusion, dynamics)?;
    let not_stable = || TheoryError::NotStable {
        point: mean.clone(),
        smallest: symmetric_eigen(d, &hessian)
            .0
            .into_iter()
            .fold(f64::INFINITY, f64::min),
    };
    // SGWORLD (T > 0) uses the discrete epoch map: against simulation on the bowl at
    // η M h = 0.51 its covariance is within 0.6% where the leading order is 13.7% off. SGD
    // without replacement (T = 0) keeps the leading order: its noise is the minibatch `D_WOR`
    // alone, which neither description captures well there (stiff variance 46% over with the
    // leading order, 85% with the epoch map; `tests/theory.rs`).
    let epoch_map = dynamics.replacement == Replacement::Wor && dynamics.temperature > 0.0;
    let (k, diffusion_matrix, sigma) = match dynamics.replacement {
        _ if !epoch_map => {
            let k = DMatrix::from_row_slice(d, d, &hessian) * rate;
            let diffusion_matrix = DMatrix::from_row_slice(d, d, &diffusion);
            let sigma = solve_continuous(&k, &(&diffusion_matrix * 2.0)).ok_or_else(not_stable)?;
            (k, diffusion_matrix, sigma)
        }
        _ => {
            let mut hessian_mean = vec![0.0; d * d];
            landscape.hessian(&mean, &mut hessian_mean);
            let epoch = wor_epoch_map(
                &DMatrix::from_row_slice(d, d, &hessian_mean),
                &DMatrix::from_row_slice(d, d, &hessian),
                &DMatrix::from_row_slice(d, d, &minibatch),
                dynamics,
            );
            let sigma =
                solve_discrete(&epoch.k, &(&epoch.diffusion * 2.0)).ok_or_else(not_stable)?;
            (epoch.k, epoch.diffusion, sigma)
        }
    };
    let diffusion = to_row_major(&diffusion_matrix);
    // Stochastic area per time unit of `Δx = −K x + noise`: `⟨(x_a Δx_b − x_b Δx_a)/2⟩ =
    // ½(K Σ − Σ Kᵀ)_ab`, exact for the discrete map too (the noise is independent of x).
    let circulation = (&k * &sigma - &sigma * k.transpose()) * 0.5;
    let ep_rate = entropy_production_rate(&circulation, &diffusion_matrix, &sigma);
    let nonequilibrium_ratio = {
        let h = DMatrix::from_row_slice(d, d, &hessian);
        let (hs, sh) = (&h * &sigma, &sigma * &h);
        (&hs - &sh).norm() / (&hs + &sh).norm().max(f64::MIN_POSITIVE)
    };
    Ok(LinearTheory {
        minimum,
        mean,
        hessian,
        diffusion,
        cov: to_row_major(&sigma),
        circulation: to_row_major(&circulation),
        ep_rate,
        permutations,
        time_unit: dynamics.time_unit(),
        nonequilibrium_ratio,
    })
}

/// Where and with what the linearised theory expands (docs/theory.md §3.1, §4.4).
struct ExpansionPoint {
    /// The minimum of `L` (with replacement) or `w_eff` of `L_eff` (without).
    mean: Vec<f64>,
    /// `H̄(w*)` or `H_eff(w_eff)`.
    hessian: Vec<f64>,
    /// `D` per time unit (thermal part included).
    diffusion: Vec<f64>,
    /// Without replacement: `D_WOR` alone (zeros with replacement).
    minibatch: Vec<f64>,
    /// `η` per step or `η M` per epoch.
    rate: f64,
    /// Permutations of the `D_WOR` Monte Carlo (`None`: exact closed form).
    permutations: Option<usize>,
}

fn expansion_point(
    landscape: &dyn Landscape,
    dynamics: &Dynamics,
    minimum: &[f64],
    options: &TheoryOptions,
) -> Result<ExpansionPoint, TheoryError> {
    let d = landscape.dim();
    Ok(match dynamics.replacement {
        Replacement::Wr => {
            let mut hessian = vec![0.0; d * d];
            landscape.hessian(minimum, &mut hessian);
            ExpansionPoint {
                mean: minimum.to_vec(),
                hessian,
                diffusion: wr_diffusion(landscape, dynamics, minimum),
                minibatch: vec![0.0; d * d],
                rate: dynamics.eta,
                permutations: None,
            }
        }
        Replacement::Wor => {
            let effective = EffectiveLandscape::new(landscape, dynamics);
            let mean = effective.minimum(minimum)?;
            let hessian = effective.hessian(&mean);
            let wor = match options.permutations {
                0 => wor_diffusion(landscape, dynamics, &mean),
                permutations => wor_diffusion_monte_carlo(
                    landscape,
                    dynamics,
                    &mean,
                    permutations.max(2),
                    options.seed,
                ),
            };
            let m = dynamics.batches_per_epoch() as f64;
            let mut diffusion = wor.diffusion.clone();
            for a in 0..d {
                diffusion[a * d + a] += dynamics.eta * m * dynamics.temperature;
            }
            ExpansionPoint {
                mean,
                hessian,
                diffusion,
                minibatch: wor.diffusion,
                rate: dynamics.eta * m,
                permutations: wor.permutations,
            }
        }
    })
}

/// The linearised WOR epoch map `x ← P x + noise` about `w_eff`, as `K = I − P` and the
/// per-epoch diffusion matrix `D = Q/2` (see [`wor_epoch_map`]).
#[derive(Clone, Debug)]
pub struct EpochMap {
    /// `K = I − P`, per epoch (symmetric).
    pub k: DMatrix<f64>,
    /// `D = Q/2`, half the covariance of one epoch's displacement, per epoch.
    pub diffusion: DMatrix<f64>,
}

/// The linearised epoch map of SGD-WOR / SGWORLD about `w_eff`, beyond the leading order in
/// `η M h` (docs/theory.md §4.4).
///
/// Inputs: `hessian_mean = H̄(w_eff)`, `hessian_eff = H_eff = ∇∇L_eff(w_eff)`, the minibatch
/// diffusion `minibatch = D_WOR(w_eff)` per epoch (without the thermal term).
///
/// - Contraction: `P = (I − ηH̄)^M − [η M (H_eff − H̄) + η² M(M−1)/2 · H̄²]`. The first term is
///   the exact product of `M` mean-Hessian steps; the bracket is what `I − η M H_eff` (the
///   second-order epoch Jacobian of §4.4) adds beyond the second-order expansion of that
///   product, `I − η M H̄ + η² M(M−1)/2 · H̄²`: the minibatch (`E_pair[H_{B_k} H_{B_j}] − H̄²`)
///   and third-derivative parts of the `L_eff` curvature. For identical per-example Hessians
///   (the bowl) the bracket vanishes and `P = (I − ηH)^M` exactly. `P` is symmetric.
/// - Noise: `Q = 2ηT Σ_{k=0}^{M−1} (I − ηH̄)^{2k} + 2 D_WOR`: each thermal kick is contracted
///   by the steps left in the epoch (to leading order in `η M h` the sum is `2 η M T I`).
///
/// The stationary covariance then solves the discrete Lyapunov equation `Σ = P Σ P + Q`
/// (the leading order of §4.4 is `η M (H_eff Σ + Σ H_eff) = 2 D`, exact only as `η M h → 0`).
/// For identical per-example Hessians this reproduces ULA's thermal covariance exactly,
/// since `Σ_ULA = A Σ_ULA A + 2ηT I` with `A = I − ηH` implies
/// `Σ_ULA = A^M Σ_ULA A^M + 2ηT Σ_k A^{2k}`.
pub fn wor_epoch_map(
    hessian_mean: &DMatrix<f64>,
    hessian_eff: &DMatrix<f64>,
    minibatch: &DMatrix<f64>,
    dynamics: &Dynamics,
) -> EpochMap {
    let d = hessian_mean.nrows();
    let eta = dynamics.eta;
    let m = dynamics.batches_per_epoch();
    let mf = m as f64;
    let identity = DMatrix::<f64>::identity(d, d);
    let step = &identity - hessian_mean * eta;
    let step_squared = &step * &step;
    let mut product = identity.clone();
    let mut thermal = DMatrix::<f64>::zeros(d, d);
    let mut power = identity.clone();
    for _ in 0..m {
        thermal += &power;
        power = &power * &step_squared;
        product = &product * &step;
    }
    let correction = (hessian_eff - hessian_mean) * (eta * mf)
        + hessian_mean * hessian_mean * (0.5 * eta * eta * mf * (mf - 1.0));
    let p = symmetrise(&(product - correction));
    let q = thermal * (2.0 * eta * dynamics.temperature) + minibatch * 2.0;
    EpochMap {
        k: &identity - p,
        diffusion: symmetrise(&q) * 0.5,
    }
}

/// `−tr(C D⁻¹ C Σ⁻¹)`; zero when `D` or `Σ` cannot be inverted.
pub fn entropy_production_rate(c: &DMatrix<f64>, d: &DMatrix<f64>, sigma: &DMatrix<f64>) -> f64 {
    match (d.clone().try_inverse(), sigma.clone().try_inverse()) {
        (Some(d_inverse), Some(sigma_inverse)) => -(c * d_inverse * c * sigma_inverse).trace(),
        _ => 0.0,
    }
}

/// The with-replacement diffusion matrix `D(w) = (η²/2) c_B S(w) + η T I` per step
/// (docs/theory.md §3), row-major.
pub fn wr_diffusion(landscape: &dyn Landscape, dynamics: &Dynamics, w: &[f64]) -> Vec<f64> {
    let d = landscape.dim();
    let eta = dynamics.eta;
    let factor = 0.5 * eta * eta * dynamics.finite_population_factor();
    let mut diffusion: Vec<f64> = gradient_covariance(landscape, w)
        .iter()
        .map(|s| factor * s)
        .collect();
    for a in 0..d {
        diffusion[a * d + a] += eta * dynamics.temperature;
    }
    diffusion
}

fn check_stable(
    d: usize,
    point: &[f64],
    hessian: &[f64],
    dynamics: &Dynamics,
) -> Result<(), TheoryError> {
    let (values, _) = symmetric_eigen(d, hessian);
    let smallest = values.iter().copied().fold(f64::INFINITY, f64::min);
    let largest = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if smallest.is_nan() || smallest <= 0.0 {
        return Err(TheoryError::NotStable {
            point: point.to_vec(),
            smallest,
        });
    }
    let eta_h = dynamics.eta * largest;
    if eta_h >= 2.0 {
        return Err(TheoryError::StepTooLarge { eta_h });
    }
    Ok(())
}

fn check_diffusion(d: usize, diffusion: &[f64], dynamics: &Dynamics) -> Result<(), TheoryError> {
    let (values, _) = symmetric_eigen(d, diffusion);
    let smallest = values.iter().copied().fold(f64::INFINITY, f64::min);
    let largest = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if largest > 0.0 && smallest > 1e-12 * largest {
        return Ok(());
    }
    let why = match (dynamics.replacement, dynamics.temperature > 0.0) {
        (_, true) => "the diffusion matrix has a direction without noise".to_string(),
        (Replacement::Wr, false) if dynamics.batch_size == dynamics.n_examples => format!(
            "{} with B = N = {} is full-batch gradient descent: there is no gradient noise, \
             and the walkers collapse onto the minimum",
            dynamics.algorithm.label(),
            dynamics.n_examples
        ),
        (Replacement::Wr, false) => format!(
            "{}'s only noise is the minibatch noise (η²/2) c_B S, and the per-example \
             gradients at the minimum do not vary along every direction (S is singular), so \
             the stationary state collapses there",
            dynamics.algorithm.label()
        ),
        (Replacement::Wor, false) => format!(
            "{} without replacement has only the per-epoch noise D_WOR of order η⁴, and it \
             vanishes along some direction at the effective minimum",
            dynamics.algorithm.label()
        ),
    };
    Err(TheoryError::SingularDiffusion {
        smallest,
        largest,
        why,
    })
}

/// The local minima of `L` found by Newton's method ([`newton_minimum`]) from the start point
/// and from every [`minimum_hints`](Landscape::minimum_hints) of the landscape
/// (docs/theory.md §8): the one search every prediction shares.
#[derive(Clone, Debug, PartialEq)]
pub struct Minima {
    /// The minimum reached from the start point, about which the linearised theory expands,
    /// or why there is none.
    pub from_start: Result<Vec<f64>, TheoryError>,
    /// Every distinct minimum found, the start point's first.
    pub all: Vec<Vec<f64>>,
}

impl Minima {
    /// Whether the landscape has several minima, so that the linearised theory describes one
    /// basin only.
    pub fn several(&self) -> bool {
        self.all.len() > 1
    }
}

/// The minima of `landscape` from `start` and its hints ([`Minima`]); two points count as one
/// minimum when they differ by less than `10⁻⁶ (1 + |w|₁)` in the 1-norm.
pub fn local_minima(landscape: &dyn Landscape, start: &[f64]) -> Minima {
    let from_start = find_minimum(landscape, start);
    let mut all: Vec<Vec<f64>> = Vec::new();
    let hints = landscape
        .minimum_hints()
        .into_iter()
        .filter_map(|hint| newton_minimum(landscape, &hint).ok().map(|m| m.w));
    for w in from_start.iter().cloned().chain(hints) {
        let scale = 1e-6 * (1.0 + w.iter().map(|x| x.abs()).sum::<f64>());
        let known = all
            .iter()
            .any(|m| m.iter().zip(&w).map(|(a, b)| (a - b).abs()).sum::<f64>() < scale);
        if !known {
            all.push(w);
        }
    }
    Minima { from_start, all }
}

/// The minimum of `L` by Newton's method from `start` ([`newton_minimum`]).
pub fn find_minimum(landscape: &dyn Landscape, start: &[f64]) -> Result<Vec<f64>, TheoryError> {
    newton_minimum(landscape, start)
        .map(|minimum| minimum.w)
        .map_err(|error| TheoryError::NoMinimum {
            start: start.to_vec(),
            reason: format!(
                "{}; best point {:?} with gradient norm {:.3e}",
                error.reason, error.best.w, error.best.gradient_norm
            ),
        })
}

/// Drift and diffusion fields of the 2-D Fokker–Planck equation of an experiment, per time
/// unit (docs/theory.md §3 and §4.2).
///
/// - With replacement: `A(w) = −η ∇L(w)`, `D(w) = (η²/2) c_B S(w) + η T I` (position
///   dependent).
/// - SGWORLD: `A(w) = −η M ∇L_eff(w)` and a constant `D`, to leading order
///   `η M T I + D_WOR(w_eff)`, matched to the epoch map's covariance (see
///   [`drift_and_diffusion`]).
#[derive(Clone)]
pub struct DriftDiffusion {
    landscape: Arc<dyn Landscape>,
    dynamics: Dynamics,
    /// Constant diffusion without replacement.
    constant_diffusion: Option<[[f64; 2]; 2]>,
}

impl DriftDiffusion {
    /// The drift `A(w)` per time unit.
    pub fn drift(&self, w: [f64; 2]) -> [f64; 2] {
        let eta = self.dynamics.eta;
        match self.dynamics.replacement {
            Replacement::Wr => {
                let mut g = [0.0; 2];
                self.landscape.gradient(&w, &mut g);
                [-eta * g[0], -eta * g[1]]
            }
            Replacement::Wor => {
                let m = self.dynamics.batches_per_epoch() as f64;
                let g =
                    EffectiveLandscape::new(self.landscape.as_ref(), &self.dynamics).gradient(&w);
                [-eta * m * g[0], -eta * m * g[1]]
            }
        }
    }

    /// The diffusion matrix `D(w)` per time unit.
    pub fn diffusion(&self, w: [f64; 2]) -> [[f64; 2]; 2] {
        if let Some(constant) = self.constant_diffusion {
            return constant;
        }
        let d = wr_diffusion(self.landscape.as_ref(), &self.dynamics, &w);
        [[d[0], d[1]], [d[2], d[3]]]
    }
}

/// The drift and diffusion of the 2-D Fokker–Planck equation of `experiment`.
///
/// SGWORLD needs `D_WOR(w_eff)`: taken from `linear` when given (its diffusion already holds
/// `η M T I`), else estimated afresh. SGD without replacement (`T = 0`) has no Fokker–Planck
/// prediction here, only the Gaussian one.
pub fn drift_and_diffusion(
    experiment: &Experiment,
    linear: Option<&LinearTheory>,
) -> Result<DriftDiffusion, TheoryError> {
    check_plane(experiment)?;
    let landscape = experiment.landscape.clone();
    let dynamics = experiment.dynamics;
    let constant_diffusion = match dynamics.replacement {
        Replacement::Wr => None,
        Replacement::Wor if dynamics.temperature <= 0.0 => {
            return Err(TheoryError::NoFokkerPlanck(
                "SGD without replacement has no thermal noise and its per-epoch noise D_WOR is \
                 of order η⁴ and position dependent; only the Gaussian (linearised) prediction \
                 is available"
                    .into(),
            ));
        }
        Replacement::Wor => {
            let owned;
            let theory = match linear {
                Some(theory) => theory,
                None => {
                    owned = linear_theory(experiment, &TheoryOptions::default())?;
                    &owned
                }
            };
            // The Fokker–Planck drift is the continuous `−η M ∇L_eff`; its constant diffusion
            // is matched so that its linearised stationary covariance is the epoch map's `Σ`
            // (`D_fp = (K Σ + Σ K)/2`, `K = η M H_eff`), rather than the per-epoch `D = Q/2`
            // of the discrete map (see [`wor_epoch_map`]).
            let m = dynamics.batches_per_epoch() as f64;
            let k = DMatrix::from_row_slice(2, 2, &theory.hessian) * (dynamics.eta * m);
            let sigma = DMatrix::from_row_slice(2, 2, &theory.cov);
            let d = symmetrise(&((&k * &sigma + &sigma * &k) * 0.5));
            Some([[d[(0, 0)], d[(0, 1)]], [d[(1, 0)], d[(1, 1)]]])
        }
    };
    Ok(DriftDiffusion {
        landscape,
        dynamics,
        constant_diffusion,
    })
}

/// The grid of the 2-D Fokker–Planck solve: `fp.grid` cells per axis over `fp.bounds`, or
/// automatic bounds covering ±6 predicted standard deviations around the predicted mean and
/// around every minimum of the landscape ([`local_minima`]), so that nonconvex landscapes keep
/// all their wells on the grid.
pub fn fokker_planck_grid(
    experiment: &Experiment,
    fp: &FpSpec,
    linear: Option<&LinearTheory>,
) -> Result<Grid2d, TheoryError> {
    check_plane(experiment)?;
    let owned;
    let linear = match (linear, fp.bounds) {
        (Some(theory), _) => Some(theory),
        (None, Some(_)) => None,
        (None, None) => {
            owned = linear_theory(experiment, &TheoryOptions::default()).map_err(|e| {
                TheoryError::NoFokkerPlanck(format!(
                    "automatic bounds need the linearised theory ({e}); set fp.bounds"
                ))
            })?;
            Some(&owned)
        }
    };
    let minima = local_minima(experiment.landscape.as_ref(), &experiment.start);
    plane_grid(fp, linear, &minima.all)
}

/// [`fokker_planck_grid`] with the minima already found: `fp.bounds`, else ±6 standard
/// deviations of `linear` around its mean and around every minimum.
pub fn plane_grid(
    fp: &FpSpec,
    linear: Option<&LinearTheory>,
    minima: &[Vec<f64>],
) -> Result<Grid2d, TheoryError> {
    let bounds = match (fp.bounds, linear) {
        (Some(bounds), _) => bounds,
        (None, Some(theory)) => {
            let points: Vec<[f64; 2]> = minima
                .iter()
                .filter(|m| m.len() == 2)
                .map(|m| [m[0], m[1]])
                .collect();
            automatic_bounds(&theory.mean, &theory.cov, &points)
        }
        (None, None) => {
            return Err(TheoryError::NoFokkerPlanck(
                "automatic bounds need the linearised theory; set fp.bounds".into(),
            ));
        }
    };
    Grid2d::square(fp.grid, bounds).map_err(|e| TheoryError::NoFokkerPlanck(e.to_string()))
}

/// Fail unless `experiment` lives in a plane.
fn check_plane(experiment: &Experiment) -> Result<(), TheoryError> {
    let landscape = experiment.landscape.as_ref();
    if landscape.dim() == 2 {
        return Ok(());
    }
    Err(TheoryError::NoFokkerPlanck(format!(
        "the Fokker–Planck solver works in two dimensions and this {} landscape has {}",
        landscape.kind(),
        landscape.dim()
    )))
}

/// The stationary density and current of the 2-D Fokker–Planck equation of `experiment`
/// (docs/theory.md §8) on the grid of [`fokker_planck_grid`], with the drift and
/// diffusion of [`drift_and_diffusion`]. Heavy (a sparse LU of `fp.grid²` unknowns): run it
/// off the UI thread.
pub fn fokker_planck(
    experiment: &Experiment,
    fp: &FpSpec,
    linear: Option<&LinearTheory>,
) -> Result<FpSolution, TheoryError> {
    let grid = fokker_planck_grid(experiment, fp, linear)?;
    let fields = drift_and_diffusion(experiment, linear)?;
    solve_stationary(&grid, &|w| fields.drift(w), &|w| fields.diffusion(w))
        .map_err(|e| TheoryError::NoFokkerPlanck(e.to_string()))
}
