//! One cell of the map: the linearised stationary state at one `(η, B, replacement)` and the
//! quantities drawn from it (docs/theory.md section 10).

use std::sync::Arc;

use nalgebra::DMatrix;
use serde::Serialize;

use super::stability::StabilityModel;
use super::{MapAxes, MapError};
use crate::dynamics::{Algorithm, Dynamics, Replacement, TimeUnit};
use crate::landscape::Landscape;
use crate::preset::Experiment;
use crate::theory::exact::{ExactError, Gaussian, QuadraticModel, kl_divergence};
use crate::theory::linear::{LinearTheory, find_minimum, linear_theory_about};
use crate::theory::{TheoryError, TheoryOptions};

/// How a cell's `kl_posterior` was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KlMethod {
    /// Exact stationary moments of the discrete dynamics on a quadratic landscape
    /// (docs/theory.md section 5), against the exact Gaussian `exp(−L/T)`.
    Exact,
    /// The linearised Gaussian of the cell against the Laplace approximation
    /// `N(w*, T H̄(w*)⁻¹)` of `exp(−L/T)`.
    Linearised,
}

/// One `(η, B, replacement)` cell. Values are per time unit of the mode (a step with
/// replacement, an epoch without) unless their name says otherwise; unstable cells and
/// cells without a prediction carry `None` (JSON `null`), never NaN.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapCell {
    /// The learning rate `η`.
    pub eta: f64,
    /// The batch size `B`.
    pub batch: usize,
    /// `"wr"` or `"wor"`.
    pub replacement: Replacement,
    /// The algorithm of this mode (SGLD with replacement is SGWORLD without).
    pub algorithm: Algorithm,
    /// `max(ρ_mean, ρ_cov) < 1` ([`StabilityModel`]).
    pub stable: bool,
    /// `max(ρ_mean, ρ_cov)`.
    pub spectral_radius: f64,
    /// `tr Σ`.
    pub trace_cov: Option<f64>,
    /// `E[L] − L(w*) ≈ L(mean) − L(w*) + ½ tr(H̄(mean) Σ)` (exact for quadratic `L`).
    pub loss_excess: Option<f64>,
    /// `−tr(C D⁻¹ C Σ⁻¹)` per time unit: `neqlab run`'s `theory.ep_rate`.
    pub ep_rate: Option<f64>,
    /// Entropy production per pass over the `N` examples: `ep_rate · N / (examples per
    /// time unit)`, comparable between the modes.
    pub ep_rate_per_pass: Option<f64>,
    /// `‖C‖_F` per time unit.
    pub circulation_norm: Option<f64>,
    /// The equilibrium measure `‖HΣ − ΣH‖_F / ‖HΣ + ΣH‖_F` (0 in equilibrium).
    pub nonequilibrium_ratio: Option<f64>,
    /// `KL(stationary ‖ exp(−L/T))`; `None` at `T = 0` (no posterior) or without a
    /// stationary state.
    pub kl_posterior: Option<f64>,
    /// Whether `kl_posterior` comes from exact moments ([`KlMethod::Exact`]).
    pub kl_exact: bool,
    /// Without replacement, `|w_eff − w*|`; `None` with replacement.
    pub wor_shift: Option<f64>,
    /// Why a stable cell has no prediction, or a remark on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Relative Frobenius error of the simulated covariance against `Σ` (`--simulate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_cov_rel_error: Option<f64>,
    /// The simulation behind `sim_cov_rel_error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim: Option<super::simulate::SimulatedCell>,
    /// The Gaussian prediction behind the values (not serialised; the simulation and the app
    /// use it).
    #[serde(skip)]
    pub theory: Option<Arc<LinearTheory>>,
}

/// Everything about the experiment that does not depend on `(η, B)`: the minimum, the
/// curvature, the target `exp(−L/T)` and the stability operators.
pub struct MapContext {
    /// The experiment's landscape.
    pub landscape: Arc<dyn Landscape>,
    /// The preset's algorithm.
    pub algorithm: Algorithm,
    /// `T` (0 for SGD).
    pub temperature: f64,
    /// The minimum `w*` of `L`.
    pub minimum: Vec<f64>,
    /// `L(w*)`.
    pub loss_minimum: f64,
    /// `H̄(w*)`, row-major.
    pub hessian: Vec<f64>,
    /// The stability operators of docs/theory.md section 10.2.
    pub stability: StabilityModel,
    /// Per-example quadratic forms, on quadratic landscapes.
    pub quadratic: Option<QuadraticModel>,
    /// `exp(−L/T)` as a Gaussian (exact on quadratic landscapes, else Laplace); `None` at
    /// `T = 0`.
    pub posterior: Option<Gaussian>,
}

