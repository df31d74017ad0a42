//! Shared helpers: test guests, sandboxes, and the `sluice` binary.

use sluice::sandbox::{Context, Limits, Phase, Plugin, PluginSource, Sandbox, Segment};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The test guest packages, compiled together once per test run.
const GUESTS: &[&str] = &["sluice-guest-hostile", "sluice-guest-old-contract"];

/// The component file of test guest `package`.
pub fn guest(package: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<sluice_wasm_build::Component>> = OnceLock::new();
    let built = BUILT.get_or_init(|| sluice_wasm_build::build_components(GUESTS));
    built
        .iter()
        .find(|c| c.package == package)
        .unwrap_or_else(|| panic!("{package} is not a test guest"))
        .path
        .clone()
}

/// A sandbox without an artifact cache (each test compiles what it loads).
pub fn sandbox() -> Sandbox {
    Sandbox::new(None).expect("sandbox")
}

/// The hostile guest, loaded with `limits` and no settings.
pub fn hostile(sandbox: &Sandbox, limits: Limits) -> Plugin {
    let source = PluginSource::File(guest("sluice-guest-hostile"));
    sandbox
        .load(&source, "{}", limits)
        .expect("load hostile guest")
}

/// A request-phase context.
pub fn context() -> Context {
    Context {
        phase: Phase::Request,
        api: "openai".into(),
        model: "@test/model".into(),
        key_id: Some("key-1".into()),
        metadata: vec![("team".into(), "infra".into())],
    }
}

/// One user-message segment per text.
pub fn segments(texts: &[&str]) -> Vec<Segment> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| Segment::user(format!("messages[{i}].content"), *text))
        .collect()
}

/// The `sluice` binary, with a private artifact cache.
pub fn sluice() -> Command {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let cache = CACHE.get_or_init(|| tempfile::tempdir().expect("cache dir"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command.env("SLUICE_CACHE_DIR", cache.path());
    command.env_remove("SLUICE_LOG");
    command
}

/// Runs `command` with `stdin` and returns its output.
pub fn run_with_stdin(command: &mut Command, stdin: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sluice");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for sluice")
}

/// Stdout and stderr as text.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
