//! The axes of a hyperparameter map: learning rates `η` (log-spaced) and batch sizes `B`
//! (docs/theory.md section 10).

use serde::Serialize;

use super::MapError;

/// The learning rates and batch sizes of a map. Every `(η, B)` pair is a cell, once with
/// and once without replacement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapAxes {
    /// Learning rates, increasing.
    pub etas: Vec<f64>,
    /// Batch sizes, increasing, each between 1 and `N`.
    pub batches: Vec<usize>,
}

/// Default number of learning rates.
pub const DEFAULT_ETA_COUNT: usize = 64;
/// Default number of batch sizes.
pub const DEFAULT_BATCH_COUNT: usize = 7;
/// The default learning rates run from this fraction of gradient descent's stability limit
/// `2/λ_max(H̄)` ...
pub const DEFAULT_ETA_LOW_FRACTION: f64 = 1e-3;
/// ... to this multiple of it, so that the boundary `η_max(B)` sits inside the map.
pub const DEFAULT_ETA_HIGH_FRACTION: f64 = 2.0;

impl MapAxes {
    /// Check and sort explicit axes against a landscape of `n_examples` examples.
    pub fn new(
        mut etas: Vec<f64>,
        mut batches: Vec<usize>,
        n_examples: usize,
    ) -> Result<Self, MapError> {
        if etas.is_empty() {
            return Err(MapError::axis("--etas", "give at least one learning rate"));
        }
        if let Some(bad) = etas.iter().find(|e| !(e.is_finite() && **e > 0.0)) {
            return Err(MapError::axis(
                "--etas",
                format!("learning rates must be positive and finite, got {bad}"),
            ));
        }
        if batches.is_empty() {
            return Err(MapError::axis("--batches", "give at least one batch size"));
        }
        if let Some(bad) = batches.iter().find(|b| **b == 0 || **b > n_examples) {
            return Err(MapError::axis(
                "--batches",
                format!("batch sizes must be between 1 and N = {n_examples}, got {bad}"),
            ));
        }
        etas.sort_by(f64::total_cmp);
        etas.dedup();
        batches.sort_unstable();
        batches.dedup();
        Ok(Self { etas, batches })
    }

    /// The default axes: [`DEFAULT_ETA_COUNT`] learning rates log-spaced from
    /// [`DEFAULT_ETA_LOW_FRACTION`] to [`DEFAULT_ETA_HIGH_FRACTION`] times `2/λ_max`, and
    /// [`default_batches`].
    pub fn default_for(
        lambda_max: f64,
        n_examples: usize,
        include_full_batch: bool,
    ) -> Result<Self, MapError> {
        let limit = 2.0 / lambda_max;
        let etas = log_spaced(
            DEFAULT_ETA_LOW_FRACTION * limit,
            DEFAULT_ETA_HIGH_FRACTION * limit,
            DEFAULT_ETA_COUNT,
        )?;
        Self::new(
            etas,
            default_batches(n_examples, DEFAULT_BATCH_COUNT, include_full_batch),
            n_examples,
        )
    }
}

/// `count` learning rates log-spaced from `low` to `high` inclusive.
pub fn log_spaced(low: f64, high: f64, count: usize) -> Result<Vec<f64>, MapError> {
    if !(low.is_finite() && high.is_finite() && low > 0.0 && high >= low) {
        return Err(MapError::axis(
            "--etas",
            format!("needs 0 < LO ≤ HI, got LO = {low}, HI = {high}"),
        ));
    }
    if count == 0 || (count == 1 && high != low) {
        return Err(MapError::axis(
            "--etas",
            format!("COUNT = {count}: needs at least 2 learning rates between LO and HI"),
        ));
    }
    if count == 1 {
        return Ok(vec![low]);
    }
    let (a, b) = (low.ln(), high.ln());
    Ok((0..count)
        .map(|k| match k {
            0 => low,
            k if k == count - 1 => high,
            k => (a + (b - a) * k as f64 / (count - 1) as f64).exp(),
        })
        .collect())
}

