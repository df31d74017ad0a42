//! The encoders' output, read by the official `openai` Python package
//! (`client.responses.create`, with and without `stream=True`, and the
//! stricter `client.responses.stream()` helper, which rebuilds the response
//! from the events and checks their indices), served from a one-shot local
//! HTTP server.
//!
//! The package is not part of the Rust toolchain: as in the integration
//! tests, `SLUICE_REQUIRE_CLIENTS=1` makes its absence a failure, and
//! elsewhere the test says what it needs instead of running.

use super::Encoder;
use crate::canonical::{Answer, Arguments, BlockKind, Event, Part, StopReason, Usage};
use crate::codec::StreamEncoder;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;

/// Asks as argv[2] says (`stream`: the stream twice, once raw and once
/// through the helper; `events`: the raw stream; `whole`: a whole response)
/// and prints what the SDK made of it, as JSON.
const CLIENT: &str = r#"
import json, sys, openai
client = openai.OpenAI(base_url=sys.argv[1], api_key="k", max_retries=0)
mode = sys.argv[2]

def summary(r):
    return {
        "id": r.id,
        "status": r.status,
        "incomplete": r.incomplete_details.reason if r.incomplete_details else None,
        "error": [r.error.code, r.error.message] if r.error else None,
        "text": r.output_text,
        "refusals": [c.refusal for o in r.output if o.type == "message" for c in o.content
                     if c.type == "refusal"],
        "calls": [[o.call_id, o.name, o.arguments] for o in r.output if o.type == "function_call"],
        "reasoning": [s.text for o in r.output if o.type == "reasoning" for s in o.summary],
        "usage": r.usage and [r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens,
                              r.usage.input_tokens_details.cached_tokens],
    }

if mode == "whole":
    print(json.dumps(summary(client.responses.create(model="m", input="hi"))))
    sys.exit()
events = list(client.responses.create(model="m", input="hi", stream=True))
out = {
    "types": [e.type for e in events],
    "classes": sorted({type(e).__name__ for e in events}),
    "sequence": [e.sequence_number for e in events],
    "last": summary(events[-1].response),
}
if mode == "stream":
    with client.responses.stream(model="m", input="hi") as stream:
        for _ in stream:
            pass
        out["final"] = summary(stream.get_final_response())
print(json.dumps(out))
"#;

/// Whether the SDK can run here; outside CI a missing SDK is reported.
fn sdk_available() -> bool {
    let offline = std::env::var("SLUICE_TEST_OFFLINE").is_ok_and(|v| v == "1");
    let present = !offline
        && Command::new("python3")
            .args(["-c", "import openai"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !present {
        assert!(
            !std::env::var("SLUICE_REQUIRE_CLIENTS").is_ok_and(|v| v == "1"),
            "the openai Python package is required (SLUICE_REQUIRE_CLIENTS=1) but not installed"
        );
        eprintln!("NOT RUN: the openai Python package is not installed");
    }
    present
}

/// A streamed answer: thinking, text, two parallel tool calls, usage.
fn answer() -> Vec<Event> {
    let usage = Usage {
        input: Some(30),
        output: Some(12),
        cache_read: Some(20),
        cache_write: None,
    };
    vec![
        Event::Start {
            id: "chatcmpl-9".into(),
            model: "gpt-x".into(),
            usage: Usage::default(),
        },
        Event::BlockStart {
            index: 0,
            kind: BlockKind::Thinking,
        },
        Event::ThinkingDelta {
            index: 0,
            text: "Two files.".into(),
        },
        Event::BlockStop { index: 0 },
        Event::BlockStart {
            index: 1,
            kind: BlockKind::Text,
        },
        Event::TextDelta {
            index: 1,
            text: "Read".into(),
        },
        Event::TextDelta {
            index: 1,
            text: "ing.".into(),
        },
        Event::BlockStop { index: 1 },
        Event::BlockStart {
            index: 2,
            kind: BlockKind::ToolCall {
                id: "call_a".into(),
                name: "cat".into(),
            },
        },
        Event::ToolArgumentsDelta {
            index: 2,
            json: "{\"f\":".into(),
        },
        Event::ToolArgumentsDelta {
            index: 2,
            json: "\"a\"}".into(),
        },
        Event::BlockStop { index: 2 },
        Event::BlockStart {
            index: 3,
            kind: BlockKind::ToolCall {
                id: "call_b".into(),
                name: "cat".into(),
            },
        },
        Event::ToolArgumentsDelta {
            index: 3,
            json: "{\"f\":\"b\"}".into(),
        },
        Event::BlockStop { index: 3 },
        Event::Usage(usage),
        Event::Finish {
            stop: StopReason::ToolUse,
        },
        Event::End,
    ]
}

/// The encoder's output for `events`, as an SSE body.
fn sse_body(events: Vec<Event>) -> String {
    let mut encoder = Encoder::default();
    let mut body = String::new();
    for event in events {
        for sse in encoder.encode(event) {
            if let Some(name) = sse.event {
                body.push_str(&format!("event: {name}\n"));
            }
            body.push_str(&format!("data: {}\n\n", sse.data));
        }
    }
    body
}

/// Serves `body` (of `content_type`) to `requests` requests, one by one.
fn serve(
    content_type: &'static str,
    body: String,
    requests: usize,
) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
    let base = format!("http://{}/v1", listener.local_addr().expect("an address"));
    let server = std::thread::spawn(move || {
        for _ in 0..requests {
            let (stream, _) = listener.accept().expect("a connection");
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("a header line");
                let line = line.trim_end().to_ascii_lowercase();
                if line.is_empty() {
                    break;
                }
                if let Some(value) = line.strip_prefix("content-length:") {
                    length = value.trim().parse().expect("a length");
                }
            }
            let mut request = vec![0; length];
            reader.read_exact(&mut request).expect("the request body");
            let mut stream = reader.into_inner();
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .expect("the response is written");
        }
    });
    (base, server)
}

