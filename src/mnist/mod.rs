//! MNIST in and out of equilibrium: an IDX loader, a small MLP written as a negative log
//! posterior, and a background job that trains it, lets it fluctuate in the stationary state
//! of SGD (or SGLD / SGWORLD), and measures entropy production in the plane of the leading
//! principal directions of those fluctuations (docs/theory.md sections 1–3 and 7).
//!
//! - [`idx`]: read and write IDX files (raw or gzip); the bundled 10 000-digit subset.
//! - [`mlp`]: `784 → hidden → 10`, softmax cross-entropy plus L2, `L = Σ_i CE_i + (λ/2)|w|²`.
//! - [`config`]: the `[mnist]` settings, with the learning rate per summed or per mean loss.
//! - [`walker`]: one network under one dynamics, epoch by epoch.
//! - [`stationary`]: principal directions, the projected trajectory and its analysis.
//! - [`job`]: the whole run ([`run`]), and [`MnistJob`] on the job mechanism of
//!   [`crate::jobs`].
//! - [`analysis`]: `Σ`, `C`, `D`, `σ_n`, `⟨exp(−Σ_k)⟩`, the DFT slope, from a trajectory.
//! - [`limits`]: the settings against their rules and the machine's memory.
//!
//! Settings come from `presets/mnist.toml` (`title`, `caption`, `[mnist]`).

pub mod analysis;
pub mod config;
pub mod idx;
pub mod job;
pub mod limits;
pub mod mlp;
pub mod stationary;
pub mod walker;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use analysis::{EntropyAnalysis, analyse};
pub use config::{DEFAULT_ETA_MEAN_LOSS, LearningRate, MnistConfig, MnistError};
pub use idx::{DataSet, Digits, IdxError};
pub use job::{LoadTask, MnistJob, MnistReport, MnistRequest, MnistTask, run};
pub use mlp::{Activation, Mlp};
pub use stationary::{PREDICTED_TEST_DIGITS, StationaryReport};
pub use walker::{Phase, Progress};

/// An MNIST preset: a title, a caption and the `[mnist]` settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MnistPreset {
    /// Shown as the run's title.
    pub title: String,
    /// A sentence or two about what the run shows.
    #[serde(default)]
    pub caption: String,
    /// The settings.
    #[serde(default)]
    pub mnist: MnistConfig,
}

/// Errors reading an MNIST preset; each names the file or the `--set` argument.
#[derive(Debug, thiserror::Error)]
pub enum MnistPresetError {
    /// Missing, too large, or not text.
    #[error(transparent)]
    File(#[from] crate::files::ReadError),
    /// Not TOML, or keys and types that do not match the schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line where the TOML parser knows it.
        message: String,
    },
    /// A `--set` argument cannot be applied.
    #[error("--set {argument}: {message}")]
    Override {
        /// The argument as given.
        argument: String,
        /// What is wrong.
        message: String,
    },
}

/// The MNIST presets shipped in `presets/` (a separate list from the landscape presets of
/// [`crate::preset::SHIPPED`], whose schema differs): `(name, TOML text)`.
pub const SHIPPED: &[(&str, &str)] = &[("mnist", include_str!("../../presets/mnist.toml"))];

impl MnistPreset {
    /// Parse preset text; `path` labels errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, MnistPresetError> {
        let preset: Self = toml::from_str(text).map_err(|e| MnistPresetError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        preset
            .mnist
            .learning_rate()
            .map_err(|e| MnistPresetError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(preset)
    }

    /// Read a preset file.
    pub fn load(path: &Path) -> Result<Self, MnistPresetError> {
        let text =
            crate::files::read_text_bounded(path, crate::preset::MAX_PRESET_BYTES, "a preset")?;
        Self::from_toml(&text, path)
    }

    /// The shipped default (`presets/mnist.toml`).
    pub fn shipped() -> Result<Self, MnistPresetError> {
        Self::from_toml(SHIPPED[0].1, Path::new("presets/mnist.toml"))
    }

    /// Apply `mnist.key=value` overrides (values are TOML; a bare word is a string). The
    /// learning rate given last wins: `eta` replaces `eta_mean_loss` and the other way round.
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Self, MnistPresetError> {
        let fail = |argument: &str, message: String| MnistPresetError::Override {
            argument: argument.to_string(),
            message,
        };
        let mut table = toml::Table::try_from(self).map_err(|e| fail("", e.to_string()))?;
        for argument in overrides {
            let (key, value) = argument
                .split_once('=')
                .ok_or_else(|| fail(argument, "expected mnist.key=value".into()))?;
            let value = value.trim();
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.to_string()));
            let key = key.trim();
            let key = key.strip_prefix("mnist.").unwrap_or(key);
            if key.is_empty() || key.contains('.') {
                return Err(fail(
                    argument,
                    format!("`{key}` is not a key of the [mnist] table (e.g. mnist.eta)"),
                ));
            }
            let mnist = table
                .entry("mnist")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or_else(|| fail(argument, "`mnist` is not a table".into()))?;
            // The two ways of giving the learning rate exclude each other.
            match key {
                "eta" => mnist.remove("eta_mean_loss"),
                "eta_mean_loss" => mnist.remove("eta"),
                _ => None,
            };
            mnist.insert(key.to_string(), parsed);
        }
        let text =
            toml::to_string(&table).map_err(|e| fail(&overrides.join(" "), e.to_string()))?;
        toml::from_str(&text)
            .map_err(|e| fail(&overrides.join(" "), e.to_string().trim_end().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_preset_parses_and_overrides_apply() {
        let preset = MnistPreset::shipped().expect("shipped preset parses");
        assert!(!preset.title.is_empty());
        let changed = preset
            .with_overrides(&["mnist.eta=2e-5".into(), "hidden=16".into()])
            .expect("valid overrides");
        assert_eq!(changed.mnist.eta, Some(2e-5));
        assert_eq!(
            changed.mnist.eta_mean_loss, None,
            "the last learning rate given wins"
        );
        assert_eq!(changed.mnist.hidden, 16);
        let back = changed
            .with_overrides(&["mnist.eta_mean_loss=0.1".into()])
            .expect("valid override");
        assert_eq!(
            (back.mnist.eta, back.mnist.eta_mean_loss),
            (None, Some(0.1))
        );
        let message = preset
            .with_overrides(&["mnist.etta=1".into()])
            .expect_err("unknown key")
            .to_string();
        assert!(message.contains("etta"), "{message}");
        let message = preset
            .with_overrides(&["mnist.activation=sigmoid".into()])
            .expect_err("unknown activation")
            .to_string();
        assert!(message.contains("sigmoid"), "{message}");
    }

    /// The shipped preset holds the learning rate per mean loss, so a larger data set keeps
    /// the step size; a file giving both ways is refused with its name.
    #[test]
    fn shipped_preset_holds_the_rate_per_mean_loss() {
        let preset = MnistPreset::shipped().expect("shipped preset parses");
        assert_eq!(preset.mnist.eta, None);
        assert_eq!(
            preset.mnist.learning_rate().ok(),
            Some(LearningRate::MeanLoss(0.2))
        );
        let text = format!("{}\neta = 1e-5\n", SHIPPED[0].1);
        let message = MnistPreset::from_toml(&text, Path::new("both.toml"))
            .expect_err("both rates")
            .to_string();
        assert!(
            message.starts_with("both.toml: ") && message.contains("not both"),
            "{message}"
        );
    }
}
