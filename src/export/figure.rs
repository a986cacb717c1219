//! Figures as plain data: a [`Figure`] is a title, a caption and one or more [`Panel`]s side
//! by side; a panel holds only numbers and labels (a heatmap on a grid, contour levels, an
//! arrow field, Gaussian ellipses, point clouds, line series), and the geometry they need
//! (ellipse outlines, contour segments, tick labels). The CLI builds figures from presets
//! ([`super::panels`]); the app builds one from its current view; both render them with
//! [`super::render`], so a slide and the screen agree.

use super::colormap::ColourMap;

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// Colours for overlays, chosen to stay apart from viridis and from one another for the common
/// colour-vision deficiencies (Okabe–Ito palette).
pub mod palette {
    use super::Rgb;
    /// Okabe–Ito orange.
    pub const ORANGE: Rgb = [230, 159, 0];
    /// Okabe–Ito sky blue.
    pub const SKY_BLUE: Rgb = [86, 180, 233];
    /// Okabe–Ito bluish green.
    pub const GREEN: Rgb = [0, 158, 115];
    /// Okabe–Ito yellow.
    pub const YELLOW: Rgb = [240, 228, 66];
    /// Okabe–Ito blue.
    pub const BLUE: Rgb = [0, 114, 178];
    /// Okabe–Ito vermilion.
    pub const VERMILION: Rgb = [213, 94, 0];
    /// Okabe–Ito reddish purple.
    pub const PURPLE: Rgb = [204, 121, 167];
    /// Black.
    pub const BLACK: Rgb = [0, 0, 0];
    /// White.
    pub const WHITE: Rgb = [255, 255, 255];
    /// A neutral grey.
    pub const GREY: Rgb = [120, 120, 120];
}

/// A whole figure: a title, a caption a lecturer can read out, and panels side by side.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figure {
    /// The figure's title, above the panels.
    pub title: String,
    /// A caption a lecturer can read out, below them.
    pub caption: String,
    /// The panels, left to right.
    pub panels: Vec<Panel>,
}

/// Largest ratio of a panel's two sides (data units) that [`Panel::equal_scale`] draws on
/// one scale; beyond it each axis fills its side (the app's 2-D views use the same bound).
pub const EQUAL_SCALE_MAX_RATIO: f64 = 4.0;

/// One plot: axes, labels and layers, drawn bottom to top in the order of the fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// The panel's title.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// `[x_min, x_max, y_min, y_max]` in data units (before any log scale).
    pub bounds: [f64; 4],
    /// Logarithmic axes (data must be positive); ticks read `10^k`.
    pub x_log: bool,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// Both axes measure the same thing (two weights): draw them on one scale, so that
    /// shapes and angles are true, when the bounds' sides are within [`EQUAL_SCALE_MAX_RATIO`]
    /// of each other (the plot then leaves the rest of its area empty).
    pub equal_scale: bool,
    /// A colour-mapped field with its colour bar.
    pub heatmap: Option<Heatmap>,
    /// Level lines of a field on a grid.
    pub contours: Option<Contours>,
    /// Current arrows.
    pub arrows: Option<ArrowField>,
    /// Gaussian ellipses.
    pub ellipses: Vec<Ellipse>,
    /// Line series.
    pub lines: Vec<LineSeries>,
    /// Point clouds and markers.
    pub points: Vec<PointSet>,
}

/// Values on the cell centres of a regular grid, row-major `iy * nx + ix`, drawn with a
/// [`ColourMap`] and explained by a colour bar labelled `label`.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
    /// `[x_min, x_max, y_min, y_max]` of the grid's outer edges.
    pub bounds: [f64; 4],
    /// Values, row-major `iy * nx + ix`.
    pub values: Vec<f64>,
    /// The colour bar's label, e.g. `"probability density p(w)"`.
    pub label: String,
    /// Values mapped to the ends of the colour map; `None`: the finite minimum and maximum.
    pub range: Option<[f64; 2]>,
    /// The colour map (densities: viridis; loss landscapes: terrain).
    pub colour_map: ColourMap,
}

