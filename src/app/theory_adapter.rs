//! The one place where the app meets `neqlab::theory` and `neqlab::stats::grid`.
//!
//! Everything the views need from the theory arrives as a [`Prediction`]; everything they need
//! from the simulation's grid estimators comes from [`GridHistogram`] and [`EntropyStats`].
//! While the theory and Fokker–Planck modules are still being written, this file holds small
//! stand-ins (a linearised, Gaussian prediction of THEORY.md section 3 and the section-7
//! estimators), so that switching to the library is a change to this file only.

use std::time::Instant;

use neqlab::dynamics::{Observer, Replacement, TimeUnit};
use neqlab::landscape::{Landscape, gradient_covariance};
use neqlab::preset::{Experiment, Preset};

/// A regular grid over `[x_min, x_max] × [y_min, y_max]` (the agreed `Grid2d`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid2d {
    pub nx: usize,
    pub ny: usize,
    /// `[x_min, x_max, y_min, y_max]`.
    pub bounds: [f64; 4],
}

impl Grid2d {
    /// Cell width along `w1`.
    pub fn dx(&self) -> f64 {
        (self.bounds[1] - self.bounds[0]) / self.nx as f64
    }
    /// Cell height along `w2`.
    pub fn dy(&self) -> f64 {
        (self.bounds[3] - self.bounds[2]) / self.ny as f64
    }
    /// Cell area.
    pub fn cell_area(&self) -> f64 {
        self.dx() * self.dy()
    }
    /// Centre of cell `(ix, iy)`.
    pub fn centre(&self, ix: usize, iy: usize) -> [f64; 2] {
        [
            self.bounds[0] + (ix as f64 + 0.5) * self.dx(),
            self.bounds[2] + (iy as f64 + 0.5) * self.dy(),
        ]
    }
    /// Row-major index `iy·nx + ix` of the cell holding `w`, if it lies on the grid.
    pub fn cell_of(&self, w: [f64; 2]) -> Option<usize> {
        let fx = (w[0] - self.bounds[0]) / self.dx();
        let fy = (w[1] - self.bounds[2]) / self.dy();
        if !(fx >= 0.0 && fy >= 0.0) {
            return None;
        }
        let (ix, iy) = (fx as usize, fy as usize);
        (ix < self.nx && iy < self.ny).then_some(iy * self.nx + ix)
    }
}

/// What the theory predicts for a 2-D experiment, in the time unit of its dynamics.
#[derive(Clone, Debug)]
pub struct Prediction {
    pub grid: Grid2d,
    /// Probability mass per cell, row-major, sums to (about) one.
    pub density: Vec<f64>,
    /// Probability current `J` at cell centres (mass per area per time unit times length).
    pub current: Vec<[f64; 2]>,
    /// Full loss `L` at cell centres.
    pub loss: Vec<f64>,
    /// The minimum `w*` of `L`.
    pub minimum: [f64; 2],
    /// Every local minimum found (for the landscape view).
    pub minima: Vec<[f64; 2]>,
    /// Stationary mean: `w_eff` without replacement, else `w*`.
    pub mean: [f64; 2],
    /// Stationary covariance `Σ`, row-major.
    pub covariance: [f64; 4],
    /// Diffusion matrix `D` at the mean, per time unit, row-major.
    pub diffusion: [f64; 4],
    /// Antisymmetric circulation `C = (η/2)(HΣ − ΣH)`, per time unit.
    pub circulation: [f64; 4],
    /// Mean entropy production per time unit, `−tr(C D⁻¹ C Σ⁻¹)`.
    pub ep_rate: f64,
    /// `‖HΣ − ΣH‖ / ‖HΣ + ΣH‖`: zero in equilibrium.
    pub nonequilibrium_ratio: f64,
    pub time_unit: TimeUnit,
    pub solve_seconds: f64,
    /// What kind of prediction this is, for the panel's subtitle.
    pub method: String,
}

/// Loss and Hessian helpers on 2-D landscapes.
fn hessian2(landscape: &dyn Landscape, w: [f64; 2]) -> [f64; 4] {
    let mut h = [0.0; 4];
    landscape.hessian(&w, &mut h);
    h
}

