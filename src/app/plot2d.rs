//! Drawing helpers shared by the three linked 2-D views: heatmap textures, current arrows,
//! ellipses, contours, the colour bar and the hover read-out. What they draw comes from the
//! stationary model (`neqlab::stationary`): arrows from its one arrow builder, ellipses and
//! contours from the same geometry the exported figures use.

#[cfg(test)]
mod tick_layout_tests;
mod ticks;

use egui::{Color32, ColorImage, Pos2, Stroke, TextureHandle, TextureOptions, Vec2};
use egui_plot::{AxisHints, HoverPosition, Plot, PlotImage, PlotPoint, PlotTransform};
use neqlab::export::figure::{EQUAL_SCALE_MAX_RATIO, Ellipse, palette};
use neqlab::stationary::{ArrowScale, CurrentArrow, Prediction};
use neqlab::stats::CurrentField;
use neqlab::theory::exact::Gaussian;
use neqlab::theory::fokker_planck::Grid2d;
use ticks::{Along, GRID_SPACING_POINTS, LabelFont, UNLABELLED_POINTS, tick_label};

/// A heatmap kept as one GPU texture, rebuilt only when its data change.
#[derive(Default)]
pub struct HeatmapTexture {
    texture: Option<TextureHandle>,
    key: Option<(u64, u64, u64)>,
}

impl HeatmapTexture {
    /// Rebuild the texture from `values` (row-major `iy·nx + ix`, `iy` up) when `key` changed.
    pub fn update(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        key: (u64, u64, u64),
        grid: &Grid2d,
        values: &[f64],
        colour: impl Fn(f64) -> [u8; 3],
    ) {
        if self.key == Some(key) && self.texture.is_some() {
            return;
        }
        let mut pixels = Vec::with_capacity(grid.nx * grid.ny);
        for row in 0..grid.ny {
            let iy = grid.ny - 1 - row;
            for ix in 0..grid.nx {
                let [r, g, b] = colour(values.get(iy * grid.nx + ix).copied().unwrap_or(0.0));
                pixels.push(Color32::from_rgb(r, g, b));
            }
        }
        let image = ColorImage::new([grid.nx, grid.ny], pixels);
        match &mut self.texture {
            Some(texture) => texture.set(image, TextureOptions::NEAREST),
            None => {
                self.texture = Some(ctx.load_texture(name, image, TextureOptions::NEAREST));
            }
        }
        self.key = Some(key);
    }

    /// The texture placed over the grid's bounds.
    pub fn image(&self, name: &str, grid: &Grid2d) -> Option<PlotImage> {
        let texture = self.texture.as_ref()?;
        let b = grid.bounds;
        Some(
            PlotImage::new(
                name,
                texture.id(),
                PlotPoint::new(0.5 * (b[0] + b[1]), 0.5 * (b[2] + b[3])),
                Vec2::new((b[1] - b[0]) as f32, (b[3] - b[2]) as f32),
            )
            .allow_hover(false),
        )
    }

    pub fn clear(&mut self) {
        self.key = None;
    }
}

/// Space between a plot's title line and the plot: the top y tick label may stand up to a
/// fifth of the font size above the plot's edge (see [`ticks`]), and the title needs air.
pub const TITLE_GAP: f32 = 8.0;

/// Readable axes for any plot of the app: the axis names, and tick labels spaced for their
/// own text in the font they are painted in, at least two to an axis, none touching its
/// neighbour or standing past the plot's corner (see [`ticks`]).
pub fn readable_axes<'a>(ui: &egui::Ui, plot: Plot<'a>, x_name: &str, y_name: &str) -> Plot<'a> {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let label_font = |along| LabelFont {
        ctx: ui.ctx().clone(),
        font: font.clone(),
        along,
    };
    let (x, y) = (label_font(Along::X), label_font(Along::Y));
    // Labelled marks span more points than this, at full strength; others carry no label.
    let labels = UNLABELLED_POINTS..=UNLABELLED_POINTS + 1.0;
    plot.grid_spacing(GRID_SPACING_POINTS..=300.0)
        .x_grid_spacer(move |input| x.marks(input))
        .y_grid_spacer(move |input| y.marks(input))
        .custom_x_axes(vec![
            AxisHints::new_x()
                .label(x_name.to_string())
                .label_spacing(labels.clone())
                .tick_label_font(font.clone())
                .formatter(tick_label),
        ])
        .custom_y_axes(vec![
            AxisHints::new_y()
                .label(y_name.to_string())
                .label_spacing(labels)
                .tick_label_font(font)
                .formatter(tick_label),
        ])
}

