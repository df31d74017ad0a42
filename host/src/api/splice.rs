//! A client's JSON body edited in its bytes: a top-level member set without
//! parsing the body into a tree and writing it out again.
//!
//! This is how a request that needs no other change (no overrides, nothing
//! redacted, the provider speaks the client's API) goes upstream: the client's
//! bytes with the target's model spliced in. Everything else the client sent
//! (key order, number spelling, whitespace, fields sluice knows nothing about)
//! reaches the provider exactly as written.
//!
//! The body has already been parsed as JSON by the pipeline; this module only
//! finds where its top-level members sit ([`Layout`]), unless the reader of the
//! body said. It declines (returns `None`) where
//! splicing could differ from what the parsed body says: a key written with
//! escapes, or a key that appears twice. The caller then writes the parsed
//! body instead.

use crate::api::json_check::{self, skip_space};
use bytes::Bytes;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// A client's body as it came, once the request's reader has checked all of
/// it as JSON (as `serde_json` checks it), and where its top-level members
/// sit when that reader found out.
#[derive(Debug, Clone)]
pub struct ClientBytes {
    /// The body, byte for byte: valid JSON.
    pub bytes: Bytes,
    /// Where its top-level members sit, if known.
    pub layout: Option<Arc<Layout>>,
}

impl ClientBytes {
    /// `body` with `edits` made, in pieces ([`edit`]); where the reader did
    /// not say where the members sit, they are found without checking the
    /// body again ([`Layout::read_valid`]).
    pub fn edit(&self, edits: &[Edit<'_>]) -> Option<Vec<Bytes>> {
        match &self.layout {
            Some(layout) => edit(&self.bytes, Some(layout), edits),
            None => edit(&self.bytes, Some(&Layout::read_valid(&self.bytes)?), edits),
        }
    }
}

impl Deref for ClientBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// What to do to one top-level member.
#[derive(Debug, Clone, Copy)]
pub enum Edit<'a> {
    /// Set the member `.0` to the JSON text `.1`: replaced where it stands
    /// when present, added first when absent.
    Set(&'a str, &'a str),
    /// Add the member `.0` as `.1`, first; the edit declines when `.0` is
    /// already there.
    Add(&'a str, &'a str),
}

/// Where an object's top-level members sit in its text, as the reader that
/// parsed it found them ([`crate::api::shallow::read_object_laid_out`]): an
/// edit given it reads no byte of the body again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Offset of the opening brace.
    pub open: usize,
    /// Each member's key (as written, between its quotes) and its value.
    pub members: Vec<(Range<usize>, Range<usize>)>,
}

/// `body`, a JSON object, with `edits` made, as pieces to send in turn: the
/// body's own bytes shared (not copied) between new text (the values set, the
/// members added); its members found from `layout` when given (which must be
/// `body`'s), else by reading its top level. Members added come first, the
/// last edit's first. `None` when the top level cannot be read plainly (see
/// the module doc), `body` is not an object, or an [`Edit::Add`] finds its
/// member there.
pub fn edit(body: &Bytes, layout: Option<&Layout>, edits: &[Edit<'_>]) -> Option<Vec<Bytes>> {
    let read;
    let top = match layout {
        Some(layout) => layout,
        None => {
            read = Layout::read(body)?;
            &read
        }
    };
    let mut replaced: Vec<(Range<usize>, &str)> = Vec::new();
    let mut added: Vec<(&str, &str)> = Vec::new();
    for edit in edits {
        match *edit {
            Edit::Set(key, value) => match top.value_of(body, key)? {
                Some(span) => replaced.push((span, value)),
                None => added.push((key, value)),
            },
            Edit::Add(key, value) => match top.value_of(body, key)? {
                Some(_) => return None,
                None => added.push((key, value)),
            },
        }
    }
    replaced.sort_by_key(|(span, _)| span.start);
    let extra: usize = edits
        .iter()
        .map(|(Edit::Set(k, v) | Edit::Add(k, v))| k.len() + v.len() + 4)
        .sum();
    let mut out = Pieces::new(body, extra);
    let after_brace = top.open + 1;
    out.keep(0..after_brace);
    for (i, (key, value)) in added.iter().rev().enumerate() {
        if i > 0 {
            out.write(b",");
        }
        out.write(b"\"");
        out.write(key.as_bytes());
        out.write(b"\":");
        out.write(value.as_bytes());
    }
    if !added.is_empty() && !top.members.is_empty() {
        out.write(b",");
    }
    let mut at = after_brace;
    for (span, value) in replaced {
        out.keep(at..span.start);
        out.write(value.as_bytes());
        at = span.end;
    }
    out.keep(at..body.len());
    Some(out.finish())
}

/// An edited body's pieces as they are made: ranges of the body shared, new
/// text gathered into one piece until the next shared range.
struct Pieces<'b> {
    body: &'b Bytes,
    pieces: Vec<Bytes>,
    new: Vec<u8>,
}

