//! Gaussian summaries of a simulation: the diffusion matrix sampled at a point from one-unit
//! displacements (docs/theory.md §7.4), and the KL divergence between Gaussian fits (§7.1).

use crate::dynamics::{Dynamics, Ensemble, Observer};
use crate::landscape::Landscape;

use super::add_into;

/// Sums of one-unit displacements, for the sampled diffusion matrix.
#[derive(Clone, Debug)]
struct Displacements {
    dim: usize,
    count: u64,
    sum: Vec<f64>,
    outer: Vec<f64>,
}

impl Observer for Displacements {
    fn fork(&self) -> Self {
        Self {
            dim: self.dim,
            count: 0,
            sum: vec![0.0; self.dim],
            outer: vec![0.0; self.dim * self.dim],
        }
    }

    fn observe(&mut self, _: usize, _: u64, before: &[f64], after: &[f64]) {
        let d = self.dim;
        self.count += 1;
        for a in 0..d {
            let da = after[a] - before[a];
            self.sum[a] += da;
            for b in 0..d {
                self.outer[a * d + b] += da * (after[b] - before[b]);
            }
        }
    }

    fn merge(&mut self, other: Self) {
        self.count += other.count;
        add_into(&mut self.sum, &other.sum);
        add_into(&mut self.outer, &other.outer);
    }
}

/// The diffusion matrix at `point` sampled from simulation (docs/theory.md §7.4): half the
/// covariance of `samples` independent one-unit displacements (a step with replacement, an
/// epoch without) from `point`, row-major. With replacement it must match
/// `D(w) = (η²/2) c_B S(w) + η T I` exactly; without, `D_WOR + η M T I` up to `O(η)`
/// relative corrections.
pub fn sampled_diffusion(
    landscape: &dyn Landscape,
    dynamics: Dynamics,
    point: &[f64],
    samples: usize,
    seed: u64,
) -> Vec<f64> {
    let d = landscape.dim();
    let mut ensemble = Ensemble::new(landscape, dynamics, samples, point, seed);
    let mut displacements = Displacements {
        dim: d,
        count: 0,
        sum: vec![0.0; d],
        outer: vec![0.0; d * d],
    };
    ensemble.advance(landscape, 1, &mut displacements);
    let n = displacements.count.max(1) as f64;
    let mut out = vec![0.0; d * d];
    for a in 0..d {
        for b in 0..d {
            let cov = displacements.outer[a * d + b] / n
                - displacements.sum[a] / n * displacements.sum[b] / n;
            out[a * d + b] = 0.5 * cov * n / (n - 1.0).max(1.0);
        }
    }
    out
}

/// `KL(N(m0, s0) ‖ N(m1, s1))` in nats, covariances row-major `d × d`:
/// `½ [tr(s1⁻¹ s0) + (m1 − m0)ᵀ s1⁻¹ (m1 − m0) − d + ln det s1 − ln det s0]`.
/// `None` unless both covariances are positive definite.
pub fn gaussian_kl(m0: &[f64], s0: &[f64], m1: &[f64], s1: &[f64]) -> Option<f64> {
    use nalgebra::{DMatrix, DVector};
    let d = m0.len();
    if m1.len() != d || s0.len() != d * d || s1.len() != d * d {
        return None;
    }
    let c0 = DMatrix::from_row_slice(d, d, s0).cholesky()?;
    let c1 = DMatrix::from_row_slice(d, d, s1).cholesky()?;
    let log_det = |c: &nalgebra::Cholesky<f64, nalgebra::Dyn>| {
        2.0 * c.l_dirty().diagonal().iter().map(|x| x.ln()).sum::<f64>()
    };
    let trace = c1.solve(&DMatrix::from_row_slice(d, d, s0)).trace();
    let delta = DVector::from_iterator(d, m1.iter().zip(m0).map(|(a, b)| a - b));
    let quadratic = delta.dot(&c1.solve(&delta));
    Some(0.5 * (trace + quadratic - d as f64 + log_det(&c1) - log_det(&c0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_of_known_gaussians() {
        // 1-D: KL = ln(s1/s0) + (s0² + (m0−m1)²)/(2 s1²) − ½.
        let kl = gaussian_kl(&[0.0], &[1.0], &[1.0], &[4.0]).expect("PD");
        let expected = 2.0_f64.ln() + (1.0 + 1.0) / 8.0 - 0.5;
        assert!((kl - expected).abs() < 1e-12);
        // Zero for identical Gaussians, positive otherwise, not symmetric.
        let s = [2.0, 0.3, 0.3, 1.0];
        let t = [1.0, -0.2, -0.2, 3.0];
        assert!(
            gaussian_kl(&[1.0, 2.0], &s, &[1.0, 2.0], &s)
                .expect("PD")
                .abs()
                < 1e-12
        );
        let forward = gaussian_kl(&[0.0, 0.0], &s, &[0.5, 0.0], &t).expect("PD");
        let backward = gaussian_kl(&[0.5, 0.0], &t, &[0.0, 0.0], &s).expect("PD");
        assert!(forward > 0.0 && backward > 0.0 && (forward - backward).abs() > 1e-3);
        assert!(gaussian_kl(&[0.0], &[0.0], &[0.0], &[1.0]).is_none());
    }
}
