//! Precompiled components on disk, so that a restart loads each plugin in well
//! under a millisecond instead of compiling it again.
//!
//! An artifact's file name is the BLAKE3 hash of the component's bytes plus a hash of
//! the engine's compatibility settings (wasmtime version, target, tunables), so a
//! changed plugin or a changed engine never picks up a stale artifact. Files are
//! written to a temporary name and renamed into place, so concurrent gateways
//! never see a half-written one.
//!
//! Trust: loading an artifact runs its machine code. The cache directory must be
//! writable only by the user the gateway runs as: it is created with mode 0700,
//! and one that is not owned by that user or that its group or others may
//! write is refused ([`ArtifactCache::open`] fails, naming its owner and mode).
//! Each artifact is checked the same way before it is loaded; one that fails is
//! compiled again and replaced.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
}

/// How a component was obtained, for logs and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Loaded from a precompiled artifact.
    Cached,
    /// Compiled now (and stored, when a cache is configured).
    Compiled,
}

impl ArtifactCache {
    /// Uses `dir`, creating it (mode 0700) if needed; fails when it is not
    /// private to this user.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        crate::private_files::create_dir(&dir)?;
        check_private(&dir, "plugin cache directory")?;
        Ok(ArtifactCache { dir })
    }

    /// The directory artifacts live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The default location: `$SLUICE_CACHE_DIR`, else `$XDG_CACHE_HOME/sluice`,
    /// else `~/.cache/sluice`; the `components` folder inside it.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("SLUICE_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("sluice")))
            .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/sluice")))?;
        Some(base.join("components"))
    }

    /// The artifact path for `bytes` under `engine`.
    pub fn path_for(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut engine_hasher = DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hasher);
        let digest = blake3::hash(bytes);
        let name = format!(
            "{}-{:016x}.cwasm",
            &digest.to_hex()[..32],
            engine_hasher.finish()
        );
        self.dir.join(name)
    }

    /// Loads the component for `bytes`, from the cache when possible; otherwise
    /// compiles it and stores the artifact. A cache that cannot be written is not
    /// an error: the component is still returned, and the reason is logged.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<(Component, Origin)> {
        let path = self.path_for(engine, bytes);
        if path.exists() {
            match check_private(&path, "compiled plugin")
                .map_err(wasmtime::Error::from)
                .and_then(|()| deserialize_trusted(engine, &path))
            {
                Ok(component) => return Ok((component, Origin::Cached)),
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "ignoring an unusable precompiled plugin; compiling again"
                ),
            }
        }
        let artifact = engine.precompile_component(bytes)?;
        if let Err(e) = write_atomically(&path, &artifact) {
            tracing::warn!(path = %path.display(), error = %e, "could not cache a compiled plugin");
        }
        let component = deserialize_trusted_bytes(engine, &artifact)?;
        Ok((component, Origin::Compiled))
    }
}

#[allow(unsafe_code)]
fn deserialize_trusted(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file was written by `ArtifactCache::load` from
    // `Engine::precompile_component`, into a directory only this user can write
    // (checked, with the file itself, by `check_private`),
    // under a name bound to the component's hash and this engine's settings; and
    // wasmtime itself checks the artifact's header against the engine.
    unsafe { Component::deserialize_file(engine, path) }
}

#[allow(unsafe_code)]
fn deserialize_trusted_bytes(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `artifact` was produced a moment ago by `Engine::precompile_component`
    // on this very engine.
    unsafe { Component::deserialize(engine, artifact) }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("artifact"),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    // Private whatever the umask, so that the check before loading it passes.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&tmp)?, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Fails unless `path` is owned by the user the gateway runs as and writable
/// by no one else.
#[cfg(unix)]
fn check_private(path: &Path, what: &str) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path)?;
    let me = rustix::process::geteuid().as_raw();
    let mode = metadata.mode() & 0o7777;
    if metadata.uid() == me && mode & 0o022 == 0 {
        return Ok(());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!(
            "refusing {what} {}: it is owned by uid {} with mode {mode:o}, but must be owned by \
             this user (uid {me}) and writable by no one else (chmod go-w), since the gateway \
             runs the machine code in it",
            path.display(),
            metadata.uid(),
        ),
    ))
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _what: &str) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn running_as_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    #[test]
    fn a_directory_others_may_write_or_own_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("components");
        ArtifactCache::open(&cache).unwrap();
        assert_eq!(
            std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
            0o700
        );
        set_mode(&cache, 0o777);
        let message = ArtifactCache::open(&cache).unwrap_err().to_string();
        assert!(
            message.contains(&cache.display().to_string()) && message.contains("mode 777"),
            "{message}"
        );
        set_mode(&cache, 0o750);
        ArtifactCache::open(&cache).expect("readable by the group is fine");
        if running_as_root() {
            std::os::unix::fs::chown(&cache, Some(4242), None).unwrap();
            let message = ArtifactCache::open(&cache).unwrap_err().to_string();
            assert!(message.contains("owned by uid 4242"), "{message}");
        }
    }

    #[test]
    fn an_artifact_others_may_write_or_own_is_compiled_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::open(dir.path().join("components")).unwrap();
        let engine = Engine::default();
        let bytes = wat::parse_str("(component)").unwrap();
        assert_eq!(cache.load(&engine, &bytes).unwrap().1, Origin::Compiled);
        assert_eq!(cache.load(&engine, &bytes).unwrap().1, Origin::Cached);
        let artifact = cache.path_for(&engine, &bytes);
        set_mode(&artifact, 0o666);
        assert_eq!(cache.load(&engine, &bytes).unwrap().1, Origin::Compiled);
        assert_eq!(
            std::fs::metadata(&artifact).unwrap().permissions().mode() & 0o777,
            0o600,
            "replaced by a private one"
        );
        assert_eq!(cache.load(&engine, &bytes).unwrap().1, Origin::Cached);
        if running_as_root() {
            std::os::unix::fs::chown(&artifact, Some(4242), None).unwrap();
            assert_eq!(cache.load(&engine, &bytes).unwrap().1, Origin::Compiled);
        }
    }
}
