//! Rendering [`Figure`]s to SVG and PNG with plotters: the layout of title, caption and panels,
//! each panel's axes, layers, legend and colour bar.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::ExportError;
use super::figure::{
    ArrowField, Contours, EQUAL_SCALE_MAX_RATIO, Figure, Heatmap, LineSeries, Marker, Panel,
    PointSet, Rgb, contour_segments, format_tick, format_tick_on_axis,
};

/// A panel's frame around its plotting rectangle, in pixels at scale 1: the margin on every
/// side but the right, the right margin, the areas of the x and y tick labels, and the
/// title's font size.
const PANEL_MARGIN: f64 = 20.0;
const PANEL_MARGIN_RIGHT: f64 = 10.0;
const X_LABEL_AREA: f64 = 95.0;
const Y_LABEL_AREA: f64 = 125.0;
const PANEL_TITLE_SIZE: f64 = 30.0;
/// Width of a heatmap's colour bar beside its panel, at scale 1.
const COLOUR_BAR_WIDTH: f64 = 150.0;

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

/// Default height of a figure in px.
const DEFAULT_HEIGHT: u32 = 1250;
/// The narrowest default width (the caption stays readable).
const MIN_DEFAULT_WIDTH: u32 = 1600;

/// Default size in px: 1250 high; 1800 wide for one panel and 1200 more per extra panel, or
/// narrower when every panel is drawn on one scale ([`Panel::equal_scale`]) and its plotting
/// rectangle, as tall as the figure allows, needs less (never below [`MIN_DEFAULT_WIDTH`]),
/// so that a tall plot does not stand in a wide panel of white.
pub fn default_size(figure: &Figure) -> (u32, u32) {
    let panels = figure.panels.len().max(1) as u32;
    let wide = 600 + 1200 * panels;
    // The caption wraps to more lines in a narrower figure, which lowers the plots and so the
    // width they need: a second pass settles it (a plot that still comes out a little
    // narrower than its panel is centred in it).
    let mut width = wide;
    for _ in 0..2 {
        match equal_scale_width(figure, width, DEFAULT_HEIGHT) {
            Some(needed) => width = needed.clamp(MIN_DEFAULT_WIDTH.min(wide), wide),
            None => return (wide, DEFAULT_HEIGHT),
        }
    }
    (width, DEFAULT_HEIGHT)
}

/// The heights of a figure's title and caption at `width × height`, as [`draw_figure`] lays
/// them out, with the caption's lines.
fn title_and_caption(figure: &Figure, width: u32, height: u32) -> (u32, u32, Vec<String>) {
    // Everything scales with the height; 1000 px is the reference.
    let scale = f64::from(height) / 1000.0;
    let (title_size, caption_size) = (40.0 * scale, 25.0 * scale);
    let margin = (30.0 * scale) as i32;
    // Average glyph width of DejaVu Sans in running text is about 0.5 em.
    let columns = ((f64::from(width) - 2.0 * f64::from(margin)) / (0.5 * caption_size)) as usize;
    let lines = wrap(&figure.caption, columns.max(20));
    let caption_height = (lines.len() as f64 * caption_size * 1.35 + caption_size) as u32;
    ((title_size * 1.9) as u32, caption_height, lines)
}

/// The figure width at which every panel's plotting rectangle, drawn on one scale, fills its
/// panel at `height`; `None` unless every panel is drawn on one scale.
fn equal_scale_width(figure: &Figure, width: u32, height: u32) -> Option<u32> {
    register_fonts().ok()?;
    let scale = f64::from(height) / 1000.0;
    let px = |size: f64| f64::from((size * scale) as u32);
    let (title, caption, _) = title_and_caption(figure, width, height);
    let body = f64::from(height.saturating_sub(title + caption));
    let mut widest: f64 = 0.0;
    for panel in &figure.panels {
        let ratio = equal_scale_ratio(panel)?;
        let (title_width, title_height) = (FONT, PANEL_TITLE_SIZE * scale)
            .into_font()
            .box_size(&panel.title)
            .ok()?;
        let panel_title = f64::from(title_height + 2 * (title_height / 2).min(5));
        let plot_height = body - 2.0 * px(PANEL_MARGIN) - px(X_LABEL_AREA) - panel_title;
        let bar = if panel.heatmap.is_some() {
            px(COLOUR_BAR_WIDTH)
        } else {
            0.0
        };
        let frame = px(PANEL_MARGIN) + px(PANEL_MARGIN_RIGHT) + px(Y_LABEL_AREA) + bar;
        // Wide enough for the plot beside its labels and bar, and for the panel's title.
        let title_room = f64::from(title_width) + 2.0 * px(PANEL_MARGIN);
        widest = widest
            .max(plot_height.max(1.0) / ratio + frame)
            .max(title_room);
    }
    Some((widest.ceil() as u32 + 1) * figure.panels.len() as u32)
}

