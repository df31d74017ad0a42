//! Structural checks some rules run on a candidate after its regex matched, for
//! formats a regex cannot check on its own (named by a rule's `validate` field).

use serde::Deserialize;

/// A check named by a rule's `validate` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validator {
    /// A JSON Web Token: the first part is base64url of a JSON object with an
    /// `"alg"` member. Tokens whose payload says `"role":"anon"` (Supabase's public
    /// anonymous key, meant to ship in web pages) are not secrets.
    Jwt,
    /// An HTTP basic credential: base64 of `user:password` with a printable, non-empty
    /// user and a password of at least three characters that is not a placeholder
    /// (`password`, `pass`, `secret`, `changeme`, or the user name again).
    BasicAuth,
    /// A base64-encoded PEM private key (as in kubeconfig `client-key-data`): the
    /// decoded start reads `-----BEGIN ... PRIVATE KEY`.
    Base64PrivateKey,
    /// A base64-encoded JSON Web Token (as stored in some configs and Kubernetes
    /// secrets): the decoded text is a JWT's compact form, `eyJ` and base64url
    /// parts separated by dots, whose first part, once complete, decodes to a JSON
    /// object. Unlike [`Validator::Jwt`] it does not ask for `"alg"`, so that the
    /// headers of encrypted tokens (`"enc"`) count too.
    Base64Jwt,
}

impl Validator {
    /// True when `secret` has the structure the check expects.
    pub fn accepts(self, secret: &str) -> bool {
        match self {
            Validator::Jwt => jwt(secret),
            Validator::BasicAuth => basic_auth(secret),
            Validator::Base64PrivateKey => base64_private_key(secret),
            Validator::Base64Jwt => base64_jwt(secret),
        }
    }
}

fn jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Some(header) = decode_base64(header) else {
        return false;
    };
    let header = String::from_utf8_lossy(&header);
    if !header.trim_start().starts_with('{') || !header.contains("\"alg\"") {
        return false;
    }
    let payload = decode_base64(payload).unwrap_or_default();
    let payload: String = String::from_utf8_lossy(&payload)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    !payload.contains("\"role\":\"anon\"")
}

fn basic_auth(encoded: &str) -> bool {
    let Some(decoded) = decode_base64(encoded) else {
        return false;
    };
    let Ok(decoded) = std::str::from_utf8(&decoded) else {
        return false;
    };
    if decoded.chars().any(char::is_control) {
        return false;
    }
    match decoded.split_once(':') {
        Some((user, password)) => {
            !user.is_empty()
                && password.chars().count() >= 3
                && password != user
                && !PLACEHOLDER_PASSWORDS
                    .iter()
                    .any(|p| password.eq_ignore_ascii_case(p))
        }
        None => false,
    }
}

/// Passwords that mark a basic credential as an example.
const PLACEHOLDER_PASSWORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "changeme",
    "test",
    "example",
    "xxx",
    // RFC 7617's example credential, Aladdin:open sesame.
    "open sesame",
    "opensesame",
    // RFC 6749's example client credentials, s6BhdRkqt3:gX1fBat3bV.
    "gX1fBat3bV",
];

fn base64_private_key(encoded: &str) -> bool {
    // 96 base64 characters decode to 72 bytes: enough for the longest BEGIN line.
    let mut end = encoded.len().min(96);
    end -= end % 4;
    decode_base64(&encoded[..end])
        .map(|bytes| {
            let text = String::from_utf8_lossy(&bytes);
            text.starts_with("-----BEGIN") && text.contains("PRIVATE KEY")
        })
        .unwrap_or(false)
}

/// The decoded start of a base64-encoded token (at most 1,024 characters of it are
/// decoded) must be a JWT in compact form; see [`Validator::Base64Jwt`].
fn base64_jwt(encoded: &str) -> bool {
    let mut end = encoded.trim_end_matches('=').len().min(1024);
    end -= end % 4;
    let Some(decoded) = decode_base64(&encoded[..end]) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&decoded) else {
        return false;
    };
    if !text.starts_with("eyJ")
        || !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
    {
        return false;
    }
    match text.split_once('.') {
        // The header is complete: it must be a JSON object.
        Some((header, _)) => decode_base64(header).is_some_and(|json| {
            let json = String::from_utf8_lossy(&json);
            let json = json.trim();
            json.starts_with("{\"") && json.ends_with('}')
        }),
        // Only the start of a header has been decoded (a long header, or a token
        // still arriving in a stream): `eyJ` already decodes to `{"`.
        None => true,
    }
}

/// Decodes standard or URL-safe base64, with or without padding. `None` on any
/// other character.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_both_alphabets() {
        assert_eq!(decode_base64("aGk/Pz4-").unwrap(), b"hi??>>");
        assert_eq!(decode_base64("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(decode_base64("dXNlcjpwYXNzMQ==").unwrap(), b"user:pass1");
        assert!(decode_base64("not base64!").is_none());
    }

    #[test]
    fn jwt_needs_a_json_header_with_alg() {
        // {"alg":"HS256","typ":"JWT"} . {"sub":"42"} . signature
        assert!(
            Validator::Jwt.accepts("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9.c2ln")
        );
        // {"typ":"JWT"} only
        assert!(!Validator::Jwt.accepts("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiI0MiJ9.c2ln"));
        // {"alg":"HS256"} . {"role":"anon"}
        assert!(!Validator::Jwt.accepts("eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln"));
    }

    #[test]
    fn base64_jwt_needs_an_encoded_compact_token() {
        use base64_for_tests as b64;
        // {"alg":"HS256"} . {"sub":"42"} . signature, base64-encoded
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl";
        assert!(Validator::Base64Jwt.accepts(&b64(token)));
        // an encrypted token's header has "enc" rather than "alg"
        assert!(
            Validator::Base64Jwt.accepts(&b64("eyJlbmMiOiJBMjU2R0NNIn0.eyJpc3MiOiJqb2UifQ.aXY"))
        );
        // "eyJ" followed by text that is no base64url, or a header that is no JSON
        assert!(!Validator::Base64Jwt.accepts(&b64("eyJ is how a JWT starts, see RFC 7519")));
        assert!(!Validator::Base64Jwt.accepts(&b64("eyJub3QganNvbg.eyJzdWIiOiI0MiJ9.c2ln")));
    }

    /// Standard base64 with padding, for building test inputs.
    fn base64_for_tests(text: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in text.as_bytes().chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn basic_auth_needs_user_and_password() {
        assert!(Validator::BasicAuth.accepts("YWxpY2U6czNjcjN0LXB3"));
        assert!(!Validator::BasicAuth.accepts("YWxpY2U6"));
        assert!(!Validator::BasicAuth.accepts("aGVsbG8gd29ybGQ="));
        // user:password, admin:admin
        assert!(!Validator::BasicAuth.accepts("dXNlcjpwYXNzd29yZA=="));
        assert!(!Validator::BasicAuth.accepts("YWRtaW46YWRtaW4="));
        assert!(!Validator::BasicAuth.accepts("QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    }

    #[test]
    fn base64_private_key_reads_the_begin_line() {
        let key =
            "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVND";
        assert!(Validator::Base64PrivateKey.accepts(key));
        let cert = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM2akNDQWRLZ0F3SUJBZ0lCQURBTkJna3Fo";
        assert!(!Validator::Base64PrivateKey.accepts(cert));
    }
}
