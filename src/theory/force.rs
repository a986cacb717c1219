//! The thermodynamic force of a 2-D Fokker–Planck stationary state, for entropy production
//! on landscapes where the linearised theory does not hold (docs/theory.md §3.2 and §8.3).
//!
//! The linearised theory writes the entropy produced by a step as
//! `σ_n = v(w̃_n)ᵀ D⁻¹ (w_{n+1} − w_n)` with `v(w) = −C Σ⁻¹ (w − w*)`. The same formula holds
//! for any stationary diffusion once `v` is the mean local velocity `J/p` of the stationary
//! state and `D` is taken where the step happens: `σ_n = F(w̃_n) · Δw` with the force
//! `F(w) = D(w)⁻¹ J(w)/p(w)`, evaluated at the midpoint (Stratonovich). Its stationary mean is
//! `⟨σ⟩ = ∫ Jᵀ D⁻¹ J / p dw`, zero iff `J = 0`, and `Σ` over any number of steps obeys the
//! integral and detailed fluctuation theorems, as in the linear case. For a quadratic
//! landscape with constant `D` it reduces to the linear `σ_n` (a test checks it).
//!
//! [`GridForce`] holds `F` at the cell centres of a solution of [`super::fokker_planck`] and
//! interpolates it bilinearly; on a double well it gives each well its own current, which a
//! linearisation about one minimum cannot.

use super::fokker_planck::{FpSolution, Grid2d};
use super::linear::DriftDiffusion;

/// Cells whose mass is below this fraction of the largest carry no force: `J/p` there is
/// round-off over round-off, and walkers essentially never visit.
const MASS_FLOOR: f64 = 1e-12;

/// The force `F = D⁻¹ J/p` of a Fokker–Planck solution at its cell centres.
#[derive(Clone, Debug)]
pub struct GridForce {
    grid: Grid2d,
    /// `F` at cell centres, row-major `iy · nx + ix`.
    force: Vec<[f64; 2]>,
    /// Predicted mean entropy production per time unit, `Σ_cells m Fᵀ v` (`m` the cell mass).
    rate: f64,
}

impl GridForce {
    /// The force of `solution`, with `D(w)` from `fields` at each cell centre. `None` when
    /// `D` is singular on a visited cell.
    pub fn new(solution: &FpSolution, fields: &DriftDiffusion) -> Option<Self> {
        let grid = solution.grid;
        let area = grid.cell_area();
        let largest = solution.density.iter().copied().fold(0.0, f64::max);
        let mut force = vec![[0.0; 2]; grid.cells()];
        let mut rate = 0.0;
        for (cell, (&mass, j)) in solution.density.iter().zip(&solution.current).enumerate() {
            // NaN masses count as empty cells.
            if mass.is_nan() || mass <= MASS_FLOOR * largest {
                continue;
            }
            let p = mass / area;
            let v = [j[0] / p, j[1] / p];
            let [[d00, d01], [d10, d11]] = fields.diffusion(grid.centre_of(cell));
            let det = d00 * d11 - d01 * d10;
            if det.is_nan() || det <= 0.0 || !det.is_finite() {
                return None;
            }
            let f = [
                (d11 * v[0] - d01 * v[1]) / det,
                (-d10 * v[0] + d00 * v[1]) / det,
            ];
            rate += mass * (f[0] * v[0] + f[1] * v[1]);
            force[cell] = f;
        }
        Some(Self { grid, force, rate })
    }

    /// The grid the force is tabulated on.
    pub fn grid(&self) -> Grid2d {
        self.grid
    }

