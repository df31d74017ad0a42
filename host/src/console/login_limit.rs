//! Sign-in attempts, limited: after [`MAX_FAILURES`] wrong admin keys from one
//! address within [`WINDOW_MS`], that address is refused (429) until the
//! window ends, whatever key it sends. A right key clears its count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Wrong keys one address may send per window.
pub const MAX_FAILURES: u32 = 5;
/// The window, in milliseconds.
pub const WINDOW_MS: i64 = 5 * 60_000;
/// Addresses tracked at most; past it, ended windows are forgotten first.
const MAX_ADDRESSES: usize = 100_000;

/// Failed sign-ins per client address.
#[derive(Debug, Default)]
pub struct LoginLimit {
    failures: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl LoginLimit {
    /// `Err(seconds)` while `client` is locked out.
    pub fn check(&self, client: IpAddr, now_ms: i64) -> Result<(), u64> {
        let failures = self.lock();
        match failures.get(&client) {
            Some(&(start, count)) if count >= MAX_FAILURES && now_ms < start + WINDOW_MS => {
                Err(((start + WINDOW_MS - now_ms) as u64).div_ceil(1000))
            }
            _ => Ok(()),
        }
    }

    /// Counts a wrong key from `client`.
    pub fn failed(&self, client: IpAddr, now_ms: i64) {
        let mut failures = self.lock();
        if failures.len() >= MAX_ADDRESSES {
            failures.retain(|_, (start, _)| now_ms < *start + WINDOW_MS);
        }
        let entry = failures.entry(client).or_insert((now_ms, 0));
        if now_ms >= entry.0 + WINDOW_MS {
            *entry = (now_ms, 0);
        }
        entry.1 += 1;
    }

    /// Clears `client`'s count after a right key.
    pub fn succeeded(&self, client: IpAddr) {
        self.lock().remove(&client);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (i64, u32)>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_out_after_too_many_failures_until_the_window_ends() {
        let limit = LoginLimit::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..MAX_FAILURES {
            assert_eq!(limit.check(a, 0), Ok(()));
            limit.failed(a, 0);
        }
        assert_eq!(limit.check(a, 1000), Err((WINDOW_MS / 1000 - 1) as u64));
        assert_eq!(
            limit.check(b, 1000),
            Ok(()),
            "another address is not affected"
        );
        assert_eq!(limit.check(a, WINDOW_MS), Ok(()));
        limit.failed(a, WINDOW_MS);
        assert_eq!(
            limit.check(a, WINDOW_MS),
            Ok(()),
            "a new window counts anew"
        );
        limit.succeeded(a);
        assert_eq!(limit.check(a, WINDOW_MS), Ok(()));
    }
}
