//! A handler that panics answers a 500 in the caller's format instead of
//! dropping the connection without a reply.
//!
//! Only the work before the response starts is covered: a panic while a
//! stream is being sent ends that stream. The panic's message goes to the log
//! (the standard panic hook), never to the client.

use super::error::{Api, ApiError, ErrorKind};
use axum::http::Uri;
use axum::response::Response;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;

/// Runs `handler` (the rest of the app, for a request to `uri` in `api`),
/// turning a panic into a 500 in `api`'s format.
pub async fn or_500(api: Api, uri: Uri, handler: impl Future<Output = Response>) -> Response {
    // Unwind safety: the request's own state is dropped with it; shared state
    // behind locks recovers from poisoning (see `routing::circuit`).
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(
                route = uri.path(),
                "a request handler panicked; answered 500"
            );
            ApiError::new(
                ErrorKind::Internal,
                "the gateway failed on this request (an internal error, logged); try again",
            )
            .render(api)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::routing::post;
    use tower::ServiceExt;

    async fn panics() -> &'static str {
        panic!("on purpose")
    }

    async fn call(path: &str, header: Option<(&str, &str)>) -> (u16, serde_json::Value) {
        let app = Router::new()
            .route("/v1/messages", post(panics))
            .route("/v1/models", post(panics))
            .layer(axum::middleware::from_fn(
                |request: Request, next: axum::middleware::Next| async move {
                    let api = crate::api::api_of_request(&request);
                    let uri = request.uri().clone();
                    or_500(api, uri, next.run(request)).await
                },
            ));
        let mut request = Request::post(path);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_panic_is_a_500_in_the_callers_format() {
        let (status, body) = call("/v1/messages", None).await;
        assert_eq!(status, 500);
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "api_error");
        let (status, body) = call("/v1/models", None).await;
        assert_eq!(status, 500);
        assert_eq!(body["error"]["type"], "api_error");
        assert!(
            !body.to_string().contains("on purpose"),
            "the panic's message stays in the log"
        );
        let (_, body) = call("/v1/models", Some(("anthropic-version", "2023-06-01"))).await;
        assert_eq!(body["type"], "error");
    }
}
