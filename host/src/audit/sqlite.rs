//! The audit trail in a SQLite file: the default store, nothing to install.
//!
//! Records are appended in batches, each batch in one `BEGIN IMMEDIATE`
//! transaction that reads the last link first, so several gateway processes
//! sharing the file still build one unbroken chain. The file is in WAL mode:
//! readers (`sluice audit`) never block the writer.

use super::record::{Excerpt, GENESIS, Outcome, Record, link};
use super::{Filter, Problem};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// An open audit database.
pub struct SqliteStore {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    seq            INTEGER PRIMARY KEY,
    time_ms        INTEGER NOT NULL,
    request_id     TEXT NOT NULL,
    key_id         TEXT,
    team           TEXT,
    metadata       TEXT NOT NULL,
    api            TEXT NOT NULL,
    model          TEXT NOT NULL,
    phase          TEXT NOT NULL,
    guardrail      TEXT NOT NULL,
    plugin         TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    rule           TEXT,
    kind           TEXT,
    segment        TEXT,
    span_start     INTEGER,
    span_end       INTEGER,
    excerpt_chars  INTEGER,
    excerpt_hash   TEXT,
    failure        TEXT,
    prev_link      BLOB NOT NULL,
    link           BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time_ms);
CREATE INDEX IF NOT EXISTS audit_key ON audit (key_id, time_ms);
CREATE INDEX IF NOT EXISTS audit_rule ON audit (rule, time_ms);
-- Where retention cut the chain: verification starts from this link.
CREATE TABLE IF NOT EXISTS audit_pruned (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    up_to_seq INTEGER NOT NULL,
    link      BLOB NOT NULL
);
";

