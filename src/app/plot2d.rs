//! Drawing helpers shared by the three linked 2-D views: heatmap textures, current arrows,
//! ellipses, contours, the colour bar and the hover read-out. What they draw comes from the
//! stationary model (`neqlab::stationary`): arrows from its one arrow builder, ellipses and
//! contours from the same geometry the exported figures use.

use egui::{Color32, ColorImage, Pos2, Stroke, TextureHandle, TextureOptions, Vec2};
use egui_plot::{GridInput, GridMark, HoverPosition, Plot, PlotImage, PlotPoint, PlotTransform};
use neqlab::export::figure::{Ellipse, palette};
use neqlab::stationary::{ArrowScale, CurrentArrow, Prediction};
use neqlab::stats::CurrentField;
use neqlab::theory::exact::Gaussian;
use neqlab::theory::fokker_planck::Grid2d;

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

/// Space between a plot's title line and the plot: the top y tick label is centred on the
/// plot's edge and stands half a line above it.
pub const TITLE_GAP: f32 = 8.0;

/// Where tick labels go: at least this many points apart on the x axis and the y axis.
const X_LABEL_POINTS: f64 = 50.0;
const Y_LABEL_POINTS: f64 = 40.0;

/// The smallest step of the sequence 1, 2, 5, 10, 20, … (× 10^k) not below `step`.
fn nice_step(step: f64) -> f64 {
    let power = 10f64.powf(step.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= step * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// Grid marks in steps of 1, 2 or 5 × 10^k, the labelled step about `label_points` apart
/// (egui_plot's default divides by ten only, so a narrow plot could label one tick or none).
fn tick_spacer(label_points: f64) -> impl Fn(GridInput) -> Vec<GridMark> {
    move |input: GridInput| {
        // egui_plot's base step is the value spanned by its minimal grid spacing (8 points).
        let per_point = input.base_step_size / 8.0;
        if !(per_point.is_finite() && per_point > 0.0) {
            return Vec::new();
        }
        // The largest 1-2-5 step at most `label_points` apart: between 0.4 and 1 times that.
        let label = nice_step(per_point * label_points * 0.4);
        // Fifths of 1 and 5, quarters of 2: the fine marks fall on the coarse ones too.
        let leading = (label / 10f64.powf(label.log10().floor())).round();
        let fine = label / if leading == 2.0 { 4.0 } else { 5.0 };
        // A coarser step still labelled where the labelled step's text is too wide for it
        // (egui_plot drops labels that would overlap, a whole step size at a time).
        // A multiple of the labelled step, so the two sets of labels never interleave.
        let coarse = label * if leading == 2.0 { 5.0 } else { 2.0 };
        let (low, high) = input.bounds;
        let mut marks = Vec::new();
        let first = (low / fine).ceil() as i64;
        let last = (high / fine).floor() as i64;
        let on = |value: f64, step: f64| (value / step - (value / step).round()).abs() < 1e-6;
        // No label within this many points of either end: it would stand past the corner
        // into the other axis' labels.
        let end_margin = per_point * 14.0;
        for k in first..=last.min(first + 10_000) {
            let value = k as f64 * fine;
            let near_end = value - low < end_margin || high - value < end_margin;
            let step_size = if near_end {
                fine
            } else if on(value, coarse) {
                coarse
            } else if on(value, label) {
                label
            } else {
                fine
            };
            marks.push(GridMark {
                value: if value.abs() < 1e-9 * label {
                    0.0
                } else {
                    value
                },
                step_size,
            });
        }
        marks
    }
}

/// A tick label with the decimals its step needs (0.995 next to 0.99 and 1), never "-0".
pub fn tick_label(mark: GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    let step = mark.step_size.abs();
    let value = if mark.value.abs() < 1e-9 * step {
        0.0
    } else {
        mark.value
    };
    if value != 0.0 && ((step < 1e-3 && value.abs() < 1e-2) || value.abs() >= 1e5) {
        // Short scientific labels (−2e-4, 1.5e-4) where decimals would be wide; an axis near
        // 1.04 with steps of 5e-4 keeps decimals (1.0405 beside 1.041, never "1.0405e0").
        let digits = (value.abs().log10().floor() - step.log10().floor()).clamp(0.0, 6.0);
        return format!("{:.*e}", digits as usize, value);
    }
    let decimals = (-step.log10() - 1e-9).ceil().clamp(0.0, 12.0) as usize;
    format!("{value:.decimals$}")
}

/// Readable axes for any plot of the app: ticks in steps of 1, 2 or 5 spaced for their
/// labels, labels shown down to the width of their text (egui_plot still drops a label that
/// would overlap its neighbour), with the digits their spacing needs, and the axis names.
pub fn readable_axes<'a>(plot: Plot<'a>, x_name: &str, y_name: &str) -> Plot<'a> {
    plot.x_grid_spacer(tick_spacer(X_LABEL_POINTS))
        .y_grid_spacer(tick_spacer(Y_LABEL_POINTS))
        .custom_x_axes(vec![
            egui_plot::AxisHints::new_x()
                .label(x_name.to_string())
                .label_spacing(12.0..=30.0)
                .formatter(tick_label),
        ])
        .custom_y_axes(vec![
            egui_plot::AxisHints::new_y()
                .label(y_name.to_string())
                .label_spacing(14.0..=22.0)
                .formatter(tick_label),
        ])
}

