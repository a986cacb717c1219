//! Typed validation of every number a person can type: one rule per field, one clear message
//! per bad value (empty, not a number, NaN, infinite, negative, fractional where a count is
//! needed, too small, too large).
//!
//! The app's text fields call [`CountField::parse`] / [`RealField::parse`] on what was typed
//! and its sliders [`CountField::check`] / [`RealField::check`] on what was dragged; presets
//! and `--set` values are checked by the same rules in [`crate::preset::Preset::check_fields`]
//! (and the MNIST and posterior settings where they are configured). Rules that depend on
//! other values (a batch no larger than `N`, memory for the walkers) are checked where those
//! values are known: `Preset::build` and [`crate::limits`].
//!
//! Upper bounds of counts keep every value writable to TOML (integers up to `2⁶³ − 1`) and
//! every product of sizes far from overflow; memory is checked separately.

use crate::limits::group_digits;

/// A value a field cannot take: `key` and a sentence saying why and what would do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}{shown}: {message}", shown = value.as_ref().map(|v| format!(" = {v}")).unwrap_or_default())]
pub struct FieldError {
    /// The preset key (`dynamics.walkers`).
    pub key: &'static str,
    /// The value as typed or given, when there is one.
    pub value: Option<String>,
    /// Why it is refused and what is accepted.
    pub message: String,
}

/// Largest time span (steps or epochs) of a run or a burn-in: `10¹²`, a year at a million
/// walker-steps per second, and far from any overflow of `burn_in + steps`.
pub const MAX_TIME_UNITS: u64 = 1_000_000_000_000;

/// Largest count of anything (walkers, examples, digits) before memory is even considered:
/// `2⁵³`, below which every count is exact in a double.
pub const MAX_COUNT: u64 = 1 << 53;

/// Largest seed: seeds are written to TOML, whose integers stop at `2⁶³ − 1`.
pub const MAX_SEED: u64 = i64::MAX as u64;

/// A field holding a whole number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountField {
    /// The preset key.
    pub key: &'static str,
    /// Smallest value accepted.
    pub min: u64,
    /// Largest value accepted.
    pub max: u64,
    /// Why the bounds are what they are (ends the message of a refused value), may be empty.
    pub reason: &'static str,
}

/// A field holding a real number: finite, and within `min..=max` (or `min < x` when
/// `min_exclusive`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RealField {
    /// The preset key.
    pub key: &'static str,
    /// Smallest value (exclusive when `min_exclusive`); `-inf` for none.
    pub min: f64,
    /// Whether `min` itself is refused (a learning rate must be positive).
    pub min_exclusive: bool,
    /// Largest value accepted; `inf` for none.
    pub max: f64,
    /// Why the bounds are what they are, may be empty.
    pub reason: &'static str,
}

