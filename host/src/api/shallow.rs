//! A JSON object read only for some of its top-level members: every value is
//! parsed and checked as it would be for a tree (strings and their escapes,
//! numbers, nesting depth), so it passes or fails as `serde_json::Value`
//! would, but only the members asked for become values; the others stand as
//! empty values of their own type (`[]`, `{}`, `""`, `0`).
//!
//! This is how a body that only passes through is read: a request's head
//! (model, stream, token limits; see [`crate::pipeline::parse_head`]), an
//! answer's usage. Its messages, tools and texts, nearly all of its bytes, are
//! checked but never built into a tree.

use crate::api::splice::Layout;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// The JSON object `body` with only its members named in `kept` built (a
/// member given twice: the last counts, as in a parsed tree); an error where
/// `serde_json::from_slice::<Value>` has one, or when `body` is JSON but no
/// object.
pub fn read_object(body: &[u8], kept: &[&str]) -> serde_json::Result<Map<String, Value>> {
    // the walk of [`read_object_laid_out`] reads what it can (it copies no
    // string it does not keep), serde_json the rest and every error
    if let Ok(text) = std::str::from_utf8(body)
        && let Some((object, _)) = read_object_laid_out(text, kept)
    {
        return Ok(object);
    }
    read_from(serde_json::de::SliceRead::new(body), kept)
}

/// The member `name` of the JSON object `body` (`None`: it has none), with
/// the whole checked as [`read_object`] checks it: how an answer that only
/// passes through is read for its usage, its other members never built.
pub fn read_member(body: &[u8], name: &str) -> serde_json::Result<Option<Value>> {
    let text = std::str::from_utf8(body).ok();
    let layout = text.and_then(|text| Some((text, Layout::read(text.as_bytes())?)));
    // a key with escapes, or given twice, is left to the general reader
    if let Some((text, layout)) = layout
        && let Some(span) = layout.value_of(text.as_bytes(), name)
    {
        return span
            .map(|span| serde_json::from_str(&text[span]))
            .transpose();
    }
    read_object(body, &[name]).map(|mut object| object.remove(name))
}

/// [`read_object`] on a text already known to be UTF-8: its strings are not
/// checked again.
pub fn read_object_str(text: &str, kept: &[&str]) -> serde_json::Result<Map<String, Value>> {
    read_from(serde_json::de::StrRead::new(text), kept)
}

/// [`read_object_str`], also saying where each top-level member sits in
/// `text`, for a body that may go upstream as its bytes with a member edited
/// in place ([`crate::api::splice::edit`]). The top level is walked by
/// [`Layout::read`], which checks each value as `serde_json` checks it inside
/// the whole ([`crate::api::json_check`]: strings, numbers, and nesting counted
/// from the top), so the same texts pass; keys and the members kept are
/// parsed by `serde_json`. `None`
/// on any error, which is then only an error: ask [`read_object_str`] or
/// `serde_json` what it is.
pub fn read_object_laid_out(text: &str, kept: &[&str]) -> Option<(Map<String, Value>, Layout)> {
    let layout = Layout::read(text.as_bytes())?;
    let mut object = Map::new();
    for (key, value) in &layout.members {
        // the key as the whole would have it: its text, unless it has
        // escapes (the walk checked them) to undo
        let key: String = match &text[key.clone()] {
            plain if !plain.contains('\\') => plain.to_owned(),
            _ => serde_json::from_str(&text[key.start - 1..key.end + 1]).ok()?,
        };
        let value = if kept.contains(&key.as_str()) {
            serde_json::from_str(&text[value.clone()]).ok()?
        } else {
            kind_at(text.as_bytes(), value.start)
        };
        object.insert(key, value);
    }
    Some((object, layout))
}

/// What a member not kept stands as: an empty value of its own type, known by
/// its first byte ([`Kind`]).
fn kind_at(bytes: &[u8], at: usize) -> Value {
    match bytes[at] {
        b'"' => Value::String(String::new()),
        b'[' => Value::Array(Vec::new()),
        b'{' => Value::Object(Map::new()),
        b't' => Value::Bool(true),
        b'f' => Value::Bool(false),
        b'n' => Value::Null,
        _ => Value::from(0),
    }
}

fn read_from<'de, R: serde_json::de::Read<'de>>(
    read: R,
    kept: &[&str],
) -> serde_json::Result<Map<String, Value>> {
    let mut deserializer = serde_json::Deserializer::new(read);
    let members = Members { kept }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(members)
}

struct Members<'k> {
    kept: &'k [&'k str],
}

