//! Colour maps. `viridis` stands in for `neqlab::export::colormap::viridis` until the export
//! module lands on main; the two must stay identical so that figures and the app agree.

/// The viridis colour map (perceptually uniform, colour-blind safe) at `t ∈ [0, 1]`, as a
/// degree-6 polynomial fit (within five 8-bit steps of the published table).
pub fn viridis(t: f64) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    const C: [[f64; 3]; 7] = [
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
    std::array::from_fn(|c| {
        let v = C.iter().rev().fold(0.0, |acc, k| acc * t + k[c]);
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    })
}

/// A sequential map for loss landscapes: pale (low loss) to dark brown (high loss), distinct
/// from the density's viridis.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_match_the_published_table() {
        // The fit is within 5/255 of the table. Published viridis: #440154 at 0, #21918c at 0.5, #fde725 at 1.
        let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 5);
        assert!(
            close(viridis(0.0), [0x44, 0x01, 0x54]),
            "{:?}",
            viridis(0.0)
        );
        assert!(
            close(viridis(0.5), [0x21, 0x91, 0x8c]),
            "{:?}",
            viridis(0.5)
        );
        assert!(
            close(viridis(1.0), [0xfd, 0xe7, 0x25]),
            "{:?}",
            viridis(1.0)
        );
    }
}
