//! `POST /v1/responses` (OpenAI's Responses API, what Codex CLI speaks) through
//! the chat phases: guardrails on what goes upstream and what comes back,
//! governance, passed through to an OpenAI target (built-in tools and stored
//! conversations included), translated to a Messages target, streams guarded
//! event by event. The official SDK's view is `sdk::the_openai_python_sdks_responses_api_works`.

use crate::gateway::{self, Harness, KEY};
use crate::mock_upstream::LEAKED_EMAIL;
use serde_json::{Value, json};

const PII: &str = "[[guardrails]]\nplugin = \"pii\"\n";

async fn respond(h: &Harness, body: Value) -> (u16, String) {
    let response = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The `data` of each event of a stream, with its type.
fn events(stream: &str) -> Vec<Value> {
    stream
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

#[tokio::test]
async fn a_responses_call_passes_the_guardrails_both_ways_on_either_api() {
    let h = gateway::start(PII).await;
    for model in ["@oa/echo-last", "@an/echo-last"] {
        let (status, body) = respond(
            &h,
            json!({"model": model, "instructions": "Be brief.", "input": "mail jane.doe@example.com"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let response: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(response["object"], "response", "{body}");
        assert_eq!(response["status"], "completed", "{body}");
        let text = &response["output"][0]["content"][0]["text"];
        assert_eq!(text, "you said: mail [EMAIL_1]", "{model}: {body}");
        assert_eq!(response["usage"]["total_tokens"], 15, "{body}");
        let sent = h.mock.last().body.to_string();
        assert!(!sent.contains("jane.doe@example.com"), "{sent}");
        assert!(
            sent.contains("Be brief."),
            "instructions go upstream: {sent}"
        );
    }
    // a leaking answer, streamed: redacted, in Responses events
    for model in ["@oa/leak-email", "@an/leak-email"] {
        let (status, body) =
            respond(&h, json!({"model": model, "input": "hi", "stream": true})).await;
        assert_eq!(status, 200);
        assert!(!body.contains(LEAKED_EMAIL), "{body}");
        let events = events(&body);
        assert_eq!(events[0]["type"], "response.created", "{body}");
        let text: String = events
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .filter_map(|e| e["delta"].as_str())
            .collect();
        assert_eq!(
            text, "Sure. You can reach me at [EMAIL_1] any time.",
            "{model}"
        );
        let last = events.last().unwrap();
        assert_eq!(last["type"], "response.completed", "{body}");
        assert_eq!(last["response"]["usage"]["total_tokens"], 15, "{body}");
        let numbers: Vec<u64> = events
            .iter()
            .filter_map(|e| e["sequence_number"].as_u64())
            .collect();
        assert_eq!(numbers.len(), events.len(), "every event is numbered");
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    }
}

#[tokio::test]
async fn responses_calls_are_governed_and_refuse_what_no_target_runs() {
    let extra = format!(
        "{PII}\n[[rate_limits]]\nid = \"two\"\nkey = \"*\"\nper = \"minute\"\nrequests = 2\n"
    );
    let h = gateway::start(&extra).await;
    crate::support::clear_of_a_minute_edge().await;
    for refused in [
        json!({"model": "@an/echo-last", "input": "hi", "tools": [{"type": "web_search"}]}),
        json!({"model": "@an/echo-last", "input": "hi", "previous_response_id": "resp_1"}),
    ] {
        let (status, body) = respond(&h, refused).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains("web_search") || body.contains("previous_response_id"),
            "{body}"
        );
    }
    assert!(h.mock.received().is_empty());
    let mut refused = 0;
    for _ in 0..6 {
        let (status, _) = respond(&h, json!({"model": "@oa/echo-last", "input": "hi"})).await;
        refused += u32::from(status == 429);
    }
    assert!(refused >= 2, "only {refused} of 6 were refused");
    // a key without a scope for the model is refused like on chat
    let response = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .json(&json!({"model": "@oa/echo-last", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

/// A streamed answer with text and then a tool call, with response guardrails
/// holding text back: the text arrives as one message, before the call (not
/// its held-back tail flushed after the call as a second message).
#[tokio::test]
async fn streamed_text_then_a_tool_call_stay_one_message_and_one_call() {
    let h = gateway::start(PII).await;
    let tools =
        json!([{"type": "function", "name": "send_mail", "parameters": {"type": "object"}}]);
    for model in ["@an/tool-call", "@oa/tool-call"] {
        let (status, body) = respond(
            &h,
            json!({"model": model, "input": "mail bob", "tools": tools, "stream": true}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let events = events(&body);
        let completed = events.last().unwrap();
        assert_eq!(completed["type"], "response.completed", "{body}");
        let kinds: Vec<&str> = completed["response"]["output"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|item| item["type"].as_str())
            .filter(|kind| *kind != "reasoning")
            .collect();
        let expected: &[&str] = if model.starts_with("@an") {
            &["message", "function_call"]
        } else {
            &["function_call"]
        };
        assert_eq!(kinds, expected, "{model}: {body}");
        let arguments = events
            .iter()
            .find(|e| e["type"] == "response.function_call_arguments.done")
            .map(|e| e["arguments"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        let arguments: Value = serde_json::from_str(&arguments).unwrap();
        assert_eq!(arguments["to"], "[EMAIL_1]", "{model}");
    }
}

/// On an OpenAI target the Responses body goes upstream as it came (to
/// `/v1/responses`), with what only OpenAI runs: built-in tools and
/// `previous_response_id`. The guardrails still check the input, the
/// built-in tool's item and the answer, whole and streamed.
#[tokio::test]
async fn openai_targets_get_responses_as_they_are_with_built_in_tools() {
    let h = gateway::start(PII).await;
    for stream in [false, true] {
        let request = json!({"model": "@oa/web-search", "input": "who is jane.doe@example.com",
            "tools": [{"type": "web_search"}], "include": ["web_search_call.action.sources"],
            "previous_response_id": "resp_earlier", "store": true, "stream": stream});
        let (status, body) = respond(&h, request).await;
        assert_eq!(status, 200, "{body}");
        let received = h.mock.last();
        assert_eq!(received.path, "/v1/responses");
        assert_eq!(received.body["tools"], json!([{"type": "web_search"}]));
        assert_eq!(received.body["previous_response_id"], "resp_earlier");
        assert_eq!(
            received.body["include"],
            json!(["web_search_call.action.sources"])
        );
        assert_eq!(
            received.body["input"], "who is [EMAIL_1]",
            "the input is checked"
        );
        assert!(!body.contains("jane.doe@example.com"), "{body}");
        let response = if stream {
            let events = events(&body);
            assert!(
                events
                    .iter()
                    .any(|e| e["type"] == "response.web_search_call.completed"),
                "{body}"
            );
            events.last().unwrap()["response"].clone()
        } else {
            serde_json::from_str(&body).unwrap()
        };
        assert_eq!(response["output"][0]["type"], "web_search_call", "{body}");
        assert_eq!(
            response["output"][1]["content"][0]["text"],
            "Found it (example.org)."
        );
        assert_eq!(
            response["output"][1]["content"][0]["annotations"][0]["url"],
            "https://example.org/"
        );
    }
}

/// Text that a Responses stream carries only where it repeats itself (no
/// deltas), and text in a built-in tool's item, are checked too: the
/// address reaches the client nowhere, streamed or whole.
#[tokio::test]
async fn every_text_of_a_responses_answer_is_checked() {
    let h = gateway::start(PII).await;
    for stream in [false, true] {
        let (status, body) = respond(
            &h,
            json!({"model": "@oa/leak-everywhere", "input": "search", "stream": stream,
                   "tools": [{"type": "web_search"}]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains(LEAKED_EMAIL), "stream {stream}: {body}");
        assert!(body.contains("It is [EMAIL_1]."), "stream {stream}: {body}");
        assert!(body.contains("who is [EMAIL_1]"), "stream {stream}: {body}");
    }
}

/// A conversation on a target that does not store it (Anthropic): sluice
/// keeps each answer under an id of its own, continues it from
/// `previous_response_id` (the earlier turns go upstream again, checked:
/// redacted), serves it at `GET /v1/responses/{id}` to its key only, and
/// forgets it on `DELETE`; `store: false` keeps nothing.
#[tokio::test]
async fn sluice_keeps_conversations_for_targets_that_do_not() {
    const OTHER_KEY: &str = "gw-key-team-b-9876543210";
    let extra = format!("{PII}\n[[keys]]\nid = \"team-b\"\nkey = \"{OTHER_KEY}\"\n");
    let h = gateway::start(&extra).await;
    let (status, body) = respond(
        &h,
        json!({"model": "@an/echo-last", "input": "I am jane.doe@example.com"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let first: Value = serde_json::from_str(&body).unwrap();
    let first_id = first["id"].as_str().unwrap().to_string();
    assert!(
        first_id.starts_with("resp_") && first_id.len() > 20,
        "{first_id}"
    );
    // continued, streamed
    let (status, body) = respond(
        &h,
        json!({"model": "@an/echo-last", "input": "and again", "stream": true,
               "previous_response_id": first_id}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sent = h.mock.last().body;
    let turns = sent["messages"].as_array().unwrap();
    assert_eq!(
        turns.len(),
        3,
        "the first turn, its answer, the new input: {sent}"
    );
    assert_eq!(turns[1]["role"], "assistant");
    assert!(!sent.to_string().contains("jane.doe@example.com"), "{sent}");
    assert!(sent.to_string().contains("I am [EMAIL_1]"), "{sent}");
    let completed = events(&body).pop().unwrap();
    assert_eq!(completed["type"], "response.completed", "{body}");
    let second_id = completed["response"]["id"].as_str().unwrap().to_string();
    assert_ne!(second_id, first_id);
    // read back, by its key only
    let get = |id: &str, key: &str| {
        h.client
            .get(format!("{}/v1/responses/{id}", h.base))
            .bearer_auth(key)
            .send()
    };
    let response = get(&second_id, KEY).await.unwrap();
    assert_eq!(response.status(), 200);
    let stored: Value = response.json().await.unwrap();
    assert_eq!(stored["id"], second_id, "{stored}");
    let message = stored["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "message")
        .unwrap();
    assert_eq!(
        message["content"][0]["text"], "you said: and again",
        "{stored}"
    );
    let response = get(&second_id, OTHER_KEY).await.unwrap();
    assert_eq!(
        response.status(),
        404,
        "another key's responses do not exist for it"
    );
    // its input items: the whole conversation it answered, as checked
    let items = |key: &str, query: &str| {
        h.client
            .get(format!(
                "{}/v1/responses/{second_id}/input_items?{query}",
                h.base
            ))
            .bearer_auth(key)
            .send()
    };
    let response = items(KEY, "order=asc").await.unwrap();
    assert_eq!(response.status(), 200);
    let list: Value = response.json().await.unwrap();
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "{list}");
    assert_eq!(data[0]["content"][0]["text"], "I am [EMAIL_1]", "{list}");
    assert_eq!(data[2]["content"][0]["text"], "and again", "{list}");
    assert!(data.iter().all(|item| item["id"].is_string()), "{list}");
    assert_eq!(list["has_more"], false);
    assert_eq!(items(OTHER_KEY, "").await.unwrap().status(), 404);
    let bad = items(KEY, "limit=0").await.unwrap();
    assert_eq!(bad.status(), 400);
    let (status, body) = {
        let response = h
            .client
            .post(format!("{}/v1/responses", h.base))
            .bearer_auth(OTHER_KEY)
            .json(
                &json!({"model": "@an/echo-last", "input": "x", "previous_response_id": second_id}),
            )
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(status, 400, "nor can it continue them: {body}");
    // forgotten
    let deleted = h
        .client
        .delete(format!("{}/v1/responses/{second_id}", h.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let deleted: Value = deleted.json().await.unwrap();
    assert_eq!(deleted["deleted"], true);
    assert_eq!(get(&second_id, KEY).await.unwrap().status(), 404);
    // store: false keeps nothing
    let (_, body) = respond(
        &h,
        json!({"model": "@an/echo-last", "input": "forget me", "store": false}),
    )
    .await;
    let unkept: Value = serde_json::from_str(&body).unwrap();
    let id = unkept["id"].as_str().unwrap();
    assert_eq!(get(id, KEY).await.unwrap().status(), 404);
}
