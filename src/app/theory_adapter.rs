//! The one place where the app meets `neqlab::theory` and `neqlab::stats`.
//!
//! Everything the views need from the theory arrives as a [`Prediction`]: the linearised
//! theory ([`linear_theory`], docs/theory.md sections 3–4) and the stationary Fokker–Planck solve
//! ([`fokker_planck`]) on the grid of [`fokker_planck_grid`]. The simulation side uses
//! [`GridHistogram`] (a fork-cheap version of `stats::grid::GridHistogram`, same estimator)
//! and [`EntropyStats`] (entropy production with a `Σ` histogram for every `k = 1..5`, which
//! the app's fluctuation-theorem view needs and `stats::entropy` does not expose yet).

use std::sync::Arc;
use std::time::Instant;

use neqlab::dynamics::{Observer, TimeUnit};
use neqlab::landscape::Landscape;
use neqlab::landscape::newton::newton_minimum;
use neqlab::preset::{Experiment, FpSpec, Preset};
use neqlab::theory::force::GridForce;
use neqlab::theory::{
    TheoryOptions, drift_and_diffusion, fokker_planck, fokker_planck_grid, linear_theory,
};

pub use neqlab::stats::entropy::gaussian_kl;
pub use neqlab::stats::grid::total_variation;

pub use neqlab::theory::fokker_planck::Grid2d;

/// What the theory predicts for a 2-D experiment, in the time unit of its dynamics.
#[derive(Clone, Debug)]
pub struct Prediction {
    pub grid: Grid2d,
    /// Fokker–Planck probability mass per cell, row-major, sums to one; `None` when there is
    /// no Fokker–Planck prediction (see `fp_error`).
    pub density: Option<Vec<f64>>,
    /// Fokker–Planck probability current at cell centres, per time unit.
    pub current: Option<Vec<[f64; 2]>>,
    pub fp_error: Option<String>,
    /// Full loss `L` at cell centres.
    pub loss: Vec<f64>,
    /// Every local minimum found (Newton's method from the start and the landscape's hints).
    pub minima: Vec<[f64; 2]>,
    /// The linearised theory, when it exists (see `linear_error`).
    pub linear: Option<Linear>,
    pub linear_error: Option<String>,
    /// The thermodynamic force `D⁻¹ J/p` of the Fokker–Planck solution (several minima only).
    pub force: Option<Arc<GridForce>>,
    /// Mean and covariance (row-major) of the Fokker–Planck density.
    pub fp_gaussian: Option<([f64; 2], [f64; 4])>,
    /// The stochastic area `C_12` of the Fokker–Planck solution (see [`Prediction::area`]).
    pub fp_area: Option<f64>,
    pub time_unit: TimeUnit,
    pub solve_seconds: f64,
}

/// Where the predicted entropy production comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntropySource {
    /// The linearised theory about the minimum: `−tr(C D⁻¹ C Σ⁻¹)`.
    Linear,
    /// The Fokker–Planck solution: `∫ Jᵀ D⁻¹ J / p` (several minima: no single linearisation
    /// describes the stationary state).
    FokkerPlanck,
}

impl Prediction {
    /// Several minima: the linearised theory describes one basin only, so the comparisons
    /// use the Fokker–Planck solution instead.
    pub fn several_minima(&self) -> bool {
        self.minima.len() > 1
    }

    /// Which model predicts entropy production: the Fokker–Planck force with several
    /// minima (or without a linear theory), else the linearised theory.
    pub fn entropy_source(&self) -> Option<EntropySource> {
        let linear = self.linear.is_some_and(|l| l.diffusion_inverse.is_some());
        match (linear, self.force.is_some()) {
            (true, true) if self.several_minima() => Some(EntropySource::FokkerPlanck),
            (true, _) => Some(EntropySource::Linear),
            (false, true) => Some(EntropySource::FokkerPlanck),
            (false, false) => None,
        }
    }

    /// Predicted entropy production per time unit, from [`Self::entropy_source`].
    pub fn ep_rate(&self) -> Option<f64> {
        match self.entropy_source()? {
            EntropySource::Linear => self.linear.map(|l| l.ep_rate),
            EntropySource::FokkerPlanck => self.force.as_ref().map(|f| f.rate()),
        }
    }

