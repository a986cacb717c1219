//! The `[mnist]` settings against the rules of [`crate::fields`] and the memory of this
//! machine ([`mnist_demand`]), checked before a run allocates anything.

use super::config::MnistConfig;
use crate::fields::{self, FieldError};
use crate::limits::MemoryDemand;

/// The sizes of an MNIST run that decide its memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MnistSizes {
    /// Pixels per image.
    pub inputs: usize,
    /// `mnist.hidden`.
    pub hidden: usize,
    /// `mnist.batch`.
    pub batch: usize,
    /// Training digits used.
    pub train_digits: usize,
    /// Test digits used.
    pub test_digits: usize,
    /// `mnist.snapshots`.
    pub snapshots: usize,
    /// `mnist.record_epochs`.
    pub record_epochs: usize,
    /// `mnist.record_stride`.
    pub record_stride: usize,
    /// `mnist.projection_dim`.
    pub projection_dim: usize,
    /// Networks trained at once in the stationary phase (2 when comparing WR and WOR).
    pub runs: usize,
}

/// The memory of an MNIST run (`crate::mnist::job`): per network the weights and gradient
/// (`d = hidden·(inputs + 1) + 10·(hidden + 1)` each), the batch workspace, the weight
/// snapshots (`snapshots × d`), their Gram matrix and its eigenvectors (`4 · snapshots²`),
/// the principal directions (`k × d`) and the projected trajectories (`k` numbers per
/// recorded step); and a copy of the digits.
pub fn mnist_demand(m: &MnistSizes) -> MemoryDemand {
    let f = |x: usize| x as f64;
    let dim = f(m.hidden) * (f(m.inputs) + 1.0) + 10.0 * (f(m.hidden) + 1.0);
    let capacity = f(m.batch.max(256));
    let workspace = capacity * (f(m.inputs) + 2.0 * f(m.hidden) + 10.0) * 8.0 + capacity;
    let sampler = 16.0 * f(m.train_digits);
    let weights = 2.0 * dim * 8.0 + f(m.projection_dim) * dim * 8.0;
    let snapshots = f(m.snapshots) * dim * 8.0;
    let gram = 4.0 * f(m.snapshots) * f(m.snapshots) * 8.0;
    let steps_per_epoch = f(m.train_digits) / f(m.batch.max(1));
    // With replacement every step is a time unit; without, every step is recorded too.
    let trajectory = f(m.record_epochs) * steps_per_epoch / f(m.record_stride.max(1))
        * f(m.projection_dim)
        * 8.0;
    let runs = f(m.runs.max(1));
    let data = (f(m.train_digits) + f(m.test_digits)) * (f(m.inputs) + 1.0);
    let total = data + runs * (workspace + sampler + weights + snapshots + gram + trajectory);
    MemoryDemand::new(total)
        .grows_with_shared(
            "mnist.hidden",
            f(m.hidden),
            "hidden units",
            runs * (weights + snapshots + workspace),
            runs * snapshots,
            1.0,
        )
        .grows_with_shared(
            "mnist.snapshots",
            f(m.snapshots),
            "snapshots",
            runs * (snapshots + gram),
            runs * snapshots,
            1.0,
        )
        .grows_with_shared(
            "mnist.record_epochs",
            f(m.record_epochs),
            "recorded epochs",
            runs * trajectory,
            0.0,
            1.0,
        )
        .grows_with_shared(
            "mnist.train_n",
            f(m.train_digits),
            "training digits",
            runs * (sampler + trajectory) + f(m.train_digits) * (f(m.inputs) + 1.0),
            runs * trajectory,
            1.0,
        )
}

impl MnistConfig {
    /// Check every number against its rule (finite, in range, writable to TOML).
    pub fn check_fields(&self) -> Result<(), FieldError> {
        fields::MNIST_HIDDEN.check_usize(self.hidden)?;
        fields::MNIST_PRIOR_PRECISION.check(self.prior_precision)?;
        if let Some(eta) = self.eta {
            fields::MNIST_ETA.check(eta)?;
        }
        if let Some(eta) = self.eta_mean_loss {
            fields::MNIST_ETA_MEAN_LOSS.check(eta)?;
        }
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
    fn mnist_estimate_names_the_field_that_grew() {
        let sizes = MnistSizes {
            inputs: 784,
            hidden: 32,
            batch: 50,
            train_digits: 8000,
            test_digits: 2000,
            snapshots: 200,
            record_epochs: 200,
            record_stride: 1,
            projection_dim: 4,
            runs: 2,
        };
        let budget = MemoryBudget::with_available_bytes(4_000_000_000);
        // The shipped settings: about 100 MB.
        let total = mnist_demand(&sizes).total_bytes;
        assert!((20e6..300e6).contains(&total), "{total}");
        assert!(mnist_demand(&sizes).check(&budget).is_ok());
        for (changed, field) in [
            (
                MnistSizes {
                    hidden: 4096,
                    ..sizes
                },
                "mnist.hidden",
            ),
            (
                MnistSizes {
                    snapshots: 100_000,
                    ..sizes
                },
                "mnist.snapshots",
            ),
            (
                MnistSizes {
                    record_epochs: 1_000_000,
                    ..sizes
                },
                "mnist.record_epochs",
            ),
        ] {
            let message = mnist_demand(&changed)
                .check(&budget)
                .expect_err(field)
                .to_string();
            assert!(message.starts_with(field), "{field}: {message}");
        }
    }

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
                    eta: Some(f64::NAN),
                    ..config.clone()
                },
                "mnist.eta",
            ),
            (
                MnistConfig {
                    eta_mean_loss: Some(f64::INFINITY),
                    ..config.clone()
                },
                "mnist.eta_mean_loss",
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
