//! The MNIST tab: train a small network on handwritten digits in the background, watch its
//! loss and accuracy, then see the entropy production and the fluctuation theorems measured
//! in the plane of its leading fluctuations (docs/theory.md sections 1–3 and 7), with and without
//! replacement. All of it is [`neqlab::mnist`]; this panel only sends commands and draws.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

use egui::{Color32, RichText};
use egui_plot::{HLine, Legend, Line, MarkerShape, Plot, Points};
use neqlab::mnist::{
    DataSet, EntropyAnalysis, JobMessage, MnistConfig, MnistJob, MnistPreset, MnistReport, Phase,
    Progress, StationaryReport,
};

/// Test digits shown in the gallery (8 × 4).
const GALLERY_COLUMNS: usize = 8;
const GALLERY_ROWS: usize = 4;

/// Where the job stands.
#[derive(Clone, Debug, PartialEq)]
pub enum JobStatus {
    Idle,
    Running,
    Finished,
    Cancelled,
    Failed(String),
}

/// The digits a run uses.
#[derive(Clone, Debug, PartialEq)]
enum DataChoice {
    Bundled,
    Folder(PathBuf),
}

pub struct MnistPanel {
    /// The settings of the next run (from `presets/mnist.toml`).
    pub config: MnistConfig,
    preset_error: Option<String>,
    choice: DataChoice,
    data: Option<Arc<DataSet>>,
    /// A data set being read on the `mnist-load` thread.
    loading: Option<Receiver<Result<DataSet, String>>>,
    pub data_error: Option<String>,
    job: Option<MnistJob>,
    pub status: JobStatus,
    /// Every progress report of the current run, in order.
    pub history: Vec<Progress>,
    pub report: Option<Box<MnistReport>>,
    /// Gallery textures of the test digits of `data`, made once per data set.
    gallery: Vec<egui::TextureHandle>,
}

impl Default for MnistPanel {
    fn default() -> Self {
        let (config, preset_error) = match MnistPreset::shipped() {
            Ok(preset) => (preset.mnist, None),
            Err(e) => (MnistConfig::default(), Some(e.to_string())),
        };
        Self {
            config,
            preset_error,
            choice: DataChoice::Bundled,
            data: None,
            loading: None,
            data_error: None,
            job: None,
            status: JobStatus::Idle,
            history: Vec::new(),
            report: None,
            gallery: Vec::new(),
        }
    }
}

impl MnistPanel {
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// Start a run with the current settings (the bundled digits are decoded on first use).
    pub fn start(&mut self, ctx: &egui::Context) {
        if self.job.is_some() || self.loading.is_some() {
            return;
        }
        let data = match &self.data {
            Some(data) => Arc::clone(data),
            None => match DataSet::bundled() {
                Ok(data) => {
                    let data = Arc::new(data);
                    self.set_data(Arc::clone(&data), DataChoice::Bundled);
                    data
                }
                Err(e) => {
                    self.status =
                        JobStatus::Failed(format!("cannot decode the bundled digits: {e}"));
                    return;
                }
            },
        };
        let repaint = ctx.clone();
        match MnistJob::spawn_with_notify(self.config.clone(), data, move || {
            repaint.request_repaint()
        }) {
            Ok(job) => {
                self.job = Some(job);
                self.status = JobStatus::Running;
                self.history.clear();
                self.report = None;
            }
            Err(e) => self.status = JobStatus::Failed(e.to_string()),
        }
    }

    pub fn cancel(&mut self) {
        if let Some(job) = &self.job {
            job.cancel();
        }
    }

    fn set_data(&mut self, data: Arc<DataSet>, choice: DataChoice) {
        self.data = Some(data);
        self.choice = choice;
        self.gallery.clear();
        self.data_error = None;
    }

    /// Read an IDX folder on a named thread; the result arrives in [`Self::poll`].
    pub fn load_folder(&mut self, ctx: &egui::Context, folder: PathBuf) {
        let (sender, receiver) = channel();
        let repaint = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("mnist-load".into())
            .spawn(move || {
                neqlab::background::lower_priority();
                let result = DataSet::read_folder(&folder).map_err(|e| e.to_string());
                // The panel may be gone: nobody left to tell.
                let _ = sender.send(result);
                repaint.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.loading = Some(receiver);
                self.data_error = None;
            }
            Err(e) => self.data_error = Some(format!("cannot start the loading thread: {e}")),
        }
    }

