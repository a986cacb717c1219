//! The neqlab desktop app (egui/eframe): a 2-D laboratory for SGD in and out of equilibrium.
//!
//! Data flow (ARCHITECTURE.md): the app's full state is a [`Preset`]. The control panel edits a copy;
//! when it differs, the preset is rebuilt into an `Experiment`, the simulation worker
//! ([`worker`]) gets a new generation of walkers at once, and the prediction job
//! ([`solver`]) is asked for a new stationary state once the controls have settled for
//! [`DEBOUNCE`]. The UI thread only draws the snapshots and predictions it receives.

mod caption;
mod controls;
pub(crate) mod dialogs;
mod divergence_view;
mod export_menu;
mod fluctuation;
mod landscape_view;
mod lecture_mode;
mod map_panel;
mod menu;
mod metrics;
mod mnist_panel;
mod network_panel;
mod number_field;
mod pipeline;
mod plot2d;
mod posterior_panel;
mod prediction_view;
mod simulation_view;
mod solver;
mod stationarity_view;
mod window;
mod worker;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod layout_tests;
#[cfg(test)]
mod lecture_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::ViewportCommand;
use neqlab::export::grid_panels::arrow_legend;
use neqlab::export::lecture;
use neqlab::preset::{Experiment, Preset};
use neqlab::stationary::{Prediction, StationaryState};
use neqlab::theory::fokker_planck::Grid2d;

use controls::Controls;
use dialogs::{DialogRequest, FileDialogs};
use export_menu::{ExportKind, ExportMenu, ExportSources};
use fluctuation::FluctuationPanel;
use landscape_view::LandscapeView;
use lecture_mode::{LectureMode, SlideContent};
use map_panel::MapPanel;
use metrics::MetricsPanel;
use mnist_panel::MnistPanel;
use network_panel::NetworkPanel;
use plot2d::{ViewArrows, ViewContext};
use posterior_panel::PosteriorPanel;
use prediction_view::{PredictionView, SolveStatus};
use simulation_view::SimulationView;
use solver::{SolveError, Solver};
use window::{FIT_FRAMES, FrameLog, window_title};
use worker::{Command, SimulationHandle, Snapshot};

pub use pipeline::DEBOUNCE;
#[cfg(test)]
use window::load_named;
pub use window::{Opening, run};

/// The default preset when none is named.
pub const DEFAULT_PRESET: &str = "bowl-current";

/// Threads for the real app, synchronous stepping for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Threaded,
    Inline,
}

/// The tabs of the central area, one file per panel. Posterior, Network and MNIST tabs join
/// when their library APIs land.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    StationaryState,
    Posterior,
    Mnist,
    Network,
    Map,
}

/// What an open file dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AppDialog {
    OpenPreset,
    Export(ExportKind),
}

/// A message shown in the window until dismissed.
#[derive(Clone, Debug, PartialEq)]
struct Notice {
    text: String,
    is_error: bool,
}

pub struct NeqlabApp {
    /// The app's full state.
    preset: Preset,
    /// Where the preset came from (labels errors and the title).
    preset_path: PathBuf,
    /// The preset as loaded: the caption describes it, and the header lists what departs
    /// from it.
    original: Preset,
    /// The preset's title, as the window title shows it (the MNIST slide's on that slide).
    title: String,
    lecture: LectureMode,
    dialogs: FileDialogs<AppDialog>,
    experiment: Option<Experiment>,
    grid: Option<Grid2d>,
    /// The landscape and grid settings the grid was placed for.
    grid_key: Option<(neqlab::landscape::LandscapeSpec, neqlab::preset::FpSpec)>,
    generation: u64,
    /// Why the current controls cannot run (the last good configuration keeps running).
    config_error: Option<String>,
    controls: Controls,
    simulation: SimulationHandle,
    solver: Solver,
    snapshot: Option<Arc<Snapshot>>,
    prediction: Option<Arc<Prediction>>,
    prediction_generation: u64,
    solve_error: Option<SolveError>,
    solve_due: Option<Instant>,
    solving: Option<u64>,
    debounce: Duration,
    /// When the configuration last changed, and how long its prediction took to arrive.
    changed_at: Option<Instant>,
    prediction_latency: Option<Duration>,
    playing: bool,
    /// Magnification of the current arrows (1: the physical scale); the lecture's choice for
    /// a shipped preset, shown in the legend.
    arrow_gain: f64,
    notices: Vec<Notice>,
    export_menu: ExportMenu,
    tab: Tab,
    presentation: bool,
    /// Whether the controls panel shows (presentation mode hides it; the View menu and the
    /// keys still change the settings).
    show_controls: bool,
    reset_views: bool,
    simulation_view: SimulationView,
    network: NetworkPanel,
    prediction_view: PredictionView,
    landscape_view: LandscapeView,
    metrics: MetricsPanel,
    fluctuation: FluctuationPanel,
    posterior: PosteriorPanel,
    mnist: MnistPanel,
    map: MapPanel,
    frame_log: Option<FrameLog>,
    /// The lecture slide whose walkers the simulation runs (parked when another slide's
    /// walkers start).
    sim_slide: Option<usize>,
    /// Frames in which [`NeqlabApp::fit_window`] has checked the window against the monitor.
    fit_frames: u32,
}

