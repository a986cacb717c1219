//! A branch-free `tanh` that vectorises, with a proven error bound (docs/theory.md §11).
//!
//! For `a = |z|` clamped to `[0, 20]`,
//!
//! ```text
//! tanh a = −m / (2 + m),   m = expm1(−2a) = e^{−2a} − 1 ∈ (−1, 0],
//! ```
//!
//! and the sign of `z` is copied back. `expm1` is computed by the Cody–Waite reduction
//! `x = −2a = k ln 2 + r` with `k = round(x / ln 2)` and `|r| ≤ ln 2 / 2 (1 + 2⁻⁵⁰)`, then
//!
//! ```text
//! expm1(x) = 2^k · expm1(r) + (2^k − 1),   expm1(r) ≈ r + r² Σ_{n=0}^{11} r^n / (n + 2)!,
//! ```
//!
//! the Taylor polynomial of degree 13, whose Lagrange remainder is below
//! `|r|^14 e^{|r|} / 14! < 3.3·10⁻¹⁸ |r|` at the edge of the reduced range (far below an
//! ulp). Because `m` is computed with a small *relative* error and `2 + m ∈ [1, 2]` never
//! cancels, the quotient is accurate in relative terms everywhere, including `|z| ≪ 1` where
//! the textbook `(1 − e)/(1 + e)` loses all relative accuracy. The rounding analysis in
//! docs/theory.md §11 bounds the error by [`TANH_ULP_BOUND`] units in the last place
//! of `tanh z`; the tests check it against `f64::tanh` over the whole line.
//!
//! Special values: `tanh(±0) = ±0`, subnormal `z` give `z` exactly, `|z| ≥ 20` gives `±1`
//! (the exact value `1 − 2e^{−2|z|}` rounds to 1 beyond `|z| ≈ 19.06`), `±∞ → ±1`, and NaN
//! stays NaN (the clamp is written so that a NaN comparison keeps the NaN).
//!
//! Every operation is an IEEE add, multiply or divide, a bit operation or a select, in a fixed
//! order and with no fused multiply-add, so a loop over lanes that calls this function
//! vectorises to exactly the same bits as the scalar call: the SIMD kernels of
//! [`super::kernel`] are tested bit-for-bit against their scalar references.

/// The proven bound on `|tanh(z) − tanh z|` in units in the last place of the exact value
/// (docs/theory.md §11): the rounding analysis bounds the relative error by `5.5 u`
/// (`u = 2⁻⁵³`, and `u |y| < ulp(y)`), rounded up to 6 for the neglected second-order terms.
/// The test sweeps observe at most 3 ulp against libm (whose own error reaches 2).
pub const TANH_ULP_BOUND: f64 = 6.0;

/// Beyond this `|z|`, `tanh z` rounds to `±1` in double precision (19.06 suffices).
const SATURATION: f64 = 20.0;
/// `1 / ln 2`.
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// `ln 2` split so that `k · LN2_HI` is exact for `|k| < 2^21`: the high part has its low 21
/// mantissa bits zero (fdlibm's constants); `|LN2_HI + LN2_LO − ln 2| < 2⁻⁸⁸`.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// `1.5 · 2^52`: adding it rounds a number below `2^51` in magnitude to an integer, which
/// then sits in the low mantissa bits.
pub(crate) const ROUNDING_MAGIC: f64 = 6_755_399_441_055_744.0;

/// `1 / (n + 2)!` for `n = 0 .. 11`: the Taylor coefficients of `(e^r − 1 − r) / r²`.
const INVERSE_FACTORIALS: [f64; 12] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// The Cody–Waite reduction `x = k ln 2 + r`, `k = round(x / ln 2)`, `|r| ≤ ln 2/2 (1 + 2⁻⁵⁰)`
/// for `|x / ln 2| < 2^51`: `r`, and the bits of `x / ln 2 + 1.5 · 2^52`, whose low mantissa
/// bits hold `k` (two's complement). Shared with [`crate::stats::exp::exp`].
#[inline(always)]
pub(crate) fn reduce(x: f64) -> (f64, u64) {
    let shifted = x * LOG2_E + ROUNDING_MAGIC;
    let k = shifted - ROUNDING_MAGIC;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    (r, shifted.to_bits())
}

/// `e^r − 1` for a reduced `|r| ≤ ln 2 / 2`: `r + r² q(r)` with `q` the Taylor polynomial of
/// `(e^r − 1 − r)/r²` of degree 11 (degree 13 in all; remainder below `3.3·10⁻¹⁸ |r|`).
#[inline(always)]
pub(crate) fn expm1_reduced(r: f64) -> f64 {
    // q = Σ_{n=0}^{11} c_n r^n by Estrin's scheme: pairs `c_n + c_{n+1} r`, combined with
    // r² and r⁴, and `c_0` added last (as Horner's rule adds it), so that the one rounding of
    // full size is the final one (docs/theory.md §11.1). The dependency chain is 5 multiply-
    // adds long instead of 11: a single walker's step waits on it.
    let c = &INVERSE_FACTORIALS;
    let r2 = r * r;
    let r4 = r2 * r2;
    let p23 = c[2] + c[3] * r;
    let p45 = c[4] + c[5] * r;
    let p67 = c[6] + c[7] * r;
    let p89 = c[8] + c[9] * r;
    let p1011 = c[10] + c[11] * r;
    let h1 = p23 + r2 * p45;
    let h2 = p67 + r2 * p89;
    let tail = h1 + r4 * (h2 + r4 * p1011);
    let q = c[0] + (c[1] * r + r2 * tail);
    r + r2 * q
}

