//! The MNIST experiment: train to convergence, continue at constant `η` in the stationary
//! state, project the trajectory on the leading principal directions of its fluctuations and
//! measure entropy production there, with and without replacement.
//!
//! [`run`] does the work synchronously (tests and the CLI call it); [`MnistTask`] is the same
//! run as a background [`Task`] of the one job mechanism ([`crate::jobs`]): [`spawn`] starts
//! it on a named, niced thread, [`inline`] runs it synchronously inside `poll` (tests). It
//! reports every epoch's [`Progress`] as an update and stops within one batch of a cancel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use super::config::{MnistConfig, MnistError};
use super::idx::{DataSet, Digits};
use super::mlp::Activation;
use super::stationary::{Shared, StationaryReport, stationary};
use super::walker::{Phase, Progress, Walker};
use crate::dynamics::{Algorithm, Dynamics, Replacement};
use crate::jobs::{Context, Job, JobSpec, Task, ThreadError};

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct MnistReport {
    /// Where the digits came from (`bundled` or the IDX folder).
    pub source: String,
    /// Training examples used, `N`.
    pub train_n: usize,
    /// Test examples used.
    pub test_n: usize,
    /// Weights of the network.
    pub parameters: usize,
    /// Hidden units.
    pub hidden: usize,
    /// The hidden layer's activation.
    pub activation: Activation,
    /// The main run's algorithm.
    pub algorithm: Algorithm,
    /// The main run's replacement scheme.
    pub replacement: Replacement,
    /// The learning rate `η` on the summed negative log posterior.
    pub eta: f64,
    /// The equivalent learning rate on the mean cross-entropy, `η N`.
    pub eta_mean_loss: f64,
    /// Batch size `B`.
    pub batch: usize,
    /// Langevin temperature `T`.
    pub temperature: f64,
    /// Prior precision `λ`.
    pub prior_precision: f64,
    /// Epochs of training.
    pub train_epochs: usize,
    /// After training, before the stationary phase.
    pub trained_test_accuracy: f64,
    /// At the end of the main (configured replacement) stationary run.
    pub test_accuracy: f64,
    /// With the main run's weights averaged over its directions phase (the stationary
    /// mean).
    pub averaged_test_accuracy: f64,
    /// Training accuracy at the end of the main stationary run.
    pub train_accuracy: f64,
    /// Training throughput (gradient examples per second, one thread).
    pub examples_per_second: f64,
    /// Number `k` of principal directions.
    pub projection_dim: usize,
    /// Entropy production per time unit of the main run, `⟨σ⟩`.
    pub ep_rate: f64,
    /// `⟨exp(−Σ_k)⟩`, k = 1..5, of the main run.
    pub ift: Vec<f64>,
    /// Slope of `ln P(Σ)/P(−Σ)` of the main run (1 in theory).
    pub dft_slope: f64,
    /// The main run first, then the comparison run (other replacement) if any.
    pub stationary: Vec<StationaryReport>,
    /// Wall-clock time of the training phase.
    pub training_seconds: f64,
    /// Wall-clock time of the whole run.
    pub seconds: f64,
}

/// The same dynamics with the other replacement scheme (SGD ↔ SGD, SGLD ↔ SGWORLD).
fn other_replacement(dynamics: &Dynamics) -> Dynamics {
    let (algorithm, replacement) = match (dynamics.algorithm, dynamics.replacement) {
        (Algorithm::Sgd, Replacement::Wr) => (Algorithm::Sgd, Replacement::Wor),
        (Algorithm::Sgd, Replacement::Wor) => (Algorithm::Sgd, Replacement::Wr),
        (Algorithm::Sgld, _) => (Algorithm::Sgworld, Replacement::Wor),
        (Algorithm::Sgworld, _) => (Algorithm::Sgld, Replacement::Wr),
    };
    Dynamics {
        algorithm,
        replacement,
        ..*dynamics
    }
}

/// The trained network, handed to the stationary phase.
struct Trained {
    w: Vec<f64>,
    test_accuracy: f64,
    examples_per_second: f64,
    seconds: f64,
}

/// Train from the initial weights for `train_epochs` epochs.
fn train(shared: &Shared, dynamics: Dynamics, seed: u64) -> Result<Trained, MnistError> {
    let started = Instant::now();
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let w = shared.mlp.initial_weights(&mut rng);
    let mut walker = Walker::new(shared.mlp, dynamics, shared.data, w, seed ^ 0x9e37);
    walker.run_phase(
        Phase::Training,
        shared.config.train_epochs,
        shared.cancel,
        shared.progress,
        &mut |_, _| {},
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let test_accuracy = shared
        .mlp
        .evaluate(&walker.w, shared.data.1, &mut walker.workspace)
        .accuracy();
    Ok(Trained {
        examples_per_second: walker.examples_per_second(),
        w: walker.w,
        test_accuracy,
        seconds,
    })
}

/// The stationary runs from the trained weights: the main one, and with `compare` the other
/// replacement scheme side by side on a second thread (named `mnist-compare`; threads
/// inherit their creator's niceness, so a background job's helper stays in the background
/// and `neqlab mnist` keeps its normal priority).
fn stationary_runs(
    shared: &Shared,
    dynamics: Dynamics,
    trained: Vec<f64>,
) -> Result<Vec<StationaryReport>, MnistError> {
    let seed = shared.config.seed;
    if !shared.config.compare {
        return Ok(vec![stationary(
            shared,
            dynamics,
            trained,
            seed.wrapping_add(1),
        )?]);
    }
    let other = other_replacement(&dynamics);
    let trained_copy = trained.clone();
    let (main, comparison) = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("mnist-compare".into())
            .spawn_scoped(scope, move || {
                stationary(shared, other, trained_copy, seed.wrapping_add(2))
            });
        let main = stationary(shared, dynamics, trained, seed.wrapping_add(1));
        let comparison = match helper {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(MnistError::Thread("it panicked".into()))),
            Err(e) => Err(MnistError::Thread(e.to_string())),
        };
        (main, comparison)
    });
    Ok(vec![main?, comparison?])
}