/// A panel's height over width in data units when it is drawn on one scale.
fn equal_scale_ratio(panel: &Panel) -> Option<f64> {
    let b = panel.bounds;
    let ratio = (b[3] - b[2]) / (b[1] - b[0]);
    let same_units = panel.equal_scale && !panel.x_log && !panel.y_log;
    (same_units && (1.0 / EQUAL_SCALE_MAX_RATIO..=EQUAL_SCALE_MAX_RATIO).contains(&ratio))
        .then_some(ratio)
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
    let (title_height, caption_height, caption_lines) = title_and_caption(figure, width, height);

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

/// The chart of one panel, in (possibly logarithmic) axis coordinates.
type Chart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// How a panel maps data to drawing coordinates and sizes its marks.
#[derive(Clone, Copy)]
struct Axes {
    x_log: bool,
    y_log: bool,
    /// Figure scale: 1 at the reference height of 1000 px.
    scale: f64,
}

impl Axes {
    fn point(&self, p: [f64; 2]) -> (f64, f64) {
        (axis(p[0], self.x_log), axis(p[1], self.y_log))
    }

    fn finite_points(&self, points: &[[f64; 2]]) -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .map(|&p| self.point(p))
            .collect()
    }

    /// A legend entry drawn as a short line.
    fn legend_line(
        &self,
        style: ShapeStyle,
    ) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> + use<> {
        let length = (22.0 * self.scale) as i32;
        move |(x, y)| PathElement::new(vec![(x, y), (x + length, y)], style)
    }

    /// A solid or dashed line through `points`, labelled in the legend unless `label` is
    /// empty; returns whether it added a legend entry.
    fn draw_path<'a, DB: DrawingBackend + 'a>(
        &self,
        chart: &mut Chart<'a, DB>,
        points: Vec<(f64, f64)>,
        style: ShapeStyle,
        dashed: bool,
        label: &str,
    ) -> Result<bool, ExportError> {
        let series = if dashed {
            let (dash, gap) = ((12.0 * self.scale) as u32, (8.0 * self.scale) as u32);
            chart
                .draw_series(DashedLineSeries::new(points, dash, gap, style))
                .map_err(render_error)?
        } else {
            chart
                .draw_series(std::iter::once(PathElement::new(points, style)))
                .map_err(render_error)?
        };
        if label.is_empty() {
            return Ok(false);
        }
        series
            .label(label.to_string())
            .legend(self.legend_line(style));
        Ok(true)
    }
}

/// `area` with margins that give the panel's plotting rectangle the shape of its bounds when
/// it asks for one scale on both axes ([`Panel::equal_scale`]): the plotting rectangle and
/// its colour bar keep their places relative to each other and the rest of `area` stays
/// empty. The frame around the rectangle is computed as plotters lays it out: the margins,
/// then the title (its text height plus twice `min(height / 2, 5)` of padding), then the
/// label areas.
fn equal_scale_area<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    scale: f64,
) -> Result<DrawingArea<DB, Shift>, ExportError> {
    let Some(ratio) = equal_scale_ratio(panel) else {
        return Ok(area.clone());
    };
    let px = |size: f64| f64::from((size * scale) as u32);
    let (width, height) = area.dim_in_pixel();
    let bar = if panel.heatmap.is_some() {
        px(COLOUR_BAR_WIDTH)
    } else {
        0.0
    };
    let title_style: TextStyle = (FONT, PANEL_TITLE_SIZE * scale).into();
    let (_, title_height) = area
        .estimate_text_size(&panel.title, &title_style)
        .map_err(render_error)?;
    let title = f64::from(title_height + 2 * (title_height / 2).min(5));
    let plot_width =
        f64::from(width) - bar - px(PANEL_MARGIN) - px(PANEL_MARGIN_RIGHT) - px(Y_LABEL_AREA);
    let plot_height = f64::from(height) - 2.0 * px(PANEL_MARGIN) - px(X_LABEL_AREA) - title;
    if plot_width < 1.0 || plot_height < 1.0 {
        return Ok(area.clone());
    }
    Ok(if plot_height > plot_width * ratio {
        let spare = (plot_height - plot_width * ratio).round() as i32;
        area.margin(spare / 2, spare - spare / 2, 0, 0)
    } else {
        let spare = (plot_width - plot_height / ratio).round() as i32;
        area.margin(0, 0, spare / 2, spare - spare / 2)
    })
}

