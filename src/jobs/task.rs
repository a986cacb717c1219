//! Background computations that answer requests, the latest request winning.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::service::{Flow, Service, ServiceHandle};
use super::{JobSpec, Repaint, ThreadError, panic_message};

/// A background computation that answers requests (the Fokker–Planck solve, the posterior
/// curves, a network or MNIST run); see [`Job`].
pub trait Task: Send + 'static {
    /// What the interface asks for.
    type Request: Send + 'static;
    /// Intermediate results delivered in order (e.g. one per epoch); `()` if none.
    type Update: Send + 'static;
    /// The answer.
    type Output: Send + 'static;
    /// Why there is no answer.
    type Error: std::error::Error + Send + 'static;
    /// Answer one request. Poll [`Context::is_cancelled`] (or [`Context::checkpoint`]) often
    /// enough to stop promptly; report through [`Context::progress`] and
    /// [`Context::update`].
    fn run(
        &mut self,
        request: Self::Request,
        context: &Context<Self::Update>,
    ) -> Result<Self::Output, Self::Error>;
}

/// Why a [`Task`]'s request produced no output.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum JobError<E> {
    /// [`Job::cancel`] was called (before the request started, or while it ran and the task
    /// gave up).
    #[error("cancelled")]
    Cancelled,
    /// The task failed.
    #[error(transparent)]
    Failed(E),
    /// The task panicked on this request (the job keeps serving later requests).
    #[error("the {name} job crashed: {message}")]
    Panicked {
        /// The job's name.
        name: &'static str,
        /// The panic's message.
        message: String,
    },
    /// The job's thread is gone.
    #[error(transparent)]
    Thread(#[from] ThreadError),
}

/// What a task returns (through `?` and a `From` conversion into its error) when it notices
/// it was cancelled; see [`Context::checkpoint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// How far the current request has come.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// From 0 (started) to 1 (done).
    pub fraction: f64,
    /// What it is doing, in words ("training", "η 3 of 16").
    pub phase: String,
}

/// What a [`Job`] hands the interface about its current request, in order: any number of
/// updates, then one `Finished`.
#[derive(Clone, Debug, PartialEq)]
pub enum JobEvent<U, O, E> {
    /// An intermediate result.
    Update(U),
    /// The answer; the request is over.
    Finished(Result<O, JobError<E>>),
}

/// The events of a task `T`.
pub type Event<T> = JobEvent<<T as Task>::Update, <T as Task>::Output, <T as Task>::Error>;

/// The current request's number, its events and its progress.
struct State<T: Task> {
    current: u64,
    events: VecDeque<Event<T>>,
    progress: Option<Progress>,
}

/// What a task's thread and its handle share.
struct Shared<T: Task> {
    state: Mutex<State<T>>,
    changed: std::sync::Condvar,
    repaint: Repaint,
    name: &'static str,
}

impl<T: Task> Shared<T> {
    fn new(name: &'static str, repaint: Repaint) -> Self {
        Self {
            state: Mutex::new(State {
                current: 0,
                events: VecDeque::new(),
                progress: None,
            }),
            changed: std::sync::Condvar::new(),
            repaint,
            name,
        }
    }

    fn state(&self) -> MutexGuard<'_, State<T>> {
        // A poisoned lock only means a panic elsewhere while it was held; the queue is whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record `event` for request `ticket` unless a newer request replaced it.
    fn push(&self, ticket: u64, event: Event<T>) {
        let mut state = self.state();
        if state.current != ticket {
            return;
        }
        state.events.push_back(event);
        drop(state);
        self.changed.notify_all();
        (self.repaint)();
    }
}

/// Where a [`Context`] sends what the task reports.
trait Sink<U>: Send + Sync {
    fn progress(&self, ticket: u64, progress: Progress);
    fn update(&self, ticket: u64, update: U);
}

impl<T: Task> Sink<T::Update> for Shared<T> {
    fn progress(&self, ticket: u64, progress: Progress) {
        let mut state = self.state();
        if state.current != ticket {
            return;
        }
        state.progress = Some(progress);
        drop(state);
        (self.repaint)();
    }
    fn update(&self, ticket: u64, update: T::Update) {
        self.push(ticket, JobEvent::Update(update));
    }
}

/// What a running [`Task`] sees of its job: the cancellation flag and the way back to the
/// interface. It may be shared between threads the task starts.
pub struct Context<U> {
    ticket: u64,
    cancel: Arc<AtomicBool>,
    sink: Arc<dyn Sink<U>>,
}

impl<U> Context<U> {
    /// Whether the request was cancelled or replaced by a newer one: stop soon.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once cancelled: `context.checkpoint()?` in a task whose error
    /// converts from [`Cancelled`].
    pub fn checkpoint(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// The cancellation flag itself, for library functions that poll an `&AtomicBool`.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// Report progress: `fraction` of the work done (clamped to 0..=1; not finite: 0) and
    /// the phase in words.
    pub fn progress(&self, fraction: f64, phase: impl Into<String>) {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.sink.progress(
            self.ticket,
            Progress {
                fraction,
                phase: phase.into(),
            },
        );
    }

    /// Deliver an intermediate result (it reaches [`Job::poll`] in order, before the end).
    pub fn update(&self, update: U) {
        self.sink.update(self.ticket, update);
    }
}

/// One request on its way to the task.
struct Order<R> {
    ticket: u64,
    request: R,
    cancel: Arc<AtomicBool>,
}

/// A [`Task`] as a [`Service`]: commands are requests, and the newest pending one runs.
struct Runner<T: Task> {
    task: T,
    pending: Option<Order<T::Request>>,
    shared: Arc<Shared<T>>,
}

impl<T: Task> Runner<T> {
    fn run(&mut self, order: Order<T::Request>) {
        let Order {
            ticket,
            request,
            cancel,
        } = order;
        let shared = &self.shared;
        if cancel.load(Ordering::Relaxed) {
            shared.push(ticket, JobEvent::Finished(Err(JobError::Cancelled)));
            return;
        }
        let context = Context {
            ticket,
            cancel: Arc::clone(&cancel),
            sink: Arc::clone(shared) as Arc<dyn Sink<T::Update>>,
        };
        let task = &mut self.task;
        let outcome = catch_unwind(AssertUnwindSafe(|| task.run(request, &context)));
        let result = match outcome {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(_)) if cancel.load(Ordering::Relaxed) => Err(JobError::Cancelled),
            Ok(Err(error)) => Err(JobError::Failed(error)),
            Err(panic) => Err(JobError::Panicked {
                name: shared.name,
                message: panic_message(panic.as_ref()),
            }),
        };
        shared.push(ticket, JobEvent::Finished(result));
    }
}

