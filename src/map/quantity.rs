//! The quantities a map can show (docs/theory.md section 10).

use std::fmt;
use std::str::FromStr;

use super::{MapCell, MapError};

/// One quantity of a [`MapCell`], to colour a map by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapQuantity {
    /// `tr Σ`.
    TraceCov,
    /// `E[L] − L_min`.
    LossExcess,
    /// Entropy production per time unit (a step with replacement, an epoch without).
    EpRate,
    /// Entropy production per pass over the data: the two modes on one scale.
    EpRatePerPass,
    /// `‖C‖_F` per time unit.
    CirculationNorm,
    /// `‖HΣ − ΣH‖ / ‖HΣ + ΣH‖`.
    NonequilibriumRatio,
    /// `KL(stationary ‖ exp(−L/T))`.
    KlPosterior,
    /// `|w_eff − w*|` (without replacement only).
    WorShift,
    /// Relative error of the simulated covariance (simulated cells only).
    SimCovRelError,
}

impl MapQuantity {
    /// Every quantity, in menu order.
    pub const ALL: [MapQuantity; 9] = [
        MapQuantity::EpRatePerPass,
        MapQuantity::EpRate,
        MapQuantity::TraceCov,
        MapQuantity::LossExcess,
        MapQuantity::CirculationNorm,
        MapQuantity::NonequilibriumRatio,
        MapQuantity::KlPosterior,
        MapQuantity::WorShift,
        MapQuantity::SimCovRelError,
    ];

    /// The JSON key and command-line spelling (`ep_rate_per_pass`, ...).
    pub fn key(self) -> &'static str {
        match self {
            MapQuantity::TraceCov => "trace_cov",
            MapQuantity::LossExcess => "loss_excess",
            MapQuantity::EpRate => "ep_rate",
            MapQuantity::EpRatePerPass => "ep_rate_per_pass",
            MapQuantity::CirculationNorm => "circulation_norm",
            MapQuantity::NonequilibriumRatio => "nonequilibrium_ratio",
            MapQuantity::KlPosterior => "kl_posterior",
            MapQuantity::WorShift => "wor_shift",
            MapQuantity::SimCovRelError => "sim_cov_rel_error",
        }
    }

    /// What a reader sees on a colour bar.
    pub fn label(self) -> &'static str {
        match self {
            MapQuantity::TraceCov => "spread tr Σ",
            MapQuantity::LossExcess => "excess loss E[L] − L_min",
            MapQuantity::EpRate => "entropy production per time unit",
            MapQuantity::EpRatePerPass => "entropy production per example pass",
            MapQuantity::CirculationNorm => "circulation ‖C‖ per time unit",
            MapQuantity::NonequilibriumRatio => "‖HΣ − ΣH‖ / ‖HΣ + ΣH‖",
            MapQuantity::KlPosterior => "KL(stationary ‖ exp(−L/T))",
            MapQuantity::WorShift => "WOR shift |w_eff − w*|",
            MapQuantity::SimCovRelError => "simulated covariance, relative error",
        }
    }

    /// The value in a cell, when it has one.
    pub fn value(self, cell: &MapCell) -> Option<f64> {
        match self {
            MapQuantity::TraceCov => cell.trace_cov,
            MapQuantity::LossExcess => cell.loss_excess,
            MapQuantity::EpRate => cell.ep_rate,
            MapQuantity::EpRatePerPass => cell.ep_rate_per_pass,
            MapQuantity::CirculationNorm => cell.circulation_norm,
            MapQuantity::NonequilibriumRatio => cell.nonequilibrium_ratio,
            MapQuantity::KlPosterior => cell.kl_posterior,
            MapQuantity::WorShift => cell.wor_shift,
            MapQuantity::SimCovRelError => cell.sim_cov_rel_error,
        }
    }
}

impl fmt::Display for MapQuantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for MapQuantity {
    type Err = MapError;

    fn from_str(text: &str) -> Result<Self, MapError> {
        let wanted = text.trim().replace('-', "_");
        MapQuantity::ALL
            .into_iter()
            .find(|q| q.key() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = MapQuantity::ALL.iter().map(|q| q.key()).collect();
                MapError::axis(
                    "--show",
                    format!(
                        "unknown quantity \"{text}\"; choose one of {}",
                        names.join(", ")
                    ),
                )
            })
    }
}
