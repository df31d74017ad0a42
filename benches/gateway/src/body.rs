//! Request bodies, every one unique.
//!
//! A body is made from a template with nonce slots: the template is built once
//! (JSON-encoded), and each request copies it and writes a new nonce into every
//! slot. Every text segment of a request carries a slot, so no two requests share
//! a segment and no cache keyed on content (sluice's guardrail segment cache, a
//! response cache) can help. Nonces are lowercase letters, which no guardrail
//! takes for personal data or a secret.
//!
//! - [`BodyKind::Small`]: one short user message, about 150 bytes.
//! - [`BodyKind::Agent32k`]: a coding agent's request of 32 KB: a system prompt,
//!   the user's task, an assistant tool call (read a file), the tool's result (a
//!   Rust source file), the assistant's reading of it and a compiler log. The
//!   text is generated from a seed, has nothing for the guardrails to find (the
//!   common case: what it costs a request that carries no personal data, secret
//!   or bad word), and is 32,768 to 33,024 bytes long.

use crate::scenario::Api;
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

/// What is written where a nonce goes; `~` appears nowhere else in a template.
const SLOT: &str = "~~~~~~~~~~~~";
/// Different generated texts the 32 KB requests rotate through (besides the
/// nonces), so that the text itself varies too.
const AGENT_TEMPLATES: u64 = 8;
/// The size a 32 KB request aims at, and how far above it it may end.
const AGENT_BYTES: usize = 32 * 1024;
const AGENT_SLACK: usize = 256;
/// The bytes of an empty padding line in the body: `// ` and an escaped newline.
const PAD_LINE_MIN: usize = 5;

/// The model named in every request; sluice's config maps it to the mock.
pub const OPENAI_MODEL: &str = "gpt-4o-mini";
/// The model named in Anthropic requests.
pub const ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";

/// Which body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// A short chat request.
    Small,
    /// A 32 KB coding-agent request.
    Agent32k,
}

/// Every request of the process gets the next number, so that the warm-up, the
/// baselines and the scenarios never send the same text twice.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Makes the bodies of one workload.
pub struct Bodies {
    templates: Vec<Template>,
}

struct Template {
    bytes: Vec<u8>,
    slots: Vec<usize>,
}

impl Bodies {
    /// Bodies of `kind` in `api`'s shape, streamed or not.
    pub fn new(kind: BodyKind, api: Api, stream: bool) -> Bodies {
        let templates = match kind {
            BodyKind::Small => vec![Template::new(small(api, stream))],
            BodyKind::Agent32k => (0..AGENT_TEMPLATES)
                .map(|seed| Template::new(agent(api, stream, seed)))
                .collect(),
        };
        Bodies { templates }
    }

    /// The next body: a template with a new nonce in every slot.
    pub fn next(&self) -> Bytes {
        self.make(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// Body number `n`: template `n` modulo their count, with nonce `n`.
    pub fn make(&self, n: u64) -> Bytes {
        let template = &self.templates[(n % self.templates.len() as u64) as usize];
        let mut bytes = template.bytes.clone();
        let nonce = nonce(n);
        for &at in &template.slots {
            bytes[at..at + SLOT.len()].copy_from_slice(&nonce);
        }
        Bytes::from(bytes)
    }

    /// The length of the bodies (all templates are within a few hundred bytes).
    pub fn len(&self) -> usize {
        self.templates[0].bytes.len()
    }

    /// Never true; for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Template {
    fn new(body: Value) -> Template {
        let text = body.to_string();
        let slots = memchr::memmem::find_iter(text.as_bytes(), SLOT.as_bytes()).collect();
        Template {
            bytes: text.into_bytes(),
            slots,
        }
    }
}

/// `n` as twelve lowercase letters (base 26).
fn nonce(mut n: u64) -> [u8; 12] {
    let mut out = [b'a'; 12];
    for byte in out.iter_mut().rev() {
        *byte = b'a' + (n % 26) as u8;
        n /= 26;
    }
    out
}

fn with_stream(mut body: Value, api: Api, stream: bool) -> Value {
    if stream {
        body["stream"] = json!(true);
        if api == Api::OpenAi {
            body["stream_options"] = json!({"include_usage": true});
        }
    }
    body
}

fn small(api: Api, stream: bool) -> Value {
    let text = format!("Request {SLOT}: say hello in one short sentence.");
    let model = match api {
        Api::OpenAi => OPENAI_MODEL,
        Api::Anthropic => ANTHROPIC_MODEL,
    };
    let body =
        json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]});
    with_stream(body, api, stream)
}