impl<'de> DeserializeSeed<'de> for Members<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = if self.kept.contains(&key.as_str()) {
                map.next_value::<Value>()?
            } else {
                map.next_value::<Kind>()?.0
            };
            members.insert(key, value);
        }
        Ok(members)
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

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Kind, A::Error> {
        Skip.visit_seq(seq)?;
        Ok(Kind(Value::Array(Vec::new())))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Kind, A::Error> {
        Skip.visit_map(map)?;
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
    use super::*;

    #[test]
    fn only_the_kept_members_are_built_and_the_rest_keep_their_type() {
        let body = br#"{"usage": {"n": 1}, "choices": [{"text": "long"}], "id": "x", "n": 2.5,
            "ok": true, "none": null, "meta": {"a": [1]}}"#;
        let members = read_object(body, &["usage", "ok"]).unwrap();
        let expected = serde_json::json!({"usage": {"n": 1}, "choices": [], "id": "",
            "n": 0, "ok": true, "none": null, "meta": {}});
        assert_eq!(Value::Object(members), expected);
        let text = std::str::from_utf8(body).unwrap();
        let members = read_object_str(text, &["usage", "ok"]).unwrap();
        assert_eq!(Value::Object(members), expected);
    }

    #[test]
    fn one_member_is_read_as_the_whole_would_have_it() {
        let member = |body: &str| read_member(body.as_bytes(), "usage").unwrap();
        let usage = serde_json::json!({"n": 1});
        assert_eq!(
            member(r#"{"id": "x", "usage": {"n": 1}}"#),
            Some(usage.clone())
        );
        assert_eq!(member(r#"{"id": "x", "choices": [{"usage": 2}]}"#), None);
        // an escaped key, and a key given twice (the last counts), as in a tree
        assert_eq!(member(r#"{"us\u0061ge": {"n": 1}}"#), Some(usage.clone()));
        assert_eq!(member(r#"{"usage": 2, "usage": {"n": 1}}"#), Some(usage));
        for body in [
            r#"{"usage": 1, "a": [}"#,
            r#"[{"usage": 1}]"#,
            r#"{"usage": "\ud800"}"#,
        ] {
            assert!(read_member(body.as_bytes(), "usage").is_err(), "{body}");
        }
    }

    #[test]
    fn it_fails_where_a_tree_would() {
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(200), "]".repeat(200));
        let bodies: [&[u8]; 7] = [
            br#"{"a": ["\ud800"]}"#,
            br#"{"a": [1e999]}"#,
            deep.as_bytes(),
            br#"{"a": [}"#,
            br#"{"a": 1} {}"#,
            br#"[1]"#,
            b"{\"a\": \"\xff\"}",
        ];
        for body in bodies {
            let shown = String::from_utf8_lossy(body);
            assert!(
                serde_json::from_slice::<Value>(body).map_or(true, |v| !v.is_object()),
                "{shown}"
            );
            assert!(read_object(body, &[]).is_err(), "{shown}");
            if let Ok(text) = std::str::from_utf8(body) {
                assert!(read_object_str(text, &[]).is_err(), "{shown}");
                assert!(read_object_laid_out(text, &[]).is_none(), "{shown}");
            }
        }
    }

    /// Nesting is counted from the top, as in the whole: a member may nest
    /// as deep as `serde_json` lets it inside its object, and no deeper.
    #[test]
    fn a_member_nests_as_deep_as_in_the_whole() {
        for levels in [1, 125, 126, 127, 128, 129] {
            for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
                let body = format!(
                    "{{\"model\": \"m\", \"a\": {}1{}}}",
                    open.repeat(levels),
                    close.repeat(levels)
                );
                let whole = serde_json::from_str::<Value>(&body).is_ok();
                assert_eq!(
                    read_object_laid_out(&body, &[]).is_some(),
                    whole,
                    "{levels}"
                );
                assert_eq!(read_object_str(&body, &[]).is_ok(), whole, "{levels}");
                let kept = read_object_laid_out(&body, &["a"]).is_some();
                assert_eq!(kept, whole, "{levels}, kept");
            }
        }
    }

    #[test]
    fn the_walk_reads_members_as_the_whole_reads_them() {
        let body = r#" {"model":"m","stream":true, "n": -1.5e3, "s": "a\"b\u00e9",
            "none": null, "x": {"a": [1, {"b": []}]}, "\u006dodel": "last"} "#;
        let (walked, layout) = read_object_laid_out(body, &["model", "stream"]).unwrap();
        assert_eq!(walked, read_object_str(body, &["model", "stream"]).unwrap());
        assert_eq!(walked["model"], "last");
        assert_eq!(layout.members.len(), 7);
        assert_eq!(&body[layout.members[3].0.clone()], "s");
        assert_eq!(&body[layout.members[3].1.clone()], r#""a\"b\u00e9""#);
    }
}