/// A square-ish plot linked (axes and cursor) with the other 2-D views.
pub fn linked_plot<'a>(id: &str, grid: &Grid2d, reset: bool, names: [String; 2]) -> Plot<'a> {
    let b = grid.bounds;
    let plot = Plot::new(id)
        .link_axis(egui::Id::unique("neqlab-2d-views"), true)
        .link_cursor(egui::Id::unique("neqlab-2d-views"), true)
        .default_x_bounds(b[0], b[1])
        .default_y_bounds(b[2], b[3])
        .allow_double_click_reset(true)
        .show_grid(false)
        // The heatmap covers the plot; a background under it would only cost fill rate.
        .show_background(false);
    let plot = readable_axes(plot, &names[0], &names[1]);
    if reset { plot.reset() } else { plot }
}

#[cfg(test)]
mod tick_tests {
    use super::*;

    #[test]
    fn steps_are_one_two_five_and_labels_tell_ticks_apart() {
        assert_eq!(nice_step(0.003), 0.005);
        assert_eq!(nice_step(0.011), 0.02);
        assert_eq!(nice_step(70.0), 100.0);
        let spacer = tick_spacer(50.0);
        // 0.98 ..= 1.02 over 400 points: steps of 0.002, a coarser labelled step of 0.005.
        let marks = spacer(GridInput {
            bounds: (0.98, 1.02),
            base_step_size: 0.04 / 400.0 * 8.0,
        });
        let labels: Vec<String> = marks
            .iter()
            .filter(|m| m.step_size >= 0.002 - 1e-12)
            .map(|m| tick_label(*m, &(0.98..=1.02)))
            .collect();
        // Labels every 0.002 (20 points apart) with the three decimals that tell them
        // apart, every 0.01 with two; none at the ends, where they would run into the
        // other axis.
        assert_eq!(labels.len(), 19, "{labels:?}");
        assert_eq!(labels.first().map(String::as_str), Some("0.982"));
        assert!(labels.contains(&"0.994".to_string()) && labels.contains(&"0.99".to_string()));
        let mut distinct = labels.clone();
        distinct.dedup();
        assert_eq!(distinct, labels);
        let tiny = GridMark {
            value: -2e-4,
            step_size: 1e-4,
        };
        assert_eq!(tick_label(tiny, &(0.0..=1.0)), "-2e-4");
        let fine = GridMark {
            value: 0.995,
            step_size: 0.005,
        };
        assert_eq!(tick_label(fine, &(0.0..=1.0)), "0.995");
        let zero = GridMark {
            value: -1e-17,
            step_size: 0.1,
        };
        assert_eq!(tick_label(zero, &(0.0..=1.0)), "0.0");
        // A fine step far from zero keeps decimals, like its coarser neighbours.
        let near_one = GridMark {
            value: 1.0405,
            step_size: 5e-4,
        };
        assert_eq!(tick_label(near_one, &(1.0..=1.1)), "1.0405");
    }
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
