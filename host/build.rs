//! Compiles the built-in guardrail plugins to wasm32-wasip2 components and puts
//! them in OUT_DIR, where `src/builtin.rs` embeds them.

/// (package, file name in OUT_DIR/builtin)
const BUILTINS: &[(&str, &str)] = &[
    ("sluice-plugin-secrets", "secrets.wasm"),
    ("sluice-plugin-pii", "pii.wasm"),
    ("sluice-plugin-content-filter", "content-filter.wasm"),
    ("sluice-plugin-org-rules", "org-rules.wasm"),
];

fn main() {
    let packages: Vec<&str> = BUILTINS.iter().map(|(package, _)| *package).collect();
    let built = sluice_wasm_build::build_components(&packages);
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("builtin");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/builtin");
    for (component, (_, file)) in built.iter().zip(BUILTINS) {
        std::fs::copy(&component.path, out.join(file))
            .unwrap_or_else(|e| panic!("copy {}: {e}", component.path.display()));
    }
}
