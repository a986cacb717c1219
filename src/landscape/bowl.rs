//! The anisotropic bowl: `l_i(w) = ½ (w − x_i)ᵀ A (w − x_i)`, `A = diag(hessian)`.
//!
//! The data `x_i` are drawn from a centred Gaussian with covariance
//! `R(angle) diag(noise) R(angle)ᵀ` and then standardised exactly: the standard normal draws
//! are centred and whitened (their sample mean is 0 and their sample covariance `I`) before
//! they are scaled and rotated, so the sample mean of the data is exactly 0 and their sample
//! covariance exactly `R diag(noise) Rᵀ`. Every example has the same Hessian `A`, so
//! `H̄ = A`, the minimum of `L` is the origin, and the gradient covariance
//! `S = A Cov(x) A` does not depend on `w`. At `angle_deg = 0` the noise is diagonal like `A`,
//! `D` commutes with `H` and the stationary state is an equilibrium, to round-off (without
//! the standardisation a finite sample would carry a spurious off-diagonal covariance of
//! order `1/√N` and a small current); any other angle makes them fail to commute and the
//! stationary state carries a rotating current (docs/theory.md section 3).

use pulp::{Scalar, Simd};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use super::kernel::{GradientKernel, LANES, Lanes, WalkerKernel};
use super::{Landscape, LandscapeError, QuadraticExamples};

/// `[landscape]` keys of `kind = "bowl"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BowlSpec {
    /// Diagonal of the Hessian `A`, `[h1, h2]`.
    pub hessian: [f64; 2],
    /// Variances of the data along the rotated axes, `[v1, v2]`.
    pub noise: [f64; 2],
    /// Rotation of the data's principal axes against the Hessian's, in degrees.
    #[serde(default)]
    pub angle_deg: f64,
    /// Number of examples `N`.
    #[serde(default = "default_n")]
    pub n: usize,
    /// Seed of the data draw.
    #[serde(default = "default_data_seed")]
    pub data_seed: u64,
}

fn default_n() -> usize {
    100
}

fn default_data_seed() -> u64 {
    1
}

impl Default for BowlSpec {
    fn default() -> Self {
        Self {
            hessian: [1.0, 4.0],
            noise: [1.0, 0.1],
            angle_deg: 30.0,
            n: default_n(),
            data_seed: default_data_seed(),
        }
    }
}

/// The bowl landscape; see the module documentation.
#[derive(Clone, Debug)]
pub struct Bowl {
    hessian: [f64; 2],
    /// Data points `x_i`.
    data: Vec<[f64; 2]>,
}

impl Bowl {
    /// Draw the data and build the landscape.
    pub fn new(spec: &BowlSpec) -> Result<Self, LandscapeError> {
        if spec.hessian.iter().any(|h| !(h.is_finite() && *h > 0.0)) {
            return Err(LandscapeError::invalid(
                "hessian",
                "both entries must be positive and finite",
            ));
        }
        if spec.noise.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(LandscapeError::invalid(
                "noise",
                "variances must be non-negative and finite",
            ));
        }
        if !spec.angle_deg.is_finite() {
            return Err(LandscapeError::invalid("angle_deg", "must be finite"));
        }
        if spec.n < 3 {
            return Err(LandscapeError::invalid("n", "needs at least 3 examples"));
        }
        let (sin, cos) = spec.angle_deg.to_radians().sin_cos();
        let (s1, s2) = (spec.noise[0].sqrt(), spec.noise[1].sqrt());
        let mut rng = Pcg64::seed_from_u64(spec.data_seed);
        let mut draws: Vec<[f64; 2]> = (0..spec.n)
            .map(|_| {
                [
                    StandardNormal.sample(&mut rng),
                    StandardNormal.sample(&mut rng),
                ]
            })
            .collect();
        // Centre, then whiten with the Cholesky factor of the sample covariance.
        let n = spec.n as f64;
        let mean = draws
            .iter()
            .fold([0.0, 0.0], |m, z| [m[0] + z[0] / n, m[1] + z[1] / n]);
        let (mut c00, mut c01, mut c11) = (0.0, 0.0, 0.0);
        for z in &mut draws {
            z[0] -= mean[0];
            z[1] -= mean[1];
            c00 += z[0] * z[0] / n;
            c01 += z[0] * z[1] / n;
            c11 += z[1] * z[1] / n;
        }
        let l00 = c00.sqrt();
        let l10 = c01 / l00;
        let l11 = (c11 - l10 * l10).sqrt();
        if !(l00 > 0.0 && l11 > 0.0 && l11.is_finite()) {
            return Err(LandscapeError::invalid(
                "n",
                "the data draw is degenerate; use more examples",
            ));
        }
        let data = draws
            .iter()
            .map(|z| {
                let u = z[0] / l00;
                let v = (z[1] - l10 * u) / l11;
                let (a, b) = (s1 * u, s2 * v);
                [cos * a - sin * b, sin * a + cos * b]
            })
            .collect();
        Ok(Self {
            hessian: spec.hessian,
            data,
        })
    }

    /// The data points `x_i`.
    pub fn data(&self) -> &[[f64; 2]] {
        &self.data
    }
}

