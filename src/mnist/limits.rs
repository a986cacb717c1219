//! The `[mnist]` settings against the rules of [`crate::fields`] and the memory of this
//! machine ([`crate::limits::mnist_demand`]), checked before a run allocates anything.

use super::job::MnistConfig;
use crate::fields::{self, FieldError};
use crate::limits::{MemoryDemand, MnistSizes, mnist_demand};

impl MnistConfig {
    /// Check every number against its rule (finite, in range, writable to TOML).
    pub fn check_fields(&self) -> Result<(), FieldError> {
        fields::MNIST_HIDDEN.check_usize(self.hidden)?;
        fields::MNIST_PRIOR_PRECISION.check(self.prior_precision)?;
        fields::MNIST_ETA.check(self.eta)?;
        fields::MNIST_BATCH.check_usize(self.batch)?;
        fields::MNIST_TEMPERATURE.check(self.temperature)?;
        fields::MNIST_TRAIN_EPOCHS.check_usize(self.train_epochs)?;
        fields::MNIST_PCA_EPOCHS.check_usize(self.pca_epochs)?;
        fields::MNIST_SNAPSHOTS.check_usize(self.snapshots)?;
        fields::MNIST_RECORD_EPOCHS.check_usize(self.record_epochs)?;
        fields::MNIST_PROJECTION_DIM.check_usize(self.projection_dim)?;
        fields::MNIST_RECORD_STRIDE.check_usize(self.record_stride)?;
        fields::MNIST_TRAIN_DIGITS.check_usize(self.train_n)?;
        fields::MNIST_TEST_DIGITS.check_usize(self.test_n)?;
        fields::MNIST_SEED.check(self.seed)?;
        Ok(())
    }

    /// The memory of a run on `train_digits` and `test_digits` digits of `inputs` pixels.
    pub fn memory_demand(
        &self,
        train_digits: usize,
        test_digits: usize,
        inputs: usize,
    ) -> MemoryDemand {
        mnist_demand(&MnistSizes {
            inputs,
            hidden: self.hidden,
            batch: self.batch,
            train_digits,
            test_digits,
            snapshots: self.snapshots,
            record_epochs: self.record_epochs,
            record_stride: self.record_stride,
            projection_dim: self.projection_dim,
            runs: if self.compare { 2 } else { 1 },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MemoryBudget;

    #[test]
    fn shipped_settings_pass_and_hostile_ones_are_named() {
        let config = MnistConfig::default();
        config.check_fields().expect("defaults are valid");
        let budget = MemoryBudget::with_available_bytes(8_000_000_000);
        assert!(
            config
                .memory_demand(60_000, 10_000, 784)
                .check(&budget)
                .is_ok()
        );
        let hostile = [
            (
                MnistConfig {
                    eta: f64::NAN,
                    ..config.clone()
                },
                "mnist.eta",
            ),
            (
                MnistConfig {
                    hidden: 1_000_000,
                    ..config.clone()
                },
                "mnist.hidden",
            ),
            (
                MnistConfig {
                    seed: u64::MAX,
                    ..config.clone()
                },
                "mnist.seed",
            ),
            (
                MnistConfig {
                    record_epochs: usize::MAX,
                    ..config.clone()
                },
                "mnist.record_epochs",
            ),
            (
                MnistConfig {
                    temperature: -1.0,
                    ..config.clone()
                },
                "mnist.temperature",
            ),
        ];
        for (config, key) in hostile {
            let message = config.check_fields().expect_err(key).to_string();
            assert!(message.starts_with(key), "{key}: {message}");
        }
        let large = MnistConfig {
            hidden: 4096,
            ..config
        };
        let message = large
            .memory_demand(60_000, 10_000, 784)
            .check(&budget)
            .expect_err("too large")
            .to_string();
        assert!(
            message.starts_with("mnist.hidden = 4 096 needs ~"),
            "{message}"
        );
    }
}
