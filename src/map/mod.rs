//! The hyperparameter map (docs/theory.md section 10): for one landscape, algorithm and
//! temperature, the linearised stationary state of SGD over a grid of learning rates `η`
//! and batch sizes `B`, with and without replacement, with where the discrete dynamics
//! diverge and, on request, where simulation confirms the theory.
//!
//! - [`theory_map`]: every cell's prediction ([`MapCell`]), computed by the same
//!   [`crate::theory::linear::linear_theory_about`] as `neqlab run`, so a cell equals the run's
//!   `theory` for the same settings; everything that does not depend on `(η, B)` (minimum,
//!   curvature, posterior, stability operators) is computed once ([`MapContext`]), and the
//!   cells in parallel.
//! - [`stability`]: the spectral radii of the linearised mean and second-moment maps, and
//!   the boundary `η_max(B)`.
//! - [`simulate`]: the validity overlay, a cancellable job with progress that simulates a
//!   coarse subgrid and measures each cell's covariance against the prediction.
//! - [`job`]: both as a [`crate::jobs::Task`] for the app's background jobs.
//! - [`axes`]: the learning rates and batch sizes, their defaults and `LO:HI:COUNT` parsing.
//! - [`table`]: the map as CSV.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::atomic::AtomicBool;
//! use neqlab::map::{MapAxes, SimulationOptions, simulate_map, theory_map};
//! # let experiment: neqlab::preset::Experiment = unimplemented!();
//! let mut map = theory_map(&experiment, None)?;          // default axes
//! let cancel = AtomicBool::new(false);                    // set it to stop the job
//! simulate_map(&mut map, &experiment, &SimulationOptions::default(), &cancel,
//!              &mut |progress| eprintln!("{:.0}%", 100.0 * progress.fraction))?;
//! # Ok(()) }
//! ```

pub mod axes;
pub mod cell;
mod exact_wor;
pub mod job;
pub mod quantity;
pub mod simulate;
pub mod stability;
pub mod table;

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

pub use axes::{MapAxes, default_batches, log_spaced, parse_etas};
pub use cell::{KlMethod, MapCell, MapContext};
pub use quantity::MapQuantity;
pub use simulate::{
    MapProgress, SimulatedCell, SimulationOptions, SimulationSummary, simulate_map,
};
pub use stability::StabilityModel;

use crate::dynamics::{Algorithm, DynamicsError, Replacement, TimeUnit};
use crate::preset::Experiment;
use crate::theory::TheoryError;
use crate::theory::exact::ExactError;

/// Why a map cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// An option that cannot be used (a learning-rate or batch-size axis, a quantity);
    /// `key` names it.
    #[error("{key}: {message}")]
    Invalid {
        /// The option, e.g. `--etas`.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// No minimum of `L` to linearise about.
    #[error(transparent)]
    Theory(TheoryError),
    /// A cell's dynamics cannot be built (e.g. a batch larger than `N`).
    #[error(transparent)]
    Dynamics(#[from] DynamicsError),
    /// The exact moments of a quadratic landscape failed for a reason other than instability.
    #[error(transparent)]
    Exact(#[from] ExactError),
    /// The simulation job was cancelled.
    #[error("the map simulation was cancelled after {done} of {total} cells")]
    Cancelled {
        /// Cells simulated before the flag was seen.
        done: usize,
        /// Cells planned.
        total: usize,
    },
}

impl MapError {
    pub(crate) fn axis(key: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key,
            message: message.into(),
        }
    }
}

/// The two replacement modes, in the order of the map's panels.
pub const MODES: [Replacement; 2] = [Replacement::Wr, Replacement::Wor];

/// A value per replacement mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PerMode<T> {
    /// With replacement.
    pub wr: T,
    /// Without replacement.
    pub wor: T,
}

/// `η_max(B)`, the first unstable learning rate at one batch size (the same in both modes,
/// see [`stability`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BoundaryPoint {
    /// The batch size `B`.
    pub batch: usize,
    /// `None` when even the smallest learning rate is unstable.
    pub eta_max: Option<f64>,
}

