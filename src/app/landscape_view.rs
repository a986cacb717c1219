//! The loss landscape `L(w)`: a shaded map, contours and the minima (docs/theory.md §1.4),
//! drawn from the same loss map as the exported figures.

use egui::{Color32, Stroke};
use egui_plot::{MarkerShape, Points};
use neqlab::export::colormap::{ColourMap, terrain};
use neqlab::export::figure::contour_segments;
use neqlab::export::panels::{LossMap, loss_map};
use neqlab::preset::Experiment;

use super::plot2d::{
    HeatmapTexture, TITLE_GAP, ViewContext, colour_bar_ui, hover_point, hover_text, linked_plot,
    paint_segments,
};

#[derive(Default)]
pub struct LandscapeView {
    heatmap: HeatmapTexture,
    shown: Option<usize>,
    map: Option<LossMap>,
    contours: Vec<[[f64; 2]; 2]>,
}

impl LandscapeView {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        view: &ViewContext<'_>,
        experiment: Option<&Experiment>,
    ) {
        ui.strong("Loss landscape L(w)");
        let (Some(prediction), Some(experiment)) = (view.prediction, experiment) else {
            ui.label("Waiting for the landscape to be evaluated…");
            return;
        };
        let identity = prediction as *const _ as usize;
        if self.shown != Some(identity) {
            self.map = loss_map(experiment, prediction);
            self.contours = self.map.as_ref().map_or_else(Vec::new, |map| {
                let g = map.grid;
                map.levels
                    .iter()
                    .flat_map(|&level| contour_segments(g.nx, g.ny, g.bounds, &map.relative, level))
                    .collect()
            });
            self.heatmap.clear();
            self.shown = Some(identity);
        }
        let Some(map) = &self.map else {
            ui.label("No loss map: the landscape is not two-dimensional.");
            return;
        };
        let (grid, highest) = (map.grid, map.highest);
        self.heatmap.update(
            ui.ctx(),
            "loss-landscape",
            (identity as u64, 0, 0),
            &grid,
            &map.relative,
            |l| ColourMap::Landscape.colour(l, 0.0, highest),
        );
        // Room for the top tick label, which stands half above the plot.
        ui.add_space(TITLE_GAP);
        ui.horizontal_top(|ui| {
            let width = (ui.available_width() - 70.0).max(100.0);
            let names = view.names.clone();
            let relative = &map.relative;
            let response = linked_plot(ui, "landscape-plot", &grid, view.reset, names.clone())
                .width(width)
                .height(view.height)
                .label_formatter(move |p| {
                    let mut text = hover_text(p, None, &names)?;
                    if let Some(i) = grid.locate(hover_point(p)) {
                        text.push_str(&format!("\nL − L_min = {:.6e}", relative[i]));
                    }
                    Some(text)
                })
                .show(ui, |plot_ui| {
                    if let Some(image) = self.heatmap.image("loss", &grid) {
                        plot_ui.image(image);
                    }
                    let minima = prediction
                        .minima
                        .all
                        .iter()
                        .filter(|m| m.len() == 2)
                        .map(|m| [m[0], m[1]])
                        .collect::<Vec<_>>();
                    plot_ui.points(
                        Points::new("minima", minima)
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
                colour_bar_ui(ui, highest, "L − L_min, sqrt scale", view.height, |t| {
                    terrain(t.max(0.0).sqrt())
                });
            });
        });
    }
}
