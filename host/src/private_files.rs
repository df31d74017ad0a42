//! Files only the gateway's user may read: the state and audit databases (and
//! SQLite's `-wal` and `-shm` files beside them), the audit hashing key and the
//! request log.
//!
//! A missing file is created with mode 0600, and any folder made for it with
//! mode 0700. An existing file that its group or others may use is tightened
//! to 0600, with a warning naming it and its old mode; one that cannot be
//! (another user's) is left as it is, with a warning. Existing folders are
//! left alone: they may be shared ones such as `/var/log`.
//!
//! Elsewhere than on Unix, files get the platform's default permissions.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Creates `dir` and its missing parents, each with mode 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the folder a file at `path` goes in, when missing (mode 0700).
fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => create_dir(dir),
        _ => Ok(()),
    }
}

/// Opens `path` for appending: created 0600 (its folder 0700) when missing,
/// tightened when looser.
pub fn open_append(path: &Path) -> io::Result<File> {
    create_parent(path)?;
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    tighten(path);
    Ok(file)
}

/// Makes sure a SQLite database at `path` is private before SQLite opens it:
/// the file is created empty with mode 0600 when missing (SQLite gives its
/// `-wal` and `-shm` files the database's mode), and it and those files are
/// tightened when looser.
///
/// An existing database is never opened here: closing a second descriptor of
/// a file drops every POSIX lock this process holds on it, SQLite's included.
pub fn prepare_database(path: &Path) -> io::Result<()> {
    create_parent(path)?;
    if !path.exists() {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => {}
            // Made by another connection meanwhile: leave it to SQLite.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    for file in [
        path.to_path_buf(),
        with_suffix(path, "-wal"),
        with_suffix(path, "-shm"),
    ] {
        if file.exists() {
            tighten(&file);
        }
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Sets an existing file that its group or others may use to 0600, with a
/// warning; a file that cannot be changed gets a warning only.
pub fn tighten(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(metadata) = std::fs::metadata(path) else {
            return;
        };
        let mode = metadata.permissions().mode() & 0o777;
        if !metadata.is_file() || mode & 0o077 == 0 {
            return;
        }
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => tracing::warn!(
                path = %path.display(),
                "{} was mode {mode:o}, readable beyond its owner: set to 600",
                path.display()
            ),
            Err(e) => tracing::warn!(
                path = %path.display(),
                error = %e,
                "{} is mode {mode:o}, readable beyond its owner, and could not be set to 600",
                path.display()
            ),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_files_are_private_in_private_folders() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/requests.jsonl");
        open_append(&log).unwrap();
        assert_eq!(mode(&log), 0o600);
        assert_eq!(mode(&dir.path().join("logs")), 0o700);
        let db = dir.path().join("data/deeper/state.db");
        prepare_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        assert_eq!(mode(&dir.path().join("data/deeper")), 0o700);
    }

    #[test]
    fn loose_files_are_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("audit.db");
        let wal = dir.path().join("audit.db-wal");
        let log = dir.path().join("requests.jsonl");
        for file in [&db, &wal, &log] {
            std::fs::write(file, b"").unwrap();
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        prepare_database(&db).unwrap();
        open_append(&log).unwrap();
        for file in [&db, &wal, &log] {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
    }
}
