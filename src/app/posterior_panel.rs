//! The Posterior tab: SGLD against SGWORLD on a posterior known exactly (docs/theory.md sections
//! 4 and 5, [`neqlab::posterior`]).
//!
//! On a quadratic landscape the target `exp(−L/T)` is a Gaussian and the stationary states of
//! SGLD, SGWORLD and full-batch ULA are known exactly. The tab draws their KL divergences from
//! the target against η (log-log), optionally with walker-ensemble estimates, and the
//! stationary clouds of SGLD and SGWORLD at one η over the posterior's ellipses. All numbers
//! come from the library, computed on a named job thread ([`PosteriorJob`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context as _;
use egui::{Color32, RichText};
use egui_plot::{Legend, Line, LineStyle, MarkerShape, Plot, Points};
use neqlab::dynamics::{Algorithm, Dynamics, Ensemble};
use neqlab::landscape::Landscape;
use neqlab::posterior::{
    PosteriorOptions, PosteriorReport, PosteriorRow, SimulationSpec, posterior_report,
};
use neqlab::preset::{Experiment, Preset};
use neqlab::stats::MomentStats;
use neqlab::theory::exact::{Gaussian, PermutationOptions, QuadraticModel};

use super::plot2d::ellipse;

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
pub const SIMULATED_STEPS: u64 = 40_000;
/// Walkers drawn in the 2-D clouds, and time units recorded for their stochastic area.
pub const CLOUD_WALKERS: usize = 1500;
pub const CLOUD_UNITS: u64 = 400;

const SGLD_COLOUR: Color32 = Color32::from_rgb(255, 120, 70);
const SGWORLD_COLOUR: Color32 = Color32::from_rgb(80, 170, 255);
const ULA_COLOUR: Color32 = Color32::from_rgb(170, 170, 170);
const POSTERIOR_COLOUR: Color32 = Color32::from_rgb(120, 220, 120);

/// What the job thread computes.
#[derive(Clone)]
enum Request {
    /// Exact KLs at `etas` (one `posterior_report` row each).
    Exact {
        generation: u64,
        settings: Settings,
        etas: Vec<f64>,
    },
    /// Walker-ensemble KLs at `etas`.
    Simulate {
        generation: u64,
        settings: Settings,
        etas: Vec<f64>,
    },
    /// The stationary clouds at one η.
    Cloud {
        generation: u64,
        settings: Settings,
        eta: f64,
    },
}

impl Request {
    fn kind(&self) -> usize {
        match self {
            Self::Exact { .. } => 0,
            Self::Simulate { .. } => 1,
            Self::Cloud { .. } => 2,
        }
    }
    fn generation(&self) -> u64 {
        match self {
            Self::Exact { generation, .. }
            | Self::Simulate { generation, .. }
            | Self::Cloud { generation, .. } => *generation,
        }
    }
}

/// The landscape and the dynamics settings every request shares.
#[derive(Clone)]
struct Settings {
    landscape: Arc<dyn Landscape>,
    batch: usize,
    temperature: f64,
    seed: u64,
}

/// The stationary cloud of one algorithm at one η.
#[derive(Clone, Debug)]
pub struct Cloud {
    /// Walker positions after burn-in.
    pub positions: Vec<[f64; 2]>,
    /// Stochastic area `⟨(x₁Δx₂ − x₂Δx₁)/2⟩` per time unit (SGLD: step; SGWORLD: epoch).
    pub area: f64,
    /// The exact stationary Gaussian (SGWORLD: at epoch boundaries), if stable.
    pub exact: Option<Gaussian>,
    pub diverged_walkers: usize,
}

/// SGLD's and SGWORLD's clouds at `eta`.
#[derive(Clone, Debug)]
pub struct Clouds {
    pub eta: f64,
    pub batch: usize,
    pub posterior: Gaussian,
    pub sgld: Result<Cloud, String>,
    pub sgworld: Result<Cloud, String>,
}

