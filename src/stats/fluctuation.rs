//! The pieces every entropy-production estimator shares (docs/theory.md sections 3.2 and
//! 7): the entropy of one step under a linear velocity field, and the detailed
//! fluctuation theorem's slope from a histogram of `Σ` split by sign.
//!
//! [`crate::stats::entropy`] accumulates them over walker ensembles as an observer;
//! [`crate::mnist::analysis`] computes them on one recorded trajectory.

/// The entropy produced by one step of a linear (Ornstein–Uhlenbeck) stationary state with
/// velocity field `v(w) = V (w − m)` and diffusion matrix `D`:
///
/// ```text
/// σ = v(w̃)ᵀ D⁻¹ Δw = (w̃ − m)ᵀ F Δw,    F = Vᵀ D⁻¹,    w̃ = (w_before + w_after)/2,
/// ```
///
/// the Stratonovich midpoint rule (docs/theory.md section 3.2). With `V = −C Σ⁻¹`, `F` is
/// `Σ⁻¹ C D⁻¹` (`Σ⁻¹` and `D⁻¹` symmetric, `C` antisymmetric).
#[derive(Clone, Debug, PartialEq)]
pub struct StepEntropy {
    dim: usize,
    mean: Vec<f64>,
    /// `F = Vᵀ D⁻¹`, row-major.
    form: Vec<f64>,
}

impl StepEntropy {
    /// From the velocity matrix `V` and `D⁻¹` (both row-major `d × d`) and the mean `m`.
    pub fn new(velocity: &[f64], diffusion_inverse: &[f64], mean: &[f64]) -> Self {
        let d = mean.len();
        let mut form = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..d {
                // F_ab = Σ_c V_ca (D⁻¹)_cb
                form[a * d + b] = (0..d)
                    .map(|c| velocity[c * d + a] * diffusion_inverse[c * d + b])
                    .sum();
            }
        }
        Self {
            dim: d,
            mean: mean.to_vec(),
            form,
        }
    }

    /// `σ` for the step from `before` to `after`.
    pub fn sigma(&self, before: &[f64], after: &[f64]) -> f64 {
        let d = self.dim;
        let mut sigma = 0.0;
        for a in 0..d {
            let midpoint = 0.5 * (before[a] + after[a]) - self.mean[a];
            let row = &self.form[a * d..(a + 1) * d];
            let pushed: f64 = row
                .iter()
                .zip(before.iter().zip(after))
                .map(|(f, (x0, x1))| f * (x1 - x0))
                .sum();
            sigma += midpoint * pushed;
        }
        sigma
    }
}

/// The detailed fluctuation theorem's slope: `ln P(Σ)/P(−Σ) = slope · Σ`, 1 in theory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DftFit {
    /// The fitted slope.
    pub slope: f64,
    /// Its standard error.
    pub standard_error: f64,
    /// Bin pairs that entered the fit.
    pub bins: usize,
}

/// Weighted least squares through the origin of `y = ln(n₊/n₋)` against the bin centre `s`
/// of `|Σ|`, over bin pairs `(s, n₊, n₋)` with at least `min_count` counts on both sides;
/// `Var y ≈ 1/n₊ + 1/n₋` gives the weights, and the slope's standard error is
/// `1/√(Σ w s²)`. `None` with fewer than `min_bins` usable pairs.
pub fn dft_slope(
    bins: impl IntoIterator<Item = (f64, u64, u64)>,
    min_count: u64,
    min_bins: usize,
) -> Option<DftFit> {
    let (mut sxy, mut sxx, mut used) = (0.0, 0.0, 0);
    for (centre, plus, minus) in bins {
        if plus < min_count || minus < min_count {
            continue;
        }
        let y = (plus as f64 / minus as f64).ln();
        let weight = 1.0 / (1.0 / plus as f64 + 1.0 / minus as f64);
        sxy += weight * centre * y;
        sxx += weight * centre * centre;
        used += 1;
    }
    (used >= min_bins.max(1) && sxx > 0.0).then(|| DftFit {
        slope: sxy / sxx,
        standard_error: 1.0 / sxx.sqrt(),
        bins: used,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `σ` by hand in 2-D: `V = [[0, −1], [1, 0]]` (a rotation), `D⁻¹ = 2 I`, `m = (1, 0)`,
    /// so `F = Vᵀ D⁻¹ = [[0, 2], [−2, 0]]`. Both steps below have `Δw = (0, 1)`, `F Δw =
    /// (2, 0)`. From (1, 0) to (1, 1) the midpoint relative to `m` is (0, ½): `σ = 0`; from
    /// (2, 0) to (2, 1) it is (1, ½): `σ = 2`.
    #[test]
    fn step_entropy_by_hand() {
        let entropy = StepEntropy::new(&[0.0, -1.0, 1.0, 0.0], &[2.0, 0.0, 0.0, 2.0], &[1.0, 0.0]);
        assert_eq!(entropy.sigma(&[1.0, 0.0], &[1.0, 1.0]), 0.0);
        assert_eq!(entropy.sigma(&[2.0, 0.0], &[2.0, 1.0]), 2.0);
        // Reversing the step reverses the entropy.
        assert_eq!(entropy.sigma(&[2.0, 1.0], &[2.0, 0.0]), -2.0);
    }

    /// Counts drawn exactly from `n₊/n₋ = e^{s}`: the slope is 1, with no noise.
    #[test]
    fn dft_slope_recovers_an_exact_ratio() {
        let bins: Vec<(f64, u64, u64)> = (0..8)
            .map(|j| {
                let s = 0.1 * (j as f64 + 0.5);
                let minus = 10_000u64;
                (s, (minus as f64 * s.exp()).round() as u64, minus)
            })
            .collect();
        let fit = dft_slope(bins.clone(), 25, 2).expect("a fit");
        assert!((fit.slope - 1.0).abs() < 1e-3, "{fit:?}");
        assert_eq!(fit.bins, 8);
        assert!(dft_slope(bins, 1_000_000, 2).is_none(), "too few counts");
        assert!(dft_slope([(0.5, 100, 50)], 25, 2).is_none(), "one bin pair");
    }
}
