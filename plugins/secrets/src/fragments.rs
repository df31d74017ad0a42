//! Named pieces of regex shared by rules: a rule's `regex` writes `(?&assign)` where
//! the rule file's `[fragments]` table defines `assign`, and the piece is put in
//! (as a non-capturing group) before the regex is compiled. This keeps a shape that
//! many rules read, such as the operators between a name and its value, written
//! once.

use std::collections::BTreeMap;

/// `regex` with every `(?&name)` replaced by `(?:<fragment name>)`. An unknown name
/// is an error that names it.
pub fn expand(regex: &str, fragments: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(regex.len());
    let mut rest = regex;
    while let Some(at) = rest.find("(?&") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let Some(close) = after.find(')') else {
            return Err(format!("unclosed fragment reference at {:?}", &rest[at..]));
        };
        let name = &after[..close];
        let Some(fragment) = fragments.get(name) else {
            let known: Vec<&str> = fragments.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown fragment (?&{name}); the rule file defines: {}",
                known.join(", ")
            ));
        };
        out.push_str("(?:");
        out.push_str(fragment);
        out.push(')');
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragments() -> BTreeMap<String, String> {
        BTreeMap::from([("op".to_string(), "[ \\t]{0,4}[:=][ \\t]{0,4}".to_string())])
    }

    #[test]
    fn references_are_replaced_by_groups() {
        assert_eq!(
            expand("(?i:acme)(?&op)([a-f0-9]{32})", &fragments()).unwrap(),
            "(?i:acme)(?:[ \\t]{0,4}[:=][ \\t]{0,4})([a-f0-9]{32})"
        );
        assert_eq!(
            expand("no references", &fragments()).unwrap(),
            "no references"
        );
    }

    #[test]
    fn unknown_and_unclosed_references_are_refused() {
        let err = expand("x(?&nope)y", &fragments()).unwrap_err();
        assert!(err.contains("(?&nope)") && err.contains("op"), "{err}");
        assert!(expand("x(?&op", &fragments()).is_err());
    }
}
