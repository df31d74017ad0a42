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
//! writable only by the user the gateway runs as (it is created with mode 0700).

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
    /// Uses `dir`, creating it (mode 0700) if needed.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        create_private_dir(&dir)?;
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
            match deserialize_trusted(engine, &path) {
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
    // `Engine::precompile_component`, into a directory only this user can write,
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
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
