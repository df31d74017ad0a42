//! Where a rule applies: which phases, message roles and segment kinds, which
//! models, gateway keys and metadata tags. An empty list means "any".

use serde::Deserialize;
use sluice_plugin_sdk::{Context, Phase, Segment, SegmentKind};
use std::collections::BTreeMap;

/// A phase, as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhaseName {
    /// The client's request.
    Request,
    /// The provider's response.
    Response,
}

/// A segment kind, as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SegmentName {
    /// System prompts.
    System,
    /// User and assistant message text.
    Message,
    /// Tool-call arguments written by the model.
    ToolCall,
    /// Tool output sent back to the model.
    ToolResult,
    /// Anything else the gateway inspects.
    Other,
}

/// One value or a list of them (`team = "ml"` or `team = ["ml", "infra"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single accepted value.
    One(String),
    /// Any of these values.
    Many(Vec<String>),
}

/// The scope fields of a rule, as written in the config.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScopeSpec {
    /// Phases the rule checks; both when empty.
    #[serde(default)]
    pub phases: Vec<PhaseName>,
    /// Message roles (`system`, `user`, `assistant`, `tool`); all when empty.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Segment kinds; all when empty.
    #[serde(default)]
    pub segments: Vec<SegmentName>,
    /// Model patterns with `*` wildcards; all models when empty.
    #[serde(default)]
    pub models: Vec<String>,
    /// Gateway key ids; every key (and none) when empty.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Metadata tags the call must carry, each with one of the given values.
    #[serde(default)]
    pub metadata: BTreeMap<String, OneOrMany>,
}

/// Where a rule applies, checked against a call's context and each segment.
#[derive(Debug, Clone)]
pub struct Scope {
    phases: Vec<Phase>,
    roles: Vec<String>,
    segments: Vec<SegmentKind>,
    models: Vec<String>,
    keys: Vec<String>,
    metadata: Vec<(String, Vec<String>)>,
}

impl Scope {
    /// Builds the scope, refusing values that could never match.
    pub fn new(spec: ScopeSpec) -> Result<Scope, String> {
        for role in &spec.roles {
            if !matches!(role.as_str(), "system" | "user" | "assistant" | "tool") {
                return Err(format!(
                    "roles: unknown role {role:?} (roles: system, user, assistant, tool)"
                ));
            }
        }
        for model in &spec.models {
            if model.trim().is_empty() {
                return Err("models: an empty pattern matches nothing".into());
            }
        }
        let mut metadata = Vec::new();
        for (tag, values) in spec.metadata {
            let values = match values {
                OneOrMany::One(value) => vec![value],
                OneOrMany::Many(values) if values.is_empty() => {
                    return Err(format!("metadata.{tag}: an empty list matches nothing"));
                }
                OneOrMany::Many(values) => values,
            };
            metadata.push((tag, values));
        }
        Ok(Scope {
            phases: spec
                .phases
                .iter()
                .map(|phase| match phase {
                    PhaseName::Request => Phase::Request,
                    PhaseName::Response => Phase::Response,
                })
                .collect(),
            roles: spec.roles,
            segments: spec
                .segments
                .iter()
                .map(|kind| match kind {
                    SegmentName::System => SegmentKind::System,
                    SegmentName::Message => SegmentKind::Message,
                    SegmentName::ToolCall => SegmentKind::ToolCall,
                    SegmentName::ToolResult => SegmentKind::ToolResult,
                    SegmentName::Other => SegmentKind::Other,
                })
                .collect(),
            models: spec.models,
            keys: spec.keys,
            metadata,
        })
    }

    /// True when the rule narrows the calls it applies to (by model, key or
    /// metadata), as opposed to applying to all traffic.
    pub fn narrows_calls(&self) -> bool {
        !self.models.is_empty() || !self.keys.is_empty() || !self.metadata.is_empty()
    }

    /// Whether the rule applies to the call described by `ctx`.
    pub fn covers_call(&self, ctx: &Context) -> bool {
        (self.phases.is_empty() || self.phases.contains(&ctx.phase))
            && (self.models.is_empty() || self.models.iter().any(|p| model_matches(p, &ctx.model)))
            && (self.keys.is_empty()
                || ctx
                    .key_id
                    .as_ref()
                    .is_some_and(|key| self.keys.contains(key)))
            && self.metadata.iter().all(|(tag, accepted)| {
                ctx.tag(tag)
                    .is_some_and(|value| accepted.iter().any(|a| a == value))
            })
    }

    /// Whether the rule may apply in `phase`, whatever the call.
    pub fn covers_phase(&self, phase: Phase) -> bool {
        self.phases.is_empty() || self.phases.contains(&phase)
    }

