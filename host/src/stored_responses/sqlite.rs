//! Stored responses in the `[state]` SQLite file (table
//! `sluice_responses`), expired rows swept as new ones are written.

use super::{ResponseStore, StoredResponse};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sluice_responses (
    id         TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL,  -- milliseconds since the Unix epoch
    record     TEXT NOT NULL      -- the StoredResponse as JSON
);
CREATE INDEX IF NOT EXISTS sluice_responses_expiry ON sluice_responses (expires_ms);
";

/// Stored responses in a SQLite file.
pub struct SqliteResponses {
    conn: Mutex<Connection>,
}

impl SqliteResponses {
    /// Opens (creating if needed) the table in the file at `path`.
    pub fn open(path: &Path) -> anyhow::Result<SqliteResponses> {
        let conn = crate::sqlite::open(path)
            .and_then(|conn| conn.execute_batch(SCHEMA).map(|()| conn))
            .map_err(|e| anyhow::anyhow!("[state] {}: {e}", path.display()))?;
        Ok(SqliteResponses {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ResponseStore for SqliteResponses {
    fn put(&self, response: &StoredResponse) -> anyhow::Result<()> {
        let record = serde_json::to_string(response)?;
        let conn = self.conn();
        conn.execute(
            "DELETE FROM sluice_responses WHERE expires_ms <= ?1",
            params![crate::clock::now_ms()],
        )?;
        conn.execute(
            "INSERT OR REPLACE INTO sluice_responses (id, expires_ms, record) VALUES (?1, ?2, ?3)",
            params![response.id, response.expires_ms, record],
        )?;
        Ok(())
    }

    fn get(&self, id: &str) -> anyhow::Result<Option<StoredResponse>> {
        let record: Option<String> = self
            .conn()
            .query_row(
                "SELECT record FROM sluice_responses WHERE id = ?1 AND expires_ms > ?2",
                params![id, crate::clock::now_ms()],
                |row| row.get(0),
            )
            .optional()?;
        Ok(match record {
            Some(json) => Some(serde_json::from_str(&json)?),
            None => None,
        })
    }

    fn delete(&self, id: &str) -> anyhow::Result<bool> {
        let deleted = self
            .conn()
            .execute("DELETE FROM sluice_responses WHERE id = ?1", params![id])?;
        Ok(deleted > 0)
    }
}