/// `g_B = A (w − x̄_B)`: the batch sum of the data in batch order, then one multiply per
/// component; the lane kernel does the same per lane.
impl GradientKernel<2> for Bowl {
    #[inline(always)]
    fn walker_gradient<S: Simd>(&self, _simd: S, batch: &[usize], w: &[f64; 2]) -> [f64; 2] {
        let (mut sx, mut sy) = (0.0, 0.0);
        for &i in batch {
            let x = self.data[i];
            sx += x[0];
            sy += x[1];
        }
        let inv = 1.0 / batch.len() as f64;
        [
            self.hessian[0] * (w[0] - sx * inv),
            self.hessian[1] * (w[1] - sy * inv),
        ]
    }

    #[inline(always)]
    fn lane_gradient<S: Simd>(
        &self,
        _simd: S,
        batch: &[[usize; LANES]],
        w: &[Lanes; 2],
    ) -> [Lanes; 2] {
        let (mut sx, mut sy) = ([0.0; LANES], [0.0; LANES]);
        for row in batch {
            for l in 0..LANES {
                let x = self.data[row[l]];
                sx[l] += x[0];
                sy[l] += x[1];
            }
        }
        let inv = 1.0 / batch.len() as f64;
        let mut out = [[0.0; LANES]; 2];
        for l in 0..LANES {
            out[0][l] = self.hessian[0] * (w[0][l] - sx[l] * inv);
            out[1][l] = self.hessian[1] * (w[1][l] - sy[l] * inv);
        }
        out
    }
}

