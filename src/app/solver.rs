//! The prediction job: a second named thread that computes the predicted half of the
//! stationary model ([`Prediction`]) whenever the UI asks (after a control has settled),
//! keeping only the newest request.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context as _;
use neqlab::preset::{Experiment, FpSpec};
use neqlab::stationary::{Prediction, PredictionOptions};

/// One solve: the experiment of one generation on its grid.
#[derive(Clone)]
pub struct SolveRequest {
    pub generation: u64,
    pub experiment: Experiment,
    pub fp: FpSpec,
}

/// Why a request has no prediction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SolveError {
    /// The computation panicked (a bug, reported rather than propagated).
    #[error("the solver crashed on this configuration")]
    Crashed,
    /// The solver thread is gone.
    #[error("the solver thread has stopped")]
    Stopped,
}

/// The answer to a [`SolveRequest`].
#[derive(Clone)]
pub struct SolveResult {
    pub generation: u64,
    pub outcome: Result<Arc<Prediction>, SolveError>,
}

/// Run one request, turning a panic into an error.
pub fn solve(request: &SolveRequest) -> SolveResult {
    let options = PredictionOptions::with_plane(&request.fp);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        Prediction::compute(&request.experiment, &options)
    }))
    .map(Arc::new)
    .map_err(|_| SolveError::Crashed);
    SolveResult {
        generation: request.generation,
        outcome,
    }
}

type Slot = Arc<Mutex<Option<SolveResult>>>;

enum Mode {
    Threaded {
        sender: Option<Sender<SolveRequest>>,
        slot: Slot,
        thread: Option<JoinHandle<()>>,
    },
    Inline {
        slot: Option<SolveResult>,
    },
}

/// The UI's handle on the prediction job.
pub struct Solver {
    mode: Mode,
}

impl Solver {
    pub fn spawn(ctx: egui::Context) -> anyhow::Result<Self> {
        let (sender, receiver) = channel();
        let slot: Slot = Arc::new(Mutex::new(None));
        let published = slot.clone();
        let thread = std::thread::Builder::new()
            .name("neqlab-solver".into())
            .spawn(move || solver_loop(receiver, published, ctx))
            .context("cannot start the solver thread")?;
        Ok(Self {
            mode: Mode::Threaded {
                sender: Some(sender),
                slot,
                thread: Some(thread),
            },
        })
    }

    /// Solve synchronously inside [`request`](Self::request). For tests.
    pub fn inline() -> Self {
        Self {
            mode: Mode::Inline { slot: None },
        }
    }

    pub fn request(&mut self, request: SolveRequest) -> Result<(), SolveError> {
        match &mut self.mode {
            Mode::Threaded { sender, .. } => sender
                .as_ref()
                .and_then(|s| s.send(request).ok())
                .ok_or(SolveError::Stopped),
            Mode::Inline { slot } => {
                *slot = Some(solve(&request));
                Ok(())
            }
        }
    }

    /// The newest finished solve, once.
    pub fn take(&mut self) -> Option<SolveResult> {
        match &mut self.mode {
            Mode::Threaded { slot, .. } => slot.lock().ok().and_then(|mut s| s.take()),
            Mode::Inline { slot } => slot.take(),
        }
    }
}

impl Drop for Solver {
    fn drop(&mut self) {
        if let Mode::Threaded { sender, thread, .. } = &mut self.mode {
            sender.take();
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

fn solver_loop(receiver: Receiver<SolveRequest>, slot: Slot, ctx: egui::Context) {
    // A solve is what the user waits for after moving a slider: ahead of the simulation,
    // behind the interface.
    use neqlab::background::{PROMPT_NICENESS, lower_priority_to, thread_pool};
    lower_priority_to(PROMPT_NICENESS);
    let pool = thread_pool(
        "neqlab-solver",
        super::worker::prompt_threads(),
        PROMPT_NICENESS,
    );
    while let Ok(mut request) = receiver.recv() {
        // Only the newest request matters.
        while let Ok(newer) = receiver.try_recv() {
            request = newer;
        }
        let result = match &pool {
            Some(pool) => pool.install(|| solve(&request)),
            None => solve(&request),
        };
        if let Ok(mut s) = slot.lock() {
            *s = Some(result);
        }
        ctx.request_repaint();
    }
}
