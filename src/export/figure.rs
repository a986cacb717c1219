//! Figures as plain data, and their rendering to SVG and PNG with plotters.
//!
//! A [`Figure`] is a title, a caption and one or more [`Panel`]s side by side; a panel holds
//! only numbers and labels (a heatmap on a grid, contour levels, an arrow field, Gaussian
//! ellipses, point clouds, line series). The CLI builds figures from presets
//! ([`super::panels`]); the app builds one from its current view and calls the same
//! [`render_svg`] / [`render_png`] / [`super::save_figure`], so a slide and the screen agree.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::ExportError;
use super::colormap::viridis;

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// Colours for overlays, chosen to stay apart from viridis and from one another for the common
/// colour-vision deficiencies (Okabe–Ito palette).
pub mod palette {
    use super::Rgb;
    pub const ORANGE: Rgb = [230, 159, 0];
    pub const SKY_BLUE: Rgb = [86, 180, 233];
    pub const GREEN: Rgb = [0, 158, 115];
    pub const YELLOW: Rgb = [240, 228, 66];
    pub const BLUE: Rgb = [0, 114, 178];
    pub const VERMILION: Rgb = [213, 94, 0];
    pub const PURPLE: Rgb = [204, 121, 167];
    pub const BLACK: Rgb = [0, 0, 0];
    pub const WHITE: Rgb = [255, 255, 255];
    pub const GREY: Rgb = [120, 120, 120];
}

/// A whole figure: a title, a caption a lecturer can read out, and panels side by side.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figure {
    pub title: String,
    pub caption: String,
    pub panels: Vec<Panel>,
}

/// One plot: axes, labels and layers, drawn bottom to top in the order of the fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// `[x_min, x_max, y_min, y_max]` in data units (before any log scale).
    pub bounds: [f64; 4],
    /// Logarithmic axes (data must be positive); ticks read `10^k`.
    pub x_log: bool,
    pub y_log: bool,
    /// A colour-mapped field with its colour bar.
    pub heatmap: Option<Heatmap>,
    /// Level lines of a field on a grid.
    pub contours: Option<Contours>,
    pub arrows: Option<ArrowField>,
    pub ellipses: Vec<Ellipse>,
    pub lines: Vec<LineSeries>,
    pub points: Vec<PointSet>,
}

/// Values on the cell centres of a regular grid, row-major `iy * nx + ix`, drawn with
/// viridis and explained by a colour bar labelled `label`.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    pub nx: usize,
    pub ny: usize,
    /// `[x_min, x_max, y_min, y_max]` of the grid's outer edges.
    pub bounds: [f64; 4],
    pub values: Vec<f64>,
    /// The colour bar's label, e.g. `"probability density p(w)"`.
    pub label: String,
    /// Values mapped to the ends of the colour map; `None`: the finite minimum and maximum.
    pub range: Option<[f64; 2]>,
}

/// Level lines of a gridded field (marching squares), same layout as [`Heatmap`].
#[derive(Clone, Debug, PartialEq)]
pub struct Contours {
    pub nx: usize,
    pub ny: usize,
    pub bounds: [f64; 4],
    pub values: Vec<f64>,
    pub levels: Vec<f64>,
    pub color: Rgb,
    /// Legend entry; empty for none.
    pub label: String,
}

/// Arrows from `at` to `at + vector`, in data units (scale them before, e.g. with
/// [`ArrowField::from_grid`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ArrowField {
    pub arrows: Vec<Arrow>,
    pub color: Rgb,
    pub label: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrow {
    pub at: [f64; 2],
    pub vector: [f64; 2],
}

