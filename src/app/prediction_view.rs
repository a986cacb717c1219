//! The Fokker–Planck panel: the predicted stationary density and current, the Gaussian 1σ
//! and 2σ ellipses of the linearised theory, the minimum `w*` and, without replacement, the
//! effective minimum `w_eff` (docs/theory.md §3.1, §4.4 and §8), and in words where the
//! prediction is outside its regime.

use egui::Color32;
use egui_plot::{Line, LineStyle, MarkerShape, Points};
use neqlab::export::colormap::viridis;
use neqlab::stationary::Prediction;
use neqlab::theory::exact::Gaussian;
use neqlab::theory::fokker_planck::Grid2d;
use neqlab::theory::linear::LinearTheory;

use super::plot2d::{
    ARROW_COLOUR, HeatmapTexture, TITLE_GAP, ViewContext, colour_bar_ui, gaussian_ellipse,
    hover_text, linked_plot, paint_arrows,
};

/// What the panel knows about the solve in flight.
pub struct SolveStatus<'a> {
    pub solving: bool,
    pub error: Option<&'a str>,
    /// The prediction belongs to an earlier configuration.
    pub stale: bool,
    /// Time from the last change of the controls to its prediction.
    pub latency: Option<std::time::Duration>,
}

/// Height reserved under the plots for each validity note of the prediction (up to two lines
/// of small text in a third of the window).
pub const NOTE_HEIGHT: f32 = 28.0;

#[derive(Default)]
pub struct PredictionView {
    heatmap: HeatmapTexture,
    /// Identity of the prediction the texture shows.
    shown: Option<usize>,
}

impl PredictionView {
    pub fn ui(&mut self, ui: &mut egui::Ui, view: &ViewContext<'_>, status: &SolveStatus<'_>) {
        status_ui(ui, status);
        let Some(prediction) = view.prediction else {
            if !status.solving && status.error.is_none() {
                ui.label("No prediction yet.");
            }
            return;
        };
        let Some(grid) = prediction.grid() else {
            return;
        };
        self.plot_ui(ui, view, prediction, &grid);
        footer_ui(ui, prediction, &grid, status);
    }

    /// The density, the linearised theory's ellipses and minima, and the arrows.
    fn plot_ui(
        &mut self,
        ui: &mut egui::Ui,
        view: &ViewContext<'_>,
        prediction: &Prediction,
        grid: &Grid2d,
    ) {
        let field = prediction.fokker_planck().map(|fp| &fp.field);
        let empty = Vec::new();
        let density = field.map_or(&empty, |f| &f.mass);
        let area = grid.cell_area();
        let vmax = view.density_max;
        let identity = prediction as *const _ as usize;
        if self.shown != Some(identity) {
            self.heatmap.clear();
            self.shown = Some(identity);
        }
        self.heatmap.update(
            ui.ctx(),
            "prediction-density",
            (identity as u64, 0, vmax.to_bits()),
            grid,
            density,
            |mass| viridis(mass / area / vmax),
        );
        // Room for the top tick label, which stands half above the plot.
        ui.add_space(TITLE_GAP);
        ui.horizontal_top(|ui| {
            let width = (ui.available_width() - 70.0).max(100.0);
            let names = view.names.clone();
            // With several minima no single Gaussian describes the state (the figures omit it
            // too); the note below says so.
            let linear = prediction
                .linear
                .as_ref()
                .ok()
                .filter(|l| l.dim() == 2 && !prediction.several_minima());
            let response = linked_plot(ui, "prediction-plot", grid, view.reset, names.clone())
                .width(width)
                .height(view.height)
                .label_formatter(move |p| hover_text(p, field, &names))
                .show(ui, |plot_ui| {
                    if !density.is_empty()
                        && let Some(image) = self.heatmap.image("density", grid)
                    {
                        plot_ui.image(image);
                    }
                    if let Some(linear) = linear {
                        linear_ui(plot_ui, linear);
                    }
                });
            if view.show_arrows {
                let painter = ui.painter_at(*response.transform.frame());
                let arrows = &view.arrows.predicted;
                paint_arrows(&painter, &response.transform, arrows, ARROW_COLOUR);
            }
            colour_bar_ui(ui, vmax, "p per area", view.height, viridis);
        });
    }
}

/// The title line and the solver's state.
fn status_ui(ui: &mut egui::Ui, status: &SolveStatus<'_>) {
    ui.horizontal(|ui| {
        ui.strong("Fokker–Planck prediction");
        if status.solving {
            ui.spinner();
            ui.label("solving…");
        } else if status.stale {
            ui.label("(earlier settings)");
        }
    });
    if let Some(error) = status.error {
        ui.colored_label(
            ui.visuals().error_fg_color,
            format!("Prediction failed: {error}"),
        );
    }
}

/// The 1σ and 2σ ellipses of the linearised theory, the minimum and the effective minimum.
fn linear_ui(plot_ui: &mut egui_plot::PlotUi<'_>, linear: &LinearTheory) {
    let gaussian = Gaussian {
        mean: linear.mean.clone(),
        cov: linear.cov.clone(),
    };
    for (n, style) in [(1.0, LineStyle::Solid), (2.0, LineStyle::dashed_dense())] {
        plot_ui.line(
            Line::new(format!("{n}σ ellipse"), gaussian_ellipse(&gaussian, n))
                .color(Color32::from_rgb(255, 80, 80))
                .style(style)
                .width(1.5),
        );
    }
    let point = |w: &[f64]| vec![[w[0], w[1]]];
    plot_ui.points(
        Points::new("minimum w*", point(&linear.minimum))
            .shape(MarkerShape::Cross)
            .radius(7.0)
            .color(Color32::from_rgb(255, 60, 60)),
    );
    if linear.mean != linear.minimum {
        plot_ui.points(
            Points::new("effective minimum w_eff", point(&linear.mean))
                .shape(MarkerShape::Diamond)
                .radius(6.0)
                .color(Color32::from_rgb(255, 170, 0)),
        );
    }
}

/// What was solved and how fast, and the validity notes.
fn footer_ui(ui: &mut egui::Ui, prediction: &Prediction, grid: &Grid2d, status: &SolveStatus<'_>) {
    ui.label(
        egui::RichText::new(format!(
            "{} on a {}×{} grid; solved in {:.0} ms{}",
            if prediction.fokker_planck().is_some() {
                "Fokker–Planck solve"
            } else {
                "linearised theory only"
            },
            grid.nx,
            grid.ny,
            prediction.seconds * 1e3,
            status
                .latency
                .filter(|_| !status.stale)
                .map(|l| format!(", shown {:.2} s after the last change", l.as_secs_f64()))
                .unwrap_or_default()
        ))
        .small()
        .weak(),
    );
    // Where the prediction is outside its regime, in words (the plots above keep their
    // height: the app reserves these lines, see [`NOTE_HEIGHT`]).
    for flag in &prediction.validity {
        ui.label(
            egui::RichText::new(flag.to_string())
                .small()
                .color(ui.visuals().warn_fg_color),
        );
    }
}
