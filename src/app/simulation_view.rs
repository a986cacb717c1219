//! The simulation panel: density histogram of the walkers, the empirical current where it
//! exceeds twice its standard error, and optionally the walkers and a few trails
//! (docs/theory.md §7.3).

use egui::Color32;
use egui_plot::{Line, MarkerShape, Points};
use neqlab::export::colormap::viridis;

use super::plot2d::{
    ARROW_COLOUR, HeatmapTexture, TITLE_GAP, ViewContext, colour_bar_ui, hover_text, linked_plot,
    paint_arrows,
};

#[derive(Default)]
pub struct SimulationView {
    heatmap: HeatmapTexture,
}

impl SimulationView {
    pub fn ui(&mut self, ui: &mut egui::Ui, view: &ViewContext<'_>) {
        let Some(snapshot) = view.snapshot else {
            ui.label("No simulation yet.");
            return;
        };
        let Some(simulated) = snapshot.simulated.grid.as_ref() else {
            ui.label("No histogram: the landscape is not two-dimensional.");
            return;
        };
        let field = &simulated.field;
        let grid = &field.grid;
        let area = grid.cell_area();
        let vmax = view.density_max;
        self.heatmap.update(
            ui.ctx(),
            "simulation-density",
            (snapshot.generation, snapshot.time, vmax.to_bits()),
            grid,
            &field.mass,
            |mass| viridis(mass / area / vmax),
        );
        ui.horizontal_wrapped(|ui| {
            ui.strong("Simulation");
            ui.label(format!(
                "t = {} {}s, {} samples",
                snapshot.time,
                snapshot.time_unit.name(),
                simulated.samples
            ));
            if snapshot.time < view.burn_in {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("burning in: {} / {}", snapshot.time, view.burn_in),
                );
            }
        });
        // Room for the top tick label, which stands half above the plot.
        ui.add_space(TITLE_GAP);
        ui.horizontal_top(|ui| {
            let width = (ui.available_width() - 70.0).max(100.0);
            let names = view.names.clone();
            let response = linked_plot(ui, "simulation-plot", grid, view.reset, names.clone())
                .width(width)
                .height(view.height)
                .label_formatter(move |p| hover_text(p, Some(field), &names))
                .show(ui, |plot_ui| {
                    if let Some(image) = self.heatmap.image("density", grid) {
                        plot_ui.image(image);
                    }
                    if view.show_trails {
                        for (k, trail) in snapshot.trails.iter().enumerate() {
                            if trail.len() > 1 {
                                plot_ui.line(
                                    Line::new(format!("trail {k}"), trail.clone())
                                        .color(Color32::from_rgb(255, 120, 60))
                                        .width(1.2)
                                        .allow_hover(false),
                                );
                            }
                        }
                    }
                    if view.show_walkers {
                        plot_ui.points(
                            Points::new("walkers", snapshot.walker_sample.clone())
                                .shape(MarkerShape::Circle)
                                .radius(1.2)
                                .color(Color32::from_rgba_unmultiplied(255, 255, 255, 140))
                                .allow_hover(false),
                        );
                    }
                });
            if view.show_arrows {
                let painter = ui.painter_at(*response.transform.frame());
                let arrows = &view.arrows.simulated;
                paint_arrows(&painter, &response.transform, arrows, ARROW_COLOUR);
            }
            colour_bar_ui(ui, vmax, "p per area", view.height, viridis);
        });
    }
}