/// The whole map. `cells` holds one record per `(replacement, batch, eta)`, in that order
/// of nesting ([`HyperMap::index`]).
#[derive(Clone, Debug, Serialize)]
pub struct HyperMap {
    /// The landscape's kind.
    pub landscape: String,
    /// The preset's algorithm.
    pub algorithm: Algorithm,
    /// `T`.
    pub temperature: f64,
    /// Number of examples `N`.
    pub n: usize,
    /// Learning rates, increasing.
    pub etas: Vec<f64>,
    /// Batch sizes, increasing.
    pub batches: Vec<usize>,
    /// Seconds spent on the theory map (plus the simulation, once run).
    pub seconds: f64,
    /// One record per `(replacement, batch, eta)`.
    pub cells: Vec<MapCell>,
    /// The algorithm of each mode.
    pub algorithms: PerMode<Algorithm>,
    /// The time unit of each mode: rates and circulations are per this unit.
    pub time_units: PerMode<TimeUnit>,
    /// `η_max(B)` per batch size.
    pub boundary: Vec<BoundaryPoint>,
    /// The minimum `w*` of `L`.
    pub minimum: Vec<f64>,
    /// Eigenvalues of `H̄(w*)`, ascending.
    pub hessian_eigenvalues: Vec<f64>,
    /// The validity overlay, once simulated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulation: Option<SimulationSummary>,
}

impl HyperMap {
    /// Position of the cell `(replacement, batch index, eta index)` in [`cells`](Self::cells).
    pub fn index(&self, replacement: Replacement, batch: usize, eta: usize) -> usize {
        let mode = MODES.iter().position(|m| *m == replacement).unwrap_or(0);
        (mode * self.batches.len() + batch) * self.etas.len() + eta
    }

    /// The cell `(replacement, batch index, eta index)`.
    pub fn cell(&self, replacement: Replacement, batch: usize, eta: usize) -> Option<&MapCell> {
        self.cells.get(self.index(replacement, batch, eta))
    }

    /// The cells of one mode, batch-major.
    pub fn mode_cells(&self, replacement: Replacement) -> &[MapCell] {
        let per_mode = self.batches.len() * self.etas.len();
        let start = self.index(replacement, 0, 0);
        &self.cells[start..start + per_mode]
    }
}

/// The theory map of `experiment` over `axes` (default axes when `None`, see
/// [`MapContext::default_axes`]).
pub fn theory_map(experiment: &Experiment, axes: Option<MapAxes>) -> Result<HyperMap, MapError> {
    let started = Instant::now();
    let context = MapContext::new(experiment)?;
    let axes = match axes {
        Some(axes) => axes,
        None => context.default_axes()?,
    };
    let mut map = theory_map_in(&context, &axes)?;
    map.seconds = started.elapsed().as_secs_f64();
    Ok(map)
}

/// The theory map over `axes` with a context already built (its `seconds` exclude the
/// context).
pub fn theory_map_in(context: &MapContext, axes: &MapAxes) -> Result<HyperMap, MapError> {
    let started = Instant::now();
    let n = context.n_examples();
    let (etas, batches) = (&axes.etas, &axes.batches);
    // Stability depends on (η, B) only: once for both modes.
    let radii: Vec<f64> = batches
        .par_iter()
        .flat_map_iter(|&batch| {
            let stability = &context.stability;
            etas.iter()
                .map(move |&eta| stability.spectral_radius(eta, batch))
        })
        .collect();
    let jobs: Vec<(Replacement, usize, usize)> = MODES
        .iter()
        .flat_map(|&mode| {
            (0..batches.len()).flat_map(move |b| (0..etas.len()).map(move |e| (mode, b, e)))
        })
        .collect();
    let cells = jobs
        .par_iter()
        .map(|&(mode, b, e)| context.cell(etas[e], batches[b], mode, radii[b * etas.len() + e]))
        .collect::<Result<Vec<_>, _>>()?;
    let boundary = batches
        .par_iter()
        .map(|&batch| BoundaryPoint {
            batch,
            eta_max: context.stability.boundary(etas, batch),
        })
        .collect();
    Ok(HyperMap {
        landscape: context.landscape.kind().to_string(),
        algorithm: context.algorithm,
        temperature: context.temperature,
        n,
        etas: axes.etas.clone(),
        batches: axes.batches.clone(),
        seconds: started.elapsed().as_secs_f64(),
        cells,
        algorithms: PerMode {
            wr: context.algorithm_for(Replacement::Wr),
            wor: context.algorithm_for(Replacement::Wor),
        },
        time_units: PerMode {
            wr: Replacement::Wr.time_unit(),
            wor: Replacement::Wor.time_unit(),
        },
        boundary,
        minimum: context.minimum.clone(),
        hessian_eigenvalues: context.stability.hessian_eigenvalues().to_vec(),
        simulation: None,
    })
}
