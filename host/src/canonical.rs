//! The canonical model of a chat request, its answer and its stream: what every
//! client API (Chat Completions, Messages, and any added later) means, in one
//! set of plain types.
//!
//! A [`crate::codec`] per API decodes that API's bodies to these types and
//! encodes them back, so a client on another API's provider costs one decode
//! and one encode, and a new API costs one codec rather than a translator to
//! and from every other API.
//!
//! - [`Request`]: the system prompt, [`Turn`]s of [`Part`]s (text, image, tool
//!   call, tool result, thinking), [`Tool`]s, [`ToolChoice`], sampling, limits,
//!   and the [`Extras`] only the client's API knows.
//! - [`Answer`]: the parts of a whole answer, its [`StopReason`] and [`Usage`].
//! - [`Event`]: a stream as a small set of events (start, block start, deltas,
//!   block stop, usage, finish, end, error).
//!
//! The types are data only; what an API cannot say is the codec's business
//! (each codec's docs list what it drops).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// A chat request, whichever API it came in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The model asked for.
    pub model: String,
    /// System (and developer) instructions, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<String>,
    /// The conversation.
    pub turns: Vec<Turn>,
    /// The tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Which tool the model must (or may not) call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether the model may call several tools at once (unset: the API's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// The most tokens the answer may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Sampling temperature, as the client wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    /// Nucleus sampling, as the client wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    /// Texts that end the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Whether the answer is streamed.
    #[serde(default)]
    pub stream: bool,
    /// The end user, for the provider's abuse monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Where the client asked the provider to cache the prompt up to
    /// (Anthropic's `cache_control`, which some Chat Completions clients put
    /// on content parts too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_points: Vec<CachePoint>,
    /// Fields the model above does not cover, kept for the API they came in.
    #[serde(default, skip_serializing_if = "Extras::is_empty")]
    pub extras: Extras,
}

/// A prompt-cache breakpoint: the end of a system text or of a part, and the
/// marker as the client wrote it (`{"type": "ephemeral"}`, maybe a `ttl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachePoint {
    /// Where the cached prefix ends.
    pub at: CacheAt,
    /// The marker.
    pub control: Value,
}

/// The end of a cached prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheAt {
    /// The system text at this index of [`Request::system`].
    System(usize),
    /// Part `part` of turn `turn`.
    Part {
        /// The turn's index.
        turn: usize,
        /// The part's index in it.
        part: usize,
    },
}

impl Request {
    /// The cache marker at `at`, if the client set one.
    pub fn cache_control(&self, at: CacheAt) -> Option<&Value> {
        self.cache_points
            .iter()
            .find(|point| point.at == at)
            .map(|point| &point.control)
    }
}

/// The APIs a codec exists for: client APIs, and the clouds' own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// OpenAI Chat Completions.
    Chat,
    /// Anthropic Messages.
    Messages,
    /// OpenAI Responses.
    Responses,
    /// Google Gemini `generateContent` (the Gemini API, and Gemini on Vertex AI).
    Gemini,
    /// Amazon Bedrock Converse.
    Converse,
}

/// Top-level fields only one API knows (OpenAI `n`, `seed`, `response_format`;
/// Anthropic `top_k`, `thinking`, …). They go back out when the request is
/// encoded for the API they came in, and are dropped for another: no other API
/// has a field that means the same.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extras {
    /// The API the fields belong to.
    pub dialect: Option<Dialect>,
    /// The fields, as sent.
    pub fields: Map<String, Value>,
}

impl Extras {
    /// The top-level fields of `body` (in `dialect`) that are not `known`.
    pub fn unknown(dialect: Dialect, body: &Value, known: &[&str]) -> Extras {
        Extras {
            dialect: Some(dialect),
            fields: body
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(key, _)| !known.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        }
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields, when encoding for `dialect`.
    pub fn for_dialect(&self, dialect: Dialect) -> impl Iterator<Item = (&String, &Value)> {
        (self.dialect == Some(dialect))
            .then_some(&self.fields)
            .into_iter()
            .flatten()
    }
}

/// Who speaks a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The user, and tool results sent back for the model.
    User,
    /// The model.
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Who speaks.
    pub role: Role,
    /// What the turn holds, in order.
    pub parts: Vec<Part>,
}

/// One piece of a turn or an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image the user shows.
    Image {
        /// Where the image is.
        source: ImageSource,
    },
    /// A call of a tool by the model.
    ToolCall {
        /// The call's id, which its result names.
        id: String,
        /// The tool's name.
        name: String,
        /// The arguments.
        arguments: Arguments,
    },
    /// The result of a tool call.
    ToolResult {
        /// The id of the call.
        call_id: String,
        /// The result, as text.
        content: String,
        /// Whether the tool failed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    /// The model's reasoning.
    Thinking {
        /// The reasoning text.
        text: String,
        /// The provider's signature over it, which must come back unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// The model declining to answer (an answer part only).
    Refusal {
        /// Why.
        text: String,
    },
}

/// A tool call's arguments, as its API carried them (so that one API's body
/// through its own codec is not re-serialized).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arguments {
    /// JSON text (Chat Completions), as the model wrote it, even when it is
    /// not valid JSON.
    Text(String),
    /// A JSON value (Messages).
    Json(Value),
}

impl Arguments {
    /// The arguments as JSON text (`{}` when there are none).
    pub fn to_text(&self) -> String {
        match self {
            Arguments::Text(text) if text.is_empty() => "{}".into(),
            Arguments::Text(text) => text.clone(),
            Arguments::Json(Value::Null) => "{}".into(),
            Arguments::Json(value) => value.to_string(),
        }
    }