/// What the SDK made of `body`, asked in `mode` (see [`CLIENT`]); `None`
/// when the SDK is not installed.
fn sdk_reads(mode: &str, content_type: &'static str, body: String) -> Option<Value> {
    if !sdk_available() {
        return None;
    }
    let (base, server) = serve(content_type, body, if mode == "stream" { 2 } else { 1 });
    let output = Command::new("python3")
        .args(["-c", CLIENT, &base, mode])
        .output()
        .expect("python3 runs");
    server.join().expect("the server ends");
    assert!(
        output.status.success(),
        "the SDK failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).expect("the client's JSON"))
}

/// Checks the events the SDK saw: all typed, numbered from 0, `created` first
/// and `last` last.
fn check_events(seen: &Value, last: &str) -> Vec<Value> {
    let types = seen["types"].as_array().expect("types").clone();
    assert_eq!(types.first(), Some(&"response.created".into()));
    assert_eq!(types.last(), Some(&last.into()));
    let classes = seen["classes"].as_array().expect("classes");
    assert!(
        classes
            .iter()
            .all(|c| c.as_str().is_some_and(|c| c.ends_with("Event"))),
        "every event has its SDK type: {classes:?}"
    );
    let sequence: Vec<u64> = seen["sequence"]
        .as_array()
        .expect("sequence numbers")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(sequence, (0..types.len() as u64).collect::<Vec<_>>());
    types
}

#[test]
fn the_openai_python_sdk_reads_the_stream_and_rebuilds_the_response() {
    let Some(seen) = sdk_reads("stream", "text/event-stream", sse_body(answer())) else {
        return;
    };
    let types = check_events(&seen, "response.completed");
    for name in [
        "response.reasoning_summary_text.delta",
        "response.output_text.delta",
        "response.function_call_arguments.done",
    ] {
        assert!(types.contains(&name.into()), "no {name} in {types:?}");
    }
    for response in [&seen["last"], &seen["final"]] {
        assert_eq!(response["id"], "resp_chatcmpl-9");
        assert_eq!(response["status"], "completed");
        assert_eq!(response["text"], "Reading.");
        assert_eq!(
            response["calls"],
            json!([
                ["call_a", "cat", "{\"f\":\"a\"}"],
                ["call_b", "cat", "{\"f\":\"b\"}"]
            ])
        );
        assert_eq!(response["reasoning"], json!(["Two files."]));
        assert_eq!(response["usage"], json!([50, 12, 62, 20]));
    }
}

#[test]
fn the_openai_python_sdk_reads_a_cut_off_stream_as_incomplete() {
    let events = vec![
        Event::Start {
            id: "c2".into(),
            model: "m".into(),
            usage: Usage::default(),
        },
        Event::BlockStart {
            index: 0,
            kind: BlockKind::Text,
        },
        Event::TextDelta {
            index: 0,
            text: "Once upon".into(),
        },
        Event::BlockStop { index: 0 },
        Event::Finish {
            stop: StopReason::MaxTokens,
        },
        Event::End,
    ];
    let Some(seen) = sdk_reads("events", "text/event-stream", sse_body(events)) else {
        return;
    };
    check_events(&seen, "response.incomplete");
    assert_eq!(seen["last"]["status"], "incomplete");
    assert_eq!(seen["last"]["incomplete"], "max_output_tokens");
    assert_eq!(seen["last"]["text"], "Once upon");
}

#[test]
fn the_openai_python_sdk_reads_a_provider_error_as_a_failed_response() {
    let events = vec![
        Event::Error {
            message: "overloaded".into(),
        },
        Event::End,
    ];
    let Some(seen) = sdk_reads("events", "text/event-stream", sse_body(events)) else {
        return;
    };
    check_events(&seen, "response.failed");
    assert_eq!(seen["last"]["status"], "failed");
    assert_eq!(seen["last"]["error"], json!(["server_error", "overloaded"]));
}

#[test]
fn the_openai_python_sdk_reads_a_whole_answer() {
    let answer = Answer {
        id: "chatcmpl-7".into(),
        model: "m".into(),
        parts: vec![
            Part::Thinking {
                text: "Short.".into(),
                signature: Some("sig".into()),
            },
            Part::Text { text: "Hi".into() },
            Part::Refusal {
                text: "Not that.".into(),
            },
            Part::ToolCall {
                id: "call_z".into(),
                name: "f".into(),
                arguments: Arguments::Json(json!({"x": 1})),
            },
        ],
        stop: StopReason::ToolUse,
        stop_sequence: None,
        usage: Usage {
            input: Some(3),
            output: Some(4),
            cache_read: Some(5),
            cache_write: None,
        },
    };
    let body = super::encode_answer(&answer).to_string();
    let Some(seen) = sdk_reads("whole", "application/json", body) else {
        return;
    };
    assert_eq!(
        seen,
        json!({"id": "resp_chatcmpl-7", "status": "completed", "incomplete": null, "error": null,
               "text": "Hi", "refusals": ["Not that."], "calls": [["call_z", "f", "{\"x\":1}"]],
               "reasoning": ["Short."], "usage": [8, 4, 12, 5]})
    );
}
