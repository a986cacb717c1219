//! The effective landscape `L_eff` of one WOR schedule, its gradient, Hessian and minimum
//! (docs/theory.md section 4).
//!
//! With `c₁ = N/(N−1)`, `c₂ = 1/(N(N−1))` and the shift `s = η(M − 1)/2`,
//!
//! ```text
//! ∇L_eff = ḡ − s K,             K = c₁ H̄ ḡ − c₂ Σ_a h_a g_a,
//! H_eff = H̄ − s ∇K,             ∇K = c₁ (D_ḡ H̄ + H̄²) − c₂ Σ_a (D_{g_a} h_a + h_a²),
//! ```
//!
//! where `D_v h` is the derivative of a Hessian along `v` (third derivatives, symmetric in
//! its two free indices). Each `D_v` is a central difference along the single direction `v`,
//! so `H_eff` costs a handful of Hessian evaluations per example whatever the dimension.

use nalgebra::{DMatrix, DVector};

use super::PerExample;
use crate::dynamics::Dynamics;
use crate::landscape::Landscape;
use crate::theory::TheoryError;

/// The effective landscape of one WOR schedule: learning rate `η` and `M` batches per epoch.
#[derive(Clone, Copy)]
pub struct EffectiveLandscape<'a> {
    /// The landscape `L`.
    pub landscape: &'a dyn Landscape,
    /// The learning rate `η`.
    pub eta: f64,
    /// `M = ⌊N/B⌋`.
    pub batches_per_epoch: usize,
}

/// Iterations of the minimum search before giving up.
const MAX_ITERATIONS: usize = 200;

/// Consecutive growing steps after which the minimum search counts as diverging.
const GROWING_STEPS: usize = 6;

impl<'a> EffectiveLandscape<'a> {
    /// The effective landscape of `dynamics` (which should be without replacement).
    pub fn new(landscape: &'a dyn Landscape, dynamics: &Dynamics) -> Self {
        Self {
            landscape,
            eta: dynamics.eta,
            batches_per_epoch: dynamics.batches_per_epoch(),
        }
    }

    /// `η (M − 1) / 2`, the prefactor of the gradient correction.
    fn shift(&self) -> f64 {
        self.eta * (self.batches_per_epoch as f64 - 1.0).max(0.0) / 2.0
    }

    /// `L_eff(w)`.
    pub fn loss(&self, w: &[f64]) -> f64 {
        let l = self.landscape;
        let d = l.dim();
        let n = l.n_examples() as f64;
        let mut g = vec![0.0; d];
        l.gradient(w, &mut g);
        let mean_square: f64 = g.iter().map(|x| x * x).sum();
        let mut example_square = 0.0;
        let mut gi = vec![0.0; d];
        for i in 0..l.n_examples() {
            gi.fill(0.0);
            l.add_example_gradient(i, w, 1.0, &mut gi);
            example_square += gi.iter().map(|x| x * x).sum::<f64>();
        }
        l.loss(w)
            - self.shift() / 2.0 * (n / (n - 1.0) * mean_square - example_square / (n * (n - 1.0)))
    }

    /// `∇L_eff(w)` and `H̄(w)` (row-major), from per-example gradients and Hessians.
    pub fn gradient_and_mean_hessian(&self, w: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let per_example = PerExample::at(self.landscape, w);
        let (g, h, pair) = per_example.means();
        let shift = self.shift();
        let gradient = g.iter().zip(&pair).map(|(g, k)| g - shift * k).collect();
        (gradient, h)
    }

    /// `∇L_eff(w)`.
    pub fn gradient(&self, w: &[f64]) -> Vec<f64> {
        self.gradient_and_mean_hessian(w).0
    }

    /// `H_eff = ∇∇L_eff(w)` (see the module documentation), symmetrised.
    pub fn hessian(&self, w: &[f64]) -> Vec<f64> {
        let l = self.landscape;
        let d = l.dim();
        let n = l.n_examples();
        let per_example = PerExample::at(l, w);
        let (g, h, _) = per_example.means();
        let shift = self.shift();
        if shift == 0.0 || n < 2 {
            return h;
        }
        let nf = n as f64;
        let (c1, c2) = (nf / (nf - 1.0), 1.0 / (nf * (nf - 1.0)));
        let size = 1e-5 * (1.0 + w.iter().map(|x| x * x).sum::<f64>().sqrt());
        // c₁ D_ḡ H̄ by central differences along ḡ.
        let mut jacobian = vec![0.0; d * d];
        directional(&g, size, w, |point, scale| {
            for a in 0..n {
                l.add_example_hessian(a, point, c1 * scale / nf, &mut jacobian);
            }
        });
        // − c₂ Σ_a D_{g_a} h_a.
        for a in 0..n {
            directional(per_example.gradient(a), size, w, |point, scale| {
                l.add_example_hessian(a, point, -c2 * scale, &mut jacobian)
            });
        }
        // c₁ H̄² − c₂ Σ_a h_a².
        let square = |m: &[f64], factor: f64, out: &mut [f64]| {
            for i in 0..d {
                for j in 0..d {
                    out[i * d + j] +=
                        factor * (0..d).map(|k| m[i * d + k] * m[k * d + j]).sum::<f64>();
                }
            }
        };
        square(&h, c1, &mut jacobian);
        for a in 0..n {
            square(per_example.hessian(a), -c2, &mut jacobian);
        }
        let mut out = h;
        for i in 0..d {
            for j in 0..d {
                out[i * d + j] -= shift * 0.5 * (jacobian[i * d + j] + jacobian[j * d + i]);
            }
        }
        out
    }