fn agent(api: Api, stream: bool, seed: u64) -> Value {
    let mut words = Words::new(seed);
    let system = words.system_prompt(5 * 1024);
    let log = words.compiler_log(3 * 1024);
    let task = format!(
        "Session {SLOT}. The build of the gateway fails since my last change to \
         src/{SLOT}/handler.rs. Find out why and fix it; keep the public API as it is."
    );
    let path = format!("src/{SLOT}/handler.rs");
    let reading = format!(
        "I read src/{SLOT}/handler.rs. The handler keeps a borrowed buffer across an \
         await point, and the new match arm returns the wrong error type. Let me look \
         at the compiler's full output before changing anything."
    );
    let body_with = |code: &str| {
        with_stream(
            agent_body(api, &system, &task, &path, code, &reading, &log),
            api,
            stream,
        )
    };
    // The file read by the tool: whole lines of a generated source file, as
    // many as fit, then a comment line that pads the body to its size. A
    // line's share of the body is its JSON-escaped length.
    let escaped = |text: &str| serde_json::to_string(text).map_or(0, |s| s.len() - 2);
    let room = AGENT_BYTES + AGENT_SLACK / 2 - body_with("").to_string().len();
    let source = words.source_file(AGENT_BYTES);
    let mut code = String::new();
    let mut used = 0;
    for line in source.split_inclusive('\n') {
        let cost = escaped(line);
        if used + cost + PAD_LINE_MIN > room {
            break;
        }
        code.push_str(line);
        used += cost;
    }
    // "// " + filler + "\n" (escaped as two bytes).
    let filler = room - used - PAD_LINE_MIN;
    code.push_str("// ");
    code.push_str(&"padding ".repeat(filler / 8 + 1)[..filler]);
    code.push('\n');
    let body = body_with(&code);
    let len = body.to_string().len();
    assert!(
        (AGENT_BYTES..AGENT_BYTES + AGENT_SLACK).contains(&len),
        "a 32 KB body came out at {len} bytes"
    );
    body
}

fn agent_body(
    api: Api,
    system: &str,
    task: &str,
    path: &str,
    code: &str,
    reading: &str,
    log: &str,
) -> Value {
    let call = format!("call_{SLOT}");
    let schema =
        json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]});
    let description = "Read a file of the repository and return its text.";
    match api {
        Api::OpenAi => json!({
            "model": OPENAI_MODEL,
            "max_tokens": 1024,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": task},
                {"role": "assistant", "content": null, "tool_calls": [{"id": call, "type": "function",
                    "function": {"name": "read_file", "arguments": json!({"path": path}).to_string()}}]},
                {"role": "tool", "tool_call_id": call, "content": code},
                {"role": "assistant", "content": reading},
                {"role": "user", "content": log},
            ],
            "tools": [{"type": "function", "function": {"name": "read_file", "description": description, "parameters": schema}}],
        }),
        Api::Anthropic => json!({
            "model": ANTHROPIC_MODEL,
            "max_tokens": 1024,
            "system": system,
            "messages": [
                {"role": "user", "content": task},
                {"role": "assistant", "content": [{"type": "tool_use", "id": call, "name": "read_file", "input": {"path": path}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call, "content": code}]},
                {"role": "assistant", "content": reading},
                {"role": "user", "content": log},
            ],
            "tools": [{"name": "read_file", "description": description, "input_schema": schema}],
        }),
    }
}