impl NeqlabApp {
    pub fn new(
        ctx: &egui::Context,
        preset: Preset,
        preset_path: PathBuf,
        backend: Backend,
    ) -> anyhow::Result<Self> {
        let units = preset.view.units_per_frame;
        let (simulation, solver, debounce, posterior) = match backend {
            Backend::Threaded => (
                SimulationHandle::spawn(ctx.clone(), units)?,
                Solver::spawn(ctx.clone())?,
                DEBOUNCE,
                PosteriorPanel::threaded(ctx.clone())?,
            ),
            Backend::Inline => (
                SimulationHandle::inline(units),
                Solver::inline(),
                Duration::ZERO,
                PosteriorPanel::default(),
            ),
        };
        let map = MapPanel::with_backend(ctx, backend)?;
        let frame_log = FrameLog::from_env();
        let mut app = Self {
            preset: preset.clone(),
            preset_path: preset_path.clone(),
            original: preset.clone(),
            title: preset.title.clone(),
            lecture: LectureMode::default(),
            dialogs: FileDialogs::default(),
            experiment: None,
            grid: None,
            grid_key: None,
            generation: 0,
            config_error: None,
            controls: Controls::default(),
            simulation,
            solver,
            snapshot: None,
            prediction: None,
            prediction_generation: 0,
            solve_error: None,
            solve_due: None,
            solving: None,
            debounce,
            changed_at: None,
            prediction_latency: None,
            playing: false,
            arrow_gain: 1.0,
            notices: Vec::new(),
            export_menu: ExportMenu::default(),
            tab: Tab::StationaryState,
            presentation: false,
            show_controls: true,
            reset_views: true,
            simulation_view: SimulationView::default(),
            network: NetworkPanel::with_backend(backend),
            prediction_view: PredictionView::default(),
            landscape_view: LandscapeView::default(),
            metrics: MetricsPanel,
            fluctuation: FluctuationPanel::default(),
            posterior,
            mnist: MnistPanel::with_backend(backend),
            map,
            frame_log,
            sim_slide: None,
            fit_frames: if backend == Backend::Inline {
                FIT_FRAMES
            } else {
                0
            },
        };
        app.load_preset(ctx, preset, preset_path);
        app.set_playing(backend == Backend::Threaded);
        Ok(app)
    }

    /// Replace the whole state by `preset`.
    pub fn load_preset(&mut self, ctx: &egui::Context, preset: Preset, path: PathBuf) {
        // The walkers about to start belong to no slide unless `go_to_slide` says so.
        self.sim_slide = None;
        self.set_title(ctx, preset.title.clone());
        self.original = preset.clone();
        self.simulation
            .send(Command::SetSpeed(preset.view.units_per_frame));
        // A Bayesian posterior known exactly: open on the SGLD/SGWORLD comparison.
        self.tab = match preset.landscape {
            neqlab::landscape::LandscapeSpec::LinearRegression(_) => Tab::Posterior,
            _ => Tab::StationaryState,
        };
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        self.arrow_gain = lecture::default_arrow_gain(stem.as_deref().unwrap_or_default());
        self.preset = preset;
        self.preset_path = path;
        self.reconfigure();
    }