impl<'b> Pieces<'b> {
    /// Below this, a range of the body is copied with the new text around
    /// it rather than shared: a piece costs more than a short copy.
    const SHARE_FROM: usize = 256;

    /// Pieces of `body` with `extra` bytes of new text at most.
    fn new(body: &'b Bytes, extra: usize) -> Self {
        Pieces {
            body,
            pieces: Vec::with_capacity(3),
            // a short body is copied whole: room for all of it
            new: Vec::with_capacity(extra + body.len().min(2 * Self::SHARE_FROM)),
        }
    }

    fn write(&mut self, text: &[u8]) {
        self.new.extend_from_slice(text);
    }

    fn keep(&mut self, range: Range<usize>) {
        if range.len() < Self::SHARE_FROM {
            self.new.extend_from_slice(&self.body[range]);
            return;
        }
        self.flush();
        self.pieces.push(self.body.slice(range));
    }

    fn flush(&mut self) {
        if !self.new.is_empty() {
            self.pieces.push(Bytes::from(std::mem::take(&mut self.new)));
        }
    }

    fn finish(mut self) -> Vec<Bytes> {
        self.flush();
        self.pieces
    }
}

impl Layout {
    /// Where the top-level members of the JSON object `body` (a UTF-8
    /// text's bytes) sit; `None` when it is no valid object, checked as
    /// [`json_check`] checks it.
    pub fn read(body: &[u8]) -> Option<Layout> {
        let open = skip_space(body, 0);
        let mut members = Vec::with_capacity(8);
        let end = json_check::object_end(body, open, OBJECT_DEPTH, |key, value| {
            members.push((key, value));
        })?;
        // nothing but whitespace after the object
        (skip_space(body, end) == body.len()).then_some(Layout { open, members })
    }

    /// [`Layout::read`] for a body known to be a valid JSON text (parsed
    /// whole by `serde_json`): its values are crossed, not checked, and
    /// strings from quote to quote rather than escape to escape. A guarded
    /// 32 KB request's body went through `Layout::read` after its full parse
    /// (2.2% of the gateway's samples in `guardrails-32k`). `None` where it
    /// is not an object.
    pub fn read_valid(body: &[u8]) -> Option<Layout> {
        let open = skip_space(body, 0);
        let mut members = Vec::with_capacity(8);
        json_check::valid_object_end(body, open, |key, value| members.push((key, value)))?;
        Some(Layout { open, members })
    }

    /// The span of `key`'s value in `body`: `Some(None)` when absent, `None`
    /// when a key has escapes (it might spell `key`) or `key` appears more
    /// than once.
    pub fn value_of(&self, body: &[u8], key: &str) -> Option<Option<Range<usize>>> {
        let mut found = None;
        for (name, span) in &self.members {
            let name = &body[name.clone()];
            if name.contains(&b'\\') {
                return None;
            }
            if name == key.as_bytes() {
                if found.is_some() {
                    return None;
                }
                found = Some(span.clone());
            }
        }
        Some(found)
    }
}