/// Draw `panel` in `area`; returns its plotting rectangle's pixel ranges (x, y).
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    scale: f64,
) -> Result<(std::ops::Range<i32>, std::ops::Range<i32>), ExportError> {
    let area = &equal_scale_area(area, panel, scale)?;
    let (width, _) = area.dim_in_pixel();
    let bar_width = (COLOUR_BAR_WIDTH * scale) as u32;
    let (chart_area, bar_area) = if panel.heatmap.is_some() {
        let (chart, bar) = area.split_horizontally(width.saturating_sub(bar_width));
        (chart, Some(bar))
    } else {
        (area.clone(), None)
    };
    let axes = Axes {
        x_log: panel.x_log,
        y_log: panel.y_log,
        scale,
    };
    let mut chart = build_chart(&chart_area, panel, axes)?;
    let mut has_legend = false;
    if let Some(heatmap) = &panel.heatmap {
        draw_heatmap(&mut chart, heatmap, axes)?;
    }
    if let Some(contours) = &panel.contours {
        has_legend |= draw_contours(&mut chart, contours, axes)?;
    }
    for set in &panel.points {
        has_legend |= draw_points(&mut chart, set, axes)?;
    }
    let stroke = (3.0 * scale).max(1.0) as u32;
    for ellipse in &panel.ellipses {
        let style = color(ellipse.color).stroke_width(stroke);
        let outline = axes.finite_points(&ellipse.outline(180));
        has_legend |= axes.draw_path(&mut chart, outline, style, ellipse.dashed, &ellipse.label)?;
    }
    for line in &panel.lines {
        has_legend |= draw_line(&mut chart, line, axes, stroke)?;
    }
    if let Some(field) = &panel.arrows {
        has_legend |= draw_arrows(&mut chart, field, panel.bounds, axes)?;
    }
    if has_legend {
        chart
            .configure_series_labels()
            .label_font((FONT, 22.0 * scale))
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
    Ok(chart.plotting_area().get_pixel_range())
}

/// The axes, ticks and labels of a panel.
fn build_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    panel: &Panel,
    axes: Axes,
) -> Result<Chart<'a, DB>, ExportError> {
    let (xl, yl, scale) = (axes.x_log, axes.y_log, axes.scale);
    let b = panel.bounds;
    let x_range = axis(b[0], xl)..axis(b[1], xl);
    let y_range = axis(b[2], yl)..axis(b[3], yl);
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title.clone(), (FONT, PANEL_TITLE_SIZE * scale))
        .margin((PANEL_MARGIN * scale) as u32)
        .margin_right((PANEL_MARGIN_RIGHT * scale) as u32)
        .x_label_area_size((X_LABEL_AREA * scale) as u32)
        .y_label_area_size((Y_LABEL_AREA * scale) as u32)
        .build_cartesian_2d(x_range, y_range)
        .map_err(render_error)?;
    // Ticks within rounding of zero read "0", not "-2.8e-17".
    let (x_span, y_span) = (
        axis(b[1], xl) - axis(b[0], xl),
        axis(b[3], yl) - axis(b[2], yl),
    );
    let tick = |v: f64, log: bool, span: f64| {
        if log {
            format_tick(10f64.powf(v))
        } else {
            format_tick_on_axis(snap_zero(v, span), span, 7)
        }
    };
    let x_format = move |v: &f64| tick(*v, xl, x_span);
    let y_format = move |v: &f64| tick(*v, yl, y_span);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(panel.x_label.clone())
        .y_desc(panel.y_label.clone())
        .x_labels(7)
        .y_labels(7)
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .label_style((FONT, 22.0 * scale))
        .axis_desc_style((FONT, 27.0 * scale))
        .draw()
        .map_err(render_error)?;
    Ok(chart)
}

