//! A tilted double well with position-dependent, non-commuting gradient noise.
//!
//! Per-example loss, `w = (w1, w2)`:
//!
//! ```text
//! l_i(w) = (w1² − a²)² / 4 + t_i w1 + (k/2) (w2 − s_i w1 − e_i)²,
//! t_i = tilt ξ_i,   s_i = shear ξ_i,   e_i = offset ζ_i,
//! ```
//!
//! with `a = well`, `k = stiffness`. The example variables `ξ_i`, `ζ_i` are drawn from
//! `N(0, 1)` with `data_seed` and then standardised *exactly*: both have sample mean 0 and
//! sample variance 1 and are orthogonal (`(1/N) Σ ξ_i ζ_i = 0`). Each example tilts the
//! well (`t_i`) and shears and shifts the valley of `w2` (`s_i`, `e_i`); the tilt and the
//! shear come from the same `ξ_i`, so they are correlated. Averaging over examples,
//!
//! ```text
//! L(w) = (w1² − a²)² / 4 + (k/2) (w2² + shear² w1² + offset²),
//! ```
//!
//! symmetric under `w1 → −w1`, with minima at `w* = (±sqrt(a² − k shear²), 0)` (so
//! `a² > k shear²` is required), a saddle at the origin, barrier
//! `ΔL = (a² − k shear²)² / 4`, and `H̄(w*) = diag(2 (a² − k shear²), k)`.
//!
//! Gradients: `g_i = (w1 (w1² − a²) + t_i − k s_i r_i, k r_i)`, `r_i = w2 − s_i w1 − e_i`;
//! Hessians: `h_i = [[3 w1² − a² + k s_i², −k s_i], [−k s_i, k]]`. The gradient covariance
//! (docs/theory.md section 1) depends on position: exactly `S_22(w) = k² (shear² w1² + offset²)`,
//! and at `w2 = 0`, up to sample third and fourth moments of `ξ, ζ`,
//! `S_12(w) ≈ −k shear tilt w1` and `S_11 ≈ tilt² + k² shear² offset² + 2 k² shear⁴ w1²`.
//! So `S_12` changes sign between the wells while `H̄` stays diagonal there: `S` and `H̄`
//! do not commute, SGD's diffusion matrix `D(w)` (section 3) does not commute with the
//! Hessian, and the stationary currents circulate in opposite senses in the two wells.
//!
//! Defaults (`a = 1`, `k = 1`, `tilt = 6`, `shear = 0.5`, `offset = 3`, `N = 100`): minima
//! at `w1 = ±0.866`, barrier 0.141. SGD with replacement at `B = 10` hops between the wells
//! about once every 2·10⁴ steps at `η = 0.02`, 3·10³ at `η = 0.03`, 10³ at `η = 0.04` and
//! 6·10² at `η = 0.05` (simulated; see the tests).

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use super::{Landscape, LandscapeError};

/// `[landscape]` keys of `kind = "double-well"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleWellSpec {
    /// `a`: the wells of the quartic sit at `w1 = ±a` before the shear pulls them in.
    #[serde(default = "default_well")]
    pub well: f64,
    /// `k`: curvature of the valley in `w2`.
    #[serde(default = "default_stiffness")]
    pub stiffness: f64,
    /// Standard deviation of the per-example tilt `t_i`.
    #[serde(default = "default_tilt")]
    pub tilt: f64,
    /// Standard deviation of the per-example shear `s_i` (correlated with the tilt).
    #[serde(default = "default_shear")]
    pub shear: f64,
    /// Standard deviation of the per-example valley offset `e_i`.
    #[serde(default = "default_offset")]
    pub offset: f64,
    /// Number of examples `N`.
    #[serde(default = "default_n")]
    pub n: usize,
    /// Seed of the example variables.
    #[serde(default = "default_data_seed")]
    pub data_seed: u64,
}

fn default_well() -> f64 {
    1.0
}
fn default_stiffness() -> f64 {
    1.0
}
fn default_tilt() -> f64 {
    6.0
}
fn default_shear() -> f64 {
    0.5
}
fn default_offset() -> f64 {
    3.0
}
fn default_n() -> usize {
    100
}
fn default_data_seed() -> u64 {
    1
}

impl Default for DoubleWellSpec {
    fn default() -> Self {
        Self {
            well: default_well(),
            stiffness: default_stiffness(),
            tilt: default_tilt(),
            shear: default_shear(),
            offset: default_offset(),
            n: default_n(),
            data_seed: default_data_seed(),
        }
    }
}