    /// Mean and covariance (row-major) the simulation's Gaussian fit is compared with: the
    /// linearised theory's, or with several minima the moments of the Fokker–Planck density.
    pub fn reference_gaussian(&self) -> Option<([f64; 2], [f64; 4])> {
        match self.linear {
            Some(l) if !self.several_minima() => Some((l.mean, l.covariance)),
            _ => self.fp_gaussian,
        }
    }

    /// The stochastic area `C_12` per time unit: the linearised `C`, or with several minima
    /// `∫ (x₁ J₂ − x₂ J₁)/2 dw` about the mean of the Fokker–Planck density (the same
    /// quantity: the mean of `x ∘ dx` antisymmetrised is `∫ x Jᵀ dw` in the stationary state).
    pub fn area(&self) -> Option<f64> {
        match self.linear {
            Some(l) if !self.several_minima() => Some(l.circulation[1]),
            _ => self.fp_area,
        }
    }
}

/// `∫ (x₁ J₂ − x₂ J₁)/2 dw` with `x = w − mean`, from cell currents.
fn grid_area(grid: &Grid2d, current: &[[f64; 2]], mean: [f64; 2]) -> f64 {
    let area = grid.cell_area();
    current
        .iter()
        .enumerate()
        .map(|(cell, j)| {
            let w = grid.centre_of(cell);
            let x = [w[0] - mean[0], w[1] - mean[1]];
            0.5 * (x[0] * j[1] - x[1] * j[0]) * area
        })
        .sum()
}

/// Mean and covariance (row-major) of a density given as mass per cell.
fn grid_moments(grid: &Grid2d, mass: &[f64]) -> ([f64; 2], [f64; 4]) {
    let total: f64 = mass.iter().sum::<f64>().max(1e-300);
    let mut mean = [0.0; 2];
    for (cell, m) in mass.iter().enumerate() {
        let w = grid.centre_of(cell);
        mean[0] += m * w[0] / total;
        mean[1] += m * w[1] / total;
    }
    let mut cov = [0.0; 4];
    for (cell, m) in mass.iter().enumerate() {
        let w = grid.centre_of(cell);
        let x = [w[0] - mean[0], w[1] - mean[1]];
        cov[0] += m * x[0] * x[0] / total;
        cov[1] += m * x[0] * x[1] / total;
        cov[3] += m * x[1] * x[1] / total;
    }
    cov[2] = cov[1];
    (mean, cov)
}

/// The 2-D linearised theory in fixed-size form.
#[derive(Clone, Copy, Debug)]
pub struct Linear {
    /// The minimum `w*` of `L`.
    pub minimum: [f64; 2],
    /// Stationary mean: `w_eff` without replacement, else `w*`.
    pub mean: [f64; 2],
    /// Stationary covariance `Σ`, row-major.
    pub covariance: [f64; 4],
    /// Antisymmetric circulation `C`, per time unit.
    pub circulation: [f64; 4],
    /// Mean entropy production per time unit, `−tr(C D⁻¹ C Σ⁻¹)`.
    pub ep_rate: f64,
    /// `‖HΣ − ΣH‖ / ‖HΣ + ΣH‖`: zero in equilibrium.
    pub nonequilibrium_ratio: f64,
    /// `v(w) = velocity · (w − mean)`, `velocity = −C Σ⁻¹`.
    pub velocity: [f64; 4],
    pub diffusion_inverse: Option<[f64; 4]>,
}

fn four(v: &[f64]) -> [f64; 4] {
    std::array::from_fn(|i| v.get(i).copied().unwrap_or(f64::NAN))
}

fn mul(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    ]
}

impl Linear {
    fn from_library(theory: &neqlab::theory::LinearTheory) -> Option<Self> {
        if theory.dim() != 2 {
            return None;
        }
        let (h, s) = (four(&theory.hessian), four(&theory.cov));
        let (hs, sh) = (mul(h, s), mul(s, h));
        let norm = |m: [f64; 4]| m.iter().map(|x| x * x).sum::<f64>().sqrt();
        let commutator: [f64; 4] = std::array::from_fn(|i| hs[i] - sh[i]);
        let anticommutator: [f64; 4] = std::array::from_fn(|i| hs[i] + sh[i]);
        Some(Self {
            minimum: [theory.minimum[0], theory.minimum[1]],
            mean: [theory.mean[0], theory.mean[1]],
            covariance: s,
            circulation: four(&theory.circulation),
            ep_rate: theory.ep_rate,
            nonequilibrium_ratio: norm(commutator) / norm(anticommutator).max(1e-300),
            velocity: four(&theory.velocity_matrix()),
            diffusion_inverse: theory.diffusion_inverse().map(|d| four(&d)),
        })
    }
}

