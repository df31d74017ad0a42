//! Every client API on every kind of provider: Chat Completions, Messages and
//! Responses clients on an OpenAI target (Chat Completions and Responses),
//! an OpenAI model served only on Responses, an OpenAI-compatible server and
//! Anthropic; streamed and not. Each pair checks the upstream got the request
//! in the provider's own API with the address redacted (request guardrails
//! ran on the way in), and the client got its answer in its own API.

use crate::gateway::{self, Harness, KEY};
use serde_json::{Value, json};

const PII: &str = "[[guardrails]]\nplugin = \"pii\"\n";

/// A client API: its path and a request of it saying `text` to `model`.
#[derive(Debug, Clone, Copy)]
pub enum Client {
    Chat,
    Messages,
    Responses,
}

impl Client {
    pub fn path(self) -> &'static str {
        match self {
            Client::Chat => "/v1/chat/completions",
            Client::Messages => "/v1/messages",
            Client::Responses => "/v1/responses",
        }
    }

    pub fn request(self, model: &str, text: &str, stream: bool) -> Value {
        match self {
            Client::Chat => json!({"model": model, "stream": stream,
                "messages": [{"role": "user", "content": text}]}),
            Client::Messages => json!({"model": model, "stream": stream, "max_tokens": 50,
                "messages": [{"role": "user", "content": text}]}),
            Client::Responses => json!({"model": model, "stream": stream, "input": text}),
        }
    }

    /// The answer's text, from a whole answer or the deltas of a stream.
    pub fn text(self, body: &str, stream: bool) -> String {
        if !stream {
            let answer: Value = serde_json::from_str(body).unwrap();
            let text = match self {
                Client::Chat => &answer["choices"][0]["message"]["content"],
                Client::Messages => &answer["content"][0]["text"],
                Client::Responses => &answer["output"][0]["content"][0]["text"],
            };
            return text.as_str().unwrap_or_default().to_string();
        }
        body.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|e| match self {
                Client::Chat => e["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(String::from),
                Client::Messages => e["delta"]["text"].as_str().map(String::from),
                Client::Responses => (e["type"] == "response.output_text.delta")
                    .then(|| e["delta"].as_str().unwrap_or_default().to_string()),
            })
            .collect()
    }
}

/// Posts `body` in `client`'s API with the gateway key: the status and body.
pub async fn call(h: &Harness, client: Client, body: &Value) -> (u16, String) {
    let response = h
        .client
        .post(format!("{}{}", h.base, client.path()))
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn every_client_api_works_on_every_provider_kind() {
    let h = gateway::start(PII).await;
    // (target, the upstream path each client's request must arrive at)
    let targets: [(&str, [&str; 3]); 4] = [
        (
            "@oa/echo-last",
            [
                "/v1/chat/completions",
                "/v1/chat/completions",
                "/v1/responses",
            ],
        ),
        (
            "@oa/o3-pro-echo",
            ["/v1/responses", "/v1/responses", "/v1/responses"],
        ),
        (
            "@oc/echo-last",
            [
                "/v1/chat/completions",
                "/v1/chat/completions",
                "/v1/chat/completions",
            ],
        ),
        (
            "@an/echo-last",
            ["/v1/messages", "/v1/messages", "/v1/messages"],
        ),
    ];
    for (model, paths) in targets {
        for (client, path) in [Client::Chat, Client::Messages, Client::Responses]
            .into_iter()
            .zip(paths)
        {
            for stream in [false, true] {
                let pair = format!("{client:?} on {model}, stream {stream}");
                let body = client.request(model, "mail jane.doe@example.com", stream);
                let (status, answer) = call(&h, client, &body).await;
                assert_eq!(status, 200, "{pair}: {answer}");
                let received = h.mock.last();
                assert_eq!(received.path, path, "{pair}");
                let sent = received.body.to_string();
                assert!(!sent.contains("jane.doe@example.com"), "{pair}: {sent}");
                assert!(sent.contains("[EMAIL_1]"), "{pair}: {sent}");
                assert_eq!(
                    client.text(&answer, stream),
                    "you said: mail [EMAIL_1]",
                    "{pair}: {answer}"
                );
            }
        }
    }
}
