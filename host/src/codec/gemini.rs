//! The Google Gemini `generateContent` codec (the Gemini API and Gemini on
//! Vertex AI): requests, whole answers and streams to and from the
//! [`crate::canonical`] model.
//!
//! The model is not in a Gemini body (it is in the URL, the provider's
//! business), nor is `stream` (a different method). Tool calls may have no id
//! in Gemini: a call without one gets `call_<n>` (`call_<responseId>_<n>` in an
//! answer), and a `functionResponse` without one answers the oldest
//! unanswered call of its name. A `functionResponse` needs the tool's name,
//! which canonical results lack: it is looked up from the call it answers.
//! A result's text goes out as `{"result": text}` (`{"error": text}` for a
//! failure); a response of another shape comes in as its JSON text.
//!
//! A `thoughtSignature` belongs to the part it came on (a call, a text or an
//! empty text at the end). It is kept as a [`Part::Thinking`] with empty text
//! and the signature, just before that part, and goes back on the part that
//! follows it, so that a Gemini model sees its signatures again on the next
//! turn whichever client API carried them. A model turn whose calls have no
//! signature at all (a client API that drops thinking, such as Chat
//! Completions) gets Google's documented [`SKIP_SIGNATURE`] on its first
//! call, so that Gemini 3 takes the history. Thought summaries
//! (`thought: true`) are thinking with text.
//!
//! What Gemini cannot carry is dropped when encoding: the parallel tool-call
//! flag, the end user, images by `http` address become `fileData` (which the
//! API fetches only for the addresses it supports). Tools other than function
//! declarations (search, code execution) are not read. Safety blocks
//! (`SAFETY`, `RECITATION`, `PROHIBITED_CONTENT`, a blocked prompt, …) become
//! the `refusal` stop reason with a text saying what blocked the answer.
//! Generation settings outside the model (`topK`, `thinkingConfig`,
//! `responseMimeType`, …) and top-level fields (`safetySettings`,
//! `cachedContent`, …) are kept as [`Extras`] and come back out only in a
//! Gemini request.

mod stream;

pub use stream::{Decoder, Encoder};