fn draw_heatmap<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    heatmap: &Heatmap,
    axes: Axes,
) -> Result<(), ExportError> {
    let [low, high] = heatmap_range(heatmap);
    let dx = (heatmap.bounds[1] - heatmap.bounds[0]) / heatmap.nx as f64;
    let dy = (heatmap.bounds[3] - heatmap.bounds[2]) / heatmap.ny as f64;
    let cells = (0..heatmap.ny).flat_map(|iy| (0..heatmap.nx).map(move |ix| (ix, iy)));
    chart
        .draw_series(cells.map(|(ix, iy)| {
            let x0 = heatmap.bounds[0] + ix as f64 * dx;
            let y0 = heatmap.bounds[2] + iy as f64 * dy;
            let value = heatmap.values[iy * heatmap.nx + ix];
            let fill = color(heatmap.colour_map.colour(value, low, high));
            Rectangle::new(
                [axes.point([x0, y0]), axes.point([x0 + dx, y0 + dy])],
                fill.filled(),
            )
        }))
        .map_err(render_error)?;
    Ok(())
}

fn draw_contours<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    contours: &Contours,
    axes: Axes,
) -> Result<bool, ExportError> {
    let style = color(contours.color).stroke_width((1.5 * axes.scale).max(1.0) as u32);
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
        .draw_series(
            segments
                .iter()
                .map(|s| PathElement::new(vec![axes.point(s[0]), axes.point(s[1])], style)),
        )
        .map_err(render_error)?;
    if contours.label.is_empty() {
        return Ok(false);
    }
    let legend_style = legend_color(contours.color).stroke_width((2.0 * axes.scale) as u32);
    series
        .label(contours.label.clone())
        .legend(axes.legend_line(legend_style));
    Ok(true)
}

fn draw_points<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    set: &PointSet,
    axes: Axes,
) -> Result<bool, ExportError> {
    let scale = axes.scale;
    let fill = color(set.color).mix(set.opacity.clamp(0.0, 1.0)).filled();
    let radius = (set.size * scale).max(1.0);
    let r = radius as i32;
    let width = (radius * 0.6).max(1.0) as u32;
    let cross_style = color(set.color).stroke_width(width);
    let coords = axes.finite_points(&set.points);
    let series = match set.marker {
        Marker::Dot => chart
            .draw_series(coords.iter().map(|&c| Circle::new(c, r, fill)))
            .map_err(render_error)?,
        Marker::Cross => chart
            .draw_series(coords.iter().map(|&c| Cross::new(c, r, cross_style)))
            .map_err(render_error)?,
    };
    if set.label.is_empty() {
        return Ok(false);
    }
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
    Ok(true)
}

fn draw_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    line: &LineSeries,
    axes: Axes,
    stroke: u32,
) -> Result<bool, ExportError> {
    let style = color(line.color).stroke_width(stroke);
    let coords = axes.finite_points(&line.points);
    let labelled = axes.draw_path(chart, coords.clone(), style, line.dashed, &line.label)?;
    if line.markers {
        let r = (5.0 * axes.scale).max(2.0) as i32;
        chart
            .draw_series(
                coords
                    .iter()
                    .map(|&c| Circle::new(c, r, color(line.color).filled())),
            )
            .map_err(render_error)?;
    }
    Ok(labelled)
}

