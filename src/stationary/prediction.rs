//! The predicted stationary state of an experiment, computed without a simulation: the
//! minima, the linearised theory, and on 2-D landscapes the loss on a grid and the
//! Fokker–Planck solution with its force, Gaussian moments and stochastic area; validity flags
//! say where a prediction is outside its regime (docs/theory.md §3.1, §4.4, §8).

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::dynamics::{Dynamics, Replacement, TimeUnit};
use crate::landscape::Landscape;
use crate::preset::{Experiment, FpSpec};
use crate::stats::EntropyProduction;
use crate::stats::grid::CurrentField;
use crate::stats::occupation::Basins;
use crate::theory::TheoryError;
use crate::theory::exact::Gaussian;
use crate::theory::fokker_planck::{FpSolution, Grid2d, solve_stationary_factorised};
use crate::theory::force::GridForce;
use crate::theory::linear::{
    LinearTheory, Minima, TheoryOptions, drift_and_diffusion, linear_theory_about, local_minima,
    plane_grid,
};
use crate::theory::lyapunov::symmetric_eigen;
use crate::theory::relaxation::{
    FpRelaxation, LinearRelaxation, RelaxationError, fp_relaxation, linear_relaxation,
};

use super::arrows::ARROW_BLOCK;
use super::validity::{EXPANSION_LIMIT, Validity, WOR_LEADING_ORDER_LIMIT};

/// Below this `‖[H, Σ]‖ / ‖{H, Σ}‖` the linearised state counts as equilibrium.
pub const EQUILIBRIUM_TOLERANCE: f64 = 1e-3;

/// What to predict.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionOptions {
    /// Options of the linearised theory (the `D_WOR` Monte Carlo).
    pub theory: TheoryOptions,
    /// The grid of the 2-D parts (loss map, Fokker–Planck solution); `None` skips them, e.g.
    /// for many cheap predictions.
    pub plane: Option<FpSpec>,
}

impl PredictionOptions {
    /// Every part, on the grid of `fp`.
    pub fn with_plane(fp: &FpSpec) -> Self {
        Self {
            theory: TheoryOptions::default(),
            plane: Some(fp.clone()),
        }
    }
}

/// The model behind the predicted entropy production `σ = F(w̃) · Δw` (docs/theory.md
/// §3.2, §8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EntropySource {
    /// The linearised theory about the minimum: `F = D⁻¹ v`, `v = −C Σ⁻¹ (w − mean)`,
    /// rate `−tr(C D⁻¹ C Σ⁻¹)`.
    #[serde(rename = "linearised")]
    Linearised,
    /// The force `D⁻¹ J/p` of the Fokker–Planck solution, rate `∫ Jᵀ D⁻¹ J / p`: with
    /// several minima, where no single linearisation describes the stationary state.
    #[serde(rename = "fokker-planck")]
    FokkerPlanck,
}

/// The stationary Fokker–Planck solution of a 2-D experiment and what derives from it.
#[derive(Clone, Debug)]
pub struct FokkerPlanck {
    /// The solution on the prediction's grid (with the solver's diagnostics).
    pub solution: FpSolution,
    /// Its density and current as a field (exact: no standard error).
    pub field: CurrentField,
    /// Its density and current averaged over the arrow blocks ([`ARROW_BLOCK`]).
    pub arrow_field: CurrentField,
    /// The thermodynamic force `D⁻¹ J/p`, when entropy production uses it
    /// ([`EntropySource::FokkerPlanck`]; a second pass of `D(w)` over the grid).
    pub force: Option<Arc<GridForce>>,
    /// Mean and covariance of the solved density.
    pub moments: Gaussian,
    /// Its stochastic area `C_12` about its mean, per time unit.
    pub area: f64,
    /// The slowest relaxation of the discretised operator (its spectral gap, by shift-invert
    /// on the factorisation of the solve; docs/theory.md §9.1), or why there is none.
    pub relaxation: Result<FpRelaxation, RelaxationError>,
}