use super::{Sampling, opt_string, string};
use crate::canonical::{
    Answer, Arguments, Dialect, Extras, ImageSource, Part, Request, Role, StopReason, Tool,
    ToolChoice, Turn, Usage,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The request fields the canonical model covers; the rest are [`Extras`].
const KNOWN: &[&str] = &[
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
];

/// The names of the sampling settings in `generationConfig`.
const SAMPLING: Sampling = Sampling {
    max_tokens: "maxOutputTokens",
    temperature: "temperature",
    top_p: "topP",
    stop: "stopSequences",
};

/// The `generationConfig` fields the canonical model covers.
const KNOWN_GENERATION: &[&str] = &["maxOutputTokens", "temperature", "topP", "stopSequences"];

/// Decodes a `generateContent` request.
pub fn decode_request(body: &Value) -> Request {
    let mut request = Request {
        system: body["systemInstruction"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| opt_string(&p["text"]))
            .collect(),
        ..Request::default()
    };
    let mut ids = CallIds::default();
    for content in body["contents"].as_array().into_iter().flatten() {
        let role = match content["role"].as_str() {
            Some("model") => Role::Assistant,
            _ => Role::User,
        };
        let mut parts = Vec::new();
        for part in content["parts"].as_array().into_iter().flatten() {
            read_part(part, &mut ids, None, &mut parts);
        }
        if !parts.is_empty() {
            request.turns.push(Turn { role, parts });
        }
    }
    let config = &body["generationConfig"];
    SAMPLING.read(config, &mut request);
    request.tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|tool| {
            tool["functionDeclarations"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .map(|declaration| Tool {
            name: string(&declaration["name"]),
            description: opt_string(&declaration["description"]),
            parameters: match &declaration["parametersJsonSchema"] {
                Value::Null => declaration["parameters"].clone(),
                schema => schema.clone(),
            },
        })
        .collect();
    let calling = &body["toolConfig"]["functionCallingConfig"];
    request.tool_choice = calling["mode"].as_str().map(|mode| {
        let allowed: Vec<&str> = calling["allowedFunctionNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match (mode, allowed.as_slice()) {
            ("ANY", [name]) => ToolChoice::Tool {
                name: (*name).into(),
            },
            ("ANY", _) => ToolChoice::Any,
            ("NONE", _) => ToolChoice::None,
            _ => ToolChoice::Auto,
        }
    });
    request.extras = Extras::unknown(Dialect::Gemini, body, KNOWN);
    let other_settings = Extras::unknown(Dialect::Gemini, config, KNOWN_GENERATION);
    if !other_settings.is_empty() {
        request.extras.fields.insert(
            "generationConfig".into(),
            Value::Object(other_settings.fields),
        );
    }
    request
}

/// Ids for tool calls that have none, and the calls not yet answered.
#[derive(Debug, Default)]
struct CallIds {
    /// Calls made so far.
    count: usize,
    /// Tool name → ids of its calls not yet answered, oldest first.
    pending: HashMap<String, Vec<String>>,
}

impl CallIds {
    /// The id of a call: its own, or a new one (`call_<n>`, with `prefix`
    /// `call_<responseId>_<n>`).
    fn call(&mut self, name: &str, id: Option<String>, prefix: Option<&str>) -> String {
        let id = id.unwrap_or_else(|| match prefix {
            Some(prefix) => format!("call_{prefix}_{}", self.count),
            None => format!("call_{}", self.count),
        });
        self.count += 1;
        self.pending
            .entry(name.into())
            .or_default()
            .push(id.clone());
        id
    }

    /// The id of the call a response answers: its own, or the oldest
    /// unanswered call of its name (else the name).
    fn answer(&mut self, name: &str, id: Option<String>) -> String {
        let pending = self.pending.entry(name.into()).or_default();
        match id {
            Some(id) => {
                pending.retain(|p| *p != id);
                id
            }
            None if pending.is_empty() => name.into(),
            None => pending.remove(0),
        }
    }
}

/// Reads one Gemini part onto `parts` (`prefix`: the answer's id, for the
/// ids of calls that have none).
fn read_part(part: &Value, ids: &mut CallIds, prefix: Option<&str>, parts: &mut Vec<Part>) {
    let signature = opt_string(&part["thoughtSignature"]);
    if part["thought"] == true {
        parts.push(Part::Thinking {
            text: string(&part["text"]),
            signature,
        });
        return;
    }
    if let Some(signature) = signature {
        parts.push(Part::Thinking {
            text: String::new(),
            signature: Some(signature),
        });
    }
    if let Some(text) = part["text"].as_str() {
        if !text.is_empty() {
            parts.push(Part::Text { text: text.into() });
        }
    } else if let Some(data) = part.get("inlineData") {
        parts.push(Part::Image {
            source: ImageSource::Base64 {
                media_type: data["mimeType"].as_str().unwrap_or("image/png").into(),
                data: string(&data["data"]),
            },
        });
    } else if let Some(file) = part.get("fileData") {
        parts.push(Part::Image {
            source: ImageSource::Url {
                url: string(&file["fileUri"]),
            },
        });
    } else if let Some(call) = part.get("functionCall") {
        let name = string(&call["name"]);
        parts.push(Part::ToolCall {
            id: ids.call(&name, opt_string(&call["id"]), prefix),
            arguments: Arguments::Json(call["args"].clone()),
            name,
        });
    } else if let Some(response) = part.get("functionResponse") {
        let name = string(&response["name"]);
        let (content, is_error) = result_content(&response["response"]);
        parts.push(Part::ToolResult {
            call_id: ids.answer(&name, opt_string(&response["id"])),
            content,
            is_error,
        });
    }
}

/// A `functionResponse.response` as a result's text: the one string field
/// `result`, `output` or `content` (or `error`, a failure), else the JSON.
fn result_content(response: &Value) -> (String, bool) {
    if let Some(object) = response.as_object()
        && let [(key, Value::String(text))] = object.iter().collect::<Vec<_>>().as_slice()
    {
        match key.as_str() {
            "result" | "output" | "content" => return (text.to_string(), false),
            "error" => return (text.to_string(), true),
            _ => {}
        }
    }
    match response {
        Value::Null => (String::new(), false),
        other => (other.to_string(), false),
    }
}

/// A result's text as a `functionResponse.response`: under `result` (`error`
/// for a failure). Text that is JSON stays text: parsing it would not give
/// back the same numbers on every pass.
fn result_response(content: &str, is_error: bool) -> Value {
    if is_error {
        json!({ "error": content })
    } else {
        json!({ "result": content })
    }
}

/// Encodes canonical parts as Gemini parts; `names` gives each call id's
/// tool name. A signature-only thinking part goes on the part after it.
fn write_parts(parts: &[Part], names: &HashMap<&str, &str>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut signature: Option<&str> = None;
    for part in parts {
        let mut value = match part {
            Part::Thinking { text, signature: s } if text.is_empty() => {
                if let Some(s) = s
                    && let Some(held) = signature.replace(s)
                {
                    out.push(json!({"text": "", "thoughtSignature": held}));
                }
                continue;
            }
            Part::Thinking { text, signature: s } => {
                let mut value = json!({"text": text, "thought": true});
                if let Some(s) = s {
                    value["thoughtSignature"] = json!(s);
                }
                value
            }
            Part::Text { text } | Part::Refusal { text }
                if text.is_empty() && signature.is_none() =>
            {
                continue;
            }
            Part::Text { text } | Part::Refusal { text } => json!({"text": text}),
            Part::Image {
                source: ImageSource::Base64 { media_type, data },
            } => json!({"inlineData": {"mimeType": media_type, "data": data}}),
            Part::Image {
                source: ImageSource::Url { url },
            } => json!({"fileData": {"mimeType": mime_type_of(url), "fileUri": url}}),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => json!({"functionCall": {"id": id, "name": name, "args": arguments.to_json()}}),
            Part::ToolResult {
                call_id,
                content,
                is_error,
            } => {
                let name = names.get(call_id.as_str()).copied().unwrap_or(call_id);
                json!({"functionResponse": {"id": call_id, "name": name,
                                            "response": result_response(content, *is_error)}})
            }
        };
        if let Some(held) = signature.take() {
            if value.get("thoughtSignature").is_some() {
                out.push(json!({"text": "", "thoughtSignature": held}));
            } else {
                value["thoughtSignature"] = json!(held);
            }
        }
        out.push(value);
    }
    if let Some(held) = signature {
        out.push(json!({"text": "", "thoughtSignature": held}));
    }
    out
}

/// The signature Google documents for calls whose own signature is lost (a
/// history from a client API that cannot carry it, such as Chat
/// Completions, or from another model): Gemini 3 refuses a call without one.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Gives the first call of a model turn without any signature
/// [`SKIP_SIGNATURE`], as Google's docs say to.
fn vouch_for_calls(parts: &mut [Value]) {
    if parts.iter().any(|p| p.get("thoughtSignature").is_some()) {
        return;
    }
    if let Some(call) = parts.iter_mut().find(|p| p.get("functionCall").is_some()) {
        call["thoughtSignature"] = json!(SKIP_SIGNATURE);
    }
}

/// Whether a part writes nothing in Gemini.
fn says_nothing(part: &Part) -> bool {
    match part {
        Part::Text { text } | Part::Refusal { text } => text.is_empty(),
        Part::Thinking { text, signature } => text.is_empty() && signature.is_none(),
        _ => false,
    }
}

/// The MIME type of an image by its address's extension (JPEG when unknown).
fn mime_type_of(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    match extension.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => "image/jpeg",
    }
}

/// Encodes a `generateContent` request.
pub fn encode_request(request: &Request) -> Value {
    let mut out = Map::new();
    let names: HashMap<&str, &str> = request
        .turns
        .iter()
        .flat_map(|turn| &turn.parts)
        .filter_map(|part| match part {
            Part::ToolCall { id, name, .. } => Some((id.as_str(), name.as_str())),
            _ => None,
        })
        .collect();
    // Turns of one role are one content (their parts written together, so
    // that a signature before a turn's end lands the same way every time).
    // Parts that say nothing (empty text, unsigned empty thinking) are left
    // out first, so that a turn of nothing does not keep two turns apart.
    let mut merged: Vec<(Role, Vec<Part>)> = Vec::new();
    for turn in &request.turns {
        let parts = turn
            .parts
            .iter()
            .filter(|part| !says_nothing(part))
            .cloned();
        match merged.last_mut() {
            Some((role, existing)) if *role == turn.role => existing.extend(parts),
            _ => {
                let parts: Vec<Part> = parts.collect();
                if !parts.is_empty() {
                    merged.push((turn.role, parts));
                }
            }
        }
    }
    let contents: Vec<Value> = merged
        .iter()
        .map(|(role, parts)| match role {
            Role::User => json!({"role": "user", "parts": write_parts(parts, &names)}),
            Role::Assistant => {
                let mut parts = write_parts(parts, &names);
                vouch_for_calls(&mut parts);
                json!({"role": "model", "parts": parts})
            }
        })
        .collect();
    out.insert("contents".into(), Value::Array(contents));
    if !request.system.is_empty() {
        let parts: Vec<Value> = request
            .system
            .iter()
            .map(|text| json!({"text": text}))
            .collect();
        out.insert("systemInstruction".into(), json!({"parts": parts}));
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut declaration =
                    json!({"name": tool.name, "parametersJsonSchema": tool.parameters});
                if let Some(description) = &tool.description {
                    declaration["description"] = json!(description);
                }
                declaration
            })
            .collect();
        out.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    if let Some(choice) = &request.tool_choice {
        let calling = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::Any => json!({"mode": "ANY"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Tool { name } => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        out.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": calling}),
        );
    }
    let mut config = SAMPLING.write(request);
    for (key, value) in request.extras.for_dialect(Dialect::Gemini) {
        if key == "generationConfig" {
            for (setting, value) in value.as_object().into_iter().flatten() {
                config
                    .entry(setting.clone())
                    .or_insert_with(|| value.clone());
            }
        } else {
            out.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(out)
}

/// The finish reasons (and prompt block reasons) that mean the provider's
/// filters stopped the answer.
const BLOCKED: &[&str] = &[
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    "OTHER",
];

/// The canonical reason for a `finishReason`; `called` is whether the answer
/// calls a tool (Gemini says `STOP` then).
fn stop_reason(finish: &str, called: bool) -> StopReason {
    match finish {
        "STOP" | "FINISH_REASON_UNSPECIFIED" if called => StopReason::ToolUse,
        "STOP" | "FINISH_REASON_UNSPECIFIED" => StopReason::EndTurn,
        "MAX_TOKENS" => StopReason::MaxTokens,
        blocked if BLOCKED.contains(&blocked) => StopReason::Refusal,
        other => StopReason::Other(other.to_ascii_lowercase()),
    }
}

/// The `finishReason` for a canonical reason.
fn finish_reason(stop: &StopReason) -> String {
    match stop {
        StopReason::EndTurn | StopReason::ToolUse | StopReason::StopSequence => "STOP".into(),
        StopReason::MaxTokens => "MAX_TOKENS".into(),
        StopReason::Refusal => "SAFETY".into(),
        StopReason::Other(name) => name.to_ascii_uppercase(),
    }
}

/// What a client is told when a filter blocked the answer (`prompt`: the
/// prompt was blocked, before any answer).
fn blocked_text(reason: &str, prompt: bool) -> String {
    if prompt {
        format!("The provider blocked the prompt ({reason}).")
    } else {
        format!("The provider blocked the answer ({reason}).")
    }
}

/// Gemini `usageMetadata`: cached prompt tokens are read from the cache;
/// thinking tokens are output.
fn usage(usage: &Value) -> Usage {
    let cached = usage["cachedContentTokenCount"].as_u64();
    let output = match (
        usage["candidatesTokenCount"].as_u64(),
        usage["thoughtsTokenCount"].as_u64(),
    ) {
        (None, None) => None,
        (candidates, thoughts) => Some(
            candidates
                .unwrap_or(0)
                .saturating_add(thoughts.unwrap_or(0)),
        ),
    };
    Usage {
        input: usage["promptTokenCount"]
            .as_u64()
            .map(|prompt| prompt.saturating_sub(cached.unwrap_or(0))),
        output,
        cache_read: cached,
        cache_write: None,
    }
}

/// Gemini `usageMetadata` from canonical usage.
fn usage_json(usage: &Usage) -> Value {
    let (input, output) = (usage.total_input(), usage.output.unwrap_or(0));
    let mut value = json!({"promptTokenCount": input, "candidatesTokenCount": output,
                           "totalTokenCount": usage.total()});
    if let Some(cached) = usage.cache_read {
        value["cachedContentTokenCount"] = json!(cached);
    }
    value
}

/// Decodes a `generateContent` answer (its first candidate).
pub fn decode_answer(body: &Value) -> Answer {
    let id = string(&body["responseId"]);
    let candidate = &body["candidates"][0];
    let mut parts = Vec::new();
    let mut ids = CallIds::default();
    let prefix = Some(id.as_str()).filter(|id| !id.is_empty());
    for part in candidate["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        read_part(part, &mut ids, prefix, &mut parts);
    }
    let called = parts.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let prompt_blocked = body["promptFeedback"]["blockReason"].as_str();
    let finish = candidate["finishReason"]
        .as_str()
        .or(prompt_blocked)
        .unwrap_or("STOP");
    let stop = stop_reason(finish, called);
    if stop == StopReason::Refusal && parts.is_empty() {
        parts.push(Part::Refusal {
            text: blocked_text(finish, prompt_blocked.is_some()),
        });
    }
    Answer {
        id,
        model: string(&body["modelVersion"]),
        parts,
        stop,
        stop_sequence: None,
        usage: usage(&body["usageMetadata"]),
    }
}

/// Encodes a `generateContent` answer.
pub fn encode_answer(answer: &Answer) -> Value {
    let stop = if answer.refused() {
        StopReason::Refusal
    } else {
        answer.stop.clone()
    };
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": write_parts(&answer.parts, &HashMap::new())},
            "finishReason": finish_reason(&stop),
            "index": 0
        }],
        "usageMetadata": usage_json(&answer.usage),
        "modelVersion": answer.model,
        "responseId": answer.id
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_without_an_id_answers_the_oldest_open_call_of_its_name() {
        let request = decode_request(&json!({"contents": [
            {"role": "model", "parts": [
                {"functionCall": {"name": "ls", "args": {"d": "a"}}},
                {"functionCall": {"name": "ls", "args": {"d": "b"}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "ls", "response": {"result": "A"}}},
                {"functionResponse": {"name": "ls", "response": {"result": "B"}}}]}
        ]}));
        let ids: Vec<(&str, &str)> = request.turns[1]
            .parts
            .iter()
            .zip(&request.turns[0].parts)
            .filter_map(|(result, call)| match (result, call) {
                (Part::ToolResult { call_id, .. }, Part::ToolCall { id, .. }) => {
                    Some((call_id.as_str(), id.as_str()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(ids, [("call_0", "call_0"), ("call_1", "call_1")]);
    }

    #[test]
    fn a_result_gets_its_calls_tool_name_back() {
        let request = Request {
            turns: vec![
                Turn {
                    role: Role::Assistant,
                    parts: vec![Part::ToolCall {
                        id: "toolu_1".into(),
                        name: "bash".into(),
                        arguments: Arguments::Text("{\"cmd\":\"ls\"}".into()),
                    }],
                },
                Turn {
                    role: Role::User,
                    parts: vec![Part::ToolResult {
                        call_id: "toolu_1".into(),
                        content: "no such file".into(),
                        is_error: true,
                    }],
                },
            ],
            ..Request::default()
        };
        let body = encode_request(&request);
        assert_eq!(
            body["contents"][1]["parts"][0],
            json!({"functionResponse": {"id": "toolu_1", "name": "bash",
                   "response": {"error": "no such file"}}})
        );
        let back = decode_request(&body);
        assert_eq!(
            back.turns[1], request.turns[1],
            "the result answers its call"
        );
        assert_eq!(
            back.turns[0].parts,
            [
                Part::Thinking {
                    text: String::new(),
                    signature: Some(SKIP_SIGNATURE.into())
                },
                Part::ToolCall {
                    id: "toolu_1".into(),
                    name: "bash".into(),
                    arguments: Arguments::Json(json!({"cmd": "ls"})),
                },
            ],
            "an unsigned call goes with Google's stand-in signature"
        );
    }

    #[test]
    fn a_signature_goes_back_on_the_part_it_came_on() {
        let call = json!({"functionCall": {"id": "c1", "name": "f", "args": {}},
                          "thoughtSignature": "sig-A"});
        let tail = json!({"text": "", "thoughtSignature": "sig-B"});
        let request = decode_request(&json!({"contents": [
            {"role": "model", "parts": [{"text": "ok"}, call, tail]}]}));
        let parts = &encode_request(&request)["contents"][0]["parts"];
        assert_eq!(parts, &json!([{"text": "ok"}, call, tail]));
    }

    #[test]
    fn safety_blocks_are_refusals_that_say_so() {
        let answer = decode_answer(&json!({"candidates": [{"finishReason": "RECITATION"}]}));
        assert_eq!(answer.stop, StopReason::Refusal);
        assert_eq!(
            answer.parts,
            [Part::Refusal {
                text: "The provider blocked the answer (RECITATION).".into()
            }]
        );
        let prompt =
            decode_answer(&json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}));
        assert_eq!(prompt.stop, StopReason::Refusal);
        assert_eq!(
            prompt.parts,
            [Part::Refusal {
                text: "The provider blocked the prompt (PROHIBITED_CONTENT).".into()
            }]
        );
        let tool = decode_answer(&json!({"candidates": [{"finishReason": "STOP",
            "content": {"parts": [{"functionCall": {"name": "f", "args": {}}}]}}]}));
        assert_eq!(tool.stop, StopReason::ToolUse);
    }

    #[test]
    fn cached_and_thinking_tokens_are_counted_where_they_belong() {
        let usage = usage(
            &json!({"promptTokenCount": 100, "cachedContentTokenCount": 60,
            "candidatesTokenCount": 7, "thoughtsTokenCount": 30, "totalTokenCount": 137}),
        );
        assert_eq!(
            usage,
            Usage {
                input: Some(40),
                output: Some(37),
                cache_read: Some(60),
                cache_write: None
            }
        );
        assert_eq!(usage.total_input(), 100);
    }
}
