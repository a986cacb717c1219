//! Metrics: simulation against prediction (TV, KL of Gaussian fits, entropy production), the
//! equilibrium indicator, and the time series of entropy production and loss.

use egui::Color32;
use egui_plot::{HLine, Legend, Line, Plot};

use super::theory_adapter::{EntropySource, Prediction, gaussian_kl, total_variation};
use super::worker::Snapshot;

/// Above this `‖[H, Σ]‖ / ‖{H, Σ}‖` the state is called nonequilibrium.
const EQUILIBRIUM_TOLERANCE: f64 = 1e-3;

#[derive(Default)]
pub struct MetricsPanel;

impl MetricsPanel {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        snapshot: Option<&Snapshot>,
        prediction: Option<&Prediction>,
    ) {
        ui.strong("Simulation vs prediction");
        let linear = prediction.and_then(|p| p.linear.as_ref());
        if let Some(p) = linear {
            let equilibrium = p.nonequilibrium_ratio < EQUILIBRIUM_TOLERANCE;
            let (text, colour) = if equilibrium {
                (
                    "EQUILIBRIUM: noise commutes with curvature, no current",
                    Color32::from_rgb(40, 160, 80),
                )
            } else {
                (
                    "NONEQUILIBRIUM: persistent rotating current",
                    Color32::from_rgb(220, 90, 30),
                )
            };
            ui.colored_label(colour, egui::RichText::new(text).strong())
                .on_hover_text(format!(
                    "|HΣ − ΣH| / |HΣ + ΣH| = {:.2e} (|C| relative); C = 0 iff detailed balance",
                    p.nonequilibrium_ratio
                ));
        }
        egui::Grid::new("metrics-grid")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                let unit = snapshot
                    .map(|s| s.time_unit.name())
                    .or(prediction.map(|p| p.time_unit.name()))
                    .unwrap_or("step");
                let same_grid =
                    matches!((snapshot, prediction), (Some(s), Some(p)) if s.grid == p.grid);
                ui.label("total variation");
                ui.label(match (snapshot, prediction) {
                    (Some(s), Some(p)) if same_grid && s.samples > 0 => p
                        .density
                        .as_ref()
                        .map(|d| format!("{:.4}", total_variation(&s.density, d)))
                        .unwrap_or_else(|| "—".into()),
                    _ => "—".into(),
                });
                ui.end_row();
                ui.label("KL(sim || pred), Gaussian fits");
                let kl = snapshot
                    .and_then(|s| s.moments.as_ref())
                    .zip(prediction.and_then(Prediction::reference_gaussian))
                    .and_then(|(m, (mean, cov))| gaussian_kl(&m.mean, &m.cov, &mean, &cov));
                ui.label(kl.map(|k| format!("{k:.4e}")).unwrap_or_else(|| "—".into()));
                ui.end_row();
                ui.label(format!("entropy production / {unit}, simulated"));
                ui.label(
                    snapshot
                        .and_then(|s| s.entropy.as_ref())
                        .and_then(|e| e.rate)
                        .map(|r| format!("{r:.4e}"))
                        .unwrap_or_else(|| "—".into()),
                );
                ui.end_row();
                ui.label(format!("entropy production / {unit}, predicted"));
                let source = match prediction.and_then(Prediction::entropy_source) {
                    Some(EntropySource::FokkerPlanck) => {
                        "integral of J^T D^-1 J / p over the Fokker–Planck solution (several minima: no single linearisation applies); each step produces σ = (D^-1 J/p) · Δw at its midpoint"
                    }
                    Some(EntropySource::Linear) => {
                        "−tr(C D^-1 C Σ^-1) of the linearised theory; each step produces σ = v^T D^-1 Δw at its midpoint, v = −C Σ^-1 (w − w*)"
                    }
                    None => "no prediction",
                };
                ui.label(
                    prediction
                        .and_then(Prediction::ep_rate)
                        .map(|r| format!("{r:.4e}"))
                        .unwrap_or_else(|| "—".into()),
                )
                .on_hover_text(source);
                ui.end_row();
                ui.label("stochastic area C_12 (sim / pred)");
                let area = snapshot
                    .and_then(|s| s.moments.as_ref())
                    .filter(|m| m.area.len() == 4)
                    .map(|m| format!("{:.3e}", m.area[1]))
                    .unwrap_or_else(|| "—".into());
                let c = prediction
                    .and_then(Prediction::area)
                    .map(|c| format!("{c:.3e}"))
                    .unwrap_or_else(|| "—".into());
                ui.label(format!("{area} / {c}"));
                ui.end_row();
                if let Some(s) = snapshot {
                    ui.label("walkers (diverged)");
                    ui.label(format!("{} ({})", s.walkers, s.diverged));
                    ui.end_row();
                    ui.label("walker-steps / s");
                    ui.label(format!("{:.3e}", s.walker_steps_per_second));
                    ui.end_row();
                }
            });
    }

    /// Entropy production per time unit and mean loss against time.
    pub fn series_ui(
        &mut self,
        ui: &mut egui::Ui,
        snapshot: Option<&Snapshot>,
        prediction: Option<&Prediction>,
    ) {
        let Some(s) = snapshot else {
            return;
        };
        // Two labels and spacing: the plots must never ask for more than the panel has, or a
        // resizable panel grows every frame.
        let height = ((ui.available_height() - 70.0) * 0.5).max(40.0);
        ui.label(format!("entropy production per {}", s.time_unit.name()));
        let ep: Vec<[f64; 2]> = s
            .series
            .iter()
            .filter_map(|p| p.entropy_rate.map(|r| [p.time, r]))
            .collect();
        Plot::new("series-entropy")
            .height(height)
            .legend(Legend::default())
            .show(ui, |plot_ui| {
                plot_ui.line(Line::new("simulated", ep).color(Color32::from_rgb(90, 160, 255)));
                if let Some(rate) = prediction.and_then(Prediction::ep_rate) {
                    plot_ui
                        .hline(HLine::new("predicted", rate).color(Color32::from_rgb(255, 90, 90)));
                }
            });
        ui.label("mean loss of the walkers");
        let loss: Vec<[f64; 2]> = s
            .series
            .iter()
            .filter(|p| p.loss.is_finite())
            .map(|p| [p.time, p.loss])
            .collect();
        Plot::new("series-loss").height(height).show(ui, |plot_ui| {
            plot_ui.line(Line::new("loss", loss).color(Color32::from_rgb(230, 180, 60)));
        });
    }
}
