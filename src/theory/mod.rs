//! Predictions from theory (docs/theory.md sections 3 and 4): the linearised (Ornstein–Uhlenbeck)
//! stationary state of SGD, SGLD and SGWORLD about a minimum, the without-replacement
//! effective landscape and diffusion, and the drift and diffusion fields of the 2-D
//! Fokker–Planck equation.
//!
//! - [`fokker_planck`]: the stationary 2-D Fokker–Planck solver.
//! - [`force`]: the thermodynamic force `D⁻¹ J/p` of a solution, for entropy production on
//!   landscapes the linearised theory does not describe.
//! - [`linear`]: [`linear_theory`] — minimum, Hessian, diffusion matrix, Lyapunov covariance,
//!   circulation and entropy production rate, per time unit (a step with replacement, an
//!   epoch without).
//! - [`lyapunov`]: continuous and discrete Lyapunov equations in the eigenbasis.
//! - [`relaxation`]: relaxation times from the spectral gap of the Fokker–Planck operator and
//!   from the linearised map (§9).
//! - [`start`]: where walkers start: a point, or a sample of the predicted stationary density.
//! - [`exact`]: exact stationary moments of SGLD, SGWORLD and ULA on quadratic landscapes
//!   (section 5), no expansion in `η`.
//! - [`wor`]: the effective landscape `L_eff`, its minimum `w_eff`, and the per-epoch
//!   diffusion matrix `D_WOR` by Monte Carlo over permutations.
//!
//! A theory that cannot make a prediction says why with a [`TheoryError`]; callers show the
//! message next to the simulation, which still runs.

pub mod exact;
pub mod fokker_planck;
pub mod force;
pub mod linear;
pub mod lyapunov;
pub mod relaxation;
pub mod start;
pub mod wor;

pub use linear::{
    DriftDiffusion, LinearTheory, TheoryOptions, drift_and_diffusion, fokker_planck,
    fokker_planck_grid, linear_theory,
};

/// Why the theory has no prediction.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TheoryError {
    /// Newton's method found no minimum of `L` from the start point.
    #[error(
        "no prediction: Newton's method found no minimum of L starting from {start:?} ({reason}); \
         set dynamics.start closer to a minimum"
    )]
    NoMinimum {
        /// The start point of the search (the experiment's `dynamics.start`).
        start: Vec<f64>,
        /// Why Newton's method stopped, with its best point and gradient norm there.
        reason: String,
    },
    /// The Hessian at the stationary point is not positive definite.
    #[error(
        "no prediction: the Hessian at {point:?} has eigenvalue {smallest:.3e} ≤ 0, so this is \
         not a stable minimum and there is no Gaussian stationary state about it"
    )]
    NotStable {
        /// The stationary point `w*` where `∇L = 0`.
        point: Vec<f64>,
        /// The smallest eigenvalue of the Hessian `H̄(w*)` (in loss per weight², ≤ 0 here).
        smallest: f64,
    },
    /// The learning rate is beyond the stability limit of gradient descent.
    #[error(
        "no prediction: η times the largest Hessian eigenvalue is {eta_h:.3}, at least 2, so \
         gradient descent overshoots the minimum and the walkers diverge"
    )]
    StepTooLarge {
        /// `η h_max`: the learning rate times the largest Hessian eigenvalue at `w*`
        /// (dimensionless; gradient descent converges only below 2, docs/theory.md §3.1).
        eta_h: f64,
    },
    /// The diffusion matrix is singular: some direction receives no noise.
    #[error(
        "no prediction: the diffusion matrix at the minimum is singular (eigenvalues from \
         {smallest:.3e} to {largest:.3e}): {why}"
    )]
    SingularDiffusion {
        /// The smallest eigenvalue of the diffusion matrix at the minimum (weight² per time unit).
        smallest: f64,
        /// The largest eigenvalue of the diffusion matrix at the minimum (weight² per time unit).
        largest: f64,
        /// Which noise is missing, in words (e.g. `B = N` at `T = 0` is noiseless gradient descent).
        why: String,
    },
    /// The quasi-Newton iteration for the WOR effective minimum did not converge.
    #[error(
        "no prediction: no minimum of the WOR effective landscape L_eff near the minimum of L \
         ({reason}); the learning rate may be too large for the second-order expansion"
    )]
    NoEffectiveMinimum {
        /// Why the iteration stopped.
        reason: String,
    },
    /// No Fokker–Planck prediction for this experiment (the Gaussian one may still exist).
    #[error("no Fokker–Planck prediction: {0}")]
    NoFokkerPlanck(String),
}
