//! The single `bindgen!` site for the guardrail contract, and the few conversions
//! and checks that sit on the boundary.
//!
//! The generated types *are* sluice's guardrail domain types (re-exported from
//! [`crate::guardrail`]): a request's segments are lowered into the guest straight
//! from them, with no intermediate copy of the text.

#[allow(missing_docs)] // generated from the WIT, whose comments become docs
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/guardrail.wit",
        world: "guardrail",
        additional_derives: [PartialEq, Eq],
    });
}

pub use self::generated::{Guardrail, GuardrailPre};

/// The host side of the `host` interface (implemented in `store.rs`).
pub use self::generated::sluice::guardrail::host as host_interface;

pub use self::generated::sluice::guardrail::host::Level;
pub use self::generated::sluice::guardrail::types::{
    Action, CacheScope, Context, Finding, Info, Phase, Segment, SegmentKind, Verdict,
};

/// The contract version this host implements, from the WIT package.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// The fully qualified name of the interface a guardrail exports, minus version.
pub const PLUGIN_INTERFACE: &str = "sluice:guardrail/plugin";

impl Action {
    /// Mildest to strongest: allow < flag < redact < block.
    pub fn strength(self) -> u8 {
        match self {
            Action::Allow => 0,
            Action::Flag => 1,
            Action::Redact => 2,
            Action::Block => 3,
        }
    }

    /// The stronger of two actions.
    pub fn max(self, other: Action) -> Action {
        if other.strength() > self.strength() {
            other
        } else {
            self
        }
    }

    /// The lowercase name used in config, output and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Redact => "redact",
            Action::Block => "block",
        }
    }
}

impl Phase {
    /// The lowercase name used in config and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Request => "request",
            Phase::Response => "response",
        }
    }
}

impl Verdict {
    /// The strongest action of the verdict and its findings.
    pub fn effective_action(&self) -> Action {
        self.action.max(self.strongest_finding())
    }

    /// The strongest action of the findings alone (allow when there are none).
    pub fn strongest_finding(&self) -> Action {
        self.findings
            .iter()
            .fold(Action::Allow, |acc, f| acc.max(f.action))
    }
}

impl Segment {
    /// A user message's text, found at `path`.
    pub fn user(path: impl Into<String>, text: impl Into<String>) -> Segment {
        Segment {
            path: path.into(),
            role: "user".into(),
            kind: SegmentKind::Message,
            text: text.into(),
        }
    }
}

impl Finding {
    /// The text that replaces the span on redact: the plugin's, or `[KIND]`.
    pub fn replacement_text(&self) -> String {
        match &self.replacement {
            Some(r) => r.clone(),
            None => format!("[{}]", self.kind.to_ascii_uppercase().replace('-', "_")),
        }
    }
}

/// Whether a component built against contract `found` works with this host: same
/// major version, and for 0.x the same minor (semver's rule for pre-1.0).
pub fn compatible(found: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split(['.', '-', '+']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(found), parse(CONTRACT_VERSION)) {
        (Some((0, found_minor)), Some((0, ours_minor))) => found_minor == ours_minor,
        (Some((found_major, _)), Some((ours_major, _))) => found_major == ours_major,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_compatibility_follows_semver() {
        assert!(compatible("0.2.0"));
        assert!(compatible("0.2.7"));
        assert!(!compatible("0.1.0"), "0.1 verdicts have no settled offsets");
        assert!(!compatible("0.3.0"));
        assert!(!compatible("1.1.0"));
        assert!(!compatible("garbage"));
    }

    #[test]
    fn strongest_action_wins() {
        assert_eq!(Action::Flag.max(Action::Redact), Action::Redact);
        assert_eq!(Action::Block.max(Action::Allow), Action::Block);
    }
}