impl MapContext {
    /// Find the minimum from the experiment's start point and evaluate what every cell
    /// shares.
    pub fn new(experiment: &Experiment) -> Result<Self, MapError> {
        let landscape = experiment.landscape.clone();
        let d = landscape.dim();
        let minimum = find_minimum(landscape.as_ref(), &experiment.start)?;
        let mut hessian = vec![0.0; d * d];
        landscape.hessian(&minimum, &mut hessian);
        let stability = StabilityModel::new(landscape.as_ref(), &minimum);
        let temperature = experiment.dynamics.temperature;
        let quadratic = QuadraticModel::from_landscape(landscape.as_ref()).ok();
        let posterior = match (&quadratic, temperature > 0.0) {
            (_, false) => None,
            (Some(model), true) => Some(model.posterior(temperature)?),
            (None, true) => laplace_posterior(&minimum, &hessian, temperature),
        };
        Ok(Self {
            loss_minimum: landscape.loss(&minimum),
            landscape,
            algorithm: experiment.dynamics.algorithm,
            temperature,
            minimum,
            hessian,
            stability,
            quadratic,
            posterior,
        })
    }

    /// Number of examples `N`.
    pub fn n_examples(&self) -> usize {
        self.landscape.n_examples()
    }

    /// The default axes ([`MapAxes::default_for`]): learning rates up to twice gradient
    /// descent's limit `2/λ_max(H̄)`; full-batch only with Langevin noise (`T > 0`), since
    /// at `T = 0` it has no noise and no stationary spread.
    pub fn default_axes(&self) -> Result<MapAxes, MapError> {
        let lambda_max = self
            .stability
            .hessian_eigenvalues()
            .last()
            .copied()
            .unwrap_or(1.0);
        MapAxes::default_for(lambda_max, self.n_examples(), self.temperature > 0.0)
    }

    /// The algorithm of a mode: SGD stays SGD; SGLD and SGWORLD are one Langevin algorithm
    /// with and without replacement.
    pub fn algorithm_for(&self, replacement: Replacement) -> Algorithm {
        match (self.algorithm, replacement) {
            (Algorithm::Sgd, _) => Algorithm::Sgd,
            (_, Replacement::Wr) => Algorithm::Sgld,
            (_, Replacement::Wor) => Algorithm::Sgworld,
        }
    }

    /// The dynamics of one cell.
    pub fn dynamics(
        &self,
        eta: f64,
        batch: usize,
        replacement: Replacement,
    ) -> Result<Dynamics, MapError> {
        Ok(Dynamics::new(
            self.algorithm_for(replacement),
            Some(replacement),
            eta,
            batch,
            self.temperature,
            self.n_examples(),
        )?)
    }

    /// Evaluate one cell whose spectral radius is already known.
    pub fn cell(
        &self,
        eta: f64,
        batch: usize,
        replacement: Replacement,
        spectral_radius: f64,
    ) -> Result<MapCell, MapError> {
        let dynamics = self.dynamics(eta, batch, replacement)?;
        let mut cell = MapCell {
            eta,
            batch,
            replacement,
            algorithm: dynamics.algorithm,
            stable: spectral_radius < 1.0,
            spectral_radius,
            trace_cov: None,
            loss_excess: None,
            ep_rate: None,
            ep_rate_per_pass: None,
            circulation_norm: None,
            nonequilibrium_ratio: None,
            kl_posterior: None,
            kl_exact: false,
            wor_shift: None,
            note: None,
            sim_cov_rel_error: None,
            sim: None,
            theory: None,
        };
        if !cell.stable {
            return Ok(cell);
        }
        let theory = linear_theory_about(
            self.landscape.as_ref(),
            &dynamics,
            self.minimum.clone(),
            &TheoryOptions::default(),
        );
        let theory = match theory {
            Ok(theory) => {
                self.fill(&mut cell, &dynamics, &theory);
                Some(theory)
            }
            Err(error) => {
                cell.note = Some(error.to_string());
                None
            }
        };
        // The exact moments of a quadratic landscape need no linearisation.
        match self.kl(&dynamics, theory.as_ref()) {
            Ok(Some((kl, method))) => {
                cell.kl_posterior = finite(kl);
                cell.kl_exact = cell.kl_posterior.is_some() && method == KlMethod::Exact;
            }
            Ok(None) => {}
            Err(error) => {
                let note = format!("no KL divergence: {error}");
                cell.note = Some(match cell.note.take() {
                    Some(first) => format!("{first}; {note}"),
                    None => note,
                });
            }
        }
        cell.theory = theory.map(Arc::new);
        Ok(cell)
    }

