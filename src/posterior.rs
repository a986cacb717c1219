//! SGLD against SGWORLD on a posterior known exactly (docs/theory.md sections 4 and 5).
//!
//! On a quadratic landscape (Bayesian linear regression) the target `exp(−L/T)` is the
//! Gaussian `N(μ, T H̄⁻¹)`, and the stationary states of SGLD, SGWORLD and full-batch ULA are
//! Gaussians known exactly ([`crate::theory::exact`]). Their KL divergences from the target,
//! one row per learning rate, show that SGWORLD's error stays near ULA's while SGLD's is about
//! `(N/B)²` times larger. Optionally, walker ensembles measure the same KLs by simulation, with
//! standard errors from independent groups of walkers.
//!
//! What the exact numbers show (linear regression, N = 100, B = 10, tests/posterior.rs):
//! both KLs grow as `η²` at small `η`, SGLD's because its minibatch noise `η² c_B S` widens
//! the covariance at first order in `η`, about `c_B N ≈ N/B` times ULA's discretisation bias
//! `ηT/2` (so `KL_SGLD / KL_ULA` is roughly `(1 + c_B N)² ≈ 100`; measured 89), SGWORLD's because its minibatch noise enters
//! only at order `η⁴` per epoch, leaving ULA's bias. Once `M η h_max` approaches 1 (an epoch
//! longer than a relaxation time) SGWORLD's own epoch noise takes over and its KL grows far
//! faster than `η²` (local log-log slope 3.7 between `M η h_max` = 0.6 and 2); the advantage over SGLD then shrinks (ratio 51 at `M η h_max = 0.6`,
//! 6 at 2).

mod clouds;
mod law;
mod tasks;

use serde::{Deserialize, Serialize};

pub use clouds::{Cloud, CloudSpec, Clouds, stationary_clouds};
pub use law::{LAW_THRESHOLD, NoiseBalance, noise_balance};
pub use tasks::{CloudTask, CurveRequest, ExactCurvesTask, SimulatedPointsTask};

use crate::dynamics::{Algorithm, Dynamics, DynamicsError, Ensemble, Observer};
use crate::landscape::Landscape;
use crate::stats::{MomentStats, Moments};
use crate::theory::exact::{
    ExactError, Gaussian, PermutationOptions, QuadraticModel, kl_divergence,
};

