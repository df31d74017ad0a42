//! Opening a SQLite file the way every sluice store does: its folder created,
//! the file private to the gateway's user ([`crate::private_files`]), WAL mode (readers never block the writer), a busy timeout, and `NORMAL`
//! synchronisation.

use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating if needed) the database at `path`.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    // A file that cannot be made shows up as the open's own error.
    let _ = crate::private_files::prepare_database(path);
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    use_wal(&conn)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// Puts the file in WAL mode, once. Switching takes a lock that SQLite does
/// not wait for, so a switch that meets another process opening a new file at
/// the same moment (two gateways, or a gateway and the CLI) is tried again for
/// up to a second.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut attempts = 0;
    loop {
        let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 50 =>
            {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