/// Newton's method from `start`, falling back to damped steps (stand-in for
/// `neqlab::landscape::newton::newton_minimum`).
fn newton_minimum(landscape: &dyn Landscape, start: [f64; 2]) -> Option<[f64; 2]> {
    let mut w = start;
    let mut g = [0.0; 2];
    for _ in 0..100 {
        landscape.gradient(&w, &mut g);
        let h = hessian2(landscape, w);
        let det = h[0] * h[3] - h[1] * h[2];
        let step = if det > 0.0 && h[0] > 0.0 {
            [
                (h[3] * g[0] - h[1] * g[1]) / det,
                (-h[2] * g[0] + h[0] * g[1]) / det,
            ]
        } else {
            let scale = 1.0 / (h[0].abs() + h[3].abs() + 1e-12);
            [g[0] * scale, g[1] * scale]
        };
        w = [w[0] - step[0], w[1] - step[1]];
        if !(w[0].is_finite() && w[1].is_finite()) {
            return None;
        }
        if step[0].abs() + step[1].abs() < 1e-13 * (1.0 + w[0].abs() + w[1].abs()) {
            break;
        }
    }
    landscape.gradient(&w, &mut g);
    let scale = 1.0 + w[0].abs() + w[1].abs();
    (g[0].abs() + g[1].abs() < 1e-6 * scale).then_some(w)
}

fn invert(m: [f64; 4]) -> Option<[f64; 4]> {
    let det = m[0] * m[3] - m[1] * m[2];
    (det.abs() > 0.0 && det.is_finite()).then(|| [m[3] / det, -m[1] / det, -m[2] / det, m[0] / det])
}

fn mul(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    ]
}

/// Solve `H Σ + Σ H = R` for symmetric `Σ` (THEORY.md section 3), `H`, `R` symmetric 2×2.
fn lyapunov(h: [f64; 4], r: [f64; 4]) -> Option<[f64; 4]> {
    // Unknowns (s11, s12, s22):
    // 2 h11 s11 + 2 h12 s12            = r11
    // h12 s11 + (h11 + h22) s12 + h12 s22 = r12
    //            2 h12 s12 + 2 h22 s22 = r22
    let a = [
        [2.0 * h[0], 2.0 * h[1], 0.0],
        [h[1], h[0] + h[3], h[1]],
        [0.0, 2.0 * h[1], 2.0 * h[3]],
    ];
    let b = [r[0], r[1], r[3]];
    let det3 = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let det = det3(a);
    if det.abs() < 1e-300 {
        return None;
    }
    let mut s = [0.0; 3];
    for (k, slot) in s.iter_mut().enumerate() {
        let mut m = a;
        for row in 0..3 {
            m[row][k] = b[row];
        }
        *slot = det3(m) / det;
    }
    Some([s[0], s[1], s[1], s[2]])
}

/// Linearised theory at the minimum (THEORY.md section 3, and the thermal part of section 4
/// without replacement).
struct Linear {
    minimum: [f64; 2],
    hessian: [f64; 4],
    diffusion: [f64; 4],
    covariance: [f64; 4],
    circulation: [f64; 4],
    ep_rate: f64,
    ratio: f64,
}

fn linear(experiment: &Experiment) -> Result<Linear, String> {
    let landscape = experiment.landscape.as_ref();
    if landscape.dim() != 2 {
        return Err(format!(
            "the {} landscape has {} dimensions; the 2-D views need 2",
            landscape.kind(),
            landscape.dim()
        ));
    }
    let start = [experiment.start[0], experiment.start[1]];
    let minimum = newton_minimum(landscape, start)
        .or_else(|| {
            landscape
                .minimum_hints()
                .into_iter()
                .filter(|h| h.len() == 2)
                .find_map(|h| newton_minimum(landscape, [h[0], h[1]]))
        })
        .ok_or("Newton's method found no minimum near the start point")?;
    let dynamics = &experiment.dynamics;
    let eta = dynamics.eta;
    let hessian = hessian2(landscape, minimum);
    let (drift_scale, diffusion) = match dynamics.replacement {
        Replacement::Wr => {
            let s = gradient_covariance(landscape, &minimum);
            let c = dynamics.finite_population_factor();
            let t = dynamics.temperature;
            let d = [
                0.5 * eta * eta * c * s[0] + eta * t,
                0.5 * eta * eta * c * s[1],
                0.5 * eta * eta * c * s[2],
                0.5 * eta * eta * c * s[3] + eta * t,
            ];
            (eta, d)
        }
        Replacement::Wor => {
            let m = dynamics.batches_per_epoch() as f64;
            let t = dynamics.temperature;
            if t <= 0.0 {
                return Err(
                    "the SGD-without-replacement prediction (noise of order η⁴) needs neqlab::theory, \
                     which has not landed yet"
                        .into(),
                );
            }
            (eta * m, [eta * m * t, 0.0, 0.0, eta * m * t])
        }
    };
    // (η H) Σ + Σ (η H) = 2 D  ⇔  H Σ + Σ H = (2/η) D.
    let rhs = diffusion.map(|x| 2.0 * x / drift_scale);
    let covariance = lyapunov(hessian, rhs).ok_or("the Hessian at the minimum is singular")?;
    if !(covariance[0] > 0.0 && covariance[3] > 0.0) || covariance.iter().any(|x| !x.is_finite()) {
        return Err(
            "the linearised stationary covariance is not positive: the minimum is not stable"
                .into(),
        );
    }
    let hs = mul(hessian, covariance);
    let sh = mul(covariance, hessian);
    let circulation = [
        0.0,
        0.5 * drift_scale * (hs[1] - sh[1]),
        0.5 * drift_scale * (hs[2] - sh[2]),
        0.0,
    ];
    let ep_rate = match (invert(diffusion), invert(covariance)) {
        (Some(d_inv), Some(s_inv)) => {
            let m = mul(mul(mul(circulation, d_inv), circulation), s_inv);
            -(m[0] + m[3])
        }
        _ => 0.0,
    };
    let norm = |m: [f64; 4]| m.iter().map(|x| x * x).sum::<f64>().sqrt();
    let commutator = [hs[0] - sh[0], hs[1] - sh[1], hs[2] - sh[2], hs[3] - sh[3]];
    let anticommutator = [hs[0] + sh[0], hs[1] + sh[1], hs[2] + sh[2], hs[3] + sh[3]];
    Ok(Linear {
        minimum,
        hessian,
        diffusion,
        covariance,
        circulation,
        ep_rate: ep_rate.max(0.0),
        ratio: norm(commutator) / norm(anticommutator).max(1e-300),
    })
}

