//! The one background-job mechanism: every computation that must not run on the interface's
//! thread (the simulation, the Fokker–Planck solve, the posterior curves, the network run,
//! MNIST) goes through it.
//!
//! Two shapes of work share one thread loop:
//!
//! - A [`Service`] is long-lived: it receives commands over a channel (play, pause, a new
//!   configuration), works while it [is busy](Service::is_busy) (a playing simulation takes
//!   one update after another), and publishes [snapshots](Service::snapshot) that the
//!   interface reads through [`ServiceHandle::latest`]: only the newest one matters.
//! - A [`Task`] answers requests: [`Job::request`] sends one, and **the latest request
//!   wins**: a pending older request is dropped, a running one is told to stop through its
//!   cancellation flag, and whatever it still reports is discarded. [`Job::cancel`] stops the
//!   current request; the task reports [progress](Context::progress) (a fraction and a
//!   phase) and intermediate [updates](Context::update); [`Job::poll`] hands the interface
//!   the current request's events, ending with its typed result.
//!
//! The thread is named ([`JobSpec::name`]), lowers its own scheduling priority to
//! [`JobSpec::niceness`] (see [`crate::background`]) and runs its work inside a rayon pool of
//! [`JobSpec::threads`] equally niced threads, so parallel library code stays in the
//! background too. After publishing it calls the [`Repaint`] callback it was given (the app
//! passes `ctx.request_repaint()`; the library never sees egui).
//!
//! **Synchronous mode.** [`ServiceHandle::inline`] and [`Job::inline`] run the same code on
//! the caller's thread: commands apply at once, and every [`ServiceHandle::latest`] or
//! [`Job::poll`] first does one unit of pending work (one update of a busy service, one whole
//! request of a task). Tests drive them without threads, sleeps or timing.
//!
//! ```
//! use neqlab::jobs::{Context, JobEvent, Job, Task};
//!
//! struct Square;
//! #[derive(Debug, thiserror::Error)]
//! #[error("negative input")]
//! struct Negative;
//! impl Task for Square {
//!     type Request = f64;
//!     type Update = ();
//!     type Output = f64;
//!     type Error = Negative;
//!     fn run(&mut self, x: f64, context: &Context<()>) -> Result<f64, Negative> {
//!         context.progress(0.5, "squaring");
//!         if x < 0.0 { Err(Negative) } else { Ok(x * x) }
//!     }
//! }
//!
//! let mut job = Job::inline(Square);
//! job.request(2.0);
//! job.request(3.0); // the latest request wins: 2.0 never runs
//! let events = job.poll();
//! assert!(matches!(events.as_slice(), [JobEvent::Finished(Ok(x))] if *x == 9.0));
//! ```

mod service;
mod task;

use std::sync::Arc;
use std::time::Duration;

use crate::background::{BACKGROUND_NICENESS, PROMPT_NICENESS};

pub use service::{Flow, Service, ServiceHandle};
pub use task::{Cancelled, Context, Event, Job, JobError, JobEvent, Progress, Task};

/// What a job thread calls after it has published something for the interface (the app
/// passes a closure around `egui::Context::request_repaint`).
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// How a job thread is set up.
#[derive(Clone)]
pub struct JobSpec {
    /// The thread's name (its pool threads are `name-0`, `name-1`, …).
    pub name: &'static str,
    /// Scheduling priority of the thread and its pool (Linux niceness, 0 normal, 19 lowest).
    pub niceness: i32,
    /// Threads of the rayon pool the work runs in; 0 runs it on the job thread alone (and
    /// parallel library code in rayon's global pool, at normal priority).
    pub threads: usize,
    /// Least time between two [`Service::advance`] calls of a busy service (zero: none).
    pub min_advance_interval: Duration,
    /// Called after every published snapshot, progress report, update and result.
    pub repaint: Repaint,
}

impl JobSpec {
    /// Background work nobody waits for (a simulation, an MNIST run): niceness
    /// [`BACKGROUND_NICENESS`], all cores but one ([`background_threads`]).
    pub fn background(name: &'static str) -> Self {
        Self {
            name,
            niceness: BACKGROUND_NICENESS,
            threads: background_threads(),
            min_advance_interval: Duration::ZERO,
            repaint: Arc::new(|| {}),
        }
    }

    /// Work someone waits for (a prediction after a slider moved): niceness
    /// [`PROMPT_NICENESS`], [`prompt_threads`] threads.
    pub fn prompt(name: &'static str) -> Self {
        Self {
            niceness: PROMPT_NICENESS,
            threads: prompt_threads(),
            ..Self::background(name)
        }
    }

    /// The same, calling `repaint` after publishing.
    pub fn with_repaint(self, repaint: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            repaint: Arc::new(repaint),
            ..self
        }
    }

    /// The same with a pool of `threads` threads (0: no pool).
    pub fn with_threads(self, threads: usize) -> Self {
        Self { threads, ..self }
    }

    /// The same, advancing a busy service at most once per `interval`.
    pub fn with_min_advance_interval(self, interval: Duration) -> Self {
        Self {
            min_advance_interval: interval,
            ..self
        }
    }
}

/// Threads for background work: all cores but one, so that the interface (and a software
/// rasteriser) always has a core to draw on, even where niceness is not available.
pub fn background_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

/// Threads for work someone waits for: on Linux every core, since these threads run below
/// the interface's priority and only in short bursts; elsewhere [`background_threads`].
pub fn prompt_threads() -> usize {
    if cfg!(target_os = "linux") {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        background_threads()
    }
}

/// What went wrong with a job's thread itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ThreadError {
    /// The operating system refused a new thread.
    #[error("cannot start the {name} thread: {message}")]
    Spawn {
        /// The thread's name.
        name: &'static str,
        /// The operating system's reason.
        message: String,
    },
    /// The service panicked; its thread has ended.
    #[error("the {name} thread stopped: {message}")]
    Panicked {
        /// The thread's name.
        name: &'static str,
        /// The panic's message.
        message: String,
    },
    /// The thread is gone (it ended, or the service asked to stop).
    #[error("the {name} thread has stopped")]
    Stopped {
        /// The thread's name.
        name: &'static str,
    },
}

/// A panic's message.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown cause".into())
}

#[cfg(test)]
mod tests;
