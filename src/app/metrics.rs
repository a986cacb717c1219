//! Metrics: simulation against prediction (TV, KL of Gaussian fits, entropy production,
//! stochastic area, significant current), the equilibrium indicator, and the time series of
//! entropy production and loss. Every number comes from the stationary model
//! (`neqlab::stationary::StationaryState`).

use egui::Color32;
use egui_plot::{HLine, Line, Plot};
use neqlab::stationary::validity::approximation_note;
use neqlab::stationary::{EntropySource, Prediction, PredictionPart, StationaryState};

use super::plot2d::{TITLE_GAP, readable_axes};
use super::worker::Snapshot;

#[derive(Default)]
pub struct MetricsPanel;

/// A number, or a dash when there is none.
fn number(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "—".into(), format)
}

/// Why the theory values of the entropy production (and the fluctuation theorems measured
/// with its model) are approximate: the validity flags of the part of the prediction the
/// entropy model comes from.
pub fn theory_note(prediction: Option<&Prediction>) -> Option<String> {
    let prediction = prediction?;
    let part = match prediction.entropy_source() {
        Some(EntropySource::FokkerPlanck) => PredictionPart::FokkerPlanck,
        _ => PredictionPart::Linear,
    };
    approximation_note(&prediction.validity, part)
}

/// "≈ theory approximate: …" in the warning colour, when it is.
pub fn approximate_ui(ui: &mut egui::Ui, note: Option<&str>) {
    if let Some(note) = note {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("≈ theory approximate: {note}"),
        );
    }
}

/// The equilibrium indicator of the linearised theory.
fn equilibrium_ui(ui: &mut egui::Ui, prediction: &Prediction) {
    let (Some(equilibrium), Some(ratio)) = (
        prediction.is_equilibrium(),
        prediction.nonequilibrium_ratio(),
    ) else {
        return;
    };
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
            "|HΣ − ΣH| / |HΣ + ΣH| = {ratio:.2e} (|C| relative); C = 0 iff detailed balance"
        ));
}

impl MetricsPanel {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        snapshot: Option<&Snapshot>,
        prediction: Option<&Prediction>,
    ) {
        ui.strong("Simulation vs prediction");
        if let Some(prediction) = prediction {
            equilibrium_ui(ui, prediction);
        }
        super::stationarity_view::stationarity_ui(ui, snapshot, prediction);
        let note = theory_note(prediction);
        approximate_ui(ui, note.as_deref());
        let mark = if note.is_some() { "≈ " } else { "" };
        let state = StationaryState::new(prediction, snapshot.map(|s| &s.simulated));
        // Scrolled rather than spilled: on a narrow or short panel the grid never draws over
        // its neighbours.
        egui::ScrollArea::both()
            .id_salt("metrics-scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
        egui::Grid::new("metrics-grid")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                let unit = snapshot
                    .map(|s| s.time_unit.name())
                    .or(prediction.map(|p| p.time_unit().name()))
                    .unwrap_or("step");
                ui.label("total variation");
                ui.label(number(state.total_variation(), |tv| format!("{tv:.4}")));
                ui.end_row();
                ui.label("KL(sim || pred), Gaussian fits");
                ui.label(number(state.gaussian_kl(), |k| format!("{k:.4e}")));
                ui.end_row();
                ui.label(format!("entropy production / {unit}, sim."))
                    .on_hover_text("entropy production per time unit, measured on the walkers");
                let simulated_rate = state
                    .simulated
                    .and_then(|s| s.entropy.as_ref())
                    .map(|e| e.stats.ep_rate);
                ui.label(number(simulated_rate, |r| format!("{r:.4e}")));
                ui.end_row();
                ui.label(format!("entropy production / {unit}, pred."));
                let source = match prediction.and_then(Prediction::entropy_source) {
                    Some(EntropySource::FokkerPlanck) => {
                        "integral of J^T D^-1 J / p over the Fokker–Planck solution (several minima: no single linearisation applies); each step produces σ = (D^-1 J/p) · Δw at its midpoint"
                    }
                    Some(EntropySource::Linearised) => {
                        "−tr(C D^-1 C Σ^-1) of the linearised theory; each step produces σ = v^T D^-1 Δw at its midpoint, v = −C Σ^-1 (w − w*)"
                    }
                    None => "no prediction",
                };
                ui.label(number(prediction.and_then(Prediction::ep_rate), |r| {
                    format!("{mark}{r:.4e}")
                }))
                .on_hover_text(source);
                ui.end_row();
                let (simulated_area, predicted_area) = state.areas();
                ui.label("stochastic area C_12, sim.");
                ui.label(number(simulated_area, |a| format!("{a:.3e}")));
                ui.end_row();
                ui.label("stochastic area C_12, pred.");
                ui.label(number(predicted_area, |c| format!("{mark}{c:.3e}")));
                ui.end_row();
                ui.label("current above 2 s.e. (2σ region)")
                    .on_hover_text(
                        "fraction of the cells holding 86% of the walkers' mass whose current \
                         exceeds twice its standard error (walker groups): near 0 in equilibrium",
                    );
                ui.label(number(state.current_significant_fraction(), |f| {
                    format!("{:.0} %", 100.0 * f)
                }));
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
        let height = ((ui.available_height() - 70.0 - 2.0 * TITLE_GAP) * 0.5).max(40.0);
        // The series are named in the title: a legend would cover the curve on a short plot.
        ui.label(format!(
            "entropy production per {}: simulated (blue), predicted (red)",
            s.time_unit.name()
        ));
        ui.add_space(TITLE_GAP);
        let ep: Vec<[f64; 2]> = s
            .series
            .iter()
            .filter_map(|p| p.entropy_rate.map(|r| [p.time, r]))
            .collect();
        readable_axes(ui, Plot::new("series-entropy"), s.time_unit.name(), "")
            .height(height)
            .show(ui, |plot_ui| {
                plot_ui.line(Line::new("simulated", ep).color(Color32::from_rgb(90, 160, 255)));
                if let Some(rate) = prediction.and_then(Prediction::ep_rate) {
                    let name = if theory_note(prediction).is_some() {
                        "predicted (approximate)"
                    } else {
                        "predicted"
                    };
                    plot_ui.hline(HLine::new(name, rate).color(Color32::from_rgb(255, 90, 90)));
                }
            });
        ui.label("mean loss of the walkers");
        ui.add_space(TITLE_GAP);
        let loss: Vec<[f64; 2]> = s
            .series
            .iter()
            .filter(|p| p.loss.is_finite())
            .map(|p| [p.time, p.loss])
            .collect();
        let plot = readable_axes(ui, Plot::new("series-loss"), s.time_unit.name(), "");
        plot.height(height).show(ui, |plot_ui| {
            plot_ui.line(Line::new("loss", loss).color(Color32::from_rgb(230, 180, 60)));
        });
    }
}