/// A plot linked (axes and cursor) with the other 2-D views. Both axes share one scale when
/// the grid's sides are comparable, so that the tilt of a covariance ellipse, the shape of a
/// basin and the turning of the current look on screen as they are, whatever the panel's
/// shape. The `w1` range stays the grid's and the `w2` range follows the panel: a tall panel
/// shows more than the grid, a wide, short one (presentation mode on a large screen) the
/// middle of it, at the largest scale the width allows, rather than a squashed cloud; drag,
/// zoom, or double-click to reset.
pub fn linked_plot<'a>(
    ui: &egui::Ui,
    id: &str,
    grid: &Grid2d,
    reset: bool,
    names: [String; 2],
) -> Plot<'a> {
    let b = grid.bounds;
    let plot = Plot::new(id)
        // A fixed id, so that tests can read the plot's memory (its transform).
        .id(egui::Id::unique(id))
        .link_axis(egui::Id::unique("neqlab-2d-views"), true)
        .link_cursor(egui::Id::unique("neqlab-2d-views"), true)
        .default_x_bounds(b[0], b[1])
        .default_y_bounds(b[2], b[3])
        .allow_double_click_reset(true)
        .show_grid(false)
        // The heatmap covers the plot; a background under it would only cost fill rate.
        .show_background(false);
    let plot = if equal_scale_ratio(grid).is_some() {
        plot.data_aspect(1.0)
    } else {
        plot
    };
    let plot = readable_axes(ui, plot, &names[0], &names[1]);
    if reset { plot.reset() } else { plot }
}

/// The grid's height over its width (weight units) when the 2-D views give both axes one
/// scale, i.e. when it is within [`EQUAL_SCALE_MAX_RATIO`] of square (the exported figures'
/// bound, so that the window and the slide agree).
pub fn equal_scale_ratio(grid: &Grid2d) -> Option<f64> {
    let b = grid.bounds;
    let ratio = (b[3] - b[2]) / (b[1] - b[0]);
    (1.0 / EQUAL_SCALE_MAX_RATIO..=EQUAL_SCALE_MAX_RATIO)
        .contains(&ratio)
        .then_some(ratio)
}

/// Paint the significant arrows of `arrows` (built by `neqlab::stationary::current_arrows`,
/// the same arrows an exported figure draws).
pub fn paint_arrows(
    painter: &egui::Painter,
    transform: &PlotTransform,
    arrows: &[CurrentArrow],
    colour: Color32,
) {
    for a in arrows.iter().filter(|a| a.significant) {
        let tip = [a.tail[0] + a.vector[0], a.tail[1] + a.vector[1]];
        let from = transform.position_from_point(&PlotPoint::new(a.tail[0], a.tail[1]));
        let to = transform.position_from_point(&PlotPoint::new(tip[0], tip[1]));
        arrow(painter, from, to, colour);
    }
}

fn arrow(painter: &egui::Painter, a: Pos2, b: Pos2, colour: Color32) {
    let d = b - a;
    let length = d.length();
    if length < 1.0 {
        return;
    }
    let stroke = Stroke::new(1.6, colour);
    let outline = Stroke::new(3.2, Color32::from_black_alpha(110));
    let dir = d / length;
    let normal = Vec2::new(-dir.y, dir.x);
    let head = (0.35 * length).clamp(3.0, 9.0);
    let left = b - dir * head + normal * head * 0.5;
    let right = b - dir * head - normal * head * 0.5;
    for s in [outline, stroke] {
        painter.line_segment([a, b], s);
        painter.line_segment([b, left], s);
        painter.line_segment([b, right], s);
    }
}

/// Points of the `n_sigma` ellipse of a 2-D Gaussian (the outline of the exported figures);
/// `covariance` row-major.
pub fn ellipse(mean: [f64; 2], covariance: [f64; 4], n_sigma: f64) -> Vec<[f64; 2]> {
    Ellipse {
        centre: mean,
        cov: covariance,
        sigmas: n_sigma,
        color: palette::ORANGE,
        dashed: false,
        label: String::new(),
    }
    .outline(96)
}

/// [`ellipse`] of a Gaussian of the stationary model (empty unless it is 2-D).
pub fn gaussian_ellipse(gaussian: &Gaussian, n_sigma: f64) -> Vec<[f64; 2]> {
    match (gaussian.mean.as_slice(), gaussian.cov.as_slice()) {
        (&[m0, m1], &[c0, c1, c2, c3]) => ellipse([m0, m1], [c0, c1, c2, c3], n_sigma),
        _ => Vec::new(),
    }
}

