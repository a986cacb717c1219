//! Long-lived background work driven by commands: the thread loop every job runs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{JobSpec, ThreadError, panic_message};
use crate::background::{lower_priority_to, thread_pool};

/// Whether a service keeps running after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// End the thread (as if the handle had been dropped).
    Stop,
}

/// Long-lived background work driven by commands (the simulation).
///
/// The loop applies every waiting command, publishes a snapshot, and while
/// [`is_busy`](Self::is_busy) calls [`advance`](Self::advance) (at most once per
/// [`JobSpec::min_advance_interval`]) and publishes again; an idle service sleeps until the
/// next command. Commands are never lost or reordered, and all commands waiting are applied
/// before the next `advance`.
pub trait Service: Send + 'static {
    /// Messages from the interface.
    type Command: Send + 'static;
    /// What the interface draws; only the newest matters.
    type Snapshot: Send + Sync + 'static;
    /// Apply one command.
    fn apply(&mut self, command: Self::Command) -> Flow;
    /// Whether there is work to do without a command (e.g. the simulation is playing).
    fn is_busy(&self) -> bool;
    /// One unit of work (e.g. one update of every walker). Keep it short: commands wait
    /// for it to end.
    fn advance(&mut self);
    /// The state to publish, if there is any yet.
    fn snapshot(&self) -> Option<Self::Snapshot>;
    /// Whether to publish a snapshot after this [`advance`](Self::advance) (after commands
    /// the loop always publishes). A service that advances in short ticks publishes at its
    /// own pace by answering `false` in between; the default publishes after every advance.
    fn snapshot_due(&mut self) -> bool {
        true
    }
}

/// The newest snapshot (with a count of publications) and the thread's failure, shared by a
/// service thread and its handle.
struct Published<T> {
    slot: Mutex<(u64, Option<Arc<T>>)>,
    changed: Condvar,
    failure: Mutex<Option<ThreadError>>,
}

impl<T> Published<T> {
    fn new() -> Self {
        Self {
            slot: Mutex::new((0, None)),
            changed: Condvar::new(),
            failure: Mutex::new(None),
        }
    }

    fn slot(&self) -> MutexGuard<'_, (u64, Option<Arc<T>>)> {
        // A poisoned lock only means a panic elsewhere while it was held; a counter and an
        // Arc are still whole.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, snapshot: Option<T>) {
        let mut slot = self.slot();
        slot.0 += 1;
        slot.1 = snapshot.map(Arc::new);
        drop(slot);
        self.changed.notify_all();
    }

    fn fail(&self, error: ThreadError) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        failure.get_or_insert(error);
        drop(failure);
        self.changed.notify_all();
    }

    fn failure(&self) -> Option<ThreadError> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

enum Mode<S: Service> {
    Threaded {
        sender: Option<Sender<S::Command>>,
        published: Arc<Published<S::Snapshot>>,
        thread: Option<JoinHandle<()>>,
        name: &'static str,
    },
    Inline {
        service: Box<S>,
    },
}

/// The interface's handle on a [`Service`]: on its own thread, or inline (tests).
///
/// Dropping the handle ends the thread after its current [`Service::advance`] and waits for
/// it.
pub struct ServiceHandle<S: Service> {
    mode: Mode<S>,
}