enum Outcome {
    Exact(Result<PosteriorReport, String>),
    Simulated(Result<Vec<PosteriorRow>, String>),
    Cloud(Result<Clouds, String>),
}

struct Answer {
    generation: u64,
    outcome: Outcome,
}

/// What the UI and the job thread share: the newest generation of each request kind (older
/// work stops early), the progress of the running job, and the finished answers.
#[derive(Default)]
struct Shared {
    latest: [AtomicU64; 3],
    done: AtomicUsize,
    total: AtomicUsize,
    answers: Mutex<Vec<Answer>>,
}

enum Mode {
    Threaded {
        sender: Option<Sender<Request>>,
        thread: Option<JoinHandle<()>>,
    },
    /// Requests run inside `send` (tests).
    Inline,
}

/// The UI's handle on the posterior job thread.
pub struct PosteriorJob {
    mode: Mode,
    shared: Arc<Shared>,
}

impl PosteriorJob {
    pub fn spawn(ctx: egui::Context) -> anyhow::Result<Self> {
        let (sender, receiver) = channel();
        let shared = Arc::new(Shared::default());
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("neqlab-posterior".into())
            .spawn(move || job_loop(receiver, theirs, ctx))
            .context("cannot start the posterior thread")?;
        Ok(Self {
            mode: Mode::Threaded {
                sender: Some(sender),
                thread: Some(thread),
            },
            shared,
        })
    }

    pub fn inline() -> Self {
        Self {
            mode: Mode::Inline,
            shared: Arc::new(Shared::default()),
        }
    }

    fn send(&mut self, request: Request) -> Result<(), String> {
        self.shared.latest[request.kind()].store(request.generation(), Ordering::SeqCst);
        match &mut self.mode {
            Mode::Threaded { sender, .. } => sender
                .as_ref()
                .and_then(|s| s.send(request).ok())
                .ok_or_else(|| "the posterior thread has stopped".to_string()),
            Mode::Inline => {
                run(&request, &self.shared);
                Ok(())
            }
        }
    }

    fn take(&self) -> Vec<Answer> {
        self.shared
            .answers
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default()
    }

    /// Learning rates done of the running exact or simulated job.
    fn progress(&self) -> (usize, usize) {
        (
            self.shared.done.load(Ordering::SeqCst),
            self.shared.total.load(Ordering::SeqCst),
        )
    }
}