    /// The window title names `title`.
    fn set_title(&mut self, ctx: &egui::Context, title: String) {
        ctx.send_viewport_cmd(ViewportCommand::Title(window_title(&title)));
        self.title = title;
    }

    /// What the current slide shows, to restore when the lecture comes back to it.
    fn shown(&self) -> lecture_mode::Shown {
        lecture_mode::Shown {
            preset: self.preset.clone(),
            original: self.original.clone(),
            path: self.preset_path.clone(),
            tab: self.tab,
            arrow_gain: self.arrow_gain,
            prediction: self
                .prediction
                .clone()
                .filter(|_| self.prediction_generation == self.generation),
        }
    }

    /// Show slide `index` of the lecture: what it showed when it was left, its walkers and
    /// statistics going on from where they were (unless [`worker::MAX_PARKED`] later slides
    /// pushed them out), else its preset as shipped (the MNIST slide opens its tab and lets
    /// the last slide's walkers run on behind it).
    pub fn go_to_slide(&mut self, ctx: &egui::Context, index: usize) {
        let Some(slide) = self.lecture.slides.get(index).cloned() else {
            return;
        };
        if self.lecture.active {
            let shown = self.shown();
            self.lecture.keep(shown);
        }
        self.lecture.active = true;
        self.lecture.index = index;
        let landscape = matches!(slide.content, SlideContent::Landscape(_));
        if landscape && let Some(previous) = self.sim_slide.take() {
            self.simulation.send(Command::Park(previous as u64));
        }
        if let Some(shown) = self.lecture.kept(index).cloned() {
            self.load_preset(ctx, shown.original, shown.path);
            self.apply_edit(shown.preset);
            self.tab = shown.tab;
            self.arrow_gain = shown.arrow_gain;
            if landscape && self.config_error.is_none() {
                self.simulation.send(Command::Resume {
                    key: index as u64,
                    generation: self.generation,
                    prediction: shown.prediction.clone(),
                });
                if let Some(prediction) = shown.prediction {
                    self.restore_prediction(prediction);
                }
            }
        } else if let SlideContent::Landscape(preset) = &slide.content {
            self.load_preset(ctx, (**preset).clone(), slide.path());
        }
        if landscape {
            self.sim_slide = Some(index);
        }
        if let SlideContent::Mnist = slide.content {
            self.tab = Tab::Mnist;
            self.set_title(ctx, slide.title.clone());
        }
    }

    /// Open a file dialog (the desktop's, or the in-app one) for `wrap(purpose)`.
    fn request_dialog<Q>(
        &mut self,
        ctx: &egui::Context,
        request: DialogRequest<Q>,
        wrap: impl FnOnce(Q) -> AppDialog,
    ) {
        let DialogRequest {
            purpose,
            kind,
            filter,
            file_name,
        } = request;
        let request = DialogRequest {
            purpose: wrap(purpose),
            kind,
            filter,
            file_name,
        };
        self.dialogs.request(ctx, request);
    }

    /// An answer of a file dialog: open the preset, or save (after confirming a replace).
    fn dialog_answered(&mut self, ctx: &egui::Context, purpose: AppDialog, path: PathBuf) {
        match purpose {
            AppDialog::OpenPreset => self.open_preset_file(ctx, &path),
            AppDialog::Export(kind) => {
                if let Some((path, kind)) = self.export_menu.request(path, kind) {
                    self.export_to(&path, kind);
                }
            }
        }
    }

    /// Open a preset file; problems become a notice in the window. A preset that cannot be
    /// built (a broken data file, sizes beyond memory) is refused whole: nothing else changes.
    pub fn open_preset_file(&mut self, ctx: &egui::Context, path: &Path) {
        let loaded = Preset::load(path, &[]).and_then(|p| p.build(path, None).map(|_| p));
        match loaded {
            Ok(preset) => {
                self.notify(format!("opened {}", path.display()), false);
                self.load_preset(ctx, preset, path.to_path_buf());
            }
            Err(e) => self.notify(format!("Cannot open preset: {e}"), true),
        }
    }