/// The double-well landscape; see the module documentation.
#[derive(Clone, Debug)]
pub struct DoubleWell {
    /// `a²`.
    well_squared: f64,
    stiffness: f64,
    /// `t_i`.
    tilts: Vec<f64>,
    /// `s_i`.
    shears: Vec<f64>,
    /// `e_i`.
    offsets: Vec<f64>,
    /// `|w1|` of the two minima.
    minimum: f64,
}

/// Scale `v` to sample mean 0 and sample variance 1; `None` if it is constant.
fn standardise(v: &mut [f64]) -> Option<()> {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    v.iter_mut().for_each(|x| *x -= mean);
    let rms = (v.iter().map(|x| x * x).sum::<f64>() / n).sqrt();
    if !(rms.is_finite() && rms > 1e-12) {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= rms);
    Some(())
}

impl DoubleWell {
    /// Draw and standardise the example variables and build the landscape.
    pub fn new(spec: &DoubleWellSpec) -> Result<Self, LandscapeError> {
        let positive = |key: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(LandscapeError::invalid(
                    key,
                    format!("must be positive and finite, got {value}"),
                ))
            }
        };
        let non_negative = |key: &str, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(LandscapeError::invalid(
                    key,
                    format!("must be non-negative and finite, got {value}"),
                ))
            }
        };
        positive("well", spec.well)?;
        positive("stiffness", spec.stiffness)?;
        non_negative("tilt", spec.tilt)?;
        non_negative("shear", spec.shear)?;
        non_negative("offset", spec.offset)?;
        let well_squared = spec.well * spec.well;
        let pull = spec.stiffness * spec.shear * spec.shear;
        if pull >= well_squared {
            return Err(LandscapeError::invalid(
                "shear",
                format!(
                    "stiffness · shear² = {pull} must stay below well² = {well_squared}, \
                     or the two wells merge into one"
                ),
            ));
        }
        if spec.n < 3 {
            return Err(LandscapeError::invalid(
                "n",
                format!("needs at least 3 examples, got {}", spec.n),
            ));
        }
        let mut rng = Pcg64::seed_from_u64(spec.data_seed);
        let mut xi: Vec<f64> = (0..spec.n)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let mut zeta: Vec<f64> = (0..spec.n)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let degenerate = || LandscapeError::invalid("data_seed", "drew degenerate examples");
        standardise(&mut xi).ok_or_else(degenerate)?;
        // Remove ζ's component along ξ (ξ has mean 0 and mean square 1), then standardise.
        let projection = xi.iter().zip(&zeta).map(|(a, b)| a * b).sum::<f64>() / spec.n as f64;
        zeta.iter_mut()
            .zip(&xi)
            .for_each(|(z, x)| *z -= projection * x);
        standardise(&mut zeta).ok_or_else(degenerate)?;
        Ok(Self {
            well_squared,
            stiffness: spec.stiffness,
            tilts: xi.iter().map(|x| spec.tilt * x).collect(),
            shears: xi.iter().map(|x| spec.shear * x).collect(),
            offsets: zeta.iter().map(|z| spec.offset * z).collect(),
            minimum: (well_squared - pull).sqrt(),
        })
    }

    /// The two minima `(±sqrt(a² − k shear²), 0)`, right one first.
    pub fn minima(&self) -> [[f64; 2]; 2] {
        [[self.minimum, 0.0], [-self.minimum, 0.0]]
    }

    /// Barrier height `ΔL = L(0) − L(w*) = (a² − k shear²)² / 4`.
    pub fn barrier(&self) -> f64 {
        0.25 * self.minimum.powi(4)
    }
}

