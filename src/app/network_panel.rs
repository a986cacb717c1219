//! The Network tab: the seven-weight regression network (docs/theory.md section 6) run to its
//! stationary state by [`neqlab::run::simulate_cancellable`] on a background job of
//! [`neqlab::jobs`], then compared with the linear theory: the fitted curve with the
//! stationary cloud's band, the simulated covariance against the Lyapunov solution, the
//! stochastic area against the circulation `C`, and the fluctuation theorems.
//!
//! The run is [`job`]; the controls are drawn by [`controls`], the plots by [`plots`].

mod controls;
mod job;
mod plots;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use neqlab::jobs::{Job, JobError, JobEvent, JobSpec};
use neqlab::preset::Preset;

use super::Backend;
pub use job::NetResult;
use job::{NetError, NetTask};

/// The shipped preset the tab starts from.
pub const NETWORK_PRESET: &str = "regression-net";

/// Width of the controls column.
const CONTROLS_WIDTH: f32 = 270.0;

/// Where the tab's run stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// Not run yet.
    Idle,
    /// A run is going (its progress is the job's).
    Running,
    /// The last run finished in this many seconds (simulation and theory).
    Done { seconds: f64 },
    /// The last run was cancelled with this fraction done.
    Cancelled { progress: f64 },
    /// The last run failed.
    Failed(String),
}

/// The Network tab's state.
pub struct NetworkPanel {
    /// The settings of the next run (the shipped preset, edited by the controls); `None` when
    /// it cannot be loaded.
    pub preset: Option<Preset>,
    pub path: PathBuf,
    /// Why the shipped preset cannot be loaded (shown instead of the controls).
    load_error: Option<String>,
    pub status: RunStatus,
    pub result: Option<Arc<NetResult>>,
    /// Threads, or synchronous runs inside the frame (tests).
    backend: Backend,
    /// The run's job, started on first use.
    job: Job<NetTask>,
    job_started: bool,
    hover: Option<String>,
}

impl Default for NetworkPanel {
    fn default() -> Self {
        Self::with_backend(Backend::Threaded)
    }
}

impl NetworkPanel {
    /// A panel whose runs go to a thread ([`Backend::Threaded`]) or run synchronously inside
    /// the next frame ([`Backend::Inline`], tests).
    pub fn with_backend(backend: Backend) -> Self {
        let path = PathBuf::from(format!("presets/{NETWORK_PRESET}.toml"));
        let (preset, load_error) = match neqlab::preset::shipped(NETWORK_PRESET)
            .ok_or_else(|| format!("the preset {NETWORK_PRESET} is not shipped"))
            .and_then(|text| Preset::from_toml(text, &path).map_err(|e| e.to_string()))
        {
            Ok(preset) => (Some(preset), None),
            Err(error) => (None, Some(error)),
        };
        Self {
            preset,
            path,
            load_error,
            status: RunStatus::Idle,
            result: None,
            backend,
            job: Job::inline(NetTask),
            job_started: false,
            hover: None,
        }
    }

    /// Start a run with the current settings.
    pub fn start(&mut self, ctx: &egui::Context) {
        if self.status == RunStatus::Running {
            return;
        }
        let Some(preset) = self.preset.clone() else {
            return;
        };
        if self.backend == Backend::Threaded && !self.job_started {
            let ctx = ctx.clone();
            let spec =
                JobSpec::background("network-run").with_repaint(move || ctx.request_repaint());
            match Job::spawn(NetTask, spec) {
                Ok(job) => self.job = job,
                Err(e) => {
                    self.status = RunStatus::Failed(e.to_string());
                    return;
                }
            }
            self.job_started = true;
        }
        self.job.request((Box::new(preset), self.path.clone()));
        self.status = RunStatus::Running;
    }

    /// Ask the running job to stop at its next slice boundary.
    pub fn cancel(&mut self) {
        self.job.cancel();
    }

    /// Take the job's answer.
    fn poll(&mut self) {
        for event in self.job.poll() {
            if let JobEvent::Finished(result) = event {
                self.finish(result);
            }
        }
    }

    fn finish(&mut self, result: Result<Box<NetResult>, JobError<NetError>>) {
        self.status = match result {
            Ok(result) => {
                let seconds = result.report.seconds + result.report.theory_seconds;
                self.result = Some(Arc::from(result));
                RunStatus::Done { seconds }
            }
            Err(JobError::Cancelled | JobError::Failed(NetError::Cancelled(_))) => {
                RunStatus::Cancelled {
                    progress: self.job.progress().map_or(0.0, |p| p.fraction),
                }
            }
            Err(e) => RunStatus::Failed(e.to_string()),
        };
    }

    /// Draw the tab: controls and the fit on top, the comparisons below.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        if self.status == RunStatus::Running {
            // The job asks for a repaint with every progress report; this keeps the bar alive.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(250));
        }
        if let Some(error) = &self.load_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
            return;
        }
        let top_height = (ui.available_height() * 0.45).max(220.0);
        ui.horizontal(|ui| {
            ui.allocate_ui(egui::vec2(CONTROLS_WIDTH, top_height), |ui| {
                ui.set_min_size(egui::vec2(CONTROLS_WIDTH, top_height));
                ui.vertical(|ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("network-controls")
                        .show(ui, |ui| self.controls_ui(ui));
                });
            });
            ui.separator();
            ui.vertical(|ui| self.fit_ui(ui, top_height));
        });
        ui.separator();
        let Some(result) = self.result.clone() else {
            ui.label("Press Run: the comparisons with the theory appear here when it finishes.");
            return;
        };
        let height = (ui.available_height() - 110.0).max(120.0);
        ui.columns(3, |columns| {
            self.covariance_ui(&mut columns[0], &result, height);
            self.area_ui(&mut columns[1], &result, height);
            plots::fluctuation_ui(&mut columns[2], &result, height);
        });
    }
}
