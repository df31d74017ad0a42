//! Tokens used by one request, read from the provider's own usage data: the
//! `usage` object of a whole answer, or the usage events of a stream.
//!
//! The APIs count differently. OpenAI's `prompt_tokens` (Chat Completions)
//! and `input_tokens` (Responses) include the tokens read from the prompt
//! cache (`…_details.cached_tokens`); Anthropic's `input_tokens` exclude both
//! cache reads and cache writes. A [`Usage`] holds the four counts apart, so
//! each can be priced.

use crate::canonical::Dialect;
use crate::json_pointer::Pointer;
use serde_json::Value;

/// The tokens of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens not read from or written to the prompt cache.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write_tokens: u64,
}

fn count(value: &Value, pointer: &str) -> Option<u64> {
    value.at(pointer).and_then(Value::as_u64)
}

impl Usage {
    /// Every token, input (cached or not) and output.
    pub fn total(&self) -> u64 {
        self.all_input().saturating_add(self.output_tokens)
    }

    /// All input tokens, cached or not. Counts are a provider's word, so the
    /// sums saturate instead of overflowing on absurd ones.
    pub fn all_input(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }

    /// Reads the `usage` object of an answer (or stream event) in a
    /// `dialect`.
    pub fn from_usage_object(dialect: Dialect, usage: &Value) -> Option<Usage> {
        if !usage.is_object() {
            return None;
        }
        match dialect {
            Dialect::Chat => Some(Usage::openai(
                count(usage, "/prompt_tokens")?,
                count(usage, "/prompt_tokens_details/cached_tokens"),
                count(usage, "/completion_tokens"),
            )),
            Dialect::Responses => Some(Usage::openai(
                count(usage, "/input_tokens")?,
                count(usage, "/input_tokens_details/cached_tokens"),
                count(usage, "/output_tokens"),
            )),
            Dialect::Messages => Some(Usage {
                input_tokens: count(usage, "/input_tokens")?,
                output_tokens: count(usage, "/output_tokens").unwrap_or(0),
                cache_read_tokens: count(usage, "/cache_read_input_tokens").unwrap_or(0),
                cache_write_tokens: count(usage, "/cache_creation_input_tokens").unwrap_or(0),
            }),
            // Gemini's `usageMetadata`: the prompt count includes the cached
            // tokens; thinking tokens are billed as output.
            Dialect::Gemini => {
                let prompt = count(usage, "/promptTokenCount")?;
                let cached = count(usage, "/cachedContentTokenCount")
                    .unwrap_or(0)
                    .min(prompt);
                Some(Usage {
                    input_tokens: prompt - cached,
                    output_tokens: count(usage, "/candidatesTokenCount")
                        .unwrap_or(0)
                        .saturating_add(count(usage, "/thoughtsTokenCount").unwrap_or(0)),
                    cache_read_tokens: cached,
                    cache_write_tokens: 0,
                })
            }
            // Converse counts cache reads and writes apart, as Anthropic does.
            Dialect::Converse => Some(Usage {
                input_tokens: count(usage, "/inputTokens")?,
                output_tokens: count(usage, "/outputTokens").unwrap_or(0),
                cache_read_tokens: count(usage, "/cacheReadInputTokens").unwrap_or(0),
                cache_write_tokens: count(usage, "/cacheWriteInputTokens").unwrap_or(0),
            }),
        }
    }

    /// The field of an answer (or stream event) that holds its usage.
    pub fn field(dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Gemini => "usageMetadata",
            _ => "usage",
        }
    }

    /// OpenAI's counts: `input` includes the `cached` tokens.
    fn openai(input: u64, cached: Option<u64>, output: Option<u64>) -> Usage {
        let cached = cached.unwrap_or(0).min(input);
        Usage {
            input_tokens: input - cached,
            output_tokens: output.unwrap_or(0),
            cache_read_tokens: cached,
            cache_write_tokens: 0,
        }
    }

    /// Reads the usage of a whole (non-streamed) answer in a `dialect`.
    pub fn from_answer(dialect: Dialect, answer: &Value) -> Option<Usage> {
        Usage::from_usage_object(dialect, answer.get(Usage::field(dialect))?)
    }
}

/// Follows a stream in the provider's format and keeps the usage it reports.
///
/// Chat Completions sends usage in a last chunk (when
/// `stream_options.include_usage` is set, which the gateway asks for);
/// Gemini in every chunk (`usageMetadata`, the counts so far); Converse in
/// its last event (`metadata`);
/// Responses in the response of its last event. Anthropic sends input and cache counts in
/// `message_start` and the running output count in each `message_delta`; a
/// stream cut short still has its input counted.
#[derive(Debug, Clone)]
pub struct UsageMeter {
    dialect: Dialect,
    usage: Option<Usage>,
}

impl UsageMeter {
    /// A meter for a stream in a `dialect`.
    pub fn new(dialect: Dialect) -> Self {
        UsageMeter {
            dialect,
            usage: None,
        }
    }

