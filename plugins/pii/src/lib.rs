//! sluice's built-in `pii` guardrail: finds personal data in prompts and answers.
//!
//! | kind | what | placeholder |
//! |---|---|---|
//! | `email` | e-mail addresses, internationalised ones included ([`email`]) | `[EMAIL]` |
//! | `phone` | North American and international (`+CC`) phone numbers ([`phone`]) | `[PHONE]` |
//! | `card` | payment card numbers of the major brands, Luhn-checked ([`card`]) | `[CARD]` |
//! | `iban` | IBANs, country length and mod-97 checked ([`iban`]) | `[IBAN]` |
//! | `ssn` | US social security numbers, never-issued ranges rejected ([`ssn`]) | `[SSN]` |
//! | `ip` | public IPv4 and IPv6 addresses ([`ip`]) | `[IP]` |
//!
//! Settings (all optional):
//!
//! ```toml
//! settings = { action = "redact",                 # default for every kind: redact | flag | block
//!              kinds = { ip = "flag", phone = "off" },   # per kind, "off" disables it
//!              allow_domains = ["example.com"],   # e-mail at these domains (and subdomains) passes
//!              allow_values = ["4111 1111 1111 1111"],   # exact values that pass (spacing ignored)
//!              include_private_ips = false }      # also report loopback, private, link-local ranges
//! ```

pub mod card;
mod digits;
pub mod email;
pub mod iban;
pub mod ip;
mod number_starts;
pub mod phone;
mod settled;
pub mod ssn;

use number_starts::NumberStarts;
use serde::Deserialize;
use sluice_plugin_sdk::{
    Action, CacheScope, Context, Finding, Guardrail, Mode, Segment, Settings, Verdict,
};
use std::collections::BTreeMap;
use std::ops::Range;

/// Every kind, with its rule id and placeholder.
const KINDS: &[(&str, &str)] = &[
    ("email", "[EMAIL]"),
    ("phone", "[PHONE]"),
    ("card", "[CARD]"),
    ("iban", "[IBAN]"),
    ("ssn", "[SSN]"),
    ("ip", "[IP]"),
];

/// The plugin's settings, as written in the gateway config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PiiSettings {
    #[serde(default = "default_action")]
    action: Mode,
    #[serde(default)]
    kinds: BTreeMap<String, Mode>,
    #[serde(default)]
    allow_domains: Vec<String>,
    #[serde(default)]
    allow_values: Vec<String>,
    #[serde(default)]
    include_private_ips: bool,
}

fn default_action() -> Mode {
    Mode::Redact
}

/// The `pii` guardrail.
#[derive(Debug)]
pub struct Pii {
    /// Action per kind, in the order of `KINDS`; `None` when the kind is off.
    actions: [Option<Action>; 6],
    /// Lower-cased, without a leading `@` or `.`.
    allow_domains: Vec<String>,
    /// Normalised (no spaces or dashes, upper-cased).
    allow_values: Vec<String>,
    include_private_ips: bool,
}

impl Default for Pii {
    fn default() -> Self {
        Pii {
            actions: [Some(Action::Redact); 6],
            allow_domains: Vec::new(),
            allow_values: Vec::new(),
            include_private_ips: false,
        }
    }
}

fn normalise(value: &str) -> String {
    value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .flat_map(char::to_uppercase)
        .collect()
}

impl Pii {
    fn allowed_domain(&self, address: &str) -> bool {
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

    /// Every match in `text`: (kind index, span).
    fn matches(&self, text: &str) -> Vec<(usize, Range<usize>)> {
        let mut out = Vec::new();
        let on = |kind: usize| self.actions[kind].is_some();
        if on(0) {
            out.extend(
                email::find(text)
                    .into_iter()
                    .filter(|s| !self.allowed_domain(&text[s.clone()]))
                    .map(|s| (0, s)),
            );
        }
        // One pass finds where the numbers start, for every number detector.
        let starts = NumberStarts::new(text.as_bytes());
        if on(1) {
            out.extend(phone::find_in(text, &starts).into_iter().map(|s| (1, s)));
            out.extend(
                phone::find_national_in(text, &starts)
                    .into_iter()
                    .map(|s| (1, s)),
            );
        }
        let digit_runs = if on(2) || on(4) {
            digits::runs_in(text, &starts)
        } else {
            Vec::new()
        };
        if on(2) {
            out.extend(
                card::from_runs(text, &digit_runs)
                    .into_iter()
                    .map(|(s, _)| (2, s)),
            );
        }
        if on(3) {
            out.extend(iban::find_in(text, &starts).into_iter().map(|s| (3, s)));
        }
        if on(4) {
            out.extend(
                ssn::from_runs(text, &digit_runs)
                    .into_iter()
                    .map(|s| (4, s)),
            );
        }
        if on(5) {
            out.extend(
                ip::find_in(text, &starts)
                    .into_iter()
                    .filter(|f| f.public || self.include_private_ips)
                    .map(|f| (5, f.span)),
            );
        }
        if !self.allow_values.is_empty() {
            out.retain(|(_, span)| !self.allow_values.contains(&normalise(&text[span.clone()])));
        }
        // One finding per stretch of text: an IBAN's digits are not also a card,
        // nor a `+49...` phone's digits; the earlier, then longer, match wins.
        out.sort_by_key(|(_, span)| (span.start, std::cmp::Reverse(span.end)));
        let mut kept: Vec<(usize, Range<usize>)> = Vec::with_capacity(out.len());
        for (kind, span) in out {
            if kept.last().is_none_or(|(_, last)| span.start >= last.end) {
                kept.push((kind, span));
            }
        }
        kept
    }
}

impl Guardrail for Pii {
    const MAX_MATCH_LEN: u32 = email::MAX_LEN as u32;
    const CACHE_SCOPE: CacheScope = CacheScope::Segment;

