//! A console form's fields, and the checks every form that changes something
//! passes: it comes from the console's own origin and carries the session's
//! CSRF token.

use super::session::Session;
use axum::http::HeaderMap;

/// A submitted form's fields.
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Reads an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).into_owned().collect())
    }

    /// A field's value, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A comma-separated field as a list.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Whether the request comes from this origin: its `Origin` header, when the
/// browser sends one, names the host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !host.is_empty() && origin_host == host
}

/// Whether a form that changes something may go ahead: same origin, and the
/// session's CSRF token in its `csrf` field.
pub fn may_change(session: &Session, headers: &HeaderMap, form: &Form) -> bool {
    same_origin(headers) && session.csrf_matches(form.get("csrf").unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_origin_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert("origin", "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert("origin", "http://evil.example".parse().unwrap());
        assert!(!same_origin(&headers));
    }

    #[test]
    fn fields_are_trimmed_and_lists_split() {
        let form = Form::parse(b"a=+x+&b=&m=%40oa%2F*%2C+%40an%2F*");
        assert_eq!(form.get("a"), Some("x"));
        assert_eq!(form.get("b"), None);
        assert_eq!(form.list("m"), ["@oa/*", "@an/*"]);
    }
}