impl Landscape for DoubleWell {
    fn kind(&self) -> &'static str {
        "double-well"
    }

    fn dim(&self) -> usize {
        2
    }

    fn n_examples(&self) -> usize {
        self.tilts.len()
    }

    fn example_loss(&self, i: usize, w: &[f64]) -> f64 {
        let q = w[0] * w[0] - self.well_squared;
        let r = w[1] - self.shears[i] * w[0] - self.offsets[i];
        0.25 * q * q + self.tilts[i] * w[0] + 0.5 * self.stiffness * r * r
    }

    fn add_example_gradient(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
        let s = self.shears[i];
        let kr = self.stiffness * (w[1] - s * w[0] - self.offsets[i]);
        out[0] += scale * (w[0] * (w[0] * w[0] - self.well_squared) + self.tilts[i] - s * kr);
        out[1] += scale * kr;
    }

    fn add_example_hessian(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
        let s = self.shears[i];
        let k = self.stiffness;
        out[0] += scale * (3.0 * w[0] * w[0] - self.well_squared + k * s * s);
        out[1] -= scale * k * s;
        out[2] -= scale * k * s;
        out[3] += scale * k;
    }

    /// `g_B = (w1 (w1² − a²) + ⟨t⟩ − k (w2 ⟨s⟩ − w1 ⟨s²⟩ − ⟨s e⟩), k (w2 − ⟨s⟩ w1 − ⟨e⟩))`
    /// with `⟨·⟩` the batch means.
    fn batch_gradient(&self, batch: &[usize], w: &[f64], out: &mut [f64]) {
        let (mut st, mut ss, mut sss, mut sse, mut se) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &i in batch {
            let s = self.shears[i];
            let e = self.offsets[i];
            st += self.tilts[i];
            ss += s;
            sss += s * s;
            sse += s * e;
            se += e;
        }
        let inv = 1.0 / batch.len() as f64;
        let k = self.stiffness;
        let (w1, w2) = (w[0], w[1]);
        out[0] = w1 * (w1 * w1 - self.well_squared) + inv * (st - k * (w2 * ss - w1 * sss - sse));
        out[1] = k * (w2 - inv * (ss * w1 + se));
    }

    /// The right-hand minimum.
    fn start(&self) -> Vec<f64> {
        vec![self.minimum, 0.0]
    }

    fn minimum_hints(&self) -> Vec<Vec<f64>> {
        self.minima().iter().map(|m| m.to_vec()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::{Algorithm, Dynamics, Ensemble, Observer};
    use crate::landscape::gradient_covariance;
    use crate::landscape::newton::newton_minimum;
    use crate::landscape::testing::finite_difference_mismatch;
    use proptest::prelude::*;

    fn default_well() -> DoubleWell {
        DoubleWell::new(&DoubleWellSpec::default()).expect("valid")
    }

    proptest! {
        #![proptest_config(crate::landscape::testing::proptest_config(64))]

        #[test]
        fn derivatives_match_finite_differences(w1 in -2.0..2.0_f64, w2 in -2.0..2.0_f64) {
            let (g, h) = finite_difference_mismatch(&default_well(), &[w1, w2]);
            prop_assert!(g < 1e-7 && h < 1e-7, "gradient {g}, hessian {h}");
        }

        #[test]
        fn batch_gradient_is_the_mean_of_example_gradients(
            w1 in -2.0..2.0_f64,
            w2 in -2.0..2.0_f64,
            batch in proptest::collection::vec(0..100_usize, 1..20),
        ) {
            let well = default_well();
            let w = [w1, w2];
            let mut fast = [0.0; 2];
            well.batch_gradient(&batch, &w, &mut fast);
            let mut slow = [0.0; 2];
            for &i in &batch {
                well.add_example_gradient(i, &w, 1.0 / batch.len() as f64, &mut slow);
            }
            for a in 0..2 {
                prop_assert!((fast[a] - slow[a]).abs() < 1e-10 * (1.0 + slow[a].abs()));
            }
        }

        /// `L(w)` has the closed form of the module documentation (it relies on the exact
        /// standardisation of the example variables).
        #[test]
        fn mean_loss_has_the_closed_form(w1 in -2.0..2.0_f64, w2 in -2.0..2.0_f64) {
            let spec = DoubleWellSpec::default();
            let well = default_well();
            let closed = 0.25 * (w1 * w1 - 1.0_f64).powi(2)
                + 0.5 * spec.stiffness
                    * (w2 * w2 + spec.shear.powi(2) * w1 * w1 + spec.offset.powi(2));
            prop_assert!((well.loss(&[w1, w2]) - closed).abs() < 1e-12 * (1.0 + closed));
        }
    }

    /// Newton's method from each hint lands on the predicted minimum; the Hessian there is
    /// `diag(2 w*², k)`.
    #[test]
    fn minima_and_hessian_are_as_documented() {
        let well = default_well();
        let expected = (1.0_f64 - 0.25).sqrt();
        for (hint, sign) in well.minimum_hints().iter().zip([1.0, -1.0]) {
            let start = [hint[0] + 0.1, hint[1] - 0.2];
            let minimum = newton_minimum(&well, &start).expect("converges");
            assert!(
                (minimum.w[0] - sign * expected).abs() < 1e-10,
                "{:?}",
                minimum.w
            );
            assert!(minimum.w[1].abs() < 1e-10, "{:?}", minimum.w);
            let mut h = [0.0; 4];
            well.hessian(&minimum.w, &mut h);
            assert!((h[0] - 2.0 * 0.75).abs() < 1e-10 && h[1].abs() < 1e-10);
            assert!((h[3] - 1.0).abs() < 1e-12);
        }
        assert!((well.barrier() - 0.75_f64.powi(2) / 4.0).abs() < 1e-14);
    }

    /// `S(w)` depends on position: `S_22 = k² (shear² w1² + offset²)` exactly, `S_12` changes
    /// sign between the wells (so it is not a constant matrix), and at each minimum `S` does
    /// not commute with the diagonal `H̄`.
    #[test]
    fn gradient_covariance_is_position_dependent_and_non_commuting() {
        let well = default_well();
        for w in [[0.0, 0.0], [0.5, 0.3], [-1.2, 0.7]] {
            let s = gradient_covariance(&well, &w);
            let expected = 0.25 * w[0] * w[0] + 9.0;
            assert!((s[3] - expected).abs() < 1e-10 * expected, "{s:?} at {w:?}");
        }
        let [right, left] = well.minima();
        let s_right = gradient_covariance(&well, &right);
        let s_left = gradient_covariance(&well, &left);
        // S_12 ≈ −k shear tilt w1 = ∓2.6 plus sample-skewness terms.
        assert!(
            s_right[1] < -1.0 && s_left[1] > 1.0,
            "{s_right:?} {s_left:?}"
        );
        for (w, s) in [(right, s_right), (left, s_left)] {
            let mut h = [0.0; 4];
            well.hessian(&w, &mut h);
            // (HS − SH)_12 = H_11 S_12 + H_12 S_22 − S_11 H_12 − S_12 H_22.
            let commutator = h[0] * s[1] + h[1] * s[3] - s[0] * h[1] - s[1] * h[3];
            assert!(commutator.abs() > 0.5, "{commutator}");
        }
    }

    /// Counts crossings between the wells with hysteresis: a walker changes side when it
    /// passes `±w*/2`. Every walker starts in the right-hand well (one `advance` call).
    struct Hops {
        threshold: f64,
        side: f64,
        hops: u64,
        samples: u64,
    }

    impl Observer for Hops {
        fn fork(&self) -> Self {
            Hops {
                threshold: self.threshold,
                side: 1.0,
                hops: 0,
                samples: 0,
            }
        }
        fn begin_walker(&mut self, _: usize) {
            self.side = 1.0;
        }
        fn observe(&mut self, _: usize, _: u64, _: &[f64], after: &[f64]) {
            let new = if after[0] > self.threshold {
                1.0
            } else if after[0] < -self.threshold {
                -1.0
            } else {
                self.side
            };
            if new != self.side {
                self.hops += 1;
            }
            self.side = new;
            self.samples += 1;
        }
        fn merge(&mut self, other: Self) {
            self.hops += other.hops;
            self.samples += other.samples;
        }
    }

    /// The design target: at `η = 0.03`, `B = 10`, SGD walkers hop between the wells once
    /// every 10³–10⁴ steps (a NumPy prototype gave 2.7·10³). 256 walkers × 20 000 steps give
    /// about 1 900 hops at that rate; even with hops correlated in pairs the relative standard
    /// error is below 5%, far inside the factor-of-three margins of the band.
    #[test]
    fn sgd_walkers_hop_between_the_wells() {
        let well = default_well();
        let dynamics = Dynamics::new(Algorithm::Sgd, None, 0.03, 10, 0.0, 100).expect("valid");
        let walkers = 256;
        let mut ensemble = Ensemble::new(&well, dynamics, walkers, &well.start(), 7);
        let mut hops = Hops {
            threshold: 0.5 * well.minima()[0][0],
            side: 1.0,
            hops: 0,
            samples: 0,
        };
        ensemble.advance(&well, 20_000, &mut hops);
        let steps_per_hop = hops.samples as f64 / hops.hops.max(1) as f64;
        eprintln!("{} hops, one every {steps_per_hop:.0} steps", hops.hops);
        assert!(
            (1e3..1e4).contains(&steps_per_hop),
            "one hop every {steps_per_hop} steps"
        );
        assert_eq!(ensemble.diverged_walkers(), 0);
    }

    #[test]
    fn rejects_bad_keys_by_name() {
        let cases = [
            (
                DoubleWellSpec {
                    well: 0.0,
                    ..DoubleWellSpec::default()
                },
                "landscape.well",
            ),
            (
                DoubleWellSpec {
                    tilt: -1.0,
                    ..DoubleWellSpec::default()
                },
                "landscape.tilt",
            ),
            (
                DoubleWellSpec {
                    shear: 2.0,
                    ..DoubleWellSpec::default()
                },
                "landscape.shear",
            ),
            (
                DoubleWellSpec {
                    n: 2,
                    ..DoubleWellSpec::default()
                },
                "landscape.n",
            ),
        ];
        for (spec, key) in cases {
            let message = DoubleWell::new(&spec).expect_err(key).to_string();
            assert!(message.starts_with(key), "{message}");
        }
    }
}