    /// Take every waiting message of the job and of the loader.
    pub fn poll(&mut self) {
        if let Some(receiver) = &self.loading {
            match receiver.try_recv() {
                Ok(Ok(data)) => {
                    let choice = DataChoice::Folder(PathBuf::from(&data.source));
                    self.loading = None;
                    self.set_data(Arc::new(data), choice);
                }
                Ok(Err(message)) => {
                    self.loading = None;
                    self.data_error = Some(message);
                }
                Err(TryRecvError::Disconnected) => {
                    self.loading = None;
                    self.data_error = Some("the loading thread ended without an answer".into());
                }
                Err(TryRecvError::Empty) => {}
            }
        }
        while let Some(message) = self.job.as_ref().and_then(MnistJob::try_next) {
            self.handle(message);
        }
        if self.job.as_ref().is_some_and(MnistJob::is_finished) {
            // The last message was sent before the thread ended: take it, then let go.
            while let Some(message) = self.job.as_ref().and_then(MnistJob::try_next) {
                self.handle(message);
            }
            self.job = None;
            if self.status == JobStatus::Running {
                self.status = JobStatus::Failed("the job ended without a report".into());
            }
        }
    }

    fn handle(&mut self, message: JobMessage) {
        match message {
            JobMessage::Progress(progress) => self.history.push(progress),
            JobMessage::Finished(report) => {
                self.report = Some(report);
                self.status = JobStatus::Finished;
            }
            JobMessage::Cancelled => self.status = JobStatus::Cancelled,
            JobMessage::Failed(message) => self.status = JobStatus::Failed(message),
        }
    }