impl FokkerPlanck {
    /// Largest probability density (mass per area) of the solution.
    pub fn peak_density(&self) -> f64 {
        let grid = &self.solution.grid;
        self.solution.density.iter().copied().fold(0.0, f64::max) / grid.cell_area()
    }
}

/// The 2-D parts of a prediction.
#[derive(Clone, Debug)]
pub struct PlanePrediction {
    /// The grid shared by the loss map, the Fokker–Planck solution and the simulated
    /// histogram.
    pub grid: Grid2d,
    /// `L` at every cell centre.
    pub loss: Vec<f64>,
    /// The stationary Fokker–Planck solution, or why there is none.
    pub fokker_planck: Result<FokkerPlanck, TheoryError>,
    /// With several minima, their basins of steepest descent on the grid, for the occupation
    /// check (docs/theory.md §9.5); `None` with one minimum.
    pub basins: Option<Arc<Basins>>,
}

/// What theory predicts for the stationary state of an experiment, in the time unit of its
/// dynamics (a step with replacement, an epoch without).
#[derive(Clone, Debug)]
pub struct Prediction {
    /// The dynamics predicted for.
    pub dynamics: Dynamics,
    /// The minima of `L`, searched once.
    pub minima: Minima,
    /// The linearised theory about the start point's minimum, or why there is none.
    pub linear: Result<LinearTheory, TheoryError>,
    /// Seconds spent on the linearised theory.
    pub linear_seconds: f64,
    /// The slowest relaxation time of the linearised dynamics, `1/(η · steps per unit ·
    /// h_min)` in time units, `h_min` the smallest eigenvalue of `H̄` at the first minimum.
    pub relaxation_time: Option<f64>,
    /// The relaxation of the linearised theory, `−ln ρ(P)` per time unit of the linear map
    /// `P` of the mean (docs/theory.md §9.3), when there is a linearised theory.
    pub linear_relaxation: Option<LinearRelaxation>,
    /// The 2-D parts, on 2-D landscapes when asked for.
    pub plane: Option<PlanePrediction>,
    /// The Gibbs density `exp(−L/T)` expanded to second order about the minimum,
    /// `N(w*, T H̄(w*)⁻¹)`: the equilibrium an unbiased Langevin sampler would reach (for a
    /// Bayesian loss at `T = 1`, the Laplace approximation of the posterior; docs/theory.md
    /// §1.3, §5.2). Only at `T > 0`, with one minimum and `H̄` positive definite.
    pub gibbs: Option<Gaussian>,
    /// Where the predictions are outside their regime.
    pub validity: Vec<Validity>,
    /// Seconds spent on the whole prediction.
    pub seconds: f64,
}

impl Prediction {
    /// Predict the stationary state of `experiment`. Heavy with a plane (a sparse solve of
    /// `grid²` unknowns): run it off the UI thread. Never fails: a part that cannot be
    /// predicted holds its error.
    pub fn compute(experiment: &Experiment, options: &PredictionOptions) -> Self {
        let started = Instant::now();
        let landscape = experiment.landscape.as_ref();
        let minima = local_minima(landscape, &experiment.start);
        let linear_started = Instant::now();
        let linear = minima.from_start.clone().and_then(|minimum| {
            linear_theory_about(
                experiment.landscape.as_ref(),
                &experiment.dynamics,
                minimum,
                &options.theory,
            )
        });
        let linear_seconds = linear_started.elapsed().as_secs_f64();
        let curvature = Curvature::at(landscape, &minima, &experiment.start);
        let plane = options
            .plane
            .as_ref()
            .filter(|_| landscape.dim() == 2)
            .map(|fp| plane_prediction(experiment, fp, linear.as_ref().ok(), &minima));
        let gibbs = (!minima.several())
            .then(|| {
                gibbs(
                    landscape,
                    minima.all.first()?,
                    experiment.dynamics.temperature,
                )
            })
            .flatten();
        let linear_relaxation = linear
            .as_ref()
            .ok()
            .and_then(|theory| linear_relaxation(experiment, theory).ok());
        let mut prediction = Self {
            gibbs,
            linear_relaxation,
            dynamics: experiment.dynamics,
            relaxation_time: curvature.relaxation_time(&experiment.dynamics),
            minima,
            linear,
            linear_seconds,
            plane,
            validity: Vec::new(),
            seconds: 0.0,
        };
        prediction.validity = prediction.flags(&curvature);
        prediction.seconds = started.elapsed().as_secs_f64();
        prediction
    }

