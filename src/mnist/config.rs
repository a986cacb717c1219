//! The settings of an MNIST run (the `[mnist]` table of `presets/mnist.toml`), their checks,
//! and the learning rate they give for a training set of a given size.

use serde::{Deserialize, Serialize};

use super::analysis::AnalysisError;
use super::mlp::{Activation, Mlp};
use crate::dynamics::{Algorithm, Dynamics, DynamicsError, Replacement};

/// The `[mnist]` table of `presets/mnist.toml`.
///
/// The learning rate is given in one of two ways. The loss the dynamics descends is the
/// summed negative log posterior `L = Σ_i CE_i + (λ/2)|w|²` (docs/theory.md section 1), and
/// `eta` is the step on it; `eta_mean_loss = η N` is the step on the mean cross-entropy, the
/// usual "learning rate" of deep learning. Holding `eta_mean_loss` keeps a step the same size
/// whatever the number `N` of training examples, and keeps the prior's relaxation time
/// `1/(η λ) = N/(eta_mean_loss λ)` steps at `B/(eta_mean_loss λ)` epochs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MnistConfig {
    /// Hidden units.
    pub hidden: usize,
    /// The hidden layer's activation.
    pub activation: Activation,
    /// Prior precision `λ` (L2 weight `(λ/2)|w|²` in the negative log posterior).
    pub prior_precision: f64,
    /// SGD, SGLD or SGWORLD.
    pub algorithm: Algorithm,
    /// `wr` or `wor` (implied by `sgld` / `sgworld`); the other one is run for comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Replacement>,
    /// Learning rate `η` on the summed negative log posterior. Give this or
    /// `eta_mean_loss`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<f64>,
    /// Learning rate on the mean cross-entropy, `η N`: `η = eta_mean_loss / N` for the `N`
    /// training examples used ([`DEFAULT_ETA_MEAN_LOSS`] when neither is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_mean_loss: Option<f64>,
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
    /// Use only the first `train_n` training digits (0: all).
    pub train_n: usize,
    /// Use only the first `test_n` test digits (0: all).
    pub test_n: usize,
    /// Seed of the initial weights and of the batches.
    pub seed: u64,
}

/// The learning rate on the mean loss when none is given: about the usual rate for this
/// network, and a prior relaxation of `B/(0.2 λ)` = 5 epochs at the shipped `B` and `λ`.
pub const DEFAULT_ETA_MEAN_LOSS: f64 = 0.2;

