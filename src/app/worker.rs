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
//!
//! **Throughput.** While playing, the thread works in back-to-back ticks of about [`TICK`]
//! (the units per tick follow the measured cost of a unit), on every core at background
//! priority, and publishes a snapshot at most every [`SNAPSHOT_INTERVAL`]: the interface gets
//! ~30 fresh pictures a second and every other cycle goes to the walkers. The observers accept
//! walkers interleaved in time, so the walkers advance in SIMD lanes as in `neqlab bench`
//! (docs/theory.md §11). The rate shown is walker-steps over wall time, snapshots and
//! waiting for the interface included. `NEQLAB_RATE_LOG=file` appends each rate measurement
//! to `file` (`seconds_since_start walker_steps_per_second time_units`).

use std::collections::VecDeque;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neqlab::divergence::{DivergenceRecord, DivergenceWatch};
use neqlab::dynamics::{Ensemble, Observer, TimeUnit};
use neqlab::jobs::{Flow, JobSpec, Service, ServiceHandle, ThreadError};
use neqlab::landscape::{LANES, Lanes};
use neqlab::limits::MemoryBudget;
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
/// Work per tick while playing on the thread: long enough that what a tick costs besides
/// the walkers (forking and merging observers, the time series) stays small, short enough that
/// a command waits at most about this long.
pub const TICK: Duration = Duration::from_millis(10);
/// Least time between two snapshots published while playing (a snapshot reads every
/// estimate, the 128² current field with its errors among them). A snapshot goes out at the
/// end of the first tick past this, so with ticks of [`TICK`] they come about every 30–35 ms:
/// the window redraws about 30 times a second.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(27);
/// Walkers per observer part: each part forks and merges the statistics once per tick (the
/// entropy histograms are a few KiB), so parts of 256 keep that below 1% of a tick while
/// 4000 walkers still make 16 parts to share among the cores. Fixed, so the sums never
/// depend on the number of threads.
const WALKERS_PER_PART: usize = 256;
/// Growth allowed per update of the cost per unit behind tick sizes: a cost that really grew
/// (e.g. after a prediction with a costlier entropy model arrived) is followed within tens of
/// updates.
const COST_DRIFT: f64 = 1.05;
/// The rate shown is measured over at least this much wall time.
const RATE_WINDOW: Duration = Duration::from_millis(500);
/// A gap this long between ticks (a pause, single steps) starts a new rate window.
const RATE_GAP: Duration = Duration::from_millis(250);

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
    /// Time units of one [`Step`](Command::Step) (in the synchronous mode, of every update;
    /// the thread plays in ticks of about [`TICK`]).
    SetSpeed(u64),
    /// From now on record on this prediction's grid and measure entropy production with its
    /// model (the walkers keep going); ignored for an old generation.
    SetPrediction {
        generation: u64,
        prediction: Arc<Prediction>,
    },
    /// Set the running simulation aside under `key` (a lecture slide being left), walkers
    /// and statistics as they are; the next [`Configure`](Command::Configure) starts another.
    /// At most [`MAX_PARKED`] are kept, the oldest dropped first.
    Park(u64),
    /// Continue the simulation parked under `key` as generation `generation`, in place of the
    /// one just configured (the same settings: the app parks and resumes a slide's state
    /// together). When none is parked there (dropped, or never parked), the configured one
    /// stays and takes `prediction` as [`SetPrediction`](Command::SetPrediction) would.
    Resume {
        key: u64,
        generation: u64,
        prediction: Option<Arc<Prediction>>,
    },
}

/// Simulations [`Command::Park`] keeps (a lecture going back a few slides finds its walkers
/// where it left them; each costs about the memory of one running simulation).
pub const MAX_PARKED: usize = 4;

/// A simulation is parked only if its estimated memory is at most this share of what the
/// machine can use (`limits`); a larger one is dropped, and its slide starts afresh.
pub const PARKED_SHARE: f64 = 0.1;

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
    /// Only the first `count` walkers are recorded: most groups are skipped whole.
    #[inline(always)]
    fn observe_lanes(
        &mut self,
        first_walker: usize,
        unit: u64,
        live: &[bool; LANES],
        _before: &[Lanes],
        after: &[Lanes],
    ) {
        for l in (0..LANES).filter(|&l| live[l] && first_walker + l < self.count) {
            self.points
                .push((first_walker + l, unit, [after[0][l], after[1][l]]));
        }
    }
    /// Points are sorted by walker and unit after each update.
    fn accepts_interleaved_walkers(&self) -> bool {
        true
    }
    /// The app's observer is `(SimulationStats, TrailRecorder)`, whose part size is the
    /// larger wish of the two: this one sets it for the whole.
    fn walkers_per_part(&self) -> usize {
        WALKERS_PER_PART
    }
}