    /// The time unit of every rate.
    pub fn time_unit(&self) -> TimeUnit {
        self.dynamics.time_unit()
    }

    /// The grid of the 2-D parts.
    pub fn grid(&self) -> Option<Grid2d> {
        self.plane.as_ref().map(|p| p.grid)
    }

    /// The Fokker–Planck solution, when there is one.
    pub fn fokker_planck(&self) -> Option<&FokkerPlanck> {
        self.plane.as_ref()?.fokker_planck.as_ref().ok()
    }

    /// The slowest relaxation time of the Fokker–Planck operator, in time units, when there is
    /// a solution and its spectral gap was found (docs/theory.md §9.1).
    pub fn fp_relaxation_time(&self) -> Option<f64> {
        self.fokker_planck()?
            .relaxation
            .as_ref()
            .ok()
            .map(|r| r.relaxation_time)
    }

    /// The relaxation time a stationarity check uses, in time units: the Fokker–Planck one
    /// where there is one (it sees every well), else the linearised map's `−1/ln ρ(P)`, else
    /// `1/(η · steps per unit · h_min)` ([`Self::relaxation_time`]; docs/theory.md §9.4).
    pub fn stationarity_relaxation_time(&self) -> Option<f64> {
        crate::theory::relaxation::relaxation_time(
            self.fokker_planck()
                .and_then(|fp| fp.relaxation.as_ref().ok()),
            self.linear_relaxation.as_ref(),
        )
        .or(self.relaxation_time)
    }

    /// The basins of the minima on the grid, with several minima.
    pub fn basins(&self) -> Option<&Arc<Basins>> {
        self.plane.as_ref()?.basins.as_ref()
    }

    /// The predicted occupation of every basin ([`Self::basins`]): its Fokker–Planck mass
    /// (docs/theory.md §9.5). `None` with one minimum or without a solution.
    pub fn predicted_occupations(&self) -> Option<Vec<f64>> {
        let fp = self.fokker_planck()?;
        Some(self.basins()?.masses(&fp.solution.density))
    }

    /// Several minima: the linearised theory describes one basin only, so comparisons use the
    /// Fokker–Planck solution where there is one.
    pub fn several_minima(&self) -> bool {
        self.minima.several()
    }

    /// Which model predicts entropy production: the Fokker–Planck force with several minima
    /// (or without a linearised theory), else the linearised theory.
    pub fn entropy_source(&self) -> Option<EntropySource> {
        let linear = self
            .linear
            .as_ref()
            .is_ok_and(|l| l.diffusion_inverse().is_some());
        let force = self.fokker_planck().is_some_and(|fp| fp.force.is_some());
        match (linear, force) {
            (true, true) if self.several_minima() => Some(EntropySource::FokkerPlanck),
            (true, _) => Some(EntropySource::Linearised),
            (false, true) => Some(EntropySource::FokkerPlanck),
            (false, false) => None,
        }
    }

    /// Predicted entropy production per time unit, from [`Self::entropy_source`].
    pub fn ep_rate(&self) -> Option<f64> {
        match self.entropy_source()? {
            EntropySource::Linearised => self.linear.as_ref().ok().map(|l| l.ep_rate),
            EntropySource::FokkerPlanck => self.force().map(|f| f.rate()),
        }
    }

    /// The force of the Fokker–Planck solution, when computed.
    pub fn force(&self) -> Option<&Arc<GridForce>> {
        self.fokker_planck()?.force.as_ref()
    }

