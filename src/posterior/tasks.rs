//! The posterior comparison as background [`Task`]s of the job mechanism
//! ([`crate::jobs`]): the exact curves and the simulated points one learning rate at a time
//! (progress per `η`, cancellation between them), and the stationary clouds.

use std::sync::Arc;

use super::{
    CloudSpec, Clouds, PosteriorError, PosteriorOptions, PosteriorReport, PosteriorRow,
    SimulationSpec, posterior_report, stationary_clouds,
};
use crate::jobs::{Context, Task};
use crate::landscape::Landscape;
use crate::theory::exact::PermutationOptions;

/// KL divergences of SGLD, SGWORLD and ULA against `η` on one landscape.
#[derive(Clone)]
pub struct CurveRequest {
    /// A quadratic landscape.
    pub landscape: Arc<dyn Landscape>,
    /// Batch size `B`.
    pub batch: usize,
    /// Temperature `T > 0`.
    pub temperature: f64,
    /// Seed of the permutations (and of the walkers when simulating).
    pub seed: u64,
    /// The learning rates, one row each.
    pub etas: Vec<f64>,
}

impl CurveRequest {
    /// One `posterior_report` row per `η` with `simulation`, reporting progress and
    /// stopping between learning rates when cancelled.
    fn rows(
        &self,
        simulation: Option<SimulationSpec>,
        context: &Context<()>,
        what: &str,
    ) -> Result<PosteriorReport, PosteriorError> {
        let options = PosteriorOptions {
            permutations: PermutationOptions {
                seed: self.seed,
                ..PermutationOptions::default()
            },
            simulation,
        };
        let total = self.etas.len();
        let mut merged: Option<PosteriorReport> = None;
        for (k, &eta) in self.etas.iter().enumerate() {
            context.checkpoint()?;
            context.progress(
                k as f64 / total as f64,
                format!("{what}: η {} of {total}", k + 1),
            );
            let report = posterior_report(
                self.landscape.as_ref(),
                self.batch,
                self.temperature,
                &[eta],
                &options,
            )?;
            match &mut merged {
                Some(m) => {
                    m.rows.extend(report.rows);
                    m.permutations = m.permutations.max(report.permutations);
                }
                None => merged = Some(report),
            }
        }
        context.progress(1.0, format!("{what}: done"));
        merged.ok_or_else(|| PosteriorError::Invalid {
            key: "etas",
            message: "give at least one learning rate".into(),
        })
    }
}

/// The exact KL curves, one learning rate at a time.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExactCurvesTask;

impl Task for ExactCurvesTask {
    type Request = CurveRequest;
    type Update = ();
    type Output = PosteriorReport;
    type Error = PosteriorError;

    fn run(
        &mut self,
        request: CurveRequest,
        context: &Context<()>,
    ) -> Result<PosteriorReport, PosteriorError> {
        request.rows(None, context, "exact curves")
    }
}

/// Walker-ensemble KLs (`simulate_stationary` inside [`posterior_report`]) at a few `η`,
/// with standard errors from `spec.groups` groups of walkers.
#[derive(Clone, Copy, Debug)]
pub struct SimulatedPointsTask {
    /// How to simulate (its seed is replaced by the request's).
    pub spec: SimulationSpec,
}

impl Task for SimulatedPointsTask {
    type Request = CurveRequest;
    type Update = ();
    type Output = Vec<PosteriorRow>;
    type Error = PosteriorError;

    fn run(
        &mut self,
        request: CurveRequest,
        context: &Context<()>,
    ) -> Result<Vec<PosteriorRow>, PosteriorError> {
        let spec = SimulationSpec {
            seed: request.seed,
            ..self.spec
        };
        Ok(request.rows(Some(spec), context, "simulating")?.rows)
    }
}

/// The stationary clouds of SGLD and SGWORLD at one `η` ([`stationary_clouds`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct CloudTask;

impl Task for CloudTask {
    type Request = (Arc<dyn Landscape>, CloudSpec);
    type Update = ();
    type Output = Clouds;
    type Error = PosteriorError;

    fn run(
        &mut self,
        (landscape, spec): (Arc<dyn Landscape>, CloudSpec),
        context: &Context<()>,
    ) -> Result<Clouds, PosteriorError> {
        context.progress(0.0, "running walkers");
        stationary_clouds(landscape.as_ref(), &spec)
    }
}
