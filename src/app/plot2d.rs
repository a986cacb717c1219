//! Drawing helpers shared by the three linked 2-D views: heatmap textures, current arrows,
//! ellipses, contours, the colour bar and the hover read-out.

use egui::{Color32, ColorImage, Pos2, Stroke, TextureHandle, TextureOptions, Vec2};
use egui_plot::{HoverPosition, Plot, PlotImage, PlotPoint, PlotTransform};

use super::theory_adapter::Grid2d;

/// Arrows drawn per axis.
pub const ARROWS_PER_AXIS: usize = 16;

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

/// A square-ish plot linked (axes and cursor) with the other 2-D views.
pub fn linked_plot<'a>(id: &str, grid: &Grid2d, reset: bool, names: [String; 2]) -> Plot<'a> {
    let b = grid.bounds;
    let mut plot = Plot::new(id)
        .link_axis(egui::Id::unique("neqlab-2d-views"), true)
        .link_cursor(egui::Id::unique("neqlab-2d-views"), true)
        .default_x_bounds(b[0], b[1])
        .default_y_bounds(b[2], b[3])
        .allow_double_click_reset(true)
        .show_grid(false)
        // The heatmap covers the plot; a background under it would only cost fill rate.
        .show_background(false)
        .grid_spacing(20.0..=90.0)
        // Tick labels here are short numbers: keep them on narrow plots (1280×800) too.
        .custom_x_axes(vec![
            egui_plot::AxisHints::new_x().label_spacing(34.0..=50.0),
        ])
        .x_axis_label(names[0].clone())
        .y_axis_label(names[1].clone());
    if reset {
        plot = plot.reset();
    }
    plot
}

/// Block-averaged current for arrows: `(centre, J)` on about `ARROWS_PER_AXIS²` blocks.
pub fn coarse_current(grid: &Grid2d, current: &[[f64; 2]]) -> Vec<([f64; 2], [f64; 2])> {
    let bx = grid.nx.div_ceil(ARROWS_PER_AXIS).max(1);
    let by = grid.ny.div_ceil(ARROWS_PER_AXIS).max(1);
    let mut out = Vec::new();
    for block_y in 0..grid.ny.div_ceil(by) {
        for block_x in 0..grid.nx.div_ceil(bx) {
            let (mut j, mut count) = ([0.0; 2], 0.0);
            let (x0, y0) = (block_x * bx, block_y * by);
            let (x1, y1) = ((x0 + bx).min(grid.nx), (y0 + by).min(grid.ny));
            for iy in y0..y1 {
                for ix in x0..x1 {
                    if let Some(c) = current.get(iy * grid.nx + ix)
                        && c[0].is_finite()
                        && c[1].is_finite()
                    {
                        j[0] += c[0];
                        j[1] += c[1];
                        count += 1.0;
                    }
                }
            }
            if count > 0.0 {
                let centre = [
                    grid.bounds[0] + 0.5 * (x0 + x1) as f64 * grid.cell_size()[0],
                    grid.bounds[2] + 0.5 * (y0 + y1) as f64 * grid.cell_size()[1],
                ];
                out.push((centre, [j[0] / count, j[1] / count]));
            }
        }
    }
    out
}

/// Largest block-averaged `|J|`, measured in block sizes so both axes count equally.
pub fn current_scale(grid: &Grid2d, current: &[[f64; 2]]) -> f64 {
    let (bw, bh) = block_size(grid);
    coarse_current(grid, current)
        .iter()
        .map(|(_, j)| ((j[0] / bw).powi(2) + (j[1] / bh).powi(2)).sqrt())
        .fold(0.0, f64::max)
}

fn block_size(grid: &Grid2d) -> (f64, f64) {
    (
        grid.nx.div_ceil(ARROWS_PER_AXIS).max(1) as f64 * grid.cell_size()[0],
        grid.ny.div_ceil(ARROWS_PER_AXIS).max(1) as f64 * grid.cell_size()[1],
    )
}