/// Errors of the posterior comparison.
#[derive(Debug, thiserror::Error)]
pub enum PosteriorError {
    /// The exact theory failed (not quadratic, not positive definite, …).
    #[error(transparent)]
    Exact(#[from] ExactError),
    /// The dynamics' settings are invalid.
    #[error(transparent)]
    Dynamics(#[from] DynamicsError),
    /// A setting is out of range.
    #[error("{key}: {message}")]
    Invalid {
        /// The setting.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A background computation was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A setting outside its rule ([`crate::fields`]).
    #[error(transparent)]
    Field(#[from] crate::fields::FieldError),
    /// The simulation would not fit in memory ([`crate::limits`]).
    #[error(transparent)]
    Memory(#[from] crate::limits::LimitError),
}

impl From<crate::jobs::Cancelled> for PosteriorError {
    fn from(_: crate::jobs::Cancelled) -> Self {
        Self::Cancelled
    }
}

/// The `[posterior]` table of a preset: defaults for `neqlab posterior`.
///
/// ```toml
/// [posterior]
/// etas = [1e-5, 3e-5, 1e-4]   # learning rates, one row each
/// permutations = 4000         # SGWORLD Monte Carlo over permutations
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosteriorSpec {
    /// Learning rates, one row each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub etas: Vec<f64>,
    /// Permutations of SGWORLD's Monte Carlo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permutations: Option<usize>,
}

/// How to simulate the walkers for the `_sim` columns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulationSpec {
    /// Walkers per algorithm and learning rate.
    pub walkers: usize,
    /// Gradient steps recorded per walker (SGWORLD: rounded down to whole epochs and sampled
    /// at epoch boundaries).
    pub steps: u64,
    /// Gradient steps discarded first.
    pub burn_in: u64,
    /// Seed of the walkers' streams.
    pub seed: u64,
    /// Independent groups of walkers for the standard errors (walker `k` is in group `k mod G`).
    pub groups: usize,
}

/// Moments measured by a walker ensemble, with standard errors from groups of walkers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimulatedMoments {
    /// Pooled mean and covariance of the stationary cloud.
    pub gaussian: Gaussian,
    /// Standard error of each mean component (spread of the group means / √G).
    pub mean_standard_error: Vec<f64>,
    /// Standard error of each covariance entry, row-major.
    pub cov_standard_error: Vec<f64>,
    /// KL divergence of the pooled Gaussian fit from the target. Finite sampling biases it
    /// upward by about `(d + d(d+1)/2) / (2 n_eff)`, `n_eff` the effective sample size.
    pub kl: f64,
    /// Jackknife standard error of `kl` over the groups.
    pub kl_standard_error: f64,
    /// Gradient steps taken by all walkers, burn-in included.
    pub walker_steps: u64,
    /// Samples recorded (walkers × time units after burn-in).
    pub samples: u64,
    /// Walkers that left every finite value.
    pub diverged_walkers: usize,
}

/// Routes each walker's time units to the [`MomentStats`] of its group.
#[derive(Clone, Debug)]
struct WalkerGroups(Vec<MomentStats>);

impl Observer for WalkerGroups {
    fn fork(&self) -> Self {
        Self(self.0.iter().map(Observer::fork).collect())
    }
    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        let groups = self.0.len();
        self.0[walker % groups].observe(walker, unit, before, after);
    }
    fn merge(&mut self, other: Self) {
        self.0
            .iter_mut()
            .zip(other.0)
            .for_each(|(mine, theirs)| mine.merge(theirs));
    }
}

fn to_gaussian(moments: &Moments) -> Gaussian {
    Gaussian {
        mean: moments.mean.clone(),
        cov: moments.cov.clone(),
    }
}

fn standard_errors(samples: &[Vec<f64>]) -> Vec<f64> {
    let g = samples.len() as f64;
    let width = samples.first().map_or(0, Vec::len);
    (0..width)
        .map(|k| {
            let average = samples.iter().map(|s| s[k]).sum::<f64>() / g;
            let variance = samples
                .iter()
                .map(|s| (s[k] - average).powi(2))
                .sum::<f64>()
                / (g - 1.0);
            (variance / g).sqrt()
        })
        .collect()
}

/// Run `dynamics` from `start` and measure the stationary moments and their KL from `target`.
///
/// With replacement every step after burn-in is a sample; without replacement every epoch
/// boundary (docs/theory.md section 2). Standard errors come from `spec.groups` groups of
/// independent walkers, so they include the time correlation of each walker's samples.
pub fn simulate_stationary(
    landscape: &dyn Landscape,
    dynamics: Dynamics,
    start: &[f64],
    spec: &SimulationSpec,
    target: &Gaussian,
) -> Result<SimulatedMoments, PosteriorError> {
    if spec.groups < 2 || spec.walkers < spec.groups {
        return Err(PosteriorError::Invalid {
            key: "dynamics.walkers",
            message: format!(
                "the simulation needs at least {} walkers ({} groups of at least one), got {}",
                spec.groups.max(2),
                spec.groups.max(2),
                spec.walkers
            ),
        });
    }
    let steps_per_unit = dynamics.steps_per_unit() as u64;
    let units = spec.steps / steps_per_unit;
    let burn_in = spec.burn_in.div_ceil(steps_per_unit);
    if units == 0 {
        return Err(PosteriorError::Invalid {
            key: "dynamics.steps",
            message: format!(
                "{} steps are less than one epoch of {steps_per_unit} steps",
                spec.steps
            ),
        });
    }
    let mut ensemble = Ensemble::new(landscape, dynamics, spec.walkers, start, spec.seed);
    let mut groups = WalkerGroups(vec![MomentStats::new(start, burn_in); spec.groups]);
    ensemble.advance(landscape, burn_in + units, &mut groups);
    let walker_steps = (burn_in + units) * steps_per_unit * spec.walkers as u64;
    let diverged_walkers = ensemble.diverged_walkers();
    let group_moments: Vec<Moments> = groups.0.iter().filter_map(MomentStats::moments).collect();
    if group_moments.len() < 2 {
        return Err(PosteriorError::Invalid {
            key: "dynamics.walkers",
            message: format!(
                "{diverged_walkers} of {} walkers diverged: too few samples left",
                spec.walkers
            ),
        });
    }
    let mut pooled = MomentStats::new(start, burn_in);
    for group in &groups.0 {
        pooled.merge(group.clone());
    }
    let pooled_moments = pooled.moments().ok_or_else(|| PosteriorError::Invalid {
        key: "dynamics.steps",
        message: "no samples recorded".into(),
    })?;
    let gaussian = to_gaussian(&pooled_moments);
    let kl = kl_divergence(&gaussian, target)?;
    // Jackknife over groups: the pooled statistic with one group left out.
    let leave_one_out: Vec<f64> = (0..groups.0.len())
        .filter_map(|left_out| {
            let mut rest = MomentStats::new(start, burn_in);
            for (k, group) in groups.0.iter().enumerate() {
                if k != left_out {
                    rest.merge(group.clone());
                }
            }
            let moments = rest.moments()?;
            kl_divergence(&to_gaussian(&moments), target).ok()
        })
        .collect();
    let g = leave_one_out.len() as f64;
    let average = leave_one_out.iter().sum::<f64>() / g;
    let kl_standard_error = (leave_one_out
        .iter()
        .map(|v| (v - average).powi(2))
        .sum::<f64>()
        * (g - 1.0)
        / g)
        .sqrt();
    let means: Vec<Vec<f64>> = group_moments.iter().map(|m| m.mean.clone()).collect();
    let covs: Vec<Vec<f64>> = group_moments.iter().map(|m| m.cov.clone()).collect();
    Ok(SimulatedMoments {
        gaussian,
        mean_standard_error: standard_errors(&means),
        cov_standard_error: standard_errors(&covs),
        kl,
        kl_standard_error,
        walker_steps,
        samples: pooled_moments.samples,
        diverged_walkers,
    })
}

/// What to compute besides the exact columns.
#[derive(Clone, Debug, PartialEq)]
pub struct PosteriorOptions {
    /// The SGWORLD Monte Carlo over permutations.
    pub permutations: PermutationOptions,
    /// Simulate walker ensembles too.
    pub simulation: Option<SimulationSpec>,
}

/// One learning rate: KL divergences of the stationary states from the target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PosteriorRow {
    /// The learning rate.
    pub eta: f64,
    /// Exact KL of SGLD's stationary state (`None`: unstable, see `notes`).
    pub kl_sgld: Option<f64>,
    /// KL of SGWORLD's stationary state at epoch boundaries (Monte Carlo over permutations).
    pub kl_sgworld: Option<f64>,
    /// Exact KL of full-batch ULA's stationary state: the floor set by discretisation alone.
    pub kl_ula: Option<f64>,
    /// Jackknife standard error of `kl_sgworld` over blocks of permutations.
    pub sgworld_spread: Option<f64>,
    /// KL of SGLD's simulated stationary cloud (with `simulation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_sgld_sim: Option<f64>,
    /// Its jackknife standard error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_sgld_sim_se: Option<f64>,
    /// KL of SGWORLD's simulated cloud at epoch boundaries (with `simulation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_sgworld_sim: Option<f64>,
    /// Its jackknife standard error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_sgworld_sim_se: Option<f64>,
    /// SGLD's exact stationary state.
    pub sgld: Option<Gaussian>,
    /// SGWORLD's exact stationary state at epoch boundaries.
    pub sgworld: Option<Gaussian>,
    /// Full-batch ULA's exact stationary state.
    pub ula: Option<Gaussian>,
    /// Instabilities and other remarks about this row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PosteriorReport {
    /// The landscape's kind.
    pub landscape: String,
    /// Examples `N`.
    pub n: usize,
    /// Batch size `B`.
    pub batch: usize,
    /// Temperature `T`.
    pub temperature: f64,
    /// Permutations averaged for SGWORLD.
    pub permutations: usize,
    /// Examples dropped from each SGWORLD permutation (`N mod B`).
    pub dropped_per_epoch: usize,
    /// Largest stable learning rate of full-batch ULA, `2 / h_max`.
    pub ula_eta_limit: f64,
    /// The target `N(μ, T H̄⁻¹)`.
    pub posterior: Gaussian,
    /// Whether SGLD's gradient noise matters next to `T`, and the small-`η` KL ratio it
    /// predicts ([`noise_balance`]); absent when it cannot be computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_balance: Option<NoiseBalance>,
    /// One row per learning rate.
    pub rows: Vec<PosteriorRow>,
}

fn unstable_or<T>(
    result: Result<T, ExactError>,
    name: &str,
    notes: &mut Vec<String>,
) -> Result<Option<T>, ExactError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ExactError::Unstable {
            spectral_radius, ..
        }) => {
            notes.push(format!(
                "{name} unstable: spectral radius of the second-moment map {spectral_radius:.4} ≥ 1"
            ));
            Ok(None)
        }
        Err(ExactError::NotPositiveDefinite(message)) => {
            notes.push(format!("{name}: {message}"));
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// Fractions of full-batch ULA's stability limit `2/h_max` used when no learning rates are
/// given.
pub const DEFAULT_ETA_FRACTIONS: [f64; 5] = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1];

