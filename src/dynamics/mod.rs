//! SGD, SGLD and SGWORLD with and without replacement (docs/theory.md section 2), on ensembles of
//! independent walkers.
//!
//! | algorithm | batches | update |
//! |---|---|---|
//! | SGD, WR | `B` distinct indices, fresh every step | `w ← w − η g_B(w)` |
//! | SGD, WOR | a random permutation per epoch, cut into `M = ⌊N/B⌋` batches | same, `M` steps per epoch |
//! | SGLD | WR | `w ← w − η g_B(w) + sqrt(2ηT) ξ` |
//! | SGWORLD | WOR | the SGLD update at every step of the sweep |
//!
//! Time is counted in steps with replacement and in epochs without; when `B` does not
//! divide `N` the last `N mod B` indices of every permutation are dropped.

pub mod ensemble;
pub mod lanes;
pub mod schedule;

use serde::{Deserialize, Serialize};

pub use ensemble::{Ensemble, Observer};
pub use schedule::BatchSampler;

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Plain stochastic gradient descent.
    Sgd,
    /// Stochastic gradient Langevin dynamics: SGD plus `sqrt(2ηT) ξ`, batches with replacement.
    Sgld,
    /// Stochastic gradient without-replacement Langevin dynamics.
    Sgworld,
}

impl Algorithm {
    /// Every algorithm, in menu order.
    pub const ALL: [Algorithm; 3] = [Algorithm::Sgd, Algorithm::Sgld, Algorithm::Sgworld];

    /// The preset spelling (`"sgd"`, `"sgld"`, `"sgworld"`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sgd => "sgd",
            Algorithm::Sgld => "sgld",
            Algorithm::Sgworld => "sgworld",
        }
    }

    /// The name people write (`"SGD"`, `"SGLD"`, `"SGWORLD"`).
    pub fn label(self) -> &'static str {
        match self {
            Algorithm::Sgd => "SGD",
            Algorithm::Sgld => "SGLD",
            Algorithm::Sgworld => "SGWORLD",
        }
    }

    /// The replacement this algorithm is defined with, if it fixes one.
    pub fn fixed_replacement(self) -> Option<Replacement> {
        match self {
            Algorithm::Sgd => None,
            Algorithm::Sgld => Some(Replacement::Wr),
            Algorithm::Sgworld => Some(Replacement::Wor),
        }
    }

    /// Whether the update adds Langevin noise `sqrt(2ηT) ξ`.
    pub fn is_langevin(self) -> bool {
        !matches!(self, Algorithm::Sgd)
    }
}

/// How minibatches are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Replacement {
    /// With replacement: `B` distinct indices drawn afresh every step.
    Wr,
    /// Without replacement: an epoch sweeps the batches of one random permutation.
    Wor,
}

impl Replacement {
    /// The preset spelling (`"wr"`, `"wor"`).
    pub fn name(self) -> &'static str {
        match self {
            Replacement::Wr => "wr",
            Replacement::Wor => "wor",
        }
    }

    /// The unit of time: a step with replacement, an epoch without.
    pub fn time_unit(self) -> TimeUnit {
        match self {
            Replacement::Wr => TimeUnit::Step,
            Replacement::Wor => TimeUnit::Epoch,
        }
    }
}

/// The unit in which `steps`, `burn_in` and every rate are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// One update `w ← w − η g_B + sqrt(2ηT) ξ` (the unit with replacement).
    Step,
    /// One sweep of the `M = ⌊N/B⌋` batches of a permutation, `M` steps (the unit without
    /// replacement; positions are recorded only at epoch boundaries, docs/theory.md §2.2).
    Epoch,
}

impl TimeUnit {
    /// `"step"` or `"epoch"`.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Step => "step",
            TimeUnit::Epoch => "epoch",
        }
    }
}

/// Errors in a dynamics configuration; each names the preset key at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DynamicsError {
    /// A key of `[dynamics]` holds a value the update rule cannot use (a learning rate that
    /// is not positive, a batch larger than the data, SGLD without replacement, ...).
    #[error("dynamics.{key}: {message}")]
    InvalidKey {
        /// The key under `[dynamics]`, e.g. `eta` or `batch`.
        key: &'static str,
        /// What is wrong with its value.
        message: String,
    },
}

fn invalid(key: &'static str, message: impl Into<String>) -> DynamicsError {
    DynamicsError::InvalidKey {
        key,
        message: message.into(),
    }
}

/// A validated update rule: algorithm, batch schedule, learning rate, batch size, temperature.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dynamics {
    /// SGD, SGLD or SGWORLD: whether Langevin noise is added.
    pub algorithm: Algorithm,
    /// How batches are drawn; it also fixes the time unit (docs/theory.md §2.1–2.2).
    pub replacement: Replacement,
    /// Learning rate `η`.
    pub eta: f64,
    /// Batch size `B`.
    pub batch_size: usize,
    /// Temperature `T` of the Langevin noise (zero for SGD).
    pub temperature: f64,
    /// Number of examples `N` of the landscape the dynamics run on.
    pub n_examples: usize,
}

