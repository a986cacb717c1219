//! The MNIST experiment as a job: train to convergence, continue at constant `η` in the
//! stationary state, project the trajectory on the leading principal directions of its
//! fluctuations and measure entropy production there, with and without replacement.
//!
//! [`run`] does the work synchronously (tests and the CLI call it); [`MnistJob::spawn`] runs
//! it on a named background thread that reports [`JobMessage`]s over a channel and stops
//! within one batch of [`MnistJob::cancel`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::analysis::{AnalysisError, EntropyAnalysis, analyse};
use super::idx::{DataSet, Digits};
use super::mlp::{Activation, BatchTally, Mlp, Workspace};
use crate::dynamics::{Algorithm, BatchSampler, Dynamics, DynamicsError, Replacement};

/// The `[mnist]` table of `presets/mnist.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MnistConfig {
    /// Hidden units.
    pub hidden: usize,
    pub activation: Activation,
    /// Prior precision `λ` (L2 weight `(λ/2)|w|²` in the negative log posterior).
    pub prior_precision: f64,
    pub algorithm: Algorithm,
    /// `wr` or `wor` (implied by `sgld` / `sgworld`); the other one is run for comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Replacement>,
    /// Learning rate `η` on the summed negative log posterior (`η N` on the mean loss).
    pub eta: f64,
    /// Batch size `B`.
    pub batch: usize,
    /// Langevin temperature `T` (SGLD / SGWORLD).
    pub temperature: f64,
    /// Epochs of training before the stationary phase.
    pub train_epochs: usize,
    /// Stationary epochs whose snapshots estimate the principal directions.
    pub pca_epochs: usize,
    /// Weight snapshots (at most) taken during those epochs.
    pub snapshots: usize,
    /// Stationary epochs recorded in projected coordinates.
    pub record_epochs: usize,
    /// Number `k` of principal directions the trajectory is projected on.
    pub projection_dim: usize,
    /// Record every `record_stride`-th step (with replacement, and in the per-step record
    /// without replacement; epochs are never thinned): a coarser time unit for the analysis.
    pub record_stride: usize,
    /// Also run the other replacement scheme from the same trained weights.
    pub compare: bool,
    /// Use only the first `train_n` training / `test_n` test digits (0: all).
    pub train_n: usize,
    pub test_n: usize,
    pub seed: u64,
}

impl Default for MnistConfig {
    fn default() -> Self {
        Self {
            hidden: 32,
            activation: Activation::Tanh,
            prior_precision: 50.0,
            algorithm: Algorithm::Sgd,
            replacement: Some(Replacement::Wr),
            eta: 2.5e-5,
            batch: 50,
            temperature: 0.0,
            train_epochs: 100,
            pca_epochs: 20,
            snapshots: 200,
            record_epochs: 200,
            projection_dim: 4,
            record_stride: 1,
            compare: true,
            train_n: 0,
            test_n: 0,
            seed: 1,
        }
    }
}

/// What can go wrong in a run.
#[derive(Debug, thiserror::Error)]
pub enum MnistError {
    #[error("mnist.{key}: {message}")]
    InvalidKey { key: &'static str, message: String },
    #[error("cancelled")]
    Cancelled,
    #[error(
        "the weights diverged in the {phase} phase at epoch {epoch} (loss is not finite); lower mnist.eta"
    )]
    Diverged { phase: String, epoch: usize },
    #[error("{replacement} stationary analysis: {error}")]
    Analysis {
        replacement: &'static str,
        error: AnalysisError,
    },
    #[error("cannot start the mnist thread: {0}")]
    Thread(String),
    /// A setting outside its rule ([`crate::fields`]).
    #[error(transparent)]
    Field(#[from] crate::fields::FieldError),
    /// The run would not fit in memory ([`crate::limits`]).
    #[error(transparent)]
    Memory(#[from] crate::limits::LimitError),
}

fn invalid(key: &'static str, message: impl Into<String>) -> MnistError {
    MnistError::InvalidKey {
        key,
        message: message.into(),
    }
}

/// Which part of the run a progress report belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Training,
    /// Finding the principal directions of the stationary fluctuations.
    Directions,
    /// Recording the projected stationary trajectory.
    Recording,
}

