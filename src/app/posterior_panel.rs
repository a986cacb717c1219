//! The Posterior tab: SGLD against SGWORLD on a posterior known exactly (docs/theory.md
//! sections 4 and 5, [`neqlab::posterior`]).
//!
//! On a quadratic landscape the target `exp(−L/T)` is a Gaussian and the stationary states of
//! SGLD, SGWORLD and full-batch ULA are known exactly. The tab draws their KL divergences from
//! the target against η (log-log), optionally with walker-ensemble estimates, and the
//! stationary clouds of SGLD and SGWORLD at one η over the posterior's ellipses. Every number
//! comes from the library, computed by three background jobs of [`neqlab::jobs`] (exact
//! curves, simulated points, clouds), each keeping only its newest request.
//!
//! The controls are drawn by [`controls`], the KL plot by [`kl_plot`], the clouds by
//! [`clouds_plot`].

mod clouds_plot;
mod colours;
mod controls;
mod kl_plot;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use egui::RichText;
use neqlab::jobs::{Job, JobError, JobEvent, JobSpec, Task};
use neqlab::landscape::Landscape;
use neqlab::posterior::{
    CloudSpec, CloudTask, Clouds, ComparisonSetup, CurveRequest, ExactCurvesTask, PosteriorError,
    PosteriorReport, PosteriorRow, SimulatedPointsTask, SimulationSpec, comparison_setup,
};
use neqlab::preset::{Experiment, Preset};

/// Learning rates on the exact curves, log-spaced up to ULA's stability limit.
pub const CURVE_POINTS: usize = 16;
/// Smallest η of the curves, as a fraction of ULA's stability limit `2/h_max`.
pub const SMALLEST_FRACTION: f64 = 1e-3;
/// Largest η of the curves, as a fraction of `2/h_max` (SGLD and SGWORLD are unstable
/// before ULA is; unstable rows are dropped).
pub const LARGEST_FRACTION: f64 = 0.9;
/// Learning rates simulated by "Simulate", as fractions of `2/h_max`: large enough that the
/// KL stands above the finite-sample bias `≈ 5/(2 n_eff)` of a 2-D Gaussian fit.
pub const SIMULATED_FRACTIONS: [f64; 4] = [0.02, 0.05, 0.1, 0.2];
/// Walkers and recorded steps per simulated learning rate.
pub const SIMULATED_WALKERS: usize = 200;
/// Gradient steps recorded per walker and simulated learning rate.
pub const SIMULATED_STEPS: u64 = 40_000;
/// Walkers drawn in the 2-D clouds.
pub const CLOUD_WALKERS: usize = 1500;
/// Time units recorded for the clouds' stochastic area.
pub const CLOUD_UNITS: u64 = 400;

/// `count` log-spaced values from `low` to `high`.
pub fn log_spaced(low: f64, high: f64, count: usize) -> Vec<f64> {
    let steps = count.saturating_sub(1).max(1) as f64;
    (0..count)
        .map(|k| low * (high / low).powf(k as f64 / steps))
        .collect()
}

/// What the curves were computed for: when the preset's landscape or dynamics settings
/// change, the tab starts over.
#[derive(Clone, Debug, PartialEq)]
struct Key {
    landscape: neqlab::landscape::LandscapeSpec,
    preset_batch: usize,
    temperature: f64,
    seed: u64,
}

/// The landscape and settings every request shares.
#[derive(Clone)]
struct Settings {
    landscape: Arc<dyn Landscape>,
    setup: ComparisonSetup,
    temperature: f64,
    seed: u64,
}

/// The three background jobs of the tab.
struct Jobs {
    exact: Job<ExactCurvesTask>,
    simulated: Job<SimulatedPointsTask>,
    clouds: Job<CloudTask>,
}

/// How the simulated points are simulated.
const SIMULATION: SimulationSpec = SimulationSpec {
    walkers: SIMULATED_WALKERS,
    steps: SIMULATED_STEPS,
    burn_in: 0,
    seed: 0,
    groups: 20,
};

impl Jobs {
    fn inline() -> Self {
        Self {
            exact: Job::inline(ExactCurvesTask),
            simulated: Job::inline(SimulatedPointsTask { spec: SIMULATION }),
            clouds: Job::inline(CloudTask),
        }
    }