impl<T: Task> Service for Runner<T> {
    type Command = Order<T::Request>;
    type Snapshot = ();

    fn apply(&mut self, order: Order<T::Request>) -> Flow {
        // The latest request wins: an older one that has not started is dropped.
        self.pending = Some(order);
        Flow::Continue
    }
    fn is_busy(&self) -> bool {
        self.pending.is_some()
    }
    fn advance(&mut self) {
        if let Some(order) = self.pending.take() {
            self.run(order);
        }
    }
    fn snapshot(&self) -> Option<()> {
        None
    }
}

/// The interface's handle on a [`Task`] running on its own thread (or inline, for tests).
///
/// Only the current (newest) request is ever reported. Dropping the job cancels its request
/// and waits for the thread to end.
pub struct Job<T: Task> {
    service: ServiceHandle<Runner<T>>,
    shared: Arc<Shared<T>>,
    ticket: u64,
    cancel: Arc<AtomicBool>,
    running: bool,
}

impl<T: Task> Job<T> {
    fn new(service: ServiceHandle<Runner<T>>, shared: Arc<Shared<T>>) -> Self {
        Self {
            service,
            shared,
            ticket: 0,
            cancel: Arc::new(AtomicBool::new(false)),
            running: false,
        }
    }

    /// Start `task` on a thread set up by `spec`.
    pub fn spawn(task: T, spec: JobSpec) -> Result<Self, ThreadError> {
        let shared = Arc::new(Shared::new(spec.name, Arc::clone(&spec.repaint)));
        let runner = Runner {
            task,
            pending: None,
            shared: Arc::clone(&shared),
        };
        Ok(Self::new(ServiceHandle::spawn(runner, spec)?, shared))
    }

    /// Run `task` on the caller's thread: a request runs inside the next
    /// [`poll`](Self::poll) (or [`wait`](Self::wait)).
    pub fn inline(task: T) -> Self {
        let shared = Arc::new(Shared::new("inline", Arc::new(|| {})));
        let runner = Runner {
            task,
            pending: None,
            shared: Arc::clone(&shared),
        };
        Self::new(ServiceHandle::inline(runner), shared)
    }

    /// Whether the task runs on its own thread.
    pub fn is_threaded(&self) -> bool {
        self.service.is_threaded()
    }

    /// Ask for `request`. It replaces the current request: a pending one is dropped, a
    /// running one is cancelled, and nothing more of either is reported.
    pub fn request(&mut self, request: T::Request) {
        self.cancel.store(true, Ordering::Relaxed);
        self.ticket += 1;
        self.cancel = Arc::new(AtomicBool::new(false));
        {
            let mut state = self.shared.state();
            state.current = self.ticket;
            state.events.clear();
            state.progress = None;
        }
        self.running = true;
        let order = Order {
            ticket: self.ticket,
            request,
            cancel: Arc::clone(&self.cancel),
        };
        if let Err(error) = self.service.send(order) {
            self.shared.push(
                self.ticket,
                JobEvent::Finished(Err(JobError::Thread(error))),
            );
        }
    }

    /// Cancel the current request: it ends with [`JobError::Cancelled`] unless it finishes
    /// first.
    pub fn cancel(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Whether the current request has not yet delivered its `Finished` event.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The current request's latest progress report.
    pub fn progress(&self) -> Option<Progress> {
        self.shared.state().progress.clone()
    }

    /// The current request's events since the last call (in the synchronous mode, after
    /// running a pending request).
    pub fn poll(&mut self) -> Vec<Event<T>> {
        self.service.pump();
        let mut events: Vec<Event<T>> = self.shared.state().events.drain(..).collect();
        let finished =
            |events: &[Event<T>]| events.iter().any(|e| matches!(e, JobEvent::Finished(_)));
        if self.running
            && !finished(&events)
            && let Some(error) = self.service.failure()
        {
            // A thread that has ended cannot answer.
            events.push(JobEvent::Finished(Err(JobError::Thread(error))));
        }
        if finished(&events) {
            self.running = false;
        }
        events
    }

    /// Block until the current request has events (or its thread is gone, or `timeout`
    /// passes), then return them as [`poll`](Self::poll) does. The timeout guards against a
    /// hang; it is not a pace.
    pub fn wait(&mut self, timeout: Duration) -> Vec<Event<T>> {
        if !self.running || !self.service.is_threaded() {
            return self.poll();
        }
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state();
        while state.events.is_empty() && self.service.failure().is_none() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            // Wake now and then to notice a thread that ended without a word.
            let wait = (deadline - now).min(Duration::from_millis(100));
            state = self
                .shared
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(state);
        self.poll()
    }
}

impl<T: Task> Drop for Job<T> {
    fn drop(&mut self) {
        // Stop the running request; the service handle then ends and joins the thread.
        self.cancel.store(true, Ordering::Relaxed);
    }
}