/// Walker-steps counted against wall time since the window opened.
#[derive(Clone, Copy, Debug)]
struct RateWindow {
    opened: Instant,
    walker_steps: f64,
    /// When the last update ended.
    last: Instant,
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
    /// Wall-clock seconds per time unit (all walkers) when the cores were free: the least
    /// measured, allowed to grow by [`COST_DRIFT`] per update. Ticks are sized by it, so a
    /// thread starved by other work still does about [`TICK`] of work per tick instead of
    /// shrinking to one unit and spending its time on per-tick costs.
    seconds_per_unit: Option<f64>,
    rate: Option<RateWindow>,
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
            seconds_per_unit: None,
            rate: None,
            start,
        }
    }

    /// Time units that take about `target` of wall time, from the last update's cost (one
    /// unit before anything was measured), at most 100 000.
    pub fn units_for(&self, target: Duration) -> u64 {
        match self.seconds_per_unit {
            Some(seconds) if seconds > 0.0 => (target.as_secs_f64() / seconds)
                .round()
                .clamp(1.0, 100_000.0) as u64,
            _ => 1,
        }
    }

    pub fn generation(&self) -> u64 {
        self.config.generation
    }

    /// Estimated bytes this simulation holds (walkers, statistics and its grid histograms).
    fn parked_bytes(&self) -> f64 {
        let dim = self.config.experiment.landscape.dim();
        neqlab::limits::simulation_demand(
            dim,
            self.config.walkers,
            Some(self.config.grid.nx),
            false,
        )
        .total_bytes
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

    /// Advance every walker by `units` time units and update the statistics. Returns the
    /// walker-steps per second of wall time when a rate window closes.
    pub fn step(&mut self, units: u64) -> Option<f64> {
        let landscape = self.config.experiment.landscape.clone();
        let started = Instant::now();
        let active = (self.ensemble.walkers() - self.ensemble.diverged_walkers()) as f64;
        self.observer.1.0.points.clear();
        (self.observer.1)
            .1
            .before_advance(self.ensemble.time(), units);
        self.ensemble
            .advance(landscape.as_ref(), units, &mut self.observer);
        let seconds = started.elapsed().as_secs_f64();
        let walker_steps =
            active * units as f64 * self.config.experiment.dynamics.steps_per_unit() as f64;
        if seconds > 0.0 {
            let measured = seconds / units as f64;
            self.seconds_per_unit = Some(
                self.seconds_per_unit
                    .map_or(measured, |least| measured.min(least * COST_DRIFT)),
            );
        }
        self.record_trails();
        self.updates += 1;
        if self.updates.is_multiple_of(self.series_stride) {
            self.record_series();
        }
        self.count_rate(started, walker_steps)
    }

    /// Add `walker_steps` done since `started` to the rate window (opening a new one after a
    /// pause); when the window spans [`RATE_WINDOW`], its rate becomes the one shown.
    fn count_rate(&mut self, started: Instant, walker_steps: f64) -> Option<f64> {
        let now = Instant::now();
        let mut window = match self.rate {
            Some(w) if started.duration_since(w.last) < RATE_GAP => w,
            _ => RateWindow {
                opened: started,
                walker_steps: 0.0,
                last: started,
            },
        };
        window.walker_steps += walker_steps;
        window.last = now;
        let elapsed = now.duration_since(window.opened);
        let mut closed = None;
        if elapsed >= RATE_WINDOW {
            closed = Some(window.walker_steps / elapsed.as_secs_f64());
            window.opened = now;
            window.walker_steps = 0.0;
        } else if self.walker_steps_per_second == 0.0 && elapsed.as_secs_f64() > 0.0 {
            // A first figure before the first window closes.
            self.walker_steps_per_second = window.walker_steps / elapsed.as_secs_f64();
        }
        if let Some(rate) = closed {
            self.walker_steps_per_second = rate;
        }
        self.rate = Some(window);
        closed
    }

    /// Move the positions the trail recorder saw into the trails, in time order.
    fn record_trails(&mut self) {
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

/// How many time units an update while playing takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// Exactly `units_per_update` (the synchronous mode: tests count units, never time).
    Fixed,
    /// About [`TICK`] of work, whatever the speed setting (the thread); a single step is
    /// still `units_per_update`.
    Timed,
}

/// The worker's state: the simulation (if configured), play state and speed. Both the thread
/// and the synchronous test mode drive this.
pub struct WorkerState {
    pub simulation: Option<Simulation>,
    pub playing: bool,
    /// Time units of one [`Command::Step`] (and of every update under [`Pacing::Fixed`]).
    pub units_per_update: u64,
    pub pacing: Pacing,
    /// A failure inside an update, shown to the person.
    pub failure: Option<String>,
    /// When the last snapshot was published after an update.
    last_snapshot: Option<Instant>,
    /// `NEQLAB_RATE_LOG`: where each measured rate is appended, and since when.
    rate_log: Option<(std::io::BufWriter<std::fs::File>, Instant)>,
    /// Simulations set aside by [`Command::Park`], oldest first.
    parked: Vec<(u64, Simulation)>,
}

impl WorkerState {
    pub fn new(units_per_update: u64, pacing: Pacing) -> Self {
        let rate_log = std::env::var_os("NEQLAB_RATE_LOG").and_then(|path| {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()?;
            Some((std::io::BufWriter::new(file), Instant::now()))
        });
        Self {
            simulation: None,
            playing: false,
            units_per_update: units_per_update.max(1),
            pacing,
            failure: None,
            last_snapshot: None,
            rate_log,
            parked: Vec::new(),
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
                self.update(self.units_per_update);
            }
            Command::Reset => {
                if let Some(sim) = &self.simulation {
                    self.failure = None;
                    self.simulation = Some(Simulation::new(sim.config.clone()));
                }
            }
            Command::SetSpeed(units) => self.units_per_update = units.max(1),
            Command::Park(key) => {
                self.parked.retain(|(k, _)| *k != key);
                if let Some(sim) = self.simulation.take()
                    && sim.parked_bytes()
                        <= PARKED_SHARE * MemoryBudget::of_this_machine().usable_bytes()
                {
                    self.parked.push((key, sim));
                    if self.parked.len() > MAX_PARKED {
                        self.parked.remove(0);
                    }
                }
            }
            Command::Resume {
                key,
                generation,
                prediction,
            } => {
                if let Some(at) = self.parked.iter().position(|(k, _)| *k == key) {
                    let (_, mut sim) = self.parked.remove(at);
                    sim.config.generation = generation;
                    self.failure = None;
                    self.simulation = Some(sim);
                } else if let Some(prediction) = prediction {
                    self.apply(Command::SetPrediction {
                        generation,
                        prediction,
                    });
                }
            }
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

    /// One update while playing: `units_per_update` time units, or about [`TICK`] of work
    /// under [`Pacing::Timed`].
    pub fn tick(&mut self) {
        let units = match (self.pacing, &self.simulation) {
            (Pacing::Timed, Some(sim)) => sim.units_for(TICK),
            _ => self.units_per_update,
        };
        self.update(units);
    }

    /// Advance by `units`. A panic inside the library is caught and shown, never propagated
    /// (the thread keeps serving commands).
    fn update(&mut self, units: u64) {
        let Some(sim) = &mut self.simulation else {
            return;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| sim.step(units)));
        if let (Ok(Some(rate)), Some((log, since))) = (&outcome, &mut self.rate_log) {
            let _ = writeln!(
                log,
                "{:.3} {rate:.4e} {}",
                since.elapsed().as_secs_f64(),
                sim.ensemble.time()
            );
            let _ = log.flush();
        }
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

    /// At most one snapshot per [`SNAPSHOT_INTERVAL`] while playing; the last update before
    /// stopping always publishes.
    fn snapshot_due(&mut self) -> bool {
        let now = Instant::now();
        let due = !self.is_busy()
            || self
                .last_snapshot
                .is_none_or(|last| now.duration_since(last) >= SNAPSHOT_INTERVAL);
        if due {
            self.last_snapshot = Some(now);
        }
        due
    }
}

/// The repaint request of the simulation's snapshots: at once if the last redraw asked for was
/// at least `interval` ago, else `interval` after it. Redraws then follow snapshots as closely
/// as a rate of one per `interval` allows (about 30 a second), and a machine that draws in
/// software keeps the rest of its cycles for the walkers. (Asking for every redraw one
/// interval after its snapshot made 56 ms between frames; asking for each at once, 24 ms,
/// since egui repaints twice for a request without delay, and half the simulation's rate under
/// llvmpipe.)
fn redraw_paced(ctx: egui::Context, interval: Duration) -> impl Fn() + Send + Sync + 'static {
    let last = std::sync::Mutex::new(None::<Instant>);
    move || {
        let now = Instant::now();
        let Ok(mut last) = last.lock() else {
            ctx.request_repaint();
            return;
        };
        // A redraw still to come (`t > now`) will show this snapshot too: ask for it again
        // (a frame drawn meanwhile for input cleared the request) rather than for a later one.
        let due = match *last {
            Some(t) if t > now => t,
            Some(t) => (t + interval).max(now),
            None => now,
        };
        *last = Some(due);
        // Never a zero delay: egui answers a request without delay with two repaints.
        ctx.request_repaint_after((due - now).max(Duration::from_millis(1)));
    }
}

/// The UI's handle on the simulation: a [`ServiceHandle`] on a named background thread, or
/// synchronous (tests).
pub struct SimulationHandle {
    service: ServiceHandle<WorkerState>,
    failure: Option<ThreadError>,
}

impl SimulationHandle {
    /// Start the named worker thread: background priority (the interface is served first),
    /// a pool on every core, ticks back to back.
    pub fn spawn(ctx: egui::Context, units_per_update: u64) -> Result<Self, ThreadError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let spec = JobSpec::background("neqlab-simulation")
            .with_threads(cores)
            .with_repaint(redraw_paced(ctx, SNAPSHOT_INTERVAL));
        let state = WorkerState::new(units_per_update, Pacing::Timed);
        Ok(Self {
            service: ServiceHandle::spawn(state, spec)?,
            failure: None,
        })
    }

    /// A synchronous handle: commands apply at once and every [`latest`](Self::latest) call
    /// while playing advances one update. For tests.
    pub fn inline(units_per_update: u64) -> Self {
        Self {
            service: ServiceHandle::inline(WorkerState::new(units_per_update, Pacing::Fixed)),
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