/// A box around the start point, for when the theory cannot place the grid.
fn fallback_grid(experiment: &Experiment, fp: &FpSpec) -> Grid2d {
    let (x, y) = (experiment.start[0], experiment.start[1]);
    let half = 1.0_f64.max(0.1 * (x.abs() + y.abs()));
    Grid2d {
        nx: fp.grid.max(8),
        ny: fp.grid.max(8),
        bounds: [x - half, x + half, y - half, y + half],
    }
}

/// The grid shared by the histogram of the walkers and the prediction: `fp.bounds`, or the
/// theory's automatic bounds (±6σ around the mean and every minimum). Cheap with
/// replacement; without replacement it estimates `D_WOR`, so the app calls it on the
/// solver thread (and once at start-up).
pub fn plot_grid(experiment: &Experiment, preset: &Preset) -> Grid2d {
    fokker_planck_grid(experiment, &preset.fp, None)
        .unwrap_or_else(|_| fallback_grid(experiment, &preset.fp))
}

/// Predict the stationary state of `experiment` (heavy: run it off the UI thread).
pub fn predict(experiment: &Experiment, fp: &FpSpec) -> Result<Prediction, String> {
    let started = Instant::now();
    let landscape = experiment.landscape.as_ref();
    if landscape.dim() != 2 {
        return Err(format!(
            "the {} landscape has {} weights; the 2-D views need 2",
            landscape.kind(),
            landscape.dim()
        ));
    }
    let theory = linear_theory(experiment, &TheoryOptions::default());
    let library_linear = theory.as_ref().ok();
    let grid = fokker_planck_grid(experiment, fp, library_linear)
        .unwrap_or_else(|_| fallback_grid(experiment, fp));
    let on_grid = FpSpec {
        grid: grid.nx,
        bounds: Some(grid.bounds),
    };
    let loss = cell_losses(landscape, grid);
    let mut minima: Vec<[f64; 2]> = Vec::new();
    let starts = std::iter::once(experiment.start.clone()).chain(landscape.minimum_hints());
    for start in starts {
        if let Ok(m) = newton_minimum(landscape, &start) {
            let m = [m.w[0], m.w[1]];
            let scale = 1e-6 * (1.0 + m[0].abs() + m[1].abs());
            if !minima
                .iter()
                .any(|k| (k[0] - m[0]).abs() + (k[1] - m[1]).abs() < scale)
            {
                minima.push(m);
            }
        }
    }
    // The force costs a second pass of D(w) over the grid: only when it is used (several
    // minima, or no linear theory).
    let force_needed = minima.len() > 1 || library_linear.is_none();
    let (density, current, force, fp_error) =
        match fokker_planck(experiment, &on_grid, library_linear) {
            Ok(solution) => {
                let force = force_needed
                    .then(|| drift_and_diffusion(experiment, library_linear).ok())
                    .flatten()
                    .and_then(|fields| GridForce::new(&solution, &fields))
                    .map(Arc::new);
                (Some(solution.density), Some(solution.current), force, None)
            }
            Err(e) => (None, None, None, Some(e.to_string())),
        };
    let fp_gaussian = density.as_deref().map(|d| grid_moments(&grid, d));
    let fp_area = current
        .as_deref()
        .zip(fp_gaussian)
        .map(|(j, (mean, _))| grid_area(&grid, j, mean));
    Ok(Prediction {
        grid,
        density,
        current,
        fp_gaussian,
        fp_area,
        fp_error,
        loss,
        minima,
        linear: library_linear.and_then(Linear::from_library),
        linear_error: theory.as_ref().err().map(|e| e.to_string()),
        force,
        time_unit: experiment.dynamics.time_unit(),
        solve_seconds: started.elapsed().as_secs_f64(),
    })
}

