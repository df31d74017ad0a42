//! The Amazon Bedrock Converse codec (`Converse` and `ConverseStream`):
//! requests, whole answers and streams to and from the [`crate::canonical`]
//! model.
//!
//! The model is not in a Converse body (it is in the URL, the provider's
//! business), nor is `stream` (a different operation), and a Converse answer
//! has no id and names no model: both decode as empty. Converse wants user and
//! assistant turns to alternate, so turns of the same role are merged, and
//! rejects blank text, so empty texts are left out.
//!
//! What Converse cannot carry is dropped when encoding: images by address
//! (Converse takes bytes, or an `s3://` location), the parallel tool-call
//! flag, the end user, and `tool_choice: none` (Converse has no such choice;
//! the tools are sent and the model decides). When decoding, cache points,
//! documents, videos and guard content are not read, and a tool result's
//! JSON content becomes its text. `guardrail_intervened` and
//! `content_filtered` become the `refusal` stop reason (with a text saying so
//! when the answer has none). Fields outside the model
//! (`additionalModelRequestFields`, `guardrailConfig`, `performanceConfig`, …)
//! are kept as [`Extras`] and come back out only in a Converse request.

mod stream;

pub use stream::{Decoder, Encoder};

use super::{Sampling, opt_string, string};
use crate::canonical::{
    Answer, Arguments, Dialect, Extras, ImageSource, Part, Request, Role, StopReason, Tool,
    ToolChoice, Turn, Usage,
};
use serde_json::{Map, Value, json};

/// The request fields the canonical model covers; the rest are [`Extras`].
const KNOWN: &[&str] = &["messages", "system", "inferenceConfig", "toolConfig"];

/// The names of the sampling settings in `inferenceConfig`.
const SAMPLING: Sampling = Sampling {
    max_tokens: "maxTokens",
    temperature: "temperature",
    top_p: "topP",
    stop: "stopSequences",
};

/// Decodes a Converse request.
pub fn decode_request(body: &Value) -> Request {
    let mut request = Request {
        system: body["system"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|block| opt_string(&block["text"]))
            .collect(),
        ..Request::default()
    };
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = match message["role"].as_str() {
            Some("assistant") => Role::Assistant,
            _ => Role::User,
        };
        let parts: Vec<Part> = message["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(part)
            .collect();
        if !parts.is_empty() {
            request.turns.push(Turn { role, parts });
        }
    }
    SAMPLING.read(&body["inferenceConfig"], &mut request);
    let tools = &body["toolConfig"];
    request.tools = tools["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tool| tool.get("toolSpec"))
        .map(|spec| Tool {
            name: string(&spec["name"]),
            description: opt_string(&spec["description"]),
            parameters: spec["inputSchema"]["json"].clone(),
        })
        .collect();
    let choice = &tools["toolChoice"];
    request.tool_choice = if choice.get("any").is_some() {
        Some(ToolChoice::Any)
    } else if let Some(tool) = choice.get("tool") {
        Some(ToolChoice::Tool {
            name: string(&tool["name"]),
        })
    } else if choice.get("auto").is_some() {
        Some(ToolChoice::Auto)
    } else {
        None
    };
    request.extras = Extras::unknown(Dialect::Converse, body, KNOWN);
    request
}

/// One content block as a part (`None` for blocks the model does not cover,
/// and for empty text).
fn part(block: &Value) -> Option<Part> {
    if let Some(text) = block["text"].as_str() {
        return (!text.is_empty()).then(|| Part::Text { text: text.into() });
    }
    if let Some(image) = block.get("image") {
        let source = &image["source"];
        return Some(Part::Image {
            source: match source["s3Location"]["uri"].as_str() {
                Some(uri) => ImageSource::Url { url: uri.into() },
                None => ImageSource::Base64 {
                    media_type: format!("image/{}", image["format"].as_str().unwrap_or("png")),
                    data: string(&source["bytes"]),
                },
            },
        });
    }
    if let Some(call) = block.get("toolUse") {
        return Some(Part::ToolCall {
            id: string(&call["toolUseId"]),
            name: string(&call["name"]),
            arguments: Arguments::Json(call["input"].clone()),
        });
    }
    if let Some(result) = block.get("toolResult") {
        let content: Vec<String> = result["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| match (&item["text"], &item["json"]) {
                (Value::String(text), _) => Some(text.clone()),
                (_, Value::Null) => None,
                (_, json) => Some(json.to_string()),
            })
            .collect();
        return Some(Part::ToolResult {
            call_id: string(&result["toolUseId"]),
            content: content.join("\n"),
            is_error: result["status"] == "error",
        });
    }
    let reasoning = &block["reasoningContent"]["reasoningText"];
    if reasoning.is_object() {
        return Some(Part::Thinking {
            text: string(&reasoning["text"]),
            signature: opt_string(&reasoning["signature"]),
        });
    }
    None
}

