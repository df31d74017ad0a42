//! Property tests of the config loader: any text, a realistic config with
//! bytes mutated, or with a value replaced by another of any type, is parsed
//! or refused with an error, never a panic.

use super::Config;
use proptest::prelude::*;
use std::path::Path;

/// A config that uses most sections.
const REALISTIC: &str = r#"
[server]
listen = "127.0.0.1:8080"
default_model = "fast"
max_body_mb = 4

[[providers]]
slug = "oa"
kind = "openai"
api_key = "${KEY}"

[[providers]]
slug = "local"
kind = "openai-compatible"
base_url = "http://localhost:11434/v1"

[models]
fast = "@oa/gpt-4o-mini"

[[keys]]
id = "alice"
key = "gw-key-alice-0123456789"
metadata = { team = "a" }
allowed_models = ["fast", "@oa/*"]

[metadata]
request_tags = ["session", "project"]

[[guardrails]]
plugin = "pii"
phases = ["request"]
on_failure = "allow"

[[budgets]]
id = "b"
tag = "project=apollo"
period = "day"
cost_usd = 1.5

[[rate_limits]]
id = "r"
key = "*"
per = "minute"
requests = 10

[routing.main]
strategy = "fallback"
targets = [{ model = "fast", retry = { attempts = 2 } }, { model = "@local/llama" }]

[routing.cond]
strategy = "conditional"
conditions = [{ when = { "metadata.session" = { prefix = "s-" } }, then = "x" }]
default = "x"
targets = [{ name = "x", model = "fast" }]

[metrics]
tags = ["project"]
"#;

fn parse(text: &str) -> Result<Config, super::ParseFailure> {
    Config::parse(text, Path::new("/etc/sluice"), &|name| {
        (name == "KEY").then(|| "sk-0123456789abcdef".to_string())
    })
}

/// Pieces of TOML and of this config's values.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "[",
            "]",
            "[[",
            "]]",
            "{",
            "}",
            "=",
            "\"",
            "'",
            "\n",
            ",",
            ".",
            "#",
            "${",
            "${KEY}",
            "$${",
            "}",
            "0",
            "-1",
            "1e400",
            "true",
            "\"\"\"",
            "inf",
            "nan",
            "[metadata]",
            "[server]",
            "request_tags = [\"team\"]",
            "*",
            "@",
            "/",
            "max_body_mb = 0",
            "strategy = \"conditional\"",
            "\\u0000",
        ])
        .prop_map(String::from),
        ".{0,6}",
    ]
}

/// TOML values of any type, for replacing one of the config's.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        ".{0,10}".prop_map(toml::Value::String),
        prop::sample::select(vec![
            "*", "@oa/*", "fast", "team", "minute", "${KEY}", "a=b"
        ])
        .prop_map(|s| toml::Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// Every place a value sits in `value`: a path of table keys and array indexes.
fn places(value: &toml::Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        toml::Value::Table(table) => {
            for (key, item) in table {
                let mut next = at.clone();
                next.push(key.clone());
                places(item, next, out);
            }
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut next = at.clone();
                next.push(i.to_string());
                places(item, next, out);
            }
        }
        _ => {}
    }
    if !at.is_empty() {
        out.push(at);
    }
}

/// The value at `path` in `value`.
fn at_mut<'a>(value: &'a mut toml::Value, path: &[String]) -> Option<&'a mut toml::Value> {
    path.iter().try_fold(value, |v, step| match v {
        toml::Value::Table(t) => t.get_mut(step),
        toml::Value::Array(a) => a.get_mut(step.parse::<usize>().ok()?),
        _ => None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_is_parsed_or_refused(text in ".{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn a_mutated_config_is_parsed_or_refused(
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..8, token()), 1..6),
    ) {
        let mut text = REALISTIC.to_string();
        for (at, cut, insert) in edits {
            let mut start = at.index(text.len() + 1);
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + cut).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(start..end, &insert);
        }
        let _ = parse(&text);
    }

    #[test]
    fn a_config_with_a_value_of_another_type_is_parsed_or_refused(
        picks in prop::collection::vec((any::<prop::sample::Index>(), toml_value()), 1..4),
    ) {
        let mut config: toml::Value = toml::from_str(REALISTIC).unwrap();
        for (pick, replacement) in picks {
            let mut all = Vec::new();
            places(&config, Vec::new(), &mut all);
            let path = &all[pick.index(all.len())];
            if let Some(slot) = at_mut(&mut config, path) {
                *slot = replacement;
            }
        }
        // A value the serializer cannot write (such as a table inside an
        // array of plain values) is no config at all.
        let Ok(text) = toml::to_string(&config) else {
            return Ok(());
        };
        let _ = parse(&text);
    }
}

#[test]
fn the_realistic_config_parses() {
    let config = parse(REALISTIC).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(config.metadata.request_may_set("project"));
    assert!(!config.metadata.request_may_set("app"));
}
