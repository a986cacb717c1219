//! The simulation worker: a named thread that owns the walkers, takes [`Command`]s over a
//! channel, and publishes [`Snapshot`]s for the UI to draw.
//!
//! The stepping itself lives in [`WorkerState`], which the thread drives in a loop and which
//! tests (and `SimulationHandle::inline`) drive synchronously, one update per frame, with no
//! timing involved. Every configuration carries a generation number; statistics are rebuilt
//! from scratch whenever it changes, so old and new walkers never mix.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use neqlab::dynamics::{Ensemble, Observer, TimeUnit};
use neqlab::preset::Experiment;
use neqlab::stats::{MomentStats, Moments};

use super::theory_adapter::{EntropyModel, EntropyStats, Grid2d, GridHistogram, MAX_K, SIGMA_BINS};

/// Longest time series kept (older points are thinned out).
const SERIES_CAPACITY: usize = 2000;
/// Walkers whose positions are sent to the UI (for the dots and the mean loss).
const WALKER_SAMPLE: usize = 2000;
/// Points kept per trail.
const TRAIL_LENGTH: usize = 120;
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
    /// Histogram on this grid from now on (the walkers keep going); ignored for an old
    /// generation.
    SetGrid {
        generation: u64,
        grid: Grid2d,
    },
    /// Start measuring entropy production with this linear model (ignored for an old
    /// generation).
    SetEntropyModel {
        generation: u64,
        model: EntropyModel,
        ep_rate: f64,
    },
    Shutdown,
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

/// The fluctuation-theorem statistics of a snapshot.
#[derive(Clone, Debug)]
pub struct EntropySnapshot {
    pub rate: Option<f64>,
    pub half_width: [f64; MAX_K],
    pub histograms: Vec<[f64; SIGMA_BINS]>,
    /// `⟨exp(−Σ)⟩` for `k = 1..=MAX_K`.
    pub exp_minus: [Option<f64>; MAX_K],
    pub blocks: [u64; MAX_K],
}

/// Everything the UI draws from the simulation, immutable once published.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub generation: u64,
    pub time: u64,
    pub time_unit: TimeUnit,
    pub walkers: usize,
    pub diverged: usize,
    pub grid: Grid2d,
    /// Fraction of recorded samples per cell.
    pub density: Vec<f64>,
    pub current: Vec<[f64; 2]>,
    pub samples: u64,
    pub walker_sample: Vec<[f64; 2]>,
    pub trails: Vec<Vec<[f64; 2]>>,
    pub moments: Option<Moments>,
    pub series: Vec<SeriesPoint>,
    pub entropy: Option<EntropySnapshot>,
    pub playing: bool,
    pub walker_steps_per_second: f64,
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

/// All the estimators one update feeds.
struct SimObserver {
    histogram: GridHistogram,
    moments: MomentStats,
    trails: TrailRecorder,
    entropy: Option<EntropyStats>,
}

impl Observer for SimObserver {
    fn fork(&self) -> Self {
        Self {
            histogram: self.histogram.fork(),
            moments: self.moments.fork(),
            trails: self.trails.fork(),
            entropy: self.entropy.as_ref().map(Observer::fork),
        }
    }
    fn begin_walker(&mut self, walker: usize) {
        if let Some(e) = &mut self.entropy {
            e.begin_walker(walker);
        }
    }
    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        self.histogram.observe(walker, unit, before, after);
        self.moments.observe(walker, unit, before, after);
        self.trails.observe(walker, unit, before, after);
        if let Some(e) = &mut self.entropy {
            e.observe(walker, unit, before, after);
        }
    }
    fn merge(&mut self, other: Self) {
        self.histogram.merge(other.histogram);
        self.moments.merge(other.moments);
        self.trails.merge(other.trails);
        if let (Some(e), Some(o)) = (&mut self.entropy, other.entropy) {
            e.merge(o);
        }
    }
}

/// One running simulation of one generation.
pub struct Simulation {
    config: SimConfig,
    ensemble: Ensemble,
    observer: SimObserver,
    trails: Vec<VecDeque<[f64; 2]>>,
    series: VecDeque<SeriesPoint>,
    series_stride: u64,
    updates: u64,
    last_entropy: (f64, u64),
    walker_steps_per_second: f64,
}

