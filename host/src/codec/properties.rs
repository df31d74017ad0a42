//! Property tests of the codecs: any JSON (arbitrary, or a fixture's body with
//! a part replaced) decodes without panicking, and a body that has been
//! through a codec once comes out of it again unchanged (decode → encode is
//! idempotent), for requests and answers of each API; any stream decodes to
//! well-formed blocks, and any Chat Completions stream encodes to a
//! well-formed Responses stream.

use super::{Target, decode_answer, decode_request, encode_answer, encode_request};
use crate::canonical::Dialect;
use crate::test_json::{mutated, value};
use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;

/// The inputs of the fixtures of one kind from one API.
fn fixture_inputs(kind: &str, from: &str) -> Vec<Value> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/codec/fixtures");
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(folder).expect("the fixtures folder") {
        let text = std::fs::read_to_string(entry.expect("a fixture").path()).expect("readable");
        let fixture: Value = serde_json::from_str(&text).expect("JSON");
        if fixture["kind"] == kind && fixture["from"] == from {
            inputs.push(fixture["input"].clone());
        }
    }
    assert!(!inputs.is_empty(), "no {kind} fixture from {from}");
    inputs
}

/// A body of `kind` in `from`'s API, realistic or arbitrary.
fn body(kind: &str, from: &str) -> impl Strategy<Value = Value> {
    prop_oneof![1 => value(), 3 => mutated(fixture_inputs(kind, from))]
}

/// An answer with its `created` (or `created_at`) timestamp (the clock's,
/// not the codec's) taken out.
fn without_created(mut answer: Value) -> Value {
    if let Some(object) = answer.as_object_mut() {
        object.remove("created");
        object.remove("created_at");
    }
    answer
}

/// Requests through the codec of `dialect`, once and twice.
fn request_twice(dialect: Dialect, body: &Value, target: Target) -> (Value, Value) {
    let once = encode_request(dialect, &decode_request(dialect, body), target);
    let twice = encode_request(dialect, &decode_request(dialect, &once), target);
    (once, twice)
}