/// The `sigmas`-standard-deviation contour of a Gaussian with mean `centre` and covariance
/// `cov` (row-major 2 × 2): the points `centre + sigmas · Σ^{1/2} (cos θ, sin θ)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ellipse {
    pub centre: [f64; 2],
    pub cov: [f64; 4],
    pub sigmas: f64,
    pub color: Rgb,
    pub dashed: bool,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LineSeries {
    pub points: Vec<[f64; 2]>,
    pub color: Rgb,
    pub dashed: bool,
    /// Mark each point with a dot as well.
    pub markers: bool,
    pub label: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Dot,
    Cross,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PointSet {
    pub points: Vec<[f64; 2]>,
    pub color: Rgb,
    /// Opacity in `[0, 1]`: clouds of thousands of walkers read best around 0.3.
    pub opacity: f64,
    /// Radius in pixels at the reference height of 1000 px.
    pub size: f64,
    pub marker: Marker,
    pub label: String,
}

impl ArrowField {
    /// Arrows at every `stride`-th cell centre of a grid with `bounds` and a vector per cell,
    /// scaled so that the longest is `stride × 0.9` cells long. Cells whose vector is below
    /// `threshold ×` the longest are skipped (they would be dots).
    pub fn from_grid(
        nx: usize,
        ny: usize,
        bounds: [f64; 4],
        vectors: &[[f64; 2]],
        stride: usize,
        threshold: f64,
    ) -> Vec<Arrow> {
        let stride = stride.max(1);
        let dx = (bounds[1] - bounds[0]) / nx as f64;
        let dy = (bounds[3] - bounds[2]) / ny as f64;
        let mut chosen = Vec::new();
        let mut longest: f64 = 0.0;
        for iy in (stride / 2..ny).step_by(stride) {
            for ix in (stride / 2..nx).step_by(stride) {
                let Some(v) = vectors.get(iy * nx + ix) else {
                    continue;
                };
                if !(v[0].is_finite() && v[1].is_finite()) {
                    continue;
                }
                // Length measured in cells, so that anisotropic grids scale both axes alike.
                let cells = (v[0] / dx).hypot(v[1] / dy);
                longest = longest.max(cells);
                chosen.push((ix, iy, *v, cells));
            }
        }
        if longest <= 0.0 {
            return Vec::new();
        }
        let factor = 0.9 * stride as f64 / longest;
        chosen
            .into_iter()
            .filter(|(_, _, _, cells)| *cells >= threshold * longest)
            .map(|(ix, iy, v, _)| {
                let at = [
                    bounds[0] + (ix as f64 + 0.5) * dx,
                    bounds[2] + (iy as f64 + 0.5) * dy,
                ];
                let vector = [v[0] * factor, v[1] * factor];
                // Centre the arrow on the cell.
                Arrow {
                    at: [at[0] - 0.5 * vector[0], at[1] - 0.5 * vector[1]],
                    vector,
                }
            })
            .collect()
    }
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
    let magnitude = value.abs();
    if magnitude == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e5).contains(&magnitude) {
        let text = format!("{value:.1e}");
        return text.replace(".0e", "e");
    }
    let decimals = (2.0 - magnitude.log10().floor()).clamp(0.0, 6.0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn snap_zero(value: f64, span: f64) -> f64 {
    if value.abs() < 1e-9 * span.abs() {
        0.0
    } else {
        value
    }
}

/// The colour a legend uses for a layer: very light colours (drawn on a dark map) would
/// vanish on the legend's white box, so they are shown dark grey there.
fn legend_color(rgb: Rgb) -> RGBColor {
    if super::colormap::relative_luminance(rgb) > 0.7 {
        RGBColor(70, 70, 70)
    } else {
        color(rgb)
    }
}

const FONT: &str = "sans-serif";
static FONT_REGISTRATION: OnceLock<Result<(), String>> = OnceLock::new();

/// Register the bundled DejaVu Sans (assets/fonts, Bitstream Vera licence) with plotters;
/// text cannot be measured or drawn without it. Idempotent.
pub fn register_fonts() -> Result<(), ExportError> {
    FONT_REGISTRATION
        .get_or_init(|| {
            let regular: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
            let bold: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
            plotters::style::register_font(FONT, FontStyle::Normal, regular)
                .map_err(|_| "the bundled DejaVuSans.ttf is not a valid font".to_string())?;
            plotters::style::register_font(FONT, FontStyle::Bold, bold)
                .map_err(|_| "the bundled DejaVuSans-Bold.ttf is not a valid font".to_string())
        })
        .clone()
        .map_err(ExportError::Render)
}

fn render_error(error: impl std::fmt::Display) -> ExportError {
    ExportError::Render(error.to_string())
}

/// Render to an SVG document of `width × height` px.
pub fn render_svg_sized(figure: &Figure, width: u32, height: u32) -> Result<String, ExportError> {
    register_fonts()?;
    check_figure(figure)?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (width, height)).into_drawing_area();
        draw_figure(&root, figure)?;
        root.present().map_err(render_error)?;
    }
    Ok(text)
}