/// `tanh z` with relative error at most [`TANH_ULP_BOUND`] ulp; branch-free, so that loops
/// over lanes calling it vectorise. See the module documentation for the method.
#[inline(always)]
pub fn tanh(z: f64) -> f64 {
    let magnitude = z.abs();
    // NaN > 20 is false, so NaN passes through and poisons the result, as it must.
    let a = if magnitude > SATURATION {
        SATURATION
    } else {
        magnitude
    };
    let x = -2.0 * a;
    // k = round(x / ln 2) ∈ [−58, 0] sits in the low bits of `shifted`.
    let (r, shifted) = reduce(x);
    // 2^k from the integer in the low mantissa bits: exponent field k + 1023 (k ≥ −58).
    let two_k = f64::from_bits(shifted.wrapping_add(1023) << 52);
    let expm1_r = expm1_reduced(r);
    let m = two_k * expm1_r + (two_k - 1.0);
    (-m / (2.0 + m)).copysign(z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    /// Distance in units in the last place of `exact` (its spacing at that magnitude).
    fn ulps(value: f64, exact: f64) -> f64 {
        if value == exact {
            return 0.0;
        }
        let magnitude = exact.abs().max(f64::MIN_POSITIVE);
        let spacing = f64::from_bits(magnitude.to_bits() + 1) - magnitude;
        (value - exact).abs() / spacing
    }

    /// glibc documents `tanh` to within 2 ulp on x86-64, so against libm the difference may
    /// reach the proven bound plus 2.
    const AGAINST_LIBM: f64 = TANH_ULP_BOUND + 2.0;

    fn check(z: f64) -> f64 {
        let (fast, libm) = (tanh(z), z.tanh());
        let error = ulps(fast, libm);
        assert!(
            error <= AGAINST_LIBM,
            "tanh({z:e}) = {fast:e}, libm {libm:e}: {error} ulp"
        );
        assert_eq!(tanh(-z).to_bits(), (-fast).to_bits(), "odd at {z:e}");
        error
    }

    /// A dense sweep of [−25, 25] (every cell of width 2⁻¹⁴, 819 200 points) and 10⁶
    /// log-uniform magnitudes from 2⁻¹⁰⁷⁴ (the smallest subnormal) to 2¹⁰²⁴: the error never
    /// exceeds the bound. The largest error seen is printed.
    #[test]
    fn within_the_bound_over_the_whole_line() {
        let mut worst: f64 = 0.0;
        for k in -409_600..=409_600 {
            worst = worst.max(check(k as f64 / 16_384.0));
        }
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        for _ in 0..1_000_000 {
            // A random bit pattern with a random exponent: every binade equally often.
            let bits = rng.next_u64() >> 1;
            let z = f64::from_bits(bits);
            if z.is_finite() {
                worst = worst.max(check(z));
            }
        }
        eprintln!("largest tanh error against libm: {worst} ulp");
    }

    /// Signed zeros, subnormals, the saturation point, infinities and NaN.
    #[test]
    fn special_values() {
        assert_eq!(tanh(0.0).to_bits(), 0.0_f64.to_bits());
        assert_eq!(tanh(-0.0).to_bits(), (-0.0_f64).to_bits());
        for z in [
            f64::from_bits(1),
            -f64::from_bits(1),
            f64::from_bits(0x000f_ffff_ffff_ffff),
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            1e-300,
            1e-20,
        ] {
            assert_eq!(tanh(z), z, "tiny argument {z:e}");
        }
        for z in [19.5, 20.0, 20.5, 1e3, 1e300, f64::MAX, f64::INFINITY] {
            assert_eq!(tanh(z), z.tanh(), "{z:e}");
            assert_eq!(tanh(-z), (-z).tanh(), "{z:e}");
        }
        assert_eq!(tanh(f64::INFINITY), 1.0);
        assert_eq!(tanh(f64::NEG_INFINITY), -1.0);
        assert!(tanh(f64::NAN).is_nan());
        assert!(tanh(-f64::NAN).is_nan());
    }

    /// Across the arguments the regression network meets (|z| up to a few), the result is
    /// monotone, as `tanh` is.
    #[test]
    fn monotone_across_the_working_range() {
        let mut previous = tanh(-6.0);
        for k in -600_000..=600_000 {
            let z = k as f64 * 1e-5;
            let t = tanh(z);
            assert!(t >= previous, "not monotone at {z}");
            previous = t;
        }
    }
}
