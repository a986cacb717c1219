//! Comparing what a simulation measured with what the theory predicts, and summarising a
//! walker ensemble's spread (docs/theory.md section 7): one implementation for the app, the
//! command line and the figures.

/// Relative Frobenius difference `‖a − b‖_F / ‖b‖_F` of two matrices of the same shape
/// (row-major): how far a simulated covariance `a` is from the predicted `b`. Infinite when
/// `b` is zero and `a` is not, NaN when both are zero.
pub fn relative_frobenius(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let difference: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (difference / norm).sqrt()
}

/// The ratios `a_ii / b_ii` of the diagonals of two `d × d` matrices (row-major): simulated
/// over predicted variances, one per weight.
pub fn diagonal_ratios(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    (0..d).map(|i| a[i * d + i] / b[i * d + i]).collect()
}

/// The spread of a function over an ensemble at one abscissa.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandPoint {
    /// Where the function was evaluated.
    pub x: f64,
    /// Mean of `f(w, x)` over the walkers `w`.
    pub mean: f64,
    /// Standard deviation of `f(w, x)` over the walkers (population, `1/n`).
    pub std: f64,
}

impl BandPoint {
    /// `mean − k std` and `mean + k std`.
    pub fn interval(&self, k: f64) -> (f64, f64) {
        (self.mean - k * self.std, self.mean + k * self.std)
    }
}

/// Mean and standard deviation of `f(w, x)` over the walkers' positions `w`, at each `x`:
/// the band of functions (e.g. fitted curves) a stationary cloud of weights spans. An empty
/// ensemble gives NaN.
pub fn ensemble_band(
    positions: &[&[f64]],
    xs: &[f64],
    f: impl Fn(&[f64], f64) -> f64,
) -> Vec<BandPoint> {
    let n = positions.len() as f64;
    xs.iter()
        .map(|&x| {
            let values: Vec<f64> = positions.iter().map(|w| f(w, x)).collect();
            let mean = values.iter().sum::<f64>() / n;
            let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            BandPoint {
                x,
                mean,
                std: variance.sqrt(),
            }
        })
        .collect()
}

/// `count` evenly spaced points over `[low, high]` widened by `margin` of its width on each
/// side (`[-1, 1]` when the range is empty): the abscissae of a curve drawn over data.
pub fn padded_range(low: f64, high: f64, margin: f64, count: usize) -> Vec<f64> {
    let (low, high) = if low < high && (high - low).is_finite() {
        (low, high)
    } else {
        (-1.0, 1.0)
    };
    let pad = margin * (high - low);
    let steps = count.saturating_sub(1).max(1) as f64;
    (0..count)
        .map(|k| low - pad + (high - low + 2.0 * pad) * k as f64 / steps)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_frobenius_by_hand() {
        // ‖(1, 0; 0, 1) − (1, 0; 0, 2)‖ = 1, ‖(1, 0; 0, 2)‖ = √5.
        let a = [1.0, 0.0, 0.0, 1.0];
        let b = [1.0, 0.0, 0.0, 2.0];
        assert!((relative_frobenius(&a, &b) - 1.0 / 5f64.sqrt()).abs() < 1e-15);
        assert_eq!(relative_frobenius(&b, &b), 0.0);
        assert!(relative_frobenius(&a, &[0.0; 4]).is_infinite());
        assert_eq!(diagonal_ratios(&a, &b, 2), vec![1.0, 0.5]);
    }

    /// Lines `f(w, x) = w₀ + w₁ x` with `w₀, w₁` at ±1 independently (four walkers): the
    /// mean is 0 and the variance `1 + x²` at every `x`, exactly.
    #[test]
    fn band_of_lines_by_hand() {
        let walkers = [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]];
        let positions: Vec<&[f64]> = walkers.iter().map(|w| w.as_slice()).collect();
        let band = ensemble_band(&positions, &[0.0, 2.0], |w, x| w[0] + w[1] * x);
        assert_eq!(band[0].mean, 0.0);
        assert!((band[0].std - 1.0).abs() < 1e-15);
        assert!((band[1].std - 5f64.sqrt()).abs() < 1e-15);
        assert_eq!(
            band[1].interval(2.0),
            (-2.0 * 5f64.sqrt(), 2.0 * 5f64.sqrt())
        );
        assert!(ensemble_band(&[], &[0.0], |_, _| 1.0)[0].mean.is_nan());
    }

    #[test]
    fn padded_range_covers_the_data() {
        let xs = padded_range(0.0, 10.0, 0.05, 5);
        assert_eq!(xs, vec![-0.5, 2.25, 5.0, 7.75, 10.5]);
        assert_eq!(padded_range(3.0, 3.0, 0.0, 3), vec![-1.0, 0.0, 1.0]);
    }
}