    /// Predicted stationary entropy production per time unit, `∫ Jᵀ D⁻¹ J / p dw`.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// `F(w)`, bilinear between cell centres; constant within half a cell of the grid's edge,
    /// zero beyond it.
    pub fn force(&self, w: [f64; 2]) -> [f64; 2] {
        let g = &self.grid;
        let b = g.bounds;
        if !(w[0] >= b[0] && w[0] <= b[1] && w[1] >= b[2] && w[1] <= b[3]) {
            return [0.0; 2];
        }
        let [dx, dy] = g.cell_size();
        let axis = |x: f64, low: f64, size: f64, n: usize| -> (usize, usize, f64) {
            let u = ((x - low) / size - 0.5).clamp(0.0, (n - 1) as f64);
            let i = (u.floor() as usize).min(n.saturating_sub(2));
            let t = u - i as f64;
            (i, (i + 1).min(n - 1), t)
        };
        let (x0, x1, tx) = axis(w[0], b[0], dx, g.nx);
        let (y0, y1, ty) = axis(w[1], b[2], dy, g.ny);
        let at = |ix: usize, iy: usize| self.force[g.index(ix, iy)];
        let (f00, f10, f01, f11) = (at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1));
        std::array::from_fn(|a| {
            (1.0 - ty) * ((1.0 - tx) * f00[a] + tx * f10[a])
                + ty * ((1.0 - tx) * f01[a] + tx * f11[a])
        })
    }

    /// Entropy produced by a step from `before` to `after`: `F(w̃) · (after − before)`.
    pub fn sigma(&self, before: [f64; 2], after: [f64; 2]) -> f64 {
        let f = self.force([0.5 * (before[0] + after[0]), 0.5 * (before[1] + after[1])]);
        f[0] * (after[0] - before[0]) + f[1] * (after[1] - before[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::{Ensemble, Observer};
    use crate::preset::{Experiment, FpSpec, Preset, shipped};
    use crate::theory::{TheoryOptions, drift_and_diffusion, fokker_planck, linear_theory};
    use std::path::Path;

    fn shipped_experiment(name: &str) -> (Preset, Experiment) {
        let text = shipped(name).expect("shipped preset");
        let path = Path::new("presets").join(format!("{name}.toml"));
        let preset = Preset::from_toml(text, &path).expect("preset");
        let experiment = preset.build(&path, Some(text)).expect("experiment");
        (preset, experiment)
    }

    /// The Fokker–Planck solution on an `n × n` grid (bounds from `fp`, else automatic) and
    /// its force.
    fn solve(e: &Experiment, n: usize, fp: &FpSpec) -> (GridForce, FpSolution) {
        let linear = linear_theory(e, &TheoryOptions::default()).ok();
        let fp = FpSpec {
            grid: n,
            bounds: fp.bounds,
        };
        let solution = fokker_planck(e, &fp, linear.as_ref()).expect("solve");
        let fields = drift_and_diffusion(e, linear.as_ref()).expect("fields");
        (GridForce::new(&solution, &fields).expect("force"), solution)
    }

    /// On the tilted bowl the grid force reproduces the linear theory: its rate matches
    /// `−tr(C D⁻¹ C Σ⁻¹)`, and `F` matches `D⁻¹ v(w)` with `v = −C Σ⁻¹ (w − w*)` within about
    /// a standard deviation of the minimum. Measured: rate 0.56% apart, force 0.65% of its
    /// largest value; the bounds (2%) leave room for the solver's O(h²) error at 128².
    #[test]
    fn reduces_to_the_linear_force_on_the_bowl() {
        let (preset, e) = shipped_experiment("bowl-current");
        let theory = linear_theory(&e, &TheoryOptions::default()).expect("theory");
        let (force, _) = solve(&e, 128, &preset.fp);
        let relative = (force.rate() - theory.ep_rate).abs() / theory.ep_rate;
        assert!(
            relative < 0.02,
            "grid {} vs linear {}",
            force.rate(),
            theory.ep_rate
        );
        let k = theory.velocity_matrix();
        let dinv = theory.diffusion_inverse().expect("D invertible");
        let sd = [theory.cov[0].sqrt(), theory.cov[3].sqrt()];
        let mut worst: f64 = 0.0;
        let mut scale: f64 = 0.0;
        for (a, b) in [(0.5, 0.0), (0.0, 0.5), (-0.7, 0.3), (0.4, -0.6), (0.9, 0.9)] {
            let x = [a * sd[0], b * sd[1]];
            let w = [theory.mean[0] + x[0], theory.mean[1] + x[1]];
            let v = [k[0] * x[0] + k[1] * x[1], k[2] * x[0] + k[3] * x[1]];
            let f = [
                dinv[0] * v[0] + dinv[1] * v[1],
                dinv[2] * v[0] + dinv[3] * v[1],
            ];
            let g = force.force(w);
            worst = worst.max((g[0] - f[0]).hypot(g[1] - f[1]));
            scale = scale.max(f[0].hypot(f[1]));
        }
        assert!(
            worst < 0.02 * scale,
            "force mismatch {worst:e} of {scale:e}"
        );
    }

    #[test]
    fn force_vanishes_outside_the_grid_and_interpolates_inside() {
        let (preset, e) = shipped_experiment("bowl-current");
        let (force, solution) = solve(&e, 32, &preset.fp);
        let b = solution.grid.bounds;
        assert_eq!(force.force([b[1] + 1.0, 0.0]), [0.0; 2]);
        assert_eq!(force.force([0.0, b[2] - 1.0]), [0.0; 2]);
        // At a cell centre the interpolation returns the tabulated value.
        let (ix, iy) = (13, 17);
        let centre = solution.grid.centre(ix, iy);
        let tabulated = force.force[solution.grid.index(ix, iy)];
        let f = force.force(centre);
        assert!((f[0] - tabulated[0]).abs() <= 1e-12 * tabulated[0].abs().max(1e-300));
        assert!((f[1] - tabulated[1]).abs() <= 1e-12 * tabulated[1].abs().max(1e-300));
        // Halfway between two centres: the mean of the two.
        let next = force.force[solution.grid.index(ix + 1, iy)];
        let half = solution.grid.centre(ix + 1, iy);
        let f = force.force([0.5 * (centre[0] + half[0]), centre[1]]);
        let expected = 0.5 * (tabulated[0] + next[0]);
        assert!((f[0] - expected).abs() <= 1e-9 * expected.abs().max(1e-300));
    }

    /// Entropy production accumulated by walkers, with the grid force.
    #[derive(Clone)]
    struct Production<'a> {
        force: &'a GridForce,
        burn_in: u64,
        k: u64,
        partial: f64,
        filled: u64,
        sum: f64,
        steps: u64,
        exp_sum: f64,
        windows: u64,
        positive: Vec<u64>,
        negative: Vec<u64>,
        bin: f64,
    }

    impl Observer for Production<'_> {
        fn fork(&self) -> Self {
            Self {
                sum: 0.0,
                steps: 0,
                exp_sum: 0.0,
                windows: 0,
                positive: vec![0; self.positive.len()],
                negative: vec![0; self.negative.len()],
                ..self.clone()
            }
        }
        fn begin_walker(&mut self, _walker: usize) {
            self.partial = 0.0;
            self.filled = 0;
        }
        fn observe(&mut self, _walker: usize, unit: u64, before: &[f64], after: &[f64]) {
            if unit < self.burn_in {
                return;
            }
            let s = self
                .force
                .sigma([before[0], before[1]], [after[0], after[1]]);
            self.sum += s;
            self.steps += 1;
            self.partial += s;
            self.filled += 1;
            if self.filled == self.k {
                self.exp_sum += (-self.partial).exp();
                self.windows += 1;
                let j = (self.partial.abs() / self.bin) as usize;
                let side = if self.partial > 0.0 {
                    &mut self.positive
                } else {
                    &mut self.negative
                };
                if let Some(count) = side.get_mut(j) {
                    *count += 1;
                }
                self.partial = 0.0;
                self.filled = 0;
            }
        }
        fn merge(&mut self, other: Self) {
            self.sum += other.sum;
            self.steps += other.steps;
            self.exp_sum += other.exp_sum;
            self.windows += other.windows;
            for (a, b) in self.positive.iter_mut().zip(&other.positive) {
                *a += b;
            }
            for (a, b) in self.negative.iter_mut().zip(&other.negative) {
                *a += b;
            }
        }
    }

    /// The shipped double well, where walkers live in two wells with opposite currents: the
    /// simulated entropy production matches the grid prediction, and `Σ` over 5 steps obeys
    /// both fluctuation theorems. 16 groups of 256 walkers record 10⁴ steps each after the
    /// preset's burn-in; standard errors come from the spread of the groups, and each check
    /// allows 5 of them. The Fokker–Planck equation is SGD's continuum limit: at this
    /// preset's η the discrete steps lower the rate by several per cent (measured −7.3% ±
    /// 1.7%), so the rate also gets 10% and the IFT 0.002 (measured 1.00008 ± 0.00002; DFT
    /// slope 1.036 ± 0.019).
    #[test]
    fn double_well_simulation_obeys_the_grid_predictions() {
        let (preset, e) = shipped_experiment("double-well");
        let (force, _) = solve(&e, preset.fp.grid, &preset.fp);
        let rate = force.rate();
        assert!(rate > 0.0, "the double well is out of equilibrium: {rate}");
        let k = 5u64;
        let bin = 0.25 * (2.0 * rate * k as f64).sqrt();
        let groups = 16;
        let mut results = Vec::new();
        for group in 0..groups {
            let mut observer = Production {
                force: &force,
                burn_in: 10_000,
                k,
                partial: 0.0,
                filled: 0,
                sum: 0.0,
                steps: 0,
                exp_sum: 0.0,
                windows: 0,
                positive: vec![0; 16],
                negative: vec![0; 16],
                bin,
            };
            let landscape = e.landscape.as_ref();
            let mut ensemble = Ensemble::new(
                landscape,
                e.dynamics,
                256,
                &e.start,
                preset.dynamics.seed + group,
            );
            ensemble.advance(landscape, 10_000 + 10_000, &mut observer);
            results.push(observer);
        }
        let mean_and_error = |values: Vec<f64>| {
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
            (mean, (var / n).sqrt())
        };
        let (simulated, error) =
            mean_and_error(results.iter().map(|r| r.sum / r.steps as f64).collect());
        assert!(
            (simulated - rate).abs() < 5.0 * error + 0.1 * rate,
            "rate: simulated {simulated:e} ± {error:e}, predicted {rate:e}"
        );
        let (ift, ift_error) = mean_and_error(
            results
                .iter()
                .map(|r| r.exp_sum / r.windows as f64)
                .collect(),
        );
        assert!(
            (ift - 1.0).abs() < 5.0 * ift_error + 0.002,
            "IFT {ift} ± {ift_error}"
        );
        // DFT: ln(n₊/n₋) per bin against the bin centre, weighted least squares through 0.
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for j in 0..16 {
            let p: u64 = results.iter().map(|r| r.positive[j]).sum();
            let m: u64 = results.iter().map(|r| r.negative[j]).sum();
            if p < 50 || m < 50 {
                continue;
            }
            let centre = (j as f64 + 0.5) * bin;
            let weight = 1.0 / (1.0 / p as f64 + 1.0 / m as f64);
            sxy += weight * centre * (p as f64 / m as f64).ln();
            sxx += weight * centre * centre;
        }
        assert!(sxx > 0.0, "no populated bins");
        let (slope, slope_error) = (sxy / sxx, (1.0 / sxx).sqrt());
        assert!(
            (slope - 1.0).abs() < 5.0 * slope_error,
            "DFT slope {slope} ± {slope_error}"
        );
    }
}