    fn fill(&self, cell: &mut MapCell, dynamics: &Dynamics, theory: &LinearTheory) {
        let d = theory.dim();
        let sigma = DMatrix::from_row_slice(d, d, &theory.cov);
        let hessian = DMatrix::from_row_slice(d, d, &theory.hessian);
        let circulation = DMatrix::from_row_slice(d, d, &theory.circulation);
        cell.trace_cov = finite(sigma.trace());
        cell.loss_excess = self.loss_excess(theory, &sigma);
        cell.ep_rate = finite(theory.ep_rate);
        // Examples per time unit: B per step, M B per epoch.
        let examples = (dynamics.batch_size * dynamics.steps_per_unit()) as f64;
        cell.ep_rate_per_pass = finite(theory.ep_rate * self.n_examples() as f64 / examples);
        cell.circulation_norm = finite(circulation.norm());
        let (hs, sh) = (&hessian * &sigma, &sigma * &hessian);
        cell.nonequilibrium_ratio = finite((&hs - &sh).norm() / (&hs + &sh).norm());
        if dynamics.replacement == Replacement::Wor {
            let shift = theory
                .mean
                .iter()
                .zip(&theory.minimum)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            cell.wor_shift = finite(shift);
        }
    }

    /// `L(mean) − L(w*) + ½ tr(H̄(mean) Σ)`; with replacement the mean is `w*`.
    fn loss_excess(&self, theory: &LinearTheory, sigma: &DMatrix<f64>) -> Option<f64> {
        let d = theory.dim();
        let at_minimum = theory.mean == self.minimum;
        let (offset, curvature) = if at_minimum {
            (0.0, DMatrix::from_row_slice(d, d, &self.hessian))
        } else {
            let mut h = vec![0.0; d * d];
            self.landscape.hessian(&theory.mean, &mut h);
            (
                self.landscape.loss(&theory.mean) - self.loss_minimum,
                DMatrix::from_row_slice(d, d, &h),
            )
        };
        finite(offset + 0.5 * (curvature * sigma).trace())
    }

    /// The KL divergence of the cell's stationary state from `exp(−L/T)`: exact on quadratic
    /// landscapes, else from the linearised `theory` (none without it).
    fn kl(
        &self,
        dynamics: &Dynamics,
        theory: Option<&LinearTheory>,
    ) -> Result<Option<(f64, KlMethod)>, ExactError> {
        let Some(posterior) = &self.posterior else {
            return Ok(None);
        };
        if let Some(model) = &self.quadratic {
            let exact = match dynamics.replacement {
                Replacement::Wr => {
                    model.sgld(dynamics.eta, dynamics.batch_size, dynamics.temperature)
                }
                Replacement::Wor => super::exact_wor::sgworld(model, dynamics),
            };
            return match exact {
                Ok(stationary) => Ok(Some((
                    kl_divergence(&stationary.gaussian, posterior)?,
                    KlMethod::Exact,
                ))),
                Err(ExactError::Unstable { .. }) => Ok(None),
                Err(other) => Err(other),
            };
        }
        let Some(theory) = theory else {
            return Ok(None);
        };
        let linear = Gaussian {
            mean: theory.mean.clone(),
            cov: theory.cov.clone(),
        };
        Ok(Some((
            kl_divergence(&linear, posterior)?,
            KlMethod::Linearised,
        )))
    }

    /// The time unit of a mode.
    pub fn time_unit(replacement: Replacement) -> TimeUnit {
        replacement.time_unit()
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// `N(w*, T H̄⁻¹)`, the Laplace approximation of `exp(−L/T)`; `None` when `H̄` is not
/// positive definite.
fn laplace_posterior(minimum: &[f64], hessian: &[f64], temperature: f64) -> Option<Gaussian> {
    let d = minimum.len();
    let h = DMatrix::from_row_slice(d, d, hessian);
    let inverse = h.cholesky()?.inverse();
    let cov = (&inverse + inverse.transpose()) * (0.5 * temperature);
    Some(Gaussian {
        mean: minimum.to_vec(),
        cov: crate::theory::lyapunov::to_row_major(&cov),
    })
}

impl From<TheoryError> for MapError {
    fn from(error: TheoryError) -> Self {
        MapError::Theory(error)
    }
}