    /// Carry out an export chosen in the Export menu (after any confirmation to replace).
    pub fn export_to(&mut self, path: &Path, kind: ExportKind) {
        let sources = ExportSources {
            preset: &self.preset,
            experiment: self.experiment.as_ref(),
            snapshot: self.snapshot.as_deref(),
            prediction: self.prediction.as_deref(),
            arrow_gain: self.arrow_gain,
        };
        match export_menu::export(&sources, kind, path) {
            Ok(message) => self.notify(message, false),
            Err(message) => self.notify(message, true),
        }
    }

    fn notify(&mut self, text: String, is_error: bool) {
        let notice = Notice { text, is_error };
        if !self.notices.contains(&notice) {
            self.notices.push(notice);
        }
        if self.notices.len() > 5 {
            self.notices.remove(0);
        }
    }

    fn central_ui(&mut self, ui: &mut egui::Ui) {
        if self.grid.is_none() {
            ui.label("Nothing to show: fix the settings on the left.");
            return;
        }
        let names = self
            .experiment
            .as_ref()
            .map(|e| e.landscape.weight_names())
            .filter(|n| n.len() == 2)
            .map(|n| [n[0].clone(), n[1].clone()])
            .unwrap_or_else(|| ["w1".into(), "w2".into()]);
        let snapshot = self.snapshot.clone();
        let prediction = self.prediction.clone();
        let state = StationaryState::new(
            prediction.as_deref(),
            snapshot.as_deref().map(|s| &s.simulated),
        );
        let simulated_peak = state
            .simulated
            .and_then(|s| s.grid.as_ref())
            .map(|g| g.field.peak_density());
        let density_max = prediction
            .as_deref()
            .and_then(Prediction::fokker_planck)
            .map(|fp| fp.peak_density())
            .or(simulated_peak)
            .filter(|m| *m > 0.0)
            .unwrap_or(1.0);
        let arrows = self.view_arrows();
        let legend = arrows.scale.as_ref().map(arrow_legend);
        let notes = prediction.as_ref().map_or(0, |p| p.validity.len()) as f32;
        let height = (ui.available_height()
            - 60.0
            - plot2d::TITLE_GAP
            - notes * prediction_view::NOTE_HEIGHT)
            .max(150.0);
        let view = ViewContext {
            names,
            snapshot: snapshot.as_deref(),
            prediction: prediction.as_deref(),
            density_max,
            arrows,
            reset: self.reset_views,
            show_walkers: self.preset.view.show_walkers,
            show_arrows: self.preset.view.arrows,
            show_trails: self.preset.view.trails > 0,
            height,
            burn_in: self.preset.dynamics.burn_in,
        };
        let solve_error = self.solve_error.as_ref().map(ToString::to_string);
        let status = SolveStatus {
            solving: self.solving.is_some() || self.solve_due.is_some(),
            error: solve_error.as_deref(),
            stale: self.prediction_generation != self.generation,
            latency: self.prediction_latency,
        };
        let experiment = self.experiment.as_ref();
        ui.columns(3, |columns| {
            self.simulation_view.ui(&mut columns[0], &view);
            self.prediction_view.ui(&mut columns[1], &view, &status);
            self.landscape_view.ui(&mut columns[2], &view, experiment);
        });
        if let (true, Some(legend)) = (self.preset.view.arrows, legend) {
            ui.label(egui::RichText::new(format!("Arrows: {legend}")).small());
        }
        self.reset_views = false;
    }