    /// Tests: block until the job sends its next message (or `timeout` passes), handle it.
    ///
    /// Once the job has hung up (its last message taken), wait for its thread to end too: the
    /// senders drop a moment before the thread counts as finished, and a background thread
    /// may not be scheduled for a while on a busy machine.
    #[cfg(test)]
    pub fn wait_for_message(&mut self, timeout: std::time::Duration) {
        use std::sync::mpsc::RecvTimeoutError;
        let Some(job) = &self.job else {
            return;
        };
        match job.messages().recv_timeout(timeout) {
            Ok(message) => self.handle(message),
            Err(RecvTimeoutError::Disconnected) => {
                let deadline = std::time::Instant::now() + timeout;
                while !job.is_finished() && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        if self.gallery.is_empty()
            && let Some(data) = &self.data
        {
            self.gallery = gallery_textures(ui.ctx(), data);
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.controls_ui(ui);
            ui.separator();
            self.progress_ui(ui);
            ui.separator();
            let width = ui.available_width();
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(width * 0.62);
                    self.curves_ui(ui);
                });
                ui.vertical(|ui| {
                    self.gallery_ui(ui);
                });
            });
            ui.separator();
            self.theorems_ui(ui);
        });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let running = self.is_running();
        ui.horizontal_wrapped(|ui| {
            let start = ui.add_enabled(
                !running && self.loading.is_none(),
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
            let source = match &self.choice {
                DataChoice::Bundled => "bundled digits (8000 train / 2000 test)".to_string(),
                DataChoice::Folder(folder) => folder.display().to_string(),
            };
            ui.label(format!("Data: {source}"));
            if ui
                .add_enabled(!running, egui::Button::new("Use IDX folder…"))
                .clicked()
                && let Some(folder) = rfd::FileDialog::new().pick_folder()
            {
                self.load_folder(&ctx, folder);
            }
            if self.choice != DataChoice::Bundled
                && ui
                    .add_enabled(!running, egui::Button::new("Bundled digits"))
                    .clicked()
            {
                self.data = None;
                self.choice = DataChoice::Bundled;
                self.gallery.clear();
            }
            if self.loading.is_some() {
                ui.spinner();
                ui.label("reading the IDX files…");
            }
        });
        if let Some(error) = &self.data_error {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Cannot use that folder: {error}"),
            );
        }
        if let Some(error) = &self.preset_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.add_enabled_ui(!running, |ui| {
            ui.horizontal_wrapped(|ui| {
                let c = &mut self.config;
                ui.label("train digits (0: all)");
                ui.add(egui::DragValue::new(&mut c.train_n).speed(50));
                ui.label("test digits");
                ui.add(egui::DragValue::new(&mut c.test_n).speed(50));
                ui.label("hidden");
                ui.add(egui::DragValue::new(&mut c.hidden).range(1..=4096));
                ui.label("η");
                ui.add(
                    egui::DragValue::new(&mut c.eta)
                        .speed(1e-7)
                        .range(0.0..=1.0)
                        .custom_formatter(|x, _| format!("{x:.2e}")),
                );
                ui.label("batch");
                ui.add(egui::DragValue::new(&mut c.batch).range(1..=10_000));
                ui.label("training epochs");
                ui.add(egui::DragValue::new(&mut c.train_epochs).range(0..=10_000));
                ui.label("recorded epochs");
                ui.add(egui::DragValue::new(&mut c.record_epochs).range(1..=100_000));
                ui.checkbox(&mut c.compare, "compare with/without replacement");
            });
        });
    }

    fn progress_ui(&self, ui: &mut egui::Ui) {
        let last = self.history.last();
        ui.horizontal(|ui| {
            let (text, colour) = match &self.status {
                JobStatus::Idle => ("idle".to_string(), ui.visuals().weak_text_color()),
                JobStatus::Running => ("running".to_string(), ui.visuals().text_color()),
                JobStatus::Finished => ("finished".to_string(), Color32::from_rgb(90, 200, 120)),
                JobStatus::Cancelled => ("cancelled".to_string(), ui.visuals().warn_fg_color),
                JobStatus::Failed(e) => (format!("failed: {e}"), ui.visuals().error_fg_color),
            };
            ui.colored_label(colour, RichText::new(text).strong());
            if let Some(p) = last {
                let fraction = p.epoch as f32 / p.epochs.max(1) as f32;
                let label = format!(
                    "{} ({}): epoch {}/{}",
                    phase_name(p.phase),
                    p.replacement.name().to_uppercase(),
                    p.epoch,
                    p.epochs
                );
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .text(label)
                        .desired_width(420.0)
                        .animate(self.job.is_some()),
                );
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
                "Report: {} · {} train / {} test digits · {} parameters · test accuracy {:.1}% \
                 (after training {:.1}%), train accuracy {:.1}% · {:.0} examples/s · {:.1} s",
                r.source,
                r.train_n,
                r.test_n,
                r.parameters,
                100.0 * r.test_accuracy,
                100.0 * r.trained_test_accuracy,
                100.0 * r.train_accuracy,
                r.examples_per_second,
                r.seconds
            ));
        }
    }

    /// Loss and accuracies over the epochs of the main run (every phase, in order).
    fn curves_ui(&self, ui: &mut egui::Ui) {
        let main = self
            .report
            .as_ref()
            .map(|r| r.replacement)
            .or_else(|| self.history.first().map(|p| p.replacement));
        let points: Vec<&Progress> = self
            .history
            .iter()
            .filter(|p| Some(p.replacement) == main || p.phase == Phase::Training)
            .collect();
        let series = |f: &dyn Fn(&Progress) -> f64| -> Vec<[f64; 2]> {
            points
                .iter()
                .enumerate()
                .map(|(i, p)| [(i + 1) as f64, f(p)])
                .collect()
        };
        let height = 200.0;
        ui.label(RichText::new("Loss (mean cross-entropy per example) over epochs").strong());
        Plot::new("mnist-loss")
            .height(height)
            .x_axis_label("epoch (training, then stationary)")
            .allow_scroll(false)
            .include_y(0.0)
            .show(ui, |plot_ui| {
                plot_ui.line(
                    Line::new("loss", series(&|p| p.loss)).color(Color32::from_rgb(255, 170, 60)),
                );
            });
        ui.label(RichText::new("Accuracy over epochs").strong());
        Plot::new("mnist-accuracy")
            .height(height)
            .x_axis_label("epoch (training, then stationary)")
            .allow_scroll(false)
            .include_y(0.0)
            .include_y(1.0)
            .legend(Legend::default())
            .show(ui, |plot_ui| {
                plot_ui.line(
                    Line::new("train", series(&|p| p.train_accuracy))
                        .color(Color32::from_rgb(90, 160, 255)),
                );
                plot_ui.line(
                    Line::new("test", series(&|p| p.test_accuracy))
                        .color(Color32::from_rgb(90, 200, 120)),
                );
            });
    }

    /// Test digits with the predicted labels of the main run (green right, red wrong).
    fn gallery_ui(&self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Test digits and predicted labels").strong());
        let predictions = self
            .report
            .as_ref()
            .and_then(|r| r.stationary.first())
            .map(|s| s.test_predictions.as_slice())
            .unwrap_or(&[]);
        let labels = self.data.as_ref().map(|d| d.test.labels.as_slice());
        if self.gallery.is_empty() {
            ui.label(RichText::new("(the digits appear once a run starts)").weak());
            return;
        }
        egui::Grid::new("mnist-gallery")
            .spacing([6.0, 6.0])
            .show(ui, |ui| {
                for (i, texture) in self.gallery.iter().enumerate() {
                    ui.vertical(|ui| {
                        ui.add(egui::Image::new(texture).fit_to_exact_size(egui::vec2(44.0, 44.0)));
                        let truth = labels.and_then(|l| l.get(i)).copied();
                        match (predictions.get(i), truth) {
                            (Some(&p), Some(t)) => {
                                let colour = if p == t {
                                    Color32::from_rgb(90, 200, 120)
                                } else {
                                    Color32::from_rgb(255, 90, 90)
                                };
                                ui.colored_label(colour, RichText::new(format!("{p}")).strong())
                                    .on_hover_text(format!("true label {t}"));
                            }
                            _ => {
                                ui.label(RichText::new("?").weak());
                            }
                        }
                    });
                    if (i + 1) % GALLERY_COLUMNS == 0 {
                        ui.end_row();
                    }
                }
            });
    }

    /// ⟨exp(−Σ_k)⟩ against k, the DFT slope and ⟨σ⟩, one column per replacement scheme.
    fn theorems_ui(&self, ui: &mut egui::Ui) {
        ui.label(
            RichText::new("Fluctuation theorems in the plane of the leading fluctuations").strong(),
        );
        let Some(report) = &self.report else {
            ui.label(
                RichText::new("(after a run: <exp(−Σ)> for k = 1..5, the DFT slope and the entropy production, with and without replacement)")
                    .weak(),
            );
            return;
        };
        let runs = &report.stationary;
        ui.columns(runs.len().max(1), |columns| {
            for (column, run) in columns.iter_mut().zip(runs) {
                stationary_ui(column, run, report.projection_dim);
            }
        });
    }
}