/// Answers through the codec of `dialect`, once and twice.
fn answer_twice(dialect: Dialect, body: &Value) -> (Value, Value) {
    let once = encode_answer(dialect, &decode_answer(dialect, body));
    let twice = encode_answer(dialect, &decode_answer(dialect, &once));
    (without_created(once), without_created(twice))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chat_requests_are_a_fixed_point_after_one_pass(
        body in body("request", "chat"),
        openai_native in any::<bool>(),
    ) {
        let (once, twice) = request_twice(Dialect::Chat, &body, Target { openai_native });
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn messages_requests_are_a_fixed_point_after_one_pass(body in body("request", "messages")) {
        let (once, twice) = request_twice(Dialect::Messages, &body, Target::default());
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn responses_requests_are_a_fixed_point_after_one_pass(body in body("request", "responses")) {
        let (once, twice) = request_twice(Dialect::Responses, &body, Target::default());
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn responses_answers_are_a_fixed_point_after_one_pass(body in body("answer", "responses")) {
        let (once, twice) = answer_twice(Dialect::Responses, &body);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn chat_answers_are_a_fixed_point_after_one_pass(body in body("answer", "chat")) {
        let (once, twice) = answer_twice(Dialect::Chat, &body);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn messages_answers_are_a_fixed_point_after_one_pass(body in body("answer", "messages")) {
        let (once, twice) = answer_twice(Dialect::Messages, &body);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn gemini_requests_are_a_fixed_point_after_one_pass(body in body("request", "gemini")) {
        let (once, twice) = request_twice(Dialect::Gemini, &body, Target::default());
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn gemini_answers_are_a_fixed_point_after_one_pass(body in body("answer", "gemini")) {
        let (once, twice) = answer_twice(Dialect::Gemini, &body);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn converse_requests_are_a_fixed_point_after_one_pass(body in body("request", "converse")) {
        let (once, twice) = request_twice(Dialect::Converse, &body, Target::default());
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn converse_answers_are_a_fixed_point_after_one_pass(body in body("answer", "converse")) {
        let (once, twice) = answer_twice(Dialect::Converse, &body);
        prop_assert_eq!(once, twice);
    }
}

/// A Chat Completions chunk: a text delta, a piece of one of a few tool
/// calls, a finish, a usage chunk, or the end.
fn chat_chunk() -> impl Strategy<Value = crate::api::sse::SseEvent> {
    let data = prop_oneof![
        ".{0,4}".prop_map(|text| serde_json::json!({"choices": [{"delta": {"content": text}}]})),
        (0u64..3, prop::option::of("[a-z]{1,3}"), ".{0,4}").prop_map(|(index, id, args)| {
            serde_json::json!({"choices": [{"delta": {"tool_calls": [
                {"index": index, "id": id, "function": {"name": "f", "arguments": args}}]}}]})
        }),
        prop::sample::select(vec!["stop", "length", "tool_calls", "content_filter"]).prop_map(
            |finish| serde_json::json!({"choices": [{"delta": {}, "finish_reason": finish}]})
        ),
        (0u64..9, 0u64..9).prop_map(|(p, c)| serde_json::json!({"choices": [],
            "usage": {"prompt_tokens": p, "completion_tokens": c}})),
    ]
    .prop_map(|v| v.to_string());
    prop_oneof![9 => data, 1 => Just("[DONE]".to_string())]
        .prop_map(|data| crate::api::sse::SseEvent { event: None, data })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chat_streams_decode_to_well_formed_blocks(
        chunks in prop::collection::vec(chat_chunk(), 0..24),
    ) {
        use crate::canonical::Event;
        let mut decoder = super::chat::Decoder::default();
        let mut open: Option<u64> = None;
        let mut next = 0;
        for chunk in chunks {
            for event in super::StreamDecoder::decode(&mut decoder, chunk) {
                match event {
                    Event::BlockStart { index, .. } => {
                        prop_assert_eq!(open, None, "blocks do not overlap");
                        prop_assert_eq!(index, next, "blocks are numbered from 0, in order");
                        open = Some(index);
                        next += 1;
                    }
                    Event::TextDelta { index, .. }
                    | Event::ToolArgumentsDelta { index, .. }
                    | Event::ThinkingDelta { index, .. }
                    | Event::SignatureDelta { index, .. } => {
                        prop_assert_eq!(open, Some(index), "a delta goes to the open block");
                    }
                    Event::BlockStop { index } => {
                        prop_assert_eq!(open, Some(index), "only the open block stops");
                        open = None;
                    }
                    Event::Finish { .. } | Event::End => {
                        prop_assert_eq!(open, None, "every block stops before the finish");
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A Responses stream event: an item added or done, a delta of each kind, the
/// end, or a failure.
fn responses_event() -> impl Strategy<Value = crate::api::sse::SseEvent> {
    use serde_json::json;
    prop_oneof![
        prop::sample::select(vec!["message", "function_call", "reasoning"]).prop_map(|kind| {
            json!({"type": "response.output_item.added",
                   "item": {"type": kind, "call_id": "c", "name": "f"}})
        }),
        Just(json!({"type": "response.output_item.done"})),
        (
            prop::sample::select(vec![
                "response.output_text.delta",
                "response.refusal.delta",
                "response.reasoning_summary_text.delta",
                "response.function_call_arguments.delta",
            ]),
            ".{0,4}"
        )
            .prop_map(|(kind, delta)| json!({"type": kind, "delta": delta})),
        prop::sample::select(vec!["response.completed", "response.incomplete"])
            .prop_map(|kind| json!({"type": kind, "response": {"usage": {"input_tokens": 1}}})),
        Just(json!({"type": "response.failed", "response": {"error": {"message": "x"}}})),
    ]
    .prop_map(|data| crate::api::sse::SseEvent {
        event: data["type"].as_str().map(String::from),
        data: data.to_string(),
    })
}

/// Checks that canonical `events` have well-formed blocks: numbered from 0 in
/// order, not overlapping, deltas only to the open block, all stopped before
/// the finish.
fn check_blocks(events: &[crate::canonical::Event]) -> Result<(), TestCaseError> {
    use crate::canonical::Event;
    let mut open: Option<u64> = None;
    let mut next = 0;
    for event in events {
        match event {
            Event::BlockStart { index, .. } => {
                prop_assert_eq!(open, None, "blocks do not overlap");
                prop_assert_eq!(*index, next, "blocks are numbered from 0, in order");
                open = Some(*index);
                next += 1;
            }
            Event::TextDelta { index, .. }
            | Event::ToolArgumentsDelta { index, .. }
            | Event::ThinkingDelta { index, .. }
            | Event::SignatureDelta { index, .. } => {
                prop_assert_eq!(open, Some(*index), "a delta goes to the open block");
            }
            Event::BlockStop { index } => {
                prop_assert_eq!(open, Some(*index), "only the open block stops");
                open = None;
            }
            Event::Finish { .. } | Event::End => {
                prop_assert_eq!(open, None, "every block stops before the finish");
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn responses_streams_decode_to_well_formed_blocks(
        events in prop::collection::vec(responses_event(), 0..24),
    ) {
        let mut decoder = super::responses::Decoder::default();
        let decoded: Vec<_> = events
            .into_iter()
            .flat_map(|e| super::StreamDecoder::decode(&mut decoder, e))
            .collect();
        check_blocks(&decoded)?;
    }

    #[test]
    fn chat_streams_encode_to_well_formed_responses_streams(
        chunks in prop::collection::vec(chat_chunk(), 0..24),
    ) {
        use std::collections::BTreeSet;
        let mut decoder = super::chat::Decoder::default();
        let mut encoder = super::responses::Encoder::default();
        let mut sequence = 0;
        let mut open: BTreeSet<u64> = BTreeSet::new();
        let mut items = 0;
        let mut ended = false;
        for chunk in chunks {
            for event in super::StreamDecoder::decode(&mut decoder, chunk) {
                for sse in super::StreamEncoder::encode(&mut encoder, event) {
                    let data: Value = serde_json::from_str(&sse.data).expect("JSON data");
                    let kind = data["type"].as_str().expect("a type").to_string();
                    prop_assert_eq!(sse.event.as_deref(), Some(kind.as_str()), "named by its type");
                    prop_assert!(!ended, "nothing follows the final event: {}", kind);
                    prop_assert_eq!(data["sequence_number"].as_u64(), Some(sequence));
                    sequence += 1;
                    if sequence == 1 {
                        prop_assert_eq!(kind.as_str(), "response.created");
                    }
                    let index = data["output_index"].as_u64();
                    match kind.as_str() {
                        "response.output_item.added" => {
                            prop_assert_eq!(index, Some(items), "items are added in order");
                            open.insert(items);
                            items += 1;
                        }
                        "response.output_item.done" => {
                            prop_assert!(open.remove(&index.unwrap_or(u64::MAX)), "done once, after added");
                        }
                        "response.completed" | "response.incomplete" | "response.failed" => {
                            ended = true;
                            if kind != "response.failed" {
                                prop_assert!(open.is_empty(), "every item is done first");
                                let output = data["response"]["output"].as_array().map_or(0, Vec::len);
                                prop_assert_eq!(output as u64, items, "the response holds every item");
                            }
                        }
                        _ if index.is_some() => {
                            prop_assert!(open.contains(&index.unwrap_or(u64::MAX)), "{} goes to an open item", kind);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// A Gemini chunk: some parts (text, thought, a call, a signature on either),
/// perhaps a finish reason or a blocked prompt.
fn gemini_chunk() -> impl Strategy<Value = crate::api::sse::SseEvent> {
    use serde_json::json;
    let part = prop_oneof![
        ".{0,4}".prop_map(|text| json!({"text": text})),
        ".{0,4}".prop_map(|text| json!({"text": text, "thought": true})),
        prop::option::of("[a-z]{1,3}")
            .prop_map(|id| json!({"functionCall": {"id": id, "name": "f", "args": {"a": 1}}})),
    ];
    let part = (part, any::<bool>()).prop_map(|(mut part, signed)| {
        if signed {
            part["thoughtSignature"] = json!("sig");
        }
        part
    });
    let finish = prop::option::of(prop::sample::select(vec![
        "STOP",
        "MAX_TOKENS",
        "SAFETY",
        "RECITATION",
        "MALFORMED_FUNCTION_CALL",
    ]));
    (prop::collection::vec(part, 0..3), finish, any::<bool>()).prop_map(
        |(parts, finish, blocked)| {
            let mut chunk = json!({"candidates": [{"content": {"role": "model", "parts": parts}}]});
            if let Some(finish) = finish {
                chunk["candidates"][0]["finishReason"] = json!(finish);
            } else if blocked {
                chunk = json!({"promptFeedback": {"blockReason": "SAFETY"}});
            }
            crate::api::sse::SseEvent {
                event: None,
                data: chunk.to_string(),
            }
        },
    )
}

/// A ConverseStream event: a block start, a delta of each kind, a block
/// stop, the message stop, the metadata, or an exception.
fn converse_event() -> impl Strategy<Value = crate::api::sse::SseEvent> {
    use serde_json::json;
    let index = 0u64..3;
    prop_oneof![
        index.clone().prop_map(|i| (
            "contentBlockStart",
            json!({"contentBlockIndex": i,
            "start": {"toolUse": {"toolUseId": "t", "name": "f"}}})
        )),
        (
            index.clone(),
            prop::sample::select(vec![
                json!({"text": "x"}),
                json!({"toolUse": {"input": "{"}}),
                json!({"reasoningContent": {"text": "r"}}),
                json!({"reasoningContent": {"signature": "s"}}),
            ])
        )
            .prop_map(|(i, delta)| (
                "contentBlockDelta",
                json!({"contentBlockIndex": i, "delta": delta})
            )),
        index.prop_map(|i| ("contentBlockStop", json!({"contentBlockIndex": i}))),
        Just(("messageStop", json!({"stopReason": "end_turn"}))),
        Just((
            "metadata",
            json!({"usage": {"inputTokens": 1, "outputTokens": 2}})
        )),
        Just(("throttlingException", json!({"message": "slow down"}))),
    ]
    .prop_map(|(name, data)| crate::api::sse::SseEvent {
        event: Some(name.into()),
        data: data.to_string(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn gemini_streams_decode_to_well_formed_blocks(
        chunks in prop::collection::vec(gemini_chunk(), 0..12),
    ) {
        let mut decoder = super::gemini::Decoder::default();
        let decoded: Vec<_> = chunks
            .into_iter()
            .flat_map(|e| super::StreamDecoder::decode(&mut decoder, e))
            .collect();
        check_blocks(&decoded)?;
    }

    #[test]
    fn converse_streams_decode_to_well_formed_blocks(
        events in prop::collection::vec(converse_event(), 0..24),
    ) {
        let mut decoder = super::converse::Decoder::default();
        let decoded: Vec<_> = events
            .into_iter()
            .flat_map(|e| super::StreamDecoder::decode(&mut decoder, e))
            .collect();
        check_blocks(&decoded)?;
    }
}