/// `L` at every cell centre, for the landscape view.
pub fn cell_losses(landscape: &dyn Landscape, grid: Grid2d) -> Vec<f64> {
    use rayon::prelude::*;
    (0..grid.nx * grid.ny)
        .into_par_iter()
        .map(|i| landscape.loss(&grid.centre_of(i)))
        .collect()
}

/// Density histogram of walker positions and midpoint-binned current (docs/theory.md section 7),
/// recorded once per time unit after `burn_in`.
///
/// Only the root histogram holds the dense grid; the per-chunk forks made by
/// `Ensemble::advance` (one per 64 walkers) record their few hundred events in a list, so a
/// fork costs no grid-sized allocation and a merge touches only the cells hit.
#[derive(Clone, Debug)]
pub struct GridHistogram {
    grid: Grid2d,
    burn_in: u64,
    /// Dense accumulators (root only): counts and summed displacements per cell.
    counts: Vec<f64>,
    displacement: Vec<[f64; 2]>,
    /// Events of a fork: (cell of the position, cell of the midpoint, displacement).
    events: Vec<(Option<usize>, Option<usize>, [f64; 2])>,
    dense: bool,
    samples: u64,
}

impl GridHistogram {
    pub fn new(grid: Grid2d, burn_in: u64) -> Self {
        Self {
            grid,
            burn_in,
            counts: vec![0.0; grid.nx * grid.ny],
            displacement: vec![[0.0; 2]; grid.nx * grid.ny],
            events: Vec::new(),
            dense: true,
            samples: 0,
        }
    }
    /// Walker-units recorded (inside the grid or not).
    pub fn samples(&self) -> u64 {
        self.samples
    }
    /// Fraction of samples in each cell.
    pub fn density(&self) -> Vec<f64> {
        let n = self.samples.max(1) as f64;
        self.counts.iter().map(|c| c / n).collect()
    }
    /// `J(cell) ≈ Σ Δw / (samples · cell area)`.
    pub fn current(&self) -> Vec<[f64; 2]> {
        let n = self.samples.max(1) as f64 * self.grid.cell_area();
        self.displacement
            .iter()
            .map(|d| [d[0] / n, d[1] / n])
            .collect()
    }

    fn record(&mut self, position: Option<usize>, midpoint: Option<usize>, step: [f64; 2]) {
        if self.dense {
            if let Some(i) = position {
                self.counts[i] += 1.0;
            }
            if let Some(i) = midpoint {
                self.displacement[i][0] += step[0];
                self.displacement[i][1] += step[1];
            }
        } else {
            self.events.push((position, midpoint, step));
        }
    }
}

impl Observer for GridHistogram {
    fn fork(&self) -> Self {
        Self {
            grid: self.grid,
            burn_in: self.burn_in,
            counts: Vec::new(),
            displacement: Vec::new(),
            events: Vec::new(),
            dense: false,
            samples: 0,
        }
    }
    fn observe(&mut self, _walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        if unit < self.burn_in {
            return;
        }
        self.samples += 1;
        let mid = [0.5 * (before[0] + after[0]), 0.5 * (before[1] + after[1])];
        self.record(
            self.grid.locate([before[0], before[1]]),
            self.grid.locate(mid),
            [after[0] - before[0], after[1] - before[1]],
        );
    }
    fn merge(&mut self, other: Self) {
        self.samples += other.samples;
        for (position, midpoint, step) in other.events {
            self.record(position, midpoint, step);
        }
        if other.dense {
            self.counts
                .iter_mut()
                .zip(&other.counts)
                .for_each(|(a, b)| *a += b);
            self.displacement
                .iter_mut()
                .zip(&other.displacement)
                .for_each(|(a, b)| {
                    a[0] += b[0];
                    a[1] += b[1];
                });
        }
    }
}

/// The model the entropy estimator needs: `σ = v(w̃)ᵀ D⁻¹ Δw` (docs/theory.md section 3).
#[derive(Clone, Debug)]
pub enum EntropyModel {
    /// The linearised theory: `v(w) = −K (w − mean)`, `K = C Σ⁻¹`, constant `D⁻¹`.
    Linear {
        mean: [f64; 2],
        k: [f64; 4],
        diffusion_inverse: [f64; 4],
    },
    /// `σ = F(w̃)·Δw` with the Fokker–Planck force `F = D⁻¹ J/p`.
    Grid(Arc<GridForce>),
}