    fn spawn(ctx: &egui::Context) -> Result<Self, neqlab::jobs::ThreadError> {
        fn spec(name: &'static str, ctx: &egui::Context) -> JobSpec {
            let ctx = ctx.clone();
            JobSpec::background(name).with_repaint(move || ctx.request_repaint())
        }
        Ok(Self {
            exact: Job::spawn(ExactCurvesTask, spec("neqlab-posterior-exact", ctx))?,
            simulated: Job::spawn(
                SimulatedPointsTask { spec: SIMULATION },
                spec("neqlab-posterior-simulated", ctx),
            )?,
            clouds: Job::spawn(CloudTask, spec("neqlab-posterior-clouds", ctx))?,
        })
    }
}

/// The Posterior tab.
pub struct PosteriorPanel {
    jobs: Jobs,
    key: Option<Key>,
    settings: Option<Settings>,
    /// Batch size compared (starts at the preset's).
    pub batch: usize,
    /// η of the clouds.
    pub cloud_eta: f64,
    /// The newest exact curves.
    pub report: Option<Arc<PosteriorReport>>,
    pub simulated: Option<Arc<Vec<PosteriorRow>>>,
    pub clouds: Option<Arc<Clouds>>,
    /// Why the comparison cannot be shown (or a request failed).
    pub error: Option<String>,
    reset_plots: bool,
}

impl Default for PosteriorPanel {
    /// A panel whose jobs run synchronously inside the frame (tests).
    fn default() -> Self {
        Self::with_jobs(Jobs::inline())
    }
}

impl PosteriorPanel {
    fn with_jobs(jobs: Jobs) -> Self {
        Self {
            jobs,
            key: None,
            settings: None,
            batch: 1,
            cloud_eta: 0.0,
            report: None,
            simulated: None,
            clouds: None,
            error: None,
            reset_plots: true,
        }
    }

    /// A panel whose work runs on the named background threads `neqlab-posterior-*`.
    pub fn threaded(ctx: egui::Context) -> anyhow::Result<Self> {
        Ok(Self::with_jobs(Jobs::spawn(&ctx)?))
    }

    /// Whether new exact curves are being computed.
    pub fn computing_exact(&self) -> bool {
        self.jobs.exact.is_running()
    }

    /// Whether walker ensembles are being simulated.
    pub fn simulating(&self) -> bool {
        self.jobs.simulated.is_running()
    }

    /// Whether new clouds are being computed.
    pub fn computing_clouds(&self) -> bool {
        self.jobs.clouds.is_running()
    }

    /// The measured `KL_SGLD / KL_SGWORLD` at the smallest η where both are stable.
    pub fn smallest_eta_ratio(&self) -> Option<(f64, f64)> {
        self.report.as_ref()?.smallest_eta_ratio()
    }

    /// Follow the preset: a new landscape or new dynamics settings restart the comparison.
    fn follow(&mut self, preset: &Preset, experiment: Option<&Experiment>) {
        let key = Key {
            landscape: preset.landscape.clone(),
            preset_batch: preset.dynamics.batch,
            temperature: preset.dynamics.temperature,
            seed: preset.dynamics.seed,
        };
        if self.key.as_ref() == Some(&key) {
            return;
        }
        self.key = Some(key);
        self.report = None;
        self.simulated = None;
        self.clouds = None;
        self.settings = None;
        self.error = None;
        self.reset_plots = true;
        let Some(experiment) = experiment else {
            self.error = Some(format!(
                "the {} landscape cannot be built with these settings (see the message above)",
                preset.landscape.kind()
            ));
            return;
        };
        let temperature = preset.dynamics.temperature;
        let setup = match comparison_setup(experiment.landscape.as_ref(), temperature) {
            Ok(setup) => setup,
            Err(e) => {
                self.error = Some(unusable(&e));
                return;
            }
        };
        self.batch = preset.dynamics.batch.clamp(1, setup.n);
        self.cloud_eta = preset
            .dynamics
            .eta
            .clamp(SMALLEST_FRACTION * setup.eta_limit, 0.5 * setup.eta_limit);
        self.settings = Some(Settings {
            landscape: experiment.landscape.clone(),
            setup,
            temperature,
            seed: preset.dynamics.seed,
        });
        self.request_exact();
        self.request_clouds();
    }

    /// A request for the learning rates `etas` at the current batch size.
    fn curve_request(&self, etas: impl Fn(f64) -> Vec<f64>) -> Option<CurveRequest> {
        let settings = self.settings.as_ref()?;
        Some(CurveRequest {
            landscape: Arc::clone(&settings.landscape),
            batch: self.batch,
            temperature: settings.temperature,
            seed: settings.seed,
            etas: etas(settings.setup.eta_limit),
        })
    }

