//! The MNIST tab: train a small network on handwritten digits in the background, watch its
//! loss and accuracy, then see the entropy production and the fluctuation theorems measured
//! in the plane of its leading fluctuations (docs/theory.md sections 1–3 and 7), with and without
//! replacement. All of it is [`neqlab::mnist`], run by the job mechanism of
//! [`neqlab::jobs`]; this panel only sends requests and draws.
//!
//! The controls are drawn by [`controls`], the curves, digits and theorems by [`plots`].

mod controls;
mod plots;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use neqlab::jobs::{Job, JobError, JobEvent};
use neqlab::mnist::{
    DataSet, IdxError, LoadTask, MnistConfig, MnistError, MnistJob, MnistPreset, MnistReport,
    MnistRequest, Progress,
};

use super::Backend;

/// Where the job stands.
#[derive(Clone, Debug, PartialEq)]
pub enum JobStatus {
    /// Nothing started yet.
    Idle,
    /// A run is going.
    Running,
    /// The last run finished; its report is shown.
    Finished,
    /// The last run was cancelled.
    Cancelled,
    /// The last run failed, with the message shown.
    Failed(String),
}

/// The digits a run uses.
#[derive(Clone, Debug, PartialEq)]
enum DataChoice {
    Bundled,
    Folder(PathBuf),
}

/// The MNIST tab's state.
pub struct MnistPanel {
    /// The settings of the next run (from `presets/mnist.toml`).
    pub config: MnistConfig,
    preset_error: Option<String>,
    choice: DataChoice,
    data: Option<Arc<DataSet>>,
    /// Threads for the jobs, or synchronous runs inside `poll` (tests).
    backend: Backend,
    /// The run, started on first use.
    job: Option<MnistJob>,
    /// The IDX folder reader, started on first use.
    loader: Option<Job<LoadTask>>,
    /// Why the chosen folder cannot be used.
    pub data_error: Option<String>,
    pub status: JobStatus,
    /// Every progress report of the current run, in order.
    pub history: Vec<Progress>,
    pub report: Option<Box<MnistReport>>,
    /// Gallery textures of the test digits of `data`, made once per data set.
    gallery: Vec<egui::TextureHandle>,
    /// The "Use IDX folder…" dialog (desktop or in-app, never blocking).
    pub folder_dialog: super::dialogs::FileDialogs<()>,
}

impl Default for MnistPanel {
    fn default() -> Self {
        Self::with_backend(Backend::Threaded)
    }
}

impl MnistPanel {
    /// A panel whose jobs run on threads ([`Backend::Threaded`]) or synchronously inside
    /// [`poll`](Self::poll) ([`Backend::Inline`], tests).
    pub fn with_backend(backend: Backend) -> Self {
        let (config, preset_error) = match MnistPreset::shipped() {
            Ok(preset) => (preset.mnist, None),
            Err(e) => (MnistConfig::default(), Some(e.to_string())),
        };
        Self {
            config,
            preset_error,
            choice: DataChoice::Bundled,
            data: None,
            backend,
            job: None,
            loader: None,
            data_error: None,
            status: JobStatus::Idle,
            history: Vec::new(),
            report: None,
            gallery: Vec::new(),
            folder_dialog: Default::default(),
        }
    }

    /// Whether a run is going.
    pub fn is_running(&self) -> bool {
        self.job.as_ref().is_some_and(Job::is_running)
    }

    /// Whether an IDX folder is being read.
    pub fn is_loading(&self) -> bool {
        self.loader.as_ref().is_some_and(Job::is_running)
    }

    /// The training examples the next run uses (the data set's, cut to `train_n`).
    fn train_examples(&self) -> usize {
        let available = self.data.as_ref().map_or(8000, |d| d.train.len());
        self.config.train_examples(available)
    }