/// A part as a content block (`None` for what Converse cannot carry).
fn block(part: &Part) -> Option<Value> {
    Some(match part {
        Part::Text { text } | Part::Refusal { text } if text.is_empty() => return None,
        Part::Text { text } | Part::Refusal { text } => json!({"text": text}),
        Part::Image {
            source: ImageSource::Base64 { media_type, data },
        } => {
            let format = match media_type.strip_prefix("image/").unwrap_or(media_type) {
                "jpg" => "jpeg",
                format => format,
            };
            json!({"image": {"format": format, "source": {"bytes": data}}})
        }
        Part::Image {
            source: ImageSource::Url { url },
        } if url.starts_with("s3://") => {
            let format = match url.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) {
                Some(e) if ["png", "gif", "webp"].contains(&e.as_str()) => e,
                _ => "jpeg".into(),
            };
            json!({"image": {"format": format, "source": {"s3Location": {"uri": url}}}})
        }
        Part::Image { .. } => return None,
        Part::ToolCall {
            id,
            name,
            arguments,
        } => json!({"toolUse": {"toolUseId": id, "name": name, "input": arguments.to_json()}}),
        Part::ToolResult {
            call_id,
            content,
            is_error,
        } => {
            let mut result = json!({"toolUseId": call_id, "content": [{"text": content}]});
            if *is_error {
                result["status"] = json!("error");
            }
            json!({ "toolResult": result })
        }
        Part::Thinking { text, signature } => {
            let mut reasoning = json!({ "text": text });
            if let Some(signature) = signature {
                reasoning["signature"] = json!(signature);
            }
            json!({"reasoningContent": {"reasoningText": reasoning}})
        }
    })
}

/// Encodes a Converse request.
pub fn encode_request(request: &Request) -> Value {
    let mut out = Map::new();
    let mut messages: Vec<Value> = Vec::new();
    for turn in &request.turns {
        let role = match turn.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let blocks: Vec<Value> = turn.parts.iter().filter_map(block).collect();
        if blocks.is_empty() {
            continue;
        }
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(content) = last["content"].as_array_mut() {
                    content.extend(blocks);
                }
            }
            _ => messages.push(json!({"role": role, "content": blocks})),
        }
    }
    out.insert("messages".into(), Value::Array(messages));
    if !request.system.is_empty() {
        let system: Vec<Value> = request
            .system
            .iter()
            .map(|text| json!({ "text": text }))
            .collect();
        out.insert("system".into(), Value::Array(system));
    }
    let config = SAMPLING.write(request);
    if !config.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(config));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut spec = json!({"name": tool.name, "inputSchema": {"json": tool.parameters}});
                if let Some(description) = &tool.description {
                    spec["description"] = json!(description);
                }
                json!({ "toolSpec": spec })
            })
            .collect();
        let mut config = json!({ "tools": tools });
        let choice = match &request.tool_choice {
            Some(ToolChoice::Auto) => Some(json!({"auto": {}})),
            Some(ToolChoice::Any) => Some(json!({"any": {}})),
            Some(ToolChoice::Tool { name }) => Some(json!({"tool": {"name": name}})),
            Some(ToolChoice::None) | None => None,
        };
        if let Some(choice) = choice {
            config["toolChoice"] = choice;
        }
        out.insert("toolConfig".into(), config);
    }
    for (key, value) in request.extras.for_dialect(Dialect::Converse) {
        out.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(out)
}

/// The canonical reason for a `stopReason` (Messages' names, and the
/// guardrail's and filter's stops).
fn stop_reason(stop: &str) -> StopReason {
    match stop {
        "guardrail_intervened" | "content_filtered" => StopReason::Refusal,
        other => super::messages::stop_reason(other),
    }
}

