//! Snapshot tests of the codecs: each fixture in `fixtures/` is a body (or a
//! stream) of one API, the canonical model it decodes to, and what that
//! encodes to in the same or the other API. The test decodes the input,
//! compares the canonical value, encodes it and compares the output.
//!
//! A fixture file holds:
//! - `kind`: `request`, `answer` or `stream`;
//! - `from`, `to`: `chat`, `messages`, `responses`, `gemini` or `converse`;
//! - `input`: the body, or the stream as `[{"event": name or null, "data": …}]`
//!   (data that is not JSON is a string, such as `"[DONE]"`);
//! - optional `openai_native` (requests) and `include_usage` (streams);
//! - `canonical` and `output`: the expected values. `created` and
//!   `created_at` timestamps in outputs compare as 0.
//!
//! To write a new fixture, give its input and run the tests with
//! `SLUICE_BLESS=1`: the expected values are filled in from what the codecs
//! do, to be read and checked by eye before committing.

use super::{StreamDecoder, StreamEncoder, Target};
use crate::api::sse::SseEvent;
use crate::canonical::{Dialect, Event};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The fixtures folder.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/codec/fixtures")
}

/// A fixture's API.
fn dialect(value: &Value) -> Dialect {
    serde_json::from_value(value.clone()).expect("`from` and `to` name an API")
}

/// `created` and `created_at` timestamps anywhere in `value`, as 0.
fn without_timestamps(mut value: Value) -> Value {
    match &mut value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                *field = if key == "created" || key == "created_at" {
                    json!(0)
                } else {
                    without_timestamps(field.take())
                };
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = without_timestamps(item.take());
            }
        }
        _ => {}
    }
    value
}

/// A stream, as SSE events.
fn events(stream: &Value) -> Vec<SseEvent> {
    stream
        .as_array()
        .expect("a stream is an array")
        .iter()
        .map(|e| SseEvent {
            event: e["event"].as_str().map(String::from),
            data: match &e["data"] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            },
        })
        .collect()
}

/// SSE events, as a fixture stream.
fn stream_json(events: &[SseEvent]) -> Value {
    events
        .iter()
        .map(|e| {
            json!({"event": e.event, "data": serde_json::from_str::<Value>(&e.data)
                .unwrap_or_else(|_| json!(e.data))})
        })
        .collect()
}

/// The canonical value and the output for a fixture.
fn run(fixture: &Value) -> (Value, Value) {
    let (from, to) = (dialect(&fixture["from"]), dialect(&fixture["to"]));
    let input = &fixture["input"];
    match fixture["kind"].as_str() {
        Some("request") => {
            let canonical = super::decode_request(from, input);
            let target = Target {
                openai_native: fixture["openai_native"] == true,
            };
            let output = super::encode_request(to, &canonical, target);
            (json!(canonical), output)
        }
        Some("answer") => {
            let canonical = super::decode_answer(from, input);
            (json!(canonical), super::encode_answer(to, &canonical))
        }
        Some("stream") => {
            let mut decoder: Box<dyn StreamDecoder> = super::stream_decoder(from);
            let mut encoder: Box<dyn StreamEncoder> =
                super::stream_encoder(to, fixture["include_usage"] == true);
            let canonical: Vec<Event> = events(input)
                .into_iter()
                .flat_map(|e| decoder.decode(e))
                .collect();
            let output: Vec<SseEvent> = canonical
                .iter()
                .flat_map(|e| encoder.encode(e.clone()))
                .collect();
            (json!(canonical), stream_json(&output))
        }
        other => panic!("unknown fixture kind {other:?}"),
    }
}

#[test]
fn every_fixture_decodes_and_encodes_as_recorded() {
    let bless = std::env::var_os("SLUICE_BLESS").is_some();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("the fixtures folder")
        .map(|entry| entry.expect("a fixture").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 20, "fixtures went missing: {paths:?}");
    let mut failed = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("a readable fixture");
        let mut fixture: Value = serde_json::from_str(&text).expect("a JSON fixture");
        let (canonical, output) = run(&fixture);
        let output = without_timestamps(output);
        if bless {
            fixture["canonical"] = canonical;
            fixture["output"] = output;
            let text = serde_json::to_string_pretty(&fixture).expect("JSON") + "\n";
            std::fs::write(path, text).expect("the fixture is written");
            continue;
        }
        if fixture["canonical"] != canonical {
            failed.push(format!(
                "{}: canonical\n  expected {}\n  got      {}",
                path.display(),
                fixture["canonical"],
                canonical
            ));
        }
        if fixture["output"] != output {
            failed.push(format!(
                "{}: output\n  expected {}\n  got      {}",
                path.display(),
                fixture["output"],
                output
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn every_direction_and_kind_has_a_fixture() {
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(fixtures()).expect("the fixtures folder") {
        let text = std::fs::read_to_string(entry.expect("a fixture").path()).expect("readable");
        let fixture: Value = serde_json::from_str(&text).expect("JSON");
        seen.insert(format!(
            "{} {}→{}",
            fixture["kind"].as_str().unwrap_or(""),
            fixture["from"].as_str().unwrap_or(""),
            fixture["to"].as_str().unwrap_or("")
        ));
    }
    for kind in ["request", "answer", "stream"] {
        for (from, to) in [
            ("chat", "messages"),
            ("messages", "chat"),
            ("chat", "chat"),
            ("messages", "messages"),
            ("responses", "chat"),
            ("chat", "responses"),
            ("responses", "responses"),
            ("gemini", "gemini"),
            ("gemini", "messages"),
            ("messages", "gemini"),
            ("converse", "converse"),
            ("converse", "messages"),
            ("messages", "converse"),
        ] {
            assert!(
                seen.contains(&format!("{kind} {from}→{to}")),
                "no {kind} fixture from {from} to {to}: {seen:?}"
            );
        }
    }
}