/// How deep an object may nest, its own level included: `serde_json`
/// refuses a 128th.
const OBJECT_DEPTH: usize = 127;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::shallow::read_object_laid_out;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// An edited body's pieces, joined.
    fn joined(pieces: Vec<Bytes>) -> String {
        String::from_utf8(pieces.concat()).unwrap()
    }

    fn edited(body: &str, edits: &[Edit<'_>]) -> Option<String> {
        edit(&Bytes::copy_from_slice(body.as_bytes()), None, edits).map(joined)
    }

    fn set(body: &str, key: &str, value: &str) -> Option<String> {
        edited(body, &[Edit::Set(key, value)])
    }

    fn has_member(body: &[u8], key: &str) -> Option<bool> {
        let layout = Layout::read(body)?;
        Some(layout.value_of(body, key)?.is_some())
    }

    #[test]
    fn replaces_a_member_where_it_stands_and_keeps_every_other_byte() {
        let body = r#"{ "messages" : [{"role":"user","content":"say \"model\": 1e3"}],
            "model":"gpt-x", "temperature": 1.50, "x": {"model": "inner"} }"#;
        let out = set(body, "model", "\"gpt-y\"").unwrap();
        assert_eq!(
            out,
            body.replace("\"model\":\"gpt-x\"", "\"model\":\"gpt-y\"")
        );
    }

    #[test]
    fn adds_a_missing_member_first() {
        assert_eq!(
            set(r#"{"a":1}"#, "model", "\"m\"").unwrap(),
            r#"{"model":"m","a":1}"#
        );
        assert_eq!(
            set(" {  } ", "model", "\"m\"").unwrap(),
            r#" {"model":"m"  } "#
        );
    }

    #[test]
    fn declines_what_it_cannot_read_plainly() {
        // a key with an escape may spell the key
        assert_eq!(set(r#"{"mod\u0065l":"a"}"#, "model", "\"m\""), None);
        // a repeated key: which one counts is the parser's business
        assert_eq!(set(r#"{"model":"a","model":"b"}"#, "model", "\"m\""), None);
        assert_eq!(set("[1]", "model", "\"m\""), None);
        assert_eq!(set(r#"{"a":"unterminated}"#, "model", "\"m\""), None);
    }

    #[test]
    fn edits_are_made_the_last_added_first() {
        let edits = [
            Edit::Set("model", "\"m\""),
            Edit::Add("stream_options", "{\"u\":1}"),
        ];
        assert_eq!(
            edited(r#"{"a":1, "model": "x"}"#, &edits).unwrap(),
            r#"{"stream_options":{"u":1},"a":1, "model": "m"}"#
        );
        assert_eq!(
            edited(r#"{"a":1}"#, &edits).unwrap(),
            r#"{"stream_options":{"u":1},"model":"m","a":1}"#
        );
        assert_eq!(
            edited("{ }", &edits).unwrap(),
            r#"{"stream_options":{"u":1},"model":"m" }"#
        );
        // `Add` declines a member that is there
        assert_eq!(edited(r#"{"stream_options":null}"#, &edits), None);
    }

    #[test]
    fn a_long_body_is_shared_not_copied() {
        let content = "x".repeat(4096);
        let body = Bytes::from(format!(
            r#"{{"model":"a","messages":[{{"role":"user","content":"{content}"}}]}}"#
        ));
        let pieces = edit(&body, None, &[Edit::Set("model", "\"bb\"")]).unwrap();
        // the new text with the short range before it, then the rest as it is
        assert_eq!(pieces.len(), 2);
        assert_eq!(&pieces[0][..], br#"{"model":"bb""#);
        let rest = &body[br#"{"model":"a""#.len()..];
        assert_eq!(pieces[1].as_ptr(), rest.as_ptr());
        assert_eq!(pieces[1].len(), rest.len());
    }

    #[test]
    fn a_layout_says_where_each_member_sits() {
        let body = r#" { "messages" : [{"content":"say \"model\": 1"}], "model":"gpt-x",
            "n": 1.5e3, "x": {"model": "inner"} } "#;
        let layout = Layout::read(body.as_bytes()).unwrap();
        assert_eq!(&body[layout.open..=layout.open], "{");
        let members: Vec<(&str, &str)> = layout
            .members
            .iter()
            .map(|(key, value)| (&body[key.clone()], &body[value.clone()]))
            .collect();
        assert_eq!(
            members,
            [
                ("messages", r#"[{"content":"say \"model\": 1"}]"#),
                ("model", r#""gpt-x""#),
                ("n", "1.5e3"),
                ("x", r#"{"model": "inner"}"#),
            ]
        );
        let raw = ClientBytes {
            bytes: Bytes::copy_from_slice(body.as_bytes()),
            layout: Some(Arc::new(layout)),
        };
        assert_eq!(
            joined(raw.edit(&[Edit::Set("model", "\"m\"")]).unwrap()),
            body.replace(r#""model":"gpt-x""#, r#""model":"m""#)
        );
    }

    #[test]
    fn a_valid_body_s_members_are_found_without_checking_it() {
        for body in [
            r#"{}"#,
            r#" { } "#,
            r#"{"a":"x\\","b":"\\\"}{[","c":[1,{"d":"]\"}"}],"e":-1.5e3,"f":true,"g":null}"#,
            "{\n  \"model\" :\t\"m\" ,\r\n \"n\": [ ] }",
            r#"{"s":"\u00e9\n\\","x":{"y":{"z":[[],{}]}},"k\"q":0}"#,
        ] {
            assert_eq!(
                Layout::read_valid(body.as_bytes()),
                Layout::read(body.as_bytes()),
                "{body}"
            );
        }
        assert_eq!(Layout::read_valid(b"[1]"), None);
        let raw = ClientBytes {
            bytes: Bytes::from_static(br#"{"a":"\\","model":"x"}"#),
            layout: None,
        };
        assert_eq!(
            joined(raw.edit(&[Edit::Set("model", "\"m\"")]).unwrap()),
            r#"{"a":"\\","model":"m"}"#
        );
    }

    #[test]
    fn tells_whether_a_member_is_there() {
        let body = br#"{"stream":true,"x":{"stream_options":1}}"#;
        assert_eq!(has_member(body, "stream"), Some(true));
        assert_eq!(has_member(body, "stream_options"), Some(false));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            "[ -~\\\\\"\u{e9}\u{1F600}\n]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-z\"\\\\]{0,6}", inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// A valid object with one ASCII byte changed: the walk refuses it
        /// exactly when `serde_json` does, and reads what its reader reads.
        #[test]
        fn the_walk_refuses_what_serde_json_refuses(
            members in prop::collection::vec(("[a-z\"\\\\]{0,6}|model", json_value()), 0..6),
            at in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"\"\\/{}[]:,.-+eE0123456789uUtfnlx \t\n\x01\x7f".to_vec()),
        ) {
            let text = serde_json::to_string(&Value::Object(members.into_iter().collect())).unwrap();
            let ascii: Vec<usize> = text.char_indices().filter(|(_, c)| c.is_ascii()).map(|(i, _)| i).collect();
            let mut bytes = text.into_bytes();
            bytes[ascii[at.index(ascii.len())]] = byte;
            let text = String::from_utf8(bytes).unwrap();
            let whole = serde_json::from_str::<Value>(&text).is_ok_and(|v| v.is_object());
            let walked = read_object_laid_out(&text, &["model"]);
            prop_assert_eq!(walked.is_some(), whole, "{}", text);
            if let Some((head, _)) = walked {
                let read = crate::api::shallow::read_object_str(&text, &["model"]).unwrap();
                prop_assert_eq!(head, read);
            }
        }

        /// Whatever the body, a splice either declines or gives the body the
        /// parser reads as the original with the member set.
        #[test]
        fn a_splice_means_what_setting_the_parsed_member_means(
            members in prop::collection::vec(("[a-z\"\\\\]{0,6}|model", json_value()), 0..8),
            pretty in any::<bool>(),
            model in "[ -~]{0,10}",
        ) {
            let object = Value::Object(members.into_iter().collect());
            let text = if pretty {
                serde_json::to_string_pretty(&object).unwrap()
            } else {
                serde_json::to_string(&object).unwrap()
            };
            let value = serde_json::to_string(&model).unwrap();
            let plain_keys = object
                .as_object()
                .unwrap()
                .keys()
                .all(|k| !k.contains(['"', '\\']));
            let out = edit(&Bytes::from(text.clone()), None, &[Edit::Set("model", &value)]);
            prop_assert_eq!(out.is_some(), plain_keys);
            if let Some(out) = out {
                let spliced: Value = serde_json::from_slice(&out.concat()).unwrap();
                // (what the parser reads: floats need not round-trip exactly)
                let mut expected: Value = serde_json::from_str(&text).unwrap();
                expected["model"] = Value::String(model.clone());
                prop_assert_eq!(spliced, expected);
            }
            if let Some(has) = has_member(text.as_bytes(), "model") {
                prop_assert_eq!(has, object.get("model").is_some());
            }
            // a valid body's members are where the checking walk finds them
            prop_assert_eq!(Layout::read_valid(text.as_bytes()), Layout::read(text.as_bytes()));
            // the reader that gives the layout reads the head as the old one
            let (head, _) = read_object_laid_out(&text, &["model"]).unwrap();
            prop_assert_eq!(
                Value::Object(head),
                Value::Object(crate::api::shallow::read_object_str(&text, &["model"]).unwrap())
            );
        }
    }
}