impl Simulation {
    pub fn new(config: SimConfig) -> Self {
        let landscape = config.experiment.landscape.as_ref();
        let ensemble = Ensemble::new(
            landscape,
            config.experiment.dynamics,
            config.walkers,
            &config.experiment.start,
            config.seed,
        );
        let observer = SimObserver {
            histogram: GridHistogram::new(config.grid, config.burn_in),
            moments: MomentStats::new(&config.experiment.start, config.burn_in),
            trails: TrailRecorder {
                count: config.trails.min(config.walkers),
                points: Vec::new(),
            },
            entropy: None,
        };
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
        }
    }

    pub fn generation(&self) -> u64 {
        self.config.generation
    }

    /// Record the histogram on `grid` from now on.
    pub fn set_grid(&mut self, grid: Grid2d) {
        if self.config.grid != grid {
            let burn_in = self.config.burn_in.max(self.ensemble.time());
            self.config.grid = grid;
            self.observer.histogram = GridHistogram::new(grid, burn_in);
        }
    }

    /// Start recording entropy production with `model` from now on.
    pub fn set_entropy_model(&mut self, model: EntropyModel, ep_rate: f64) {
        let burn_in = self.config.burn_in.max(self.ensemble.time());
        self.observer.entropy = Some(EntropyStats::new(model, burn_in, ep_rate));
        self.last_entropy = (0.0, 0);
    }

    /// Advance every walker by `units` time units and update the statistics.
    pub fn step(&mut self, units: u64) {
        let landscape = self.config.experiment.landscape.clone();
        let started = Instant::now();
        self.observer.trails.points.clear();
        self.ensemble
            .advance(landscape.as_ref(), units, &mut self.observer);
        let seconds = started.elapsed().as_secs_f64();
        let active = (self.ensemble.walkers() - self.ensemble.diverged_walkers()) as f64;
        let steps = units as f64 * self.config.experiment.dynamics.steps_per_unit() as f64;
        if seconds > 0.0 {
            self.walker_steps_per_second = active * steps / seconds;
        }
        let mut points = std::mem::take(&mut self.observer.trails.points);
        points.sort_by_key(|(walker, unit, _)| (*walker, *unit));
        for (walker, _, p) in points.drain(..) {
            if let Some(trail) = self.trails.get_mut(walker) {
                trail.push_back(p);
                if trail.len() > TRAIL_LENGTH {
                    trail.pop_front();
                }
            }
        }
        self.observer.trails.points = points;
        self.updates += 1;
        if self.updates.is_multiple_of(self.series_stride) {
            self.record_series();
        }
    }

    fn record_series(&mut self) {
        let landscape = self.config.experiment.landscape.as_ref();
        let mut loss = 0.0;
        let mut count = 0usize;
        for w in self.ensemble.active_positions().take(200) {
            let l = landscape.loss(w);
            if l.is_finite() {
                loss += l;
                count += 1;
            }
        }
        let entropy_rate = self.observer.entropy.as_ref().and_then(|e| {
            let (sum, units) = (
                e.sigma_sum - self.last_entropy.0,
                e.units - self.last_entropy.1,
            );
            self.last_entropy = (e.sigma_sum, e.units);
            (units > 0).then(|| sum / units as f64)
        });
        self.series.push_back(SeriesPoint {
            time: self.ensemble.time() as f64,
            loss: if count > 0 {
                loss / count as f64
            } else {
                f64::NAN
            },
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
        let message = if diverged == walkers && walkers > 0 {
            Some(format!(
                "every walker diverged (positions became non-finite or left the landscape): \
                 the learning rate η = {} is too large for this landscape's curvature",
                self.config.experiment.dynamics.eta
            ))
        } else if diverged > 0 {
            Some(format!(
                "{diverged} of {walkers} walkers diverged and were frozen: η = {} is close to \
                 the stability limit",
                self.config.experiment.dynamics.eta
            ))
        } else {
            None
        };
        let entropy = self.observer.entropy.as_ref().map(|e| EntropySnapshot {
            rate: e.rate(),
            half_width: e.half_width,
            histograms: e.histograms.clone(),
            exp_minus: std::array::from_fn(|k| {
                (e.blocks[k] > 0).then(|| e.exp_minus_sum[k] / e.blocks[k] as f64)
            }),
            blocks: e.blocks,
        });
        Snapshot {
            generation: self.config.generation,
            time: self.ensemble.time(),
            time_unit: self.config.experiment.dynamics.time_unit(),
            walkers,
            diverged,
            grid: self.config.grid,
            density: self.observer.histogram.density(),
            current: self.observer.histogram.current(),
            samples: self.observer.histogram.samples(),
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
            moments: self.observer.moments.moments(),
            series: self.series.iter().copied().collect(),
            entropy,
            playing,
            walker_steps_per_second: self.walker_steps_per_second,
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

    /// Apply one command; `false` on shutdown.
    pub fn apply(&mut self, command: Command) -> bool {
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
            Command::SetGrid { generation, grid } => {
                if let Some(sim) = &mut self.simulation
                    && sim.generation() == generation
                {
                    sim.set_grid(grid);
                }
            }
            Command::SetEntropyModel {
                generation,
                model,
                ep_rate,
            } => {
                if let Some(sim) = &mut self.simulation
                    && sim.generation() == generation
                {
                    sim.set_entropy_model(model, ep_rate);
                }
            }
            Command::Shutdown => return false,
        }
        true
    }

    /// One update. A panic inside the library is caught and shown, never propagated.
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

type Latest = Arc<Mutex<Option<Arc<Snapshot>>>>;

enum Mode {
    Threaded {
        sender: Sender<Command>,
        latest: Latest,
        thread: Option<JoinHandle<()>>,
    },
    Inline {
        state: Box<WorkerState>,
    },
}

/// The UI's handle on the simulation.
pub struct SimulationHandle {
    mode: Mode,
    failure: Option<String>,
}

impl SimulationHandle {
    /// Start the named worker thread.
    pub fn spawn(ctx: egui::Context, units_per_update: u64) -> anyhow::Result<Self> {
        let (sender, receiver) = channel();
        let latest: Latest = Arc::new(Mutex::new(None));
        let published = latest.clone();
        let thread = std::thread::Builder::new()
            .name("neqlab-simulation".into())
            .spawn(move || worker_loop(receiver, published, ctx, units_per_update))
            .context("cannot start the simulation thread")?;
        Ok(Self {
            mode: Mode::Threaded {
                sender,
                latest,
                thread: Some(thread),
            },
            failure: None,
        })
    }

    /// A synchronous handle: commands apply at once and every [`latest`](Self::latest) call
    /// while playing advances one update. For tests.
    pub fn inline(units_per_update: u64) -> Self {
        Self {
            mode: Mode::Inline {
                state: Box::new(WorkerState::new(units_per_update)),
            },
            failure: None,
        }
    }

    pub fn send(&mut self, command: Command) {
        match &mut self.mode {
            Mode::Threaded { sender, .. } => {
                if sender.send(command).is_err() {
                    self.failure = Some("the simulation thread has stopped".into());
                }
            }
            Mode::Inline { state } => {
                state.apply(command);
            }
        }
    }

    /// A failure of the handle itself (the thread died).
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// The newest snapshot (in the synchronous mode, after one more update when playing).
    pub fn latest(&mut self) -> Option<Arc<Snapshot>> {
        match &mut self.mode {
            Mode::Threaded { latest, .. } => latest.lock().ok().and_then(|slot| slot.clone()),
            Mode::Inline { state } => {
                if state.playing {
                    state.tick();
                }
                state.snapshot().map(Arc::new)
            }
        }
    }
}

impl Drop for SimulationHandle {
    fn drop(&mut self) {
        if let Mode::Threaded { sender, thread, .. } = &mut self.mode {
            let _ = sender.send(Command::Shutdown);
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Threads for background work: all cores but one, so that the UI thread (and a software
/// rasteriser's threads) always have a core to draw on, even where niceness is not available.
pub fn background_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

/// Threads for work someone waits for (a prediction after a slider moved): on Linux every
/// core, since these threads run below the interface's priority and only in short bursts;
/// elsewhere [`background_threads`].
pub fn prompt_threads() -> usize {
    if cfg!(target_os = "linux") {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        background_threads()
    }
}

fn worker_loop(receiver: Receiver<Command>, latest: Latest, ctx: egui::Context, units: u64) {
    neqlab::background::lower_priority();
    let pool = neqlab::background::thread_pool(
        "neqlab-simulation",
        background_threads(),
        neqlab::background::BACKGROUND_NICENESS,
    );
    let mut state = WorkerState::new(units);
    let publish = |state: &WorkerState| {
        let snapshot = state.snapshot().map(Arc::new);
        if let Ok(mut slot) = latest.lock() {
            *slot = snapshot;
        }
        ctx.request_repaint_after(SNAPSHOT_REDRAW);
    };
    let mut next_update = Instant::now();
    loop {
        let command = if state.playing {
            let wait = next_update.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(wait) {
                Ok(command) => Some(command),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match receiver.recv() {
                Ok(command) => Some(command),
                Err(_) => return,
            }
        };
        if let Some(command) = command {
            let keep_going = match &pool {
                Some(pool) => pool.install(|| state.apply(command)),
                None => state.apply(command),
            };
            if !keep_going {
                return;
            }
            // Apply everything queued before simulating again.
            loop {
                match receiver.try_recv() {
                    Ok(command) => {
                        if !state.apply(command) {
                            return;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            publish(&state);
            continue;
        }
        next_update = Instant::now() + MIN_UPDATE;
        match &pool {
            Some(pool) => pool.install(|| state.tick()),
            None => state.tick(),
        }
        publish(&state);
    }
}