/// Parse `LO:HI:COUNT` (for example `1e-4:0.5:64`) into log-spaced learning rates.
pub fn parse_etas(text: &str) -> Result<Vec<f64>, MapError> {
    let parts: Vec<&str> = text.split(':').map(str::trim).collect();
    let [low, high, count] = parts.as_slice() else {
        return Err(MapError::axis(
            "--etas",
            format!("\"{text}\": expected LO:HI:COUNT, for example 1e-4:0.5:64"),
        ));
    };
    let number = |s: &str, what: &str| {
        s.parse::<f64>().map_err(|_| {
            MapError::axis(
                "--etas",
                format!("\"{text}\": {what} \"{s}\" is not a number"),
            )
        })
    };
    let count: usize = count.parse().map_err(|_| {
        MapError::axis(
            "--etas",
            format!("\"{text}\": COUNT \"{count}\" is not a whole number"),
        )
    })?;
    log_spaced(number(low, "LO")?, number(high, "HI")?, count)
}

/// About `count` batch sizes spread evenly in `log B` over `1 … N`, each the divisor of `N`
/// nearest in `log B` (so that without replacement no example is dropped), always with 1;
/// `N` itself (full-batch gradient descent, noiseless at `T = 0`) only when
/// `include_full_batch`.
pub fn default_batches(n_examples: usize, count: usize, include_full_batch: bool) -> Vec<usize> {
    let n = n_examples.max(1);
    let divisors: Vec<usize> = (1..=n).filter(|b| n.is_multiple_of(*b)).collect();
    let top = (n as f64).ln();
    let mut chosen: Vec<usize> = (0..count.max(1))
        .map(|k| {
            let target = if count <= 1 {
                0.0
            } else {
                top * k as f64 / (count - 1) as f64
            };
            divisors
                .iter()
                .copied()
                .min_by(|a, b| {
                    let da = ((*a as f64).ln() - target).abs();
                    let db = ((*b as f64).ln() - target).abs();
                    da.total_cmp(&db)
                })
                .unwrap_or(1)
        })
        .filter(|&b| include_full_batch || b < n || n == 1)
        .collect();
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etas_parse_and_space_logarithmically() {
        let etas = parse_etas("1e-3:0.1:3").expect("valid");
        assert_eq!(etas.len(), 3);
        assert_eq!(etas[0], 1e-3);
        assert_eq!(etas[2], 0.1);
        assert!((etas[1] - 1e-2).abs() < 1e-15);
        for bad in [
            "1e-3:0.1",
            "a:0.1:3",
            "1e-3:0.1:x",
            "0.1:1e-3:4",
            "0:1:4",
            "1:2:1",
        ] {
            let message = parse_etas(bad).expect_err(bad).to_string();
            assert!(message.starts_with("--etas"), "{message}");
        }
    }

    #[test]
    fn default_batches_are_log_spread_divisors() {
        assert_eq!(default_batches(100, 7, true), [1, 2, 5, 10, 20, 50, 100]);
        assert_eq!(default_batches(100, 7, false), [1, 2, 5, 10, 20, 50]);
        assert_eq!(default_batches(200, 7, true), [1, 2, 5, 10, 40, 100, 200]);
        assert_eq!(default_batches(1, 7, false), [1]);
    }

    #[test]
    fn axes_reject_bad_batches_and_sort() {
        let axes = MapAxes::new(vec![0.2, 0.1, 0.1], vec![10, 5], 100).expect("valid");
        assert_eq!(axes.etas, [0.1, 0.2]);
        assert_eq!(axes.batches, [5, 10]);
        let message = MapAxes::new(vec![0.1], vec![0, 5], 100)
            .expect_err("zero batch")
            .to_string();
        assert!(
            message.contains("--batches") && message.contains("N = 100"),
            "{message}"
        );
        assert!(MapAxes::new(vec![0.1], vec![101], 100).is_err());
        assert!(MapAxes::new(vec![f64::NAN], vec![1], 100).is_err());
    }
}
