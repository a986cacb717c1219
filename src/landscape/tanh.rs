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
//! Every operation is an IEEE add, multiply, fused multiply-add (`f64::mul_add`, one rounding)
//! or divide, a bit operation or a select, in a fixed order. Each is correctly rounded, so the
//! same sequence gives the same bits on any hardware: [`tanh_simd`] runs it on whole SIMD
//! registers, and the kernels of [`super::kernel`] are tested bit for bit against their scalar
//! references. The fused multiply-adds shorten the dependency chain that a single walker's step
//! waits on (a chain of dependent calls: 34.6 → 26.6 ns per `tanh` on the development machine)
//! and only remove roundings, so the error bound of the unfused evaluation still holds
//! (docs/theory.md §11.1). The `exp` of the estimators ([`crate::stats::exp`]) shares the
//! reduction and the polynomial unfused (`FUSED = false`): it runs in code that is not always
//! compiled with FMA instructions, where a fused multiply-add would be a library call.

use pulp::Simd;

use super::kernel::{LANES, Lanes};

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

/// `a·b + c`: rounded once when `FUSED` (a fused multiply-add), else the product and then the
/// sum are rounded (`c + a·b` and `a·b + c` are the same bits).
#[inline(always)]
pub(crate) fn mul_add<const FUSED: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FUSED { a.mul_add(b, c) } else { a * b + c }
}

/// The Cody–Waite reduction `x = k ln 2 + r`, `k = round(x / ln 2)`, `|r| ≤ ln 2/2 (1 + 2⁻⁵⁰)`
/// for `|x / ln 2| < 2^51`: `r`, and the bits of `x / ln 2 + 1.5 · 2^52`, whose low mantissa
/// bits hold `k` (two's complement). Shared with [`crate::stats::exp::exp`].
#[inline(always)]
pub(crate) fn reduce<const FUSED: bool>(x: f64) -> (f64, u64) {
    let shifted = mul_add::<FUSED>(x, LOG2_E, ROUNDING_MAGIC);
    let k = shifted - ROUNDING_MAGIC;
    // x − k ln2_hi is exact (fused or not); then the low part.
    let r = mul_add::<FUSED>(-k, LN2_LO, mul_add::<FUSED>(-k, LN2_HI, x));
    (r, shifted.to_bits())
}

/// `e^r − 1` for a reduced `|r| ≤ ln 2 / 2`: `r + r² q(r)` with `q` the Taylor polynomial of
/// `(e^r − 1 − r)/r²` of degree 11 (degree 13 in all; remainder below `3.3·10⁻¹⁸ |r|`).
#[inline(always)]
pub(crate) fn expm1_reduced<const FUSED: bool>(r: f64) -> f64 {
    // q = Σ_{n=0}^{11} c_n r^n by Estrin's scheme: pairs `c_n + c_{n+1} r`, combined with
    // r² and r⁴, and `c_0` added last (as Horner's rule adds it), so that the one rounding of
    // full size is the final one (docs/theory.md §11.1). The dependency chain is 5 multiply-
    // adds long instead of 11: a single walker's step waits on it.
    let c = &INVERSE_FACTORIALS;
    let fma = mul_add::<FUSED>;
    let r2 = r * r;
    let r4 = r2 * r2;
    let p23 = fma(c[3], r, c[2]);
    let p45 = fma(c[5], r, c[4]);
    let p67 = fma(c[7], r, c[6]);
    let p89 = fma(c[9], r, c[8]);
    let p1011 = fma(c[11], r, c[10]);
    let h1 = fma(r2, p45, p23);
    let h2 = fma(r2, p89, p67);
    let tail = fma(r4, fma(r4, p1011, h2), h1);
    let q = c[0] + fma(r2, tail, c[1] * r);
    fma(r2, q, r)
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
    // k = round(x / ln 2) ∈ [−58, 0] for x = −2a, computed from `a` (scaling by −2 is exact,
    // so this is the reduction of x, one multiplication sooner); k sits in the low bits.
    let shifted = a.mul_add(-2.0 * LOG2_E, ROUNDING_MAGIC);
    let k = shifted - ROUNDING_MAGIC;
    let r = (-k).mul_add(LN2_LO, (-k).mul_add(LN2_HI, -2.0 * a));
    // 2^k from the integer in the low mantissa bits: exponent field k + 1023 (k ≥ −58).
    let two_k = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    let expm1_r = expm1_reduced::<true>(r);
    let m = two_k.mul_add(expm1_r, two_k - 1.0);
    (-m / (2.0 + m)).copysign(z)
}