    /// What the stream reported so far (`None`: nothing yet).
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Looks at one event's data.
    pub fn observe(&mut self, data: &str) {
        // Only events that mention usage are parsed a second time.
        if !data.contains(&format!("\"{}\"", Usage::field(self.dialect))) {
            return;
        }
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            return;
        };
        match self.dialect {
            // Each chunk (Gemini) or the last event (Converse's `metadata`)
            // carries the counts so far.
            Dialect::Chat | Dialect::Gemini | Dialect::Converse => {
                if let Some(usage) = event
                    .get(Usage::field(self.dialect))
                    .and_then(|u| Usage::from_usage_object(self.dialect, u))
                {
                    self.usage = Some(usage);
                }
            }
            Dialect::Responses => {
                if let Some(usage) = event
                    .at("/response/usage")
                    .and_then(|u| Usage::from_usage_object(Dialect::Responses, u))
                {
                    self.usage = Some(usage);
                }
            }
            Dialect::Messages => match event.get("type").and_then(Value::as_str) {
                Some("message_start") => {
                    if let Some(usage) = event
                        .at("/message/usage")
                        .and_then(|u| Usage::from_usage_object(Dialect::Messages, u))
                    {
                        self.usage = Some(usage);
                    }
                }
                Some("message_delta") => {
                    let usage = self.usage.get_or_insert_with(Usage::default);
                    let delta = &event["usage"];
                    if let Some(output) = count(delta, "/output_tokens") {
                        usage.output_tokens = output;
                    }
                    // Newer streams repeat the input counts here, cumulatively.
                    if let Some(input) = count(delta, "/input_tokens") {
                        usage.input_tokens = input;
                    }
                    if let Some(read) = count(delta, "/cache_read_input_tokens") {
                        usage.cache_read_tokens = read;
                    }
                    if let Some(write) = count(delta, "/cache_creation_input_tokens") {
                        usage.cache_write_tokens = write;
                    }
                }
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_cached_tokens_are_taken_out_of_the_input() {
        let answer = json!({"usage": {"prompt_tokens": 1000, "completion_tokens": 50,
            "prompt_tokens_details": {"cached_tokens": 800}}});
        assert_eq!(
            Usage::from_answer(Dialect::Chat, &answer),
            Some(Usage {
                input_tokens: 200,
                output_tokens: 50,
                cache_read_tokens: 800,
                cache_write_tokens: 0
            })
        );
    }

    #[test]
    fn gemini_counts_cached_prompt_tokens_as_reads_and_thoughts_as_output() {
        let answer = json!({"usageMetadata": {"promptTokenCount": 1000,
            "cachedContentTokenCount": 600, "candidatesTokenCount": 20,
            "thoughtsTokenCount": 80, "totalTokenCount": 1100}});
        assert_eq!(
            Usage::from_answer(Dialect::Gemini, &answer),
            Some(Usage {
                input_tokens: 400,
                output_tokens: 100,
                cache_read_tokens: 600,
                cache_write_tokens: 0
            })
        );
        let mut meter = UsageMeter::new(Dialect::Gemini);
        meter.observe(
            &json!({"candidates": [], "usageMetadata": {"promptTokenCount": 9}}).to_string(),
        );
        meter.observe(&answer.to_string());
        assert_eq!(meter.usage().map(|u| u.total()), Some(1100));
    }

    #[test]
    fn converse_streams_report_usage_in_their_metadata_event() {
        let mut meter = UsageMeter::new(Dialect::Converse);
        meter.observe(r#"{"contentBlockIndex":0,"delta":{"text":"usage"}}"#);
        assert_eq!(meter.usage(), None);
        meter.observe(r#"{"usage":{"inputTokens":12,"outputTokens":3,"cacheReadInputTokens":100,"totalTokens":115},"metrics":{"latencyMs":5}}"#);
        assert_eq!(
            meter.usage(),
            Some(Usage {
                input_tokens: 12,
                output_tokens: 3,
                cache_read_tokens: 100,
                cache_write_tokens: 0
            })
        );
    }

    #[test]
    fn anthropic_counts_cache_reads_and_writes_apart() {
        let answer = json!({"usage": {"input_tokens": 10, "output_tokens": 5,
            "cache_read_input_tokens": 300, "cache_creation_input_tokens": 40}});
        let usage = Usage::from_answer(Dialect::Messages, &answer).unwrap();
        assert_eq!(usage.total(), 355);
        assert_eq!(usage.all_input(), 350);
    }

    #[test]
    fn an_answer_without_usage_has_none() {
        assert_eq!(
            Usage::from_answer(Dialect::Chat, &json!({"choices": []})),
            None
        );
        assert_eq!(
            Usage::from_answer(Dialect::Messages, &json!({"usage": null})),
            None
        );
    }

    #[test]
    fn responses_count_cached_input_apart_whole_and_streamed() {
        let usage = json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60},
                           "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 5}});
        let expected = Usage {
            input_tokens: 40,
            output_tokens: 7,
            cache_read_tokens: 60,
            cache_write_tokens: 0,
        };
        let answer = json!({"object": "response", "usage": usage});
        assert_eq!(
            Usage::from_answer(Dialect::Responses, &answer),
            Some(expected)
        );
        let mut meter = UsageMeter::new(Dialect::Responses);
        meter.observe(r#"{"type":"response.created","response":{"usage":null}}"#);
        assert_eq!(meter.usage(), None);
        let completed = json!({"type": "response.completed", "response": {"usage": usage}});
        meter.observe(&completed.to_string());
        assert_eq!(meter.usage(), Some(expected));
    }

    #[test]
    fn openai_streams_report_usage_in_the_last_chunk() {
        let mut meter = UsageMeter::new(Dialect::Chat);
        meter.observe(r#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#);
        assert_eq!(meter.usage(), None);
        meter.observe(r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#);
        assert_eq!(meter.usage().map(|u| u.total()), Some(10));
    }

    #[test]
    fn anthropic_streams_add_output_to_the_input_of_message_start() {
        let mut meter = UsageMeter::new(Dialect::Messages);
        meter.observe(
            r#"{"type":"message_start","message":{"usage":{"input_tokens":12,"output_tokens":1,"cache_read_input_tokens":100}}}"#,
        );
        assert_eq!(meter.usage().unwrap().input_tokens, 12);
        meter.observe(r#"{"type":"message_delta","delta":{},"usage":{"output_tokens":40}}"#);
        let usage = meter.usage().unwrap();
        assert_eq!(
            (
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens
            ),
            (12, 40, 100)
        );
    }
}