    /// Whether the rule applies to `segment` (of a call it covers).
    pub fn covers_segment(&self, segment: &Segment) -> bool {
        (self.roles.is_empty() || self.roles.contains(&segment.role))
            && (self.segments.is_empty() || self.segments.contains(&segment.kind))
    }
}

/// Whether `model` (`@provider/name`) matches `pattern`. A pattern that starts
/// with `@` is matched against the whole address; any other pattern against the
/// name after the provider, so `gpt-4*` covers `@openai/gpt-4o` and
/// `@azure/gpt-4.1` alike. `*` matches any run of characters.
pub fn model_matches(pattern: &str, model: &str) -> bool {
    let target = if pattern.starts_with('@') {
        model
    } else {
        model
            .strip_prefix('@')
            .and_then(|rest| rest.split_once('/'))
            .map_or(model, |(_, name)| name)
    };
    glob(pattern.as_bytes(), target.as_bytes())
}

/// `*`-only wildcard matching, linear in practice: on a mismatch, the last `*`
/// takes one more byte.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            last_star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star, taken)) = last_star {
            p = star + 1;
            t = taken + 1;
            last_star = Some((star, taken + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_patterns_match_the_name_or_the_whole_address() {
        assert!(model_matches("gpt-4*", "@openai/gpt-4o"));
        assert!(model_matches("gpt-4*", "@azure/gpt-4.1-mini"));
        assert!(!model_matches("gpt-4*", "@openai/gpt-3.5-turbo"));
        assert!(model_matches("@anthropic/*", "@anthropic/claude-opus-4"));
        assert!(!model_matches("@anthropic/*", "@openai/claude-like"));
        assert!(model_matches("*opus*", "@an/claude-opus-4-1"));
        assert!(model_matches("claude-opus-4", "@an/claude-opus-4"));
        assert!(!model_matches("claude-opus-4", "@an/claude-opus-4-1"));
        assert!(model_matches("*", "@x/anything"));
    }

    #[test]
    fn glob_backtracks_over_several_stars() {
        assert!(glob(b"a*b*c", b"aXbYbZc"));
        assert!(!glob(b"a*b*c", b"aXbYbZ"));
        assert!(glob(b"**", b""));
        assert!(!glob(b"a", b""));
    }

    fn ctx(model: &str, key: Option<&str>, tags: &[(&str, &str)]) -> Context {
        Context {
            key_id: key.map(str::to_string),
            metadata: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Context::request(model)
        }
    }

    #[test]
    fn calls_are_covered_only_when_every_narrowing_matches() {
        let spec: ScopeSpec = serde_json::from_str(
            r#"{"phases": ["request"], "models": ["*opus*"], "keys": ["k1", "k2"], "metadata": {"team": ["ml", "infra"]}}"#,
        )
        .unwrap();
        let scope = Scope::new(spec).unwrap();
        assert!(scope.narrows_calls());
        assert!(scope.covers_call(&ctx("@an/claude-opus-4", Some("k2"), &[("team", "ml")])));
        assert!(!scope.covers_call(&ctx("@an/claude-sonnet-4", Some("k2"), &[("team", "ml")])));
        assert!(!scope.covers_call(&ctx("@an/claude-opus-4", None, &[("team", "ml")])));
        assert!(!scope.covers_call(&ctx("@an/claude-opus-4", Some("k1"), &[("team", "sales")])));
        assert!(!scope.covers_call(&ctx("@an/claude-opus-4", Some("k1"), &[])));
        let mut response = ctx("@an/claude-opus-4", Some("k1"), &[("team", "infra")]);
        assert!(scope.covers_call(&response));
        response.phase = Phase::Response;
        assert!(!scope.covers_call(&response));
    }

    #[test]
    fn segments_are_covered_by_role_and_kind() {
        let spec: ScopeSpec =
            serde_json::from_str(r#"{"roles": ["user"], "segments": ["message"]}"#).unwrap();
        let scope = Scope::new(spec).unwrap();
        assert!(!scope.narrows_calls());
        assert!(scope.covers_segment(&Segment::user("hi")));
        let mut tool = Segment::user("hi");
        tool.kind = SegmentKind::ToolResult;
        assert!(!scope.covers_segment(&tool));
        let mut system = Segment::user("hi");
        system.role = "system".into();
        assert!(!scope.covers_segment(&system));
    }

    #[test]
    fn impossible_scopes_are_refused() {
        let bad = |json: &str| Scope::new(serde_json::from_str(json).unwrap()).unwrap_err();
        assert!(bad(r#"{"roles": ["admin"]}"#).contains("admin"));
        assert!(bad(r#"{"models": [""]}"#).contains("models"));
        assert!(bad(r#"{"metadata": {"team": []}}"#).contains("metadata.team"));
    }
}