/// Level lines of a gridded field (marching squares), same layout as [`Heatmap`].
#[derive(Clone, Debug, PartialEq)]
pub struct Contours {
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
    /// `[x_min, x_max, y_min, y_max]` of the grid's outer edges.
    pub bounds: [f64; 4],
    /// Values at the cell centres, row-major.
    pub values: Vec<f64>,
    /// The levels drawn.
    pub levels: Vec<f64>,
    /// Line colour.
    pub color: Rgb,
    /// Legend entry; empty for none.
    pub label: String,
}

/// Arrows from `at` to `at + vector`, in data units (scaled before, e.g. by
/// [`crate::stationary::current_arrows`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ArrowField {
    /// The arrows.
    pub arrows: Vec<Arrow>,
    /// Their colour.
    pub color: Rgb,
    /// Legend entry; empty for none.
    pub label: String,
}

/// One arrow, in data units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrow {
    /// Its tail.
    pub at: [f64; 2],
    /// From tail to tip.
    pub vector: [f64; 2],
}

/// The `sigmas`-standard-deviation contour of a Gaussian with mean `centre` and covariance
/// `cov` (row-major 2 × 2): the points `centre + sigmas · Σ^{1/2} (cos θ, sin θ)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ellipse {
    /// The Gaussian's mean.
    pub centre: [f64; 2],
    /// Its covariance, row-major 2 × 2.
    pub cov: [f64; 4],
    /// Standard deviations out: 1 or 2.
    pub sigmas: f64,
    /// Line colour.
    pub color: Rgb,
    /// A dashed outline.
    pub dashed: bool,
    /// Legend entry; empty for none.
    pub label: String,
}

/// A polyline.
#[derive(Clone, Debug, PartialEq)]
pub struct LineSeries {
    /// Its points, in data units.
    pub points: Vec<[f64; 2]>,
    /// Line colour.
    pub color: Rgb,
    /// A dashed line.
    pub dashed: bool,
    /// Mark each point with a dot as well.
    pub markers: bool,
    /// Legend entry; empty for none.
    pub label: String,
}

/// How a point is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// A filled disc.
    Dot,
    /// A cross.
    Cross,
}

/// A cloud of marked points.
#[derive(Clone, Debug, PartialEq)]
pub struct PointSet {
    /// Its points, in data units.
    pub points: Vec<[f64; 2]>,
    /// Their colour.
    pub color: Rgb,
    /// Opacity in `[0, 1]`: clouds of thousands of walkers read best around 0.3.
    pub opacity: f64,
    /// Radius in pixels at the reference height of 1000 px.
    pub size: f64,
    /// How each is marked.
    pub marker: Marker,
    /// Legend entry; empty for none.
    pub label: String,
}

impl Ellipse {
    /// Points of the ellipse, closed (the first point repeated at the end); empty when the
    /// covariance is not positive semi-definite or not finite.
    pub fn outline(&self, segments: usize) -> Vec<[f64; 2]> {
        let [a, b, c, d] = self.cov;
        let b = 0.5 * (b + c);
        if ![a, b, d].iter().all(|x| x.is_finite()) {
            return Vec::new();
        }
        // Eigen-decomposition of the symmetric 2 × 2 matrix [[a, b], [b, d]].
        let mean = 0.5 * (a + d);
        let radius = (0.25 * (a - d) * (a - d) + b * b).sqrt();
        let (l1, l2) = (mean + radius, mean - radius);
        if l2 < -1e-12 * l1.abs().max(1e-300) {
            return Vec::new();
        }
        let angle = 0.5 * (2.0 * b).atan2(a - d);
        let (s1, s2) = (l1.max(0.0).sqrt(), l2.max(0.0).sqrt());
        let (cos, sin) = (angle.cos(), angle.sin());
        (0..=segments)
            .map(|k| {
                let theta = std::f64::consts::TAU * k as f64 / segments as f64;
                let (u, v) = (
                    self.sigmas * s1 * theta.cos(),
                    self.sigmas * s2 * theta.sin(),
                );
                [
                    self.centre[0] + cos * u - sin * v,
                    self.centre[1] + sin * u + cos * v,
                ]
            })
            .collect()
    }
}

