//! The simulation worker: a named thread that owns the walkers, takes [`Command`]s over a
//! channel, and publishes [`Snapshot`]s for the UI to draw.
//!
//! The walkers feed the library's [`SimulationStats`] (the simulated half of the stationary
//! model); a snapshot carries its [`Simulated`] estimates, plus what only the screen needs
//! (a sample of walkers, trails, time series). The stepping itself lives in [`WorkerState`],
//! which the thread drives in a loop and which tests (and `SimulationHandle::inline`) drive
//! synchronously, one update per frame, with no timing involved. Every configuration carries
//! a generation number; statistics are rebuilt from scratch whenever it changes, so old and
//! new walkers never mix.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neqlab::divergence::{DivergenceRecord, DivergenceWatch};
use neqlab::dynamics::{Ensemble, Observer, TimeUnit};
use neqlab::jobs::{Flow, JobSpec, Service, ServiceHandle, ThreadError};
use neqlab::preset::Experiment;
use neqlab::stationary::{Prediction, Simulated, SimulationStats, mean_loss};
use neqlab::theory::fokker_planck::Grid2d;
use neqlab::theory::start::StartKind;

/// Longest time series kept (older points are thinned out).
const SERIES_CAPACITY: usize = 2000;
/// Walkers whose positions are sent to the UI (for the dots and the mean loss).
const WALKER_SAMPLE: usize = 2000;
/// Points kept per trail.
const TRAIL_LENGTH: usize = 120;
/// Walkers whose loss is averaged for the time series.
const LOSS_SAMPLE: usize = 200;
/// The worker publishes at most this often while playing (about 60 updates per second).
const MIN_UPDATE: Duration = Duration::from_millis(16);
/// A new snapshot is drawn within this delay: at most about 30 redraws per second come from
/// the simulation (input still redraws at once), and the cycles a faster redraw would cost
/// go to simulating.
const SNAPSHOT_REDRAW: Duration = Duration::from_millis(33);

/// What the worker simulates.
#[derive(Clone)]
pub struct SimConfig {
    pub generation: u64,
    pub experiment: Experiment,
    pub grid: Grid2d,
    pub walkers: usize,
    pub seed: u64,
    pub burn_in: u64,
    pub trails: usize,
    /// The newest prediction of this generation, if one has arrived (its grid and entropy
    /// model).
    pub prediction: Option<Arc<Prediction>>,
}

/// Messages from the UI to the worker.
pub enum Command {
    /// Replace the experiment: new walkers, fresh statistics.
    Configure(Box<SimConfig>),
    Play,
    Pause,
    /// One update (`units_per_update` time units) while paused.
    Step,
    /// New walkers at the start point, same configuration.
    Reset,
    /// Time units per update.
    SetSpeed(u64),
    /// From now on record on this prediction's grid and measure entropy production with its
    /// model (the walkers keep going); ignored for an old generation.
    SetPrediction {
        generation: u64,
        prediction: Arc<Prediction>,
    },
}

/// One point of the time series.
#[derive(Clone, Copy, Debug)]
pub struct SeriesPoint {
    pub time: f64,
    /// Mean full loss over the sampled walkers.
    pub loss: f64,
    /// Entropy production per time unit over the last update.
    pub entropy_rate: Option<f64>,
}

/// Everything the UI draws from the simulation, immutable once published.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub generation: u64,
    pub time: u64,
    pub time_unit: TimeUnit,
    pub walkers: usize,
    pub diverged: usize,
    /// How many walkers diverged, and from which time unit.
    pub divergence: DivergenceRecord,
    /// The learning rate of this generation (names the cause of a divergence).
    pub eta: f64,
    /// The simulated half of the stationary model.
    pub simulated: Simulated,
    pub walker_sample: Vec<[f64; 2]>,
    pub trails: Vec<Vec<[f64; 2]>>,
    pub series: Vec<SeriesPoint>,
    pub playing: bool,
    pub walker_steps_per_second: f64,
    /// How the walkers started (a stationary start waits for the prediction to sample).
    pub start: StartKind,
    /// Time units discarded before recording.
    pub burn_in: u64,
    /// A problem the person should see (divergence, a failed update).
    pub message: Option<String>,
}

/// Positions of the first few walkers at every time unit.
#[derive(Clone, Debug, Default)]
struct TrailRecorder {
    count: usize,
    points: Vec<(usize, u64, [f64; 2])>,
}

impl Observer for TrailRecorder {
    fn fork(&self) -> Self {
        Self {
            count: self.count,
            points: Vec::new(),
        }
    }
    fn observe(&mut self, walker: usize, unit: u64, _before: &[f64], after: &[f64]) {
        if walker < self.count {
            self.points.push((walker, unit, [after[0], after[1]]));
        }
    }
    fn merge(&mut self, mut other: Self) {
        self.points.append(&mut other.points);
    }
}