/// Run the whole experiment synchronously. `progress` is called after every epoch (from
/// two threads at once during the stationary comparison); `cancel` is checked before every
/// batch, so a cancelled run returns [`MnistError::Cancelled`] within one batch.
pub fn run(
    config: &MnistConfig,
    data: &DataSet,
    cancel: &AtomicBool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<MnistReport, MnistError> {
    let started = Instant::now();
    let train_digits: Digits = data.train.clone().truncated(config.train_n);
    let test_digits: Digits = data.test.clone().truncated(config.test_n);
    let (mlp, dynamics) = config.validate(
        train_digits.len(),
        test_digits.len(),
        train_digits.pixels_per_image(),
    )?;
    let shared = Shared {
        config,
        mlp,
        data: (&train_digits, &test_digits),
        cancel,
        progress,
    };
    let trained = train(&shared, dynamics, config.seed)?;
    let trained_test_accuracy = trained.test_accuracy;
    let (examples_per_second, training_seconds) = (trained.examples_per_second, trained.seconds);
    let stationary = stationary_runs(&shared, dynamics, trained.w)?;
    let main = &stationary[0];
    Ok(MnistReport {
        source: data.source.clone(),
        train_n: train_digits.len(),
        test_n: test_digits.len(),
        parameters: mlp.dim(),
        hidden: mlp.hidden,
        activation: mlp.activation,
        algorithm: dynamics.algorithm,
        replacement: dynamics.replacement,
        eta: dynamics.eta,
        eta_mean_loss: dynamics.eta * train_digits.len() as f64,
        batch: dynamics.batch_size,
        temperature: dynamics.temperature,
        prior_precision: mlp.prior_precision,
        train_epochs: config.train_epochs,
        trained_test_accuracy,
        test_accuracy: main.test_accuracy,
        averaged_test_accuracy: main.averaged_test_accuracy,
        train_accuracy: main.train_accuracy,
        examples_per_second,
        projection_dim: config.projection_dim,
        ep_rate: main.analysis.ep_rate,
        ift: main.analysis.ift.clone(),
        dft_slope: main.analysis.dft_slope,
        training_seconds,
        seconds: started.elapsed().as_secs_f64(),
        stationary,
    })
}

/// What an MNIST job is asked to do.
#[derive(Clone, Debug)]
pub struct MnistRequest {
    /// The settings.
    pub config: MnistConfig,
    /// The digits (shared with the interface, which draws some of them).
    pub data: Arc<DataSet>,
}

/// The MNIST experiment as a background [`Task`]: every epoch's [`Progress`] arrives as an
/// update, and the job's progress fraction counts epochs over
/// [`MnistConfig::total_epochs`].
#[derive(Clone, Copy, Debug, Default)]
pub struct MnistTask;

impl Task for MnistTask {
    type Request = MnistRequest;
    type Update = Progress;
    type Output = Box<MnistReport>;
    type Error = MnistError;

    fn run(
        &mut self,
        request: MnistRequest,
        context: &Context<Progress>,
    ) -> Result<Box<MnistReport>, MnistError> {
        let total = request.config.total_epochs().max(1);
        let done = AtomicUsize::new(0);
        let progress = |p: Progress| {
            let epochs = done.fetch_add(1, Ordering::Relaxed) + 1;
            context.progress(
                epochs as f64 / total as f64,
                format!(
                    "{} ({}): epoch {}/{}",
                    p.phase.name(),
                    p.replacement.name().to_uppercase(),
                    p.epoch,
                    p.epochs
                ),
            );
            context.update(p);
        };
        run(
            &request.config,
            &request.data,
            context.cancel_flag(),
            &progress,
        )
        .map(Box::new)
    }
}

/// An MNIST run in the background (see [`crate::jobs::Job`]).
pub type MnistJob = Job<MnistTask>;

/// Start the MNIST job on a thread named `mnist` at background priority; `repaint` is called
/// whenever there is something new to show.
pub fn spawn(repaint: impl Fn() + Send + Sync + 'static) -> Result<MnistJob, ThreadError> {
    // The run is single-threaded (its comparison runs on a second thread of its own): no
    // pool.
    let spec = JobSpec::background("mnist")
        .with_threads(0)
        .with_repaint(repaint);
    Job::spawn(MnistTask, spec)
}

/// The MNIST job run synchronously inside [`Job::poll`] (tests).
pub fn inline() -> MnistJob {
    Job::inline(MnistTask)
}

/// Reading an IDX folder as a background [`Task`] (60 000 gzip images take a moment).
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadTask;

impl Task for LoadTask {
    type Request = std::path::PathBuf;
    type Update = ();
    type Output = Arc<DataSet>;
    type Error = super::idx::IdxError;

    fn run(
        &mut self,
        folder: std::path::PathBuf,
        context: &Context<()>,
    ) -> Result<Arc<DataSet>, super::idx::IdxError> {
        context.progress(0.0, format!("reading {}", folder.display()));
        DataSet::read_folder(&folder).map(Arc::new)
    }
}

/// Start the IDX loader on a thread named `mnist-load` at background priority.
pub fn spawn_loader(
    repaint: impl Fn() + Send + Sync + 'static,
) -> Result<Job<LoadTask>, ThreadError> {
    let spec = JobSpec::background("mnist-load")
        .with_threads(0)
        .with_repaint(repaint);
    Job::spawn(LoadTask, spec)
}
