//! The mock's OpenAI Responses endpoint (`POST /v1/responses`), streamed and
//! not, written from OpenAI's API reference (not from sluice's codec): the
//! same model names as the rest of the mock, plus `web-search`, which runs
//! OpenAI's built-in web search (a `web_search_call` item, then a message
//! with a URL citation), and `leak-everywhere`, whose search query and text
//! both hold [`LEAKED_EMAIL`] and whose stream has no deltas: the text comes
//! only in the events that repeat it when done. A request with a `previous_response_id` is answered
//! as a continuation, and the id is echoed in the answer.

use super::{AGENT_COMMAND, LEAKED_EMAIL, Shared, TOOL_EMAIL, error, pieces, record, special, sse};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The text of a Responses `input`'s last user message.
fn last_user_text(body: &Value) -> String {
    match &body["input"] {
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .rev()
            .find(|i| i["role"] == "user")
            .map(|item| match &item["content"] {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The output of the last item, when it is a function call's output.
fn last_tool_output(body: &Value) -> Option<String> {
    let last = body["input"].as_array()?.last()?;
    (last["type"] == "function_call_output").then(|| last["output"].as_str().unwrap_or("").into())
}

/// The output items of the answer to `body`.
fn output(model: &str, body: &Value) -> Vec<Value> {
    let message = |text: &str, annotations: Value| {
        json!({"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": text, "annotations": annotations}]})
    };
    let call = |name: &str, arguments: &str| {
        json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "status": "completed",
               "name": name, "arguments": arguments})
    };
    match (model, last_tool_output(body)) {
        ("codex-agent", Some(out)) => {
            vec![message(&format!("all done: {}", out.trim()), json!([]))]
        }
        ("codex-agent", None) => vec![call("exec_command", AGENT_COMMAND)],
        ("tool-call", _) => vec![call(
            "send_mail",
            &format!("{{\"to\": \"{TOOL_EMAIL}\", \"subject\": \"hi\"}}"),
        )],
        ("leak-email", _) => vec![message(
            &format!("Sure. You can reach me at {LEAKED_EMAIL} any time."),
            json!([]),
        )],
        ("leak-everywhere", _) => vec![
            json!({"type": "web_search_call", "id": "ws_1", "status": "completed",
                   "action": {"type": "search", "query": format!("who is {LEAKED_EMAIL}")}}),
            message(&format!("It is {LEAKED_EMAIL}."), json!([])),
        ],
        ("web-search", _) => vec![
            json!({"type": "web_search_call", "id": "ws_1", "status": "completed",
                   "action": {"type": "search", "query": last_user_text(body)}}),
            message(
                "Found it (example.org).",
                json!([{"type": "url_citation", "start_index": 10, "end_index": 22,
                        "url": "https://example.org/", "title": "Example"}]),
            ),
        ],
        _ => vec![message(
            &format!("you said: {}", last_user_text(body)),
            json!([]),
        )],
    }
}

/// A response object.
fn response(model: &str, body: &Value, status: &str, output: Vec<Value>) -> Value {
    json!({
        "id": "resp_mock", "object": "response", "created_at": 1, "status": status,
        "model": model, "output": output, "error": null, "incomplete_details": null,
        "instructions": body["instructions"], "previous_response_id": body["previous_response_id"],
        "tools": body.get("tools").cloned().unwrap_or(json!([])),
        "usage": if status == "completed" {
            json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
                   "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                   "total_tokens": 15})
        } else { Value::Null },
    })
}

/// `POST /v1/responses`.
pub async fn handle(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body = record(&state, "/v1/responses", &headers, &body);
    let model = body["model"].as_str().unwrap_or("").to_string();
    if let Some(response) = special(&state, &model, true).await {
        return response;
    }
    if body["input"].is_null() && body["previous_response_id"].is_null() {
        return error(
            axum::http::StatusCode::BAD_REQUEST,
            true,
            "Missing required parameter: 'input'.",
        );
    }
    let items = output(&model, &body);
    if !body["stream"].as_bool().unwrap_or(false) {
        return axum::Json(response(&model, &body, "completed", items)).into_response();
    }
    let mut events = Vec::new();
    let mut push = |value: Value| {
        let n = events.len();
        let mut value = value;
        value["sequence_number"] = json!(n);
        events.push(format!(
            "event: {}\ndata: {value}\n\n",
            value["type"].as_str().unwrap()
        ));
    };
    let started = response(&model, &body, "in_progress", vec![]);
    push(json!({"type": "response.created", "response": started}));
    push(json!({"type": "response.in_progress", "response": started}));
    for (index, item) in items.iter().enumerate() {
        let id = item["id"].clone();
        match item["type"].as_str().unwrap() {
            "message" => {
                let text = item["content"][0]["text"].as_str().unwrap();
                let mut empty = item.clone();
                empty["status"] = json!("in_progress");
                empty["content"] = json!([]);
                push(
                    json!({"type": "response.output_item.added", "output_index": index, "item": empty}),
                );
                push(
                    json!({"type": "response.content_part.added", "item_id": id, "output_index": index,
                            "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
                );
                for piece in pieces(text, 3) {
                    push(
                        json!({"type": "response.output_text.delta", "item_id": id, "output_index": index,
                                "content_index": 0, "delta": piece}),
                    );
                }
                for annotation in item["content"][0]["annotations"].as_array().unwrap() {
                    push(
                        json!({"type": "response.output_text.annotation.added", "item_id": id,
                                "output_index": index, "content_index": 0, "annotation_index": 0,
                                "annotation": annotation}),
                    );
                }
                push(
                    json!({"type": "response.output_text.done", "item_id": id, "output_index": index,
                            "content_index": 0, "text": text}),
                );
                push(
                    json!({"type": "response.content_part.done", "item_id": id, "output_index": index,
                            "content_index": 0, "part": item["content"][0]}),
                );
            }
            "function_call" => {
                let arguments = item["arguments"].as_str().unwrap();
                let mut empty = item.clone();
                empty["status"] = json!("in_progress");
                empty["arguments"] = json!("");
                push(
                    json!({"type": "response.output_item.added", "output_index": index, "item": empty}),
                );
                for piece in pieces(arguments, 3) {
                    push(
                        json!({"type": "response.function_call_arguments.delta", "item_id": id,
                                "output_index": index, "delta": piece}),
                    );
                }
                push(
                    json!({"type": "response.function_call_arguments.done", "item_id": id,
                            "output_index": index, "arguments": arguments}),
                );
            }
            _ => {
                let mut searching = item.clone();
                searching["status"] = json!("in_progress");
                push(
                    json!({"type": "response.output_item.added", "output_index": index, "item": searching}),
                );
                push(
                    json!({"type": "response.web_search_call.in_progress", "item_id": id, "output_index": index}),
                );
                push(
                    json!({"type": "response.web_search_call.completed", "item_id": id, "output_index": index}),
                );
            }
        }
        push(json!({"type": "response.output_item.done", "output_index": index, "item": item}));
    }
    push(
        json!({"type": "response.completed", "response": response(&model, &body, "completed", items)}),
    );
    sse(events, model == "reset-mid-stream")
}