/// Learning rates `DEFAULT_ETA_FRACTIONS × 2/h_max` for a quadratic landscape.
pub fn default_etas(landscape: &dyn Landscape) -> Result<Vec<f64>, PosteriorError> {
    let model = QuadraticModel::from_landscape(landscape)?;
    let h_max = model.hessian_eigenvalues().last().copied().unwrap_or(1.0);
    Ok(DEFAULT_ETA_FRACTIONS
        .iter()
        .map(|f| f * 2.0 / h_max)
        .collect())
}

/// What the posterior comparison needs to know about a landscape before it starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ComparisonSetup {
    /// Examples `N`.
    pub n: usize,
    /// Full-batch ULA's stability limit `2 / h_max`.
    pub eta_limit: f64,
}

/// Check that `landscape` is quadratic and `temperature` positive, and give `N` and ULA's
/// stability limit.
pub fn comparison_setup(
    landscape: &dyn Landscape,
    temperature: f64,
) -> Result<ComparisonSetup, PosteriorError> {
    let model = QuadraticModel::from_landscape(landscape)?;
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(PosteriorError::Invalid {
            key: "dynamics.temperature",
            message: format!("the posterior exp(−L/T) needs T > 0, got {temperature}"),
        });
    }
    let h_max = model
        .hessian_eigenvalues()
        .last()
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    Ok(ComparisonSetup {
        n: model.n_examples(),
        eta_limit: 2.0 / h_max,
    })
}