impl Drop for PosteriorJob {
    fn drop(&mut self) {
        if let Mode::Threaded { sender, thread } = &mut self.mode {
            // Make running work stop at its next learning rate.
            for latest in &self.shared.latest {
                latest.store(u64::MAX, Ordering::SeqCst);
            }
            sender.take();
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

fn job_loop(receiver: Receiver<Request>, shared: Arc<Shared>, ctx: egui::Context) {
    neqlab::background::lower_priority();
    let pool = neqlab::background::thread_pool(
        "neqlab-posterior",
        super::worker::background_threads(),
        neqlab::background::BACKGROUND_NICENESS,
    );
    while let Ok(first) = receiver.recv() {
        // Keep only the newest request of each kind; exact curves first.
        let mut pending: [Option<Request>; 3] = [None, None, None];
        let kind = first.kind();
        pending[kind] = Some(first);
        while let Ok(newer) = receiver.try_recv() {
            let kind = newer.kind();
            pending[kind] = Some(newer);
        }
        for request in pending.into_iter().flatten() {
            match &pool {
                Some(pool) => pool.install(|| run(&request, &shared)),
                None => run(&request, &shared),
            }
            ctx.request_repaint();
        }
    }
}

/// Run one request and publish its answer (nothing if a newer request replaced it).
fn run(request: &Request, shared: &Shared) {
    let kind = request.kind();
    let generation = request.generation();
    let current = || shared.latest[kind].load(Ordering::SeqCst) == generation;
    if !current() {
        return;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| match request {
        Request::Exact { settings, etas, .. } => Some(Outcome::Exact(exact_curves(
            settings, etas, shared, &current,
        )?)),
        Request::Simulate { settings, etas, .. } => Some(Outcome::Simulated(simulated_points(
            settings, etas, shared, &current,
        )?)),
        Request::Cloud { settings, eta, .. } => Some(Outcome::Cloud(clouds(settings, *eta))),
    }))
    .unwrap_or_else(|_| {
        let message = "the posterior computation crashed on these settings".to_string();
        Some(match kind {
            0 => Outcome::Exact(Err(message)),
            1 => Outcome::Simulated(Err(message)),
            _ => Outcome::Cloud(Err(message)),
        })
    });
    if let Some(outcome) = outcome
        && let Ok(mut answers) = shared.answers.lock()
    {
        answers.push(Answer {
            generation,
            outcome,
        });
    }
}

fn permutation_options(seed: u64) -> PermutationOptions {
    PermutationOptions {
        seed,
        ..PermutationOptions::default()
    }
}

/// One `posterior_report` row per η, merged; `None` when a newer request replaced this one.
fn exact_curves(
    settings: &Settings,
    etas: &[f64],
    shared: &Shared,
    current: &dyn Fn() -> bool,
) -> Option<Result<PosteriorReport, String>> {
    let options = PosteriorOptions {
        permutations: permutation_options(settings.seed),
        simulation: None,
    };
    shared.total.store(etas.len(), Ordering::SeqCst);
    let mut merged: Option<PosteriorReport> = None;
    for (k, &eta) in etas.iter().enumerate() {
        shared.done.store(k, Ordering::SeqCst);
        if !current() {
            return None;
        }
        let report = match posterior_report(
            settings.landscape.as_ref(),
            settings.batch,
            settings.temperature,
            &[eta],
            &options,
        ) {
            Ok(r) => r,
            Err(e) => return Some(Err(e.to_string())),
        };
        match &mut merged {
            Some(m) => {
                m.rows.extend(report.rows);
                m.permutations = m.permutations.max(report.permutations);
            }
            None => merged = Some(report),
        }
    }
    shared.done.store(etas.len(), Ordering::SeqCst);
    merged.map(Ok)
}

/// Walker-ensemble KLs (`simulate_stationary` inside `posterior_report`) at a few η.
fn simulated_points(
    settings: &Settings,
    etas: &[f64],
    shared: &Shared,
    current: &dyn Fn() -> bool,
) -> Option<Result<Vec<PosteriorRow>, String>> {
    let options = PosteriorOptions {
        permutations: permutation_options(settings.seed),
        simulation: Some(SimulationSpec {
            walkers: SIMULATED_WALKERS,
            steps: SIMULATED_STEPS,
            burn_in: 0,
            seed: settings.seed,
            groups: 20,
        }),
    };
    shared.total.store(etas.len(), Ordering::SeqCst);
    let mut rows = Vec::new();
    for (k, &eta) in etas.iter().enumerate() {
        shared.done.store(k, Ordering::SeqCst);
        if !current() {
            return None;
        }
        match posterior_report(
            settings.landscape.as_ref(),
            settings.batch,
            settings.temperature,
            &[eta],
            &options,
        ) {
            Ok(report) => rows.extend(report.rows),
            Err(e) => return Some(Err(e.to_string())),
        }
    }
    shared.done.store(etas.len(), Ordering::SeqCst);
    Some(Ok(rows))
}

/// Walker clouds of SGLD and SGWORLD at `eta` from a short [`Ensemble`] run started at the
/// minimum, burnt in for ten relaxation times `1/(η h_min)`.
fn clouds(settings: &Settings, eta: f64) -> Result<Clouds, String> {
    let landscape = settings.landscape.as_ref();
    let model = QuadraticModel::from_landscape(landscape).map_err(|e| e.to_string())?;
    if model.dim() != 2 {
        return Err(format!(
            "the cloud view needs 2 weights, the landscape has {}",
            model.dim()
        ));
    }
    let posterior = model
        .posterior(settings.temperature)
        .map_err(|e| e.to_string())?;
    let h_min = model
        .hessian_eigenvalues()
        .first()
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    let start = model.minimum();
    let n = model.n_examples();
    let cloud = |algorithm: Algorithm| -> Result<Cloud, String> {
        let dynamics = Dynamics::new(
            algorithm,
            None,
            eta,
            settings.batch,
            settings.temperature,
            n,
        )
        .map_err(|e| e.to_string())?;
        let exact = match algorithm {
            Algorithm::Sgworld => model
                .sgworld(
                    eta,
                    settings.batch,
                    settings.temperature,
                    &permutation_options(settings.seed),
                )
                .ok()
                .map(|s| s.stationary.gaussian),
            _ => model
                .sgld(eta, settings.batch, settings.temperature)
                .ok()
                .map(|s| s.gaussian),
        };
        let steps_per_unit = dynamics.steps_per_unit() as u64;
        let relaxation_steps = (10.0 / (eta * h_min)).ceil().min(1e7) as u64;
        let burn_in = relaxation_steps.div_ceil(steps_per_unit);
        let mut ensemble = Ensemble::new(landscape, dynamics, CLOUD_WALKERS, &start, settings.seed);
        let mut stats = MomentStats::new(&start, burn_in);
        ensemble.advance(landscape, burn_in + CLOUD_UNITS, &mut stats);
        let area = stats.moments().map_or(0.0, |m| m.area[1]);
        Ok(Cloud {
            positions: ensemble.active_positions().map(|w| [w[0], w[1]]).collect(),
            area,
            exact,
            diverged_walkers: ensemble.diverged_walkers(),
        })
    };
    Ok(Clouds {
        eta,
        batch: settings.batch,
        sgld: cloud(Algorithm::Sgld),
        sgworld: cloud(Algorithm::Sgworld),
        posterior,
    })
}

/// `count` log-spaced values from `low` to `high`.
pub fn log_spaced(low: f64, high: f64, count: usize) -> Vec<f64> {
    let steps = count.saturating_sub(1).max(1) as f64;
    (0..count)
        .map(|k| low * (high / low).powf(k as f64 / steps))
        .collect()
}

/// The divisors of `n`.
pub fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|d| n.is_multiple_of(*d)).collect()
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

/// The model facts the controls need.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ModelFacts {
    n: usize,
    eta_limit: f64,
}

