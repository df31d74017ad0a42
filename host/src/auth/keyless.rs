//! Keyless mode's guard: with no gateway key, the gateway serves only programs
//! on this machine, not web pages the operator happens to visit.
//!
//! The gateway then listens on loopback only, but a browser is on loopback
//! too: any page could POST to `http://127.0.0.1:8080` (a `text/plain` POST
//! needs no CORS preflight), or reach it under its own name through DNS
//! rebinding, and spend the operator's provider keys. So, without keys, a
//! request to the API (`/v1/...`, `/messages...`) is refused when:
//!
//! - its `Host` is not a loopback name (`localhost`, `127.x.x.x`, `[::1]`, any
//!   port): DNS rebinding, or a proxy serving other hosts (403);
//! - it carries an `Origin` other than a loopback one (`null` included, which
//!   sandboxed frames send): a web page (403);
//! - it is a POST whose `content-type` is not `application/json`, which a page
//!   cannot send without the browser asking first (415).
//!
//! SDKs and command-line tools send no `Origin` and a loopback `Host`, so they
//! are not affected. A gateway key (`sluice keys create`) lifts all three.

use crate::api::error::{ApiError, ErrorKind};
use axum::http::{HeaderMap, Method, Uri, header};
use std::net::{IpAddr, Ipv6Addr};

/// Why a request is refused in keyless mode, if it is.
pub fn check(method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |kind, message: String| {
        Err(ApiError::new(
            kind,
            format!(
                "{message}. This gateway has no keys, so it serves only programs on this machine; \
                 create a gateway key (`sluice keys create`) and send it to call it from elsewhere"
            ),
        ))
    };
    let host = headers
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or("?"))
        .or_else(|| uri.authority().map(|a| a.as_str()));
    if let Some(host) = host
        && !is_loopback_authority(host)
    {
        return refuse(
            ErrorKind::Permission,
            format!(
                "refused a request for host `{}`, which is not this machine",
                printable(host)
            ),
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("?");
        let local = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(is_loopback_authority);
        if !local {
            return refuse(
                ErrorKind::Permission,
                format!(
                    "refused a request from a web page (Origin `{}`)",
                    printable(origin)
                ),
            );
        }
    }
    if method == Method::POST {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?"))
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            let got = match content_type {
                "" => "none".to_string(),
                other => format!("`{}`", printable(other)),
            };
            return refuse(
                ErrorKind::UnsupportedMediaType,
                format!("a POST must have `content-type: application/json` (it had {got})"),
            );
        }
    }
    Ok(())
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
fn is_loopback_authority(authority: &str) -> bool {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, port)) => {
                return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
                    && (port.is_empty() || is_port(port.strip_prefix(':').unwrap_or("x")));
            }
            None => return false,
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    loopback && port.is_none_or(is_port)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A header value as it may be quoted back: at most 100 printable characters.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::Api;

    fn request(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
            .collect()
    }

    fn status(method: Method, pairs: &[(&str, &str)]) -> Option<u16> {
        let uri = Uri::from_static("/v1/chat/completions");
        check(&method, &uri, &request(pairs))
            .err()
            .map(|e| e.kind.status().as_u16())
    }

    #[test]
    fn local_programs_pass() {
        let json = ("content-type", "application/json");
        for host in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "LOCALHOST",
            "127.0.0.2",
        ] {
            assert_eq!(
                status(Method::POST, &[("host", host), json]),
                None,
                "{host}"
            );
        }
        assert_eq!(status(Method::POST, &[json]), None, "no Host (HTTP/1.0)");
        assert_eq!(
            status(
                Method::POST,
                &[
                    ("host", "localhost:8080"),
                    ("origin", "http://localhost:3000"),
                    json
                ]
            ),
            None,
            "a page served from this machine"
        );
        assert_eq!(
            status(
                Method::POST,
                &[("content-type", "application/json; charset=utf-8")]
            ),
            None
        );
        assert_eq!(status(Method::GET, &[("host", "127.0.0.1:8080")]), None);
    }

    #[test]
    fn web_pages_and_other_hosts_are_refused() {
        let json = ("content-type", "application/json");
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "[::2]:80",
            "localhost:80:80",
        ] {
            assert_eq!(
                status(Method::POST, &[("host", host), json]),
                Some(403),
                "{host}"
            );
        }
        for origin in [
            "https://evil.example",
            "null",
            "http://localhost.evil.example",
        ] {
            assert_eq!(
                status(
                    Method::POST,
                    &[("host", "localhost:8080"), ("origin", origin), json]
                ),
                Some(403),
                "{origin}"
            );
        }
        assert_eq!(
            status(Method::POST, &[("content-type", "text/plain")]),
            Some(415)
        );
        assert_eq!(status(Method::POST, &[]), Some(415));
        let error = check(
            &Method::POST,
            &Uri::from_static("/v1/messages"),
            &request(&[("host", "evil.example"), json]),
        )
        .unwrap_err();
        assert_eq!(error.body(Api::Anthropic)["type"], "error");
        assert!(
            error.message.contains("`evil.example`"),
            "{}",
            error.message
        );
        assert!(
            error.message.contains("sluice keys create"),
            "{}",
            error.message
        );
    }
}