/// One progress report, sent after every epoch.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    pub phase: Phase,
    pub replacement: Replacement,
    /// Epoch within the phase (1-based) and the phase's length.
    pub epoch: usize,
    pub epochs: usize,
    /// Mean cross-entropy over the epoch's minibatches (before each update).
    pub loss: f64,
    /// Accuracy over the epoch's minibatches.
    pub train_accuracy: f64,
    /// Accuracy on the test set after the epoch.
    pub test_accuracy: f64,
    pub examples_per_second: f64,
}

/// How many test digits a [`StationaryReport`] carries predictions for (a gallery's worth).
pub const PREDICTED_TEST_DIGITS: usize = 64;

/// One stationary run (one replacement scheme) and its analysis.
#[derive(Clone, Debug, Serialize)]
pub struct StationaryReport {
    pub algorithm: Algorithm,
    pub replacement: Replacement,
    /// `step` with replacement, `epoch` without: the unit of every rate here.
    pub time_unit: &'static str,
    pub snapshots: usize,
    /// Variance of the snapshots along each principal direction, largest first.
    pub principal_variances: Vec<f64>,
    /// Recorded positions; consecutive ones are `record_stride` time units apart.
    pub recorded_units: usize,
    pub record_stride: usize,
    pub test_accuracy: f64,
    pub train_accuracy: f64,
    pub seconds: f64,
    /// In the theory's time unit (steps with replacement, epochs without).
    pub analysis: EntropyAnalysis,
    /// Predicted classes of the first [`PREDICTED_TEST_DIGITS`] test digits with the final
    /// weights of this run (the test set's order, so `test.labels[i]` is the truth).
    pub test_predictions: Vec<u8>,
    /// Without replacement only: the same directions, every step (not a Markov chain at
    /// this resolution, since the batches of an epoch are not independent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis_per_step: Option<EntropyAnalysis>,
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct MnistReport {
    pub source: String,
    pub train_n: usize,
    pub test_n: usize,
    pub parameters: usize,
    pub hidden: usize,
    pub activation: Activation,
    pub algorithm: Algorithm,
    pub replacement: Replacement,
    pub eta: f64,
    /// The equivalent learning rate on the mean cross-entropy, `η N`.
    pub eta_mean_loss: f64,
    pub batch: usize,
    pub temperature: f64,
    pub prior_precision: f64,
    pub train_epochs: usize,
    /// After training, before the stationary phase.
    pub trained_test_accuracy: f64,
    /// At the end of the main (configured replacement) stationary run.
    pub test_accuracy: f64,
    pub train_accuracy: f64,
    /// Training throughput (gradient examples per second, one thread).
    pub examples_per_second: f64,
    pub projection_dim: usize,
    /// Entropy production per time unit of the main run, `⟨σ⟩`.
    pub ep_rate: f64,
    /// `⟨exp(−Σ_k)⟩`, k = 1..5, of the main run.
    pub ift: Vec<f64>,
    pub dft_slope: f64,
    /// The main run first, then the comparison run (other replacement) if any.
    pub stationary: Vec<StationaryReport>,
    pub training_seconds: f64,
    pub seconds: f64,
}

/// Messages from the background job.
#[derive(Clone, Debug)]
pub enum JobMessage {
    Progress(Progress),
    Finished(Box<MnistReport>),
    Cancelled,
    Failed(String),
}

impl MnistConfig {
    /// Check the settings against a training set of `n_train` examples.
    pub fn validate(
        &self,
        n_train: usize,
        n_test: usize,
        inputs: usize,
    ) -> Result<(Mlp, Dynamics), MnistError> {
        self.check_fields()?;
        if self.hidden == 0 || self.hidden > 4096 {
            return Err(invalid(
                "hidden",
                format!("needs 1 to 4096 hidden units, got {}", self.hidden),
            ));
        }
        if !(self.prior_precision.is_finite() && self.prior_precision >= 0.0) {
            return Err(invalid(
                "prior_precision",
                format!(
                    "must be non-negative and finite, got {}",
                    self.prior_precision
                ),
            ));
        }
        if n_train < 2 || n_test == 0 {
            return Err(invalid(
                "train_n",
                format!("need at least 2 training and 1 test digits, have {n_train} and {n_test}"),
            ));
        }
        if self.projection_dim == 0 || self.projection_dim > 16 {
            return Err(invalid(
                "projection_dim",
                format!("needs 1 to 16 directions, got {}", self.projection_dim),
            ));
        }
        if self.snapshots <= self.projection_dim {
            return Err(invalid(
                "snapshots",
                format!(
                    "needs more snapshots than directions ({}), got {}",
                    self.projection_dim, self.snapshots
                ),
            ));
        }
        if self.record_stride == 0 {
            return Err(invalid("record_stride", "must be at least 1"));
        }
        if self.pca_epochs == 0 || self.record_epochs == 0 {
            return Err(invalid(
                "record_epochs",
                "pca_epochs and record_epochs must be at least 1",
            ));
        }
        let dynamics = Dynamics::new(
            self.algorithm,
            self.replacement,
            self.eta,
            self.batch,
            self.temperature,
            n_train,
        )
        .map_err(|DynamicsError::InvalidKey { key, message }| {
            // The [mnist] table uses the same key names as [dynamics].
            let message = message
                .strip_prefix(&format!("dynamics.{key}: "))
                .map(str::to_string)
                .unwrap_or(message);
            MnistError::InvalidKey { key, message }
        })?;
        self.memory_demand(n_train, n_test, inputs)
            .check(&crate::limits::MemoryBudget::of_this_machine())?;
        let mlp = Mlp {
            inputs,
            hidden: self.hidden,
            classes: 10,
            activation: self.activation,
            prior_precision: self.prior_precision,
        };
        Ok((mlp, dynamics))
    }
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

/// One network moving under one dynamics, with all its buffers.
struct Walker<'a> {
    mlp: Mlp,
    dynamics: Dynamics,
    train: &'a Digits,
    test: &'a Digits,
    w: Vec<f64>,
    gradient: Vec<f64>,
    workspace: Workspace,
    sampler: BatchSampler,
    order: Vec<usize>,
    rng: Pcg64Mcg,
    /// Seconds spent in gradient steps, and examples processed, for the throughput.
    step_seconds: f64,
    examples: u64,
}

impl<'a> Walker<'a> {
    fn new(
        mlp: Mlp,
        dynamics: Dynamics,
        data: (&'a Digits, &'a Digits),
        w: Vec<f64>,
        seed: u64,
    ) -> Self {
        let n = data.0.len();
        Self {
            mlp,
            dynamics,
            train: data.0,
            test: data.1,
            gradient: vec![0.0; w.len()],
            w,
            workspace: Workspace::new(&mlp, dynamics.batch_size.max(256)),
            sampler: BatchSampler::new(n),
            order: vec![0; n],
            rng: Pcg64Mcg::seed_from_u64(seed),
            step_seconds: 0.0,
            examples: 0,
        }
    }