    /// The minimum `w_eff` of `L_eff` near `start` (usually the minimum of `L`): Broyden's
    /// quasi-Newton iteration on `∇L_eff = 0`, started with `H_eff` at `start` without its
    /// third-derivative terms, `H̄ − s (c₁ H̄² − c₂ Σ_a h_a²)` (exact on quadratic landscapes,
    /// where the iteration then converges in one step), until the step is at round-off. Fails when `H̄`
    /// is not positive definite at the start, when the steps keep growing (the expansion
    /// in `η` has broken down), or after 200 iterations.
    pub fn minimum(&self, start: &[f64]) -> Result<Vec<f64>, TheoryError> {
        let d = self.landscape.dim();
        let fail = |reason: String| TheoryError::NoEffectiveMinimum { reason };
        let mut w = start.to_vec();
        let per_example = PerExample::at(self.landscape, &w);
        let (g, hessian, pair) = per_example.means();
        let shift = self.shift();
        let mut gradient: Vec<f64> = g.iter().zip(&pair).map(|(g, k)| g - shift * k).collect();
        let mean_hessian = DMatrix::from_row_slice(d, d, &hessian);
        if mean_hessian.clone().cholesky().is_none() {
            return Err(fail(format!(
                "the Hessian of L is not positive definite at {w:?}"
            )));
        }
        let mut jacobian = initial_jacobian(&per_example, &mean_hessian, shift);
        let mut last_step = f64::INFINITY;
        let mut growing = 0;
        for _ in 0..MAX_ITERATIONS {
            let step = jacobian
                .clone()
                .lu()
                .solve(&DVector::from_column_slice(&gradient))
                .ok_or_else(|| fail("the quasi-Newton Jacobian became singular".into()))?;
            let size = step.norm();
            if !size.is_finite() {
                return Err(fail("the iteration produced non-finite values".into()));
            }
            for a in 0..d {
                w[a] -= step[a];
            }
            let scale = 1.0 + w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if size <= 1e-14 * scale || (size <= 1e-11 * scale && size >= 0.5 * last_step) {
                return Ok(w);
            }
            growing = if size > last_step { growing + 1 } else { 0 };
            if growing >= GROWING_STEPS {
                return Err(fail(format!(
                    "the iteration diverges (step {size:.3e} after {GROWING_STEPS} growing steps)"
                )));
            }
            last_step = size;
            let next = self.gradient(&w);
            // Broyden's update: J ← J + (y − J s) sᵀ / (sᵀ s), s = −step, y = Δ∇L_eff.
            let y = DVector::from_iterator(d, next.iter().zip(&gradient).map(|(a, b)| a - b));
            let s = -step;
            let residual = &y - &jacobian * &s;
            jacobian += residual * s.transpose() / s.norm_squared();
            gradient = next;
        }
        Err(fail(format!(
            "no convergence in {MAX_ITERATIONS} iterations (last step {last_step:.3e})"
        )))
    }
}

/// `H̄ − s (c₁ H̄² − c₂ Σ_a h_a²)`: `H_eff` without the third derivatives of the `l_a`.
fn initial_jacobian(
    per_example: &PerExample,
    mean_hessian: &DMatrix<f64>,
    shift: f64,
) -> DMatrix<f64> {
    let (d, n) = (per_example.dim, per_example.n());
    if n < 2 || shift == 0.0 {
        return mean_hessian.clone();
    }
    let nf = n as f64;
    let (c1, c2) = (nf / (nf - 1.0), 1.0 / (nf * (nf - 1.0)));
    let mut squares = DMatrix::zeros(d, d);
    for a in 0..n {
        let h = DMatrix::from_row_slice(d, d, per_example.hessian(a));
        squares += &h * &h;
    }
    mean_hessian - (mean_hessian * mean_hessian * c1 - squares * c2) * shift
}

/// `(f(w + ε v) − f(w − ε v)) / (2ε)` accumulated through `add(point, ±1/(2ε))`, with the
/// displacement `ε |v| = size`; nothing when `v = 0`.
fn directional(v: &[f64], size: f64, w: &[f64], mut add: impl FnMut(&[f64], f64)) {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return;
    }
    let epsilon = size / norm;
    let plus: Vec<f64> = w.iter().zip(v).map(|(w, v)| w + epsilon * v).collect();
    let minus: Vec<f64> = w.iter().zip(v).map(|(w, v)| w - epsilon * v).collect();
    add(&plus, 0.5 / epsilon);
    add(&minus, -0.5 / epsilon);
}