/// Paint precomputed contour segments.
pub fn paint_segments(
    painter: &egui::Painter,
    transform: &PlotTransform,
    segments: &[[[f64; 2]; 2]],
    stroke: Stroke,
) {
    for [a, b] in segments {
        painter.line_segment(
            [
                transform.position_from_point(&PlotPoint::new(a[0], a[1])),
                transform.position_from_point(&PlotPoint::new(b[0], b[1])),
            ],
            stroke,
        );
    }
}

/// The plot coordinates under the cursor.
pub fn hover_point(position: &HoverPosition<'_>) -> [f64; 2] {
    let p = match position {
        HoverPosition::NearDataPoint { position, .. } | HoverPosition::Elsewhere { position } => {
            position
        }
    };
    [p.x, p.y]
}

/// The hover read-out: coordinates, and the density, current and its standard error of the
/// cell of `field` under the cursor.
pub fn hover_text(
    position: &HoverPosition<'_>,
    field: Option<&CurrentField>,
    names: &[String; 2],
) -> Option<String> {
    let p = hover_point(position);
    let mut text = format!("{} = {:.5}\n{} = {:.5}", names[0], p[0], names[1], p[1]);
    if let Some(field) = field
        && let Some(i) = field.grid.locate(p)
    {
        let grid = &field.grid;
        text.push_str(&format!(
            "\np = {:.4e} /area",
            field.mass[i] / grid.cell_area()
        ));
        let j = field.current[i];
        text.push_str(&format!("\nJ = ({:.3e}, {:.3e})", j[0], j[1]));
        if let Some(error) = &field.current_error {
            text.push_str(&format!(" ± {:.1e}", error[i]));
        }
    }
    Some(text)
}

/// A vertical colour bar from 0 to `max` with its label.
pub fn colour_bar_ui(
    ui: &mut egui::Ui,
    max: f64,
    label: &str,
    plot_height: f32,
    colour: impl Fn(f64) -> [u8; 3],
) {
    ui.vertical(|ui| {
        ui.set_max_width(64.0);
        ui.label(egui::RichText::new(format!("{max:.2e}")).small());
        let height = (plot_height - 70.0).max(40.0);
        let (rect, _) = ui.allocate_exact_size(Vec2::new(14.0, height), egui::Sense::hover());
        let painter = ui.painter_at(rect);
        let steps = 64;
        for k in 0..steps {
            let t = 1.0 - (k as f64 + 0.5) / steps as f64;
            let [r, g, b] = colour(t);
            let y0 = rect.top() + rect.height() * k as f32 / steps as f32;
            let y1 = rect.top() + rect.height() * (k + 1) as f32 / steps as f32;
            painter.rect_filled(
                egui::Rect::from_min_max(
                    Pos2::new(rect.left(), y0),
                    Pos2::new(rect.right(), y1 + 0.5),
                ),
                0.0,
                Color32::from_rgb(r, g, b),
            );
        }
        ui.label(egui::RichText::new("0").small());
        ui.label(egui::RichText::new(label).small());
    });
}

/// The current arrows of the simulation and prediction panels, built by the library's one
/// arrow builder on one [`ArrowScale`] (the same arrows an exported figure draws).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ViewArrows {
    /// The shared scale; `None` until a prediction gives `τ`.
    pub scale: Option<ArrowScale>,
    /// Arrows of the simulated current (significant or not).
    pub simulated: Vec<CurrentArrow>,
    /// Arrows of the predicted current.
    pub predicted: Vec<CurrentArrow>,
}

/// What the three linked views share in one frame.
pub struct ViewContext<'a> {
    pub names: [String; 2],
    pub snapshot: Option<&'a super::worker::Snapshot>,
    pub prediction: Option<&'a Prediction>,
    /// Colour-scale top for both densities (probability per unit area).
    pub density_max: f64,
    /// The current arrows of both panels, on one physical scale.
    pub arrows: ViewArrows,
    /// The grid changed: zoom back to it.
    pub reset: bool,
    pub show_walkers: bool,
    pub show_arrows: bool,
    pub show_trails: bool,
    /// Plot height in points.
    pub height: f32,
    /// Time units before statistics are recorded.
    pub burn_in: u64,
}

/// Arrow colour readable on viridis.
pub const ARROW_COLOUR: Color32 = Color32::from_rgb(255, 255, 255);