/// Render to an SVG document at the default size for its number of panels.
pub fn render_svg(figure: &Figure) -> Result<String, ExportError> {
    let (width, height) = default_size(figure);
    render_svg_sized(figure, width, height)
}

/// Render to RGB pixels (`width × height × 3`, row-major).
pub fn render_rgb(figure: &Figure, width: u32, height: u32) -> Result<Vec<u8>, ExportError> {
    register_fonts()?;
    check_figure(figure)?;
    let mut pixels = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        draw_figure(&root, figure)?;
        root.present().map_err(render_error)?;
    }
    Ok(pixels)
}

/// Render to a PNG file at `path` (written directly; [`super::save_figure`] wraps this
/// with a temporary file and a rename so that `path` is never half-written).
pub fn render_png(
    figure: &Figure,
    width: u32,
    height: u32,
    path: &std::path::Path,
) -> Result<(), ExportError> {
    register_fonts()?;
    check_figure(figure)?;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    draw_figure(&root, figure)?;
    root.present().map_err(|e| ExportError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Default size in px: 1800 × 1250 for one panel, 1200 px more per extra panel.
pub fn default_size(figure: &Figure) -> (u32, u32) {
    let panels = figure.panels.len().max(1) as u32;
    (600 + 1200 * panels, 1250)
}

fn check_figure(figure: &Figure) -> Result<(), ExportError> {
    if figure.panels.is_empty() {
        return Err(ExportError::Render("the figure has no panels".into()));
    }
    for panel in &figure.panels {
        let b = panel.bounds;
        let log_ok = (!panel.x_log || b[0] > 0.0) && (!panel.y_log || b[2] > 0.0);
        if b.iter().any(|x| !x.is_finite()) || b[0] >= b[1] || b[2] >= b[3] || !log_ok {
            return Err(ExportError::Render(format!(
                "panel \"{}\": bounds {b:?} are not an increasing range{}",
                panel.title,
                if log_ok { "" } else { " of positive values" }
            )));
        }
        if let Some(h) = &panel.heatmap
            && h.values.len() != h.nx * h.ny
        {
            return Err(ExportError::Render(format!(
                "panel \"{}\": heatmap has {} values for a {}×{} grid",
                panel.title,
                h.values.len(),
                h.nx,
                h.ny
            )));
        }
    }
    Ok(())
}

fn color(rgb: Rgb) -> RGBColor {
    RGBColor(rgb[0], rgb[1], rgb[2])
}

/// Greedy word wrap to at most `columns` characters a line.
fn wrap(text: &str, columns: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > columns {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
) -> Result<(), ExportError> {
    root.fill(&WHITE).map_err(render_error)?;
    let (width, height) = root.dim_in_pixel();
    // Everything scales with the height; 1000 px is the reference.
    let scale = f64::from(height) / 1000.0;
    let title_size = 40.0 * scale;
    let caption_size = 25.0 * scale;
    let margin = (30.0 * scale) as i32;

    let title_height = (title_size * 1.9) as u32;
    // Average glyph width of DejaVu Sans in running text is about 0.5 em.
    let columns = ((f64::from(width) - 2.0 * f64::from(margin)) / (0.5 * caption_size)) as usize;
    let caption_lines = wrap(&figure.caption, columns.max(20));
    let caption_height = (caption_lines.len() as f64 * caption_size * 1.35 + caption_size) as u32;

    let (title_area, rest) = root.split_vertically(title_height);
    let body_height = rest.dim_in_pixel().1.saturating_sub(caption_height);
    let (body, caption_area) = rest.split_vertically(body_height);

    title_area
        .draw(&Text::new(
            figure.title.clone(),
            (margin, (title_size * 0.5) as i32),
            (FONT, title_size, FontStyle::Bold).into_font(),
        ))
        .map_err(render_error)?;
    let caption_font = (FONT, caption_size)
        .into_font()
        .color(&RGBColor(60, 60, 60));
    for (k, line) in caption_lines.iter().enumerate() {
        caption_area
            .draw(&Text::new(
                line.clone(),
                (
                    margin,
                    (caption_size * 0.3 + k as f64 * caption_size * 1.35) as i32,
                ),
                caption_font.clone(),
            ))
            .map_err(render_error)?;
    }

    let areas = body.split_evenly((1, figure.panels.len()));
    for (area, panel) in areas.iter().zip(&figure.panels) {
        draw_panel(area, panel, scale)?;
    }
    Ok(())
}

/// Map a data value onto the (possibly logarithmic) drawing axis.
fn axis(value: f64, log: bool) -> f64 {
    if log { value.log10() } else { value }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    scale: f64,
) -> Result<(), ExportError> {
    let (width, _) = area.dim_in_pixel();
    let label_size = 27.0 * scale;
    let tick_size = 22.0 * scale;
    let panel_title_size = 30.0 * scale;
    let bar_width = (150.0 * scale) as u32;
    let (chart_area, bar_area) = if panel.heatmap.is_some() {
        let (chart, bar) = area.split_horizontally(width.saturating_sub(bar_width));
        (chart, Some(bar))
    } else {
        (area.clone(), None)
    };

    let (xl, yl) = (panel.x_log, panel.y_log);
    let b = panel.bounds;
    let x_range = axis(b[0], xl)..axis(b[1], xl);
    let y_range = axis(b[2], yl)..axis(b[3], yl);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(panel.title.clone(), (FONT, panel_title_size))
        .margin((20.0 * scale) as u32)
        .margin_right((10.0 * scale) as u32)
        .x_label_area_size((95.0 * scale) as u32)
        .y_label_area_size((125.0 * scale) as u32)
        .build_cartesian_2d(x_range, y_range)
        .map_err(render_error)?;

    // Ticks within rounding of zero read "0", not "-2.8e-17".
    let (x_span, y_span) = (
        axis(b[1], xl) - axis(b[0], xl),
        axis(b[3], yl) - axis(b[2], yl),
    );
    let x_format = move |v: &f64| {
        if xl {
            format_tick(10f64.powf(*v))
        } else {
            format_tick(snap_zero(*v, x_span))
        }
    };
    let y_format = move |v: &f64| {
        if yl {
            format_tick(10f64.powf(*v))
        } else {
            format_tick(snap_zero(*v, y_span))
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(panel.x_label.clone())
        .y_desc(panel.y_label.clone())
        .x_labels(7)
        .y_labels(7)
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .label_style((FONT, tick_size))
        .axis_desc_style((FONT, label_size))
        .draw()
        .map_err(render_error)?;

    let mut has_legend = false;
    let stroke = (3.0 * scale).max(1.0) as u32;

    if let Some(heatmap) = &panel.heatmap {
        let [low, high] = heatmap_range(heatmap);
        let span = if high > low { high - low } else { 1.0 };
        let dx = (heatmap.bounds[1] - heatmap.bounds[0]) / heatmap.nx as f64;
        let dy = (heatmap.bounds[3] - heatmap.bounds[2]) / heatmap.ny as f64;
        let cells = (0..heatmap.ny).flat_map(|iy| (0..heatmap.nx).map(move |ix| (ix, iy)));
        chart
            .draw_series(cells.map(|(ix, iy)| {
                let x0 = heatmap.bounds[0] + ix as f64 * dx;
                let y0 = heatmap.bounds[2] + iy as f64 * dy;
                let value = heatmap.values[iy * heatmap.nx + ix];
                let fill = color(viridis((value - low) / span));
                Rectangle::new(
                    [
                        (axis(x0, xl), axis(y0, yl)),
                        (axis(x0 + dx, xl), axis(y0 + dy, yl)),
                    ],
                    fill.filled(),
                )
            }))
            .map_err(render_error)?;
    }

    if let Some(contours) = &panel.contours {
        let style = color(contours.color).stroke_width((1.5 * scale).max(1.0) as u32);
        let segments: Vec<[[f64; 2]; 2]> = contours
            .levels
            .iter()
            .flat_map(|&level| {
                contour_segments(
                    contours.nx,
                    contours.ny,
                    contours.bounds,
                    &contours.values,
                    level,
                )
            })
            .collect();
        let series = chart
            .draw_series(segments.iter().map(|s| {
                PathElement::new(
                    vec![
                        (axis(s[0][0], xl), axis(s[0][1], yl)),
                        (axis(s[1][0], xl), axis(s[1][1], yl)),
                    ],
                    style,
                )
            }))
            .map_err(render_error)?;
        if !contours.label.is_empty() {
            has_legend = true;
            let legend_style = legend_color(contours.color).stroke_width((2.0 * scale) as u32);
            series.label(contours.label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + (22.0 * scale) as i32, y)], legend_style)
            });
        }
    }

    for set in &panel.points {
        let fill = color(set.color).mix(set.opacity.clamp(0.0, 1.0)).filled();
        let radius = (set.size * scale).max(1.0);
        let r = radius as i32;
        let width = (radius * 0.6).max(1.0) as u32;
        let cross_style = color(set.color).stroke_width(width);
        let coords: Vec<(f64, f64)> = set
            .points
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .map(|p| (axis(p[0], xl), axis(p[1], yl)))
            .collect();
        let series = match set.marker {
            Marker::Dot => chart
                .draw_series(coords.iter().map(|&c| Circle::new(c, r, fill)))
                .map_err(render_error)?,
            Marker::Cross => chart
                .draw_series(coords.iter().map(|&c| Cross::new(c, r, cross_style)))
                .map_err(render_error)?,
        };
        if !set.label.is_empty() {
            has_legend = true;
            let marker = set.marker;
            let legend_fill = legend_color(set.color).filled();
            let legend_cross = legend_color(set.color).stroke_width(width);
            let legend_r = (radius.max(4.0 * scale)) as i32;
            series.label(set.label.clone()).legend(move |(x, y)| {
                let centre = (x + (11.0 * scale) as i32, y);
                match marker {
                    Marker::Dot => Circle::new(centre, legend_r, legend_fill).into_dyn(),
                    Marker::Cross => Cross::new(centre, legend_r, legend_cross).into_dyn(),
                }
            });
        }
    }

    for ellipse in &panel.ellipses {
        let style = color(ellipse.color).stroke_width(stroke);
        let outline: Vec<(f64, f64)> = ellipse
            .outline(180)
            .iter()
            .map(|p| (axis(p[0], xl), axis(p[1], yl)))
            .collect();
        let series = if ellipse.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    outline,
                    (12.0 * scale) as u32,
                    (8.0 * scale) as u32,
                    style,
                ))
                .map_err(render_error)?
        } else {
            chart
                .draw_series(std::iter::once(PathElement::new(outline, style)))
                .map_err(render_error)?
        };
        if !ellipse.label.is_empty() {
            has_legend = true;
            series.label(ellipse.label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + (22.0 * scale) as i32, y)], style)
            });
        }
    }

    for line in &panel.lines {
        let style = color(line.color).stroke_width(stroke);
        let coords: Vec<(f64, f64)> = line
            .points
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .map(|p| (axis(p[0], xl), axis(p[1], yl)))
            .collect();
        let series = if line.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    coords.clone(),
                    (12.0 * scale) as u32,
                    (8.0 * scale) as u32,
                    style,
                ))
                .map_err(render_error)?
        } else {
            chart
                .draw_series(std::iter::once(PathElement::new(coords.clone(), style)))
                .map_err(render_error)?
        };
        if !line.label.is_empty() {
            has_legend = true;
            series.label(line.label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + (22.0 * scale) as i32, y)], style)
            });
        }
        if line.markers {
            let r = (5.0 * scale).max(2.0) as i32;
            chart
                .draw_series(
                    coords
                        .iter()
                        .map(|&c| Circle::new(c, r, color(line.color).filled())),
                )
                .map_err(render_error)?;
        }
    }

    if let Some(field) = &panel.arrows {
        let style = color(field.color).stroke_width((2.5 * scale).max(1.0) as u32);
        // Arrow heads are built in axis-normalised units so that they look the same on
        // anisotropic axes.
        let (sx, sy) = (
            axis(b[1], xl) - axis(b[0], xl),
            axis(b[3], yl) - axis(b[2], yl),
        );
        let mut paths = Vec::with_capacity(field.arrows.len() * 2);
        for arrow in &field.arrows {
            let start = (axis(arrow.at[0], xl), axis(arrow.at[1], yl));
            let end = (
                axis(arrow.at[0] + arrow.vector[0], xl),
                axis(arrow.at[1] + arrow.vector[1], yl),
            );
            if ![start.0, start.1, end.0, end.1]
                .iter()
                .all(|x| x.is_finite())
            {
                continue;
            }
            let (ux, uy) = ((end.0 - start.0) / sx, (end.1 - start.1) / sy);
            let length = ux.hypot(uy);
            if length <= 0.0 {
                continue;
            }
            let head = (0.35 * length).min(0.02);
            let (cx, cy) = (ux / length, uy / length);
            let barb = |sign: f64| {
                let angle: f64 = sign * 0.45;
                let (c, s) = (angle.cos(), angle.sin());
                let (bx, by) = (-(c * cx - s * cy) * head, -(s * cx + c * cy) * head);
                (end.0 + bx * sx, end.1 + by * sy)
            };
            paths.push(vec![start, end]);
            paths.push(vec![barb(1.0), end, barb(-1.0)]);
        }
        let series = chart
            .draw_series(paths.into_iter().map(|p| PathElement::new(p, style)))
            .map_err(render_error)?;
        if !field.label.is_empty() {
            has_legend = true;
            series.label(field.label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + (22.0 * scale) as i32, y)], style)
            });
        }
    }

    if has_legend {
        chart
            .configure_series_labels()
            .label_font((FONT, tick_size))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(80, 80, 80))
            // Over a heatmap the data sit in the middle; line plots here rise to the right.
            .position(if panel.heatmap.is_some() {
                SeriesLabelPosition::UpperRight
            } else {
                SeriesLabelPosition::LowerRight
            })
            .margin((10.0 * scale) as u32)
            .draw()
            .map_err(render_error)?;
    }

    if let (Some(bar), Some(heatmap)) = (bar_area, &panel.heatmap) {
        draw_colour_bar(&bar, heatmap, scale)?;
    }
    Ok(())
}