/// A bound as people write it: `0.5`, `1e150`, `-1e-9`.
fn short(x: f64) -> String {
    if x != 0.0 && !(1e-3..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Drop the digit separators people type: `1 000 000`, `1_000_000`.
fn strip_separators(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| !matches!(c, '_' | ' ' | '\u{2009}' | '\u{202f}'))
        .collect()
}

impl CountField {
    fn error(&self, value: Option<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            key: self.key,
            value,
            message: message.into(),
        }
    }

    /// "a whole number from 1 to 1 000 000" (no upper end shown when it is only
    /// [`MAX_COUNT`] or the TOML limit).
    pub fn accepted(&self) -> String {
        let range = if self.max >= MAX_COUNT {
            format!("a whole number of at least {}", group_digits(self.min))
        } else {
            format!(
                "a whole number from {} to {}",
                group_digits(self.min),
                group_digits(self.max)
            )
        };
        if self.reason.is_empty() {
            range
        } else {
            format!("{range} ({})", self.reason)
        }
    }

    /// The message of a value above `max`.
    fn too_large(&self) -> String {
        if self.max >= MAX_COUNT {
            format!("too large (at most {})", group_digits(self.max))
        } else {
            format!("too large; type {}", self.accepted())
        }
    }

    /// Parse typed text: digits (with `_` or space separators), or an integral number in
    /// scientific notation (`1e6`).
    pub fn parse(&self, text: &str) -> Result<u64, FieldError> {
        let cleaned = strip_separators(text);
        if cleaned.is_empty() {
            return Err(self.error(None, format!("empty; type {}", self.accepted())));
        }
        let shown = Some(text.trim().to_string());
        if let Ok(value) = cleaned.parse::<u64>() {
            return self.check(value);
        }
        if cleaned.starts_with('-') && cleaned[1..].parse::<u64>().is_ok_and(|v| v > 0) {
            return Err(self.error(
                shown,
                format!("must not be negative; type {}", self.accepted()),
            ));
        }
        match cleaned.parse::<f64>() {
            Ok(x) => self.check_real_value(x, shown),
            Err(_) => Err(self.error(shown, format!("not a number; type {}", self.accepted()))),
        }
    }

    fn check_real_value(&self, x: f64, shown: Option<String>) -> Result<u64, FieldError> {
        let accepted = self.accepted();
        if x.is_nan() {
            return Err(self.error(shown, format!("not a number; type {accepted}")));
        }
        if x < 0.0 {
            return Err(self.error(shown, format!("must not be negative; type {accepted}")));
        }
        if x.is_infinite() || x > self.max as f64 {
            return Err(self.error(shown, self.too_large()));
        }
        if x.fract() != 0.0 {
            return Err(self.error(shown, format!("needs a whole number; type {accepted}")));
        }
        self.check(x as u64)
    }

    /// Check a value already typed as a count.
    pub fn check(&self, value: u64) -> Result<u64, FieldError> {
        if value < self.min {
            return Err(self.error(
                Some(group_digits(value)),
                format!("too small; type {}", self.accepted()),
            ));
        }
        if value > self.max {
            return Err(self.error(Some(group_digits(value)), self.too_large()));
        }
        Ok(value)
    }

    /// [`check`](Self::check) for a `usize`.
    pub fn check_usize(&self, value: usize) -> Result<usize, FieldError> {
        self.check(value as u64).map(|v| v as usize)
    }

    /// The nearest accepted value (for sliders).
    pub fn clamp(&self, value: u64) -> u64 {
        value.clamp(self.min, self.max)
    }
}

impl RealField {
    fn error(&self, value: Option<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            key: self.key,
            value,
            message: message.into(),
        }
    }

    /// "a number greater than 0", "a number from 0 to 10".
    pub fn accepted(&self) -> String {
        let lower = if self.min == f64::NEG_INFINITY {
            None
        } else if self.min_exclusive {
            Some(format!("greater than {}", short(self.min)))
        } else {
            Some(format!("of at least {}", short(self.min)))
        };
        let range = match (lower, self.max.is_finite()) {
            (None, false) => "a finite number".to_string(),
            (Some(lower), false) => format!("a number {lower}"),
            (None, true) => format!("a number of at most {}", short(self.max)),
            (Some(_), true) if !self.min_exclusive => {
                format!("a number from {} to {}", short(self.min), short(self.max))
            }
            (Some(lower), true) => format!("a number {lower} and at most {}", short(self.max)),
        };
        if self.reason.is_empty() {
            range
        } else {
            format!("{range} ({})", self.reason)
        }
    }

    /// Parse typed text (`0.02`, `2e-2`, `1 000`).
    pub fn parse(&self, text: &str) -> Result<f64, FieldError> {
        let cleaned = strip_separators(text);
        if cleaned.is_empty() {
            return Err(self.error(None, format!("empty; type {}", self.accepted())));
        }
        let shown = Some(text.trim().to_string());
        match cleaned.parse::<f64>() {
            Ok(x) => self.check_shown(x, shown),
            Err(_) => Err(self.error(shown, format!("not a number; type {}", self.accepted()))),
        }
    }

    /// Check a value already typed as a number.
    pub fn check(&self, value: f64) -> Result<f64, FieldError> {
        self.check_shown(value, Some(value.to_string()))
    }

    fn check_shown(&self, x: f64, shown: Option<String>) -> Result<f64, FieldError> {
        let accepted = self.accepted();
        if x.is_nan() {
            return Err(self.error(shown, format!("not a number; type {accepted}")));
        }
        if x.is_infinite() {
            return Err(self.error(shown, format!("must be finite; type {accepted}")));
        }
        let too_small = if self.min_exclusive {
            x <= self.min
        } else {
            x < self.min
        };
        if too_small {
            let what = if x < 0.0 && self.min >= 0.0 {
                "must not be negative"
            } else {
                "too small"
            };
            return Err(self.error(shown, format!("{what}; type {accepted}")));
        }
        if x > self.max {
            return Err(self.error(shown, format!("too large; type {accepted}")));
        }
        Ok(x)
    }
}

