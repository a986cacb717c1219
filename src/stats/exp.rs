//! A branch-free `exp` that vectorises, for the integral fluctuation theorem's `exp(−Σ)`
//! (docs/theory.md §11.5).
//!
//! Every closed trajectory window costs one exponential (about 2.3 per walker-unit with
//! windows of 1 … 5 units), so in the app's estimators libm's scalar `exp` cost more than the
//! bowl's whole step. This one is written in plain arithmetic, so a loop over the [`LANES`]
//! walkers of a group compiles to SIMD instructions, and the scalar call gives the same bits.
//!
//! With `x` clamped to `[−746, 710]` (beyond which `e^x` rounds to 0 or overflows to `+∞`
//! anyway), the Cody–Waite reduction `x = k ln 2 + r`, `k = round(x / ln 2)`,
//! `|r| ≤ ln 2 / 2 · (1 + 2⁻⁵⁰)`, gives
//!
//! ```text
//! e^x = 2^k · (1 + expm1(r)),   expm1(r) ≈ r + r² Σ_{n=0}^{11} r^n / (n + 2)!,
//! ```
//!
//! the Taylor polynomial of degree 13 (remainder below `3.3·10⁻¹⁸ |r|`, far below an ulp).
//! `2^k` is applied as `2^⌊k/2⌋ · 2^(k − ⌊k/2⌋)`: both factors are normal numbers for every
//! `k ∈ [−1076, 1024]`, so the scaling is exact until the last multiplication, which rounds
//! once into the subnormal range or overflows to `+∞` exactly as the true value would.
//! The rounding errors of `r` (`< 2⁻⁶⁰` absolute), of the polynomial (`< 2 u |r|²`-sized
//! terms) and of `1 + expm1(r)` (half an ulp) add up to below [`EXP_ULP_BOUND`] ulp of
//! the result; the tests check it against libm (correctly rounded to within 1 ulp on glibc)
//! over the whole range, subnormal results included. `exp(NaN)` is NaN, `exp(+∞) = +∞`,
//! `exp(−∞) = 0`.
//!
//! [`LANES`]: crate::landscape::LANES

/// The bound on `|exp(x) − e^x|` in units in the last place of `e^x`, for results in the
/// normal range (subnormal results carry the one extra rounding of the final scaling, at most
/// half a subnormal spacing more).
pub const EXP_ULP_BOUND: f64 = 1.5;

use crate::landscape::tanh::{ROUNDING_MAGIC, expm1_reduced, reduce};

/// Below this `e^x` is below half the smallest subnormal: it rounds to 0.
const LOWEST: f64 = -746.0;
/// Above this `e^x` overflows.
const HIGHEST: f64 = 710.0;

/// `e^x` within [`EXP_ULP_BOUND`] ulp, branch-free (see the module documentation).
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // NaN passes through the clamp.
    let x = x.clamp(LOWEST, HIGHEST);
    // The reduction and polynomial of the network's tanh (§11.1).
    let (r, shifted) = reduce::<false>(x);
    // The integer k from the low mantissa bits (|k| < 2^51, two's complement there).
    let k_int = (shifted as i64).wrapping_sub(ROUNDING_MAGIC.to_bits() as i64);
    let k_half = k_int >> 1;
    let scale = |e: i64| f64::from_bits((e.wrapping_add(1023) as u64) << 52);
    let exp_r = 1.0 + expm1_reduced::<false>(r);
    exp_r * scale(k_half) * scale(k_int - k_half)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    /// Distance from `exact` in its units in the last place (the subnormal spacing below the
    /// normal range).
    fn ulps(value: f64, exact: f64) -> f64 {
        if value == exact {
            return 0.0;
        }
        let magnitude = exact.abs().max(f64::from_bits(1));
        let spacing = f64::from_bits(magnitude.to_bits() + 1) - magnitude;
        (value - exact).abs() / spacing
    }

    /// glibc's `exp` is correctly rounded to within 1 ulp, so against it the difference may
    /// reach the bound plus 1.
    const AGAINST_LIBM: f64 = EXP_ULP_BOUND + 1.0;

    /// A dense sweep of `[−745, 709.7]` (2²¹ points) and 10⁶ random arguments: the error never
    /// exceeds the bound (plus libm's own), subnormal results included. Fails for a wrong
    /// reduction, a wrong coefficient or a wrong exponent split.
    #[test]
    fn matches_libm_over_the_whole_range() {
        let mut worst: f64 = 0.0;
        let (low, high) = (-745.0, 709.7);
        let n = 1 << 21;
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let sweep = (0..=n).map(|i| low + (high - low) * i as f64 / n as f64);
        let random = (0..1_000_000).map(|_| rng.random_range(low..high));
        for x in sweep.chain(random) {
            let (fast, libm) = (exp(x), x.exp());
            let error = ulps(fast, libm);
            let allowed = if libm < f64::MIN_POSITIVE {
                AGAINST_LIBM + 0.5
            } else {
                AGAINST_LIBM
            };
            assert!(
                error <= allowed,
                "exp({x:e}) = {fast:e}, libm {libm:e}: {error} ulp"
            );
            worst = worst.max(error);
        }
        println!("largest error against libm: {worst} ulp");
    }

    /// Small arguments keep their relative accuracy, and the special values are right.
    #[test]
    fn small_arguments_and_special_values() {
        for x in [
            0.0, -0.0, 1e-300, -1e-300, 1e-17, -1e-17, 1e-9, -1e-9, 0.5, -0.5,
        ] {
            assert!(ulps(exp(x), x.exp()) <= AGAINST_LIBM, "exp({x:e})");
        }
        assert_eq!(exp(0.0), 1.0);
        assert!(ulps(exp(1.0), std::f64::consts::E) <= 1.0);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(-746.0), 0.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert!(exp(f64::NAN).is_nan());
        // The smallest subnormal is e^(−744.44); e^(−745.1) rounds up to it.
        assert_eq!(exp(-745.1), f64::from_bits(1));
        assert!(exp(709.78).is_finite() && exp(709.79) == f64::INFINITY);
    }
}
