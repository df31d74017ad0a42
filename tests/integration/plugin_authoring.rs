//! The path a new plugin author takes, as `docs/writing-a-plugin.md` tells it:
//! scaffold a crate, test it natively, build the component, check it, enable it
//! in a config, and see it redact through `sluice scan`.

use crate::support::{run_with_stdin, sluice, text};
use std::path::Path;
use std::process::Command;

fn cargo(dir: &Path, args: &[&str]) {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold-test");
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_new_plugin_goes_from_scaffold_to_redacting_in_a_scan() {
    let work = tempfile::tempdir().unwrap();
    let crate_dir = work.path().join("codename-guard");
    let output = sluice()
        .args(["plugin", "new", "codename-guard", "--dir"])
        .arg(&crate_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{:?}", text(&output));

    cargo(&crate_dir, &["test", "--quiet"]);
    cargo(
        &crate_dir,
        &["build", "--release", "--target", "wasm32-wasip2", "--quiet"],
    );
    let wasm = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/scaffold-test/wasm32-wasip2/release/codename_guard.wasm");
    assert!(wasm.exists(), "{}", wasm.display());

    let output = sluice()
        .args(["plugin", "check"])
        .arg(&wasm)
        .args([
            "--settings",
            r#"{"words": ["falcon"]}"#,
            "--sample",
            "project falcon",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("plugin:        codename-guard 0.1.0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sample check:  redact (1 findings)"),
        "{stdout}"
    );

    let config = work.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "[[guardrails]]\npath = {:?}\nsettings = {{ words = [\"falcon\"] }}\n\n[[guardrails]]\nplugin = \"pii\"\n",
            wasm.display().to_string()
        ),
    )
    .unwrap();
    let output = run_with_stdin(
        sluice()
            .arg("scan")
            .arg("--redact")
            .arg("--config")
            .arg(&config),
        "Project falcon launches; ask jane@example.com.",
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(
        stdout, "Project [WORD_1] launches; ask [EMAIL_1].",
        "{stderr}"
    );
}