/// Paint current arrows: an arrow of `|J| = scale` spans 0.9 of a block, so arrows compare
/// across panels drawn with the same `scale`.
pub fn paint_arrows(
    painter: &egui::Painter,
    transform: &PlotTransform,
    grid: &Grid2d,
    current: &[[f64; 2]],
    scale: f64,
    colour: Color32,
) {
    if !(scale > 0.0 && scale.is_finite()) {
        return;
    }
    let (bw, bh) = block_size(grid);
    for (centre, j) in coarse_current(grid, current) {
        let (u, v) = (j[0] / bw / scale, j[1] / bh / scale);
        let length = (u * u + v * v).sqrt();
        if length < 0.04 {
            continue;
        }
        let tail = [centre[0] - 0.45 * u * bw, centre[1] - 0.45 * v * bh];
        let tip = [centre[0] + 0.45 * u * bw, centre[1] + 0.45 * v * bh];
        let a = transform.position_from_point(&PlotPoint::new(tail[0], tail[1]));
        let b = transform.position_from_point(&PlotPoint::new(tip[0], tip[1]));
        arrow(painter, a, b, colour);
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

/// Points of the `n_sigma` ellipse of a 2-D Gaussian.
pub fn ellipse(mean: [f64; 2], covariance: [f64; 4], n_sigma: f64) -> Vec<[f64; 2]> {
    // Cholesky factor L with L Lᵀ = Σ; the ellipse is mean + n L (cos t, sin t).
    let l11 = covariance[0].max(0.0).sqrt();
    let l21 = if l11 > 0.0 { covariance[2] / l11 } else { 0.0 };
    let l22 = (covariance[3] - l21 * l21).max(0.0).sqrt();
    (0..=96)
        .map(|k| {
            let t = k as f64 / 96.0 * std::f64::consts::TAU;
            let (s, c) = t.sin_cos();
            [
                mean[0] + n_sigma * l11 * c,
                mean[1] + n_sigma * (l21 * c + l22 * s),
            ]
        })
        .collect()
}

/// Segments of the `level` contour of `values` on `grid` (marching squares on cell centres).
pub fn contour_segments(grid: &Grid2d, values: &[f64], level: f64) -> Vec<[[f64; 2]; 2]> {
    let mut segments = Vec::new();
    if values.len() != grid.nx * grid.ny {
        return segments;
    }
    let value = |ix: usize, iy: usize| values[iy * grid.nx + ix];
    for iy in 0..grid.ny.saturating_sub(1) {
        for ix in 0..grid.nx.saturating_sub(1) {
            let corners = [
                (grid.centre(ix, iy), value(ix, iy)),
                (grid.centre(ix + 1, iy), value(ix + 1, iy)),
                (grid.centre(ix + 1, iy + 1), value(ix + 1, iy + 1)),
                (grid.centre(ix, iy + 1), value(ix, iy + 1)),
            ];
            if corners.iter().any(|(_, v)| !v.is_finite()) {
                continue;
            }
            let mut crossings = Vec::with_capacity(4);
            for e in 0..4 {
                let (p, a) = corners[e];
                let (q, b) = corners[(e + 1) % 4];
                if (a < level) != (b < level) {
                    let t = (level - a) / (b - a);
                    crossings.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
                }
            }
            if crossings.len() == 2 {
                segments.push([crossings[0], crossings[1]]);
            } else if crossings.len() == 4 {
                segments.push([crossings[0], crossings[1]]);
                segments.push([crossings[2], crossings[3]]);
            }
        }
    }
    segments
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

/// The hover read-out: coordinates, and the density and current of the cell under the cursor.
pub fn hover_text(
    position: &HoverPosition<'_>,
    grid: &Grid2d,
    density: Option<&[f64]>,
    current: Option<&[[f64; 2]]>,
    names: &[String; 2],
) -> Option<String> {
    let p = match position {
        HoverPosition::NearDataPoint { position, .. } | HoverPosition::Elsewhere { position } => {
            position
        }
    };
    let mut text = format!("{} = {:.5}\n{} = {:.5}", names[0], p.x, names[1], p.y);
    if let Some(i) = grid.locate([p.x, p.y]) {
        if let Some(d) = density.and_then(|d| d.get(i)) {
            text.push_str(&format!("\np = {:.4e} /area", d / grid.cell_area()));
        }
        if let Some(j) = current.and_then(|c| c.get(i)) {
            text.push_str(&format!("\nJ = ({:.3e}, {:.3e})", j[0], j[1]));
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

/// What the three linked views share in one frame.
pub struct ViewContext<'a> {
    pub names: [String; 2],
    pub snapshot: Option<&'a super::worker::Snapshot>,
    pub prediction: Option<&'a super::theory_adapter::Prediction>,
    /// Colour-scale top for both densities (probability per unit area).
    pub density_max: f64,
    /// Arrow scale shared by both current fields (see [`paint_arrows`]).
    pub current_scale: f64,
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
