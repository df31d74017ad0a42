//! The one wasmtime [`Engine`] and the thread that drives its epoch clock.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;
use wasmtime::{Config, Engine, OptLevel, ProfilingStrategy};

/// How often the epoch advances. Deadlines are whole ticks, so a call's deadline
/// is honoured to within one tick.
pub const TICK: Duration = Duration::from_millis(1);

/// Builds the engine every plugin runs in. The settings here are part of the
/// precompiled-artifact cache key (through wasmtime's compatibility hash).
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    // Wall-clock deadlines: cheap checks at loop headers and function entries.
    config.epoch_interruption(true);
    config.cranelift_opt_level(OptLevel::Speed);
    // `SLUICE_WASM_PERFMAP=1`: plugin code is listed in /tmp/perf-<pid>.map,
    // so that `perf` names the functions of plugins compiled in memory (a
    // precompiled artifact is a mapped file that `perf` reads by itself).
    if std::env::var_os("SLUICE_WASM_PERFMAP").is_some_and(|v| v == "1") {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    Engine::new(&config)
}

/// Whether plugin code is running, for the epoch ticker: it advances the epoch
/// only while some call (or instantiation) is in flight, and sleeps otherwise,
/// so that an idle gateway does not wake a thousand times a second. Each store
/// holds one (see `store.rs`); cloning is a reference-count bump.
#[derive(Clone, Default)]
pub struct Clock {
    shared: Arc<ClockShared>,
}

#[derive(Default)]
struct ClockShared {
    /// Calls into plugin code in flight.
    running: AtomicUsize,
    /// Ticks so far.
    ticks: AtomicU64,
    /// Set when the ticker is to end.
    stop: AtomicBool,
    /// The ticker's thread, to wake when the first call starts.
    ticker: OnceLock<Thread>,
}

/// A call in flight: the ticker runs until every one is dropped.
#[must_use = "the epoch advances only while this is held"]
pub struct Awake {
    shared: Arc<ClockShared>,
}

impl Clock {
    /// Marks a call into plugin code as started: wakes the ticker if it
    /// sleeps. Hold the result until the call has returned.
    pub fn awake(&self) -> Awake {
        if self.shared.running.fetch_add(1, Ordering::SeqCst) == 0
            && let Some(ticker) = self.shared.ticker.get()
        {
            ticker.unpark();
        }
        Awake {
            shared: self.shared.clone(),
        }
    }

    /// Calls into plugin code in flight now.
    #[cfg(test)]
    fn running(&self) -> usize {
        self.shared.running.load(Ordering::SeqCst)
    }

    /// How many times the ticker has advanced the epoch.
    pub fn ticks(&self) -> u64 {
        self.shared.ticks.load(Ordering::Relaxed)
    }
}

impl Drop for Awake {
    fn drop(&mut self) {
        self.shared.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Advances an engine's epoch every [`TICK`] while its [`Clock`] says a call
/// is in flight, and sleeps while none is; until dropped.
pub struct EpochTicker {
    clock: Clock,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts the ticker thread for `engine`, driven by `clock`.
    pub fn start(engine: &Engine, clock: &Clock) -> std::io::Result<Self> {
        let engine = engine.clone();
        let shared = clock.shared.clone();
        let thread = std::thread::Builder::new()
            .name("sluice-epoch".into())
            .spawn(move || {
                while !shared.stop.load(Ordering::SeqCst) {
                    if shared.running.load(Ordering::SeqCst) == 0 {
                        // Woken by the next call (an `unpark` that came
                        // between the load and here makes this return at once).
                        std::thread::park();
                        continue;
                    }
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                    shared.ticks.fetch_add(1, Ordering::Relaxed);
                }
            })?;
        let _ = clock.shared.ticker.set(thread.thread().clone());
        // A call that started before the thread was known must not wait for it.
        thread.thread().unpark();
        Ok(EpochTicker {
            clock: clock.clone(),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.clock.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// The number of ticks to allow for `timeout`, rounded up, plus one so that a
/// tick landing just after the deadline was set does not cut the call short.
pub fn deadline_ticks(timeout: Duration) -> u64 {
    let ticks = timeout.as_nanos().div_ceil(TICK.as_nanos());
    u64::try_from(ticks).unwrap_or(u64::MAX - 1).max(1) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (a bounded while) until `condition` holds.
    fn eventually(condition: impl Fn() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if condition() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        condition()
    }

    #[test]
    fn the_epoch_advances_only_while_a_call_is_in_flight() {
        let engine = new_engine().unwrap();
        let clock = Clock::default();
        let _ticker = EpochTicker::start(&engine, &clock).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(clock.ticks(), 0, "ticks with no call in flight");
        let awake = clock.awake();
        assert!(eventually(|| clock.ticks() >= 5), "no ticks during a call");
        let second = clock.awake();
        drop(awake);
        let ticks = clock.ticks();
        assert!(
            eventually(|| clock.ticks() >= ticks + 5),
            "a call still runs"
        );
        drop(second);
        assert_eq!(clock.running(), 0);
        std::thread::sleep(Duration::from_millis(5));
        let idle = clock.ticks();
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            clock.ticks() <= idle + 1,
            "the ticker kept ticking after the calls"
        );
        let _again = clock.awake();
        assert!(
            eventually(|| clock.ticks() >= idle + 5),
            "no ticks for a later call"
        );
    }

    #[test]
    fn a_call_that_starts_before_the_ticker_is_not_left_without_ticks() {
        let engine = new_engine().unwrap();
        let clock = Clock::default();
        let _awake = clock.awake();
        let _ticker = EpochTicker::start(&engine, &clock).unwrap();
        assert!(eventually(|| clock.ticks() >= 3));
    }

    #[test]
    fn deadline_rounds_up_and_adds_a_tick() {
        assert_eq!(deadline_ticks(Duration::from_millis(100)), 101);
        assert_eq!(deadline_ticks(Duration::from_micros(1500)), 3);
        assert_eq!(deadline_ticks(Duration::ZERO), 2);
    }
}