fn draw_arrows<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    field: &ArrowField,
    b: [f64; 4],
    axes: Axes,
) -> Result<bool, ExportError> {
    let (xl, yl) = (axes.x_log, axes.y_log);
    let style = color(field.color).stroke_width((2.5 * axes.scale).max(1.0) as u32);
    // Arrow heads are built in axis-normalised units so that they look the same on
    // anisotropic axes.
    let (sx, sy) = (
        axis(b[1], xl) - axis(b[0], xl),
        axis(b[3], yl) - axis(b[2], yl),
    );
    let mut paths = Vec::with_capacity(field.arrows.len() * 2);
    for arrow in &field.arrows {
        let start = axes.point(arrow.at);
        let end = axes.point([arrow.at[0] + arrow.vector[0], arrow.at[1] + arrow.vector[1]]);
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
    if field.label.is_empty() {
        return Ok(false);
    }
    series
        .label(field.label.clone())
        .legend(axes.legend_line(style));
    Ok(true)
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
    let formatter = |v: &f64| format_tick_on_axis(*v, high - low, 6);
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
        let fill = color(heatmap.colour_map.colour(y0 + 0.5 * step, low, high));
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

    /// The plotting rectangle's pixel ranges of `panel` drawn alone on `width × height`.
    fn plot_ranges(
        panel: &Panel,
        width: u32,
        height: u32,
    ) -> (std::ops::Range<i32>, std::ops::Range<i32>) {
        register_fonts().expect("the bundled font");
        let mut pixels = vec![255u8; width as usize * height as usize * 3];
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        draw_panel(&root, panel, 1.0).expect("drawn")
    }

    /// A panel of two weights is drawn on one scale whatever its area's shape: pixels per unit
    /// along x and y agree to 1% (the ranges are whole pixels of about 400 to 1500), in areas
    /// wider and taller than the bounds; with `equal_scale` off the rectangle fills the area,
    /// and so it does on bounds beyond 4:1.
    #[test]
    fn weight_panels_share_one_scale_in_any_area() {
        let heatmap = Heatmap {
            nx: 2,
            ny: 2,
            bounds: [-0.17, 0.17, -0.22, 0.22],
            values: vec![0.0, 1.0, 2.0, 3.0],
            label: "p".into(),
            range: None,
            colour_map: Default::default(),
        };
        let panel = Panel {
            title: "A rotating current in a bowl".into(),
            bounds: heatmap.bounds,
            equal_scale: true,
            heatmap: Some(heatmap),
            ..Panel::default()
        };
        let per_unit = |(x, y): (std::ops::Range<i32>, std::ops::Range<i32>), b: [f64; 4]| {
            (
                f64::from(x.end - x.start) / (b[1] - b[0]),
                f64::from(y.end - y.start) / (b[3] - b[2]),
            )
        };
        for (width, height) in [(1800, 1250), (3000, 900), (900, 1600), (1200, 1250)] {
            let (x, y) = per_unit(plot_ranges(&panel, width, height), panel.bounds);
            assert!(
                (x / y - 1.0).abs() < 0.01,
                "{width}×{height}: {x:.1} vs {y:.1} px per unit"
            );
        }
        let free = Panel {
            equal_scale: false,
            ..panel.clone()
        };
        let (x, y) = per_unit(plot_ranges(&free, 3000, 900), free.bounds);
        assert!(
            x / y > 2.0,
            "without equal_scale the wide area stretches x: {x} vs {y}"
        );
        let long = Panel {
            bounds: [0.0, 10.0, 0.0, 1.0],
            ..panel
        };
        let (x, y) = per_unit(plot_ranges(&long, 1800, 1250), long.bounds);
        assert!(x / y < 0.5, "10:1 bounds fill the area: {x} vs {y}");
    }

    /// Two tall panels drawn on one scale get a narrower default figure than the usual
    /// 3000 px, in which each plot takes most of its panel's width (the rest being its tick
    /// labels and colour bar); panels that fill their areas keep the usual size.
    #[test]
    fn default_size_fits_panels_drawn_on_one_scale() {
        let tall = Panel {
            title: "Simulation: histogram and current".into(),
            bounds: [-0.17, 0.17, -0.22, 0.22],
            equal_scale: true,
            ..Panel::default()
        };
        let figure = Figure {
            title: "A rotating current in a bowl".into(),
            caption: "A caption of a few words. ".repeat(12),
            panels: vec![tall.clone(), tall.clone()],
        };
        let (width, height) = default_size(&figure);
        assert_eq!(height, DEFAULT_HEIGHT);
        assert!((MIN_DEFAULT_WIDTH..2600).contains(&width), "width {width}");
        let (title, caption, _) = title_and_caption(&figure, width, height);
        let panel_width = width / 2;
        let (x, _) = plot_ranges(&tall, panel_width, height - title - caption);
        let filled = f64::from(x.end - x.start) / f64::from(panel_width);
        assert!(filled > 0.7, "the plot takes {filled:.2} of its panel");
        let free = Figure {
            panels: vec![
                Panel {
                    equal_scale: false,
                    ..tall.clone()
                };
                2
            ],
            ..figure
        };
        assert_eq!(default_size(&free), (3000, DEFAULT_HEIGHT));
    }

    #[test]
    fn caption_wraps_at_word_boundaries() {
        let lines = wrap("one two three four five", 9);
        assert_eq!(lines, ["one two", "three", "four five"]);
    }
}
