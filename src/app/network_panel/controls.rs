//! The Network tab's controls: the dynamics of the next run, Run / Cancel and the status.

use neqlab::dynamics::{Algorithm, Replacement};
use neqlab::{fields, limits};

use crate::app::number_field;

use super::{CONTROLS_WIDTH, NetworkPanel, RunStatus};

impl NetworkPanel {
    /// Run / Cancel, the status and what is shown, then the settings of the next run: Run
    /// comes first so that it is on screen without scrolling on a 1280×720 projector, where
    /// the settings fill more than the controls' half of the tab.
    pub(super) fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("Seven-weight network");
        let running = self.status == RunStatus::Running;
        if self.preset.is_none() {
            return;
        }
        self.run_ui(ui, running);
        ui.separator();
        if let Some(preset) = self.preset.as_mut() {
            ui.add_enabled_ui(!running, |ui| dynamics_ui(ui, &mut preset.dynamics));
        }
    }

    /// Run / Cancel, the status and the settings of the result shown.
    fn run_ui(&mut self, ui: &mut egui::Ui, running: bool) {
        ui.horizontal(|ui| {
            if ui.add_enabled(!running, egui::Button::new("Run")).clicked() {
                let ctx = ui.ctx().clone();
                self.start(&ctx);
            }
            if ui
                .add_enabled(running, egui::Button::new("Cancel"))
                .clicked()
            {
                self.cancel();
            }
        });
        match &self.status {
            RunStatus::Idle => {
                ui.weak("Not run yet.");
            }
            RunStatus::Running => {
                let fraction = self.job.progress().map_or(0.0, |p| p.fraction);
                ui.add(
                    egui::ProgressBar::new(fraction as f32)
                        .show_percentage()
                        .desired_width(CONTROLS_WIDTH - 20.0),
                );
            }
            RunStatus::Done { seconds } => {
                ui.label(format!("Done in {seconds:.1} s."));
            }
            RunStatus::Cancelled { progress } => {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("Cancelled after {:.0}% of the run.", 100.0 * progress),
                );
            }
            RunStatus::Failed(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        }
        if let Some(result) = &self.result {
            let r = &result.report;
            ui.separator();
            ui.weak(format!(
                "Shown: {} {} η = {:.2e}, B = {}, {} walkers × {} {}s (burn-in {})",
                r.algorithm.label(),
                r.replacement.name().to_uppercase(),
                r.eta,
                r.batch,
                r.walkers,
                r.steps,
                r.time_unit.name(),
                r.burn_in
            ));
            if r.diverged_walkers > 0 {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("{} walkers diverged", r.diverged_walkers),
                );
            }
        }
    }
}

/// The dynamics of the next run.
fn dynamics_ui(ui: &mut egui::Ui, d: &mut neqlab::preset::DynamicsSpec) {
    number_field::real_slider(ui, "η", fields::ETA, 1e-8..=1e-3, true, &mut d.eta);
    number_field::count_slider(ui, "batch B", fields::BATCH, 1..=200, false, &mut d.batch);
    ui.horizontal(|ui| {
        for algorithm in Algorithm::ALL {
            ui.radio_value(&mut d.algorithm, algorithm, algorithm.label());
        }
    });
    let fixed = d.algorithm.fixed_replacement();
    if let Some(r) = fixed {
        d.replacement = Some(r);
    }
    ui.add_enabled_ui(fixed.is_none(), |ui| {
        ui.horizontal(|ui| {
            ui.radio_value(&mut d.replacement, Some(Replacement::Wr), "WR");
            ui.radio_value(&mut d.replacement, Some(Replacement::Wor), "WOR");
        });
    });
    // Seven weights, no grid.
    let max_walkers = limits::max_walkers(7, None, false, number_field::budget());
    let walkers = number_field::at_most(
        fields::WALKERS,
        max_walkers as u64,
        "what fits in this machine's memory",
    );
    number_field::count_slider(ui, "walkers", walkers, 1..=4096, true, &mut d.walkers);
    number_field::count_slider(
        ui,
        "steps",
        fields::STEPS,
        100..=1_000_000,
        true,
        &mut d.steps,
    );
    let burn_in = fields::BURN_IN;
    number_field::count_slider(ui, "burn-in", burn_in, 0..=1_000_000, true, &mut d.burn_in);
}