/// The grid shared by the histogram of the walkers and the prediction: the preset's
/// `fp.bounds`, or the linearised cloud's ±5σ box around every minimum.
pub fn plot_grid(experiment: &Experiment, preset: &Preset) -> Grid2d {
    let n = preset.fp.grid.max(8);
    if let Some(bounds) = preset.fp.bounds {
        return Grid2d {
            nx: n,
            ny: n,
            bounds,
        };
    }
    let landscape = experiment.landscape.as_ref();
    let mut centres: Vec<[f64; 2]> = vec![[experiment.start[0], experiment.start[1]]];
    let (mut sx, mut sy) = (0.0_f64, 0.0_f64);
    if let Ok(lin) = linear(experiment) {
        centres.push(lin.minimum);
        sx = lin.covariance[0].sqrt();
        sy = lin.covariance[3].sqrt();
    }
    for hint in landscape.minimum_hints() {
        if hint.len() == 2
            && let Some(m) = newton_minimum(landscape, [hint[0], hint[1]])
        {
            centres.push(m);
        }
    }
    let mut b = [
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    for c in &centres {
        b[0] = b[0].min(c[0]);
        b[1] = b[1].max(c[0]);
        b[2] = b[2].min(c[1]);
        b[3] = b[3].max(c[1]);
    }
    let span = ((b[1] - b[0]).max(b[3] - b[2])).max(1e-12);
    let pad_x = (5.0 * sx).max(0.15 * span).max(1e-9);
    let pad_y = (5.0 * sy).max(0.15 * span).max(1e-9);
    Grid2d {
        nx: n,
        ny: n,
        bounds: [b[0] - pad_x, b[1] + pad_x, b[2] - pad_y, b[3] + pad_y],
    }
}

/// Predict the stationary state of `experiment` on `grid` (heavy: run it off the UI thread).
pub fn predict(experiment: &Experiment, grid: Grid2d) -> Result<Prediction, String> {
    let started = Instant::now();
    let landscape = experiment.landscape.as_ref();
    let loss = cell_losses(landscape, grid);
    let lin = linear(experiment)?;
    let mut minima = vec![lin.minimum];
    for hint in landscape.minimum_hints() {
        if hint.len() == 2
            && let Some(m) = newton_minimum(landscape, [hint[0], hint[1]])
            && !minima
                .iter()
                .any(|k| (k[0] - m[0]).abs() + (k[1] - m[1]).abs() < 1e-6 * (1.0 + m[0].abs()))
        {
            minima.push(m);
        }
    }
    let s_inv = invert(lin.covariance).ok_or("singular stationary covariance")?;
    // v(w) = −C Σ⁻¹ (w − w*)  (THEORY.md section 3).
    let k = mul(lin.circulation, s_inv);
    let mean = lin.minimum;
    let area = grid.cell_area();
    let mut density = vec![0.0; grid.nx * grid.ny];
    let mut current = vec![[0.0; 2]; grid.nx * grid.ny];
    for iy in 0..grid.ny {
        for ix in 0..grid.nx {
            let c = grid.centre(ix, iy);
            let x = [c[0] - mean[0], c[1] - mean[1]];
            let q = x[0] * (s_inv[0] * x[0] + s_inv[1] * x[1])
                + x[1] * (s_inv[2] * x[0] + s_inv[3] * x[1]);
            density[iy * grid.nx + ix] = (-0.5 * q).exp();
        }
    }
    let total: f64 = density.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return Err("the predicted cloud lies outside the grid".into());
    }
    for (i, p) in density.iter_mut().enumerate() {
        *p /= total;
        let (ix, iy) = (i % grid.nx, i / grid.nx);
        let c = grid.centre(ix, iy);
        let x = [c[0] - mean[0], c[1] - mean[1]];
        let v = [-(k[0] * x[0] + k[1] * x[1]), -(k[2] * x[0] + k[3] * x[1])];
        let per_area = *p / area;
        current[i] = [v[0] * per_area, v[1] * per_area];
    }
    let _ = lin.hessian;
    Ok(Prediction {
        grid,
        density,
        current,
        loss,
        minimum: lin.minimum,
        minima,
        mean,
        covariance: lin.covariance,
        diffusion: lin.diffusion,
        circulation: lin.circulation,
        ep_rate: lin.ep_rate,
        nonequilibrium_ratio: lin.ratio,
        time_unit: experiment.dynamics.time_unit(),
        solve_seconds: started.elapsed().as_secs_f64(),
        method: "linearised (Gaussian) theory; the Fokker–Planck solver is not merged yet".into(),
    })
}

