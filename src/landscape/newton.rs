//! Newton's method for the minimum of a landscape (docs/theory.md sections 3, 6).
//!
//! Damped Newton with a backtracking line search. Where the Hessian is not positive
//! definite the step uses `|λ|` of each eigenvalue (a saddle-free Newton step) floored at a
//! small fraction of the largest, so the iteration always descends. Convergence means a
//! gradient norm below `1e-10 · (1 + |H|)` and a positive-definite Hessian.

use nalgebra::{DMatrix, DVector};

use super::Landscape;

/// A point reached by Newton's method: the minimum when [`newton`] returns it, the best
/// point found when it comes inside a [`NewtonError`].
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    /// The minimiser.
    pub w: Vec<f64>,
    /// The objective there.
    pub loss: f64,
    /// `|∇|` there.
    pub gradient_norm: f64,
    /// Newton steps taken to get there (0 when the start point already was the minimum).
    pub iterations: usize,
}

/// Newton's method did not reach a minimum; carries the best point found.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("Newton's method did not converge to a minimum after {} iterations ({reason}); best point {:?} with gradient norm {:.3e}", best.iterations, best.w, best.gradient_norm)]
pub struct NewtonError {
    /// Why the iteration stopped: a non-finite start, gradient or Hessian, a line search
    /// without descent away from a minimum, or the iteration limit (200).
    pub reason: String,
    /// The last point reached, with its loss and gradient norm.
    pub best: Minimum,
}

const MAX_ITERATIONS: usize = 200;

/// The minimum of `L` nearest (downhill) from `start`.
pub fn newton_minimum(landscape: &dyn Landscape, start: &[f64]) -> Result<Minimum, NewtonError> {
    newton(
        landscape.dim(),
        start,
        |w| landscape.loss(w),
        |w, out| landscape.gradient(w, out),
        |w, out| landscape.hessian(w, out),
    )
}

/// Newton's method on any smooth objective of `dim` variables; `gradient` and `hessian`
/// write into their output slices (Hessian row-major).
pub fn newton(
    dim: usize,
    start: &[f64],
    loss: impl Fn(&[f64]) -> f64,
    gradient: impl Fn(&[f64], &mut [f64]),
    hessian: impl Fn(&[f64], &mut [f64]),
) -> Result<Minimum, NewtonError> {
    let mut w = start.to_vec();
    let mut g = vec![0.0; dim];
    let mut h = vec![0.0; dim * dim];
    let mut value = loss(&w);
    let fail = |reason: String, w: &[f64], value: f64, g: &[f64], iterations: usize| NewtonError {
        reason,
        best: Minimum {
            w: w.to_vec(),
            loss: value,
            gradient_norm: norm(g),
            iterations,
        },
    };
    if !value.is_finite() || w.iter().any(|x| !x.is_finite()) {
        gradient(&w, &mut g);
        return Err(fail(
            "the start point is not finite".into(),
            &w,
            value,
            &g,
            0,
        ));
    }
    let mut trial = vec![0.0; dim];
    for iteration in 0..MAX_ITERATIONS {
        gradient(&w, &mut g);
        hessian(&w, &mut h);
        let SaddleFreeStep {
            largest,
            smallest,
            step,
        } = saddle_free_step(dim, &g, &h);
        let gradient_norm = norm(&g);
        if !gradient_norm.is_finite() || !largest.is_finite() {
            return Err(fail(
                "non-finite gradient or Hessian".into(),
                &w,
                value,
                &g,
                iteration,
            ));
        }
        if gradient_norm <= 1e-10 * (1.0 + largest) && smallest > 0.0 {
            return Ok(Minimum {
                w,
                loss: value,
                gradient_norm,
                iterations: iteration,
            });
        }
        if let Some(trial_value) = backtrack(&w, &step, value, &loss, &mut trial) {
            value = trial_value;
            std::mem::swap(&mut w, &mut trial);
            continue;
        }
        // No descent left in floating point: converged if the Hessian says minimum.
        if smallest > 0.0 && gradient_norm <= 1e-6 * (1.0 + largest) {
            return Ok(Minimum {
                w,
                loss: value,
                gradient_norm,
                iterations: iteration,
            });
        }
        return Err(fail(
            "the line search found no descent".into(),
            &w,
            value,
            &g,
            iteration,
        ));
    }
    gradient(&w, &mut g);
    Err(fail(
        format!("no convergence in {MAX_ITERATIONS} iterations"),
        &w,
        value,
        &g,
        MAX_ITERATIONS,
    ))
}

