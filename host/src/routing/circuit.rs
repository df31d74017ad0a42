//! Circuit breaking: a target that keeps failing is skipped for a cool-down,
//! then given one probe request; a success closes it again.

use crate::config::CircuitBreakerConfig;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
enum State {
    /// Serving; this many failures in a row so far.
    Closed(u32),
    /// Skipped until then.
    Open(Instant),
    /// One probe is out; others are skipped until it answers.
    Probing,
}

/// The circuits of every target, by `@provider/model`.
///
/// The table is a plain mutex: every change to it is one assignment, so a
/// panic while it is held cannot leave it half-changed, and a poisoned lock
/// is taken over rather than failing every later request.
#[derive(Debug)]
pub struct Breakers {
    config: CircuitBreakerConfig,
    circuits: Mutex<HashMap<String, State>>,
}

/// Whether a target may be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Yes.
    Go,
    /// No: its circuit is open for this long yet.
    Skip(Duration),
}

impl Breakers {
    /// Circuits as `config` says.
    pub fn new(config: &CircuitBreakerConfig) -> Self {
        Breakers {
            config: config.clone(),
            circuits: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `target` may be tried; after a cool-down, lets one probe through.
    pub fn permit(&self, target: &str) -> Permit {
        if !self.config.enabled {
            return Permit::Go;
        }
        let mut circuits = self.circuits.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(state) = circuits.get_mut(target) else {
            return Permit::Go;
        };
        match *state {
            State::Closed(_) => Permit::Go,
            State::Open(until) => {
                let now = Instant::now();
                if now >= until {
                    *state = State::Probing;
                    Permit::Go
                } else {
                    Permit::Skip(until - now)
                }
            }
            State::Probing => Permit::Skip(Duration::from_secs(1)),
        }
    }

    /// Records how a try of `target` went: `failed` for failures that say the
    /// target is unwell (not a 4xx, which is the request's fault).
    pub fn record(&self, target: &str, failed: bool) {
        if !self.config.enabled {
            return;
        }
        let mut circuits = self.circuits.lock().unwrap_or_else(PoisonError::into_inner);
        if !failed {
            circuits.remove(target);
            return;
        }
        let state = circuits
            .entry(target.to_string())
            .or_insert(State::Closed(0));
        let cooldown = Instant::now() + Duration::from_secs(self.config.cooldown_s);
        *state = match *state {
            State::Closed(n) if n + 1 >= self.config.failures => {
                tracing::warn!(
                    target,
                    cooldown_s = self.config.cooldown_s,
                    "circuit opened: the target is skipped"
                );
                State::Open(cooldown)
            }
            State::Closed(n) => State::Closed(n + 1),
            // A failed probe (or a late failure) opens it again.
            State::Probing | State::Open(_) => State::Open(cooldown),
        };
    }

    /// The targets whose circuit is open now (for metrics and health).
    pub fn open_circuits(&self) -> Vec<String> {
        let now = Instant::now();
        let circuits = self.circuits.lock().unwrap_or_else(PoisonError::into_inner);
        circuits
            .iter()
            .filter(|(_, s)| {
                matches!(s, State::Open(until) if *until > now) || matches!(s, State::Probing)
            })
            .map(|(t, _)| t.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakers(cooldown_s: u64) -> Breakers {
        Breakers::new(&CircuitBreakerConfig {
            enabled: true,
            failures: 3,
            cooldown_s,
        })
    }

    #[test]
    fn a_target_is_skipped_after_failures_in_a_row() {
        let b = breakers(30);
        for _ in 0..2 {
            b.record("@a/m", true);
            assert_eq!(b.permit("@a/m"), Permit::Go);
        }
        b.record("@a/m", false);
        b.record("@a/m", true);
        b.record("@a/m", true);
        assert_eq!(
            b.permit("@a/m"),
            Permit::Go,
            "a success starts the count again"
        );
        b.record("@a/m", true);
        assert!(matches!(b.permit("@a/m"), Permit::Skip(d) if d > Duration::from_secs(29)));
        assert_eq!(b.permit("@b/m"), Permit::Go, "circuits are per target");
        assert_eq!(b.open_circuits(), ["@a/m"]);
    }

    #[test]
    fn after_the_cooldown_one_probe_decides() {
        let b = Breakers::new(&CircuitBreakerConfig {
            enabled: true,
            failures: 1,
            cooldown_s: 1,
        });
        b.record("@a/m", true);
        assert!(matches!(b.permit("@a/m"), Permit::Skip(_)));
        // Pretend the cool-down is over.
        b.circuits
            .lock()
            .unwrap()
            .insert("@a/m".into(), State::Open(Instant::now()));
        assert_eq!(b.permit("@a/m"), Permit::Go, "the probe");
        assert!(
            matches!(b.permit("@a/m"), Permit::Skip(_)),
            "only one probe"
        );
        b.record("@a/m", true);
        assert!(
            matches!(b.permit("@a/m"), Permit::Skip(_)),
            "a failed probe reopens"
        );
        b.circuits
            .lock()
            .unwrap()
            .insert("@a/m".into(), State::Probing);
        b.record("@a/m", false);
        assert_eq!(b.permit("@a/m"), Permit::Go, "a good probe closes it");
    }

    #[test]
    fn a_panic_while_the_table_is_locked_does_not_break_later_requests() {
        let b = breakers(30);
        b.record("@a/m", true);
        std::thread::scope(|scope| {
            let poisoned = scope
                .spawn(|| {
                    let _held = b.circuits.lock().unwrap();
                    panic!("a panic while the circuit table is locked");
                })
                .join();
            assert!(poisoned.is_err());
        });
        assert!(b.circuits.is_poisoned());
        assert_eq!(b.permit("@a/m"), Permit::Go);
        b.record("@a/m", true);
        b.record("@a/m", true);
        assert!(
            matches!(b.permit("@a/m"), Permit::Skip(_)),
            "still counts failures"
        );
        assert_eq!(b.open_circuits(), ["@a/m"]);
        b.record("@a/m", false);
        assert!(b.open_circuits().is_empty());
    }
}
