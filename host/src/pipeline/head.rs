//! A chat request body read only as far as the gateway needs on a request's
//! way through ([`super::parse_head`]): every value is parsed and checked as
//! it would be for a tree (strings and their escapes, numbers, nesting
//! depth), but only the [`super::HEAD_MEMBERS`] become values; the others
//! (messages, tools, system prompts: nearly all of the bytes) are not built,
//! and stand as empty values of their own type.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A request body's top-level members, as [`super::parse_head`] keeps them.
pub(super) struct Head(pub(super) Map<String, Value>);

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Head, D::Error> {
        deserializer.deserialize_map(Members)
    }
}

struct Members;

impl<'de> Visitor<'de> for Members {
    type Value = Head;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        let mut head = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = if super::HEAD_MEMBERS.contains(&key.as_str()) {
                map.next_value::<Value>()?
            } else {
                map.next_value::<Kind>()?.0
            };
            // a repeated key: the last one counts, as in a parsed body
            head.insert(key, value);
        }
        Ok(Head(head))
    }
}

/// A value's type, with its contents skipped: `[]`, `{}`, `""`, `0`, or the
/// value itself when it is `true`, `false` or `null`.
struct Kind(Value);

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Kind, D::Error> {
        deserializer.deserialize_any(KindOf)
    }
}

struct KindOf;

impl<'de> Visitor<'de> for KindOf {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Kind, E> {
        Ok(Kind(Value::Bool(value)))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Kind, E> {
        Ok(Kind(Value::from(0)))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Kind, E> {
        Ok(Kind(Value::from(0)))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Kind, E> {
        Ok(Kind(Value::from(0)))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Kind, E> {
        Ok(Kind(Value::String(String::new())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Kind(Value::Array(Vec::new())))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Kind(Value::Object(Map::new())))
    }
}

/// A value parsed as a tree would be (so refused where a tree would be:
/// a bad escape, a number out of range, nesting too deep), and not kept.
/// serde's `IgnoredAny` is not enough: serde_json skips it more leniently.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Skip, D::Error> {
        deserializer.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{HEAD_MEMBERS, parse_body, parse_head};
    use crate::api::error::Api;
    use serde_json::Value;

    /// The JSON type of a value, by name.
    fn kind(value: &Value) -> &'static str {
        match value {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    #[test]
    fn the_head_passes_and_refuses_what_a_whole_parse_does_and_keeps_its_members() {
        let bodies: [&[u8]; 22] = [
            br#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#,
            br#"{"messages": [], "stream": true, "stream_options": {"include_usage": true}}"#,
            br#"{"model": "m", "messages": [], "system": "be brief", "tools": [{"a": [1, {"b": null}]}],
                "temperature": 0.5, "n": -1, "top_p": 1e3, "metadata": {"x": "y"}, "flag": false, "none": null}"#,
            br#"{"mod\u0065l": "escaped", "messages": [], "model": "twice"}"#,
            br#"{"model": "m", "messages": [], "max_tokens": 100, "max_completion_tokens": null}"#,
            br#"{"model": "m", "messages": [], "max_tokens": 0}"#,
            br#"{"model": "m", "messages": [], "max_output_tokens": 1.5}"#,
            br#"{"model": 7, "messages": []}"#,
            br#"{"model": "m", "messages": [], "stream": "yes"}"#,
            br#"{"model": "m", "messages": {}}"#,
            br#"{"model": "m"}"#,
            br#"{"model": "m", "input": "text"}"#,
            br#"{"model": "m", "input": 3}"#,
            br#"[{"model": "m"}]"#,
            br#""text""#,
            br#"{"model": "m", "messages": [}"#,
            br#"{"model": "m", "messages": []} trailing"#,
            b"{\"model\": \"m\", \"messages\": [\"\xff\"]}",
            br#"{"model": "m", "messages": ["\ud800 lone"]}"#,
            br#"{"model": "m", "messages": [1e999]}"#,
            br#"{"model": "m", "messages": [], "tools": [-0.0, 18446744073709551616, "\u00e9\n"]}"#,
            b"",
        ];
        let deep = format!(
            r#"{{"model": "m", "messages": [{}{}]}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let bodies = bodies.into_iter().chain([deep.as_bytes()]);
        for api in [Api::OpenAi, Api::Anthropic, Api::Responses] {
            for body in bodies.clone() {
                let shown = String::from_utf8_lossy(body);
                match (parse_body(api, body), parse_head(api, body)) {
                    (Ok(whole), Ok(head)) => {
                        let (whole, head) = (whole.as_object().unwrap(), head.as_object().unwrap());
                        let keys = |m: &serde_json::Map<String, Value>| {
                            m.keys().cloned().collect::<Vec<_>>()
                        };
                        assert_eq!(keys(whole), keys(head), "{shown}");
                        for (key, value) in whole {
                            if HEAD_MEMBERS.contains(&key.as_str()) {
                                assert_eq!(value, &head[key], "{key} of {shown}");
                            } else {
                                assert_eq!(kind(value), kind(&head[key]), "{key} of {shown}");
                            }
                        }
                    }
                    (Err(whole), Err(head)) => {
                        assert_eq!(whole.message, head.message, "{shown}");
                        assert_eq!(whole.kind, head.kind, "{shown}");
                    }
                    (whole, head) => panic!(
                        "{api:?} {shown}: whole {:?}, head {:?}",
                        whole.map_err(|e| e.message),
                        head.map_err(|e| e.message)
                    ),
                }
            }
        }
    }
}