impl Default for MnistConfig {
    fn default() -> Self {
        Self {
            hidden: 32,
            activation: Activation::Tanh,
            prior_precision: 50.0,
            algorithm: Algorithm::Sgd,
            replacement: Some(Replacement::Wr),
            eta: None,
            eta_mean_loss: Some(DEFAULT_ETA_MEAN_LOSS),
            batch: 50,
            temperature: 0.0,
            train_epochs: 30,
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
    /// A setting is out of range; the message names the `mnist.` key.
    #[error("mnist.{key}: {message}")]
    InvalidKey {
        /// The key in the `[mnist]` table.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The loss or the weights stopped being finite.
    #[error(
        "the weights diverged in the {phase} phase at epoch {epoch} (loss is not finite); lower mnist.eta_mean_loss"
    )]
    Diverged {
        /// The phase ("training", "directions", "recording").
        phase: &'static str,
        /// The epoch within the phase (1-based).
        epoch: usize,
    },
    /// The stationary trajectory could not be analysed.
    #[error("{replacement} stationary analysis: {error}")]
    Analysis {
        /// `wr` or `wor`.
        replacement: &'static str,
        /// Why.
        error: AnalysisError,
    },
    /// The thread of the comparison run failed.
    #[error("the comparison run failed: {0}")]
    Thread(String),
    /// A setting outside its rule ([`crate::fields`]).
    #[error(transparent)]
    Field(#[from] crate::fields::FieldError),
    /// The run would not fit in memory ([`crate::limits`]).
    #[error(transparent)]
    Memory(#[from] crate::limits::LimitError),
}

impl From<crate::jobs::Cancelled> for MnistError {
    fn from(_: crate::jobs::Cancelled) -> Self {
        Self::Cancelled
    }
}

pub(super) fn invalid(key: &'static str, message: impl Into<String>) -> MnistError {
    MnistError::InvalidKey {
        key,
        message: message.into(),
    }
}

/// The ways the learning rate can be given, with the `η` on the summed loss they give for
/// `N` training examples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LearningRate {
    /// `mnist.eta`: the step on the summed loss, whatever `N`.
    Summed(f64),
    /// `mnist.eta_mean_loss`: the step on the mean loss, `η = value / N`.
    MeanLoss(f64),
}

impl LearningRate {
    /// `η` on the summed loss for `n_train` training examples.
    pub fn eta(self, n_train: usize) -> f64 {
        match self {
            Self::Summed(eta) => eta,
            Self::MeanLoss(rate) => rate / n_train.max(1) as f64,
        }
    }

    /// `η N` on the mean loss for `n_train` training examples.
    pub fn eta_mean_loss(self, n_train: usize) -> f64 {
        match self {
            Self::Summed(eta) => eta * n_train as f64,
            Self::MeanLoss(rate) => rate,
        }
    }
}

impl MnistConfig {
    /// The learning rate as given: at most one of `eta` and `eta_mean_loss`
    /// ([`DEFAULT_ETA_MEAN_LOSS`] per mean loss when neither is).
    pub fn learning_rate(&self) -> Result<LearningRate, MnistError> {
        match (self.eta, self.eta_mean_loss) {
            (Some(eta), None) => Ok(LearningRate::Summed(eta)),
            (None, Some(rate)) => Ok(LearningRate::MeanLoss(rate)),
            (Some(_), Some(_)) => Err(invalid(
                "eta",
                "give mnist.eta (per summed loss) or mnist.eta_mean_loss (per mean loss, η N), not both",
            )),
            (None, None) => Ok(LearningRate::MeanLoss(DEFAULT_ETA_MEAN_LOSS)),
        }
    }

    /// Training examples a data set of `available` examples gives (`train_n`, 0: all).
    pub fn train_examples(&self, available: usize) -> usize {
        if self.train_n == 0 {
            available
        } else {
            self.train_n.min(available)
        }
    }

    /// Epochs the run reports progress for: training, then the directions and recording
    /// phases of each stationary run (two with `compare`, side by side).
    pub fn total_epochs(&self) -> usize {
        let runs = if self.compare { 2 } else { 1 };
        self.train_epochs + runs * (self.pca_epochs + self.record_epochs)
    }

    /// Check the settings against a training set of `n_train` examples.
    pub fn validate(
        &self,
        n_train: usize,
        n_test: usize,
        inputs: usize,
    ) -> Result<(Mlp, Dynamics), MnistError> {
        self.check_fields()?;
        self.check_ranges()?;
        if n_train < 2 || n_test == 0 {
            return Err(invalid(
                "train_n",
                format!("need at least 2 training and 1 test digits, have {n_train} and {n_test}"),
            ));
        }
        let eta = self.learning_rate()?.eta(n_train);
        let dynamics = Dynamics::new(
            self.algorithm,
            self.replacement,
            eta,
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
            let key = match (key, self.learning_rate()) {
                ("eta", Ok(LearningRate::MeanLoss(_))) => "eta_mean_loss",
                _ => key,
            };
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

    /// The checks that need no data.
    fn check_ranges(&self) -> Result<(), MnistError> {
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_learning_rate_is_given_once() {
        let config = MnistConfig::default();
        assert_eq!(
            config.learning_rate().ok(),
            Some(LearningRate::MeanLoss(0.2))
        );
        // 0.2 on the mean loss is 2.5e-5 on the summed loss of the 8000 bundled digits and
        // 3.33e-6 on the 60 000 of Fashion-MNIST.
        let rate = LearningRate::MeanLoss(0.2);
        assert!((rate.eta(8000) - 2.5e-5).abs() < 1e-18);
        assert!((rate.eta(60_000) - 0.2 / 60_000.0).abs() < 1e-18);
        assert_eq!(rate.eta_mean_loss(60_000), 0.2);
        let summed = LearningRate::Summed(1e-4);
        assert_eq!(
            (summed.eta(500), summed.eta_mean_loss(500)),
            (1e-4, 1e-4 * 500.0)
        );
        let both = MnistConfig {
            eta: Some(1e-5),
            ..MnistConfig::default()
        };
        let message = both.learning_rate().expect_err("both").to_string();
        assert!(
            message.contains("mnist.eta") && message.contains("not both"),
            "{message}"
        );
        let neither = MnistConfig {
            eta_mean_loss: None,
            ..MnistConfig::default()
        };
        assert_eq!(
            neither.learning_rate().ok(),
            Some(LearningRate::MeanLoss(DEFAULT_ETA_MEAN_LOSS))
        );
    }

    #[test]
    fn a_bad_learning_rate_names_the_key_it_was_given_by() {
        // "key: why" from the dynamics' checks, "key = value: why" from the field rules.
        let names = |message: &str, key: &str| {
            message.starts_with(&format!("{key}: ")) || message.starts_with(&format!("{key} = "))
        };
        let config = MnistConfig {
            eta_mean_loss: Some(-1.0),
            ..MnistConfig::default()
        };
        let message = config
            .validate(100, 10, 784)
            .expect_err("negative")
            .to_string();
        assert!(names(&message, "mnist.eta_mean_loss"), "{message}");
        let config = MnistConfig {
            eta: Some(f64::NAN),
            eta_mean_loss: None,
            ..MnistConfig::default()
        };
        let message = config.validate(100, 10, 784).expect_err("NaN").to_string();
        assert!(names(&message, "mnist.eta"), "{message}");
        let (_, dynamics) = MnistConfig::default()
            .validate(8000, 10, 784)
            .expect("the defaults are valid");
        assert!((dynamics.eta - 2.5e-5).abs() < 1e-18);
    }

    #[test]
    fn train_examples_and_total_epochs() {
        let config = MnistConfig {
            train_n: 500,
            train_epochs: 8,
            pca_epochs: 10,
            record_epochs: 100,
            ..MnistConfig::default()
        };
        assert_eq!(config.train_examples(8000), 500);
        assert_eq!(config.train_examples(300), 300);
        assert_eq!(MnistConfig::default().train_examples(60_000), 60_000);
        assert_eq!(config.total_epochs(), 8 + 2 * 110);
        let single = MnistConfig {
            compare: false,
            ..config
        };
        assert_eq!(single.total_epochs(), 8 + 110);
    }
}
