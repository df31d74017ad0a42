//! Errors as the caller's API spells them.
//!
//! An [`ApiError`] knows what went wrong (its [`ErrorKind`], message and extra
//! headers) but not which wire format it will be sent in: the phases that make
//! one never pick the client's API. Only the edges render it, with the API of
//! the request they serve ([`ApiError::render`], [`ApiError::body`],
//! [`ApiError::sse_event`]): the pipeline entry points (`pipeline::chat`'s
//! envelope, `pipeline::forward`, `pipeline::responses`), the route handlers
//! and layers of [`crate::api`] (admin, models, panics, header limits, the
//! keyless guard, the 404/405 fallbacks) and the stream transformer's error
//! events. `ApiError` does not implement `IntoResponse`, so no error reaches a
//! client unrendered.
//!
//! OpenAI clients (Chat Completions and Responses) get `{"error": {"message", "type", "param", "code"}}`;
//! Anthropic clients get `{"type": "error", "error": {"type", "message"}}`. The
//! status codes follow each API, so the official SDKs raise the right exception
//! and retry only what is worth retrying (a guardrail block is a 400: never retried).

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which wire API a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// OpenAI Responses (errors in OpenAI's format).
    Responses,
}

impl Api {
    /// The dialect its chat bodies are in.
    pub fn dialect(self) -> crate::canonical::Dialect {
        match self {
            Api::OpenAi => crate::canonical::Dialect::Chat,
            Api::Anthropic => crate::canonical::Dialect::Messages,
            Api::Responses => crate::canonical::Dialect::Responses,
        }
    }

    /// The name given to guardrails in their context, and to metrics and
    /// the request log.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
            Api::Responses => "responses",
        }
    }
}

/// The kind of an error, which decides its status and type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed JSON, wrong types, missing fields, unknown model (400).
    InvalidRequest,
    /// A guardrail refused the content (400, code `content_blocked`).
    Blocked,
    /// Missing or wrong gateway key (401).
    Authentication,
    /// The key may not use this model or provider (403).
    Permission,
    /// An unknown route (404).
    NotFound,
    /// A known route called with another method (405).
    MethodNotAllowed,
    /// A body in a format the gateway does not take (415).
    UnsupportedMediaType,
    /// The request's headers are over the limit (431).
    HeadersTooLarge,
    /// The body is over the configured limit (413).
    TooLarge,
    /// Too many requests (429): a provider's answer, or a gateway rate limit.
    RateLimited,
    /// A gateway budget is spent (402): not worth retrying until it resets.
    BudgetExceeded,
    /// A part the gateway needs (its shared state store) is down (503).
    Unavailable,
    /// The upstream could not be reached or answered nonsense (502).
    BadGateway,
    /// The upstream did not answer in time (504).
    Timeout,
    /// Something broke inside sluice (500).
    Internal,
}

impl ErrorKind {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::Blocked => StatusCode::BAD_REQUEST,
            ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
            ErrorKind::Permission => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::BudgetExceeded => StatusCode::PAYMENT_REQUIRED,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::BadGateway => StatusCode::BAD_GATEWAY,
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short, fixed name for metrics and the request log.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Blocked => "blocked",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Permission => "permission",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::HeadersTooLarge => "headers_too_large",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::BudgetExceeded => "budget_exceeded",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::BadGateway => "bad_gateway",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal",
        }
    }

    fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::Blocked
            | ErrorKind::NotFound
            | ErrorKind::MethodNotAllowed
            | ErrorKind::UnsupportedMediaType
            | ErrorKind::HeadersTooLarge
            | ErrorKind::TooLarge => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::BudgetExceeded => "insufficient_quota",
            ErrorKind::BadGateway
            | ErrorKind::Timeout
            | ErrorKind::Internal
            | ErrorKind::Unavailable => "api_error",
        }
    }

    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::Blocked
            | ErrorKind::MethodNotAllowed
            | ErrorKind::UnsupportedMediaType
            | ErrorKind::HeadersTooLarge => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::TooLarge => "request_too_large",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::BudgetExceeded => "billing_error",
            ErrorKind::BadGateway
            | ErrorKind::Timeout
            | ErrorKind::Internal
            | ErrorKind::Unavailable => "api_error",
        }
    }

    /// The kind that best describes a provider's answer with `status`.
    pub fn for_status(status: StatusCode) -> ErrorKind {
        match status.as_u16() {
            401 => ErrorKind::Authentication,
            402 => ErrorKind::BudgetExceeded,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            413 => ErrorKind::TooLarge,
            429 => ErrorKind::RateLimited,
            400..=499 => ErrorKind::InvalidRequest,
            504 => ErrorKind::Timeout,
            _ => ErrorKind::BadGateway,
        }
    }

    fn code(self) -> Option<&'static str> {
        match self {
            ErrorKind::Blocked => Some("content_blocked"),
            ErrorKind::Authentication => Some("invalid_api_key"),
            ErrorKind::TooLarge => Some("request_too_large"),
            ErrorKind::BudgetExceeded => Some("budget_exceeded"),
            ErrorKind::RateLimited => Some("rate_limit_exceeded"),
            _ => None,
        }
    }
}

/// An error to send to a client; rendered in its API's format at the edge.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Shown to the client. Never contains a key, a secret or matched text.
    pub message: String,
    /// Extra response headers (`Retry-After`, rate-limit headers).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// The error with `headers` added to its response.
    pub fn with_headers(mut self, headers: Vec<(HeaderName, HeaderValue)>) -> Self {
        self.headers.extend(headers);
        self
    }

    /// The JSON body, in `api`'s format.
    pub fn body(&self, api: Api) -> serde_json::Value {
        match api {
            Api::OpenAi | Api::Responses => json!({
                "error": {
                    "message": self.message,
                    "type": self.kind.openai_type(),
                    "param": null,
                    "code": self.kind.code(),
                }
            }),
            Api::Anthropic => json!({
                "type": "error",
                "error": { "type": self.kind.anthropic_type(), "message": self.message }
            }),
        }
    }

    /// The error as one server-sent event in `api`'s format, for a stream
    /// that already started.
    pub fn sse_event(&self, api: Api) -> String {
        match api {
            Api::OpenAi => format!("data: {}\n\n", self.body(api)),
            Api::Anthropic => format!("event: error\ndata: {}\n\n", self.body(api)),
            Api::Responses => {
                let event = json!({
                    "type": "error",
                    "code": self.kind.code().unwrap_or(self.kind.openai_type()),
                    "message": self.message,
                    "param": null,
                });
                format!("event: error\ndata: {event}\n\n")
            }
        }
    }

    /// The response for a client speaking `api`: the kind's status, the body
    /// in `api`'s format and the extra headers.
    pub fn render(self, api: Api) -> Response {
        let status = self.kind.status();
        let mut response = (status, axum::Json(self.body(api))).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_gets_its_own_shape() {
        let e = ApiError::new(ErrorKind::Blocked, "no");
        assert_eq!(e.body(Api::OpenAi)["error"]["code"], "content_blocked");
        assert_eq!(
            e.body(Api::OpenAi)["error"]["type"],
            "invalid_request_error"
        );
        let e = ApiError::new(ErrorKind::TooLarge, "big");
        assert_eq!(e.body(Api::Anthropic)["type"], "error");
        assert_eq!(e.body(Api::Anthropic)["error"]["type"], "request_too_large");
        assert_eq!(e.kind.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            e.sse_event(Api::Anthropic)
                .starts_with("event: error\ndata: {")
        );
    }
}