    /// An observer measuring entropy production in a simulation with the model of
    /// [`Self::entropy_source`], recording units `burn_in..`, the `Σ` histogram behind the
    /// DFT fit over `histogram_units` units.
    pub fn entropy_production(
        &self,
        burn_in: u64,
        histogram_units: usize,
    ) -> Option<EntropyProduction> {
        match self.entropy_source()? {
            EntropySource::Linearised => {
                let linear = self.linear.as_ref().ok()?;
                EntropyProduction::new(linear, burn_in, histogram_units)
            }
            EntropySource::FokkerPlanck => Some(EntropyProduction::from_force(
                self.force()?.clone(),
                burn_in,
                histogram_units,
            )),
        }
    }

    /// The Gaussian a simulation's moments are compared with: the linearised theory's, or with
    /// several minima the moments of the Fokker–Planck density.
    pub fn reference_gaussian(&self) -> Option<Gaussian> {
        match &self.linear {
            Ok(l) if !self.several_minima() => Some(Gaussian {
                mean: l.mean.clone(),
                cov: l.cov.clone(),
            }),
            _ => self.fokker_planck().map(|fp| fp.moments.clone()),
        }
    }

    /// The stochastic area `C_12` per time unit (2-D): the linearised `C`, or with several
    /// minima that of the Fokker–Planck solution.
    pub fn area(&self) -> Option<f64> {
        match &self.linear {
            Ok(l) if !self.several_minima() && l.dim() == 2 => Some(l.circulation[1]),
            _ => self.fokker_planck().map(|fp| fp.area),
        }
    }

    /// `‖[H, Σ]‖ / ‖{H, Σ}‖` of the linearised theory ([`LinearTheory::nonequilibrium_ratio`]).
    pub fn nonequilibrium_ratio(&self) -> Option<f64> {
        self.linear.as_ref().ok().map(|l| l.nonequilibrium_ratio)
    }

    /// Whether the linearised state is in equilibrium (ratio below
    /// [`EQUILIBRIUM_TOLERANCE`]).
    pub fn is_equilibrium(&self) -> Option<bool> {
        self.nonequilibrium_ratio()
            .map(|r| r < EQUILIBRIUM_TOLERANCE)
    }

    /// The flags of [`Validity`] for this prediction.
    fn flags(&self, curvature: &Curvature) -> Vec<Validity> {
        let mut flags = Vec::new();
        let dynamics = &self.dynamics;
        let beyond = curvature
            .h_max
            .map(|h| dynamics.eta * h)
            .filter(|&p| p >= 2.0);
        if let Some(eta_h_max) = beyond {
            flags.push(Validity::BeyondStability { eta_h_max });
        }
        match &self.linear {
            Ok(linear) => {
                let h_max = linear.hessian_eigenvalues().last().copied().unwrap_or(0.0);
                let (product, wor) = match dynamics.replacement {
                    Replacement::Wor => (
                        dynamics.eta * dynamics.batches_per_epoch() as f64 * h_max,
                        true,
                    ),
                    Replacement::Wr => (dynamics.eta * h_max, false),
                };
                if product > EXPANSION_LIMIT {
                    flags.push(Validity::ExpansionStretched {
                        product,
                        replacement: dynamics.replacement,
                    });
                }
                if wor && dynamics.temperature <= 0.0 && product > WOR_LEADING_ORDER_LIMIT {
                    flags.push(Validity::WorLeadingOrder {
                        eta_m_h_max: product,
                    });
                }
            }
            Err(error) if beyond.is_none() => flags.push(Validity::NoLinearTheory {
                reason: error.to_string(),
            }),
            Err(_) => {}
        }
        if self.several_minima() {
            flags.push(Validity::SeveralMinima {
                count: self.minima.all.len(),
            });
        }
        if let Some(Err(error)) = self.plane.as_ref().map(|p| &p.fokker_planck) {
            flags.push(Validity::NoFokkerPlanck {
                reason: error.to_string(),
            });
        }
        flags
    }
}

/// The extreme eigenvalues of `H̄` at the first minimum (at the start point when there is
/// none).
struct Curvature {
    h_min: Option<f64>,
    h_max: Option<f64>,
}

