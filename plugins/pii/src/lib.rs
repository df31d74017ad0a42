//! sluice's built-in `pii` guardrail: finds personal data in prompts and answers.
//!
//! Detects e-mail addresses (see [`email`]), including internationalised ones, and
//! redacts them as `[EMAIL]` by default, so the model still sees that an address
//! was there. Settings (all optional):
//!
//! ```toml
//! [guardrails.settings]
//! action = "redact"                 # redact | flag | block
//! allow_domains = ["example.com"]   # addresses at these domains (and subdomains) pass
//! ```

pub mod email;

use serde::Deserialize;
use sluice_plugin_sdk::{
    Action, CacheScope, Context, Finding, Guardrail, Segment, Settings, Verdict,
};

/// The plugin's settings, as written in the gateway config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PiiSettings {
    #[serde(default = "default_action")]
    action: ConfiguredAction,
    #[serde(default)]
    allow_domains: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ConfiguredAction {
    Redact,
    Flag,
    Block,
}

fn default_action() -> ConfiguredAction {
    ConfiguredAction::Redact
}

/// The `pii` guardrail.
#[derive(Debug)]
pub struct Pii {
    action: Action,
    /// Lower-cased, without a leading `@` or `.`.
    allow_domains: Vec<String>,
}

impl Default for Pii {
    fn default() -> Self {
        Pii {
            action: Action::Redact,
            allow_domains: Vec::new(),
        }
    }
}

impl Pii {
    fn allowed(&self, address: &str) -> bool {
        let Some((_, domain)) = address.rsplit_once('@') else {
            return false;
        };
        let domain = domain.to_lowercase();
        self.allow_domains.iter().any(|allowed| {
            domain == *allowed
                || (domain.ends_with(allowed.as_str())
                    && domain.as_bytes()[domain.len() - allowed.len() - 1] == b'.')
        })
    }
}

impl Guardrail for Pii {
    const MAX_MATCH_LEN: u32 = email::MAX_LEN as u32;
    const CACHE_SCOPE: CacheScope = CacheScope::Segment;

    fn configure(settings: &Settings) -> Result<Self, String> {
        let settings: PiiSettings = settings.parse()?;
        let mut allow_domains = Vec::new();
        for domain in settings.allow_domains {
            let domain = domain.trim().trim_start_matches(['@', '.']).to_lowercase();
            if domain.is_empty() || !domain.contains('.') {
                return Err(format!(
                    "allow_domains: {domain:?} is not a domain name (expected something like \"example.com\")"
                ));
            }
            allow_domains.push(domain);
        }
        Ok(Pii {
            action: match settings.action {
                ConfiguredAction::Redact => Action::Redact,
                ConfiguredAction::Flag => Action::Flag,
                ConfiguredAction::Block => Action::Block,
            },
            allow_domains,
        })
    }

    fn check(&self, _ctx: &Context, segments: &[Segment]) -> Verdict {
        let mut findings = Vec::new();
        for (index, segment) in segments.iter().enumerate() {
            for span in email::find(&segment.text) {
                if self.allowed(&segment.text[span.clone()]) {
                    continue;
                }
                findings.push(
                    Finding::new(index, span, "email", "pii.email", self.action)
                        .with_replacement("[EMAIL]"),
                );
            }
        }
        let verdict = Verdict::from_findings(findings);
        if verdict.effective_action() == Action::Block {
            verdict.with_reason("the text contains an e-mail address")
        } else {
            verdict
        }
    }
}

sluice_plugin_sdk::register!(Pii, name = "pii");

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_plugin_sdk::testing::Harness;

    #[test]
    fn redacts_by_default() {
        let pii = Harness::<Pii>::with_defaults();
        assert_eq!(
            pii.redact("contact jane@example.com or bob@corp.io"),
            "contact [EMAIL] or [EMAIL]"
        );
    }

    #[test]
    fn block_mode_gives_a_reason_without_the_address() {
        let pii = Harness::<Pii>::configure(r#"{"action":"block"}"#).unwrap();
        let verdict = pii.check_text("mail jane@example.com");
        assert_eq!(verdict.effective_action(), Action::Block);
        let reason = verdict.reason.unwrap();
        assert!(!reason.contains("jane"), "{reason}");
    }

    #[test]
    fn allowlisted_domains_and_subdomains_pass() {
        let pii = Harness::<Pii>::configure(r#"{"allow_domains":["@Acme.com"]}"#).unwrap();
        assert_eq!(
            pii.redact("a@acme.com b@eu.acme.com c@notacme.com"),
            "a@acme.com b@eu.acme.com [EMAIL]"
        );
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        let err = Harness::<Pii>::configure(r#"{"action":"shred"}"#)
            .err()
            .unwrap();
        assert!(err.contains("shred"), "{err}");
        let err = Harness::<Pii>::configure(r#"{"allow_domain":[]}"#)
            .err()
            .unwrap();
        assert!(err.contains("allow_domain"), "{err}");
        let err = Harness::<Pii>::configure(r#"{"allow_domains":["localhost"]}"#)
            .err()
            .unwrap();
        assert!(err.contains("localhost"), "{err}");
    }
}
