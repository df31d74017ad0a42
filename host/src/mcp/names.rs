//! The names of the one server `/mcp` shows: every tool and prompt of a
//! server as `SERVER__NAME`, every resource URI as `SERVER+URI` (still a URI:
//! `files+file:///srv/a.txt` has the scheme `files+file`).

use super::config::SEPARATOR;

/// `github` and `create_issue` → `github__create_issue`.
pub fn prefixed(server: &str, name: &str) -> String {
    format!("{server}{SEPARATOR}{name}")
}

/// `github__create_issue` → (`github`, `create_issue`); server ids hold no
/// `_`, so the first `__` is the separator.
pub fn split(name: &str) -> Option<(&str, &str)> {
    name.split_once(SEPARATOR)
        .filter(|(server, name)| !server.is_empty() && !name.is_empty())
}

/// `files` and `file:///a` → `files+file:///a`.
pub fn prefixed_uri(server: &str, uri: &str) -> String {
    format!("{server}+{uri}")
}

/// `files+file:///a` → (`files`, `file:///a`).
pub fn split_uri(uri: &str) -> Option<(&str, &str)> {
    uri.split_once('+')
        .filter(|(server, uri)| !server.is_empty() && !uri.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uris_round_trip() {
        assert_eq!(prefixed("github", "create_issue"), "github__create_issue");
        assert_eq!(
            split("github__create_issue"),
            Some(("github", "create_issue"))
        );
        assert_eq!(split("files__read__all"), Some(("files", "read__all")));
        assert_eq!(split("nothing"), None);
        assert_eq!(split("__x"), None);
        let uri = prefixed_uri("files", "file:///a+b");
        assert_eq!(split_uri(&uri), Some(("files", "file:///a+b")));
    }
}