/// The Posterior tab.
pub struct PosteriorPanel {
    job: PosteriorJob,
    key: Option<Key>,
    settings: Option<Settings>,
    facts: Option<ModelFacts>,
    /// Batch size compared (starts at the preset's).
    pub batch: usize,
    /// η of the clouds.
    pub cloud_eta: f64,
    generation: u64,
    exact_generation: u64,
    simulate_generation: u64,
    cloud_generation: u64,
    /// The newest exact curves, and whether newer ones are being computed.
    pub report: Option<Arc<PosteriorReport>>,
    pub computing_exact: bool,
    pub simulated: Option<Arc<Vec<PosteriorRow>>>,
    pub simulating: bool,
    pub clouds: Option<Arc<Clouds>>,
    pub computing_clouds: bool,
    /// Why the comparison cannot be shown.
    pub error: Option<String>,
    reset_plots: bool,
}

impl Default for PosteriorPanel {
    fn default() -> Self {
        Self::with_job(PosteriorJob::inline())
    }
}

impl PosteriorPanel {
    pub fn with_job(job: PosteriorJob) -> Self {
        Self {
            job,
            key: None,
            settings: None,
            facts: None,
            batch: 1,
            cloud_eta: 0.0,
            generation: 0,
            exact_generation: 0,
            simulate_generation: 0,
            cloud_generation: 0,
            report: None,
            computing_exact: false,
            simulated: None,
            simulating: false,
            clouds: None,
            computing_clouds: false,
            error: None,
            reset_plots: true,
        }
    }