/// The text of a coding agent's request, about `len` bytes, made from `seed`:
/// a system prompt, a compiler log and a source file, in the proportions of a
/// 32 KB body, each request's slots filled with a word made from `seed`. For
/// benchmarks of the text alone (the sandbox benchmark's varied texts): no two
/// seeds give the same text, as no two requests of a run do.
pub fn agent_text(seed: u64, len: usize) -> String {
    let mut words = Words::new(seed);
    let mut text = words.system_prompt(len * 5 / 32);
    text.push_str(&words.compiler_log(len * 3 / 32));
    let rest = len.saturating_sub(text.len());
    text.push_str(&words.source_file(rest));
    let mut end = len.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    let slot = std::str::from_utf8(&nonce(seed))
        .expect("ASCII letters")
        .to_owned();
    text.replace(SLOT, &slot)
}

/// Generated text: code, logs and prose from word lists, by a seeded generator.
struct Words {
    state: u64,
}

const NOUNS: &[&str] = &[
    "request", "response", "handler", "config", "session", "buffer", "stream", "segment", "router",
    "client", "upstream", "provider", "payload", "header", "window", "chunk", "record", "entry",
    "index", "offset", "limit", "deadline", "budget", "model", "message", "content", "policy",
    "span", "frame", "batch", "queue", "worker", "channel", "parser", "encoder", "decoder",
    "schema", "route", "target", "retry", "timer", "counter", "registry", "snapshot", "ledger",
];
const VERBS: &[&str] = &[
    "parse",
    "encode",
    "decode",
    "flush",
    "split",
    "merge",
    "resolve",
    "apply",
    "check",
    "send",
    "receive",
    "release",
    "collect",
    "insert",
    "remove",
    "update",
    "render",
    "validate",
    "attach",
    "extend",
    "truncate",
    "advance",
    "rewind",
    "schedule",
    "drain",
    "forward",
    "translate",
];
const TYPES: &[&str] = &[
    "Request", "Response", "Config", "Session", "Buffer", "Segment", "Router", "Frame", "Batch",
    "Policy", "Window", "Entry", "Record", "Schema", "Route", "Target", "Ledger", "Snapshot",
];
const ERRORS: &[&str] = &[
    "Closed",
    "TooLarge",
    "Malformed",
    "Expired",
    "Unavailable",
    "Refused",
    "Truncated",
    "Busy",
];

