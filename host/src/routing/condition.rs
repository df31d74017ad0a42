//! Conditions of a conditional node: a field of the request compared with
//! operators (`eq`, `ne`, `in`, `not_in`, `gt`, `gte`, `lt`, `lte`, `prefix`,
//! `contains`, `exists`).

use crate::config::Test;
use crate::json_pointer::Pointer;
use serde_json::Value;

/// What conditions can look at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The model the request names (before routing), or `""`.
    pub model: &'a str,
    /// The gateway key's id, or `""`.
    pub key: &'a str,
    /// `openai` or `anthropic`.
    pub api: &'a str,
    /// The merged metadata tags.
    pub metadata: &'a [(String, String)],
    /// The request body.
    pub params: &'a Value,
}

impl Facts<'_> {
    /// The value of `path` (`model`, `key`, `api`, `metadata.NAME`,
    /// `params.a.b`), if the request has it.
    fn get(&self, path: &str) -> Option<Value> {
        match path {
            "model" => Some(Value::from(self.model)),
            "key" => Some(Value::from(self.key)),
            "api" => Some(Value::from(self.api)),
            _ => {
                if let Some(name) = path.strip_prefix("metadata.") {
                    return self
                        .metadata
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| Value::from(v.as_str()));
                }
                let pointer = format!("/{}", path.strip_prefix("params.")?.replace('.', "/"));
                self.params.at(&pointer).cloned()
            }
        }
    }

    /// Whether every test of `when` holds.
    pub fn matches(&self, when: &std::collections::BTreeMap<String, Test>) -> bool {
        when.iter()
            .all(|(path, test)| holds(test, self.get(path).as_ref()))
    }
}

fn holds(test: &Test, value: Option<&Value>) -> bool {
    let number = value.and_then(Value::as_f64);
    let text = value.and_then(Value::as_str);
    let checks = [
        test.exists.map(|wanted| value.is_some() == wanted),
        test.eq.as_ref().map(|eq| value == Some(eq)),
        test.ne.as_ref().map(|ne| value != Some(ne)),
        test.one_of
            .as_ref()
            .map(|set| value.is_some_and(|v| set.contains(v))),
        test.not_in
            .as_ref()
            .map(|set| !value.is_some_and(|v| set.contains(v))),
        test.gt.map(|x| number.is_some_and(|n| n > x)),
        test.gte.map(|x| number.is_some_and(|n| n >= x)),
        test.lt.map(|x| number.is_some_and(|n| n < x)),
        test.lte.map(|x| number.is_some_and(|n| n <= x)),
        test.prefix
            .as_ref()
            .map(|p| text.is_some_and(|t| t.starts_with(p.as_str()))),
        test.contains
            .as_ref()
            .map(|c| text.is_some_and(|t| t.contains(c.as_str()))),
    ];
    checks.into_iter().flatten().all(|ok| ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn test(toml: &str) -> std::collections::BTreeMap<String, Test> {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn fields_and_operators() {
        let metadata = vec![("team".to_string(), "research".to_string())];
        let params = json!({"temperature": 0.2, "stream": true, "tools": [1]});
        let facts = Facts {
            model: "claude-sonnet-4-5",
            key: "alice",
            api: "anthropic",
            metadata: &metadata,
            params: &params,
        };
        assert!(facts.matches(&test(r#""metadata.team" = { eq = "research" }"#)));
        assert!(!facts.matches(&test(r#""metadata.team" = { eq = "sales" }"#)));
        assert!(facts.matches(&test(r#"model = { prefix = "claude-" }"#)));
        assert!(facts.matches(&test(r#""params.temperature" = { lt = 0.5, gte = 0.2 }"#)));
        assert!(facts.matches(&test(r#""params.stream" = { eq = true }"#)));
        assert!(facts.matches(&test(r#"key = { in = ["alice", "bob"] }"#)));
        assert!(facts.matches(&test(r#""metadata.project" = { exists = false }"#)));
        assert!(facts.matches(&test(
            r#""metadata.project" = { ne = "x", not_in = ["y"] }"#
        )));
        assert!(!facts.matches(&test(r#""metadata.project" = { eq = "x" }"#)));
        assert!(!facts.matches(&test(r#""params.max_tokens" = { gt = 1 }"#)));
        assert!(facts.matches(&test(
            r#"api = { eq = "anthropic" }
model = { contains = "sonnet" }"#
        )));
    }
}