/// One running simulation of one generation.
pub struct Simulation {
    config: SimConfig,
    ensemble: Ensemble,
    /// Statistics, trails, and which walkers diverged when (`divergence_view`).
    observer: (SimulationStats, (TrailRecorder, DivergenceWatch)),
    trails: Vec<VecDeque<[f64; 2]>>,
    series: VecDeque<SeriesPoint>,
    series_stride: u64,
    updates: u64,
    last_entropy: (f64, u64),
    walker_steps_per_second: f64,
    start: StartKind,
}

impl Simulation {
    pub fn new(config: SimConfig) -> Self {
        let landscape = config.experiment.landscape.as_ref();
        // A stationary start samples the prediction, once it has arrived.
        let (ensemble, start) = match &config.prediction {
            Some(prediction) => {
                let (ensemble, start) = neqlab::run::starting_ensemble(
                    &config.experiment,
                    config.walkers,
                    config.seed,
                    prediction,
                );
                (ensemble, start.unwrap_or(StartKind::Point))
            }
            None => (
                Ensemble::new(
                    landscape,
                    config.experiment.dynamics,
                    config.walkers,
                    &config.experiment.start,
                    config.seed,
                ),
                StartKind::Point,
            ),
        };
        let stats = SimulationStats::new(
            &config.experiment.start,
            Some(config.grid),
            config.prediction.as_deref(),
            config.burn_in,
        );
        let trails = TrailRecorder {
            count: config.trails.min(config.walkers),
            points: Vec::new(),
        };
        let observer = (stats, (trails, DivergenceWatch::new()));
        Self {
            trails: vec![VecDeque::new(); config.trails.min(config.walkers)],
            config,
            ensemble,
            observer,
            series: VecDeque::new(),
            series_stride: 1,
            updates: 0,
            last_entropy: (0.0, 0),
            walker_steps_per_second: 0.0,
            start,
        }
    }

    pub fn generation(&self) -> u64 {
        self.config.generation
    }

    /// Record on `prediction`'s grid and measure entropy production with its model from now
    /// on; a reset keeps it.
    pub fn set_prediction(&mut self, prediction: Arc<Prediction>) {
        self.observer
            .0
            .set_prediction(&prediction, self.ensemble.time());
        if let Some(grid) = prediction.grid() {
            self.config.grid = grid;
        }
        self.config.prediction = Some(prediction);
        self.last_entropy = (0.0, 0);
    }

    /// Advance every walker by `units` time units and update the statistics.
    pub fn step(&mut self, units: u64) {
        let landscape = self.config.experiment.landscape.clone();
        let started = Instant::now();
        self.observer.1.0.points.clear();
        (self.observer.1)
            .1
            .before_advance(self.ensemble.time(), units);
        self.ensemble
            .advance(landscape.as_ref(), units, &mut self.observer);
        let seconds = started.elapsed().as_secs_f64();
        let active = (self.ensemble.walkers() - self.ensemble.diverged_walkers()) as f64;
        let steps = units as f64 * self.config.experiment.dynamics.steps_per_unit() as f64;
        if seconds > 0.0 {
            self.walker_steps_per_second = active * steps / seconds;
        }
        let mut points = std::mem::take(&mut self.observer.1.0.points);
        points.sort_by_key(|(walker, unit, _)| (*walker, *unit));
        for (walker, _, p) in points.drain(..) {
            if let Some(trail) = self.trails.get_mut(walker) {
                trail.push_back(p);
                if trail.len() > TRAIL_LENGTH {
                    trail.pop_front();
                }
            }
        }
        self.observer.1.0.points = points;
        self.updates += 1;
        if self.updates.is_multiple_of(self.series_stride) {
            self.record_series();
        }
    }

    fn record_series(&mut self) {
        let landscape = self.config.experiment.landscape.as_ref();
        let entropy_rate = self
            .observer
            .0
            .entropy_sum_and_count()
            .and_then(|(total, units)| {
                let (sum, count) = (total - self.last_entropy.0, units - self.last_entropy.1);
                self.last_entropy = (total, units);
                (count > 0).then(|| sum / count as f64)
            });
        self.series.push_back(SeriesPoint {
            time: self.ensemble.time() as f64,
            loss: mean_loss(landscape, &self.ensemble, LOSS_SAMPLE),
            entropy_rate,
        });
        if self.series.len() >= SERIES_CAPACITY {
            // Keep every other point and record half as often from now on.
            let kept: VecDeque<SeriesPoint> = self.series.iter().copied().step_by(2).collect();
            self.series = kept;
            self.series_stride *= 2;
        }
    }

    /// What the UI draws.
    pub fn snapshot(&self, playing: bool) -> Snapshot {
        let diverged = self.ensemble.diverged_walkers();
        let walkers = self.ensemble.walkers();
        // Divergence is shown by `divergence_view` from `divergence`; the message carries
        // failures only.
        let message = None;
        Snapshot {
            generation: self.config.generation,
            time: self.ensemble.time(),
            time_unit: self.config.experiment.dynamics.time_unit(),
            walkers,
            diverged,
            divergence: self.observer.1.1.record(),
            eta: self.config.experiment.dynamics.eta,
            simulated: self.observer.0.estimates(),
            walker_sample: self
                .ensemble
                .active_positions()
                .take(WALKER_SAMPLE)
                .map(|w| [w[0], w[1]])
                .collect(),
            trails: self
                .trails
                .iter()
                .map(|t| t.iter().copied().collect())
                .collect(),
            series: self.series.iter().copied().collect(),
            playing,
            walker_steps_per_second: self.walker_steps_per_second,
            start: self.start,
            burn_in: self.config.burn_in,
            message,
        }
    }
}

