//! Console sessions: a signed cookie, its CSRF token, sign-out, and the one
//! door of the admin API ([`authorize`]), which takes the admin key in a
//! header or a console session.
//!
//! A session token is `EXPIRY.ID.MAC`: its expiry (ms since the epoch), a
//! random public id (the one the audit trail names), and a keyed BLAKE3 hash
//! of both under a key derived from the admin key. Nothing is stored to accept
//! it, so every gateway process with the same admin key accepts it, a reload
//! keeps it, and a new admin key ends every session. Signing out puts the id
//! on this process's list of ended sessions until it would have expired.
//!
//! The cookie is `HttpOnly`, `SameSite=Strict`, limited to `/`, and `Secure`
//! when the request came over TLS (`X-Forwarded-Proto: https` from the proxy
//! that ends TLS in front of sluice). A write through a session also needs
//! its CSRF token: the hidden `csrf` field of a console form, or the
//! `x-csrf-token` header of a script's request.

use crate::api::error::{ApiError, ErrorKind};
use crate::audit::admin::Actor;
use crate::auth::AdminKey;
use crate::gateway::Gateway;
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::Mutex;

/// The session cookie's name.
pub const COOKIE: &str = "sluice_console";
/// How long a session lasts.
pub const LIFETIME_MS: i64 = 8 * 3_600_000;
/// The header a script sends a session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A valid session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its public id (16 hex digits).
    pub id: String,
    /// When it ends.
    pub expires_ms: i64,
    csrf: String,
}

impl Session {
    /// A new session and its cookie value, signed with `key`.
    pub fn issue(key: &[u8; 32], now_ms: i64) -> Result<(Session, String), getrandom::Error> {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce)?;
        let id: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let expires_ms = now_ms + LIFETIME_MS;
        let signed = format!("{expires_ms}.{id}");
        let token = format!("{signed}.{}", mac(key, &signed));
        Ok((Session::of(key, id, expires_ms), token))
    }

    /// The session of cookie value `token`, if it is signed with `key` and
    /// has not expired.
    pub fn verify(key: &[u8; 32], token: &str, now_ms: i64) -> Option<Session> {
        let (signed, tag) = token.rsplit_once('.')?;
        let expected = blake3::Hash::from_hex(mac(key, signed)).ok()?;
        // Hash equality is constant-time.
        if blake3::Hash::from_hex(tag).ok()? != expected {
            return None;
        }
        let (expires, id) = signed.split_once('.')?;
        let expires_ms: i64 = expires.parse().ok()?;
        (expires_ms > now_ms).then(|| Session::of(key, id.to_string(), expires_ms))
    }

    fn of(key: &[u8; 32], id: String, expires_ms: i64) -> Session {
        let csrf = blake3::keyed_hash(key, format!("csrf.{expires_ms}.{id}").as_bytes()).to_hex()
            [..32]
            .to_string();
        Session {
            id,
            expires_ms,
            csrf,
        }
    }

    /// The CSRF token forms and scripts of this session send with a write.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether `presented` is this session's CSRF token.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        // Compare hashes of both: constant time whatever the lengths.
        blake3::hash(presented.as_bytes()) == blake3::hash(self.csrf.as_bytes())
    }
}

fn mac(key: &[u8; 32], signed: &str) -> String {
    blake3::keyed_hash(key, signed.as_bytes())
        .to_hex()
        .to_string()
}

/// Sessions signed out in this process, until they would have expired.
#[derive(Debug, Default)]
pub struct Ended {
    ids: Mutex<HashMap<String, i64>>,
}

impl Ended {
    /// Ends `session`.
    pub fn end(&self, session: &Session, now_ms: i64) {
        let mut ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.retain(|_, expires| *expires > now_ms);
        ids.insert(session.id.clone(), session.expires_ms);
    }

    /// Whether `session` was signed out.
    pub fn contains(&self, session: &Session) -> bool {
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&session.id)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The request's session, if it carries a valid one that was not signed out.
pub fn current(gateway: &Gateway, headers: &HeaderMap, now_ms: i64) -> Option<Session> {
    let key = gateway.admin_key.session_key()?;
    let session = Session::verify(key, cookie(headers, COOKIE)?, now_ms)?;
    (!gateway.console.ended.contains(&session)).then_some(session)
}

/// Whether the request came over TLS (ended by a proxy in front of sluice).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value that starts a session with `token`.
pub fn set_cookie(token: &str, headers: &HeaderMap) -> String {
    let secure = if over_tls(headers) { "; Secure" } else { "" };
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LIFETIME_MS / 1000
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(headers: &HeaderMap) -> String {
    let secure = if over_tls(headers) { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// What a request to the admin API wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read.
    Read,
    /// Change something: a session must also send its CSRF token.
    Write,
}

/// Lets an admin API request in: with the admin key in a header (checked
/// first: a wrong key is refused even with a session), or with a console
/// session (and, to write, its CSRF token in [`CSRF_HEADER`]).
pub fn authorize(
    gateway: &Gateway,
    headers: &HeaderMap,
    access: Access,
) -> Result<Actor, ApiError> {
    if AdminKey::presented(headers) || !gateway.admin_key.is_set() {
        gateway.admin_key.authorize(headers)?;
        return Ok(Actor::AdminKey);
    }
    let Some(session) = current(gateway, headers, crate::clock::now_ms()) else {
        return Err(ApiError::new(
            ErrorKind::Authentication,
            "missing admin key: send it as `Authorization: Bearer <admin key>`, or sign in to the console",
        ));
    };
    if access == Access::Write {
        let token = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !session.csrf_matches(token) {
            return Err(ApiError::new(
                ErrorKind::Permission,
                format!("a console session's change needs its CSRF token in `{CSRF_HEADER}`"),
            ));
        }
    }
    Ok(Actor::Session(session.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn a_token_is_accepted_until_it_expires_and_only_as_signed() {
        let (session, token) = Session::issue(&KEY, 1000).unwrap();
        assert_eq!(Session::verify(&KEY, &token, 1001), Some(session.clone()));
        assert_eq!(Session::verify(&KEY, &token, 1000 + LIFETIME_MS), None);
        assert_eq!(Session::verify(&[8; 32], &token, 1001), None);
        // A later expiry with the old signature is refused.
        let (_, rest) = token.split_once('.').unwrap();
        let forged = format!("{}.{rest}", 1000 + 2 * LIFETIME_MS);
        assert_eq!(Session::verify(&KEY, &forged, 1001), None);
        assert_eq!(Session::verify(&KEY, "garbage", 1001), None);
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_match_only_themselves() {
        let (a, _) = Session::issue(&KEY, 0).unwrap();
        let (b, _) = Session::issue(&KEY, 0).unwrap();
        assert_ne!(a.csrf(), b.csrf());
        assert!(a.csrf_matches(a.csrf()));
        assert!(!a.csrf_matches(b.csrf()));
        assert!(!a.csrf_matches(""));
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_behind_tls() {
        let plain = set_cookie("t", &HeaderMap::new());
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(set_cookie("t", &headers).ends_with("; Secure"));
        headers.insert("cookie", "a=1; sluice_console=xyz".parse().unwrap());
        assert_eq!(cookie(&headers, COOKIE), Some("xyz"));
    }

    #[test]
    fn a_signed_out_session_stays_out() {
        let ended = Ended::default();
        let (session, _) = Session::issue(&KEY, 0).unwrap();
        assert!(!ended.contains(&session));
        ended.end(&session, 1);
        assert!(ended.contains(&session));
    }
}
