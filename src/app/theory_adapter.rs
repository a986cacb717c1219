//! The one place where the app meets `neqlab::theory` and `neqlab::stats`.
//!
//! Everything the views need from the theory arrives as a [`Prediction`]: the linearised
//! theory ([`linear_theory`], THEORY.md sections 3–4) and the stationary Fokker–Planck solve
//! ([`fokker_planck`]) on the grid of [`fokker_planck_grid`]. The simulation side uses
//! [`GridHistogram`] (a fork-cheap version of `stats::grid::GridHistogram`, same estimator)
//! and [`EntropyStats`] (entropy production with a `Σ` histogram for every `k = 1..5`, which
//! the app's fluctuation-theorem view needs and `stats::entropy` does not expose yet).

use std::time::Instant;

use neqlab::dynamics::{Observer, TimeUnit};
use neqlab::landscape::Landscape;
use neqlab::landscape::newton::newton_minimum;
use neqlab::preset::{Experiment, FpSpec, Preset};
use neqlab::theory::{TheoryOptions, fokker_planck, fokker_planck_grid, linear_theory};

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
    pub time_unit: TimeUnit,
    pub solve_seconds: f64,
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
    let (density, current, fp_error) = match fokker_planck(experiment, &on_grid, library_linear) {
        Ok(solution) => (Some(solution.density), Some(solution.current), None),
        Err(e) => (None, None, Some(e.to_string())),
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
    Ok(Prediction {
        grid,
        density,
        current,
        fp_error,
        loss,
        minima,
        linear: library_linear.and_then(Linear::from_library),
        linear_error: theory.as_ref().err().map(|e| e.to_string()),
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

/// Density histogram of walker positions and midpoint-binned current (THEORY.md section 7),
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

/// The linear model the entropy estimator needs: `v(w) = −K (w − mean)`, `K = C Σ⁻¹`, and
/// `D⁻¹`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntropyModel {
    pub mean: [f64; 2],
    pub k: [f64; 4],
    pub diffusion_inverse: [f64; 4],
}

impl EntropyModel {
    pub fn from_prediction(p: &Prediction) -> Option<Self> {
        let linear = p.linear.as_ref()?;
        let v = linear.velocity;
        Some(Self {
            mean: linear.mean,
            k: v.map(|x| -x),
            diffusion_inverse: linear.diffusion_inverse?,
        })
    }
}

/// Longest trajectory length `k` for which `Σ` is recorded.
pub const MAX_K: usize = 5;
/// Bins of each `Σ` histogram.
pub const SIGMA_BINS: usize = 81;

/// Entropy production `σ_n = v(w̃_n)ᵀ D⁻¹ Δw` per time unit, sums `Σ` over blocks of `k`
/// consecutive units, their histograms and `⟨exp(−Σ)⟩` (THEORY.md section 3).
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
        let m = &self.model;
        let x = [
            0.5 * (before[0] + after[0]) - m.mean[0],
            0.5 * (before[1] + after[1]) - m.mean[1],
        ];
        let v = [
            -(m.k[0] * x[0] + m.k[1] * x[1]),
            -(m.k[2] * x[0] + m.k[3] * x[1]),
        ];
        let dw = [after[0] - before[0], after[1] - before[1]];
        let di = m.diffusion_inverse;
        let sigma = v[0] * (di[0] * dw[0] + di[1] * dw[1]) + v[1] * (di[2] * dw[0] + di[3] * dw[1]);
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
}