impl PosteriorReport {
    /// `(η, KL_SGLD / KL_SGWORLD)` at the smallest `η` where both are stable.
    pub fn smallest_eta_ratio(&self) -> Option<(f64, f64)> {
        self.rows.iter().find_map(|r| {
            let (sgld, sgworld) = (r.kl_sgld?, r.kl_sgworld?);
            (sgworld > 0.0).then_some((r.eta, sgld / sgworld))
        })
    }
}

/// Gradient steps of ten relaxation times `1/(η h_min)` of the mean, at most `cap`: a
/// burn-in after which the start at the minimum is forgotten.
pub(crate) fn relaxation_burn_in(model: &QuadraticModel, eta: f64, cap: f64) -> u64 {
    let h_min = model
        .hessian_eigenvalues()
        .first()
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    (10.0 / (eta * h_min)).ceil().min(cap) as u64
}

/// What the walker simulations of one report share.
struct Sampler<'a> {
    landscape: &'a dyn Landscape,
    model: &'a QuadraticModel,
    batch: usize,
    temperature: f64,
    target: &'a Gaussian,
}

impl Sampler<'_> {
    /// Fill the `_sim` columns of `row` from walker ensembles of the stable algorithms,
    /// burnt in for at least [`relaxation_burn_in`].
    fn simulate_row(
        &self,
        row: &mut PosteriorRow,
        spec: &SimulationSpec,
    ) -> Result<(), PosteriorError> {
        let eta = row.eta;
        let spec = SimulationSpec {
            burn_in: spec.burn_in.max(relaxation_burn_in(self.model, eta, 1e12)),
            ..*spec
        };
        let start = self.model.minimum();
        let n = self.model.n_examples();
        for algorithm in [Algorithm::Sgld, Algorithm::Sgworld] {
            let stable = match algorithm {
                Algorithm::Sgld => row.sgld.is_some(),
                _ => row.sgworld.is_some(),
            };
            if !stable {
                continue;
            }
            let dynamics = Dynamics::new(algorithm, None, eta, self.batch, self.temperature, n)?;
            let sim = simulate_stationary(self.landscape, dynamics, &start, &spec, self.target)?;
            if sim.diverged_walkers > 0 {
                row.notes.push(format!(
                    "{}: {} walkers diverged",
                    algorithm.label(),
                    sim.diverged_walkers
                ));
            }
            let (value, error) = match algorithm {
                Algorithm::Sgld => (&mut row.kl_sgld_sim, &mut row.kl_sgld_sim_se),
                _ => (&mut row.kl_sgworld_sim, &mut row.kl_sgworld_sim_se),
            };
            *value = Some(sim.kl);
            *error = Some(sim.kl_standard_error);
        }
        Ok(())
    }
}

