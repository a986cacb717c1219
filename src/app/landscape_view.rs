//! The loss landscape `L(w)`: a shaded map, contours and the minima (docs/theory.md section 1).

use egui::{Color32, Stroke};
use egui_plot::{MarkerShape, Points};

use super::palette::terrain;
use super::plot2d::{
    HeatmapTexture, ViewContext, colour_bar_ui, contour_segments, hover_text, linked_plot,
    paint_segments,
};

/// Contour levels drawn.
const LEVELS: usize = 14;

#[derive(Default)]
pub struct LandscapeView {
    heatmap: HeatmapTexture,
    shown: Option<usize>,
    contours: Vec<[[f64; 2]; 2]>,
    range: (f64, f64),
}

/// Map a loss to `[0, 1]`: square root above the minimum, so the basin shows detail.
fn normalise(loss: f64, (low, high): (f64, f64)) -> f64 {
    ((loss - low).max(0.0) / (high - low).max(1e-300)).sqrt()
}

impl LandscapeView {
    pub fn ui(&mut self, ui: &mut egui::Ui, view: &ViewContext<'_>) {
        ui.strong("Loss landscape L(w)");
        let Some(prediction) = view.prediction else {
            ui.label("Waiting for the landscape to be evaluated…");
            return;
        };
        let grid = &prediction.grid;
        let identity = prediction as *const _ as usize;
        if self.shown != Some(identity) {
            let finite = prediction.loss.iter().copied().filter(|l| l.is_finite());
            let low = finite.clone().fold(f64::INFINITY, f64::min);
            let high = finite.fold(f64::NEG_INFINITY, f64::max);
            self.range = (low, high);
            self.contours = (1..LEVELS)
                .flat_map(|k| {
                    let t = k as f64 / LEVELS as f64;
                    contour_segments(grid, &prediction.loss, low + t * t * (high - low))
                })
                .collect();
            self.heatmap.clear();
            self.shown = Some(identity);
        }
        let range = self.range;
        self.heatmap.update(
            ui.ctx(),
            "loss-landscape",
            (identity as u64, 0, 0),
            grid,
            &prediction.loss,
            |l| terrain(normalise(l, range)),
        );
        ui.horizontal_top(|ui| {
            let width = (ui.available_width() - 70.0).max(100.0);
            let names = view.names.clone();
            let loss = &prediction.loss;
            let response = linked_plot("landscape-plot", grid, view.reset, names.clone())
                .width(width)
                .height(view.height)
                .label_formatter(move |p| {
                    let mut text = hover_text(p, grid, None, None, &names)?;
                    let position = match p {
                        egui_plot::HoverPosition::NearDataPoint { position, .. }
                        | egui_plot::HoverPosition::Elsewhere { position } => position,
                    };
                    if let Some(i) = grid.locate([position.x, position.y]) {
                        text.push_str(&format!("\nL = {:.6e}", loss[i]));
                    }
                    Some(text)
                })
                .show(ui, |plot_ui| {
                    if let Some(image) = self.heatmap.image("loss", grid) {
                        plot_ui.image(image);
                    }
                    plot_ui.points(
                        Points::new("minima", prediction.minima.clone())
                            .shape(MarkerShape::Cross)
                            .radius(7.0)
                            .color(Color32::from_rgb(200, 30, 30)),
                    );
                });
            let painter = ui.painter_at(*response.transform.frame());
            paint_segments(
                &painter,
                &response.transform,
                &self.contours,
                Stroke::new(1.0, Color32::from_rgba_unmultiplied(60, 40, 30, 160)),
            );
            ui.vertical(|ui| {
                colour_bar_ui(
                    ui,
                    range.1 - range.0,
                    "L − L_min, sqrt scale",
                    view.height,
                    terrain,
                );
            });
        });
    }
}