const fn count(key: &'static str, min: u64, max: u64, reason: &'static str) -> CountField {
    CountField {
        key,
        min,
        max,
        reason,
    }
}

const fn real(
    key: &'static str,
    min: f64,
    min_exclusive: bool,
    max: f64,
    reason: &'static str,
) -> RealField {
    RealField {
        key,
        min,
        min_exclusive,
        max,
        reason,
    }
}

/// `dynamics.walkers`; memory is checked by [`crate::limits::simulation_demand`].
pub const WALKERS: CountField = count("dynamics.walkers", 1, MAX_COUNT, "");
/// `dynamics.steps`.
pub const STEPS: CountField = count("dynamics.steps", 0, MAX_TIME_UNITS, "0: no simulation");
/// `dynamics.burn_in`.
pub const BURN_IN: CountField = count("dynamics.burn_in", 0, MAX_TIME_UNITS, "");
/// `dynamics.batch`; at most `N` is checked against the landscape.
pub const BATCH: CountField = count("dynamics.batch", 1, MAX_COUNT, "at most N");
/// `dynamics.seed`.
pub const SEED: CountField = count("dynamics.seed", 0, MAX_SEED, "");
/// `dynamics.eta`.
pub const ETA: RealField = real("dynamics.eta", 0.0, true, f64::INFINITY, "");
/// `dynamics.temperature`.
pub const TEMPERATURE: RealField = real("dynamics.temperature", 0.0, false, f64::INFINITY, "");
/// One coordinate of `dynamics.start`.
pub const START: RealField = real(
    "dynamics.start",
    f64::NEG_INFINITY,
    false,
    f64::INFINITY,
    "",
);
/// `fp.grid`; memory is checked by [`crate::limits::simulation_demand`].
pub const GRID: CountField = count(
    "fp.grid",
    1,
    crate::theory::fokker_planck::MAX_CELLS_PER_AXIS as u64,
    "cells per axis",
);
/// One number of `fp.bounds`.
pub const BOUNDS: RealField = real("fp.bounds", -1e150, false, 1e150, "");
/// `view.trails`.
pub const TRAILS: CountField = count("view.trails", 0, 100, "walkers whose path is drawn");
/// `view.units_per_frame`.
pub const UNITS_PER_FRAME: CountField = count("view.units_per_frame", 1, 100_000, "");
/// `landscape.n` (generated examples); memory is checked by
/// [`crate::limits::examples_demand`].
pub const EXAMPLES: CountField = count("landscape.n", 0, MAX_COUNT, "");
/// `landscape.data_seed`.
pub const DATA_SEED: CountField = count("landscape.data_seed", 0, MAX_SEED, "");
/// A learning rate of `[posterior] etas` or `--etas`.
pub const POSTERIOR_ETA: RealField = real("posterior.etas", 0.0, true, f64::INFINITY, "");
/// `[posterior] permutations` or `--permutations`: the SGWORLD average costs one epoch map per
/// permutation and learning rate, and its error falls only as `1/√permutations`.
pub const PERMUTATIONS: CountField = count(
    "posterior.permutations",
    1,
    100_000_000,
    "the error falls as 1/√permutations",
);
/// `mnist.hidden`.
pub const MNIST_HIDDEN: CountField = count("mnist.hidden", 1, 4096, "hidden units");
/// `mnist.batch`.
pub const MNIST_BATCH: CountField =
    count("mnist.batch", 1, MAX_COUNT, "at most the training digits");