const COLUMNS: &str = "seq, time_ms, request_id, key_id, team, metadata, api, model, phase, guardrail, \
     plugin, plugin_version, outcome, rule, kind, segment, span_start, span_end, excerpt_chars, \
     excerpt_hash, failure, prev_link, link";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<SqliteStore> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore { conn })
    }

    /// Appends `records`, in order, as one transaction.
    pub fn append(&mut self, records: &[Record]) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut previous: [u8; 32] = last_link(&tx)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO audit (time_ms, request_id, key_id, team, metadata, api, model, phase, \
                 guardrail, plugin, plugin_version, outcome, rule, kind, segment, span_start, \
                 span_end, excerpt_chars, excerpt_hash, failure, prev_link, link) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                 ?17, ?18, ?19, ?20, ?21, ?22)",
            )?;
            for r in records {
                let next = link(&previous, r);
                insert.execute(params![
                    r.time_ms,
                    r.request_id,
                    r.key_id,
                    r.team,
                    serde_json::to_string(&r.metadata).expect("tags serialise"),
                    r.api,
                    r.model,
                    r.phase,
                    r.guardrail,
                    r.plugin,
                    r.plugin_version,
                    r.outcome.as_str(),
                    r.rule,
                    r.kind,
                    r.segment,
                    r.span.map(|s| s.0),
                    r.span.map(|s| s.1),
                    r.excerpt.as_ref().map(|e| e.chars),
                    r.excerpt.as_ref().map(|e| e.hash.clone()),
                    r.failure,
                    previous.as_slice(),
                    next.as_slice(),
                ])?;
                previous = next;
            }
        }
        tx.commit()
    }

    /// The records `filter` selects, oldest first, each with its sequence number.
    pub fn query(&self, filter: &Filter) -> rusqlite::Result<Vec<(i64, Record)>> {
        let mut sql = format!("SELECT {COLUMNS} FROM audit WHERE seq > ?1");
        let mut values: Vec<rusqlite::types::Value> = vec![filter.after_seq.into()];
        let mut add = |clause: &str, value: rusqlite::types::Value| {
            values.push(value);
            sql.push_str(&format!(" AND {clause} ?{}", values.len()));
        };
        if let Some(since) = filter.since_ms {
            add("time_ms >=", since.into());
        }
        if let Some(until) = filter.until_ms {
            add("time_ms <", until.into());
        }
        for (column, value) in [
            ("key_id", &filter.key),
            ("team", &filter.team),
            ("guardrail", &filter.plugin),
            ("rule", &filter.rule),
            ("kind", &filter.kind),
            ("outcome", &filter.action),
            ("request_id", &filter.request),
        ] {
            if let Some(value) = value {
                add(&format!("{column} ="), value.clone().into());
            }
        }
        sql.push_str(" ORDER BY seq");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut statement = self.conn.prepare(&sql)?;
        let rows = statement.query_map(rusqlite::params_from_iter(values), row_to_record)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, record, _, _) = row?;
            if filter
                .tags
                .iter()
                .all(|(k, v)| record.metadata.iter().any(|(rk, rv)| rk == k && rv == v))
            {
                out.push((seq, record));
            }
        }
        Ok(out)
    }

    /// Walks the whole chain; returns the first broken link, if any.
    pub fn verify(&self) -> rusqlite::Result<Result<u64, Problem>> {
        let pruned: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT up_to_seq, link FROM audit_pruned WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let mut expected = match &pruned {
            Some((_, link)) => to_link(link),
            None => GENESIS,
        };
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM audit ORDER BY seq"))?;
        let rows = statement.query_map([], row_to_record)?;
        let mut checked = 0;
        for row in rows {
            let (seq, record, prev_link, stored) = row?;
            if prev_link != expected {
                return Ok(Err(Problem {
                    seq,
                    what: "its link to the record before does not match: a record before it was removed or changed".into(),
                }));
            }
            let computed = link(&prev_link, &record);
            if computed != stored {
                return Ok(Err(Problem {
                    seq,
                    what:
                        "its content does not match its hash: it was changed after it was written"
                            .into(),
                }));
            }
            expected = computed;
            checked += 1;
        }
        Ok(Ok(checked))
    }

    /// Deletes records older than `before_ms`, keeping the chain verifiable:
    /// the link of the last deleted record is kept as the new start.
    pub fn prune(&mut self, before_ms: i64) -> rusqlite::Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let last: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT seq, link FROM audit WHERE time_ms < ?1 ORDER BY seq DESC LIMIT 1",
                [before_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((seq, link)) = last else {
            return Ok(0);
        };
        let deleted = tx.execute("DELETE FROM audit WHERE seq <= ?1", [seq])?;
        tx.execute(
            "INSERT INTO audit_pruned (id, up_to_seq, link) VALUES (1, ?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET up_to_seq = excluded.up_to_seq, link = excluded.link",
            params![seq, link],
        )?;
        tx.commit()?;
        Ok(deleted)
    }

    /// The connection, for tests that tamper with the file.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn last_link(conn: &Connection) -> rusqlite::Result<[u8; 32]> {
    let last: Option<Vec<u8>> = conn
        .query_row(
            "SELECT link FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(link) = last {
        return Ok(to_link(&link));
    }
    let pruned: Option<Vec<u8>> = conn
        .query_row("SELECT link FROM audit_pruned WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(pruned.map_or(GENESIS, |l| to_link(&l)))
}

fn to_link(bytes: &[u8]) -> [u8; 32] {
    let mut link = [0u8; 32];
    if bytes.len() == 32 {
        link.copy_from_slice(bytes);
    }
    link
}