    fn request_exact(&mut self) {
        let request = self.curve_request(|limit| {
            log_spaced(
                SMALLEST_FRACTION * limit,
                LARGEST_FRACTION * limit,
                CURVE_POINTS,
            )
        });
        if let Some(request) = request {
            self.simulated = None;
            self.jobs.simulated.cancel();
            self.jobs.exact.request(request);
            self.receive();
        }
    }

    fn request_simulation(&mut self) {
        let request =
            self.curve_request(|limit| SIMULATED_FRACTIONS.iter().map(|f| f * limit).collect());
        if let Some(request) = request {
            self.jobs.simulated.request(request);
            self.receive();
        }
    }

    fn request_clouds(&mut self) {
        let Some(settings) = &self.settings else {
            return;
        };
        let spec = CloudSpec {
            eta: self.cloud_eta,
            batch: self.batch,
            temperature: settings.temperature,
            walkers: CLOUD_WALKERS,
            units: CLOUD_UNITS,
            seed: settings.seed,
        };
        self.jobs
            .clouds
            .request((Arc::clone(&settings.landscape), spec));
        self.receive();
    }

    fn set_batch(&mut self, batch: usize) {
        if batch == self.batch {
            return;
        }
        self.batch = batch;
        self.request_exact();
        self.request_clouds();
    }

    /// Take the jobs' answers (only the newest request of each is ever reported).
    fn receive(&mut self) {
        if let Some(result) = finished(&mut self.jobs.exact) {
            match result {
                Ok(report) => {
                    self.report = Some(Arc::new(report));
                    self.error = None;
                    self.reset_plots = true;
                }
                Err(e) => self.error = failure("exact curves", e),
            }
        }
        if let Some(result) = finished(&mut self.jobs.simulated) {
            match result {
                Ok(rows) => self.simulated = Some(Arc::new(rows)),
                Err(e) => self.error = failure("simulation", e),
            }
        }
        if let Some(result) = finished(&mut self.jobs.clouds) {
            match result {
                Ok(clouds) => self.clouds = Some(Arc::new(clouds)),
                Err(e) => self.error = failure("clouds", e),
            }
        }
    }

    /// Draw the tab for the current preset.
    pub fn ui(&mut self, ui: &mut egui::Ui, preset: &Preset, experiment: Option<&Experiment>) {
        self.follow(preset, experiment);
        self.receive();
        if self.computing_exact() || self.simulating() || self.computing_clouds() {
            // The jobs ask for a repaint when they finish; this keeps the spinners turning.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        if let Some(error) = &self.error
            && self.settings.is_none()
        {
            ui.add_space(20.0);
            ui.label(
                RichText::new(error)
                    .size(18.0)
                    .color(ui.visuals().warn_fg_color),
            );
            return;
        }
        self.controls_ui(ui);
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.separator();
        let height = (ui.available_height() - 30.0).max(200.0);
        ui.columns(2, |columns| {
            self.kl_plot_ui(&mut columns[0], height);
            self.clouds_ui(&mut columns[1], height);
        });
        self.reset_plots = false;
    }
}

/// The result of `job`'s current request, once it has one.
fn finished<T: Task>(job: &mut Job<T>) -> Option<Result<T::Output, JobError<T::Error>>> {
    job.poll().into_iter().find_map(|event| match event {
        JobEvent::Finished(result) => Some(result),
        JobEvent::Update(_) => None,
    })
}

/// The message for a failed request; none for a cancelled one (a newer one replaced it).
fn failure(what: &str, error: JobError<PosteriorError>) -> Option<String> {
    match error {
        JobError::Cancelled | JobError::Failed(PosteriorError::Cancelled) => None,
        other => Some(format!("{what}: {other}")),
    }
}

/// Why this preset's landscape cannot be compared.
fn unusable(error: &PosteriorError) -> String {
    use neqlab::theory::exact::ExactError;
    match error {
        PosteriorError::Exact(ExactError::NotQuadratic { kind }) => format!(
            "This preset's landscape is {kind}: the posterior comparison needs a quadratic \
             landscape: linear-regression or bowl (Presets > sgld-vs-sgworld)."
        ),
        PosteriorError::Invalid {
            key: "dynamics.temperature",
            ..
        } => format!(
            "{error} (T = 1 samples the Bayesian posterior; set it in the dynamics controls)"
        ),
        other => format!(
            "the posterior comparison needs a quadratic landscape: linear-regression or bowl; \
             this one cannot be used: {other}"
        ),
    }
}
