//! Managed keys in the `[state]` SQLite file (table `sluice_keys`).
//!
//! Every write bumps a counter in `sluice_keys_generation` in the same
//! transaction, so a gateway notices a change made by another process (the
//! CLI) by reading one row. The file is in WAL mode: the CLI's writes never
//! wait for the gateway's reads, nor the other way round.

use super::record::{KeyHash, KeyRecord};
use super::store::{KeyError, KeyStore};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sluice_keys (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    hash              BLOB NOT NULL UNIQUE,
    prefix            TEXT NOT NULL,
    team              TEXT,
    metadata          TEXT NOT NULL,  -- JSON object of strings
    default_model     TEXT,
    guardrails        TEXT,           -- JSON array of ids; NULL: all guardrails
    allowed_models    TEXT NOT NULL,  -- JSON array of patterns; empty: any model
    allowed_providers TEXT NOT NULL,  -- JSON array of slugs; empty: any provider
    created_at        INTEGER NOT NULL,  -- milliseconds since the Unix epoch
    expires_at        INTEGER,
    rotated_at        INTEGER,
    revoked_at        INTEGER
);
CREATE TABLE IF NOT EXISTS sluice_keys_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT OR IGNORE INTO sluice_keys_generation (id, generation) VALUES (1, 0);
";

const COLUMNS: &str = "id, name, hash, prefix, team, metadata, default_model, guardrails, \
     allowed_models, allowed_providers, created_at, expires_at, rotated_at, revoked_at, \
     routing_config";

const BUMP: &str = "UPDATE sluice_keys_generation SET generation = generation + 1 WHERE id = 1";

/// Managed keys in a SQLite file.
pub struct SqliteKeyStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteKeyStore {
    /// Opens (creating if needed) the keys table in the file at `path`.
    pub fn open(path: &Path) -> Result<SqliteKeyStore, KeyError> {
        let storage = |e: rusqlite::Error| storage_error(path, e);
        let conn = crate::sqlite::open(path).map_err(storage)?;
        conn.execute_batch(SCHEMA).map_err(storage)?;
        add_missing_columns(&conn).map_err(storage)?;
        Ok(SqliteKeyStore {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn storage(&self, error: impl std::fmt::Display) -> KeyError {
        storage_error(&self.path, error)
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: every
        // write is one transaction, rolled back when it was not committed.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn storage_error(path: &Path, error: impl std::fmt::Display) -> KeyError {
    KeyError::Storage {
        where_: path.display().to_string(),
        message: error.to_string(),
    }
}

impl KeyStore for SqliteKeyStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn generation(&self) -> Result<u64, KeyError> {
        let conn = self.connection();
        let mut statement = conn
            .prepare_cached("SELECT generation FROM sluice_keys_generation WHERE id = 1")
            .map_err(|e| self.storage(e))?;
        let generation: i64 = statement
            .query_row([], |row| row.get(0))
            .map_err(|e| self.storage(e))?;
        Ok(generation as u64)
    }

    fn list(&self) -> Result<Vec<KeyRecord>, KeyError> {
        let conn = self.connection();
        let mut statement = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM sluice_keys ORDER BY id"))
            .map_err(|e| self.storage(e))?;
        let rows = statement
            .query_map([], from_row)
            .map_err(|e| self.storage(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.storage(e))
    }

    fn get(&self, id: &str) -> Result<Option<KeyRecord>, KeyError> {
        select(&self.connection(), id).map_err(|e| self.storage(e))
    }

    fn insert(&self, key: &KeyRecord) -> Result<(), KeyError> {
        let mut conn = self.connection();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.storage(e))?;
        let taken = select(&tx, &key.id).map_err(|e| self.storage(e))?;
        if taken.is_some() {
            return Err(KeyError::Exists(key.id.clone()));
        }
        write(&tx, key).map_err(|e| self.storage(e))?;
        tx.commit().map_err(|e| self.storage(e))
    }

    fn modify(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut KeyRecord) -> Result<(), KeyError>,
    ) -> Result<KeyRecord, KeyError> {
        let mut conn = self.connection();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.storage(e))?;
        let Some(mut key) = select(&tx, id).map_err(|e| self.storage(e))? else {
            return Err(KeyError::NotFound(id.to_string()));
        };
        change(&mut key)?;
        write(&tx, &key).map_err(|e| self.storage(e))?;
        tx.commit().map_err(|e| self.storage(e))?;
        Ok(key)
    }
}

/// Columns added after the first release, added to an older file.
fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    let has_routing_config = conn
        .prepare("SELECT 1 FROM pragma_table_info('sluice_keys') WHERE name = 'routing_config'")?
        .exists([])?;
    if !has_routing_config
        && let Err(error) =
            conn.execute("ALTER TABLE sluice_keys ADD COLUMN routing_config TEXT", [])
    {
        // Another process may have added it a moment ago.
        if !error.to_string().contains("duplicate column") {
            return Err(error);
        }
    }
    Ok(())
}