fn stationary_ui(ui: &mut egui::Ui, run: &StationaryReport, projection_dim: usize) {
    let a = &run.analysis;
    let scheme = match run.replacement {
        neqlab::dynamics::Replacement::Wr => "with replacement",
        neqlab::dynamics::Replacement::Wor => "without replacement",
    };
    ui.label(
        RichText::new(format!(
            "{} {scheme} (k = {projection_dim} directions, time unit: {})",
            run.algorithm.name().to_uppercase(),
            run.time_unit
        ))
        .strong(),
    );
    ui.label(format!(
        "<σ> = {:.3e} ± {:.1e} per {} (formula −tr(C D^-1 C Σ^-1): {:.3e})",
        a.ep_rate, a.ep_rate_stderr, run.time_unit, a.ep_rate_formula
    ));
    let slope = if a.dft_slope.is_finite() {
        format!("{:.2} ± {:.2} (theory 1)", a.dft_slope, a.dft_slope_stderr)
    } else {
        "— (too few samples)".into()
    };
    ui.label(format!(
        "DFT slope of ln P(Σ)/P(−Σ) at k = {}: {slope}",
        a.dft_k
    ));
    ui.label(format!(
        "test accuracy {:.1}% · {} recorded {}s",
        100.0 * run.test_accuracy,
        run.recorded_units,
        run.time_unit
    ));
    let orange = Color32::from_rgb(255, 160, 60);
    let mut series = vec![(
        run.time_unit.to_string(),
        a,
        Color32::from_rgb(90, 160, 255),
    )];
    if let Some(every) = &run.analysis_per_step {
        ui.label(
            RichText::new(format!(
                "every step ({} records; not a Markov chain at this resolution): <σ> = {:.3e} ± {:.1e} per step, DFT slope {:.2} ± {:.2}",
                every.samples, every.ep_rate, every.ep_rate_stderr, every.dft_slope, every.dft_slope_stderr
            ))
            .color(orange),
        );
        series.push(("every step".to_owned(), every, orange));
    }
    ift_plot(
        ui,
        &format!("mnist-ift-{}", run.replacement.name()),
        &series,
    );
}