/// `mnist.eta`.
pub const MNIST_ETA: RealField = real("mnist.eta", 0.0, true, f64::INFINITY, "");
/// `mnist.eta_mean_loss`: the learning rate on the mean loss (`η·N` for `N` training digits).
pub const MNIST_ETA_MEAN_LOSS: RealField =
    real("mnist.eta_mean_loss", 0.0, true, f64::INFINITY, "");
/// `mnist.temperature`.
pub const MNIST_TEMPERATURE: RealField = real("mnist.temperature", 0.0, false, f64::INFINITY, "");
/// `mnist.prior_precision`.
pub const MNIST_PRIOR_PRECISION: RealField =
    real("mnist.prior_precision", 0.0, false, f64::INFINITY, "");
/// `mnist.train_epochs`.
pub const MNIST_TRAIN_EPOCHS: CountField = count("mnist.train_epochs", 0, 1_000_000, "");
/// `mnist.pca_epochs`.
pub const MNIST_PCA_EPOCHS: CountField = count("mnist.pca_epochs", 1, 1_000_000, "");
/// `mnist.record_epochs`; the trajectory's memory is checked by
/// [`crate::mnist::limits::mnist_demand`].
pub const MNIST_RECORD_EPOCHS: CountField = count("mnist.record_epochs", 1, 1_000_000, "");
/// `mnist.snapshots`.
pub const MNIST_SNAPSHOTS: CountField = count("mnist.snapshots", 2, 100_000, "");
/// `mnist.projection_dim`.
pub const MNIST_PROJECTION_DIM: CountField = count("mnist.projection_dim", 1, 16, "");
/// `mnist.record_stride`.
pub const MNIST_RECORD_STRIDE: CountField = count("mnist.record_stride", 1, 1_000_000, "");
/// `mnist.train_n` (0: all).
pub const MNIST_TRAIN_DIGITS: CountField = count("mnist.train_n", 0, MAX_COUNT, "0: all");
/// `mnist.test_n` (0: all).
pub const MNIST_TEST_DIGITS: CountField = count("mnist.test_n", 0, MAX_COUNT, "0: all");
/// `mnist.seed`.
pub const MNIST_SEED: CountField = count("mnist.seed", 0, MAX_SEED, "");
/// A figure's width or height in px.
pub const FIGURE_SIDE: CountField = count(
    "figure size",
    200,
    crate::export::MAX_FIGURE_SIDE as u64,
    "px",
);
/// `--arrow-gain`.
pub const ARROW_GAIN: RealField = real("arrow gain", 0.0, true, 1e6, "");

/// Any other real number of the `[landscape]` table: finite (the landscape checks the rest
/// when it is built).
pub const LANDSCAPE_NUMBER: RealField =
    real("landscape", f64::NEG_INFINITY, false, f64::INFINITY, "");
/// Any other whole number of the `[landscape]` table (sizes: at least 1).
pub const LANDSCAPE_COUNT: CountField = count("landscape", 1, MAX_COUNT, "");

/// Every count field, for lookups by key ([`count_field`]).
pub const COUNT_FIELDS: [CountField; 23] = [
    WALKERS,
    STEPS,
    BURN_IN,
    BATCH,
    SEED,
    GRID,
    TRAILS,
    UNITS_PER_FRAME,
    EXAMPLES,
    DATA_SEED,
    PERMUTATIONS,
    MNIST_HIDDEN,
    MNIST_BATCH,
    MNIST_TRAIN_EPOCHS,
    MNIST_PCA_EPOCHS,
    MNIST_RECORD_EPOCHS,
    MNIST_SNAPSHOTS,
    MNIST_PROJECTION_DIM,
    MNIST_RECORD_STRIDE,
    MNIST_TRAIN_DIGITS,
    MNIST_TEST_DIGITS,
    MNIST_SEED,
    FIGURE_SIDE,
];

/// Every real field, for lookups by key ([`real_field`]).
pub const REAL_FIELDS: [RealField; 11] = [
    ETA,
    TEMPERATURE,
    START,
    BOUNDS,
    POSTERIOR_ETA,
    MNIST_ETA,
    MNIST_ETA_MEAN_LOSS,
    MNIST_TEMPERATURE,
    MNIST_PRIOR_PRECISION,
    ARROW_GAIN,
    LANDSCAPE_NUMBER,
];