impl EntropyModel {
    /// The model of [`Prediction::entropy_source`].
    pub fn from_prediction(p: &Prediction) -> Option<Self> {
        match p.entropy_source()? {
            EntropySource::Linear => {
                let linear = p.linear.as_ref()?;
                Some(Self::Linear {
                    mean: linear.mean,
                    k: linear.velocity.map(|x| -x),
                    diffusion_inverse: linear.diffusion_inverse?,
                })
            }
            EntropySource::FokkerPlanck => p.force.clone().map(Self::Grid),
        }
    }

    /// Entropy produced by a step from `before` to `after` (midpoint rule).
    pub fn sigma(&self, before: &[f64], after: &[f64]) -> f64 {
        match self {
            Self::Linear {
                mean,
                k,
                diffusion_inverse: di,
            } => {
                let x = [
                    0.5 * (before[0] + after[0]) - mean[0],
                    0.5 * (before[1] + after[1]) - mean[1],
                ];
                let v = [-(k[0] * x[0] + k[1] * x[1]), -(k[2] * x[0] + k[3] * x[1])];
                let dw = [after[0] - before[0], after[1] - before[1]];
                v[0] * (di[0] * dw[0] + di[1] * dw[1]) + v[1] * (di[2] * dw[0] + di[3] * dw[1])
            }
            Self::Grid(force) => force.sigma([before[0], before[1]], [after[0], after[1]]),
        }
    }
}

/// Longest trajectory length `k` for which `Σ` is recorded.
pub const MAX_K: usize = 5;
/// Bins of each `Σ` histogram.
pub const SIGMA_BINS: usize = 81;

/// Entropy production `σ_n = v(w̃_n)ᵀ D⁻¹ Δw` per time unit, sums `Σ` over blocks of `k`
/// consecutive units, their histograms and `⟨exp(−Σ)⟩` (docs/theory.md section 3).
#[derive(Clone, Debug)]
pub struct EntropyStats {
    model: EntropyModel,
    burn_in: u64,
    /// Histogram half-width for each `k`.
    pub half_width: [f64; MAX_K],
    pub histograms: Vec<[f64; SIGMA_BINS]>,
    pub exp_minus_sum: [f64; MAX_K],
    pub blocks: [u64; MAX_K],
    pub sigma_sum: f64,
    pub units: u64,
    partial: [f64; MAX_K],
    partial_len: [usize; MAX_K],
}

impl EntropyStats {
    /// `ep_rate` sizes the histograms: `Σ_k` has mean `k·rate` and variance about twice that.
    pub fn new(model: EntropyModel, burn_in: u64, ep_rate: f64) -> Self {
        let half_width = std::array::from_fn(|k| {
            let mean = (k + 1) as f64 * ep_rate;
            (mean + 6.0 * (2.0 * mean).sqrt()).max(1e-6)
        });
        Self {
            model,
            burn_in,
            half_width,
            histograms: vec![[0.0; SIGMA_BINS]; MAX_K],
            exp_minus_sum: [0.0; MAX_K],
            blocks: [0; MAX_K],
            sigma_sum: 0.0,
            units: 0,
            partial: [0.0; MAX_K],
            partial_len: [0; MAX_K],
        }
    }
    /// Mean entropy production per time unit.
    pub fn rate(&self) -> Option<f64> {
        (self.units > 0).then(|| self.sigma_sum / self.units as f64)
    }
}

