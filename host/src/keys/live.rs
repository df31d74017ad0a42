//! The gateway's view of the key store: a snapshot in memory, by hash, kept
//! current by comparing the store's generation.
//!
//! A request uses the snapshot when it was found current less than
//! [`RECHECK`] ago; otherwise one request asks the store (on the blocking
//! pool, never on an async worker) while the others wait for its answer. A key
//! the snapshot does not know makes the request ask again when the last check
//! is older than [`RECHECK_UNKNOWN`]. So a key created by another process works
//! at most 100 ms after it was written, and a revoked or changed key stops
//! working at most one second after — bounds that docs/keys.md repeats. A
//! change made through this process (the admin API) counts at once.

use super::record::{KeyHash, KeyRecord};
use super::store::{KeyError, KeyStore};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How old a snapshot may be for a known key.
pub const RECHECK: Duration = Duration::from_secs(1);
/// How old a snapshot may be before an unknown key makes the gateway look again.
pub const RECHECK_UNKNOWN: Duration = Duration::from_millis(100);

/// The store's keys as of one generation.
#[derive(Default)]
struct Snapshot {
    generation: u64,
    by_hash: HashMap<KeyHash, Arc<KeyRecord>>,
}

impl Snapshot {
    fn new(generation: u64, keys: Vec<KeyRecord>) -> Snapshot {
        Snapshot {
            generation,
            by_hash: keys.into_iter().map(|k| (k.hash, Arc::new(k))).collect(),
        }
    }
}

/// Managed keys as the gateway sees them.
pub struct LiveKeys {
    store: Arc<dyn KeyStore>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// When a check found the snapshot current (or failed), as nanoseconds
    /// after `epoch` plus one; 0: look again. An atomic, so that the check on
    /// every request takes no lock.
    checked: AtomicU64,
    epoch: Instant,
    /// One check at a time; the others wait for its answer.
    checking: tokio::sync::Mutex<()>,
    /// Whether the last check failed (to log a failure once, and its end).
    failing: AtomicBool,
}

impl LiveKeys {
    /// Reads every key of `store` (blocking: call at start-up).
    pub fn load(store: Arc<dyn KeyStore>) -> Result<LiveKeys, KeyError> {
        let started = Instant::now();
        let generation = store.generation()?;
        let snapshot = Snapshot::new(generation, store.list()?);
        Ok(LiveKeys {
            store,
            snapshot: RwLock::new(Arc::new(snapshot)),
            checked: AtomicU64::new(1),
            epoch: started,
            checking: tokio::sync::Mutex::new(()),
            failing: AtomicBool::new(false),
        })
    }

    /// The store, for the admin API (call [`LiveKeys::mark_stale`] after a write).
    pub fn store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    /// Makes the next lookup ask the store: this process just changed it.
    pub fn mark_stale(&self) {
        self.checked.store(0, Ordering::Release);
    }

    /// Every key of the current snapshot, without asking the store.
    pub fn records(&self) -> Vec<Arc<KeyRecord>> {
        self.current_snapshot().by_hash.values().cloned().collect()
    }

    /// Whether the store holds no key at all (revoked ones count), as of at
    /// most [`RECHECK`] ago.
    pub async fn is_empty(&self) -> bool {
        self.snapshot(RECHECK).await.by_hash.is_empty()
    }

    /// The key whose secret hashes to `hash`, revoked and expired ones included.
    pub async fn find(&self, hash: &KeyHash) -> Option<Arc<KeyRecord>> {
        if let Some(key) = self.snapshot(RECHECK).await.by_hash.get(hash) {
            return Some(key.clone());
        }
        self.snapshot(RECHECK_UNKNOWN)
            .await
            .by_hash
            .get(hash)
            .cloned()
    }

    fn current_snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn checked_within(&self, max_age: Duration) -> bool {
        match self.checked.load(Ordering::Acquire) {
            0 => false,
            at => {
                let age = (self.epoch.elapsed().as_nanos() as u64).saturating_sub(at - 1);
                age <= max_age.as_nanos() as u64
            }
        }
    }

    /// A snapshot found current at most `max_age` ago.
    async fn snapshot(&self, max_age: Duration) -> Arc<Snapshot> {
        if self.checked_within(max_age) {
            return self.current_snapshot();
        }
        let _turn = self.checking.lock().await;
        if self.checked_within(max_age) {
            return self.current_snapshot();
        }
        // The check counts from when it starts: what it reads is at least that
        // new. A write by this process during the check leaves it stale.
        let before = self.checked.load(Ordering::Acquire);
        let started = Instant::now();
        let store = self.store.clone();
        let previous = self.current_snapshot();
        let checked = tokio::task::spawn_blocking(move || newer(&*store, previous.generation))
            .await
            .unwrap_or_else(|e| {
                Err(KeyError::Storage {
                    where_: "key store check".into(),
                    message: e.to_string(),
                })
            });
        match checked {
            Ok(newer) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::warn!(store = %self.store.describe(), "the key store can be read again");
                }
                if let Some(snapshot) = newer {
                    *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
                }
            }
            Err(error) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        %error,
                        "cannot read the key store; serving with the keys last read until it can"
                    );
                }
            }
        }
        let at = started.duration_since(self.epoch).as_nanos() as u64 + 1;
        let _ = self
            .checked
            .compare_exchange(before, at, Ordering::AcqRel, Ordering::Acquire);
        self.current_snapshot()
    }
}