/// The spectrum of the symmetrised Hessian and the Newton step it gives.
struct SaddleFreeStep {
    /// The largest `|λ_k|`.
    largest: f64,
    /// The smallest `λ_k` (signed: negative at a saddle).
    smallest: f64,
    /// `−Σ_k (v_kᵀ g / max(|λ_k|, floor)) v_k`, with `floor = 10⁻¹⁰ · largest`: Newton's step
    /// where the Hessian is positive definite, a descent direction everywhere else.
    step: Vec<f64>,
}

/// The saddle-free Newton step from gradient `g` and row-major Hessian `h`.
fn saddle_free_step(dim: usize, g: &[f64], h: &[f64]) -> SaddleFreeStep {
    let hm = DMatrix::from_row_slice(dim, dim, h);
    let eigen = ((&hm + hm.transpose()) * 0.5).symmetric_eigen();
    let largest = eigen
        .eigenvalues
        .iter()
        .fold(0.0_f64, |m, l| m.max(l.abs()));
    let smallest = eigen
        .eigenvalues
        .iter()
        .fold(f64::INFINITY, |m, l| m.min(*l));
    let floor = (largest * 1e-10).max(1e-300);
    let coefficients = eigen.eigenvectors.transpose() * DVector::from_column_slice(g);
    let mut step = DVector::zeros(dim);
    for k in 0..dim {
        let lambda = eigen.eigenvalues[k].abs().max(floor);
        step -= eigen.eigenvectors.column(k) * (coefficients[k] / lambda);
    }
    SaddleFreeStep {
        largest,
        smallest,
        step: step.as_slice().to_vec(),
    }
}

/// Backtracking line search: the first of `w + 2⁻ʲ step`, `j = 0, 1, …, 59`, whose loss is
/// finite and not above `value` (up to `10⁻¹²` relative). The point is left in `trial` and
/// its loss returned; `None` when no fraction of the step descends.
fn backtrack(
    w: &[f64],
    step: &[f64],
    value: f64,
    loss: &impl Fn(&[f64]) -> f64,
    trial: &mut [f64],
) -> Option<f64> {
    let mut scale = 1.0;
    for _ in 0..60 {
        for ((t, x), s) in trial.iter_mut().zip(w).zip(step) {
            *t = x + scale * s;
        }
        let trial_value = loss(trial);
        if trial_value.is_finite() && trial_value <= value + 1e-12 * value.abs().max(1.0) {
            return Some(trial_value);
        }
        scale *= 0.5;
    }
    None
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::{Bowl, BowlSpec};

    #[test]
    fn bowl_minimum_is_the_data_mean() {
        let bowl = Bowl::new(&BowlSpec::default()).expect("valid");
        let minimum = newton_minimum(&bowl, &[3.0, -2.0]).expect("converges");
        let mean = bowl.start();
        assert!((minimum.w[0] - mean[0]).abs() < 1e-12 && (minimum.w[1] - mean[1]).abs() < 1e-12);
    }

    #[test]
    fn rosenbrock_from_a_saddle_region() {
        let loss = |w: &[f64]| (1.0 - w[0]).powi(2) + 100.0 * (w[1] - w[0] * w[0]).powi(2);
        let gradient = |w: &[f64], out: &mut [f64]| {
            out[0] = -2.0 * (1.0 - w[0]) - 400.0 * w[0] * (w[1] - w[0] * w[0]);
            out[1] = 200.0 * (w[1] - w[0] * w[0]);
        };
        let hessian = |w: &[f64], out: &mut [f64]| {
            out[0] = 2.0 - 400.0 * (w[1] - 3.0 * w[0] * w[0]);
            out[1] = -400.0 * w[0];
            out[2] = -400.0 * w[0];
            out[3] = 200.0;
        };
        let minimum = newton(2, &[-1.2, 1.0], loss, gradient, hessian).expect("converges");
        assert!(
            (minimum.w[0] - 1.0).abs() < 1e-8 && (minimum.w[1] - 1.0).abs() < 1e-8,
            "{minimum:?}"
        );
    }

    #[test]
    fn unbounded_objective_reports_the_best_point() {
        let loss = |w: &[f64]| -w[0];
        let gradient = |_: &[f64], out: &mut [f64]| out[0] = -1.0;
        let hessian = |_: &[f64], out: &mut [f64]| out[0] = 0.0;
        let error = newton(1, &[0.0], loss, gradient, hessian).expect_err("no minimum");
        assert!(error.best.w.iter().all(|x| x.is_finite()), "{error:?}");
        assert!(error.to_string().contains("did not converge"), "{error}");
    }
}
