//! The contract's types, as plain Rust values.
//!
//! They mirror `wit/guardrail.wit` one to one. Inside a component they are filled
//! from the generated bindings (by moving, not copying, the text); in native unit
//! tests they are built directly.

use std::ops::Range;

/// Which direction of traffic is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The client's request, before anything goes upstream.
    Request,
    /// The provider's response, before the client sees it.
    Response,
}

/// What should happen to the traffic, from mildest to strongest. When findings
/// disagree, the strongest action wins (`Ord` follows that order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Action {
    /// Nothing to do.
    #[default]
    Allow,
    /// Let the traffic through unchanged; record the finding in the audit trail.
    Flag,
    /// Replace the finding's span with its replacement before forwarding.
    Redact,
    /// Refuse the request, or end the response, with the verdict's reason.
    Block,
}

/// Where a segment's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    /// A system prompt.
    System,
    /// The text of a user or assistant message.
    Message,
    /// The arguments of a tool call the model made (usually JSON text).
    ToolCall,
    /// The output of a tool, sent back to the model.
    ToolResult,
    /// Any other text the host chose to expose.
    Other,
}

/// Whether the gateway may reuse a verdict for the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheScope {
    /// Never reuse: the verdict may depend on anything, including other segments.
    None,
    /// Findings for a segment depend only on its text, the phase and the settings.
    Segment,
    /// Like `Segment`, but findings also depend on the context (key, model, metadata).
    SegmentAndContext,
}

/// One piece of text to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Where the text sits in the body, such as `messages[3].content[0].text`.
    pub path: String,
    /// The message role: `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Where the text came from.
    pub kind: SegmentKind,
    /// The text. Finding offsets are UTF-8 byte offsets into it.
    pub text: String,
}

impl Segment {
    /// A user message segment, handy in tests.
    pub fn user(text: impl Into<String>) -> Self {
        Segment {
            path: "messages[0].content".into(),
            role: "user".into(),
            kind: SegmentKind::Message,
            text: text.into(),
        }
    }

    /// An assistant message segment, as in a streamed response; handy in tests.
    pub fn assistant(text: impl Into<String>) -> Self {
        Segment {
            path: "choices[0].message.content".into(),
            role: "assistant".into(),
            kind: SegmentKind::Message,
            text: text.into(),
        }
    }
}

/// Facts about the call the segments belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Request or response.
    pub phase: Phase,
    /// The wire API the client spoke: `openai` (Chat Completions), `anthropic` (Messages) or `responses` (OpenAI Responses).
    pub api: String,
    /// The model the call is routed to, as `@provider/model`.
    pub model: String,
    /// The id (never the secret) of the gateway key that made the call.
    pub key_id: Option<String>,
    /// Metadata tags of the key and the request.
    pub metadata: Vec<(String, String)>,
}

impl Context {
    /// A request-phase context for `model`, with no key and no metadata.
    pub fn request(model: impl Into<String>) -> Self {
        Context {
            phase: Phase::Request,
            api: "openai".into(),
            model: model.into(),
            key_id: None,
            metadata: Vec::new(),
        }
    }

    /// The value of metadata tag `name`, if the call carries it.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One thing a plugin found: a byte span of one segment, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Index into the segments passed to `check`.
    pub segment: usize,
    /// UTF-8 byte offsets into that segment's text; must be on character boundaries.
    pub span: Range<usize>,
    /// What was found, a short lowercase label such as `email`.
    pub kind: String,
    /// The id of the rule that matched.
    pub rule: String,
    /// What the host should do about it.
    pub action: Action,
    /// Text to put in place of the span on `Redact`; `[KIND]` when `None`.
    pub replacement: Option<String>,
}

impl Finding {
    /// A finding of `kind` found by `rule`, with the given action.
    pub fn new(
        segment: usize,
        span: Range<usize>,
        kind: impl Into<String>,
        rule: impl Into<String>,
        action: Action,
    ) -> Self {
        Finding {
            segment,
            span,
            kind: kind.into(),
            rule: rule.into(),
            action,
            replacement: None,
        }
    }

    /// Sets the text that replaces the span when the action is `Redact`.
    pub fn with_replacement(mut self, replacement: impl Into<String>) -> Self {
        self.replacement = Some(replacement.into());
        self
    }

    /// The replacement the host will use: the given one, or `[KIND]`.
    pub fn effective_replacement(&self) -> String {
        match &self.replacement {
            Some(r) => r.clone(),
            None => format!("[{}]", self.kind.to_ascii_uppercase().replace('-', "_")),
        }
    }
}

/// A plugin's answer for one `check` call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The overall action; the host takes the strongest of this and the findings'.
    pub action: Action,
    /// Shown to the client when the verdict blocks. Never echo the matched text.
    pub reason: Option<String>,
    /// What was found.
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// Nothing found.
    pub fn allow() -> Self {
        Verdict::default()
    }

    /// Block with a reason for the client.
    pub fn block(reason: impl Into<String>) -> Self {
        Verdict {
            action: Action::Block,
            reason: Some(reason.into()),
            findings: Vec::new(),
        }
    }

    /// A verdict whose action is the strongest of the findings' actions.
    pub fn from_findings(findings: Vec<Finding>) -> Self {
        let action = findings.iter().map(|f| f.action).max().unwrap_or_default();
        Verdict {
            action,
            reason: None,
            findings,
        }
    }

    /// Sets the reason shown to the client on block.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The strongest action of the verdict and its findings: what the host will do.
    pub fn effective_action(&self) -> Action {
        self.findings
            .iter()
            .map(|f| f.action)
            .fold(self.action, Action::max)
    }
}