    /// Start a run with the current settings (the bundled digits are decoded on first use).
    pub fn start(&mut self, ctx: &egui::Context) {
        if self.is_running() || self.is_loading() {
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
        let job = match self.job.take() {
            Some(job) => job,
            None => match self.backend {
                Backend::Inline => neqlab::mnist::job::inline(),
                Backend::Threaded => {
                    let ctx = ctx.clone();
                    match neqlab::mnist::job::spawn(move || ctx.request_repaint()) {
                        Ok(job) => job,
                        Err(e) => {
                            self.status = JobStatus::Failed(e.to_string());
                            return;
                        }
                    }
                }
            },
        };
        let job = self.job.insert(job);
        job.request(MnistRequest {
            config: self.config.clone(),
            data,
        });
        self.status = JobStatus::Running;
        self.history.clear();
        self.report = None;
    }

    /// Ask the run to stop (within one batch).
    pub fn cancel(&mut self) {
        if let Some(job) = &mut self.job {
            job.cancel();
        }
    }

    fn set_data(&mut self, data: Arc<DataSet>, choice: DataChoice) {
        self.data = Some(data);
        self.choice = choice;
        self.gallery.clear();
        self.data_error = None;
    }

    /// Go back to the bundled digits.
    fn use_bundled(&mut self) {
        self.data = None;
        self.choice = DataChoice::Bundled;
        self.gallery.clear();
    }

    /// Read an IDX folder in the background; the result arrives in [`Self::poll`].
    pub fn load_folder(&mut self, ctx: &egui::Context, folder: PathBuf) {
        if self.loader.is_none() {
            self.loader = match self.backend {
                Backend::Inline => Some(Job::inline(LoadTask)),
                Backend::Threaded => {
                    let ctx = ctx.clone();
                    match neqlab::mnist::job::spawn_loader(move || ctx.request_repaint()) {
                        Ok(loader) => Some(loader),
                        Err(e) => {
                            self.data_error = Some(e.to_string());
                            return;
                        }
                    }
                }
            };
        }
        if let Some(loader) = &mut self.loader {
            loader.request(folder);
            self.data_error = None;
        }
    }

    /// Take every waiting event of the run and of the loader.
    pub fn poll(&mut self) {
        let loaded = self.loader.as_mut().map(Job::poll).unwrap_or_default();
        for event in loaded {
            if let JobEvent::Finished(result) = event {
                self.loaded(result);
            }
        }
        let events = self.job.as_mut().map(Job::poll).unwrap_or_default();
        for event in events {
            self.handle(event);
        }
    }

    fn loaded(&mut self, result: Result<Arc<DataSet>, JobError<IdxError>>) {
        match result {
            Ok(data) => {
                let choice = DataChoice::Folder(PathBuf::from(&data.source));
                self.set_data(data, choice);
            }
            Err(JobError::Cancelled) => {}
            Err(e) => self.data_error = Some(e.to_string()),
        }
    }

    fn handle(&mut self, event: JobEvent<Progress, Box<MnistReport>, MnistError>) {
        match event {
            JobEvent::Update(progress) => self.history.push(progress),
            JobEvent::Finished(Ok(report)) => {
                self.report = Some(report);
                self.status = JobStatus::Finished;
            }
            JobEvent::Finished(Err(
                JobError::Cancelled | JobError::Failed(MnistError::Cancelled),
            )) => {
                self.status = JobStatus::Cancelled;
            }
            JobEvent::Finished(Err(e)) => self.status = JobStatus::Failed(e.to_string()),
        }
    }

    /// Draw the tab.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        if let Some(((), folder)) = self.folder_dialog.ui(ui.ctx()) {
            self.load_folder(&ui.ctx().clone(), folder);
        }
        if self.gallery.is_empty()
            && let Some(data) = &self.data
        {
            self.gallery = plots::gallery_textures(ui.ctx(), data);
        }
        if self.is_running() || self.is_loading() {
            // The job asks for a repaint when it has news; this keeps the spinner turning.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(250));
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.controls_ui(ui);
            ui.separator();
            self.progress_ui(ui);
            ui.separator();
            let width = ui.available_width();
            // Two plots share what the theorems below leave (about 420 points).
            let plot_height = ((ui.available_height() - 420.0) / 2.0).clamp(150.0, 360.0);
            // The main run's epochs: training, then its own directions and recording phases.
            let c = &self.config;
            let epochs = c.train_epochs + c.pca_epochs + c.record_epochs;
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(width * 0.62);
                    plots::curves_ui(
                        ui,
                        &self.history,
                        self.report.as_deref(),
                        epochs,
                        plot_height,
                    );
                });
                ui.vertical(|ui| {
                    plots::gallery_ui(
                        ui,
                        &self.gallery,
                        self.data.as_deref(),
                        self.report.as_deref(),
                    );
                });
            });
            ui.separator();
            plots::theorems_ui(ui, self.report.as_deref());
        });
    }
}