/// The store's keys when its generation differs from `generation`.
fn newer(store: &dyn KeyStore, generation: u64) -> Result<Option<Snapshot>, KeyError> {
    let now = store.generation()?;
    if now == generation {
        return Ok(None);
    }
    // Read after the generation: the list is at least as new as `now`.
    Ok(Some(Snapshot::new(now, store.list()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::changes::KeyChanges;
    use crate::keys::sqlite::SqliteKeyStore;
    use std::sync::atomic::AtomicUsize;

    /// A store that counts how often it is asked, and can be made to fail.
    struct Watched {
        inner: SqliteKeyStore,
        generation_calls: AtomicUsize,
        list_calls: AtomicUsize,
        broken: AtomicBool,
    }

    impl Watched {
        fn calls(&self) -> (usize, usize) {
            (
                self.generation_calls.load(Ordering::SeqCst),
                self.list_calls.load(Ordering::SeqCst),
            )
        }

        fn check(&self) -> Result<(), KeyError> {
            if self.broken.load(Ordering::SeqCst) {
                return Err(KeyError::Storage {
                    where_: "test".into(),
                    message: "unplugged".into(),
                });
            }
            Ok(())
        }
    }

    impl KeyStore for Watched {
        fn describe(&self) -> String {
            self.inner.describe()
        }
        fn generation(&self) -> Result<u64, KeyError> {
            self.generation_calls.fetch_add(1, Ordering::SeqCst);
            self.check()?;
            self.inner.generation()
        }
        fn list(&self) -> Result<Vec<KeyRecord>, KeyError> {
            self.list_calls.fetch_add(1, Ordering::SeqCst);
            self.check()?;
            self.inner.list()
        }
        fn get(&self, id: &str) -> Result<Option<KeyRecord>, KeyError> {
            self.inner.get(id)
        }
        fn insert(&self, key: &KeyRecord) -> Result<(), KeyError> {
            self.inner.insert(key)
        }
        fn modify(
            &self,
            id: &str,
            change: &mut dyn FnMut(&mut KeyRecord) -> Result<(), KeyError>,
        ) -> Result<KeyRecord, KeyError> {
            self.inner.modify(id, change)
        }
    }

    /// The gateway's live view, and the CLI's connection to the same file.
    fn setup(dir: &tempfile::TempDir) -> (Arc<Watched>, LiveKeys, SqliteKeyStore) {
        let path = dir.path().join("state.db");
        let watched = Arc::new(Watched {
            inner: SqliteKeyStore::open(&path).unwrap(),
            generation_calls: AtomicUsize::new(0),
            list_calls: AtomicUsize::new(0),
            broken: AtomicBool::new(false),
        });
        let live = LiveKeys::load(watched.clone()).unwrap();
        (watched, live, SqliteKeyStore::open(&path).unwrap())
    }

    fn create(cli: &SqliteKeyStore, id: &str) -> KeyHash {
        let (key, _) = cli
            .create(Some(id), &KeyChanges::default(), None, 1)
            .unwrap();
        key.hash
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_key_made_elsewhere_works_within_the_unknown_key_bound() {
        let dir = tempfile::tempdir().unwrap();
        let (_, live, cli) = setup(&dir);
        assert!(live.is_empty().await);
        let hash = create(&cli, "ci");
        tokio::time::sleep(RECHECK_UNKNOWN + Duration::from_millis(20)).await;
        let found = live.find(&hash).await.expect("found after 100 ms");
        assert_eq!(found.id, "ci");
        assert!(!live.is_empty().await);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_revocation_elsewhere_counts_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let (_, live, cli) = setup(&dir);
        let hash = create(&cli, "ci");
        live.mark_stale();
        assert!(live.find(&hash).await.unwrap().revoked_at.is_none());
        cli.revoke("ci", 2).unwrap();
        tokio::time::sleep(RECHECK + Duration::from_millis(20)).await;
        assert_eq!(live.find(&hash).await.unwrap().revoked_at, Some(2));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_known_key_costs_no_store_read_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let (watched, live, cli) = setup(&dir);
        let hash = create(&cli, "ci");
        live.mark_stale();
        live.find(&hash).await.unwrap();
        let after_first = watched.calls();
        for _ in 0..1000 {
            live.find(&hash).await.unwrap();
        }
        assert_eq!(
            watched.calls(),
            after_first,
            "no store reads for a fresh snapshot"
        );
        // Unknown keys ask at most every 100 ms, however many arrive.
        let stranger = KeyHash::of("sk-sluice-nobody");
        for _ in 0..1000 {
            assert!(live.find(&stranger).await.is_none());
        }
        let (generations, lists) = watched.calls();
        assert!(generations - after_first.0 <= 2, "{generations}");
        assert_eq!(
            lists, after_first.1,
            "an unchanged generation reads no keys"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unreadable_store_keeps_the_keys_last_read() {
        let dir = tempfile::tempdir().unwrap();
        let (watched, live, cli) = setup(&dir);
        let hash = create(&cli, "ci");
        live.mark_stale();
        assert!(live.find(&hash).await.is_some());
        watched.broken.store(true, Ordering::SeqCst);
        live.mark_stale();
        assert!(
            live.find(&hash).await.is_some(),
            "served from the last snapshot"
        );
        watched.broken.store(false, Ordering::SeqCst);
        cli.revoke("ci", 5).unwrap();
        live.mark_stale();
        assert_eq!(
            live.find(&hash).await.unwrap().revoked_at,
            Some(5),
            "and recovers"
        );
    }
}
