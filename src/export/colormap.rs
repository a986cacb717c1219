//! Colour maps shared by the exported figures and the app, so that a slide and the screen
//! read alike.
//!
//! [`viridis`] is matplotlib's default map (van der Walt & Smith, 2015): its lightness rises
//! monotonically from dark violet to yellow, so a density reads correctly in greyscale and
//! for the common forms of colour blindness (deuteranopia, protanopia, tritanopia).
//! [`terrain`] maps loss landscapes, pale (low) to dark brown (high), so that a landscape never
//! reads like a density.

/// Which colour map a field is drawn with, and how its values are spread over it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColourMap {
    /// Densities: [`viridis`], linear in the value.
    #[default]
    Density,
    /// Loss landscapes: [`terrain`] of the square root of the value above the bottom of the
    /// range, so that a basin shows detail.
    Landscape,
}

impl ColourMap {
    /// The colour of `value` on the range `[low, high]`.
    pub fn colour(self, value: f64, low: f64, high: f64) -> [u8; 3] {
        let span = if high > low { high - low } else { 1.0 };
        let t = (value - low) / span;
        match self {
            ColourMap::Density => viridis(t),
            ColourMap::Landscape => terrain(t.max(0.0).sqrt()),
        }
    }
}

/// A sequential map for loss landscapes: pale (low loss) to dark brown (high loss), distinct
/// from the density's viridis; `t` is clamped to `[0, 1]`, NaN draws as the highest loss.
pub fn terrain(t: f64) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let low = [250.0, 246.0, 232.0];
    let mid = [196.0, 160.0, 110.0];
    let high = [84.0, 52.0, 36.0];
    std::array::from_fn(|c| {
        let v = if t < 0.5 {
            low[c] + (mid[c] - low[c]) * (2.0 * t)
        } else {
            mid[c] + (high[c] - mid[c]) * (2.0 * t - 1.0)
        };
        v.round() as u8
    })
}

/// Contour levels of a loss landscape whose values above its minimum run from 0 to
/// `highest`: `count` levels spaced as squares, so that a quadratic bowl shows evenly spaced
/// ellipses.
pub fn landscape_levels(highest: f64, count: usize) -> Vec<f64> {
    (1..=count)
        .map(|k| highest * (k as f64 / (count as f64 + 0.5)).powi(2))
        .collect()
}

/// Coefficients of the degree-6 polynomial fit of viridis in sRGB (one column per channel),
/// lowest order first; the fit (M. Zucker, 2019, public domain) matches matplotlib's
/// 256-entry table to within about 1 % per channel.
const VIRIDIS_COEFFICIENTS: [[f64; 3]; 7] = [
    [
        0.277_727_327_223_417_7,
        0.005_407_344_544_966_578,
        0.334_099_805_335_306_1,
    ],
    [
        0.105_093_043_108_577_4,
        1.404_613_529_898_575,
        1.384_590_162_594_685,
    ],
    [
        -0.330_861_828_725_556_3,
        0.214_847_559_468_213,
        0.095_095_163_028_236_59,
    ],
    [
        -4.634_230_498_983_486,
        -5.799_100_973_351_585,
        -19.332_440_956_279_87,
    ],
    [
        6.228_269_936_347_081,
        14.179_933_366_805_09,
        56.690_552_600_681_05,
    ],
    [
        4.776_384_997_670_288,
        -13.745_145_377_746_01,
        -65.353_032_633_372_34,
    ],
    [
        -5.435_455_855_934_631,
        4.645_852_612_178_535,
        26.312_435_249_583_2,
    ],
];

/// The viridis colour of `t ∈ [0, 1]` as sRGB bytes: 0 is dark violet, 1 is yellow.
///
/// `t` outside `[0, 1]` is clamped; NaN maps to the colour of 0 so that empty or undefined
/// cells draw as the darkest colour rather than failing.
pub fn viridis(t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let mut rgb = [0u8; 3];
    for (channel, byte) in rgb.iter_mut().enumerate() {
        // Horner's scheme from the highest order down.
        let value = VIRIDIS_COEFFICIENTS
            .iter()
            .rev()
            .fold(0.0, |acc, c| acc * t + c[channel]);
        *byte = (value.clamp(0.0, 1.0) * 255.0).round() as u8;
    }
    rgb
}

/// Relative luminance (WCAG / sRGB, in `[0, 1]`) of an sRGB colour; used to choose readable
/// text colours on top of the map and to check that the map's lightness is monotone.
pub fn relative_luminance(rgb: [u8; 3]) -> f64 {
    let linear = |byte: u8| {
        let c = f64::from(byte) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Anchor values of matplotlib's viridis table (entries 0, 128 and 255, as bytes).
    /// The polynomial fit is good to about 1 % (≈ 3 bytes); allow 5.
    #[test]
    fn matches_matplotlib_anchors() {
        let anchors = [
            (0.0, [68u8, 1, 84]),
            (128.0 / 255.0, [33, 145, 140]),
            (1.0, [253, 231, 37]),
        ];
        for (t, expected) in anchors {
            let got = viridis(t);
            for channel in 0..3 {
                let difference = (i32::from(got[channel]) - i32::from(expected[channel])).abs();
                assert!(
                    difference <= 5,
                    "viridis({t}) = {got:?}, expected {expected:?}"
                );
            }
        }
    }

    #[test]
    fn luminance_rises_monotonically() {
        let mut previous = -1.0;
        for i in 0..=100 {
            let luminance = relative_luminance(viridis(f64::from(i) / 100.0));
            assert!(luminance > previous, "luminance not increasing at {i}/100");
            previous = luminance;
        }
    }

    #[test]
    fn terrain_darkens_monotonically() {
        let mut previous = f64::INFINITY;
        for k in 0..=20 {
            let lightness = relative_luminance(terrain(k as f64 / 20.0));
            assert!(lightness < previous, "step {k}");
            previous = lightness;
        }
        assert_eq!(ColourMap::Landscape.colour(4.0, 0.0, 16.0), terrain(0.5));
    }

    #[test]
    fn clamps_and_handles_nan() {
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }
}
