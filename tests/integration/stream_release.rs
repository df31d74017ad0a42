//! Streams with response guardrails release text as soon as every plugin says
//! it is settled, and a secret, an address or an organisation rule's match
//! (a keyword, a regex) split at any byte across the stream's chunks still
//! never reaches the client: on Chat Completions,
//! Messages and Responses streams alike.
//!
//! The mock echoes the user's text back in 3-byte pieces; with the guardrails
//! on the response phase only, the text goes upstream as written, and padding
//! it by 0, 1 and 2 bytes puts a chunk boundary at every byte of the secret.

use crate::gateway::{self, Harness, KEY};
use serde_json::{Value, json};

/// `secrets`, `pii` and `org-rules` (a keyword rule and a regex rule, both
/// redacting) on responses.
const RESPONSE_GUARDRAILS: &str = r#"[[guardrails]]
plugin = "secrets"
phases = ["response"]

[[guardrails]]
plugin = "pii"
phases = ["response"]

[[guardrails]]
plugin = "org-rules"
phases = ["response"]
settings.rules = [
  { id = "codename", keywords = ["Project Falcon"], action = "redact", replacement = "[CODENAME]" },
  { id = "tickets", regex = '\bINC-\d{4,}\b', action = "redact", replacement = "[TICKET]" },
]
"#;

#[derive(Clone, Copy, Debug)]
enum Api {
    Chat,
    Messages,
    Responses,
}

const APIS: [Api; 3] = [Api::Chat, Api::Messages, Api::Responses];