    /// One update on the batch `order[start..start + B]` (docs/theory.md section 2).
    fn step(&mut self, start: usize) -> BatchTally {
        let b = self.dynamics.batch_size;
        let batch = &self.order[start..start + b];
        let tally = self.mlp.batch_gradient(
            &self.w,
            self.train,
            batch,
            self.dynamics.n_examples,
            &mut self.workspace,
            &mut self.gradient,
        );
        let eta = self.dynamics.eta;
        let noise = self.dynamics.noise_std();
        if noise > 0.0 {
            for (w, g) in self.w.iter_mut().zip(&self.gradient) {
                let xi: f64 = StandardNormal.sample(&mut self.rng);
                *w -= eta * g - noise * xi;
            }
        } else {
            for (w, g) in self.w.iter_mut().zip(&self.gradient) {
                *w -= eta * g;
            }
        }
        self.examples += b as u64;
        tally
    }

    /// One epoch of `M = ⌊N/B⌋` steps; `observe(w, unit_end)` sees the weights after every
    /// step, with `unit_end` set when a time unit ends (every step with replacement, the
    /// epoch's last step without).
    fn epoch(
        &mut self,
        cancel: &AtomicBool,
        observe: &mut dyn FnMut(&[f64], bool),
    ) -> Result<BatchTally, MnistError> {
        let b = self.dynamics.batch_size;
        let m = self.dynamics.batches_per_epoch();
        let started = Instant::now();
        let mut tally = BatchTally::default();
        if self.dynamics.replacement == Replacement::Wor {
            let permutation = self.sampler.permutation(&mut self.rng);
            self.order.copy_from_slice(permutation);
        }
        for j in 0..m {
            if cancel.load(Ordering::Relaxed) {
                return Err(MnistError::Cancelled);
            }
            let start = match self.dynamics.replacement {
                Replacement::Wr => {
                    let batch = self.sampler.with_replacement(&mut self.rng, b);
                    self.order[..b].copy_from_slice(batch);
                    0
                }
                Replacement::Wor => j * b,
            };
            tally.add(self.step(start));
            let unit_end = self.dynamics.replacement == Replacement::Wr || j + 1 == m;
            observe(&self.w, unit_end);
        }
        self.step_seconds += started.elapsed().as_secs_f64();
        Ok(tally)
    }