    /// A panel whose work runs on the named thread `neqlab-posterior`.
    pub fn threaded(ctx: egui::Context) -> anyhow::Result<Self> {
        Ok(Self::with_job(PosteriorJob::spawn(ctx)?))
    }

    /// The measured `KL_SGLD / KL_SGWORLD` at the smallest η where both are stable.
    pub fn smallest_eta_ratio(&self) -> Option<(f64, f64)> {
        self.report.as_ref()?.rows.iter().find_map(|r| {
            let (sgld, sgworld) = (r.kl_sgld?, r.kl_sgworld?);
            (sgworld > 0.0).then_some((r.eta, sgld / sgworld))
        })
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
        self.facts = None;
        self.error = None;
        self.reset_plots = true;
        let Some(experiment) = experiment else {
            self.error = Some(format!(
                "the {} landscape cannot be built with these settings (see the message above)",
                preset.landscape.kind()
            ));
            return;
        };
        let model = match QuadraticModel::from_landscape(experiment.landscape.as_ref()) {
            Ok(m) => m,
            Err(e) => {
                self.error = Some(match e {
                    neqlab::theory::exact::ExactError::NotQuadratic { kind } => format!(
                        "This preset's landscape is {kind}: the posterior comparison needs a \
                         quadratic landscape: linear-regression or bowl (Presets > sgld-vs-sgworld)."
                    ),
                    other => format!(
                        "the posterior comparison needs a quadratic landscape: linear-regression \
                         or bowl; this one cannot be used: {other}"
                    ),
                });
                return;
            }
        };
        let temperature = preset.dynamics.temperature;
        if temperature <= 0.0 {
            self.error = Some(format!(
                "dynamics.temperature = {temperature}: the posterior exp(−L/T) needs T > 0 \
                 (T = 1 samples the Bayesian posterior)"
            ));
            return;
        }
        let h_max = model
            .hessian_eigenvalues()
            .last()
            .copied()
            .unwrap_or(1.0)
            .max(f64::MIN_POSITIVE);
        let n = model.n_examples();
        let eta_limit = 2.0 / h_max;
        self.facts = Some(ModelFacts { n, eta_limit });
        self.batch = preset.dynamics.batch.clamp(1, n);
        self.cloud_eta = preset
            .dynamics
            .eta
            .clamp(SMALLEST_FRACTION * eta_limit, 0.5 * eta_limit);
        self.settings = Some(Settings {
            landscape: experiment.landscape.clone(),
            batch: self.batch,
            temperature,
            seed: preset.dynamics.seed,
        });
        self.request_exact();
        self.request_clouds();
    }

    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    fn send(&mut self, request: Request) {
        if let Err(e) = self.job.send(request) {
            self.error = Some(e);
        }
    }

    fn request_exact(&mut self) {
        let (Some(settings), Some(facts)) = (self.settings.clone(), self.facts) else {
            return;
        };
        let generation = self.next_generation();
        self.exact_generation = generation;
        self.computing_exact = true;
        self.simulated = None;
        self.simulating = false;
        let etas = log_spaced(
            SMALLEST_FRACTION * facts.eta_limit,
            LARGEST_FRACTION * facts.eta_limit,
            CURVE_POINTS,
        );
        self.send(Request::Exact {
            generation,
            settings,
            etas,
        });
        self.receive();
    }

    fn request_simulation(&mut self) {
        let (Some(settings), Some(facts)) = (self.settings.clone(), self.facts) else {
            return;
        };
        let generation = self.next_generation();
        self.simulate_generation = generation;
        self.simulating = true;
        let etas = SIMULATED_FRACTIONS
            .iter()
            .map(|f| f * facts.eta_limit)
            .collect();
        self.send(Request::Simulate {
            generation,
            settings,
            etas,
        });
        self.receive();
    }

