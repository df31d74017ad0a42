//! The audit trail in a SQLite file: the default store, nothing to install.
//!
//! Records are appended in batches, each batch in one `BEGIN IMMEDIATE`
//! transaction that reads the last link first, so several gateway processes
//! sharing the file still build one unbroken chain. The file is in WAL mode:
//! readers (`sluice audit`) never block the writer.

use super::filter::{Dialect, Filter, Param};
use super::record::{
    Excerpt, GENESIS, Outcome, Problem, Record, Stored, check_chain, link, to_link,
};
use super::store::Store;
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
        let conn = crate::sqlite::open(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore { conn })
    }

    /// The connection, for tests that tamper with the file.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Parameters are `?1`, `?2`, ...; tags are `[key, value]` pairs in a JSON array.
const SQLITE: Dialect = Dialect {
    placeholder: |n| format!("?{n}"),
    has_tag: |k, v| {
        format!(
            "EXISTS (SELECT 1 FROM json_each(metadata) WHERE value ->> 0 = {k} AND value ->> 1 = {v})"
        )
    },
};

impl Store for SqliteStore {
    fn append(&mut self, records: &[Record]) -> anyhow::Result<()> {
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
        Ok(tx.commit()?)
    }

    fn query(&mut self, filter: &Filter) -> anyhow::Result<Vec<(i64, Record)>> {
        let (clause, values) = filter.where_clause(&SQLITE);
        let sql = format!(
            "SELECT {COLUMNS} FROM audit{clause}{}",
            filter.order_and_limit()
        );
        let values = values.into_iter().map(|p| match p {
            Param::Int(i) => rusqlite::types::Value::Integer(i),
            Param::Text(t) => rusqlite::types::Value::Text(t),
        });
        let mut statement = self.conn.prepare(&sql)?;
        let rows = statement.query_map(rusqlite::params_from_iter(values), row_to_record)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, record, _, _) = row?;
            out.push((seq, record));
        }
        Ok(out)
    }

    fn verify(&mut self) -> anyhow::Result<Result<u64, Problem>> {
        let pruned: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT link FROM audit_pruned WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        let start = pruned.map_or(GENESIS, |link| to_link(&link));
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM audit ORDER BY seq"))?;
        let rows = statement.query_map([], row_to_record)?;
        Ok(check_chain(start, rows)?)
    }

    fn prune(&mut self, before_ms: i64) -> anyhow::Result<usize> {
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

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
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
        outcome: Outcome::parse(&outcome).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(12, rusqlite::types::Type::Text, e.into())
        })?,
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
    use super::super::store_contract::{self, Trail};
    use super::*;

    /// A fresh file; every `open` is another connection to it.
    fn trail() -> Trail {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let tamper_path = path.clone();
        Trail {
            open: Box::new(move || Box::new(SqliteStore::open(&path).unwrap())),
            tamper: Box::new(move |sql| {
                let conn = Connection::open(&tamper_path).unwrap();
                conn.execute(&sql.replace("{table}", "audit"), []).unwrap();
            }),
            _keep: Box::new(dir),
        }
    }

    #[test]
    fn records_round_trip_and_filter() {
        store_contract::records_round_trip_and_filter(&trail());
    }

    #[test]
    fn verify_finds_a_changed_and_a_removed_record() {
        store_contract::verify_finds_a_changed_and_a_removed_record(&trail);
    }

    #[test]
    fn pruning_keeps_the_rest_verifiable_and_appends_continue_the_chain() {
        store_contract::pruning_keeps_the_rest_verifiable(&trail());
    }

    #[test]
    fn concurrent_writers_build_one_chain() {
        store_contract::concurrent_writers_build_one_chain(&trail());
    }
}