/// The rule of the count field `key` (`"dynamics.walkers"`).
pub fn count_field(key: &str) -> Option<CountField> {
    COUNT_FIELDS.iter().copied().find(|f| f.key == key)
}

/// The rule of the real field `key` (`"dynamics.eta"`); any other `landscape.*` number gets
/// the rule "finite" (the landscape checks the rest when it is built).
pub fn real_field(key: &str) -> Option<RealField> {
    REAL_FIELDS
        .iter()
        .copied()
        .find(|f| f.key == key)
        .or_else(|| key.starts_with("landscape.").then_some(LANDSCAPE_NUMBER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_bad_count_gets_its_own_message() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("abc", "not a number"),
            ("NaN", "not a number"),
            ("inf", "too large"),
            ("-3", "must not be negative"),
            ("-1e3", "must not be negative"),
            ("2.5", "needs a whole number"),
            ("0", "too small"),
            ("1e30", "too large"),
            ("99999999999999999999999", "too large"),
        ];
        for (text, fragment) in cases {
            let message = WALKERS.parse(text).expect_err(text).to_string();
            assert!(
                message.starts_with("dynamics.walkers") && message.contains(fragment),
                "{text:?}: {message}"
            );
        }
        assert_eq!(WALKERS.parse("1 000"), Ok(1000));
        assert_eq!(WALKERS.parse("1_000_000"), Ok(1_000_000));
        assert_eq!(WALKERS.parse("4e3"), Ok(4000));
        assert_eq!(SEED.parse("0"), Ok(0));
        let message = SEED
            .parse("9223372036854775808")
            .expect_err("above i64")
            .to_string();
        assert!(message.contains("too large"), "{message}");
    }

    #[test]
    fn every_kind_of_bad_real_gets_its_own_message() {
        let cases = [
            ("", "empty"),
            ("fast", "not a number"),
            ("nan", "not a number"),
            ("inf", "must be finite"),
            ("-inf", "must be finite"),
            ("1e999", "must be finite"),
            ("-0.1", "must not be negative"),
            ("0", "too small"),
        ];
        for (text, fragment) in cases {
            let message = ETA.parse(text).expect_err(text).to_string();
            assert!(
                message.starts_with("dynamics.eta") && message.contains(fragment),
                "{text:?}: {message}"
            );
        }
        assert_eq!(ETA.parse(" 2e-2 "), Ok(0.02));
        assert_eq!(TEMPERATURE.parse("0"), Ok(0.0));
        let message = BOUNDS.check(1e200).expect_err("huge").to_string();
        assert!(message.ends_with("from -1e150 to 1e150"), "{message}");
        assert!(ARROW_GAIN.check(f64::NAN).is_err());
    }

    #[test]
    fn messages_say_what_is_accepted() {
        let message = GRID.parse("5000").expect_err("too large").to_string();
        assert_eq!(
            message,
            "fp.grid = 5 000: too large; type a whole number from 1 to 1 024 (cells per axis)"
        );
        let message = ETA.check(-1.0).expect_err("negative").to_string();
        assert_eq!(
            message,
            "dynamics.eta = -1: must not be negative; type a number greater than 0"
        );
        assert_eq!(GRID.clamp(5000), 1024);
    }

    #[test]
    fn fields_are_found_by_key() {
        assert_eq!(count_field("dynamics.walkers"), Some(WALKERS));
        assert_eq!(real_field("dynamics.eta"), Some(ETA));
        assert!(real_field("landscape.hessian").is_some_and(|f| f.check(f64::NAN).is_err()));
        // Any finite landscape number is accepted here, negative ones too (a tilt, a centre).
        assert_eq!(
            real_field("landscape.tilt").map(|f| f.check(-2.5)),
            Some(Ok(-2.5))
        );
        assert_eq!(count_field("dynamics.etta"), None);
        let keys: Vec<&str> = COUNT_FIELDS.iter().map(|f| f.key).collect();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), keys.len());
    }
}