    fn examples_per_second(&self) -> f64 {
        self.examples as f64 / self.step_seconds.max(1e-9)
    }

    /// Run `epochs` epochs, reporting each.
    fn run_phase(
        &mut self,
        phase: Phase,
        epochs: usize,
        cancel: &AtomicBool,
        progress: &(dyn Fn(Progress) + Sync),
        observe: &mut dyn FnMut(&[f64], bool),
    ) -> Result<(), MnistError> {
        for epoch in 1..=epochs {
            let tally = self.epoch(cancel, observe)?;
            if !tally.cross_entropy_sum.is_finite() || self.w.iter().any(|w| !w.is_finite()) {
                return Err(MnistError::Diverged {
                    phase: format!("{phase:?}").to_lowercase(),
                    epoch,
                });
            }
            let test = self.mlp.evaluate(&self.w, self.test, &mut self.workspace);
            progress(Progress {
                phase,
                replacement: self.dynamics.replacement,
                epoch,
                epochs,
                loss: tally.mean_cross_entropy(),
                train_accuracy: tally.accuracy(),
                test_accuracy: test.accuracy(),
                examples_per_second: self.examples_per_second(),
            });
        }
        Ok(())
    }
}

/// Mean and leading principal directions of snapshots (`count × d`, row-major), through the
/// Gram matrix `G = X Xᵀ` of the centred snapshots: if `G v = λ v` then `u = Xᵀ v / √λ` is a
/// unit eigenvector of the covariance `XᵀX / count` with eigenvalue `λ / count`.
/// Returns `(mean, directions k × d, variances)`.
fn principal_directions(
    snapshots: &mut [f64],
    count: usize,
    d: usize,
    k: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0; d];
    for row in snapshots.chunks_exact(d) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x / count as f64;
        }
    }
    for row in snapshots.chunks_exact_mut(d) {
        for (x, &m) in row.iter_mut().zip(&mean) {
            *x -= m;
        }
    }
    let x = MatRef::from_row_major_slice(&snapshots[..count * d], count, d);
    let mut gram = vec![0.0; count * count];
    matmul(
        MatMut::from_row_major_slice_mut(&mut gram, count, count),
        Accum::Replace,
        x,
        x.transpose(),
        1.0,
        Par::Seq,
    );
    let eigen = DMatrix::from_row_slice(count, count, &gram).symmetric_eigen();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let mut directions = vec![0.0; k * d];
    let mut variances = Vec::with_capacity(k);
    for (j, &column) in order.iter().take(k).enumerate() {
        let lambda = eigen.eigenvalues[column].max(0.0);
        variances.push(lambda / count as f64);
        let u = &mut directions[j * d..(j + 1) * d];
        for (s, row) in snapshots.chunks_exact(d).enumerate().take(count) {
            let v = eigen.eigenvectors[(s, column)];
            for (u, &x) in u.iter_mut().zip(row) {
                *u += v * x;
            }
        }
        let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            for x in u.iter_mut() {
                *x /= norm;
            }
        }
    }
    (mean, directions, variances)
}

