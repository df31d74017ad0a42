//! Loading: components that are not guardrails, or built for another contract
//! version, are refused with a message naming the file; compiled components are
//! cached on disk and a damaged artifact is rebuilt.

use crate::support::{context, guest, sandbox, segments};
use sluice::builtin;
use sluice::sandbox::{ArtifactCache, Limits, LoadError, Origin, PluginSource, Sandbox};

fn load_err(sandbox: &Sandbox, source: &PluginSource) -> LoadError {
    sandbox
        .load(source, "{}", Limits::default())
        .err()
        .expect("the load is refused")
}

#[test]
fn another_contract_version_is_refused_naming_file_and_versions() {
    let sandbox = sandbox();
    let path = guest("sluice-guest-old-contract");
    let err = load_err(&sandbox, &PluginSource::File(path.clone()));
    assert!(
        matches!(err, LoadError::IncompatibleContract { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("contract 0.1.0"), "{message}");
    assert!(message.contains("implements 0.2.0"), "{message}");
}

#[test]
fn things_that_are_not_guardrails_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "core.wasm",
            wat::parse_str("(module (func (export \"check\")))").unwrap(),
            "core WebAssembly module",
        ),
        ("text.wasm", b"hello, not wasm".to_vec(), "magic bytes"),
        (
            "empty-component.wasm",
            wat::parse_str("(component)").unwrap(),
            "does not export `sluice:guardrail/plugin` (its exports: nothing)",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let message = load_err(&sandbox, &PluginSource::File(path.clone())).to_string();
        assert!(message.contains(expected), "{name}: {message}");
        assert!(message.contains(name), "{name}: names the file: {message}");
    }
    let missing = dir.path().join("missing.wasm");
    let message = load_err(&sandbox, &PluginSource::File(missing)).to_string();
    assert!(
        message.contains("missing.wasm") && message.contains("cannot read"),
        "{message}"
    );
}

#[test]
fn compiled_components_are_cached_and_a_damaged_artifact_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ArtifactCache::open(dir.path().join("components")).unwrap();
    let sandbox = Sandbox::new(Some(cache.clone())).unwrap();
    let pii = builtin::find("pii").unwrap();
    let source = PluginSource::Builtin {
        name: pii.name,
        bytes: pii.bytes,
    };
    assert_eq!(sandbox.compile(&source).unwrap().1, Origin::Compiled);
    assert_eq!(sandbox.compile(&source).unwrap().1, Origin::Cached);

    // A new engine (a restart) finds the same artifact.
    let restarted = Sandbox::new(Some(cache.clone())).unwrap();
    assert_eq!(restarted.compile(&source).unwrap().1, Origin::Cached);

    // Damage it: the cache notices, compiles again, and the plugin works.
    let artifact = cache.path_for(restarted.engine(), pii.bytes);
    std::fs::write(&artifact, b"garbage").unwrap();
    assert_eq!(restarted.compile(&source).unwrap().1, Origin::Compiled);
    let plugin = restarted.load(&source, "{}", Limits::default()).unwrap();
    let verdict = plugin
        .check(&context(), &segments(&["mail jane@example.com"]))
        .unwrap();
    assert_eq!(verdict.findings.len(), 1);
}
