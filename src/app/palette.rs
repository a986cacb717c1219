//! Colour maps: the density uses the library's viridis, shared with the exported figures;
//! the loss landscape uses a map of its own so the two never read alike.

pub use neqlab::export::colormap::viridis;

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
    fn terrain_darkens_monotonically() {
        let lightness = |c: [u8; 3]| c.iter().map(|&x| f64::from(x)).sum::<f64>();
        let mut previous = f64::INFINITY;
        for k in 0..=20 {
            let l = lightness(terrain(k as f64 / 20.0));
            assert!(l < previous, "step {k}");
            previous = l;
        }
    }
}