/// Level-`level` segments of a gridded field by marching squares over the cell centres.
pub fn contour_segments(
    nx: usize,
    ny: usize,
    bounds: [f64; 4],
    values: &[f64],
    level: f64,
) -> Vec<[[f64; 2]; 2]> {
    let mut segments = Vec::new();
    if nx < 2 || ny < 2 || values.len() < nx * ny {
        return segments;
    }
    let dx = (bounds[1] - bounds[0]) / nx as f64;
    let dy = (bounds[3] - bounds[2]) / ny as f64;
    let centre = |ix: usize, iy: usize| {
        [
            bounds[0] + (ix as f64 + 0.5) * dx,
            bounds[2] + (iy as f64 + 0.5) * dy,
        ]
    };
    for iy in 0..ny - 1 {
        for ix in 0..nx - 1 {
            // Corners counter-clockwise from the lower left.
            let corners = [(ix, iy), (ix + 1, iy), (ix + 1, iy + 1), (ix, iy + 1)];
            let v: Vec<f64> = corners.iter().map(|&(i, j)| values[j * nx + i]).collect();
            if v.iter().any(|x| !x.is_finite()) {
                continue;
            }
            let mut crossings = Vec::with_capacity(4);
            for edge in 0..4 {
                let (p, q) = (edge, (edge + 1) % 4);
                if (v[p] < level) != (v[q] < level) {
                    let t = (level - v[p]) / (v[q] - v[p]);
                    let (a, b) = (
                        centre(corners[p].0, corners[p].1),
                        centre(corners[q].0, corners[q].1),
                    );
                    crossings.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
                }
            }
            match crossings.len() {
                2 => segments.push([crossings[0], crossings[1]]),
                // A saddle cell: pair the crossings by the cell's mean value.
                4 => {
                    let mean = v.iter().sum::<f64>() / 4.0;
                    if (mean < level) == (v[0] < level) {
                        segments.push([crossings[0], crossings[3]]);
                        segments.push([crossings[1], crossings[2]]);
                    } else {
                        segments.push([crossings[0], crossings[1]]);
                        segments.push([crossings[2], crossings[3]]);
                    }
                }
                _ => {}
            }
        }
    }
    segments
}

/// Tick label for a value: plain decimals for moderate magnitudes, scientific otherwise.
pub fn format_tick(value: f64) -> String {
    format_significant(value, 3, 2, 1e-3..1e5)
}

/// `x` with `digits` significant digits and no trailing zeros where `|x|` lies in `fixed`
/// (`0.0316`, `1`, `250`), else in scientific notation with `sci_digits` significant digits
/// (`2.5e-5`); `0` for zero, and Rust's own text for NaN and ±inf. The one short-number
/// formatter of figures, captions and the app's number fields.
pub fn format_significant(
    x: f64,
    digits: usize,
    sci_digits: usize,
    fixed: std::ops::Range<f64>,
) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return x.to_string();
    }
    let magnitude = x.abs();
    if fixed.contains(&magnitude) {
        let decimals = (digits as f64 - 1.0 - magnitude.log10().floor()).max(0.0) as usize;
        return trim_zeros(format!("{x:.decimals$}"));
    }
    let text = format!("{x:.*e}", sci_digits.saturating_sub(1));
    match text.split_once('e') {
        Some((mantissa, exponent)) => format!("{}e{exponent}", trim_zeros(mantissa.into())),
        None => text,
    }
}

