//! Where the trail is kept: a SQLite file by default, PostgreSQL when several
//! gateway processes share one trail. Both keep one hash chain and answer the
//! same queries.

use super::filter::Filter;
use super::record::{Problem, Record};
use crate::secret::Secret;
use std::path::PathBuf;

/// A place that keeps audit records.
pub trait Store: Send {
    /// Appends `records`, in order, as one transaction that continues the chain.
    fn append(&mut self, records: &[Record]) -> anyhow::Result<()>;
    /// The records `filter` selects, oldest first, each with its sequence number.
    fn query(&mut self, filter: &Filter) -> anyhow::Result<Vec<(i64, Record)>>;
    /// Walks the whole chain; the number of records, or the first broken link.
    fn verify(&mut self) -> anyhow::Result<Result<u64, Problem>>;
    /// Deletes records older than `before_ms`, keeping the chain verifiable: the
    /// link of the last deleted record becomes the start. Returns how many.
    fn prune(&mut self, before_ms: i64) -> anyhow::Result<usize>;
}

/// Where a trail is.
#[derive(Debug, Clone)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (it may hold a password).
    Postgres(Secret),
}

impl Location {
    /// Whether `text` is a PostgreSQL URL rather than a file name.
    pub fn is_postgres_url(text: &str) -> bool {
        text.starts_with("postgres://") || text.starts_with("postgresql://")
    }

    /// `--db` on the command line: a `postgres://` URL or a file.
    pub fn parse(text: &str) -> Location {
        if Location::is_postgres_url(text) {
            Location::Postgres(Secret::new(text.to_string()))
        } else {
            Location::Sqlite(PathBuf::from(text))
        }
    }

    /// Connects (creating the tables when missing).
    pub fn open(&self) -> anyhow::Result<Box<dyn Store>> {
        match self {
            Location::Sqlite(path) => {
                Ok(Box::new(super::sqlite::SqliteStore::open(path).map_err(
                    |e| anyhow::anyhow!("cannot open the audit database {}: {e}", path.display()),
                )?))
            }
            Location::Postgres(url) => Ok(Box::new(super::postgres::PostgresStore::connect(url)?)),
        }
    }

    /// Where, in words, without a password: for start-up lines and errors.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => super::postgres::describe(url),
        }
    }
}
