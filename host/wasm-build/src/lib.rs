//! Build-script helper: compiles workspace crates to `wasm32-wasip2` components.
//!
//! The gateway embeds its built-in guardrail plugins, and the integration tests load
//! hostile guest plugins; both are ordinary workspace crates that must be compiled
//! for another target than the build script's. [`build_components`] runs a nested
//! `cargo build --target wasm32-wasip2 --profile plugin` into its own target
//! directory (so it never waits on the outer build's lock), installs the target
//! with rustup when it is missing, and tells the outer cargo what to watch.
//!
//! ```no_run
//! let built = sluice_wasm_build::build_components(&["sluice-plugin-pii"]);
//! for component in &built {
//!     println!("{} -> {}", component.package, component.path.display());
//! }
//! ```

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target plugins are compiled for. `cargo build` emits a component directly.
pub const TARGET: &str = "wasm32-wasip2";

/// The cargo profile used for components (defined in the workspace manifest).
pub const PROFILE: &str = "plugin";

/// One compiled component.
#[derive(Debug, Clone)]
pub struct Component {
    /// The package name, such as `sluice-plugin-pii`.
    pub package: String,
    /// The `.wasm` file.
    pub path: PathBuf,
}

/// Compiles `packages` (workspace members) to components and returns their paths.
///
/// Call from a build script. Panics with an explanation when the target cannot be
/// installed or the build fails, which fails the outer build with that message.
pub fn build_components(packages: &[&str]) -> Vec<Component> {
    let workspace = workspace_root();
    ensure_target_installed();

    for dir in ["wit", "plugin-sdk", "plugins", "tests/guests", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=SLUICE_WASM_TARGET_DIR");

    let target_dir = wasm_target_dir(&workspace);
    let mut cargo = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(&workspace)
        .arg("build")
        .arg("--target")
        .arg(TARGET)
        .arg("--profile")
        .arg(PROFILE)
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        cargo.arg("-p").arg(package);
    }
    // Flags meant for the outer (native) build must not leak into the wasm build;
    // clippy's wrapper would only slow it down.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        cargo.env_remove(var);
    }
    // WebAssembly SIMD (wasmtime supports it): memchr, aho-corasick and regex use
    // it to scan many bytes per instruction, as they use SSE/AVX natively.
    cargo.env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+simd128");

    let status = cargo
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the wasm plugins: {e}"));
    assert!(
        status.success(),
        "building the wasm plugins {packages:?} for {TARGET} failed (see the cargo output above)"
    );

    packages
        .iter()
        .map(|package| {
            let file = format!("{}.wasm", package.replace('-', "_"));
            let path = target_dir.join(TARGET).join(PROFILE).join(file);
            assert!(path.exists(), "cargo did not produce {}", path.display());
            Component {
                package: package.to_string(),
                path,
            }
        })
        .collect()
}

/// The workspace root: the nearest ancestor of the calling crate whose manifest
/// declares `[workspace]`.
fn workspace_root() -> PathBuf {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("run from a build script"));
    manifest_dir
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .map(|manifest| manifest.contains("[workspace]"))
                .unwrap_or(false)
        })
        .expect("no workspace manifest above the crate")
        .to_path_buf()
}

fn wasm_target_dir(workspace: &Path) -> PathBuf {
    if let Some(dir) = env::var_os("SLUICE_WASM_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("wasm"),
        None => workspace.join("target").join("wasm"),
    }
}

/// Installs the wasm target with rustup when the toolchain lacks it, so a fresh
/// machine with only rustup's default toolchain builds sluice with one command.
fn ensure_target_installed() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if let Some(sysroot) = &sysroot
        && sysroot.join("lib/rustlib").join(TARGET).exists()
    {
        return;
    }
    println!(
        "cargo:warning=installing the {TARGET} target with rustup (needed to build the guardrail plugins)"
    );
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`rustup target add {TARGET}` failed ({status}); install the target and build again"
        ),
        Err(e) => panic!(
            "the {TARGET} target is missing and rustup could not be run ({e}); \
             install the target for your toolchain and build again"
        ),
    }
}
