//! The prediction job: a [`Task`] of the library's job mechanism that computes the predicted
//! half of the stationary model ([`Prediction`]) whenever the UI asks (after a control has
//! settled); the latest request wins.

use std::convert::Infallible;
use std::sync::Arc;

use neqlab::jobs::{Context, Job, JobError, JobEvent, JobSpec, Task, ThreadError};
use neqlab::preset::{Experiment, FpSpec};
use neqlab::stationary::{Prediction, PredictionOptions};

/// One solve: the experiment of one generation on its grid.
#[derive(Clone)]
pub struct SolveRequest {
    pub generation: u64,
    pub experiment: Experiment,
    pub fp: FpSpec,
}

/// A finished prediction and the generation it belongs to.
#[derive(Clone)]
pub struct Solved {
    pub generation: u64,
    pub prediction: Arc<Prediction>,
}

/// Why a request has no prediction (the computation itself never fails: a part it cannot
/// predict carries its error inside the [`Prediction`]).
pub type SolveError = JobError<Infallible>;

/// The computation the job runs.
struct PredictionTask;

impl Task for PredictionTask {
    type Request = SolveRequest;
    type Update = ();
    type Output = Solved;
    type Error = Infallible;

    /// One prediction; it is short (a sparse solve), so it reports no progress and runs to
    /// its end even when a newer request supersedes it (whose result alone is shown).
    fn run(&mut self, request: SolveRequest, _: &Context<()>) -> Result<Solved, Infallible> {
        let options = PredictionOptions::with_plane(&request.fp);
        let prediction = Prediction::compute(&request.experiment, &options);
        Ok(Solved {
            generation: request.generation,
            prediction: Arc::new(prediction),
        })
    }
}

/// The UI's handle on the prediction job.
pub struct Solver {
    job: Job<PredictionTask>,
    /// The generation of the newest request.
    requested: Option<u64>,
}

/// The answer to the newest request: its generation and the prediction, or why there is none.
pub struct SolveResult {
    pub generation: u64,
    pub outcome: Result<Arc<Prediction>, SolveError>,
}

impl Solver {
    /// The job on a named thread, ahead of the simulation and behind the interface.
    pub fn spawn(ctx: egui::Context) -> Result<Self, ThreadError> {
        let spec = JobSpec::prompt("neqlab-solver").with_repaint(move || ctx.request_repaint());
        Ok(Self {
            job: Job::spawn(PredictionTask, spec)?,
            requested: None,
        })
    }

    /// Solve synchronously inside [`take`](Self::take). For tests.
    pub fn inline() -> Self {
        Self {
            job: Job::inline(PredictionTask),
            requested: None,
        }
    }

    /// Ask for a prediction; an older request still running is dropped.
    pub fn request(&mut self, request: SolveRequest) {
        self.requested = Some(request.generation);
        self.job.request(request);
    }

    /// The newest request's answer, once.
    pub fn take(&mut self) -> Option<SolveResult> {
        let generation = self.requested?;
        self.job.poll().into_iter().find_map(|event| match event {
            JobEvent::Finished(Ok(solved)) => Some(SolveResult {
                generation: solved.generation,
                outcome: Ok(solved.prediction),
            }),
            JobEvent::Finished(Err(error)) => Some(SolveResult {
                generation,
                outcome: Err(error),
            }),
            JobEvent::Update(()) => None,
        })
    }
}
