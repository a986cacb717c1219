//! The Network tab's background task: run the preset to its stationary state with
//! [`neqlab::run::simulate_cancellable`] and gather what the tab draws. Every number comes
//! from the library ([`neqlab::stats::compare`] for the comparisons and the band).

use std::path::{Path, PathBuf};

use neqlab::jobs::{Context, Task};
use neqlab::landscape::{LandscapeError, LandscapeSpec, RegressionNet};
use neqlab::preset::{Preset, PresetError};
use neqlab::run::{self, Cancelled, RunReport};
use neqlab::stats::compare::{diagonal_ratios, ensemble_band, padded_range, relative_frobenius};

/// Points of the fitted curve.
const CURVE_POINTS: usize = 200;

/// What a finished run shows.
pub struct NetResult {
    pub report: RunReport,
    pub names: Vec<String>,
    /// The data `(x_i, y_i)`.
    pub data: Vec<[f64; 2]>,
    /// `f(x)` at the minimum of `L`.
    pub curve: Vec<[f64; 2]>,
    /// Mean ± 2 std of `f(x)` over the final walker positions: `(x, low, high)`.
    pub band: Vec<[f64; 3]>,
    /// Simulated and predicted covariance, stochastic area and circulation (row-major `d × d`).
    pub cov_sim: Vec<f64>,
    pub cov_theory: Vec<f64>,
    pub area_sim: Vec<f64>,
    pub circulation: Vec<f64>,
    /// `‖Σ_sim − Σ_theory‖_F / ‖Σ_theory‖_F` and the same for the area against `C`.
    pub cov_difference: f64,
    pub area_difference: f64,
    /// Simulated over predicted variance of each weight.
    pub variance_ratios: Vec<f64>,
    /// Walkers whose final position gave the band.
    pub band_walkers: usize,
}

impl NetResult {
    /// The number of weights.
    pub fn dim(&self) -> usize {
        self.names.len()
    }
}

/// Why a run shows nothing.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("the Network tab needs a regression-net landscape, not {0}")]
    NotNetwork(&'static str),
    #[error(transparent)]
    Landscape(#[from] LandscapeError),
    #[error(transparent)]
    Preset(#[from] PresetError),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    #[error("no minimum found: {0}")]
    NoMinimum(String),
    #[error("every walker diverged ({diverged} of {walkers}): lower η")]
    Diverged { diverged: usize, walkers: usize },
}

/// A run of the network preset (the tab's settings) on the job mechanism.
pub struct NetTask;

impl Task for NetTask {
    type Request = (Box<Preset>, PathBuf);
    type Update = ();
    type Output = Box<NetResult>;
    type Error = NetError;

    fn run(
        &mut self,
        (preset, path): (Box<Preset>, PathBuf),
        context: &Context<()>,
    ) -> Result<Box<NetResult>, NetError> {
        let mut progress = |p: f64| context.progress(p, "simulating");
        analyse(&preset, &path, &mut progress, context.cancel_flag()).map(Box::new)
    }
}

/// Run the preset and gather what the tab shows; checks `cancel` between slices.
fn analyse(
    preset: &Preset,
    path: &Path,
    progress: &mut dyn FnMut(f64),
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<NetResult, NetError> {
    let LandscapeSpec::RegressionNet(spec) = &preset.landscape else {
        return Err(NetError::NotNetwork(preset.landscape.kind()));
    };
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let net = RegressionNet::new(spec, base_dir)?;
    let experiment = preset.build(path, None)?;
    let (report, ensemble) = run::simulate_cancellable(preset, &experiment, progress, cancel)?;
    let theory = report.theory.as_ref().ok_or_else(|| {
        NetError::NoMinimum(
            report
                .theory_error
                .clone()
                .unwrap_or_else(|| "the theory has no prediction".into()),
        )
    })?;
    let sim = report.sim.as_ref().ok_or(NetError::Diverged {
        diverged: report.diverged_walkers,
        walkers: report.walkers,
    })?;
    let data = net.data().to_vec();
    let (low, high) = data
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p[0]), hi.max(p[0]))
        });
    let xs = padded_range(low, high, 0.05, CURVE_POINTS);
    let curve = xs
        .iter()
        .map(|&x| [x, RegressionNet::predict(&theory.minimum, x)])
        .collect();
    let positions: Vec<&[f64]> = ensemble.active_positions().collect();
    let band = ensemble_band(&positions, &xs, RegressionNet::predict)
        .iter()
        .map(|p| {
            let (low, high) = p.interval(2.0);
            [p.x, low, high]
        })
        .collect();
    let d = experiment.landscape.dim();
    let comparable = |a: &[f64], b: &[f64]| a.len() == d * d && b.len() == d * d;
    let (cov_difference, variance_ratios) = if comparable(&sim.cov, &theory.cov) {
        (
            relative_frobenius(&sim.cov, &theory.cov),
            diagonal_ratios(&sim.cov, &theory.cov, d),
        )
    } else {
        (f64::NAN, Vec::new())
    };
    let area_difference = if comparable(&sim.area, &theory.circulation) {
        relative_frobenius(&sim.area, &theory.circulation)
    } else {
        f64::NAN
    };
    Ok(NetResult {
        names: experiment.landscape.weight_names(),
        data,
        curve,
        band,
        cov_sim: sim.cov.clone(),
        cov_theory: theory.cov.clone(),
        area_sim: sim.area.clone(),
        circulation: theory.circulation.clone(),
        cov_difference,
        area_difference,
        variance_ratios,
        band_walkers: positions.len(),
        report,
    })
}