/// `L` at every cell centre, for the landscape view.
pub fn cell_losses(landscape: &dyn Landscape, grid: Grid2d) -> Vec<f64> {
    use rayon::prelude::*;
    (0..grid.nx * grid.ny)
        .into_par_iter()
        .map(|i| landscape.loss(&grid.centre(i % grid.nx, i / grid.nx)))
        .collect()
}

/// Total variation distance `½ Σ |p − q|` between two distributions on the same grid.
pub fn total_variation(p: &[f64], q: &[f64]) -> f64 {
    0.5 * p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>()
}

/// KL divergence `KL(N(m0, S0) ‖ N(m1, S1))` of two 2-D Gaussians (THEORY.md section 7).
pub fn gaussian_kl(m0: [f64; 2], s0: [f64; 4], m1: [f64; 2], s1: [f64; 4]) -> Option<f64> {
    let s1_inv = invert(s1)?;
    let det0 = s0[0] * s0[3] - s0[1] * s0[2];
    let det1 = s1[0] * s1[3] - s1[1] * s1[2];
    if !(det0 > 0.0 && det1 > 0.0) {
        return None;
    }
    let t = mul(s1_inv, s0);
    let d = [m1[0] - m0[0], m1[1] - m0[1]];
    let q =
        d[0] * (s1_inv[0] * d[0] + s1_inv[1] * d[1]) + d[1] * (s1_inv[2] * d[0] + s1_inv[3] * d[1]);
    Some(0.5 * (t[0] + t[3] + q - 2.0 + (det1 / det0).ln()))
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
            self.grid.cell_of([before[0], before[1]]),
            self.grid.cell_of(mid),
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
        let s_inv = invert(p.covariance)?;
        Some(Self {
            mean: p.mean,
            k: mul(p.circulation, s_inv),
            diffusion_inverse: invert(p.diffusion)?,
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

    #[test]
    fn lyapunov_solves_the_equation() {
        let h = [2.0, 0.5, 0.5, 1.0];
        let r = [1.0, 0.3, 0.3, 2.0];
        let s = lyapunov(h, r).expect("regular");
        let hs = mul(h, s);
        let sh = mul(s, h);
        for i in 0..4 {
            assert!((hs[i] + sh[i] - r[i]).abs() < 1e-12);
        }
    }

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

    #[test]
    fn kl_of_identical_gaussians_is_zero() {
        let s = [1.0, 0.2, 0.2, 0.5];
        let kl = gaussian_kl([0.1, 0.2], s, [0.1, 0.2], s).expect("regular");
        assert!(kl.abs() < 1e-12);
        let shifted = gaussian_kl(
            [0.0, 0.0],
            [1.0, 0.0, 0.0, 1.0],
            [1.0, 0.0],
            [1.0, 0.0, 0.0, 1.0],
        )
        .expect("regular");
        assert!((shifted - 0.5).abs() < 1e-12);
    }
}