/// What every phase of a run shares.
struct Shared<'a> {
    config: &'a MnistConfig,
    mlp: Mlp,
    /// Training and test digits.
    data: (&'a Digits, &'a Digits),
    cancel: &'a AtomicBool,
    progress: &'a (dyn Fn(Progress) + Sync),
}

/// The stationary phase for one dynamics, starting from trained weights.
fn stationary(
    shared: &Shared,
    dynamics: Dynamics,
    w: Vec<f64>,
    seed: u64,
) -> Result<StationaryReport, MnistError> {
    let Shared {
        config,
        mlp,
        data,
        cancel,
        progress,
    } = *shared;
    let started = Instant::now();
    let d = w.len();
    let k = config.projection_dim;
    let mut walker = Walker::new(mlp, dynamics, data, w, seed);
    let units_per_epoch = match dynamics.replacement {
        Replacement::Wr => dynamics.batches_per_epoch(),
        Replacement::Wor => 1,
    };
    // 1. Snapshots of the stationary weights, evenly spaced over the first segment.
    let pca_units = config.pca_epochs * units_per_epoch;
    let interval = pca_units.div_ceil(config.snapshots).max(1);
    let capacity = pca_units / interval;
    let mut snapshots = Vec::with_capacity(capacity * d);
    let mut unit = 0usize;
    walker.run_phase(
        Phase::Directions,
        config.pca_epochs,
        cancel,
        progress,
        &mut |w, unit_end| {
            if !unit_end {
                return;
            }
            unit += 1;
            if unit.is_multiple_of(interval) && snapshots.len() < capacity * d {
                snapshots.extend_from_slice(w);
            }
        },
    )?;
    let count = snapshots.len() / d;
    if count <= k {
        return Err(invalid(
            "pca_epochs",
            format!(
                "{} {} time units give only {count} snapshots for {k} directions; raise pca_epochs",
                dynamics.replacement.name().to_uppercase(),
                pca_units
            ),
        ));
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(MnistError::Cancelled);
    }
    let (mean, directions, principal_variances) = principal_directions(&mut snapshots, count, d, k);
    drop(snapshots);
    // 2. The projected trajectory x_n = U (w_n − mean) = U w_n − U mean, one matrix–vector
    // product per time unit.
    let record_units = config.record_epochs * units_per_epoch;
    let mut trajectory = Vec::with_capacity(record_units * k);
    let directions_matrix = MatRef::from_row_major_slice(&directions, k, d);
    let mut projected_mean = vec![0.0; k];
    matmul(
        MatMut::from_column_major_slice_mut(&mut projected_mean, k, 1),
        Accum::Replace,
        directions_matrix,
        MatRef::from_column_major_slice(&mean, d, 1),
        1.0,
        Par::Seq,
    );
    let mut projection = vec![0.0; k];
    // Without replacement the theory's time unit is the epoch; the trajectory is also
    // recorded at every step for a comparison at the resolution of the with-replacement run.
    let per_step = dynamics.replacement == Replacement::Wor;
    let stride = config.record_stride;
    let (mut steps_seen, mut units_seen) = (0usize, 0usize);
    let mut step_trajectory = Vec::with_capacity(if per_step {
        config.record_epochs * dynamics.batches_per_epoch() * k
    } else {
        0
    });
    walker.run_phase(
        Phase::Recording,
        config.record_epochs,
        cancel,
        progress,
        &mut |w, unit_end| {
            steps_seen += 1;
            units_seen += usize::from(unit_end);
            // Epochs without replacement are few already: the stride thins only steps.
            let unit_end = unit_end && (per_step || units_seen.is_multiple_of(stride));
            let step_record = per_step && steps_seen.is_multiple_of(stride);
            if !(unit_end || step_record) {
                return;
            }
            matmul(
                MatMut::from_column_major_slice_mut(&mut projection, k, 1),
                Accum::Replace,
                directions_matrix,
                MatRef::from_column_major_slice(w, d, 1),
                1.0,
                Par::Seq,
            );
            let centred = projection.iter().zip(&projected_mean).map(|(x, m)| x - m);
            if step_record {
                step_trajectory.extend(centred.clone());
            }
            if unit_end {
                trajectory.extend(centred);
            }
        },
    )?;
    let analysis = analyse(&trajectory, k, 5, 5).map_err(|error| MnistError::Analysis {
        replacement: dynamics.replacement.name(),
        error,
    })?;
    let analysis_per_step = if per_step {
        Some(
            analyse(&step_trajectory, k, 5, 5).map_err(|error| MnistError::Analysis {
                replacement: dynamics.replacement.name(),
                error,
            })?,
        )
    } else {
        None
    };
    let test = walker
        .mlp
        .evaluate(&walker.w, walker.test, &mut walker.workspace);
    let train = walker
        .mlp
        .evaluate(&walker.w, walker.train, &mut walker.workspace);
    let test_predictions = walker.mlp.predict(
        &walker.w,
        walker.test,
        PREDICTED_TEST_DIGITS,
        &mut walker.workspace,
    );
    Ok(StationaryReport {
        algorithm: dynamics.algorithm,
        test_predictions,
        replacement: dynamics.replacement,
        time_unit: dynamics.time_unit().name(),
        snapshots: count,
        principal_variances,
        recorded_units: trajectory.len() / k,
        record_stride: if per_step { 1 } else { stride },
        test_accuracy: test.accuracy(),
        train_accuracy: train.accuracy(),
        seconds: started.elapsed().as_secs_f64(),
        analysis,
        analysis_per_step,
    })
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
    let train = data.train.clone().truncated(config.train_n);
    let test = data.test.clone().truncated(config.test_n);
    let (mlp, dynamics) = config.validate(train.len(), test.len(), train.pixels_per_image())?;
    let mut rng = Pcg64Mcg::seed_from_u64(config.seed);
    let w = mlp.initial_weights(&mut rng);
    let mut walker = Walker::new(mlp, dynamics, (&train, &test), w, config.seed ^ 0x9e37);
    walker.run_phase(
        Phase::Training,
        config.train_epochs,
        cancel,
        progress,
        &mut |_, _| {},
    )?;
    let training_seconds = started.elapsed().as_secs_f64();
    let examples_per_second = walker.examples_per_second();
    let trained_test_accuracy = mlp
        .evaluate(&walker.w, &test, &mut walker.workspace)
        .accuracy();
    let trained = walker.w;
    let shared = Shared {
        config,
        mlp,
        data: (&train, &test),
        cancel,
        progress,
    };
    let main_seed = config.seed.wrapping_add(1);
    let (main, comparison) = if config.compare {
        let other = other_replacement(&dynamics);
        let trained_copy = trained.clone();
        let shared = &shared;
        std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("mnist-compare".into())
                // Threads inherit their creator's niceness: a background job's helper stays
                // in the background, and `neqlab mnist` keeps its normal priority.
                .spawn_scoped(scope, move || {
                    stationary(shared, other, trained_copy, config.seed.wrapping_add(2))
                });
            let main = stationary(shared, dynamics, trained, main_seed);
            let comparison = match helper {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(MnistError::Thread("comparison run panicked".into()))),
                Err(e) => Err(MnistError::Thread(e.to_string())),
            };
            (main, Some(comparison))
        })
    } else {
        (stationary(&shared, dynamics, trained, main_seed), None)
    };
    let main = main?;
    let mut stationary_reports = vec![];
    let report = MnistReport {
        source: data.source.clone(),
        train_n: train.len(),
        test_n: test.len(),
        parameters: mlp.dim(),
        hidden: mlp.hidden,
        activation: mlp.activation,
        algorithm: dynamics.algorithm,
        replacement: dynamics.replacement,
        eta: dynamics.eta,
        eta_mean_loss: dynamics.eta * train.len() as f64,
        batch: dynamics.batch_size,
        temperature: dynamics.temperature,
        prior_precision: mlp.prior_precision,
        train_epochs: config.train_epochs,
        trained_test_accuracy,
        test_accuracy: main.test_accuracy,
        train_accuracy: main.train_accuracy,
        examples_per_second,
        projection_dim: config.projection_dim,
        ep_rate: main.analysis.ep_rate,
        ift: main.analysis.ift.clone(),
        dft_slope: main.analysis.dft_slope,
        stationary: Vec::new(),
        training_seconds,
        seconds: 0.0,
    };
    stationary_reports.push(main);
    if let Some(comparison) = comparison {
        stationary_reports.push(comparison?);
    }
    Ok(MnistReport {
        stationary: stationary_reports,
        seconds: started.elapsed().as_secs_f64(),
        ..report
    })
}