impl Observer for EntropyStats {
    fn fork(&self) -> Self {
        let mut fresh = self.clone();
        fresh.histograms.iter_mut().for_each(|h| h.fill(0.0));
        fresh.exp_minus_sum = [0.0; MAX_K];
        fresh.blocks = [0; MAX_K];
        fresh.sigma_sum = 0.0;
        fresh.units = 0;
        fresh
    }
    fn begin_walker(&mut self, _walker: usize) {
        self.partial = [0.0; MAX_K];
        self.partial_len = [0; MAX_K];
    }
    fn observe(&mut self, _walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        if unit < self.burn_in {
            return;
        }
        let sigma = self.model.sigma(before, after);
        if !sigma.is_finite() {
            return;
        }
        self.sigma_sum += sigma;
        self.units += 1;
        for k in 0..MAX_K {
            self.partial[k] += sigma;
            self.partial_len[k] += 1;
            if self.partial_len[k] == k + 1 {
                let total = self.partial[k];
                self.exp_minus_sum[k] += (-total).exp();
                self.blocks[k] += 1;
                let h = self.half_width[k];
                let bin = ((total + h) / (2.0 * h) * SIGMA_BINS as f64).floor();
                if bin >= 0.0 && bin < SIGMA_BINS as f64 {
                    self.histograms[k][bin as usize] += 1.0;
                }
                self.partial[k] = 0.0;
                self.partial_len[k] = 0;
            }
        }
    }
    fn merge(&mut self, other: Self) {
        for k in 0..MAX_K {
            for (a, b) in self.histograms[k].iter_mut().zip(&other.histograms[k]) {
                *a += b;
            }
            self.exp_minus_sum[k] += other.exp_minus_sum[k];
            self.blocks[k] += other.blocks[k];
        }
        self.sigma_sum += other.sigma_sum;
        self.units += other.units;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forks record events and the root replays them: splitting the walkers into chunks must
    /// give exactly the histogram of one pass.
    #[test]
    fn forked_histograms_merge_exactly() {
        let grid = Grid2d {
            nx: 8,
            ny: 8,
            bounds: [-1.1, 1.1, -1.1, 1.1],
        };
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
            whole.observe(0, k as u64, a, b);
        }
        let mut root = GridHistogram::new(grid, 0);
        for chunk in steps.chunks(37).enumerate() {
            let mut part = root.fork();
            for (k, (a, b)) in chunk.1.iter().enumerate() {
                part.observe(0, (chunk.0 * 37 + k) as u64, a, b);
            }
            root.merge(part);
        }
        assert_eq!(root.samples(), whole.samples());
        assert_eq!(root.density(), whole.density());
        assert_eq!(root.current(), whole.current());
        assert!((whole.density().iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    fn shipped_prediction(name: &str) -> Prediction {
        let text = neqlab::preset::shipped(name).expect("shipped");
        let path = std::path::PathBuf::from(format!("presets/{name}.toml"));
        let preset = Preset::from_toml(text, &path).expect("preset");
        let experiment = preset.build(&path, Some(text)).expect("experiment");
        predict(&experiment, &preset.fp).expect("prediction")
    }

    /// One basin: the linearised theory predicts; two wells: the Fokker–Planck force does,
    /// and its rate, Gaussian and area come from the solution (positive rate, a mean between
    /// the wells, a spread wider than either well's linearisation).
    #[test]
    fn several_minima_switch_the_predictions_to_the_fokker_planck_solution() {
        let bowl = shipped_prediction("bowl-current");
        assert_eq!(bowl.entropy_source(), Some(EntropySource::Linear));
        let linear = bowl.linear.expect("linear theory");
        assert_eq!(bowl.ep_rate(), Some(linear.ep_rate));
        assert_eq!(bowl.area(), Some(linear.circulation[1]));
        assert!(
            bowl.force.is_none(),
            "no second D(w) pass when it is not used"
        );

        let wells = shipped_prediction("double-well");
        assert_eq!(wells.minima.len(), 2);
        assert_eq!(wells.entropy_source(), Some(EntropySource::FokkerPlanck));
        let force = wells.force.as_ref().expect("force");
        assert_eq!(wells.ep_rate(), Some(force.rate()));
        assert!(force.rate() > 0.0);
        assert!(matches!(
            EntropyModel::from_prediction(&wells),
            Some(EntropyModel::Grid(_))
        ));
        let (mean, cov) = wells.reference_gaussian().expect("moments");
        let [a, b] = [wells.minima[0][0], wells.minima[1][0]];
        assert!(mean[0] > a.min(b) && mean[0] < a.max(b), "mean {mean:?}");
        let one_well = wells.linear.expect("linear about one well").covariance[0];
        assert!(cov[0] > 4.0 * one_well, "{} vs {one_well}", cov[0]);
        assert!(wells.area().is_some_and(f64::is_finite));
    }
}