impl Words {
    fn new(seed: u64) -> Words {
        Words {
            state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d,
        }
    }

    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick(&mut self, list: &[&'static str]) -> &'static str {
        list[(self.next() % list.len() as u64) as usize]
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn sentence(&mut self) -> String {
        let (v, n1, n2, n3) = (
            self.pick(VERBS),
            self.pick(NOUNS),
            self.pick(NOUNS),
            self.pick(NOUNS),
        );
        match self.below(4) {
            0 => format!("Always {v} the {n1} before the {n2} reaches the {n3}."),
            1 => format!("When a {n1} changes, {v} its {n2} and say so in the {n3}."),
            2 => format!("Never {v} a {n1} twice: the {n2} keeps the {n3} it was given."),
            _ => format!("Prefer a small {n1} that you {v} once over a {n2} per {n3}."),
        }
    }

    fn system_prompt(&mut self, bytes: usize) -> String {
        let mut out = format!(
            "You are a coding agent working in the repository of session {SLOT}. \
             Read files before you change them, run the tests after every change, and \
             explain what you did in a few sentences.\n\n"
        );
        while out.len() < bytes {
            out.push_str("- ");
            out.push_str(&self.sentence());
            out.push('\n');
        }
        out
    }

    fn source_file(&mut self, bytes: usize) -> String {
        let mut out = format!("//! The {SLOT} handler: requests in, responses out.\n\n");
        out.push_str("use crate::{Error, Result};\nuse std::collections::HashMap;\n\n");
        while out.len() < bytes {
            let (t1, t2) = (self.pick(TYPES), self.pick(TYPES));
            let (v, n1, n2) = (self.pick(VERBS), self.pick(NOUNS), self.pick(NOUNS));
            out.push_str(&format!(
                "/// {}\npub fn {v}_{n1}(&mut self, {n2}: &{t1}) -> Result<{t2}> {{\n",
                self.sentence()
            ));
            for _ in 0..3 + self.below(6) {
                let (a, b, c) = (self.pick(NOUNS), self.pick(NOUNS), self.pick(NOUNS));
                let (m, e, t) = (self.pick(VERBS), self.pick(ERRORS), self.pick(TYPES));
                let line = match self.below(6) {
                    0 => format!("    let {a} = {b}.{m}(&{c})?;\n"),
                    1 => format!(
                        "    if {a}.is_empty() {{\n        return Err(Error::{e});\n    }}\n"
                    ),
                    2 => format!("    // {}\n", self.sentence()),
                    3 => format!("    self.{a}s.insert({b}.id(), {t}::from({c}));\n"),
                    4 => format!(
                        "    let {a}: HashMap<_, _> = {b}.iter().map(|x| (x.{c}(), x)).collect();\n"
                    ),
                    _ => format!("    tracing::debug!(\"{m} {a} for {{}}\", {b}.name());\n"),
                };
                out.push_str(&line);
            }
            out.push_str(&format!(
                "    Ok({t2}::new({n2}.{}()))\n}}\n\n",
                self.pick(NOUNS)
            ));
        }
        out
    }

    fn compiler_log(&mut self, bytes: usize) -> String {
        let mut out = format!("$ cargo build\n   Compiling gateway-{SLOT} v0.4.0\n");
        while out.len() < bytes {
            let (t1, t2, n, v) = (
                self.pick(TYPES),
                self.pick(TYPES),
                self.pick(NOUNS),
                self.pick(VERBS),
            );
            let (line, col) = (10 + self.below(400), 5 + self.below(60));
            out.push_str(&format!(
                "error[E0308]: mismatched types\n  --> src/{SLOT}/handler.rs:{line}:{col}\n   |\n\
                 {line:>3} |     let {n} = self.{v}_{n}(&{n})?;\n   |               ^^^^ expected `{t1}`, found `{t2}`\n\n"
            ));
        }
        out.push_str("error: could not compile `gateway` due to previous errors\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_texts_are_sized_and_differ() {
        let texts: Vec<String> = (0..4).map(|seed| agent_text(seed, 32 << 10)).collect();
        for text in &texts {
            assert_eq!(text.len(), 32 << 10);
            assert!(!text.contains('~'), "a slot was left");
            assert!(text.contains("pub fn ") && text.contains("error[E0308]"));
        }
        assert!(texts.windows(2).all(|pair| pair[0] != pair[1]));
    }

    #[test]
    fn bodies_are_unique_and_sized() {
        for api in [Api::OpenAi, Api::Anthropic] {
            for stream in [false, true] {
                let bodies = Bodies::new(BodyKind::Agent32k, api, stream);
                let (a, b) = (bodies.next(), bodies.next());
                assert_ne!(a, b);
                for body in [&a, &b] {
                    assert!(
                        (AGENT_BYTES..AGENT_BYTES + AGENT_SLACK).contains(&body.len()),
                        "{}",
                        body.len()
                    );
                    let value: Value = serde_json::from_slice(body).expect("JSON");
                    assert_eq!(value["stream"].as_bool().unwrap_or(false), stream);
                    assert!(!String::from_utf8_lossy(body).contains('~'));
                }
                let small = Bodies::new(BodyKind::Small, api, stream);
                let (a, b) = (small.next(), small.next());
                assert_ne!(a, b);
                serde_json::from_slice::<Value>(&a).expect("JSON");
            }
        }
    }

    #[test]
    fn every_segment_carries_a_nonce() {
        let bodies = Bodies::new(BodyKind::Agent32k, Api::OpenAi, false);
        // The same template, two nonces.
        let body: Value = serde_json::from_slice(&bodies.make(3)).unwrap();
        let first: Value = serde_json::from_slice(&bodies.make(3 + AGENT_TEMPLATES)).unwrap();
        let texts = |v: &Value| -> Vec<String> {
            v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    if m["content"].is_string() {
                        m["content"].as_str().unwrap().to_string()
                    } else {
                        m["tool_calls"][0]["function"]["arguments"]
                            .as_str()
                            .unwrap()
                            .to_string()
                    }
                })
                .collect()
        };
        for (a, b) in texts(&body).iter().zip(texts(&first).iter()) {
            assert_ne!(a, b, "a segment repeats between two requests");
        }
    }
}
