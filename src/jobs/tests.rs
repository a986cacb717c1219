//! The job mechanism, driven synchronously and on threads. Threaded tests never sleep: they
//! block on channels the test controls, and their timeouts only guard against a hang.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

/// Long enough never to matter on a busy machine; only a hang reaches it.
const HANG: Duration = Duration::from_secs(120);

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
enum TestError {
    #[error("odd input {0}")]
    Odd(u32),
    #[error("cancelled")]
    Cancelled(#[from] Cancelled),
}

/// Doubles even numbers. Records which requests ran and on which thread; a request
/// `blocking` waits for the test's go-ahead on `gate` before it checks its flag.
struct Doubler {
    ran: Arc<Mutex<Vec<u32>>>,
    threads: Arc<Mutex<Vec<Option<String>>>>,
    gate: Option<Receiver<()>>,
    started: Option<Sender<u32>>,
}

struct Ask {
    value: u32,
    blocking: bool,
    panics: bool,
}

fn ask(value: u32) -> Ask {
    Ask {
        value,
        blocking: false,
        panics: false,
    }
}

impl Task for Doubler {
    type Request = Ask;
    type Update = String;
    type Output = u32;
    type Error = TestError;
    fn run(&mut self, request: Ask, context: &Context<String>) -> Result<u32, TestError> {
        self.ran.lock().expect("lock").push(request.value);
        self.threads
            .lock()
            .expect("lock")
            .push(std::thread::current().name().map(str::to_string));
        context.update(format!("start {}", request.value));
        context.progress(0.5, "halfway");
        if let Some(started) = &self.started {
            let _ = started.send(request.value);
        }
        if request.blocking
            && let Some(gate) = &self.gate
        {
            gate.recv_timeout(HANG).expect("the test opens the gate");
        }
        assert!(!request.panics, "asked to panic on {}", request.value);
        context.checkpoint()?;
        if request.value % 2 == 1 {
            return Err(TestError::Odd(request.value));
        }
        context.update(format!("end {}", request.value));
        Ok(2 * request.value)
    }
}

type Ran = Arc<Mutex<Vec<u32>>>;

fn doubler() -> (Doubler, Ran) {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let task = Doubler {
        ran: Arc::clone(&ran),
        threads: Arc::new(Mutex::new(Vec::new())),
        gate: None,
        started: None,
    };
    (task, ran)
}

fn finished<U, O: Clone, E: Clone>(events: &[JobEvent<U, O, E>]) -> Option<Result<O, JobError<E>>> {
    events.iter().find_map(|e| match e {
        JobEvent::Finished(result) => Some(result.clone()),
        JobEvent::Update(_) => None,
    })
}

#[test]
fn inline_job_runs_the_latest_request_inside_poll() {
    let (task, ran) = doubler();
    let mut job = Job::inline(task);
    assert!(!job.is_running());
    assert!(job.poll().is_empty(), "nothing asked, nothing told");
    job.request(ask(2));
    job.request(ask(4));
    assert!(job.is_running());
    assert!(
        ran.lock().expect("lock").is_empty(),
        "nothing runs before poll"
    );
    let events = job.poll();
    assert_eq!(
        *ran.lock().expect("lock"),
        vec![4],
        "the older request was dropped"
    );
    assert_eq!(
        events,
        vec![
            JobEvent::Update("start 4".into()),
            JobEvent::Update("end 4".into()),
            JobEvent::Finished(Ok(8)),
        ]
    );
    assert!(!job.is_running());
    assert_eq!(
        job.progress(),
        Some(Progress {
            fraction: 0.5,
            phase: "halfway".into()
        })
    );
    assert!(job.poll().is_empty(), "each event is handed over once");
}

#[test]
fn inline_job_reports_typed_errors_cancellation_and_panics() {
    let (task, ran) = doubler();
    let mut job = Job::inline(task);
    job.request(ask(3));
    assert_eq!(
        finished(&job.poll()),
        Some(Err(JobError::Failed(TestError::Odd(3))))
    );
    // Cancelled before it starts: it never runs.
    job.request(ask(6));
    job.cancel();
    assert_eq!(finished(&job.poll()), Some(Err(JobError::Cancelled)));
    assert_eq!(*ran.lock().expect("lock"), vec![3]);
    // A panic is caught and reported; the job serves the next request.
    job.request(Ask {
        panics: true,
        ..ask(10)
    });
    let Some(Err(JobError::Panicked { message, .. })) = finished(&job.poll()) else {
        panic!("the panic is reported");
    };
    assert!(message.contains("asked to panic on 10"), "{message}");
    job.request(ask(12));
    assert_eq!(finished(&job.poll()), Some(Ok(24)));
}

/// Reports the progress it is asked for, then whether it was cancelled.
struct Reporter;

impl Task for Reporter {
    type Request = f64;
    type Update = ();
    type Output = bool;
    type Error = Cancelled;
    fn run(&mut self, fraction: f64, context: &Context<()>) -> Result<bool, Cancelled> {
        context.progress(fraction, format!("at {fraction}"));
        assert!(!context.cancel_flag().load(Ordering::Relaxed));
        context.checkpoint()?;
        Ok(context.is_cancelled())
    }
}

#[test]
fn progress_is_clamped_and_belongs_to_the_current_request() {
    let mut job = Job::inline(Reporter);
    assert_eq!(job.progress(), None);
    job.request(1.7);
    assert_eq!(finished(&job.poll()), Some(Ok(false)));
    assert_eq!(job.progress().map(|p| p.fraction), Some(1.0));
    job.request(f64::NAN);
    assert_eq!(
        job.progress(),
        None,
        "a new request starts without progress"
    );
    job.poll();
    assert_eq!(job.progress().map(|p| p.fraction), Some(0.0));
    job.request(0.25);
    job.poll();
    assert_eq!(
        job.progress(),
        Some(Progress {
            fraction: 0.25,
            phase: "at 0.25".into()
        })
    );
}

/// A task on its own thread, with a gate the test opens, a channel telling the test which
/// request has started, and the record of what ran where.
struct Threaded {
    job: Job<Doubler>,
    ran: Ran,
    open: Sender<()>,
    starts: Receiver<u32>,
    threads: Arc<Mutex<Vec<Option<String>>>>,
}

fn threaded_doubler(name: &'static str) -> Threaded {
    let (task, ran) = doubler();
    let (open, gate) = channel();
    let (started, starts) = channel();
    let threads = Arc::clone(&task.threads);
    let task = Doubler {
        gate: Some(gate),
        started: Some(started),
        ..task
    };
    let job = Job::spawn(task, JobSpec::background(name).with_threads(1)).expect("thread");
    Threaded {
        job,
        ran,
        open,
        starts,
        threads,
    }
}

/// A request's result.
type Answer<T> = Result<<T as Task>::Output, JobError<<T as Task>::Error>>;

/// Wait for the current request's `Finished` event, gathering its updates.
fn wait_finished<T: Task>(job: &mut Job<T>) -> (Vec<T::Update>, Answer<T>) {
    let mut updates = Vec::new();
    loop {
        let events = job.wait(HANG);
        assert!(!events.is_empty(), "no answer within {HANG:?}");
        for event in events {
            match event {
                JobEvent::Update(u) => updates.push(u),
                JobEvent::Finished(result) => return (updates, result),
            }
        }
    }
}

#[test]
fn threaded_job_runs_on_a_named_background_thread() {
    let Threaded {
        mut job, threads, ..
    } = threaded_doubler("test-job-name");
    assert!(job.is_threaded());
    job.request(ask(2));
    let (updates, result) = wait_finished(&mut job);
    assert_eq!(result, Ok(4));
    assert_eq!(updates, vec!["start 2".to_string(), "end 2".to_string()]);
    // The pool of one thread runs the work: it is named after the job.
    assert_eq!(
        threads.lock().expect("lock").as_slice(),
        [Some("test-job-name-0".to_string())]
    );
}

#[cfg(target_os = "linux")]
#[test]
fn threaded_job_runs_at_low_priority() {
    struct Niceness;
    impl Task for Niceness {
        type Request = ();
        type Update = ();
        type Output = i32;
        type Error = Cancelled;
        fn run(&mut self, _: (), _: &Context<()>) -> Result<i32, Cancelled> {
            Ok(rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(0))
        }
    }
    for threads in [0, 1] {
        let spec = JobSpec::background("test-nice").with_threads(threads);
        let mut job = Job::spawn(Niceness, spec).expect("thread");
        job.request(());
        let (_, niceness) = wait_finished(&mut job);
        assert_eq!(niceness, Ok(BACKGROUND_NICENESS), "{threads} pool threads");
    }
}

/// Request 1 blocks inside the task; requests 2 and 3 arrive meanwhile. Request 1 is told to
/// stop (its flag is set), 2 never runs, 3 runs and is the only one reported.
#[test]
fn threaded_job_latest_request_wins() {
    let Threaded {
        mut job,
        ran,
        open,
        starts,
        ..
    } = threaded_doubler("test-latest");
    job.request(Ask {
        blocking: true,
        ..ask(2)
    });
    assert_eq!(starts.recv_timeout(HANG), Ok(2));
    job.request(ask(4));
    job.request(ask(6));
    open.send(()).expect("gate");
    let (updates, result) = wait_finished(&mut job);
    assert_eq!(result, Ok(12));
    assert_eq!(updates, vec!["start 6".to_string(), "end 6".to_string()]);
    assert_eq!(*ran.lock().expect("lock"), vec![2, 6]);
    assert!(!job.is_running());
    assert!(
        job.poll().is_empty(),
        "nothing of request 2 or 4 arrives later"
    );
}

/// Cancel a running request, then start a new one: the first ends as cancelled and the next
/// runs cleanly, with its own progress.
#[test]
fn threaded_job_cancels_and_restarts_cleanly() {
    let Threaded {
        mut job,
        ran,
        open,
        starts,
        ..
    } = threaded_doubler("test-cancel");
    job.request(Ask {
        blocking: true,
        ..ask(8)
    });
    assert_eq!(starts.recv_timeout(HANG), Ok(8));
    job.cancel();
    open.send(()).expect("gate");
    let (updates, result) = wait_finished(&mut job);
    assert_eq!(result, Err(JobError::Cancelled));
    assert_eq!(updates, vec!["start 8".to_string()]);
    job.request(ask(10));
    let (updates, result) = wait_finished(&mut job);
    assert_eq!(result, Ok(20));
    assert_eq!(updates, vec!["start 10".to_string(), "end 10".to_string()]);
    assert_eq!(job.progress().map(|p| p.phase), Some("halfway".to_string()));
    assert_eq!(*ran.lock().expect("lock"), vec![8, 10]);
}

/// Dropping a job whose request is running cancels it and ends the thread.
#[test]
fn dropping_a_threaded_job_cancels_it() {
    let Threaded {
        mut job,
        open,
        starts,
        ..
    } = threaded_doubler("test-drop");
    job.request(Ask {
        blocking: true,
        ..ask(2)
    });
    assert_eq!(starts.recv_timeout(HANG), Ok(2));
    open.send(()).expect("gate");
    drop(job);
}

/// A counter that counts while playing and publishes its count.
struct Counter {
    count: u64,
    playing: bool,
}

enum CounterCommand {
    Play,
    Pause,
    Add(u64),
    Stop,
    Panic,
}

impl Service for Counter {
    type Command = CounterCommand;
    type Snapshot = (u64, bool);
    fn apply(&mut self, command: CounterCommand) -> Flow {
        match command {
            CounterCommand::Play => self.playing = true,
            CounterCommand::Pause => self.playing = false,
            CounterCommand::Add(n) => self.count += n,
            CounterCommand::Stop => return Flow::Stop,
            CounterCommand::Panic => panic!("the counter broke"),
        }
        Flow::Continue
    }
    fn is_busy(&self) -> bool {
        self.playing
    }
    fn advance(&mut self) {
        self.count += 1;
    }
    fn snapshot(&self) -> Option<(u64, bool)> {
        Some((self.count, self.playing))
    }
}

fn counter() -> Counter {
    Counter {
        count: 0,
        playing: false,
    }
}

#[test]
fn inline_service_advances_once_per_latest_while_busy() {
    let mut handle = ServiceHandle::inline(counter());
    assert!(!handle.is_threaded());
    assert_eq!(handle.latest().as_deref(), Some(&(0, false)));
    handle.send(CounterCommand::Add(10)).expect("inline");
    assert_eq!(handle.latest().as_deref(), Some(&(10, false)));
    handle.send(CounterCommand::Play).expect("inline");
    assert_eq!(handle.latest().as_deref(), Some(&(11, true)));
    assert_eq!(handle.latest().as_deref(), Some(&(12, true)));
    handle.send(CounterCommand::Pause).expect("inline");
    assert_eq!(handle.latest().as_deref(), Some(&(12, false)));
    assert_eq!(handle.inline_service().map(|c| c.count), Some(12));
    assert!(handle.failure().is_none());
    // Paused, waiting for a count it will never reach returns at once.
    assert!(handle.wait_for(HANG, |s| s.0 > 100).is_none());
}

#[test]
fn threaded_service_applies_commands_in_order_and_publishes() {
    let repaints = Arc::new(Mutex::new(0u64));
    let counted = Arc::clone(&repaints);
    let spec = JobSpec::background("test-service")
        .with_threads(0)
        .with_repaint(move || *counted.lock().expect("lock") += 1);
    let mut handle = ServiceHandle::spawn(counter(), spec).expect("thread");
    assert!(handle.is_threaded() && handle.inline_service().is_none());
    handle.send(CounterCommand::Add(5)).expect("running");
    handle.send(CounterCommand::Add(7)).expect("running");
    let seen = handle.wait_for(HANG, |s| s.0 == 12).expect("12 published");
    assert_eq!(*seen, (12, false));
    handle.send(CounterCommand::Play).expect("running");
    let seen = handle.wait_for(HANG, |s| s.0 >= 20).expect("counting");
    assert!(seen.1);
    handle.send(CounterCommand::Pause).expect("running");
    let paused = handle.wait_for(HANG, |s| !s.1).expect("paused");
    assert_eq!(
        handle.latest().as_deref(),
        Some(&*paused),
        "no update after a pause"
    );
    assert!(*repaints.lock().expect("lock") >= 3);
    assert!(handle.failure().is_none());
}

#[test]
fn threaded_service_reports_a_stop_and_a_panic() {
    let mut handle =
        ServiceHandle::spawn(counter(), JobSpec::background("test-stop").with_threads(0))
            .expect("thread");
    handle.send(CounterCommand::Stop).expect("running");
    assert!(handle.wait_for(HANG, |_| false).is_none());
    assert_eq!(
        handle.failure(),
        Some(ThreadError::Stopped { name: "test-stop" })
    );
    let mut handle =
        ServiceHandle::spawn(counter(), JobSpec::background("test-panic").with_threads(1))
            .expect("thread");
    handle.send(CounterCommand::Panic).expect("running");
    assert!(handle.wait_for(HANG, |_| false).is_none());
    let Some(ThreadError::Panicked { name, message }) = handle.failure() else {
        panic!("the panic is reported: {:?}", handle.failure());
    };
    assert_eq!(name, "test-panic");
    assert!(message.contains("the counter broke"), "{message}");
}