type Row = (i64, Record, [u8; 32], [u8; 32]);

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let metadata: String = row.get(5)?;
    let outcome: String = row.get(12)?;
    let span_start: Option<u32> = row.get(16)?;
    let span_end: Option<u32> = row.get(17)?;
    let excerpt_chars: Option<u32> = row.get(18)?;
    let excerpt_hash: Option<String> = row.get(19)?;
    let prev: Vec<u8> = row.get(21)?;
    let stored: Vec<u8> = row.get(22)?;
    let record = Record {
        time_ms: row.get(1)?,
        request_id: row.get(2)?,
        key_id: row.get(3)?,
        team: row.get(4)?,
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
        api: row.get(6)?,
        model: row.get(7)?,
        phase: row.get(8)?,
        guardrail: row.get(9)?,
        plugin: row.get(10)?,
        plugin_version: row.get(11)?,
        outcome: serde_json::from_value(serde_json::Value::String(outcome))
            .unwrap_or(Outcome::Flag),
        rule: row.get(13)?,
        kind: row.get(14)?,
        segment: row.get(15)?,
        span: span_start.zip(span_end),
        excerpt: excerpt_chars
            .zip(excerpt_hash)
            .map(|(chars, hash)| Excerpt { chars, hash }),
        failure: row.get(20)?,
    };
    Ok((row.get(0)?, record, to_link(&prev), to_link(&stored)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: i64, key: &str, rule: &str) -> Record {
        Record {
            time_ms: 1_000 + i,
            request_id: format!("req-{i}"),
            key_id: Some(key.into()),
            team: Some("a".into()),
            metadata: vec![("team".into(), "a".into()), ("app".into(), "cli".into())],
            api: "openai".into(),
            model: "@oa/gpt-4o".into(),
            phase: "request".into(),
            guardrail: "pii".into(),
            plugin: "pii".into(),
            plugin_version: "0.1.0".into(),
            outcome: Outcome::Redact,
            rule: Some(rule.into()),
            kind: Some("email".into()),
            segment: Some("messages[0].content".into()),
            span: Some((3, 20)),
            excerpt: Some(Excerpt::of("jane@example.com", &[1; 32])),
            failure: None,
        }
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("audit.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn records_round_trip_and_filter() {
        let (_dir, mut store) = store();
        let written: Vec<Record> = (0..6)
            .map(|i| record(i, if i % 2 == 0 { "k0" } else { "k1" }, "pii.email"))
            .collect();
        store.append(&written[..4]).unwrap();
        store.append(&written[4..]).unwrap();
        let all = store.query(&Filter::default()).unwrap();
        assert_eq!(
            all.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
            written
        );
        let k1 = store
            .query(&Filter {
                key: Some("k1".into()),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(k1.len(), 3);
        let later = store
            .query(&Filter {
                since_ms: Some(1_004),
                after_seq: 0,
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(later.len(), 2);
        let paged = store
            .query(&Filter {
                after_seq: all[1].0,
                limit: Some(2),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(
            paged.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [all[2].0, all[3].0]
        );
        let tagged = store
            .query(&Filter {
                tags: vec![("app".into(), "cli".into())],
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(tagged.len(), 6);
        let untagged = store
            .query(&Filter {
                tags: vec![("app".into(), "web".into())],
                ..Filter::default()
            })
            .unwrap();
        assert!(untagged.is_empty());
        assert_eq!(store.verify().unwrap(), Ok(6));
    }

    #[test]
    fn verify_finds_a_changed_and_a_removed_record() {
        let (_dir, mut store) = store();
        let written: Vec<Record> = (0..5).map(|i| record(i, "k", "pii.email")).collect();
        store.append(&written).unwrap();
        store
            .connection()
            .execute("UPDATE audit SET rule = 'pii.phone' WHERE seq = 3", [])
            .unwrap();
        let problem = store.verify().unwrap().unwrap_err();
        assert_eq!(problem.seq, 3);
        assert!(problem.what.contains("changed"), "{problem:?}");

        let (_dir, mut store) = self::store();
        store.append(&written).unwrap();
        store
            .connection()
            .execute("DELETE FROM audit WHERE seq = 2", [])
            .unwrap();
        let problem = store.verify().unwrap().unwrap_err();
        assert_eq!(problem.seq, 3);
        assert!(problem.what.contains("removed"), "{problem:?}");
    }

    #[test]
    fn pruning_keeps_the_rest_verifiable_and_appends_continue_the_chain() {
        let (_dir, mut store) = store();
        let written: Vec<Record> = (0..10).map(|i| record(i, "k", "pii.email")).collect();
        store.append(&written).unwrap();
        assert_eq!(store.prune(1_004).unwrap(), 4);
        assert_eq!(store.verify().unwrap(), Ok(6));
        store.append(&[record(20, "k", "pii.email")]).unwrap();
        assert_eq!(store.verify().unwrap(), Ok(7));
        // Removing the oldest remaining record is still caught.
        store
            .connection()
            .execute("DELETE FROM audit WHERE seq = 5", [])
            .unwrap();
        assert!(store.verify().unwrap().is_err());
    }

    #[test]
    fn two_writers_on_one_file_build_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let mut a = SqliteStore::open(&path).unwrap();
        let mut b = SqliteStore::open(&path).unwrap();
        for i in 0..10 {
            let store = if i % 2 == 0 { &mut a } else { &mut b };
            store.append(&[record(i, "k", "pii.email")]).unwrap();
        }
        assert_eq!(a.verify().unwrap(), Ok(10));
    }
}
