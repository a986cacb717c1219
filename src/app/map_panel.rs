//! The Map tab: the hyperparameter map of the current preset (docs/theory.md section 10).
//!
//! For the preset's landscape, algorithm family and temperature the tab draws the theory map
//! over `(log η, B)`, with replacement and without side by side, coloured by one quantity of
//! [`MapQuantity`] on one `log₁₀` scale, unstable cells greyed and the boundary `η_max(B)`
//! drawn. Hovering a cell shows its numbers; clicking it opens the Stationary-state tab at
//! that `η`, `B` and replacement mode. A button simulates the validity overlay (a coarse
//! subgrid, cancellable, with progress) and marks each simulated cell by the relative error of
//! its simulated covariance. The figure and the data are exported from the tab itself.
//!
//! Every number comes from [`neqlab::map`], computed by one background job
//! ([`neqlab::map::job::MapTask`]) whose latest request wins: a new preset's theory map
//! replaces a running simulation. The tab only draws ([`view`]) and edits ([`controls`]).

mod controls;
#[cfg(test)]
mod tests;
mod view;

use std::path::{Path, PathBuf};

use super::dialogs::FileDialogs;

use neqlab::dynamics::{Algorithm, Replacement};
use neqlab::jobs::{Job, JobError, JobEvent, JobSpec};
use neqlab::map::job::{CellUpdate, MapRequest, MapTask};
use neqlab::map::{HyperMap, MapError, MapQuantity, SimulationOptions};
use neqlab::preset::{Experiment, Preset, StartSpec};

pub use view::CellAddress;

/// What the map was computed for: when any of it changes, the tab starts over. The learning
/// rate, batch size and replacement mode are the map's axes, so editing them (or clicking a
/// cell) keeps the map.
#[derive(Clone, Debug, PartialEq)]
struct Key {
    path: PathBuf,
    landscape: neqlab::landscape::LandscapeSpec,
    langevin: bool,
    temperature: f64,
    start: Option<StartSpec>,
}

impl Key {
    fn of(preset: &Preset, path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            landscape: preset.landscape.clone(),
            langevin: preset.dynamics.algorithm.is_langevin(),
            temperature: preset.dynamics.temperature,
            start: preset.dynamics.start.clone(),
        }
    }
}

/// `text` with the glyphs the app's font lacks spelled with ones it has: norms `‖x‖` as
/// `|x|`, the mean Hessian `H̄` as `H`, `⁻¹` as `^-1` (the exported figures keep the
/// originals).
pub fn on_screen(text: &str) -> String {
    text.replace('‖', "|")
        .replace('\u{304}', "")
        .replace("⁻¹", "^-1")
}

/// What the job is doing for the tab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Computing the theory map.
    Theory,
    /// Simulating the validity overlay.
    Simulation,
}

/// A line under the controls: the outcome of the last simulation, export or click.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    /// What happened.
    pub text: String,
    /// Whether it went wrong.
    pub is_error: bool,
}

impl Status {
    fn note(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: false,
        }
    }

    fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: true,
        }
    }
}

/// A clicked cell: the settings the Stationary-state tab opens with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellChoice {
    /// The learning rate `η`.
    pub eta: f64,
    /// The batch size `B`.
    pub batch: usize,
    /// With or without replacement.
    pub replacement: Replacement,
    /// The algorithm of that mode (SGLD with replacement is SGWORLD without).
    pub algorithm: Algorithm,
}

impl CellChoice {
    /// Set the preset's dynamics to this cell.
    pub fn apply(&self, preset: &mut Preset) {
        let dynamics = &mut preset.dynamics;
        dynamics.eta = self.eta;
        dynamics.batch = self.batch;
        dynamics.algorithm = self.algorithm;
        dynamics.replacement = Some(self.replacement);
    }
}

/// The Map tab.
pub struct MapPanel {
    job: Job<MapTask>,
    key: Option<Key>,
    experiment: Option<Experiment>,
    /// The map shown (simulated cells are filled in as they arrive).
    pub map: Option<HyperMap>,
    /// The quantity the cells are coloured by.
    pub quantity: MapQuantity,
    /// What the job is doing, if anything.
    pub work: Option<Work>,
    /// A request made in this frame is polled from the next frame on, so that a synchronous
    /// job (tests) can still be cancelled from the interface before it runs.
    requested_this_frame: bool,
    /// Why there is no map (or a request failed).
    pub error: Option<String>,
    /// The outcome of the last simulation, export or click.
    pub status: Option<Status>,
    /// How the validity overlay is simulated.
    pub simulation_options: SimulationOptions,
    /// The file name "Save figure…" proposes (`.svg` or `.png`): the preset's, then the last
    /// one saved.
    pub figure_path: String,
    /// The file name "Save data…" proposes (`.csv` or `.json`).
    pub data_path: String,
    /// The save dialog of the export, and what it is for.
    pub export_dialog: FileDialogs<MapExport>,
    title: String,
    /// Where the two maps were drawn in the last frame (hit tests, tests).
    pub layout: Vec<view::MapLayout>,
    /// The cell under the pointer.
    pub hovered: Option<CellAddress>,
}

/// What a save dialog of the Map tab is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapExport {
    /// Both panels as a figure (`.svg` or `.png`).
    Figure,
    /// One row per cell (`.csv`) or `neqlab map --json`'s document (`.json`).
    Data,
}

impl Default for MapPanel {
    /// A panel whose job runs synchronously inside the frame (tests).
    fn default() -> Self {
        Self::with_job(Job::inline(MapTask))
    }
}