fn heatmap_range(heatmap: &Heatmap) -> [f64; 2] {
    if let Some(range) = heatmap.range {
        return range;
    }
    let finite = heatmap.values.iter().copied().filter(|v| v.is_finite());
    let (low, high) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if low.is_finite() && high.is_finite() {
        [low, high]
    } else {
        [0.0, 1.0]
    }
}

fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    heatmap: &Heatmap,
    scale: f64,
) -> Result<(), ExportError> {
    let [low, high] = heatmap_range(heatmap);
    let high = if high > low { high } else { low + 1.0 };
    let mut bar = ChartBuilder::on(area)
        // Leave room for the panel title above and the axis labels below, as in the chart.
        .margin_top((20.0 * scale + 30.0 * scale * 1.6) as u32)
        .margin_bottom((20.0 * scale + 95.0 * scale) as u32)
        .margin_left((5.0 * scale) as u32)
        .margin_right((5.0 * scale) as u32)
        .right_y_label_area_size((115.0 * scale) as u32)
        .build_cartesian_2d(0.0..1.0, low..high)
        .map_err(render_error)?;
    let formatter = |v: &f64| format_tick(*v);
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .set_all_tick_mark_size((6.0 * scale) as u32)
        .y_labels(6)
        .y_label_formatter(&formatter)
        .y_desc(heatmap.label.clone())
        .label_style((FONT, 20.0 * scale))
        .axis_desc_style((FONT, 24.0 * scale))
        .draw()
        .map_err(render_error)?;
    let steps = 256;
    let step = (high - low) / steps as f64;
    bar.draw_series((0..steps).map(|k| {
        let y0 = low + k as f64 * step;
        let fill = color(viridis((k as f64 + 0.5) / steps as f64));
        Rectangle::new([(0.0, y0), (1.0, y0 + step)], fill.filled())
    }))
    .map_err(render_error)?;
    bar.draw_series(std::iter::once(Rectangle::new(
        [(0.0, low), (1.0, high)],
        BLACK.stroke_width(1),
    )))
    .map_err(render_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn arrows_are_scaled_to_the_stride() {
        let vectors = vec![[1.0, 0.0]; 16];
        let arrows = ArrowField::from_grid(4, 4, [0.0, 4.0, 0.0, 4.0], &vectors, 2, 0.0);
        assert_eq!(arrows.len(), 4);
        for arrow in arrows {
            assert!((arrow.vector[0] - 1.8).abs() < 1e-12 && arrow.vector[1] == 0.0);
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

    #[test]
    fn caption_wraps_at_word_boundaries() {
        let lines = wrap("one two three four five", 9);
        assert_eq!(lines, ["one two", "three", "four five"]);
    }
}
