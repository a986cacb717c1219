//! The MNIST tab's controls: start and cancel, the data, the settings, the progress line.

use egui::{Color32, RichText};
use neqlab::fields;
use neqlab::mnist::LearningRate;

use crate::app::number_field;

use super::{DataChoice, JobStatus, MnistPanel};

/// Width of the progress bar.
const PROGRESS_WIDTH: f32 = 420.0;

impl MnistPanel {
    /// Start / Cancel, the data choice and the settings of the next run.
    pub(super) fn controls_ui(&mut self, ui: &mut egui::Ui) {
        self.run_buttons_ui(ui);
        if let Some(error) = &self.data_error {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Cannot use that folder: {error}"),
            );
        }
        if let Some(error) = &self.preset_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        let running = self.is_running();
        ui.add_enabled_ui(!running, |ui| {
            ui.horizontal_wrapped(|ui| {
                self.settings_ui(ui);
            });
            ui.horizontal_wrapped(|ui| {
                self.learning_rate_ui(ui);
            });
        });
    }

    fn run_buttons_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let running = self.is_running();
        let loading = self.is_loading();
        ui.horizontal_wrapped(|ui| {
            let start = ui.add_enabled(
                !running && !loading,
                egui::Button::new(RichText::new("Start").strong()),
            );
            if start.clicked() {
                self.start(&ctx);
            }
            if ui
                .add_enabled(running, egui::Button::new("Cancel"))
                .clicked()
            {
                self.cancel();
            }
            ui.separator();
            let source = match (&self.choice, &self.data) {
                (DataChoice::Bundled, _) => "bundled digits (8000 train / 2000 test)".to_string(),
                (DataChoice::Folder(folder), Some(data)) => format!(
                    "{} ({} train / {} test)",
                    folder.display(),
                    data.train.len(),
                    data.test.len()
                ),
                (DataChoice::Folder(folder), None) => folder.display().to_string(),
            };
            ui.label(format!("Data: {source}"));
            if ui
                .add_enabled(!running && !loading, egui::Button::new("Use IDX folder…"))
                .clicked()
            {
                let request = crate::app::dialogs::DialogRequest::folder();
                self.folder_dialog.request(&ctx, request);
            }
            if self.choice != DataChoice::Bundled
                && ui
                    .add_enabled(!running, egui::Button::new("Bundled digits"))
                    .clicked()
            {
                self.use_bundled();
            }
            if loading {
                ui.spinner();
                ui.label("reading the IDX files…");
            }
        });
    }

    fn settings_ui(&mut self, ui: &mut egui::Ui) {
        let batch = number_field::at_most(
            fields::MNIST_BATCH,
            self.train_examples() as u64,
            "at most the training digits",
        );
        let c = &mut self.config;
        number_field::count(
            ui,
            "train digits (0: all)",
            fields::MNIST_TRAIN_DIGITS,
            &mut c.train_n,
        );
        number_field::count(ui, "test digits", fields::MNIST_TEST_DIGITS, &mut c.test_n);
        number_field::count(ui, "hidden", fields::MNIST_HIDDEN, &mut c.hidden);
        number_field::count(ui, "batch", batch, &mut c.batch);
        number_field::count(
            ui,
            "training epochs",
            fields::MNIST_TRAIN_EPOCHS,
            &mut c.train_epochs,
        );
        number_field::count(
            ui,
            "recorded epochs",
            fields::MNIST_RECORD_EPOCHS,
            &mut c.record_epochs,
        );
        ui.checkbox(&mut c.compare, "compare with/without replacement");
    }

    /// The learning rate, held per mean loss (the default: the same step whatever the data
    /// set's size) or per summed loss, with the `η` it gives for the data set chosen.
    fn learning_rate_ui(&mut self, ui: &mut egui::Ui) {
        let n = self.train_examples();
        let rate = match self.config.learning_rate() {
            Ok(rate) => rate,
            // Both given (a preset file refuses that, a program might not): keep the step.
            Err(_) => LearningRate::MeanLoss(neqlab::mnist::DEFAULT_ETA_MEAN_LOSS),
        };
        if self.config.eta.is_none() || self.config.eta_mean_loss.is_some() {
            // Hold the rate in exactly one field, so the field below edits it.
            (self.config.eta, self.config.eta_mean_loss) = match rate {
                LearningRate::MeanLoss(value) => (None, Some(value)),
                LearningRate::Summed(value) => (Some(value), None),
            };
        }
        let mut per_mean_loss = matches!(rate, LearningRate::MeanLoss(_));
        ui.label("learning rate held");
        let before = per_mean_loss;
        ui.radio_value(&mut per_mean_loss, true, "per mean loss (η N)")
            .on_hover_text("the step on the mean cross-entropy: the same step whatever N");
        ui.radio_value(&mut per_mean_loss, false, "per summed loss (η)")
            .on_hover_text("the step on L = Σ CE + (λ/2)|w|²: larger steps for larger N");
        if per_mean_loss != before {
            // Switch the way it is held, keeping the step of the current data set.
            (self.config.eta, self.config.eta_mean_loss) = if per_mean_loss {
                (None, Some(rate.eta_mean_loss(n)))
            } else {
                (Some(rate.eta(n)), None)
            };
        }
        let c = &mut self.config;
        if let Some(rate) = &mut c.eta_mean_loss {
            number_field::real(ui, "η N:", fields::MNIST_ETA_MEAN_LOSS, rate);
        } else if let Some(eta) = &mut c.eta {
            number_field::real(ui, "η:", fields::MNIST_ETA, eta);
        }
        if let Ok(rate) = c.learning_rate() {
            ui.label(
                RichText::new(format!(
                    "gives η = {:.3e} on the summed loss, η N = {:.3} on the mean loss, for N = {n}",
                    rate.eta(n),
                    rate.eta_mean_loss(n)
                ))
                .weak(),
            );
        }
    }

    /// The status, the progress bar and the last epoch's numbers; the report's summary.
    pub(super) fn progress_ui(&self, ui: &mut egui::Ui) {
        let last = self.history.last();
        ui.horizontal_wrapped(|ui| {
            let (text, colour) = match &self.status {
                JobStatus::Idle => ("idle".to_string(), ui.visuals().weak_text_color()),
                JobStatus::Running => ("running".to_string(), ui.visuals().text_color()),
                JobStatus::Finished => ("finished".to_string(), Color32::from_rgb(90, 200, 120)),
                JobStatus::Cancelled => ("cancelled".to_string(), ui.visuals().warn_fg_color),
                JobStatus::Failed(e) => (format!("failed: {e}"), ui.visuals().error_fg_color),
            };
            ui.colored_label(colour, RichText::new(text).strong());
            let progress = self.job.as_ref().and_then(|job| job.progress());
            if let Some(progress) = progress {
                ui.add(
                    egui::ProgressBar::new(progress.fraction as f32)
                        .text(progress.phase)
                        .desired_width(PROGRESS_WIDTH),
                );
            }
            if let Some(p) = last {
                ui.label(format!(
                    "{:.0} examples/s   loss {:.3}   train {:.1}%   test {:.1}%",
                    p.examples_per_second,
                    p.loss,
                    100.0 * p.train_accuracy,
                    100.0 * p.test_accuracy
                ));
            }
        });
        if let Some(r) = &self.report {
            ui.label(format!(
                "Report: {} · {} train / {} test digits · {} parameters · η = {:.3e} (η N = {:.3}) · \
                 test accuracy {:.1}% (after training {:.1}%, stationary mean of the weights \
                 {:.1}%), train accuracy {:.1}% · {:.0} examples/s · {:.1} s",
                r.source,
                r.train_n,
                r.test_n,
                r.parameters,
                r.eta,
                r.eta_mean_loss,
                100.0 * r.test_accuracy,
                100.0 * r.trained_test_accuracy,
                100.0 * r.averaged_test_accuracy,
                100.0 * r.train_accuracy,
                r.examples_per_second,
                r.seconds
            ));
        }
    }
}