    /// The arguments as a JSON value (`{}` when there are none). Text that is
    /// not a JSON object is kept, under `_raw`, rather than lost.
    pub fn to_json(&self) -> Value {
        match self {
            Arguments::Json(Value::Null) => Value::Object(Map::new()),
            Arguments::Json(value) => value.clone(),
            Arguments::Text(text) if text.trim().is_empty() => Value::Object(Map::new()),
            Arguments::Text(text) => match serde_json::from_str::<Value>(text) {
                Ok(value @ Value::Object(_)) => value,
                _ => serde_json::json!({ "_raw": text }),
            },
        }
    }
}

/// Where an image is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageSource {
    /// Inline bytes.
    Base64 {
        /// The MIME type, such as `image/png`.
        media_type: String,
        /// The bytes, base64-encoded.
        data: String,
    },
    /// An address to fetch.
    Url {
        /// The address.
        url: String,
    },
}

impl ImageSource {
    /// The image at `url`: inline bytes when it is a `data:` URL.
    pub fn from_url(url: &str) -> ImageSource {
        match url
            .strip_prefix("data:")
            .and_then(|rest| rest.split_once(";base64,"))
        {
            Some((media_type, data)) => ImageSource::Base64 {
                media_type: media_type.into(),
                data: data.into(),
            },
            None => ImageSource::Url { url: url.into() },
        }
    }

    /// The image as a URL (a `data:` URL for inline bytes).
    pub fn to_url(&self) -> String {
        match self {
            ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
            ImageSource::Url { url } => url.clone(),
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Its name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of its arguments.
    pub parameters: Value,
}

/// Which tool the model calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// The model calls some tool.
    Any,
    /// The model calls no tool.
    None,
    /// The model calls this tool.
    Tool {
        /// The tool's name.
        name: String,
    },
}

/// A whole answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The provider's id for it.
    pub id: String,
    /// The model that answered.
    pub model: String,
    /// What it said, in order.
    pub parts: Vec<Part>,
    /// Why it stopped.
    pub stop: StopReason,
    /// The stop sequence that ended it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequence: Option<String>,
    /// Tokens counted.
    pub usage: Usage,
}

impl Answer {
    /// Whether it holds a refusal.
    pub fn refused(&self) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, Part::Refusal { .. }))
    }
}

/// Why an answer ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model was done.
    #[default]
    EndTurn,
    /// The token limit was reached.
    MaxTokens,
    /// The model is waiting for tool results.
    ToolUse,
    /// A stop sequence was written.
    StopSequence,
    /// The model (or the provider's filter) refused.
    Refusal,
    /// A reason only the provider's API has, by its name there.
    Other(String),
}

/// Tokens counted; a count the provider did not report is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens, other than those below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<u64>,
    /// Output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<u64>,
    /// Input tokens read from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<u64>,
    /// Input tokens written to the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<u64>,
}

impl Usage {
    /// Every input token, cached or not. Counts are a provider's word, so the
    /// sum saturates instead of overflowing on absurd ones.
    pub fn total_input(&self) -> u64 {
        self.input
            .unwrap_or(0)
            .saturating_add(self.cache_read.unwrap_or(0))
            .saturating_add(self.cache_write.unwrap_or(0))
    }

    /// Every token, input (cached or not) and output; saturating, as
    /// [`Usage::total_input`].
    pub fn total(&self) -> u64 {
        self.total_input().saturating_add(self.output.unwrap_or(0))
    }

    /// This usage with the counts `later` reports replacing these.
    pub fn merge(&mut self, later: Usage) {
        self.input = later.input.or(self.input);
        self.output = later.output.or(self.output);
        self.cache_read = later.cache_read.or(self.cache_read);
        self.cache_write = later.cache_write.or(self.cache_write);
    }
}

/// What kind of content block a stream opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockKind {
    /// Text.
    Text,
    /// Reasoning.
    Thinking,
    /// A tool call; its arguments follow as [`Event::ToolArgumentsDelta`].
    ToolCall {
        /// The call's id.
        id: String,
        /// The tool's name.
        name: String,
    },
}

/// One event of a streamed answer. Content comes in numbered blocks: a block
/// starts, takes deltas and stops; blocks do not overlap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The answer begins.
    Start {
        /// The provider's id for it.
        id: String,
        /// The model answering.
        model: String,
        /// Tokens counted so far (input, usually).
        usage: Usage,
    },
    /// A content block begins.
    BlockStart {
        /// The block's number, from 0.
        index: u64,
        /// What it holds.
        kind: BlockKind,
    },
    /// More text.
    TextDelta {
        /// The block.
        index: u64,
        /// The text.
        text: String,
    },
    /// More reasoning.
    ThinkingDelta {
        /// The block.
        index: u64,
        /// The text.
        text: String,
    },
    /// The signature of a thinking block.
    SignatureDelta {
        /// The block.
        index: u64,
        /// The signature.
        signature: String,
    },
    /// More of a tool call's arguments (JSON text, cut anywhere).
    ToolArgumentsDelta {
        /// The block.
        index: u64,
        /// The text.
        json: String,
    },
    /// A content block ends.
    BlockStop {
        /// The block.
        index: u64,
    },
    /// Token counts (each replacing an earlier one).
    Usage(Usage),
    /// Why the answer stopped (after its last block).
    Finish {
        /// The reason.
        stop: StopReason,
    },
    /// The stream ends.
    End,
    /// The provider reported an error.
    Error {
        /// Its message.
        message: String,
    },
    /// Provider bytes that are not an event of its API (not JSON); they go to
    /// the client unchanged, for the pipeline to report as malformed.
    Unparsed {
        /// The event's name.
        event: Option<String>,
        /// The event's data.
        data: String,
    },
}

/// The message a stream error has when the provider gives none.
pub const DEFAULT_ERROR: &str = "the provider reported an error";