/// `1.50` → `1.5`, `2.00` → `2`; text without a decimal point is left alone.
fn trim_zeros(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Tick label for a value on an axis spanning `span` with up to `max_ticks` ticks: enough
/// digits that neighbouring ticks never read alike (0.99, 0.995, 1, 1.005, 1.01), which
/// [`format_tick`] alone does not guarantee when the span is small next to the values.
pub fn format_tick_on_axis(value: f64, span: f64, max_ticks: usize) -> String {
    let magnitude = value.abs();
    // The finest step a tick generator can choose (steps of 1, 2, 2.5 or 5 × 10^k): a tenth
    // of it sets the last digit needed.
    let finest_step = span.abs() / max_ticks.max(1) as f64 / 2.5;
    if magnitude == 0.0 || !finest_step.is_finite() || finest_step <= 0.0 {
        return format_tick(value);
    }
    if !(1e-3..1e5).contains(&magnitude) {
        let digits = (magnitude.log10().floor() - finest_step.log10().floor()).clamp(1.0, 6.0);
        let text = format!("{value:.*e}", digits as usize);
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let needed = (-finest_step.log10().floor()).clamp(0.0, 9.0) as usize;
    let decimals = needed.max((2.0 - magnitude.log10().floor()).clamp(0.0, 6.0) as usize);
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_on_a_narrow_axis_never_read_alike() {
        let ticks = [0.99, 0.995, 1.0, 1.005, 1.01];
        let labels: Vec<String> = ticks
            .iter()
            .map(|&v| format_tick_on_axis(v, 0.02, 7))
            .collect();
        assert_eq!(labels, ["0.99", "0.995", "1", "1.005", "1.01"]);
        // The plain formatter prints 1.005 as "1": the bug this guards against.
        assert_eq!(format_tick(1.005), "1");
        // Wide axes keep short labels; tiny values keep scientific notation with the digits
        // their spacing needs.
        assert_eq!(format_tick_on_axis(20.0, 100.0, 7), "20");
        assert_eq!(format_tick_on_axis(0.25, 1.0, 7), "0.25");
        assert_ne!(
            format_tick_on_axis(1.0e-4, 2.5e-6 * 7.0, 7),
            format_tick_on_axis(1.025e-4, 2.5e-6 * 7.0, 7)
        );
        for k in 0..40 {
            let (a, b) = (1.0 + 0.0025 * k as f64, 1.0 + 0.0025 * (k + 1) as f64);
            assert_ne!(
                format_tick_on_axis(a, 0.0175, 7),
                format_tick_on_axis(b, 0.0175, 7)
            );
        }
    }

    #[test]
    fn ellipse_outline_matches_covariance() {
        // For Σ = diag(4, 1) at 1σ the outline spans ±2 in x and ±1 in y.
        let ellipse = Ellipse {
            centre: [1.0, -1.0],
            cov: [4.0, 0.0, 0.0, 1.0],
            sigmas: 1.0,
            color: palette::ORANGE,
            dashed: false,
            label: String::new(),
        };
        let outline = ellipse.outline(360);
        let max_x = outline.iter().map(|p| p[0]).fold(f64::MIN, f64::max);
        let max_y = outline.iter().map(|p| p[1]).fold(f64::MIN, f64::max);
        assert!((max_x - 3.0).abs() < 1e-9 && (max_y - 0.0).abs() < 1e-9);
        // A rotated covariance: every outline point x satisfies (x−c)ᵀ Σ⁻¹ (x−c) = σ².
        let cov = [2.0, 0.8, 0.8, 1.0];
        let ellipse = Ellipse {
            cov,
            sigmas: 2.0,
            ..ellipse
        };
        let det = cov[0] * cov[3] - cov[1] * cov[2];
        for p in ellipse.outline(64) {
            let (u, v) = (p[0] - 1.0, p[1] + 1.0);
            let q = (cov[3] * u * u - 2.0 * cov[1] * u * v + cov[0] * v * v) / det;
            assert!((q - 4.0).abs() < 1e-9, "{q}");
        }
    }

    #[test]
    fn contours_of_a_paraboloid_lie_on_circles() {
        let (nx, ny, bounds) = (41, 41, [-2.0, 2.0, -2.0, 2.0]);
        let d = 4.0 / 41.0;
        let values: Vec<f64> = (0..ny)
            .flat_map(|iy| {
                (0..nx).map(move |ix| {
                    let (x, y) = (-2.0 + (ix as f64 + 0.5) * d, -2.0 + (iy as f64 + 0.5) * d);
                    x * x + y * y
                })
            })
            .collect();
        let segments = contour_segments(nx, ny, bounds, &values, 1.0);
        assert!(segments.len() > 40);
        // Linear interpolation of r² between centres a cell apart errs by at most d²/4.
        for point in segments.iter().flatten() {
            let r2 = point[0] * point[0] + point[1] * point[1];
            assert!((r2 - 1.0).abs() < d * d, "{r2}");
        }
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(format_tick(0.0), "0");
        assert_eq!(format_tick(0.25), "0.25");
        assert_eq!(format_tick(12.0), "12");
        assert_eq!(format_tick(2.5e-5), "2.5e-5");
        assert_eq!(format_tick(1e-6), "1e-6");
    }
}
