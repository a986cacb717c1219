//! The Posterior tab's KL plot: exact KL divergences from the posterior against η (log-log),
//! with walker-ensemble estimates and their standard errors.

use egui::RichText;
use egui_plot::{Legend, Line, MarkerShape, Plot, Points};
use neqlab::posterior::{PosteriorReport, PosteriorRow};

use super::colours::{SGLD_COLOUR, SGWORLD_COLOUR, ULA_COLOUR};
use super::{PosteriorPanel, SIMULATED_FRACTIONS, SIMULATED_STEPS, SIMULATED_WALKERS};

impl PosteriorPanel {
    pub(super) fn kl_plot_ui(&mut self, ui: &mut egui::Ui, height: f32) {
        ui.label(RichText::new("KL(stationary || posterior) against η").strong());
        self.simulate_ui(ui);
        self.kl_curves_ui(ui, height);
    }

    /// The Simulate button and what the points are.
    fn simulate_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let button = ui.add_enabled(
                !self.simulating() && self.report.is_some(),
                egui::Button::new("Simulate"),
            );
            if button
                .on_hover_text(format!(
                    "walker ensembles ({SIMULATED_WALKERS} walkers, {SIMULATED_STEPS} steps, 20 groups for the error bars) at η = {:?} × 2/h_max",
                    SIMULATED_FRACTIONS
                ))
                .clicked()
            {
                self.request_simulation();
            }
            if self.simulating() {
                ui.spinner();
                if let Some(progress) = self.jobs.simulated.progress() {
                    ui.label(format!("{}…", progress.phase));
                }
            } else if self.simulated.is_some() {
                ui.label("points: walker ensembles, bars ±1 standard error");
            } else {
                ui.label(RichText::new("lines: exact stationary Gaussians").weak());
            }
        });
    }

    /// The log-log plot of the exact curves and the simulated points.
    fn kl_curves_ui(&mut self, ui: &mut egui::Ui, height: f32) {
        let report = self.report.clone();
        let simulated = self.simulated.clone();
        let log_axis = |mark: egui_plot::GridMark, _: &std::ops::RangeInclusive<f64>| {
            if (mark.value - mark.value.round()).abs() < 1e-9 {
                format!("1e{}", mark.value.round() as i64)
            } else {
                String::new()
            }
        };
        let mut plot = Plot::new("posterior-kl")
            .height(height - 30.0)
            .legend(Legend::default().position(egui_plot::Corner::LeftTop))
            .x_axis_label("η (log₁₀)")
            .y_axis_label("KL (log₁₀)")
            .x_axis_formatter(log_axis)
            .y_axis_formatter(log_axis)
            .label_formatter(|hover| {
                let p = match hover {
                    egui_plot::HoverPosition::NearDataPoint { position, .. }
                    | egui_plot::HoverPosition::Elsewhere { position } => position,
                };
                Some(format!(
                    "η = {:.3e}\nKL = {:.3e}",
                    10f64.powf(p.x),
                    10f64.powf(p.y)
                ))
            });
        if self.reset_plots {
            plot = plot.reset();
        }
        plot.show(ui, |plot_ui| {
            if let Some(report) = report {
                exact_curves_ui(plot_ui, &report);
            }
            if let Some(rows) = simulated {
                simulated_points_ui(plot_ui, &rows);
            }
        });
    }
}

/// The exact KL curves of SGLD, SGWORLD and ULA, log-log.
fn exact_curves_ui(plot_ui: &mut egui_plot::PlotUi, report: &PosteriorReport) {
    let curve = |pick: &dyn Fn(&PosteriorRow) -> Option<f64>| -> Vec<[f64; 2]> {
        report
            .rows
            .iter()
            .filter_map(|r| {
                pick(r)
                    .filter(|kl| *kl > 0.0)
                    .map(|kl| [r.eta.log10(), kl.log10()])
            })
            .collect()
    };
    for (name, colour, pick) in [
        (
            "SGLD (exact)",
            SGLD_COLOUR,
            &(|r: &PosteriorRow| r.kl_sgld) as &dyn Fn(&PosteriorRow) -> Option<f64>,
        ),
        (
            "SGWORLD (exact, epoch boundaries)",
            SGWORLD_COLOUR,
            &|r: &PosteriorRow| r.kl_sgworld,
        ),
        ("full-batch ULA (exact)", ULA_COLOUR, &|r: &PosteriorRow| {
            r.kl_ula
        }),
    ] {
        let points = curve(pick);
        plot_ui.line(Line::new(name, points.clone()).color(colour).width(2.0));
        plot_ui.points(Points::new(name, points).color(colour).radius(2.5));
    }
}

/// The simulated KLs with ±1 standard error bars, log-log.
fn simulated_points_ui(plot_ui: &mut egui_plot::PlotUi, rows: &[PosteriorRow]) {
    for (name, colour, value, error) in [
        (
            "SGLD (simulated)",
            SGLD_COLOUR,
            &(|r: &PosteriorRow| r.kl_sgld_sim) as &dyn Fn(&PosteriorRow) -> Option<f64>,
            &(|r: &PosteriorRow| r.kl_sgld_sim_se) as &dyn Fn(&PosteriorRow) -> Option<f64>,
        ),
        (
            "SGWORLD (simulated)",
            SGWORLD_COLOUR,
            &|r: &PosteriorRow| r.kl_sgworld_sim,
            &|r: &PosteriorRow| r.kl_sgworld_sim_se,
        ),
    ] {
        let mut centres = Vec::new();
        for row in rows.iter() {
            let Some(kl) = value(row).filter(|kl| *kl > 0.0) else {
                continue;
            };
            let x = row.eta.log10();
            let se = error(row).unwrap_or(0.0);
            let low = if kl - se > 0.0 {
                (kl - se).log10()
            } else {
                kl.log10() - 1.0
            };
            let high = (kl + se).log10();
            plot_ui.line(
                Line::new(name, vec![[x, low], [x, high]])
                    .color(colour)
                    .width(1.5),
            );
            centres.push([x, kl.log10()]);
        }
        plot_ui.points(
            Points::new(name, centres)
                .color(colour)
                .shape(MarkerShape::Diamond)
                .filled(false)
                .radius(6.0),
        );
    }
}