impl MapPanel {
    fn with_job(job: Job<MapTask>) -> Self {
        Self {
            job,
            key: None,
            experiment: None,
            map: None,
            quantity: MapQuantity::EpRatePerPass,
            work: None,
            requested_this_frame: false,
            error: None,
            status: None,
            simulation_options: SimulationOptions::default(),
            figure_path: String::new(),
            data_path: String::new(),
            export_dialog: FileDialogs::default(),
            title: String::new(),
            layout: Vec::new(),
            hovered: None,
        }
    }

    /// A panel whose work runs on the background thread `neqlab-map`.
    pub fn threaded(ctx: egui::Context) -> anyhow::Result<Self> {
        let spec = JobSpec::background("neqlab-map").with_repaint(move || ctx.request_repaint());
        Ok(Self::with_job(Job::spawn(MapTask, spec)?))
    }

    /// Whether the job has a request in hand.
    pub fn is_busy(&self) -> bool {
        self.job.is_running()
    }

    /// Follow the preset: a new landscape, algorithm family, temperature or start point asks
    /// for a new theory map.
    fn follow(&mut self, preset: &Preset, path: &Path) {
        let key = Key::of(preset, path);
        if self.key.as_ref() == Some(&key) {
            return;
        }
        self.key = Some(key);
        self.map = None;
        self.hovered = None;
        self.error = None;
        self.status = None;
        self.title = preset.title.clone();
        let stem = path
            .file_stem()
            .map_or_else(|| "map".into(), |s| s.to_string_lossy().into_owned());
        self.figure_path = format!("{stem}-map.png");
        self.data_path = format!("{stem}-map.csv");
        // Building reads the preset's data (small, synthetic or capped by its limits); the
        // map itself is computed by the job.
        match preset.build(path, None) {
            Ok(experiment) => {
                self.experiment = Some(experiment.clone());
                self.request(
                    MapRequest::Theory {
                        experiment,
                        axes: None,
                    },
                    Work::Theory,
                );
            }
            Err(error) => {
                self.experiment = None;
                self.job.cancel();
                self.error = Some(format!("no map for these settings: {error}"));
            }
        }
    }

    fn request(&mut self, request: MapRequest, work: Work) {
        self.job.request(request);
        self.work = Some(work);
        self.requested_this_frame = true;
    }

    /// Start the validity simulation of the map shown.
    pub fn simulate(&mut self) {
        let (Some(map), Some(experiment)) = (&self.map, &self.experiment) else {
            return;
        };
        let request = MapRequest::Simulate {
            map: Box::new(map.clone()),
            experiment: experiment.clone(),
            options: self.simulation_options.clone(),
        };
        self.status = None;
        self.request(request, Work::Simulation);
    }

    /// Stop the validity simulation; the cells finished so far keep their marks.
    pub fn cancel(&mut self) {
        if self.work == Some(Work::Simulation) {
            self.job.cancel();
        }
    }

    /// Take the job's events: simulated cells as they come, then the whole map.
    fn receive(&mut self) {
        for event in self.job.poll() {
            match event {
                JobEvent::Update(CellUpdate { index, cell }) => {
                    if let Some(slot) = self.map.as_mut().and_then(|m| m.cells.get_mut(index)) {
                        *slot = cell;
                    }
                }
                JobEvent::Finished(Ok(map)) => {
                    if self.work == Some(Work::Simulation) {
                        self.status = map.simulation.as_ref().map(|s| {
                            Status::note(format!(
                                "validity overlay: {} cells simulated, {} skipped, {:.1} s",
                                s.cells, s.skipped, s.seconds
                            ))
                        });
                    }
                    self.map = Some(map);
                    self.work = None;
                }
                JobEvent::Finished(Err(error)) => {
                    let work = self.work.take();
                    match error {
                        JobError::Failed(MapError::Cancelled { done, total }) => {
                            self.status = Some(Status::note(format!(
                                "simulation cancelled after {done} of {total} cells; the \
                                 finished cells keep their marks"
                            )));
                        }
                        JobError::Cancelled => {
                            self.status =
                                Some(Status::note("simulation cancelled before it began"));
                        }
                        other => {
                            let what = match work {
                                Some(Work::Simulation) => "validity simulation",
                                _ => "theory map",
                            };
                            self.error = Some(format!("{what}: {other}"));
                        }
                    }
                }
            }
        }
    }

    /// Draw the tab for the current preset; a clicked cell is returned for the app to open.
    pub fn ui(&mut self, ui: &mut egui::Ui, preset: &Preset, path: &Path) -> Option<CellChoice> {
        self.requested_this_frame = false;
        self.follow(preset, path);
        self.controls_ui(ui);
        if !self.requested_this_frame {
            self.receive();
        }
        if self.is_busy() {
            // The job asks for a repaint when it reports; this keeps the progress bar moving.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.separator();
        self.maps_ui(ui)
    }
}

impl MapPanel {
    /// The panel for the app's backend: threaded, or synchronous for tests.
    pub fn with_backend(ctx: &egui::Context, backend: super::Backend) -> anyhow::Result<Self> {
        Ok(match backend {
            super::Backend::Threaded => Self::threaded(ctx.clone())?,
            super::Backend::Inline => Self::default(),
        })
    }
}

impl super::NeqlabApp {
    /// Open the Stationary-state tab at a clicked cell of the map, running.
    pub(super) fn open_cell(&mut self, cell: CellChoice) {
        let mut edited = self.preset.clone();
        cell.apply(&mut edited);
        self.apply_edit(edited);
        self.tab = super::Tab::StationaryState;
        self.set_playing(true);
    }
}
