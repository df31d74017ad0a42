//! The embedded state store: counters and usage totals in memory, saved to a
//! SQLite file (`[state] path`) every second and at shutdown, and read back at
//! startup, so a restart does not reset a budget.
//!
//! One gateway process owns the counters. A crash loses at most the last second
//! of counts; a second process on the same file would keep counters of its own
//! (use Redis for several processes). The file's writes add deltas, so two
//! processes never erase each other's saved counts.

use super::{Add, Admission, Check, TOTAL_NAMES, Totals, UsageKey};
use crate::governance::summary::Summary;
use anyhow::Context as _;
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often unsaved counts are written to the file.
const SAVE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Counter {
    value: i64,
    expires_ms: i64,
    unsaved: i64,
}

struct Inner {
    counters: Mutex<HashMap<String, Counter>>,
    unsaved_usage: Mutex<HashMap<UsageKey, Totals>>,
    db: Mutex<Connection>,
    path: PathBuf,
}

/// Memory backed by a SQLite file.
pub struct LocalState {
    inner: Arc<Inner>,
    saver: Mutex<Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
}

impl LocalState {
    /// Opens (or creates) the file and loads the counters of current windows.
    /// With `save_every_second`, a thread saves new counts every second (the
    /// gateway); without, counts are saved by [`LocalState::close`] (tools).
    pub fn open(path: &Path, save_every_second: bool) -> anyhow::Result<LocalState> {
        let db = open_db(path).with_context(|| format!("state file {}", path.display()))?;
        let now = crate::clock::now_ms();
        let mut counters = HashMap::new();
        {
            let mut select = db.prepare(
                "SELECT name, value, expires_ms FROM sluice_counters WHERE expires_ms > ?1",
            )?;
            let rows = select.query_map([now], |row| {
                Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
            })?;
            for row in rows {
                let (name, value, expires_ms) = row?;
                counters.insert(
                    name,
                    Counter {
                        value,
                        expires_ms,
                        unsaved: 0,
                    },
                );
            }
        }
        let inner = Arc::new(Inner {
            counters: Mutex::new(counters),
            unsaved_usage: Mutex::new(HashMap::new()),
            db: Mutex::new(db),
            path: path.to_path_buf(),
        });
        let saver = save_every_second.then(|| {
            let (stop, stopped) = mpsc::channel::<()>();
            let inner = inner.clone();
            let thread = std::thread::Builder::new()
                .name("sluice-state".into())
                .spawn(move || {
                    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(SAVE_EVERY) {
                        if let Err(e) = inner.save() {
                            tracing::error!(error = %e, "could not save governance state; will retry");
                        }
                    }
                })
                .expect("spawn the state saver");
            (stop, thread)
        });
        Ok(LocalState {
            inner,
            saver: Mutex::new(saver),
        })
    }

    /// Checks every counter, then counts the request in all of them, under one lock.
    pub fn admit(&self, checks: &[Check]) -> Admission {
        let now = crate::clock::now_ms();
        let mut counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let value = |name: &str| {
            counters
                .get(name)
                .filter(|c| c.expires_ms > now)
                .map_or(0, |c| c.value)
        };
        let mut values = Vec::with_capacity(checks.len());
        for (index, check) in checks.iter().enumerate() {
            let value = value(&check.counter);
            if !check.passes(value) {
                return Admission::Refused { index, value };
            }
            values.push(value + check.add);
        }
        for check in checks.iter().filter(|c| c.add != 0) {
            add(
                &mut counters,
                &check.counter,
                check.add,
                check.expires_ms,
                now,
            );
        }
        Admission::Admitted(values)
    }

    /// Adds a finished request's counts and usage.
    pub fn record(&self, adds: &[Add], (key, totals): (UsageKey, Totals)) {
        let now = crate::clock::now_ms();
        {
            let mut counters = self
                .inner
                .counters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for a in adds {
                add(&mut counters, &a.counter, a.amount, a.expires_ms, now);
            }
        }
        let mut usage = self
            .inner
            .unsaved_usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        usage.entry(key).or_default().add(&totals);
    }

