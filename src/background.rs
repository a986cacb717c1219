//! Background computation yields to whoever draws.
//!
//! The app, a simulation, a Fokker–Planck solve and an MNIST run share a laptop's few cores;
//! on a machine without a GPU driver the window is rasterised in software on those same cores.
//! Threads that compute mark themselves as background work, so the scheduler serves the
//! interface first and the computation takes every cycle the interface leaves.

/// Niceness of background computation (Linux: 0 is normal, 19 the lowest priority). At +19
/// the scheduler weights a thread about 70× below a normal one when both want the core, so
/// a simulation or an MNIST run takes only the cycles the interface leaves.
pub const BACKGROUND_NICENESS: i32 = 19;

/// Niceness of background work someone is waiting for (a prediction after a slider moved):
/// about 10× below the interface, 7× above [`BACKGROUND_NICENESS`].
pub const PROMPT_NICENESS: i32 = 10;

/// Lower the calling thread's scheduling priority to [`BACKGROUND_NICENESS`].
pub fn lower_priority() {
    lower_priority_to(BACKGROUND_NICENESS);
}

/// Lower the calling thread's scheduling priority to `niceness` (never raise it).
///
/// Only this thread changes (on Linux, niceness is per thread), and threads it creates
/// afterwards inherit it. Lowering one's own priority needs no privilege; a failure leaves the
/// thread as it was, which is merely slower to yield.
pub fn lower_priority_to(niceness: i32) {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let tid = rustix::thread::gettid();
        let current = getpriority_process(Some(tid)).unwrap_or(0);
        if current < niceness {
            let _ = setpriority_process(Some(tid), niceness);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
}

/// A rayon pool of `threads` threads named `name-0`, `name-1`, … at `niceness`.
pub fn thread_pool(name: &'static str, threads: usize, niceness: i32) -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{name}-{i}"))
        .start_handler(move |_| lower_priority_to(niceness))
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    fn niceness() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("getpriority")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn lowers_only_the_calling_thread() {
        let before = niceness();
        let inside = std::thread::spawn(|| {
            lower_priority();
            niceness()
        })
        .join()
        .expect("thread");
        assert_eq!(inside, BACKGROUND_NICENESS.max(before));
        assert_eq!(niceness(), before, "the calling thread's priority leaked");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pool_threads_run_in_the_background() {
        let pool = thread_pool("test-background", 2, BACKGROUND_NICENESS).expect("pool");
        let seen: Vec<i32> = pool.install(|| {
            use rayon::prelude::*;
            (0..64).into_par_iter().map(|_| niceness()).collect()
        });
        assert!(seen.iter().all(|&n| n >= BACKGROUND_NICENESS), "{seen:?}");
    }
}