    /// The controls on the left.
    fn controls_panel_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::left("controls")
            .frame(bare_panel(ui, false))
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    let mut edited = self.preset.clone();
                    let n = self.experiment.as_ref().map(|e| e.landscape.n_examples());
                    let actions = self.controls.ui(ui, &mut edited, n, self.playing);
                    self.apply_edit(edited);
                    if actions.toggle_play {
                        self.set_playing(!self.playing);
                    }
                    if actions.step {
                        self.playing = false;
                        self.simulation.send(Command::Step);
                    }
                    if actions.reset {
                        self.reset();
                    }
                });
            });
    }

    /// The metrics, the time series and the fluctuation theorems along the bottom.
    fn metrics_panel_ui(&mut self, ui: &mut egui::Ui) {
        let total_height = ui.available_height();
        egui::Panel::bottom("metrics")
            .frame(bare_panel(ui, false))
            .resizable(true)
            .default_size((total_height * 0.36).max(200.0))
            .size_range(150.0..=(total_height * 0.6).max(160.0))
            .show(ui, |ui| {
                let snapshot = self.snapshot.clone();
                let prediction = self.prediction.clone();
                ui.columns(3, |columns| {
                    self.metrics
                        .ui(&mut columns[0], snapshot.as_deref(), prediction.as_deref());
                    self.metrics.series_ui(
                        &mut columns[1],
                        snapshot.as_deref(),
                        prediction.as_deref(),
                    );
                    let note = metrics::theory_note(prediction.as_deref());
                    self.fluctuation
                        .ui(&mut columns[2], snapshot.as_deref(), note.as_deref());
                });
            });
    }

    /// The arrows the simulation and prediction panels draw: the stationary model's, on the
    /// scale it derives from the prediction, magnified by the person's gain.
    fn view_arrows(&self) -> ViewArrows {
        let state = StationaryState::new(
            self.prediction.as_deref(),
            self.snapshot.as_deref().map(|s| &s.simulated),
        );
        let Some(scale) = state.arrow_scale(self.arrow_gain) else {
            return ViewArrows::default();
        };
        ViewArrows {
            simulated: state.simulated_arrows(&scale),
            predicted: state.predicted_arrows(&scale),
            scale: Some(scale),
        }
    }
}

/// A panel frame without a background fill: the window is already cleared to the panel
/// colour, and filling every panel again would double the pixels a software rasteriser
/// shades per frame.
fn bare_panel(ui: &egui::Ui, central: bool) -> egui::Frame {
    let frame = if central {
        egui::Frame::central_panel(ui.style())
    } else {
        egui::Frame::side_top_panel(ui.style())
    };
    frame.fill(egui::Color32::TRANSPARENT)
}

impl eframe::App for NeqlabApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        self.fit_window(&ctx);
        self.poll(&ctx);
        self.keyboard(&ctx);
        egui::Panel::top("menu")
            .frame(bare_panel(ui, false))
            .show(ui, |ui| {
                self.menu_ui(ui);
                self.caption_ui(ui);
            });
        if let Some((path, kind)) = self.export_menu.confirm_ui(&ctx) {
            self.export_to(&path, kind);
        }
        if let Some((purpose, path)) = self.dialogs.ui(&ctx) {
            self.dialog_answered(&ctx, purpose, path);
        }
        // The Network tab has its own controls and plots; the 2-D panels make room.
        if self.tab == Tab::StationaryState {
            if self.show_controls {
                self.controls_panel_ui(ui);
            }
            self.metrics_panel_ui(ui);
        }
        egui::CentralPanel::default()
            .frame(bare_panel(ui, true))
            .show(ui, |ui| match self.tab {
                Tab::StationaryState => self.central_ui(ui),
                Tab::Posterior => {
                    let experiment = self
                        .experiment
                        .as_ref()
                        .filter(|_| self.config_error.is_none());
                    self.posterior.ui(ui, &self.preset, experiment);
                }
                Tab::Mnist => self.mnist.ui(ui),
                Tab::Network => self.network.ui(ui),
                Tab::Map => {
                    if let Some(cell) = self.map.ui(ui, &self.preset, &self.preset_path) {
                        self.open_cell(cell);
                    }
                }
            });
        // The MNIST job reports while another tab is shown, too.
        if self.tab != Tab::Mnist {
            self.mnist.poll();
        }
        self.log_frame(&ctx, started, frame.info().cpu_usage);
    }

    /// The window is cleared to the panel colour, so panels need not paint their own
    /// backgrounds (see [`bare_panel`]).
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        visuals.panel_fill.to_normalized_gamma_f32()
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if let Some(log) = &mut self.frame_log {
            log.flush();
        }
    }
}