    /// Usage rows of the hours in `[from_ms, to_ms)`, including unsaved ones.
    pub fn usage(&self, from_ms: i64, to_ms: i64) -> anyhow::Result<Vec<(UsageKey, Totals)>> {
        let db = self.saved_db()?;
        let mut select = db.prepare(&format!(
            "SELECT hour_ms, key_id, team, model, provider, tags, {} FROM sluice_usage \
             WHERE hour_ms >= ?1 AND hour_ms < ?2 ORDER BY hour_ms",
            TOTAL_NAMES.join(", ")
        ))?;
        let rows = select.query_map([from_ms, to_ms], |row| {
            let tags: String = row.get(5)?;
            let mut columns = [0i64; 7];
            for (i, column) in columns.iter_mut().enumerate() {
                *column = row.get(6 + i)?;
            }
            Ok((
                UsageKey {
                    hour_ms: row.get(0)?,
                    key_id: row.get(1)?,
                    team: row.get(2)?,
                    model: row.get(3)?,
                    provider: row.get(4)?,
                    tags: serde_json::from_str(&tags).unwrap_or_default(),
                },
                Totals::from_columns(columns),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Counters named `prefix…suffix`, in windows not yet over.
    pub fn counters(&self, prefix: &str, suffix: &str) -> Vec<(String, i64)> {
        let now = crate::clock::now_ms();
        let counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut found: Vec<(String, i64)> = counters
            .iter()
            .filter(|(name, c)| {
                c.expires_ms > now
                    && name.len() >= prefix.len() + suffix.len()
                    && name.starts_with(prefix)
                    && name.ends_with(suffix)
            })
            .map(|(name, c)| (name.clone(), c.value))
            .collect();
        found.sort();
        found
    }

    /// Usage of the hours in `[from_ms, to_ms)`, summed per bucket and per
    /// team, key and model. The rows are read from the covering index
    /// `sluice_usage_rollup`, whose order puts the rows of one hour, key, team
    /// and model (tags and providers apart) next to each other: they are added
    /// up here as they come, which is several times faster than SQLite's own
    /// `GROUP BY` (measured in docs/console.md).
    pub fn usage_summary(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> anyhow::Result<Summary> {
        let db = self.saved_db()?;
        let mut select = db.prepare_cached(&format!(
            "SELECT hour_ms, key_id, team, model, {} FROM sluice_usage INDEXED BY sluice_usage_rollup \
             WHERE hour_ms >= ?1 AND hour_ms < ?2",
            TOTAL_NAMES.join(", ")
        ))?;
        let mut rows = select.query([from_ms, to_ms])?;
        let mut summary = Summary::new(bucket_ms);
        // The group being added up: hour, key, team, model, and its totals.
        let mut group: Option<(i64, String, String, String, Totals)> = None;
        while let Some(row) = rows.next()? {
            let hour_ms: i64 = row.get(0)?;
            let (key_id, team, model) = (
                row.get_ref(1)?.as_str()?,
                row.get_ref(2)?.as_str()?,
                row.get_ref(3)?.as_str()?,
            );
            let mut columns = [0i64; 7];
            for (i, column) in columns.iter_mut().enumerate() {
                *column = row.get(4 + i)?;
            }
            let totals = Totals::from_columns(columns);
            match &mut group {
                Some((h, k, t, m, sum))
                    if *h == hour_ms && k == key_id && t == team && m == model =>
                {
                    sum.add(&totals);
                }
                _ => {
                    if let Some((h, k, t, m, sum)) = group.take() {
                        summary.add(h, &k, &t, &m, &sum);
                    }
                    group = Some((hour_ms, key_id.into(), team.into(), model.into(), totals));
                }
            }
        }
        if let Some((h, k, t, m, sum)) = group {
            summary.add(h, &k, &t, &m, &sum);
        }
        Ok(summary)
    }

    /// The database, once everything counted so far is saved in it.
    fn saved_db(&self) -> anyhow::Result<std::sync::MutexGuard<'_, Connection>> {
        self.inner.save()?;
        Ok(self
            .inner
            .db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Stops the saver and saves what is left.
    pub fn close(&self) {
        if let Some((stop, thread)) = self
            .saver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let _ = stop.send(());
            let _ = thread.join();
        }
        if let Err(e) = self.inner.save() {
            tracing::error!(error = %e, "could not save governance state at shutdown");
        }
    }

    /// `state file /path/state.db`.
    pub fn describe(&self) -> String {
        format!("state file {}", self.inner.path.display())
    }
}

impl Drop for LocalState {
    fn drop(&mut self) {
        self.close();
    }
}

fn add(
    counters: &mut HashMap<String, Counter>,
    name: &str,
    amount: i64,
    expires_ms: i64,
    now: i64,
) {
    let counter = counters.entry(name.to_string()).or_insert(Counter {
        value: 0,
        expires_ms,
        unsaved: 0,
    });
    if counter.expires_ms <= now {
        *counter = Counter {
            value: 0,
            expires_ms,
            unsaved: counter.unsaved,
        };
    }
    counter.value += amount;
    counter.unsaved += amount;
}

impl Inner {
    /// Writes unsaved counter deltas and usage totals in one transaction, and
    /// forgets counters whose window is over.
    fn save(&self) -> anyhow::Result<()> {
        let now = crate::clock::now_ms();
        let deltas: Vec<(String, i64, i64)> = {
            let mut counters = self
                .counters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            counters.retain(|_, c| c.expires_ms > now || c.unsaved != 0);
            counters
                .iter_mut()
                .filter(|(_, c)| c.unsaved != 0)
                .map(|(name, c)| (name.clone(), std::mem::take(&mut c.unsaved), c.expires_ms))
                .collect()
        };
        let usage = std::mem::take(
            &mut *self
                .unsaved_usage
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut db = self
            .db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = db.transaction()?;
        {
            let mut counter = tx.prepare_cached(
                "INSERT INTO sluice_counters (name, value, expires_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET value = value + excluded.value, \
                 expires_ms = excluded.expires_ms",
            )?;
            for (name, delta, expires_ms) in &deltas {
                counter.execute(params![name, delta, expires_ms])?;
            }
            let set = TOTAL_NAMES
                .iter()
                .map(|n| format!("{n} = {n} + excluded.{n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut row = tx.prepare_cached(&format!(
                "INSERT INTO sluice_usage (hour_ms, key_id, team, model, provider, tags, {}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
                 ON CONFLICT (hour_ms, key_id, team, model, provider, tags) DO UPDATE SET {set}",
                TOTAL_NAMES.join(", ")
            ))?;
            for (key, totals) in &usage {
                let c = totals.columns();
                row.execute(params![
                    key.hour_ms,
                    key.key_id,
                    key.team,
                    key.model,
                    key.provider,
                    key.tags_json(),
                    c[0],
                    c[1],
                    c[2],
                    c[3],
                    c[4],
                    c[5],
                    c[6]
                ])?;
            }
            tx.execute("DELETE FROM sluice_counters WHERE expires_ms <= ?1", [now])?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn open_db(path: &Path) -> anyhow::Result<Connection> {
    let db = crate::sqlite::open(path)?;
    let totals = TOTAL_NAMES
        .iter()
        .map(|n| format!("{n} INTEGER NOT NULL DEFAULT 0"))
        .collect::<Vec<_>>()
        .join(", ");
    db.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS sluice_counters (
             name TEXT PRIMARY KEY, value INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS sluice_usage (
             hour_ms INTEGER NOT NULL, key_id TEXT NOT NULL, team TEXT NOT NULL,
             model TEXT NOT NULL, provider TEXT NOT NULL, tags TEXT NOT NULL, {totals},
             PRIMARY KEY (hour_ms, key_id, team, model, provider, tags));
         CREATE INDEX IF NOT EXISTS sluice_usage_rollup ON sluice_usage
             (hour_ms, key_id, team, model, {names});",
        names = TOTAL_NAMES.join(", ")
    ))?;
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(counter: &str, max: i64, add: i64) -> Check {
        Check {
            counter: counter.into(),
            max,
            add,
            expires_ms: crate::clock::now_ms() + 60_000,
        }
    }

    fn usage_key(key_id: &str) -> UsageKey {
        UsageKey {
            hour_ms: 3_600_000,
            key_id: key_id.into(),
            team: "research".into(),
            model: "@openai/gpt-4o".into(),
            provider: "openai".into(),
            tags: [("project".to_string(), "apollo".to_string())].into(),
        }
    }

    #[test]
    fn a_refused_request_is_counted_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::open(&dir.path().join("state.db"), false).unwrap();
        let checks = [check("key", 5, 1), check("team", 1, 1)];
        assert_eq!(state.admit(&checks), Admission::Admitted(vec![1, 1]));
        assert_eq!(
            state.admit(&checks),
            Admission::Refused { index: 1, value: 1 }
        );
        // The key counter was not raised by the refused request.
        assert_eq!(
            state.admit(&[check("key", 5, 1)]),
            Admission::Admitted(vec![2])
        );
    }

    #[test]
    fn spend_counters_pass_while_below_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::open(&dir.path().join("state.db"), false).unwrap();
        let budget = check("budget", 100, 0);
        assert_eq!(
            state.admit(std::slice::from_ref(&budget)),
            Admission::Admitted(vec![0])
        );
        state.record(
            &[Add {
                counter: "budget".into(),
                amount: 99,
                expires_ms: budget.expires_ms,
            }],
            (usage_key("a"), Totals::default()),
        );
        assert_eq!(
            state.admit(std::slice::from_ref(&budget)),
            Admission::Admitted(vec![99])
        );
        state.record(
            &[Add {
                counter: "budget".into(),
                amount: 5,
                expires_ms: budget.expires_ms,
            }],
            (usage_key("a"), Totals::default()),
        );
        assert_eq!(
            state.admit(&[budget]),
            Admission::Refused {
                index: 0,
                value: 104
            }
        );
    }

    #[test]
    fn counters_and_usage_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let totals = Totals {
            requests: 1,
            input_tokens: 10,
            output_tokens: 5,
            cost_nanos: 1234,
            ..Totals::default()
        };
        {
            let state = LocalState::open(&path, true).unwrap();
            state.admit(&[check("rpm", 10, 1)]);
            state.record(&[], (usage_key("a"), totals));
            state.record(&[], (usage_key("a"), totals));
            state.record(&[], (usage_key("b"), totals));
        }
        let state = LocalState::open(&path, false).unwrap();
        assert_eq!(
            state.admit(&[check("rpm", 10, 1)]),
            Admission::Admitted(vec![2])
        );
        let rows = state.usage(0, i64::MAX).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0.tags["project"], "apollo");
        let a = rows.iter().find(|(k, _)| k.key_id == "a").unwrap();
        assert_eq!((a.1.requests, a.1.cost_nanos), (2, 2468));
    }

    #[test]
    fn an_ended_window_starts_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::open(&dir.path().join("state.db"), false).unwrap();
        let mut old = check("rpm", 1, 1);
        old.expires_ms = crate::clock::now_ms() - 1;
        state.admit(&[old.clone()]);
        assert_eq!(state.admit(&[old]), Admission::Admitted(vec![1]));
    }
}