impl Landscape for Bowl {
    fn kind(&self) -> &'static str {
        "bowl"
    }

    fn dim(&self) -> usize {
        2
    }

    fn n_examples(&self) -> usize {
        self.data.len()
    }

    fn example_loss(&self, i: usize, w: &[f64]) -> f64 {
        let x = self.data[i];
        let (u, v) = (w[0] - x[0], w[1] - x[1]);
        0.5 * (self.hessian[0] * u * u + self.hessian[1] * v * v)
    }

    fn add_example_gradient(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
        let x = self.data[i];
        out[0] += scale * self.hessian[0] * (w[0] - x[0]);
        out[1] += scale * self.hessian[1] * (w[1] - x[1]);
    }

    fn add_example_hessian(&self, _i: usize, _w: &[f64], scale: f64, out: &mut [f64]) {
        out[0] += scale * self.hessian[0];
        out[3] += scale * self.hessian[1];
    }

    /// `g_B = A (w − x̄_B)` with `x̄_B` the batch mean of the data.
    fn batch_gradient(&self, batch: &[usize], w: &[f64], out: &mut [f64]) {
        let g = GradientKernel::walker_gradient(self, Scalar::new(), batch, &[w[0], w[1]]);
        out.copy_from_slice(&g);
    }

    fn walker_kernel(&self) -> WalkerKernel<'_> {
        WalkerKernel::Bowl(self)
    }

    fn start(&self) -> Vec<f64> {
        let n = self.data.len() as f64;
        let (sx, sy) = self
            .data
            .iter()
            .fold((0.0, 0.0), |(a, b), x| (a + x[0], b + x[1]));
        vec![sx / n, sy / n]
    }

    fn quadratic(&self) -> Option<QuadraticExamples> {
        let h = vec![self.hessian[0], 0.0, 0.0, self.hessian[1]];
        Some(QuadraticExamples {
            dim: 2,
            hessians: vec![h; self.data.len()],
            linear: self
                .data
                .iter()
                .map(|x| vec![self.hessian[0] * x[0], self.hessian[1] * x[1]])
                .collect(),
        })
    }

    fn escape_radius(&self) -> f64 {
        let spread = self
            .data
            .iter()
            .fold(1.0_f64, |m, x| m.max(x[0].abs()).max(x[1].abs()));
        1e6 * spread
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::testing::finite_difference_mismatch;

    #[test]
    fn derivatives_match_finite_differences() {
        let bowl = Bowl::new(&BowlSpec::default()).expect("valid spec");
        for w in [[0.3, -0.2], [1.5, 2.0]] {
            let (g, h) = finite_difference_mismatch(&bowl, &w);
            assert!(g < 1e-7 && h < 1e-7, "gradient {g}, hessian {h}");
        }
    }

    #[test]
    fn batch_gradient_is_the_mean_of_example_gradients() {
        let bowl = Bowl::new(&BowlSpec::default()).expect("valid spec");
        let w = [0.4, -0.7];
        let batch = [3, 17, 42, 99];
        let mut fast = [0.0; 2];
        bowl.batch_gradient(&batch, &w, &mut fast);
        let mut slow = [0.0; 2];
        for &i in &batch {
            bowl.add_example_gradient(i, &w, 0.25, &mut slow);
        }
        assert!((fast[0] - slow[0]).abs() < 1e-12 && (fast[1] - slow[1]).abs() < 1e-12);
    }

    /// The standardised data have mean 0 and covariance exactly `R diag(noise) Rᵀ`, so at
    /// angle 0 the gradient covariance is diagonal like the Hessian (equilibrium).
    #[test]
    fn data_are_standardised_exactly() {
        for angle_deg in [0.0, 30.0] {
            let spec = BowlSpec {
                angle_deg,
                ..BowlSpec::default()
            };
            let bowl = Bowl::new(&spec).expect("valid spec");
            let n = bowl.data().len() as f64;
            let mean = bowl
                .data()
                .iter()
                .fold([0.0, 0.0], |m, x| [m[0] + x[0] / n, m[1] + x[1] / n]);
            let c01 = bowl.data().iter().map(|x| x[0] * x[1]).sum::<f64>() / n;
            let c00 = bowl.data().iter().map(|x| x[0] * x[0]).sum::<f64>() / n;
            let (sin, cos) = angle_deg.to_radians().sin_cos();
            let expected_c01 = cos * sin * (spec.noise[0] - spec.noise[1]);
            let expected_c00 = cos * cos * spec.noise[0] + sin * sin * spec.noise[1];
            assert!(mean[0].abs() < 1e-14 && mean[1].abs() < 1e-14, "{mean:?}");
            assert!(
                (c01 - expected_c01).abs() < 1e-14,
                "{c01} vs {expected_c01}"
            );
            assert!(
                (c00 - expected_c00).abs() < 1e-14,
                "{c00} vs {expected_c00}"
            );
        }
    }

    #[test]
    fn lane_kernel_matches_the_scalar_reference_bit_for_bit() {
        let bowl = Bowl::new(&BowlSpec::default()).expect("valid spec");
        crate::landscape::kernel::testing::lanes_match_reference(&bowl, &bowl, 4.0, 12);
    }

    #[test]
    fn rejects_non_positive_hessian() {
        let spec = BowlSpec {
            hessian: [0.0, 1.0],
            ..BowlSpec::default()
        };
        let message = Bowl::new(&spec).expect_err("must fail").to_string();
        assert!(message.contains("landscape.hessian"), "{message}");
    }
}