    fn configure(settings: &Settings) -> Result<Self, String> {
        let settings: PiiSettings = settings.parse()?;
        if settings.action == Mode::Off {
            return Err("action: \"off\" would disable every kind; remove the guardrail instead, or turn kinds off one by one in `kinds`".into());
        }
        let mut actions = [settings.action.action(); 6];
        for (kind, mode) in &settings.kinds {
            let Some(index) = KINDS.iter().position(|(name, _)| name == kind) else {
                let known: Vec<&str> = KINDS.iter().map(|(name, _)| *name).collect();
                return Err(format!(
                    "kinds: unknown kind `{kind}` (kinds: {})",
                    known.join(", ")
                ));
            };
            actions[index] = mode.action();
        }
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
            actions,
            allow_domains,
            allow_values: settings.allow_values.iter().map(|v| normalise(v)).collect(),
            include_private_ips: settings.include_private_ips,
        })
    }

    fn check(&self, _ctx: &Context, segments: &[Segment]) -> Verdict {
        let mut findings = Vec::new();
        for (index, segment) in segments.iter().enumerate() {
            for (kind, span) in self.matches(&segment.text) {
                let (name, placeholder) = KINDS[kind];
                let action = self.actions[kind].expect("only enabled kinds match");
                findings.push(
                    Finding::new(index, span, name, format!("pii.{name}"), action)
                        .with_replacement(placeholder),
                );
            }
        }
        let verdict = Verdict::from_findings(findings);
        if verdict.effective_action() == Action::Block {
            let mut kinds: Vec<String> = verdict
                .findings
                .iter()
                .filter(|f| f.action == Action::Block)
                .map(|f| f.kind.clone())
                .collect();
            kinds.sort();
            kinds.dedup();
            verdict.with_reason(format!(
                "the text contains personal data ({})",
                kinds.join(", ")
            ))
        } else {
            verdict
        }
    }

    fn settled(&self, segment: &Segment) -> usize {
        settled::settled(&segment.text)
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
        assert_eq!(reason, "the text contains personal data (email)");
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

    #[test]
    fn every_kind_is_redacted_with_its_placeholder() {
        let pii = Harness::<Pii>::with_defaults();
        let text = "Jane (jane@example.com, +44 20 7946 0958) paid with 4111 1111 1111 1111 from \
                    DE89 3704 0044 0532 0130 00; SSN 123-45-6789; logged in from 81.2.69.160 via 10.0.0.1.";
        assert_eq!(
            pii.redact(text),
            "Jane ([EMAIL], [PHONE]) paid with [CARD] from [IBAN]; SSN [SSN]; logged in from [IP] via 10.0.0.1."
        );
    }

    #[test]
    fn kinds_can_be_set_one_by_one_and_values_allowlisted() {
        let pii = Harness::<Pii>::configure(
            r#"{"kinds": {"ip": "off", "phone": "flag"}, "allow_values": ["4111-1111-1111-1111"], "include_private_ips": true}"#,
        )
        .unwrap();
        let text = "ip 81.2.69.160, call 415-555-2671, test card 4111 1111 1111 1111, real 5555 5555 5555 4444";
        assert_eq!(
            pii.redact(text),
            "ip 81.2.69.160, call 415-555-2671, test card 4111 1111 1111 1111, real [CARD]"
        );
        let verdict = pii.check_text(text);
        let phone = verdict.findings.iter().find(|f| f.kind == "phone").unwrap();
        assert_eq!(phone.action, Action::Flag);
        assert!(
            Harness::<Pii>::configure(r#"{"kinds": {"passport": "redact"}}"#)
                .err()
                .unwrap()
                .contains("passport")
        );
        assert!(Harness::<Pii>::configure(r#"{"action": "off"}"#).is_err());
    }

    #[test]
    fn a_stretch_of_text_is_one_finding() {
        let pii = Harness::<Pii>::with_defaults();
        assert_eq!(pii.redact("IBAN AT76 5309 7251 8374 5792"), "IBAN [IBAN]");
        assert_eq!(pii.redact("call +4917108505919"), "call [PHONE]");
    }

    #[test]
    fn private_ips_are_reported_only_when_asked() {
        let default = Harness::<Pii>::with_defaults();
        assert_eq!(default.redact("host 192.168.1.20"), "host 192.168.1.20");
        let private = Harness::<Pii>::configure(r#"{"include_private_ips": true}"#).unwrap();
        assert_eq!(private.redact("host 192.168.1.20"), "host [IP]");
    }
}