fn select(conn: &Connection, id: &str) -> rusqlite::Result<Option<KeyRecord>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM sluice_keys WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// Writes `key` (a new one, or over the one with its id) and bumps the
/// generation, inside the caller's transaction.
fn write(conn: &Connection, key: &KeyRecord) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO sluice_keys ({COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, hash = excluded.hash, \
         prefix = excluded.prefix, team = excluded.team, metadata = excluded.metadata, \
         default_model = excluded.default_model, guardrails = excluded.guardrails, \
         allowed_models = excluded.allowed_models, allowed_providers = excluded.allowed_providers, \
         expires_at = excluded.expires_at, rotated_at = excluded.rotated_at, \
         revoked_at = excluded.revoked_at, routing_config = excluded.routing_config"
    ))?
    .execute(params![
        key.id,
        key.name,
        key.hash.0.as_slice(),
        key.prefix,
        key.team,
        to_json(&key.metadata),
        key.default_model,
        key.guardrails.as_ref().map(to_json),
        to_json(&key.allowed_models),
        to_json(&key.allowed_providers),
        key.created_at,
        key.expires_at,
        key.rotated_at,
        key.revoked_at,
        key.routing_config,
    ])?;
    conn.execute(BUMP, [])?;
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("strings serialize")
}

/// A JSON column (`NULL` is `None`).
fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(index)?;
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
        })
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let hash: Vec<u8> = row.get(2)?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Blob,
            "a key hash is 32 bytes".into(),
        )
    })?;
    Ok(KeyRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        hash: KeyHash(hash),
        prefix: row.get(3)?,
        team: row.get(4)?,
        metadata: json_column(row, 5)?.unwrap_or_default(),
        default_model: row.get(6)?,
        guardrails: json_column(row, 7)?,
        allowed_models: json_column(row, 8)?.unwrap_or_default(),
        allowed_providers: json_column(row, 9)?.unwrap_or_default(),
        created_at: row.get(10)?,
        expires_at: row.get(11)?,
        rotated_at: row.get(12)?,
        revoked_at: row.get(13)?,
        routing_config: row.get(14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::changes::KeyChanges;
    use crate::keys::record::Status;

    fn store(dir: &tempfile::TempDir) -> SqliteKeyStore {
        SqliteKeyStore::open(&dir.path().join("state.db")).unwrap()
    }

    fn everything() -> KeyChanges {
        KeyChanges {
            name: Some("CI bot".into()),
            team: Some(Some("infra".into())),
            tags: vec![("app".into(), Some("ci".into()))],
            default_model: Some(Some("fast".into())),
            guardrails: Some(Some(vec!["pii".into()])),
            allowed_models: Some(vec!["@oa/*".into()]),
            allowed_providers: Some(vec!["oa".into()]),
            expires_at: Some(Some(5_000)),
            routing_config: Some(Some("safe".into())),
        }
    }

    #[test]
    fn a_key_round_trips_with_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let (key, secret) = store
            .create(Some("ci"), &everything(), None, 1_000)
            .unwrap();
        assert_eq!(key.hash, KeyHash::of(secret.expose()));
        assert_eq!(store.get("ci").unwrap().as_ref(), Some(&key));
        assert_eq!(store.list().unwrap(), std::slice::from_ref(&key));
        assert_eq!(key.status(4_999), Status::Active);
        assert_eq!(key.status(5_000), Status::Expired(5_000));
        assert_eq!(store.get("nope").unwrap(), None);
        let (generated, _) = store.create(None, &KeyChanges::default(), None, 1).unwrap();
        assert!(generated.id.starts_with("key-"), "{}", generated.id);
        assert_eq!(generated.name, generated.id);
        assert!(matches!(
            store.create(Some("ci"), &KeyChanges::default(), None, 1),
            Err(KeyError::Exists(id)) if id == "ci"
        ));
        assert!(matches!(
            store.create(Some("Not A Slug"), &KeyChanges::default(), None, 1),
            Err(KeyError::Invalid(e)) if e.field == "id"
        ));
    }

    #[test]
    fn rotation_replaces_the_secret_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let (before, old) = store.create(Some("ci"), &everything(), None, 1).unwrap();
        let (after, new) = store.rotate("ci", 2).unwrap();
        assert_ne!(old.expose(), new.expose());
        assert_eq!(after.hash, KeyHash::of(new.expose()));
        assert_ne!(after.prefix, before.prefix, "the prefix follows the secret");
        assert_eq!(after.rotated_at, Some(2));
        let unchanged = KeyRecord {
            hash: before.hash,
            prefix: before.prefix.clone(),
            rotated_at: None,
            ..after.clone()
        };
        assert_eq!(unchanged, before);
        assert!(
            store
                .list()
                .unwrap()
                .iter()
                .all(|k| k.hash != KeyHash::of(old.expose()))
        );
        assert!(matches!(
            store.rotate("nope", 3),
            Err(KeyError::NotFound(_))
        ));
    }

    #[test]
    fn revocation_is_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        store
            .create(Some("ci"), &KeyChanges::default(), None, 1)
            .unwrap();
        assert_eq!(store.revoke("ci", 10).unwrap().revoked_at, Some(10));
        assert_eq!(
            store.revoke("ci", 20).unwrap().revoked_at,
            Some(10),
            "first time kept"
        );
        assert!(matches!(
            store.rotate("ci", 30),
            Err(KeyError::Revoked { at: 10, .. })
        ));
        let revive = KeyChanges {
            expires_at: Some(None),
            ..KeyChanges::default()
        };
        assert!(matches!(
            store.update("ci", &revive, None),
            Err(KeyError::Revoked { .. })
        ));
        assert_eq!(
            store.get("ci").unwrap().unwrap().status(40),
            Status::Revoked(10)
        );
        assert!(
            matches!(
                store.create(Some("ci"), &KeyChanges::default(), None, 50),
                Err(KeyError::Exists(_))
            ),
            "a revoked key's id is never given again"
        );
    }

    #[test]
    fn a_refused_change_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let (key, _) = store.create(Some("ci"), &everything(), None, 1).unwrap();
        let generation = store.generation().unwrap();
        let bad = KeyChanges {
            name: Some("new name".into()),
            allowed_providers: Some(vec!["Bad Slug".into()]),
            ..KeyChanges::default()
        };
        let error = store.update("ci", &bad, None).unwrap_err();
        assert!(
            matches!(&error, KeyError::Invalid(e) if e.field == "allowed_providers[0]"),
            "{error}"
        );
        assert_eq!(store.get("ci").unwrap().unwrap(), key);
        assert_eq!(store.generation().unwrap(), generation);
    }

    #[test]
    fn another_connection_sees_every_change_by_the_generation() {
        let dir = tempfile::tempdir().unwrap();
        let (cli, gateway) = (store(&dir), store(&dir));
        let seen = gateway.generation().unwrap();
        cli.create(Some("ci"), &KeyChanges::default(), None, 1)
            .unwrap();
        let after_create = gateway.generation().unwrap();
        assert_ne!(after_create, seen);
        assert_eq!(gateway.list().unwrap().len(), 1);
        cli.rotate("ci", 2).unwrap();
        let after_rotate = gateway.generation().unwrap();
        assert_ne!(after_rotate, after_create);
        cli.revoke("ci", 3).unwrap();
        assert_ne!(gateway.generation().unwrap(), after_rotate);
        assert_eq!(gateway.get("ci").unwrap().unwrap().revoked_at, Some(3));
        let untouched = gateway.generation().unwrap();
        assert_eq!(
            gateway.generation().unwrap(),
            untouched,
            "reads change nothing"
        );
    }

    #[test]
    fn processes_opening_a_new_file_at_once_all_get_in() {
        // The race is narrow: one round in ten or so met it before
        // `crate::sqlite::open` waited for the switch to WAL.
        for _ in 0..30 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state.db");
            let together = std::sync::Barrier::new(8);
            std::thread::scope(|scope| {
                for i in 0..8 {
                    let (path, together) = (&path, &together);
                    scope.spawn(move || {
                        together.wait();
                        let store = SqliteKeyStore::open(path).unwrap();
                        for j in 0..5 {
                            let id = format!("k{i}-{j}");
                            store
                                .create(Some(&id), &KeyChanges::default(), None, 1)
                                .unwrap();
                        }
                    });
                }
            });
            assert_eq!(store(&dir).list().unwrap().len(), 40);
        }
    }

    #[test]
    fn the_database_never_holds_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let (_, first) = store.create(Some("ci"), &everything(), None, 1).unwrap();
        let (_, second) = store.rotate("ci", 2).unwrap();
        drop(store);
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        assert!(bytes.len() > 4096, "read the database");
        for secret in [first, second] {
            let random = &secret.expose()[crate::keys::SECRET_PREFIX.len() + 4..];
            assert!(
                !bytes.windows(random.len()).any(|w| w == random.as_bytes()),
                "the secret is in the file"
            );
        }
    }
}
