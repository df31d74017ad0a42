//! The built-in plugins, compiled to components by `build.rs` and embedded.

/// A plugin that ships inside the gateway binary.
#[derive(Debug)]
pub struct Builtin {
    /// The name used in configs (`plugin = "pii"`).
    pub name: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// The component.
    pub bytes: &'static [u8],
}

/// Every built-in plugin.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "secrets",
        summary: "credentials: 243 rules for cloud, source-host, SaaS, LLM and registry tokens, private keys, JWTs, passwords in URLs and assignments (redacted as [SECRET:<rule>_1])",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/builtin/secrets.wasm")),
    },
    Builtin {
        name: "pii",
        summary: "personal data: e-mail, phone, payment card, IBAN, US SSN, public IP (redacted as [EMAIL_1], [PHONE_1], ... by default)",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/builtin/pii.wasm")),
    },
    Builtin {
        name: "content-filter",
        summary: "profanity, hate, violence, self-harm, sexual content and prompt injection (flagged), hidden text (stripped); evasion-resistant matching",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/builtin/content-filter.wasm")),
    },
    Builtin {
        name: "org-rules",
        summary: "your organisation's rules from the config: regexes, keyword lists, model and team scopes (no rules by default)",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/builtin/org-rules.wasm")),
    },
];

/// The built-in called `name`.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The names of all built-ins.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|b| b.name).collect()
}