impl<S: Service> ServiceHandle<S> {
    /// Start `service` on a thread set up by `spec`.
    pub fn spawn(service: S, spec: JobSpec) -> Result<Self, ThreadError> {
        let (sender, receiver) = channel();
        let published = Arc::new(Published::new());
        let theirs = Arc::clone(&published);
        let name = spec.name;
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || service_loop(service, &receiver, &theirs, &spec))
            .map_err(|e| ThreadError::Spawn {
                name,
                message: e.to_string(),
            })?;
        Ok(Self {
            mode: Mode::Threaded {
                sender: Some(sender),
                published,
                thread: Some(thread),
                name,
            },
        })
    }

    /// Run `service` on the caller's thread: [`send`](Self::send) applies a command at once
    /// and [`latest`](Self::latest) first advances a busy service by one unit.
    pub fn inline(service: S) -> Self {
        Self {
            mode: Mode::Inline {
                service: Box::new(service),
            },
        }
    }

    /// Whether the service runs on its own thread.
    pub fn is_threaded(&self) -> bool {
        matches!(self.mode, Mode::Threaded { .. })
    }

    /// Send a command (applied at once in the synchronous mode, where [`Flow::Stop`] has no
    /// thread to end).
    pub fn send(&mut self, command: S::Command) -> Result<(), ThreadError> {
        match &mut self.mode {
            Mode::Threaded {
                sender,
                published,
                name,
                ..
            } => {
                if sender.as_ref().is_some_and(|s| s.send(command).is_ok()) {
                    Ok(())
                } else {
                    Err(published.failure().unwrap_or(ThreadError::Stopped { name }))
                }
            }
            Mode::Inline { service } => {
                service.apply(command);
                Ok(())
            }
        }
    }

    /// The newest snapshot. In the synchronous mode a busy service first advances by one
    /// unit, and the snapshot is made now.
    pub fn latest(&mut self) -> Option<Arc<S::Snapshot>> {
        match &mut self.mode {
            Mode::Threaded { published, .. } => published.slot().1.clone(),
            Mode::Inline { service } => {
                if service.is_busy() {
                    service.advance();
                }
                service.snapshot().map(Arc::new)
            }
        }
    }

    /// Block until a snapshot that `accept`s is published (or the thread fails, or `timeout`
    /// passes) and return it. The timeout guards against a hang; it is not a pace. In the
    /// synchronous mode, advance until a snapshot is accepted or the service is idle.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        accept: impl Fn(&S::Snapshot) -> bool,
    ) -> Option<Arc<S::Snapshot>> {
        let deadline = Instant::now() + timeout;
        match &mut self.mode {
            Mode::Threaded { published, .. } => {
                let mut slot = published.slot();
                loop {
                    if let Some(snapshot) = slot.1.as_ref().filter(|s| accept(s)) {
                        return Some(Arc::clone(snapshot));
                    }
                    let now = Instant::now();
                    if now >= deadline || published.failure().is_some() {
                        return None;
                    }
                    slot = published
                        .changed
                        .wait_timeout(slot, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
            Mode::Inline { service } => loop {
                if let Some(snapshot) = service.snapshot().filter(|s| accept(s)) {
                    return Some(Arc::new(snapshot));
                }
                if !service.is_busy() || Instant::now() >= deadline {
                    return None;
                }
                service.advance();
            },
        }
    }

    /// Why the thread is gone, if it is.
    pub fn failure(&self) -> Option<ThreadError> {
        match &self.mode {
            Mode::Threaded {
                published,
                thread,
                name,
                ..
            } => published.failure().or_else(|| {
                thread
                    .as_ref()
                    .is_some_and(JoinHandle::is_finished)
                    .then_some(ThreadError::Stopped { name })
            }),
            Mode::Inline { .. } => None,
        }
    }

    /// The service itself in the synchronous mode (tests inspect it); `None` when it runs on
    /// its own thread.
    pub fn inline_service(&mut self) -> Option<&mut S> {
        match &mut self.mode {
            Mode::Threaded { .. } => None,
            Mode::Inline { service } => Some(service),
        }
    }

    /// In the synchronous mode, advance a busy service by one unit (a thread works on its
    /// own). Whether it did.
    pub(super) fn pump(&mut self) -> bool {
        match &mut self.mode {
            Mode::Inline { service } if service.is_busy() => {
                service.advance();
                true
            }
            _ => false,
        }
    }
}

impl<S: Service> Drop for ServiceHandle<S> {
    fn drop(&mut self) {
        if let Mode::Threaded { sender, thread, .. } = &mut self.mode {
            sender.take();
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// The thread of a [`ServiceHandle`].
fn service_loop<S: Service>(
    mut service: S,
    receiver: &Receiver<S::Command>,
    published: &Published<S::Snapshot>,
    spec: &JobSpec,
) {
    lower_priority_to(spec.niceness);
    let pool = (spec.threads > 0)
        .then(|| thread_pool(spec.name, spec.threads, spec.niceness))
        .flatten();
    let mut next_advance = Instant::now();
    loop {
        let command = if service.is_busy() {
            let wait = next_advance.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(wait) {
                Ok(command) => Some(command),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match receiver.recv() {
                Ok(command) => Some(command),
                Err(_) => return,
            }
        };
        // Take everything queued before working again.
        let advancing = command.is_none();
        let mut commands: Vec<S::Command> = command.into_iter().collect();
        let mut disconnected = false;
        if !advancing {
            loop {
                match receiver.try_recv() {
                    Ok(next) => commands.push(next),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
        }
        let work = |service: &mut S| {
            if advancing {
                service.advance();
                return Flow::Continue;
            }
            for command in commands {
                if service.apply(command) == Flow::Stop {
                    return Flow::Stop;
                }
            }
            Flow::Continue
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| match &pool {
            Some(pool) => pool.install(|| work(&mut service)),
            None => work(&mut service),
        }));
        if advancing {
            next_advance = Instant::now() + spec.min_advance_interval;
        }
        if disconnected {
            return;
        }
        match outcome {
            Ok(Flow::Continue) if advancing && !service.snapshot_due() => {}
            Ok(Flow::Continue) => {
                let snapshot = service.snapshot();
                let any = snapshot.is_some();
                published.publish(snapshot);
                if any {
                    (spec.repaint)();
                }
            }
            Ok(Flow::Stop) => {
                published.fail(ThreadError::Stopped { name: spec.name });
                (spec.repaint)();
                return;
            }
            Err(panic) => {
                published.fail(ThreadError::Panicked {
                    name: spec.name,
                    message: panic_message(panic.as_ref()),
                });
                (spec.repaint)();
                return;
            }
        }
    }
}
