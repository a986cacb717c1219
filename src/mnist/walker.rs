//! One network moving under one dynamics: the epochs of training and of the stationary
//! phase, with the progress report after each (docs/theory.md section 2 for the updates).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use super::config::MnistError;
use super::idx::Digits;
use super::mlp::{BatchTally, Mlp, Workspace};
use crate::dynamics::{BatchSampler, Dynamics, Replacement};

/// Which part of the run a progress report belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Training from the initial weights.
    Training,
    /// Finding the principal directions of the stationary fluctuations.
    Directions,
    /// Recording the projected stationary trajectory.
    Recording,
}

impl Phase {
    /// The phase in words, lowercase.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Training => "training",
            Phase::Directions => "finding directions",
            Phase::Recording => "recording",
        }
    }
}

/// One progress report, sent after every epoch.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    /// The phase of the run.
    pub phase: Phase,
    /// The replacement scheme of the run reporting (two report side by side in the
    /// stationary phase of a comparison).
    pub replacement: Replacement,
    /// Epoch within the phase (1-based).
    pub epoch: usize,
    /// The phase's length in epochs.
    pub epochs: usize,
    /// Mean cross-entropy over the epoch's minibatches (before each update).
    pub loss: f64,
    /// Accuracy over the epoch's minibatches.
    pub train_accuracy: f64,
    /// Accuracy on the test set after the epoch.
    pub test_accuracy: f64,
    /// Gradient examples per second so far (one thread).
    pub examples_per_second: f64,
}

/// One network moving under one dynamics, with all its buffers.
pub(super) struct Walker<'a> {
    pub(super) mlp: Mlp,
    dynamics: Dynamics,
    pub(super) train: &'a Digits,
    pub(super) test: &'a Digits,
    pub(super) w: Vec<f64>,
    gradient: Vec<f64>,
    pub(super) workspace: Workspace,
    sampler: BatchSampler,
    order: Vec<usize>,
    rng: Pcg64Mcg,
    /// Seconds spent in gradient steps, and examples processed, for the throughput.
    step_seconds: f64,
    examples: u64,
}

impl<'a> Walker<'a> {
    pub(super) fn new(
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

    pub(super) fn examples_per_second(&self) -> f64 {
        self.examples as f64 / self.step_seconds.max(1e-9)
    }

    /// Run `epochs` epochs, reporting each.
    pub(super) fn run_phase(
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
                    phase: phase.name(),
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