/// [`tanh`] of `z`, lane by lane, in the SIMD registers of `simd`: the same IEEE operations in
/// the same order as the scalar function (fused multiply-adds where it fuses), so every lane is
/// the same bits as the scalar call (`simd_lanes_equal_the_scalar_function`). Written with
/// explicit vector operations rather than left to the compiler's vectoriser, whose choices for
/// a single walker's batch (vector width, gathers and scatters) changed with unrelated edits.
#[inline(always)]
pub fn tanh_simd<S: Simd>(simd: S, z: S::f64s) -> S::f64s {
    let splat = |v: f64| simd.splat_f64s(v);
    let fma = |a, b, c| simd.mul_add_f64s(a, b, c);
    let magnitude = simd.abs_f64s(z);
    // NaN > 20 is false, so NaN passes through, as in the scalar clamp.
    let saturation = splat(SATURATION);
    let clamped = simd.greater_than_f64s(magnitude, saturation);
    let a = simd.select_f64s(clamped, saturation, magnitude);
    let shifted = fma(a, splat(-2.0 * LOG2_E), splat(ROUNDING_MAGIC));
    let k = simd.sub_f64s(shifted, splat(ROUNDING_MAGIC));
    let minus_k = simd.neg_f64s(k);
    let x = simd.mul_f64s(splat(-2.0), a);
    let r = fma(minus_k, splat(LN2_LO), fma(minus_k, splat(LN2_HI), x));
    // (bits + 1023) · 2^52 wraps to (bits + 1023) << 52.
    let biased = simd.add_u64s(simd.transmute_u64s_f64s(shifted), simd.splat_u64s(1023));
    let two_k = simd.transmute_f64s_u64s(simd.mul_u64s(biased, simd.splat_u64s(1 << 52)));
    // expm1_reduced::<true>, operation for operation.
    let c = &INVERSE_FACTORIALS;
    let r2 = simd.mul_f64s(r, r);
    let r4 = simd.mul_f64s(r2, r2);
    let pair = |n: usize| fma(splat(c[n + 1]), r, splat(c[n]));
    let (p23, p45, p67, p89, p1011) = (pair(2), pair(4), pair(6), pair(8), pair(10));
    let h1 = fma(r2, p45, p23);
    let h2 = fma(r2, p89, p67);
    let tail = fma(r4, fma(r4, p1011, h2), h1);
    let q = simd.add_f64s(splat(c[0]), fma(r2, tail, simd.mul_f64s(splat(c[1]), r)));
    let expm1_r = fma(r2, q, r);
    let m = fma(two_k, expm1_r, simd.sub_f64s(two_k, splat(1.0)));
    let quotient = simd.div_f64s(simd.neg_f64s(m), simd.add_f64s(splat(2.0), m));
    // copysign(quotient, z)
    let sign = simd.splat_u64s(1 << 63);
    let bits = simd.or_u64s(
        simd.and_u64s(simd.transmute_u64s_f64s(quotient), simd.not_u64s(sign)),
        simd.and_u64s(simd.transmute_u64s_f64s(z), sign),
    );
    simd.transmute_f64s_u64s(bits)
}

/// [`tanh`] of every lane of `z`: whole SIMD registers through [`tanh_simd`], any remainder
/// (when the machine's register holds more than [`LANES`] doubles) through [`tanh`].
#[inline(always)]
pub fn tanh_lanes<S: Simd>(simd: S, z: &Lanes) -> Lanes {
    let mut out = [0.0; LANES];
    let (vectors, rest) = S::as_simd_f64s(z);
    let (out_vectors, out_rest) = S::as_mut_simd_f64s(&mut out);
    for (t, &z) in out_vectors.iter_mut().zip(vectors) {
        *t = tanh_simd(simd, z);
    }
    for (t, &z) in out_rest.iter_mut().zip(rest) {
        *t = tanh(z);
    }
    out
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

    /// Every lane of [`tanh_lanes`] is the scalar [`tanh`] to the bit, in this machine's widest
    /// registers and one double at a time: over a dense sweep of the working range, the
    /// saturation point, signed zeros, subnormals, infinities, NaN and random bit patterns of
    /// every binade, each argument in every lane position.
    #[test]
    fn simd_lanes_equal_the_scalar_function() {
        let mut arguments: Vec<f64> = (-200_000..=200_000).map(|k| k as f64 / 8_192.0).collect();
        arguments.extend([
            0.0,
            -0.0,
            f64::from_bits(1),
            -f64::from_bits(1),
            f64::MIN_POSITIVE,
            19.999_999,
            20.0,
            20.000_001,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]);
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        arguments.extend((0..200_000).map(|_| f64::from_bits(rng.next_u64())));
        struct Widest<'a>(&'a [f64]);
        impl pulp::WithSimd for Widest<'_> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) {
                lanes_equal_scalar(simd, self.0);
            }
        }
        pulp::Arch::new().dispatch(Widest(&arguments));
        lanes_equal_scalar(pulp::Scalar::new(), &arguments);
    }

    fn lanes_equal_scalar<S: Simd>(simd: S, arguments: &[f64]) {
        // Shifting by one argument per round puts each argument in every lane.
        for shift in 0..LANES {
            for chunk in arguments[shift..].chunks_exact(LANES) {
                let z: Lanes = chunk.try_into().expect("a chunk of LANES");
                let t = tanh_lanes(simd, &z);
                for (value, &z) in t.iter().zip(&z) {
                    let expected = tanh(z);
                    assert!(
                        value.to_bits() == expected.to_bits(),
                        "tanh({z:e}): lanes {value:e}, scalar {expected:e}"
                    );
                }
            }
        }
    }
}