impl Dynamics {
    /// Check a configuration against a landscape of `n_examples` examples.
    ///
    /// `replacement` may be omitted (SGD defaults to with replacement); SGLD must be with
    /// replacement and SGWORLD without, and a contradiction names the algorithm to use instead.
    pub fn new(
        algorithm: Algorithm,
        replacement: Option<Replacement>,
        eta: f64,
        batch_size: usize,
        temperature: f64,
        n_examples: usize,
    ) -> Result<Self, DynamicsError> {
        let replacement = match (algorithm.fixed_replacement(), replacement) {
            (None, r) => r.unwrap_or(Replacement::Wr),
            (Some(fixed), None) => fixed,
            (Some(fixed), Some(r)) if r == fixed => fixed,
            (Some(_), Some(r)) => {
                let right = match r {
                    Replacement::Wr => "sgld",
                    Replacement::Wor => "sgworld",
                };
                return Err(invalid(
                    "replacement",
                    format!(
                        "{} always draws batches {}; for replacement = \"{}\" use algorithm = \"{right}\"",
                        algorithm.label(),
                        match algorithm {
                            Algorithm::Sgworld => "without replacement",
                            _ => "with replacement",
                        },
                        r.name()
                    ),
                ));
            }
        };
        if !(eta.is_finite() && eta > 0.0) {
            return Err(invalid(
                "eta",
                format!("the learning rate must be positive and finite, got {eta}"),
            ));
        }
        if batch_size == 0 || batch_size > n_examples {
            return Err(invalid(
                "batch",
                format!("the batch size must be between 1 and N = {n_examples}, got {batch_size}"),
            ));
        }
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(invalid(
                "temperature",
                format!("the temperature must be non-negative and finite, got {temperature}"),
            ));
        }
        let temperature = if algorithm.is_langevin() {
            temperature
        } else {
            0.0
        };
        Ok(Self {
            algorithm,
            replacement,
            eta,
            batch_size,
            temperature,
            n_examples,
        })
    }

    /// Steps or epochs.
    pub fn time_unit(&self) -> TimeUnit {
        self.replacement.time_unit()
    }

    /// Batches per epoch, `M = ⌊N/B⌋`.
    pub fn batches_per_epoch(&self) -> usize {
        self.n_examples / self.batch_size
    }

    /// Examples dropped from every permutation when `B` does not divide `N`.
    pub fn dropped_per_epoch(&self) -> usize {
        self.n_examples % self.batch_size
    }

    /// Gradient steps in one time unit: 1 with replacement, `M` without.
    pub fn steps_per_unit(&self) -> usize {
        match self.replacement {
            Replacement::Wr => 1,
            Replacement::Wor => self.batches_per_epoch(),
        }
    }

    /// Standard deviation of the Langevin kick per step, `sqrt(2ηT)`.
    pub fn noise_std(&self) -> f64 {
        (2.0 * self.eta * self.temperature).sqrt()
    }

    /// Finite-population factor of one with-replacement step, `c_B = (N − B) / (B (N − 1))`
    /// (docs/theory.md section 3).
    pub fn finite_population_factor(&self) -> f64 {
        let (n, b) = (self.n_examples as f64, self.batch_size as f64);
        if self.n_examples < 2 {
            return 0.0;
        }
        (n - b) / (b * (n - 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contradicting_replacement_names_the_right_algorithm() {
        let err = Dynamics::new(Algorithm::Sgld, Some(Replacement::Wor), 0.1, 10, 1.0, 100)
            .expect_err("SGLD is with replacement");
        assert!(err.to_string().contains("sgworld"), "{err}");
        let err = Dynamics::new(Algorithm::Sgworld, Some(Replacement::Wr), 0.1, 10, 1.0, 100)
            .expect_err("SGWORLD is without replacement");
        assert!(err.to_string().contains("\"sgld\""), "{err}");
    }

    #[test]
    fn rejects_bad_numbers_with_the_key() {
        let cases = [
            (
                Dynamics::new(Algorithm::Sgd, None, -1.0, 10, 0.0, 100),
                "dynamics.eta",
            ),
            (
                Dynamics::new(Algorithm::Sgd, None, 0.1, 0, 0.0, 100),
                "dynamics.batch",
            ),
            (
                Dynamics::new(Algorithm::Sgd, None, 0.1, 101, 0.0, 100),
                "dynamics.batch",
            ),
            (
                Dynamics::new(Algorithm::Sgld, None, 0.1, 10, -0.5, 100),
                "dynamics.temperature",
            ),
        ];
        for (result, key) in cases {
            let message = result.expect_err("invalid").to_string();
            assert!(message.starts_with(key), "{message}");
        }
    }

    #[test]
    fn epoch_bookkeeping() {
        let dynamics = Dynamics::new(Algorithm::Sgworld, None, 0.1, 30, 1.0, 100).expect("valid");
        assert_eq!(dynamics.replacement, Replacement::Wor);
        assert_eq!(dynamics.batches_per_epoch(), 3);
        assert_eq!(dynamics.dropped_per_epoch(), 10);
        assert_eq!(dynamics.time_unit(), TimeUnit::Epoch);
    }
}