/// KL divergences of SGLD, SGWORLD and ULA from the target at each learning rate.
///
/// Rows where an algorithm is unstable carry `None` and a note instead of numbers.
pub fn posterior_report(
    landscape: &dyn Landscape,
    batch: usize,
    temperature: f64,
    etas: &[f64],
    options: &PosteriorOptions,
) -> Result<PosteriorReport, PosteriorError> {
    crate::fields::PERMUTATIONS.check_usize(options.permutations.permutations)?;
    if let Some(spec) = &options.simulation {
        crate::fields::WALKERS.check_usize(spec.walkers)?;
        crate::limits::simulation_demand(landscape.dim(), spec.walkers, None, false)
            .check(&crate::limits::MemoryBudget::of_this_machine())?;
    }
    let model = QuadraticModel::from_landscape(landscape)?;
    if etas.is_empty() {
        return Err(PosteriorError::Invalid {
            key: "etas",
            message: "give at least one learning rate".into(),
        });
    }
    if let Some(bad) = etas.iter().find(|e| !(e.is_finite() && **e > 0.0)) {
        return Err(PosteriorError::Invalid {
            key: "etas",
            message: format!("learning rates must be positive and finite, got {bad}"),
        });
    }
    let n = model.n_examples();
    // Validates B against N and the temperature with the messages of the dynamics.
    Dynamics::new(Algorithm::Sgld, None, etas[0], batch, temperature, n)?;
    let posterior = model.posterior(temperature)?;
    let eigenvalues = model.hessian_eigenvalues();
    let h_max = eigenvalues.last().copied().unwrap_or(1.0);
    let mut permutations = 0;
    let mut rows = Vec::with_capacity(etas.len());
    for &eta in etas {
        let mut notes = Vec::new();
        let sgld = unstable_or(model.sgld(eta, batch, temperature), "SGLD", &mut notes)?;
        let ula = unstable_or(model.ula(eta, temperature), "ULA", &mut notes)?;
        let sgworld = unstable_or(
            model.sgworld(eta, batch, temperature, &options.permutations),
            "SGWORLD",
            &mut notes,
        )?;
        let kl = |g: &Gaussian| kl_divergence(g, &posterior).ok();
        let kl_sgld = sgld.as_ref().and_then(|s| kl(&s.gaussian));
        let kl_ula = ula.as_ref().and_then(|s| kl(&s.gaussian));
        let kl_sgworld = sgworld.as_ref().and_then(|s| kl(&s.stationary.gaussian));
        let sgworld_spread = sgworld
            .as_ref()
            .and_then(|s| s.jackknife_standard_error(kl));
        if let Some(s) = &sgworld {
            permutations = s.permutations;
        }
        let mut row = PosteriorRow {
            eta,
            kl_sgld,
            kl_sgworld,
            kl_ula,
            sgworld_spread,
            kl_sgld_sim: None,
            kl_sgld_sim_se: None,
            kl_sgworld_sim: None,
            kl_sgworld_sim_se: None,
            sgld: sgld.map(|s| s.gaussian),
            sgworld: sgworld.map(|s| s.stationary.gaussian),
            ula: ula.map(|s| s.gaussian),
            notes,
        };
        if let Some(spec) = &options.simulation {
            let sampler = Sampler {
                landscape,
                model: &model,
                batch,
                temperature,
                target: &posterior,
            };
            sampler.simulate_row(&mut row, spec)?;
        }
        rows.push(row);
    }
    Ok(PosteriorReport {
        landscape: landscape.kind().to_string(),
        n,
        batch,
        temperature,
        permutations,
        dropped_per_epoch: n % batch,
        ula_eta_limit: 2.0 / h_max,
        posterior,
        noise_balance: noise_balance(landscape, batch, temperature).ok(),
        rows,
    })
}
