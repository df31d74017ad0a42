//! The threads guardrail checks run on: a fixed pool, off the async workers.
//!
//! A check is CPU-bound work in the sandbox (bounded by each plugin's
//! deadline), so it must not run on a tokio worker that serves other
//! requests. It used to go to tokio's blocking pool behind a semaphore of
//! `parallel_checks` permits; that pool starts a new thread whenever no idle
//! one is left, and a permit is handed on before its thread is idle again, so
//! one check at a time still grew the pool to six or seven threads, each with
//! its own allocator heap (memory) and cold caches. Here exactly
//! `parallel_checks` threads take checks in the order they were asked for;
//! later ones wait in the queue. The threads start with the first check and
//! end when the last handle on the pool is dropped.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

/// A check to run: a closure that sends its own result back.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed number of threads for guardrail checks. Cheap to share: wrap it in
/// an `Arc`.
pub struct CheckPool {
    threads: usize,
    /// The queue's sending end, made (and the threads started) on first use.
    queue: OnceLock<Sender<Job>>,
}

/// Why a check gave no result: it panicked (the pool's thread survives).
#[derive(Debug, thiserror::Error)]
#[error("the guardrail check panicked")]
pub struct CheckPanicked;

impl CheckPool {
    /// A pool of `threads` threads (at least one), not started yet.
    pub fn new(threads: usize) -> CheckPool {
        CheckPool {
            threads: threads.max(1),
            queue: OnceLock::new(),
        }
    }

    /// How many checks run at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `check` on one of the pool's threads once one is free, and gives
    /// its result.
    pub async fn run<T, F>(&self, check: F) -> Result<T, CheckPanicked>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(check));
            // The caller may have gone (its request was dropped): nothing to do.
            let _ = done.send(outcome);
        });
        if self.queue().send(job).is_err() {
            return Err(CheckPanicked); // no thread could start
        }
        match result.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) | Err(_) => Err(CheckPanicked),
        }
    }

    fn queue(&self) -> &Sender<Job> {
        self.queue.get_or_init(|| {
            let (sender, receiver) = std::sync::mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for n in 0..self.threads {
                let receiver = receiver.clone();
                let started = std::thread::Builder::new()
                    .name(format!("sluice-check-{n}"))
                    .spawn(move || take_checks(&receiver));
                if let Err(e) = started {
                    tracing::error!(error = %e, "a guardrail check thread could not start");
                }
            }
            sender
        })
    }
}

/// A pool thread's life: the next check in the queue, until the queue closes.
fn take_checks(queue: &Mutex<Receiver<Job>>) {
    loop {
        let next = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => job(),
            Err(_) => return, // every handle on the pool is gone
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn checks_run_on_the_pool_s_own_threads_and_never_more_at_once_than_it_has() {
        let pool = Arc::new(CheckPool::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let names = Arc::new(Mutex::new(HashSet::new()));
        let mut checks = Vec::new();
        for _ in 0..12 {
            let (pool, running, most, names) =
                (pool.clone(), running.clone(), most.clone(), names.clone());
            checks.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let name = std::thread::current().name().map(str::to_string);
                    names.lock().unwrap().insert(name);
                    std::thread::sleep(Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        for check in checks {
            check.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        let names = names.lock().unwrap();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.as_deref().is_some_and(|n| n.starts_with("sluice-check-"))),
            "{names:?}"
        );
    }

    #[tokio::test]
    async fn a_check_that_panics_is_an_error_and_its_thread_takes_the_next() {
        let pool = CheckPool::new(1);
        let panicked = pool.run(|| -> u32 { panic!("a bug in a check") }).await;
        assert!(panicked.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn the_pool_starts_its_threads_on_the_first_check() {
        let pool = CheckPool::new(3);
        assert!(pool.queue.get().is_none());
        assert_eq!(pool.run(|| "ok").await.unwrap(), "ok");
        assert!(pool.queue.get().is_some());
        assert_eq!(pool.threads(), 3);
    }
}