/// `⟨exp(−Σ_k)⟩` against `k` for each `(name, analysis, colour)`, with the line at 1.
///
/// Points carried by a handful of windows are not measurements: they are drawn hollow and
/// grey, pinned to the edge when off scale, so they cannot squash the measured ones; a note
/// under the plot gives their values.
fn ift_plot(ui: &mut egui::Ui, id: &str, series: &[(String, &EntropyAnalysis, Color32)]) {
    let grey = Color32::from_gray(140);
    let (low, high) = (0.0, 2.0);
    let longest = series
        .iter()
        .map(|(_, a, _)| a.ift.len())
        .max()
        .unwrap_or(0);
    Plot::new(id)
        .height(180.0)
        .x_axis_label("trajectory length k")
        .y_axis_label("<exp(−Σ_k)>")
        .allow_scroll(false)
        .legend(Legend::default())
        .include_x(0.5)
        .include_x(longest as f64 + 0.5)
        .include_y(0.9)
        .include_y(1.1)
        .show(ui, |plot_ui| {
            plot_ui.hline(HLine::new("1", 1.0).color(Color32::from_rgb(255, 90, 90)));
            let (mut rough, mut above, mut below) = (Vec::new(), Vec::new(), Vec::new());
            for (offset, (name, a, colour)) in series.iter().enumerate() {
                // Side by side when two series share a k.
                let shift = 0.08 * offset as f64;
                let mut measured = Vec::new();
                for (k, (&m, &e)) in a.ift.iter().zip(&a.ift_stderr).enumerate() {
                    let x = (k + 1) as f64 + shift;
                    if !m.is_finite() {
                        continue;
                    }
                    if !a.ift_measured(k + 1) {
                        match m {
                            m if m > high => above.push([x, high]),
                            m if m < low => below.push([x, low]),
                            m => rough.push([x, m]),
                        }
                        continue;
                    }
                    if e.is_finite() {
                        let bar = vec![[x, (m - e).max(low)], [x, (m + e).min(high)]];
                        plot_ui.line(Line::new(name.clone(), bar).color(*colour).width(1.5));
                    }
                    measured.push([x, m.clamp(low, high)]);
                }
                plot_ui.points(
                    Points::new(name.clone(), measured)
                        .radius(4.0)
                        .color(*colour),
                );
            }
            let hollow = |points: Vec<[f64; 2]>, shape| {
                Points::new("not a measurement", points)
                    .shape(shape)
                    .filled(false)
                    .radius(5.0)
                    .color(grey)
            };
            plot_ui.points(hollow(rough, MarkerShape::Circle));
            plot_ui.points(hollow(above, MarkerShape::Up));
            plot_ui.points(hollow(below, MarkerShape::Down));
        });
    let notes: Vec<String> = series
        .iter()
        .flat_map(|(name, a, _)| {
            (1..=a.ift.len())
                .filter(|&k| !a.ift_measured(k))
                .map(move |k| {
                    let value = a.ift[k - 1];
                    let value = if (0.01..100.0).contains(&value.abs()) {
                        format!("{value:.3}")
                    } else {
                        format!("{value:.2e}")
                    };
                    format!(
                        "{name}, k = {k}: {value} from {:.1} effective windows",
                        a.ift_effective[k - 1]
                    )
                })
        })
        .collect();
    if !notes.is_empty() {
        ui.label(
            RichText::new(format!(
                "Grey: not a measurement (fewer than {} effective windows; a few rare windows with Σ < 0 decide the mean). {}.",
                neqlab::mnist::analysis::IFT_MIN_EFFECTIVE,
                notes.join("; ")
            ))
            .small()
            .color(grey),
        );
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Training => "training",
        Phase::Directions => "finding directions",
        Phase::Recording => "recording",
    }
}

/// Grey textures of the first test digits (white on black, nearest-neighbour scaling).
fn gallery_textures(ctx: &egui::Context, data: &DataSet) -> Vec<egui::TextureHandle> {
    let test = &data.test;
    (0..(GALLERY_COLUMNS * GALLERY_ROWS).min(test.len()))
        .map(|i| {
            let image = egui::ColorImage::from_gray([test.cols, test.rows], test.image(i));
            ctx.load_texture(
                format!("mnist-digit-{i}"),
                image,
                egui::TextureOptions::NEAREST,
            )
        })
        .collect()
}