/// Streams `text` back through the gateway on `api`; returns the pieces of
/// answer text the client received, in order.
async fn echo_stream(h: &Harness, api: Api, text: &str) -> Vec<String> {
    let (path, body) = match api {
        Api::Chat => (
            "/v1/chat/completions",
            json!({"model": "@oa/echo-last", "stream": true,
                   "messages": [{"role": "user", "content": text}]}),
        ),
        Api::Messages => (
            "/v1/messages",
            json!({"model": "@an/echo-last", "max_tokens": 100, "stream": true,
                   "messages": [{"role": "user", "content": text}]}),
        ),
        Api::Responses => (
            "/v1/responses",
            json!({"model": "@oa/echo-last", "stream": true, "input": text}),
        ),
    };
    let request = h.client.post(format!("{}{path}", h.base)).json(&body);
    let request = match api {
        Api::Messages => request
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01"),
        Api::Chat | Api::Responses => request.bearer_auth(KEY),
    };
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{api:?}");
    let stream = response.text().await.unwrap();
    stream
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|event| {
            let piece = match api {
                Api::Chat => event["choices"][0]["delta"]["content"].as_str(),
                Api::Messages => event["delta"]["text"].as_str(),
                Api::Responses if event["type"] == "response.output_text.delta" => {
                    event["delta"].as_str()
                }
                Api::Responses => None,
            };
            piece.map(str::to_string)
        })
        .filter(|piece| !piece.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_or_address_split_at_any_byte_never_reaches_the_client() {
    let h = gateway::start(RESPONSE_GUARDRAILS).await;
    let cases = [
        (
            "ghp_R8x2kP9qL4mN7vB1cZ6wT3yH5jD0fG2sA8eK",
            "[SECRET:github-pat_1]",
        ),
        (
            "sk-ant-api03-Zq8Xw2Lp9Rt4Vn7Mk1Bc6Hd3Fj5Gs0Ya8Ue2Io4Pq9Wr1Ts6Ly",
            "[SECRET:anthropic-api-key_1]",
        ),
        ("leak.person@corp-mail.com", "[EMAIL_1]"),
        ("Project Falcon", "[CODENAME_1]"),
        ("INC-20931", "[TICKET_1]"),
    ];
    for api in APIS {
        for (secret, placeholder) in cases {
            for pad in ["", "x", "xy"] {
                let text = format!("{pad} use {secret} for the deploy");
                let pieces = echo_stream(&h, api, &text).await;
                let answer = pieces.concat();
                assert_eq!(
                    answer,
                    format!("you said: {pad} use {placeholder} for the deploy"),
                    "{api:?}, padding {pad:?}"
                );
                for piece in &pieces {
                    for window in secret.as_bytes().windows(6) {
                        let window = std::str::from_utf8(window).unwrap();
                        assert!(
                            !piece.contains(window),
                            "{api:?}: {piece:?} leaks {window:?}"
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn text_before_a_possible_match_is_released_as_it_comes() {
    let h = gateway::start(RESPONSE_GUARDRAILS).await;
    let text = "the parser reads each line once and keeps the rest for later";
    for api in APIS {
        let pieces = echo_stream(&h, api, text).await;
        assert_eq!(pieces.concat(), format!("you said: {text}"), "{api:?}");
        // 3-byte pieces from upstream; with the whole answer held (512 bytes
        // of holdback) it would come as one piece at the end. Released word
        // by word, it comes in about as many pieces as it has words.
        let words = text.split(' ').count();
        assert!(
            pieces.len() >= words,
            "{api:?}: {} pieces: {pieces:?}",
            pieces.len()
        );
        assert!(
            pieces[0].len() < 16,
            "{api:?}: the first piece is sent before the answer ends: {pieces:?}"
        );
    }
}

/// The evaluation corpus (`eval/corpus.jsonl`: code, configs, logs, chat with
/// secrets and personal data), each text streamed in 1, 5 and 17-byte deltas
/// through the built-in guardrails: nothing that checking the whole text
/// redacts reaches the client, whatever the deltas.
#[test]
fn the_corpus_streamed_in_any_deltas_leaks_nothing_the_whole_text_redacts() {
    use sluice::config::Config;
    use sluice::guardrails::stream::{Release, StreamGuard};
    use sluice::guardrails::{Guardrails, StopAt};
    use sluice::sandbox::{Phase, Segment, SegmentKind};

    let corpus =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../eval/corpus.jsonl"))
            .expect("eval/corpus.jsonl");
    let config = Config::embedded_default();
    let sandbox = sluice::sandbox::Sandbox::new(None).unwrap();
    let guardrails = Guardrails::load(&sandbox, &config.guardrails).unwrap();
    let ctx = sluice::scan::scan_context(Phase::Response);
    let stream = |text: &str, delta: usize| -> String {
        let mut guard = StreamGuard::new(guardrails.clone(), ctx.clone(), None, Default::default());
        let mut out = String::new();
        let mut at = 0;
        while at < text.len() {
            let mut end = (at + delta).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            match guard.push("c", SegmentKind::Message, &text[at..end]) {
                Release::Text(released) => out.push_str(&released),
                Release::Block(_) => return out,
            }
            at = end;
        }
        match guard.finish("c") {
            Release::Text(released) => out.push_str(&released),
            Release::Block(_) => {}
        }
        out
    };
    // Every third text, and byte by byte every ninth, keeps the test to
    // seconds; all of them in every delta size pass too.
    for (i, line) in corpus.lines().enumerate().filter(|(i, _)| i % 3 == 0) {
        let doc: Value = serde_json::from_str(line).unwrap();
        let text = doc["text"].as_str().unwrap();
        let outcome = guardrails.check(&ctx, &[Segment::user("c", text)], StopAt::Never);
        let whole = outcome.redact(0, text);
        let deltas: &[usize] = if i % 9 == 0 { &[1, 5, 17] } else { &[5, 17] };
        for &delta in deltas {
            let streamed = stream(text, delta);
            for redaction in outcome.redactions(0) {
                let secret = &text[redaction.span.clone()];
                let width = secret.len().min(12);
                for from in 0..=secret.len() - width {
                    let Some(piece) = secret.get(from..from + width) else {
                        continue;
                    };
                    if width < 6 || piece.trim().len() < width {
                        continue;
                    }
                    assert!(
                        streamed.matches(piece).count() <= whole.matches(piece).count(),
                        "text {i} in {delta}-byte deltas: {piece:?} of a redacted {secret:?} reaches the client: {streamed}"
                    );
                }
            }
        }
    }
}