impl Curvature {
    fn at(landscape: &dyn Landscape, minima: &Minima, start: &[f64]) -> Self {
        let d = landscape.dim();
        let at = minima.all.first().map_or(start, Vec::as_slice);
        let mut hessian = vec![0.0; d * d];
        landscape.hessian(at, &mut hessian);
        let (values, _) = symmetric_eigen(d, &hessian);
        let finite = |v: f64| v.is_finite().then_some(v);
        Self {
            h_min: finite(values.iter().copied().fold(f64::INFINITY, f64::min)),
            h_max: finite(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        }
    }

    /// `1/(η · steps per unit · h_min)`, with `|h_min|` floored at `10⁻¹²` of `h_max`.
    fn relaxation_time(&self, dynamics: &Dynamics) -> Option<f64> {
        let (low, high) = (self.h_min?, self.h_max?);
        let smallest = low.abs().max(1e-12 * high.abs());
        let rate = dynamics.eta * dynamics.steps_per_unit() as f64 * smallest;
        (rate > 0.0 && rate.is_finite()).then(|| 1.0 / rate)
    }
}

/// `N(minimum, T H̄⁻¹)`; `None` unless `T > 0` and `H̄` is positive definite.
fn gibbs(landscape: &dyn Landscape, minimum: &[f64], temperature: f64) -> Option<Gaussian> {
    let d = landscape.dim();
    let mut hessian = vec![0.0; d * d];
    landscape.hessian(minimum, &mut hessian);
    let inverse = nalgebra::DMatrix::from_row_slice(d, d, &hessian)
        .cholesky()?
        .inverse();
    (temperature > 0.0).then(|| Gaussian {
        mean: minimum.to_vec(),
        cov: inverse
            .transpose()
            .iter()
            .map(|h| temperature * h)
            .collect(),
    })
}

/// A box around the start point and the minima, for when the theory cannot place the grid.
fn fallback_bounds(start: &[f64], minima: &[Vec<f64>]) -> [f64; 4] {
    let points: Vec<[f64; 2]> = std::iter::once(start)
        .chain(minima.iter().map(Vec::as_slice))
        .filter(|p| p.len() == 2)
        .map(|p| [p[0], p[1]])
        .collect();
    let [mut x0, mut x1, mut y0, mut y1] = [
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    for p in &points {
        (x0, x1, y0, y1) = (x0.min(p[0]), x1.max(p[0]), y0.min(p[1]), y1.max(p[1]));
    }
    let (cx, cy) = (0.5 * (x0 + x1), 0.5 * (y0 + y1));
    let half = 1.0_f64
        .max(0.1 * (cx.abs() + cy.abs()))
        .max(0.6 * (x1 - x0).max(y1 - y0));
    [cx - half, cx + half, cy - half, cy + half]
}

/// The grid of the 2-D parts: [`plane_grid`], or — with the reason the theory could not place
/// it — a box around the start point and the minima.
pub fn prediction_grid(
    experiment: &Experiment,
    fp: &FpSpec,
    linear: Option<&LinearTheory>,
    minima: &Minima,
) -> (Grid2d, Option<TheoryError>) {
    match plane_grid(fp, linear, &minima.all) {
        Ok(grid) => (grid, None),
        Err(error) => {
            let grid = Grid2d {
                nx: fp.grid.max(8),
                ny: fp.grid.max(8),
                bounds: fallback_bounds(&experiment.start, &minima.all),
            };
            (grid, Some(error))
        }
    }
}

/// A grid for a simulation to record on while the prediction is computed: the prediction's
/// own when `fp.bounds` fix it, else the with-replacement theory's (cheap; without
/// replacement the prediction estimates `D_WOR` and may move the grid a little).
pub fn provisional_grid(experiment: &Experiment, fp: &FpSpec) -> Grid2d {
    let mut cheap = experiment.clone();
    cheap.dynamics.replacement = Replacement::Wr;
    let minima = local_minima(cheap.landscape.as_ref(), &cheap.start);
    let linear = match (&fp.bounds, &minima.from_start) {
        (None, Ok(minimum)) => linear_theory_about(
            cheap.landscape.as_ref(),
            &cheap.dynamics,
            minimum.clone(),
            &TheoryOptions::default(),
        )
        .ok(),
        _ => None,
    };
    prediction_grid(experiment, fp, linear.as_ref(), &minima).0
}

/// `L` at every cell centre of `grid` (in parallel).
pub fn cell_losses(landscape: &dyn Landscape, grid: &Grid2d) -> Vec<f64> {
    use rayon::prelude::*;
    (0..grid.cells())
        .into_par_iter()
        .map(|cell| landscape.loss(&grid.centre_of(cell)))
        .collect()
}

fn plane_prediction(
    experiment: &Experiment,
    fp: &FpSpec,
    linear: Option<&LinearTheory>,
    minima: &Minima,
) -> PlanePrediction {
    let (grid, unplaced) = prediction_grid(experiment, fp, linear, minima);
    let loss = cell_losses(experiment.landscape.as_ref(), &grid);
    // The force costs a second pass of D(w) over the grid: only when entropy production
    // uses it (several minima, or no linearised theory).
    let force_needed = minima.several() || linear.is_none();
    // No Fokker–Planck solve on a stand-in grid: it would cut the density off anywhere.
    let fokker_planck = match unplaced {
        Some(error) => Err(error),
        None => solve(experiment, &grid, linear, force_needed),
    };
    let basins = minima
        .several()
        .then(|| {
            let points: Vec<[f64; 2]> = minima
                .all
                .iter()
                .filter(|m| m.len() == 2)
                .map(|m| [m[0], m[1]])
                .collect();
            // The loss map already holds L at every cell centre.
            let at_centre = |w: [f64; 2]| grid.locate(w).map_or(f64::NAN, |c| loss[c]);
            Basins::gradient_flow(&grid, &at_centre, &points).ok()
        })
        .flatten()
        .map(Arc::new);
    PlanePrediction {
        grid,
        loss,
        fokker_planck,
        basins,
    }
}

/// The stationary Fokker–Planck solution on `grid` and what derives from it.
fn solve(
    experiment: &Experiment,
    grid: &Grid2d,
    linear: Option<&LinearTheory>,
    force_needed: bool,
) -> Result<FokkerPlanck, TheoryError> {
    let fields = drift_and_diffusion(experiment, linear)?;
    let (solution, generator) =
        solve_stationary_factorised(grid, &|w| fields.drift(w), &|w| fields.diffusion(w))
            .map_err(|e| TheoryError::NoFokkerPlanck(e.to_string()))?;
    let relaxation = fp_relaxation(&generator);
    let force = force_needed
        .then(|| GridForce::new(&solution, &fields))
        .flatten()
        .map(Arc::new);
    let field = CurrentField::exact(
        solution.grid,
        solution.density.clone(),
        solution.current.clone(),
    );
    let moments = field.moments();
    let area = field.stochastic_area([moments.mean[0], moments.mean[1]]);
    Ok(FokkerPlanck {
        arrow_field: field.block_average(ARROW_BLOCK),
        field,
        solution,
        force,
        moments,
        area,
        relaxation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn shipped_prediction(name: &str) -> Prediction {
        let text = crate::preset::shipped(name).expect("shipped");
        let path = std::path::PathBuf::from(format!("presets/{name}.toml"));
        let preset = crate::preset::Preset::from_toml(text, &path).expect("preset");
        let experiment = preset.build(&path, Some(text)).expect("experiment");
        Prediction::compute(&experiment, &PredictionOptions::with_plane(&preset.fp))
    }

    /// One basin: the linearised theory predicts; two wells: the Fokker–Planck force does,
    /// and its rate, Gaussian and area come from the solution (positive rate, a mean between
    /// the wells, a spread wider than either well's linearisation).
    #[test]
    fn several_minima_switch_the_predictions_to_the_fokker_planck_solution() {
        let bowl = shipped_prediction("bowl-current");
        assert_eq!(bowl.entropy_source(), Some(EntropySource::Linearised));
        let linear = bowl.linear.as_ref().expect("linear theory");
        assert_eq!(bowl.ep_rate(), Some(linear.ep_rate));
        assert_eq!(bowl.area(), Some(linear.circulation[1]));
        assert!(bowl.force().is_none(), "no second D(w) pass when unused");
        assert_eq!(bowl.is_equilibrium(), Some(false));
        assert!(bowl.validity.is_empty(), "{:?}", bowl.validity);

        let wells = shipped_prediction("double-well");
        assert_eq!(wells.minima.all.len(), 2);
        assert_eq!(wells.entropy_source(), Some(EntropySource::FokkerPlanck));
        let force = wells.force().expect("force");
        assert_eq!(wells.ep_rate(), Some(force.rate()));
        assert!(force.rate() > 0.0);
        let gaussian = wells.reference_gaussian().expect("moments");
        let [a, b] = [wells.minima.all[0][0], wells.minima.all[1][0]];
        assert!(gaussian.mean[0] > a.min(b) && gaussian.mean[0] < a.max(b));
        let one_well = wells.linear.as_ref().expect("linear about one well").cov[0];
        assert!(
            gaussian.cov[0] > 4.0 * one_well,
            "{} vs {one_well}",
            gaussian.cov[0]
        );
        assert!(wells.area().is_some_and(f64::is_finite));
        assert_eq!(wells.validity, vec![Validity::SeveralMinima { count: 2 }]);
    }

    /// SGD without replacement at the bowl's default η (η M h = 0.8, T = 0): the expansion is
    /// stretched, the leading order is flagged, and there is no Fokker–Planck solution.
    #[test]
    fn sgd_without_replacement_is_flagged() {
        let wor = shipped_prediction("bowl-wor");
        let kinds: Vec<String> = wor
            .validity
            .iter()
            .map(|v| serde_json::to_value(v).expect("json")["kind"].to_string())
            .collect();
        assert!(
            kinds.iter().any(|k| k.contains("no-fokker-planck")),
            "{kinds:?}"
        );
        let eta_m_h = wor.validity.iter().find_map(|v| match v {
            Validity::WorLeadingOrder { eta_m_h_max } => Some(*eta_m_h_max),
            _ => None,
        });
        assert!(
            eta_m_h.is_some_and(|p| p > WOR_LEADING_ORDER_LIMIT),
            "{kinds:?}"
        );
        assert!(wor.grid().is_some(), "the histogram still gets a grid");
    }

    /// Two equally deep wells: the basins split the Fokker–Planck mass about evenly (the
    /// minibatch noise is tilted in opposite senses in the two wells, not mirror-symmetric, so
    /// only to within a few per cent), the spectral gap is the slow hopping, far slower than
    /// one well's relaxation, and the check uses it. One bowl: no basins.
    #[test]
    fn double_well_relaxation_and_occupations() {
        let wells = shipped_prediction("double-well");
        let occupations = wells.predicted_occupations().expect("two basins");
        assert_eq!(occupations.len(), 2);
        assert!((occupations.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(
            occupations.iter().all(|m| (m - 0.5).abs() < 0.05),
            "{occupations:?}"
        );
        let fp_tau = wells.fp_relaxation_time().expect("spectral gap");
        let linear_tau = wells.linear_relaxation.expect("linear").relaxation_time;
        assert!(fp_tau > 10.0 * linear_tau, "{fp_tau} vs {linear_tau}");
        assert_eq!(wells.stationarity_relaxation_time(), Some(fp_tau));
        let bowl = shipped_prediction("bowl-current");
        assert!(bowl.basins().is_none() && bowl.predicted_occupations().is_none());
        // One basin: the spectral gap of the grid operator is the linearised rate, to the
        // discretisation error (1/(η h_min) = 50 steps; −1/ln(1 − η h_min) = 49.5).
        let tau = bowl.fp_relaxation_time().expect("gap");
        assert!((tau / 50.0 - 1.0).abs() < 0.03, "{tau}");
    }

    /// The linear relaxation time of the bowl is 1/(η h_min) steps: h = (1, 4), η = 0.02.
    #[test]
    fn relaxation_time_of_the_bowl() {
        let bowl = shipped_prediction("bowl-current");
        let tau = bowl.relaxation_time.expect("τ");
        assert!((tau - 1.0 / (0.02 * 1.0)).abs() < 1e-6 * tau, "{tau}");
    }
}