    fn request_clouds(&mut self) {
        let Some(settings) = self.settings.clone() else {
            return;
        };
        let generation = self.next_generation();
        self.cloud_generation = generation;
        self.computing_clouds = true;
        let eta = self.cloud_eta;
        self.send(Request::Cloud {
            generation,
            settings,
            eta,
        });
        self.receive();
    }

    fn set_batch(&mut self, batch: usize) {
        if batch == self.batch {
            return;
        }
        self.batch = batch;
        if let Some(settings) = &mut self.settings {
            settings.batch = batch;
        }
        self.request_exact();
        self.request_clouds();
    }

    /// Take finished answers, dropping those of replaced requests.
    fn receive(&mut self) {
        for answer in self.job.take() {
            match answer.outcome {
                Outcome::Exact(result) if answer.generation == self.exact_generation => {
                    self.computing_exact = false;
                    match result {
                        Ok(report) => {
                            self.report = Some(Arc::new(report));
                            self.error = None;
                            self.reset_plots = true;
                        }
                        Err(e) => self.error = Some(e),
                    }
                }
                Outcome::Simulated(result) if answer.generation == self.simulate_generation => {
                    self.simulating = false;
                    match result {
                        Ok(rows) => self.simulated = Some(Arc::new(rows)),
                        Err(e) => self.error = Some(format!("simulation: {e}")),
                    }
                }
                Outcome::Cloud(result) if answer.generation == self.cloud_generation => {
                    self.computing_clouds = false;
                    match result {
                        Ok(clouds) => self.clouds = Some(Arc::new(clouds)),
                        Err(e) => self.error = Some(format!("clouds: {e}")),
                    }
                }
                _ => {}
            }
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, preset: &Preset, experiment: Option<&Experiment>) {
        self.follow(preset, experiment);
        self.receive();
        if self.computing_exact || self.simulating || self.computing_clouds {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        if let Some(error) = &self.error
            && self.facts.is_none()
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

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        let Some(facts) = self.facts else {
            return;
        };
        let n = facts.n;
        let mut batch = self.batch;
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(RichText::new("Batch size B").strong());
            ui.add(egui::DragValue::new(&mut batch).range(1..=n))
                .labelled_by(label.id);
            ui.label("divisors of N:");
            for d in divisors(n) {
                let button = egui::Button::selectable(d == batch, format!("{d}"));
                if ui.add(button).on_hover_text(format!("B = {d}")).clicked() {
                    batch = d;
                }
            }
            if !n.is_multiple_of(batch) {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "B does not divide N = {n}: SGWORLD drops {} examples per epoch",
                        n % batch
                    ),
                );
            }
        });
        self.set_batch(batch);
        ui.horizontal_wrapped(|ui| {
            let nb = n as f64 / self.batch as f64;
            match self.smallest_eta_ratio() {
                Some((eta, ratio)) => {
                    ui.label(
                        RichText::new(format!(
                            "KL SGLD / KL SGWORLD at the smallest η ({eta:.2e}): {ratio:.1}"
                        ))
                        .strong(),
                    );
                    ui.label(format!(
                        "   (N/B)² = ({n}/{})² = {:.1}",
                        self.batch,
                        nb * nb
                    ));
                }
                None if self.computing_exact => {}
                None => {
                    ui.label("KL SGLD / KL SGWORLD: no η where both are stable");
                }
            }
            if self.computing_exact {
                let (done, total) = self.job.progress();
                ui.spinner();
                ui.label(format!("exact curves: η {done} of {total}…"));
            }
        });
        if let Some(report) = &self.report {
            ui.label(
                RichText::new(format!(
                    "{} (N = {}), B = {}, T = {}; SGWORLD averaged over {} permutations at epoch \
                     boundaries; ULA stable for η < {:.3e}",
                    report.landscape,
                    report.n,
                    report.batch,
                    report.temperature,
                    report.permutations,
                    report.ula_eta_limit
                ))
                .weak(),
            );
        }
    }

    fn kl_plot_ui(&mut self, ui: &mut egui::Ui, height: f32) {
        ui.label(RichText::new("KL(stationary || posterior) against η").strong());
        ui.horizontal(|ui| {
            let button = ui.add_enabled(
                !self.simulating && self.report.is_some(),
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
            if self.simulating {
                let (done, total) = self.job.progress();
                ui.spinner();
                ui.label(format!("simulating η {done} of {total}…"));
            } else if self.simulated.is_some() {
                ui.label("points: walker ensembles, bars ±1 standard error");
            } else {
                ui.label(RichText::new("lines: exact stationary Gaussians").weak());
            }
        });
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
            let Some(report) = report else {
                return;
            };
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
            let Some(rows) = simulated else {
                return;
            };
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
        });
    }

    fn clouds_ui(&mut self, ui: &mut egui::Ui, height: f32) {
        let Some(facts) = self.facts else {
            return;
        };
        let mut eta = self.cloud_eta;
        ui.horizontal(|ui| {
            let label = ui.label(RichText::new("Stationary clouds at η").strong());
            let response = ui
                .add(
                    egui::Slider::new(
                        &mut eta,
                        SMALLEST_FRACTION * facts.eta_limit * 10.0..=0.5 * facts.eta_limit,
                    )
                    .logarithmic(true)
                    .custom_formatter(|v, _| format!("{v:.2e}")),
                )
                .labelled_by(label.id);
            if response.drag_stopped() || (response.changed() && !response.dragged()) {
                self.cloud_eta = eta;
                self.request_clouds();
            } else if response.dragged() {
                self.cloud_eta = eta;
            }
            if self.computing_clouds {
                ui.spinner();
                ui.label("running walkers…");
            }
        });
        let clouds = self.clouds.clone();
        if let Some(c) = &clouds {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "{CLOUD_WALKERS} walkers per algorithm from a short ensemble run (burn-in 10/(η h_min)), B = {}, η = {:.2e}. Circulation = stochastic area <(x₁Δx₂ − x₂Δx₁)/2> per time unit:",
                    c.batch, c.eta
                ));
                for (name, cloud, unit, colour) in [
                    ("SGLD", &c.sgld, "step", SGLD_COLOUR),
                    ("SGWORLD", &c.sgworld, "epoch", SGWORLD_COLOUR),
                ] {
                    match cloud {
                        Ok(cloud) => ui.colored_label(
                            colour,
                            if cloud.diverged_walkers > 0 {
                                format!(
                                    "{name} {:+.3e} per {unit} ({} walkers diverged)",
                                    cloud.area, cloud.diverged_walkers
                                )
                            } else {
                                format!("{name} {:+.3e} per {unit}", cloud.area)
                            },
                        ),
                        Err(e) => ui.colored_label(ui.visuals().error_fg_color, format!("{name}: {e}")),
                    };
                }
            });
        }
        let names = self
            .settings
            .as_ref()
            .map(|s| s.landscape.weight_names())
            .filter(|n| n.len() == 2)
            .unwrap_or_else(|| vec!["w1".into(), "w2".into()]);
        let mut plot = Plot::new("posterior-clouds")
            .height((height - 60.0).max(150.0))
            .data_aspect(1.0)
            .legend(Legend::default().position(egui_plot::Corner::LeftTop))
            .x_axis_label(names[0].clone())
            .y_axis_label(names[1].clone());
        if self.reset_plots {
            plot = plot.reset();
        }
        plot.show(ui, |plot_ui| {
            let Some(c) = clouds else {
                return;
            };
            let as_2x2 = |g: &Gaussian| {
                (
                    [g.mean[0], g.mean[1]],
                    [g.cov[0], g.cov[1], g.cov[2], g.cov[3]],
                )
            };
            for (name, cloud, colour) in [
                ("SGLD walkers", &c.sgld, SGLD_COLOUR),
                ("SGWORLD walkers", &c.sgworld, SGWORLD_COLOUR),
            ] {
                if let Ok(cloud) = cloud {
                    plot_ui.points(
                        Points::new(name, cloud.positions.clone())
                            .color(colour.gamma_multiply(0.6))
                            .radius(1.5),
                    );
                }
            }
            let (mean, cov) = as_2x2(&c.posterior);
            for (n, style) in [(1.0, LineStyle::Solid), (2.0, LineStyle::dashed_dense())] {
                plot_ui.line(
                    Line::new(format!("posterior {n}σ"), ellipse(mean, cov, n))
                        .color(POSTERIOR_COLOUR)
                        .style(style)
                        .width(2.0),
                );
            }
            for (name, cloud, colour) in [
                ("SGLD exact 2σ", &c.sgld, SGLD_COLOUR),
                ("SGWORLD exact 2σ", &c.sgworld, SGWORLD_COLOUR),
            ] {
                if let Ok(Cloud { exact: Some(g), .. }) = cloud {
                    let (mean, cov) = as_2x2(g);
                    plot_ui.line(
                        Line::new(name, ellipse(mean, cov, 2.0))
                            .color(colour)
                            .style(LineStyle::dashed_loose())
                            .width(1.5),
                    );
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable as _;
    use neqlab::preset::Preset;

    use super::super::{Backend, NeqlabApp, Tab, load_named};

    fn harness_for(name: &str) -> Harness<'static, NeqlabApp> {
        let (preset, path): (Preset, PathBuf) = load_named(name).expect("shipped preset");
        Harness::builder()
            .with_size(egui::Vec2::new(1600.0, 1000.0))
            .build_eframe(move |cc| {
                NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
            })
    }

    #[test]
    fn sgld_vs_sgworld_opens_on_exact_curves_and_follows_the_batch_size() {
        let mut harness = harness_for("sgld-vs-sgworld");
        harness.run_steps(2);
        assert_eq!(
            harness.state().tab,
            Tab::Posterior,
            "linear regression opens here"
        );
        harness.get_by_label("Posterior").click();
        harness.run_steps(2);
        let panel = &harness.state().posterior;
        assert!(panel.error.is_none(), "{:?}", panel.error);
        assert!(!panel.computing_exact);
        let report = panel.report.as_ref().expect("exact curves (inline job)");
        assert_eq!((report.n, report.batch), (100, 10));
        assert!(report.rows.len() >= 12, "{} rows", report.rows.len());
        // docs/theory.md section 5: KL_SGLD / KL_SGWORLD ≈ (1 + c_B N)² ≈ (N/B)² = 100 at small η
        // (tests/posterior.rs measures 99 at 1e-3 of the stability limit).
        let (_, ratio) = panel.smallest_eta_ratio().expect("a stable row");
        assert!((50.0..200.0).contains(&ratio), "ratio {ratio}");
        harness.get_by_label_contains("KL SGLD / KL SGWORLD at the smallest η");
        assert!(
            panel
                .clouds
                .as_ref()
                .is_some_and(|c| c.sgld.is_ok() && c.sgworld.is_ok())
        );
        // B = 20: the curves are recomputed and the ratio follows (N/B)² = 25.
        harness.get_by_label("20").click();
        harness.run_steps(2);
        let panel = &harness.state().posterior;
        assert_eq!(panel.batch, 20);
        let report = panel.report.as_ref().expect("recomputed curves");
        assert_eq!(report.batch, 20);
        let (_, ratio_20) = panel.smallest_eta_ratio().expect("a stable row");
        assert!(
            ratio_20 < ratio / 2.0,
            "B = 10: {ratio}, B = 20: {ratio_20}"
        );
        assert_eq!(panel.clouds.as_ref().map(|c| c.batch), Some(20));
    }

    #[test]
    fn a_landscape_that_is_not_quadratic_says_so() {
        let mut harness = harness_for("double-well");
        harness.run_steps(2);
        harness.get_by_label("Posterior").click();
        harness.run_steps(2);
        assert!(harness.state().posterior.report.is_none());
        harness.get_by_label_contains("needs a quadratic landscape");
    }
}