/// The `stopReason` for a canonical reason.
fn stop_reason_name(stop: &StopReason) -> &str {
    match stop {
        StopReason::Refusal => "content_filtered",
        other => super::messages::stop_reason_name(other),
    }
}

/// Converse usage: input tokens exclude those read from or written to the
/// prompt cache.
fn usage(usage: &Value) -> Usage {
    Usage {
        input: usage["inputTokens"].as_u64(),
        output: usage["outputTokens"].as_u64(),
        cache_read: usage["cacheReadInputTokens"].as_u64(),
        cache_write: usage["cacheWriteInputTokens"].as_u64(),
    }
}

/// Converse usage from canonical usage.
fn usage_json(usage: &Usage) -> Value {
    let (input, output) = (usage.input.unwrap_or(0), usage.output.unwrap_or(0));
    let mut value = json!({"inputTokens": input, "outputTokens": output,
                           "totalTokens": usage.total()});
    if let Some(tokens) = usage.cache_read {
        value["cacheReadInputTokens"] = json!(tokens);
    }
    if let Some(tokens) = usage.cache_write {
        value["cacheWriteInputTokens"] = json!(tokens);
    }
    value
}

/// What a client is told when a filter stopped an answer that has no text.
fn blocked_text(reason: &str) -> String {
    format!("The provider's filter stopped the answer ({reason}).")
}

/// Decodes a Converse answer.
pub fn decode_answer(body: &Value) -> Answer {
    let mut parts: Vec<Part> = body["output"]["message"]["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(part)
        .collect();
    let reason = body["stopReason"].as_str().unwrap_or("end_turn");
    let stop = stop_reason(reason);
    if stop == StopReason::Refusal && parts.is_empty() {
        parts.push(Part::Refusal {
            text: blocked_text(reason),
        });
    }
    Answer {
        id: String::new(),
        model: String::new(),
        parts,
        stop,
        stop_sequence: None,
        usage: usage(&body["usage"]),
    }
}

/// Encodes a Converse answer.
pub fn encode_answer(answer: &Answer) -> Value {
    let stop = if answer.refused() {
        "content_filtered"
    } else {
        stop_reason_name(&answer.stop)
    };
    let content: Vec<Value> = answer.parts.iter().filter_map(block).collect();
    json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": usage_json(&answer.usage),
        "metrics": {"latencyMs": 0}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_choice_none_sends_the_tools_and_lets_the_model_decide() {
        let request = Request {
            tools: vec![Tool {
                name: "ls".into(),
                description: None,
                parameters: json!({"type": "object"}),
            }],
            tool_choice: Some(ToolChoice::None),
            ..Request::default()
        };
        let body = encode_request(&request);
        assert_eq!(
            body["toolConfig"],
            json!({"tools": [{"toolSpec": {"name": "ls", "inputSchema": {"json": {"type": "object"}}}}]})
        );
    }

    #[test]
    fn a_guardrail_stop_without_text_says_so() {
        let answer = decode_answer(&json!({"output": {"message": {"role": "assistant",
            "content": []}}, "stopReason": "guardrail_intervened"}));
        assert_eq!(answer.stop, StopReason::Refusal);
        assert_eq!(
            answer.parts,
            [Part::Refusal {
                text: "The provider's filter stopped the answer (guardrail_intervened).".into()
            }]
        );
    }

    #[test]
    fn images_by_http_address_are_dropped_and_s3_ones_kept() {
        let turn = |url: &str| Turn {
            role: Role::User,
            parts: vec![
                Part::Text { text: "see".into() },
                Part::Image {
                    source: ImageSource::Url { url: url.into() },
                },
            ],
        };
        let request = Request {
            turns: vec![turn("https://example.com/a.png")],
            ..Request::default()
        };
        assert_eq!(
            encode_request(&request)["messages"][0]["content"],
            json!([{"text": "see"}])
        );
        let request = Request {
            turns: vec![turn("s3://bucket/a.PNG")],
            ..Request::default()
        };
        assert_eq!(
            encode_request(&request)["messages"][0]["content"][1],
            json!({"image": {"format": "png", "source": {"s3Location": {"uri": "s3://bucket/a.PNG"}}}})
        );
    }
}