/// The experiment running on a background thread named `mnist`.
///
/// Messages arrive on [`MnistJob::messages`]: [`JobMessage::Progress`] after every epoch,
/// then exactly one of `Finished`, `Cancelled` or `Failed`. Nothing here blocks the caller
/// except [`MnistJob::join`]. Dropping the job cancels it and waits for the thread.
pub struct MnistJob {
    messages: Receiver<JobMessage>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MnistJob {
    /// Start a run.
    pub fn spawn(config: MnistConfig, data: Arc<DataSet>) -> Result<Self, MnistError> {
        Self::spawn_with_notify(config, data, || {})
    }

    /// Start a run; `notify` is called after every message is sent (the app passes
    /// `ctx.request_repaint()`).
    pub fn spawn_with_notify(
        config: MnistConfig,
        data: Arc<DataSet>,
        notify: impl Fn() + Send + Sync + 'static,
    ) -> Result<Self, MnistError> {
        let (sender, messages) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancel);
        let thread = std::thread::Builder::new()
            .name("mnist".into())
            .spawn(move || {
                crate::background::lower_priority();
                let send = |sender: &Sender<JobMessage>, message| {
                    // The receiver may be gone (job dropped): nothing left to tell.
                    let _ = sender.send(message);
                    notify();
                };
                let progress_sender = sender.clone();
                let progress = |p: Progress| send(&progress_sender, JobMessage::Progress(p));
                let last = match run(&config, &data, &flag, &progress) {
                    Ok(report) => JobMessage::Finished(Box::new(report)),
                    Err(MnistError::Cancelled) => JobMessage::Cancelled,
                    Err(e) => JobMessage::Failed(e.to_string()),
                };
                send(&sender, last);
            })
            .map_err(|e| MnistError::Thread(e.to_string()))?;
        Ok(Self {
            messages,
            cancel,
            thread: Some(thread),
        })
    }

    /// The channel of messages (use `try_recv` to poll without blocking).
    pub fn messages(&self) -> &Receiver<JobMessage> {
        &self.messages
    }

    /// The next message if one is waiting.
    pub fn try_next(&self) -> Option<JobMessage> {
        self.messages.try_recv().ok()
    }

    /// Ask the job to stop; it notices before its next batch and sends `Cancelled`.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Wait for the thread to end.
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MnistJob {
    fn drop(&mut self) {
        self.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