/// The worker's state: the simulation (if configured), play state and speed. Both the thread
/// and the synchronous test mode drive this.
pub struct WorkerState {
    pub simulation: Option<Simulation>,
    pub playing: bool,
    pub units_per_update: u64,
    /// A failure inside an update, shown to the person.
    pub failure: Option<String>,
}

impl WorkerState {
    pub fn new(units_per_update: u64) -> Self {
        Self {
            simulation: None,
            playing: false,
            units_per_update: units_per_update.max(1),
            failure: None,
        }
    }

    /// Apply one command.
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::Configure(config) => {
                self.failure = None;
                self.simulation = Some(Simulation::new(*config));
            }
            Command::Play => self.playing = true,
            Command::Pause => self.playing = false,
            Command::Step => {
                self.playing = false;
                self.tick();
            }
            Command::Reset => {
                if let Some(sim) = &self.simulation {
                    self.failure = None;
                    self.simulation = Some(Simulation::new(sim.config.clone()));
                }
            }
            Command::SetSpeed(units) => self.units_per_update = units.max(1),
            Command::SetPrediction {
                generation,
                prediction,
            } => {
                if let Some(sim) = &mut self.simulation
                    && sim.generation() == generation
                {
                    if sim.config.experiment.start_kind == StartKind::Stationary
                        && sim.config.prediction.is_none()
                    {
                        // The first prediction: sample the walkers from it, afresh.
                        let mut config = sim.config.clone();
                        config.grid = prediction.grid().unwrap_or(config.grid);
                        config.prediction = Some(prediction);
                        *sim = Simulation::new(config);
                    } else {
                        sim.set_prediction(prediction);
                    }
                }
            }
        }
    }

    /// One update. A panic inside the library is caught and shown, never propagated (the
    /// thread keeps serving commands).
    pub fn tick(&mut self) {
        let units = self.units_per_update;
        let Some(sim) = &mut self.simulation else {
            return;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| sim.step(units)));
        if let Err(panic) = outcome {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown cause".into());
            self.failure = Some(format!("the simulation stopped: {what}"));
            self.playing = false;
            self.simulation = None;
            return;
        }
        if sim.ensemble.diverged_walkers() == sim.ensemble.walkers() {
            self.playing = false;
        }
    }

    pub fn snapshot(&self) -> Option<Snapshot> {
        let mut snapshot = self.simulation.as_ref()?.snapshot(self.playing);
        if let Some(failure) = &self.failure {
            snapshot.message = Some(failure.clone());
        }
        Some(snapshot)
    }
}

/// The worker as a [`Service`] of the library's job mechanism: commands from the UI, one
/// update per [`advance`](Service::advance) while playing, a [`Snapshot`] after each.
impl Service for WorkerState {
    type Command = Command;
    type Snapshot = Snapshot;

    fn apply(&mut self, command: Command) -> Flow {
        WorkerState::apply(self, command);
        Flow::Continue
    }

    fn is_busy(&self) -> bool {
        self.playing && self.simulation.is_some()
    }

    fn advance(&mut self) {
        self.tick();
    }

    fn snapshot(&self) -> Option<Snapshot> {
        WorkerState::snapshot(self)
    }
}

/// The UI's handle on the simulation: a [`ServiceHandle`] on a named background thread, or
/// synchronous (tests).
pub struct SimulationHandle {
    service: ServiceHandle<WorkerState>,
    failure: Option<ThreadError>,
}

impl SimulationHandle {
    /// Start the named worker thread (background priority, all cores but one).
    pub fn spawn(ctx: egui::Context, units_per_update: u64) -> Result<Self, ThreadError> {
        let spec = JobSpec::background("neqlab-simulation")
            .with_min_advance_interval(MIN_UPDATE)
            .with_repaint(move || ctx.request_repaint_after(SNAPSHOT_REDRAW));
        Ok(Self {
            service: ServiceHandle::spawn(WorkerState::new(units_per_update), spec)?,
            failure: None,
        })
    }

    /// A synchronous handle: commands apply at once and every [`latest`](Self::latest) call
    /// while playing advances one update. For tests.
    pub fn inline(units_per_update: u64) -> Self {
        Self {
            service: ServiceHandle::inline(WorkerState::new(units_per_update)),
            failure: None,
        }
    }

    pub fn send(&mut self, command: Command) {
        if let Err(error) = self.service.send(command) {
            self.failure = Some(error);
        }
    }

    /// A failure of the handle itself (the thread died).
    pub fn failure(&self) -> Option<ThreadError> {
        self.failure.clone().or_else(|| self.service.failure())
    }

    /// The newest snapshot (in the synchronous mode, after one more update when playing).
    pub fn latest(&mut self) -> Option<Arc<Snapshot>> {
        self.service.latest()
    }
}
