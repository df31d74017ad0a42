//! JSON Pointers (RFC 6901) read without allocating.
//!
//! `serde_json::Value::pointer` makes two `String`s per token (to undo the
//! `~0`/`~1` escapes) on every call; the gateway reads pointers such as
//! `/delta/content` on every streamed chunk and `/usage/...` on every answer.
//! [`Pointer::at`] walks the same path on borrowed tokens, and leaves the rare
//! pointer with an escape to serde_json.

use serde_json::Value;

/// [`Value::pointer`] without its allocations.
pub trait Pointer {
    /// The value `pointer` names, as [`Value::pointer`] finds it.
    fn at(&self, pointer: &str) -> Option<&Value>;
}

impl Pointer for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        if pointer.contains('~') {
            return self.pointer(pointer);
        }
        if pointer.is_empty() {
            return Some(self);
        }
        pointer
            .strip_prefix('/')?
            .split('/')
            .try_fold(self, |target, token| match target {
                Value::Object(map) => map.get(token),
                Value::Array(list) => index(token).and_then(|i| list.get(i)),
                _ => None,
            })
    }
}

/// An array index as RFC 6901 writes it: digits, no sign, no leading zero.
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::Pointer;
    use serde_json::json;

    #[test]
    fn it_finds_what_serde_json_finds() {
        let value = json!({
            "a": {"b": [10, {"c": "d"}], "": {"": 1}},
            "x/y": 2, "m~n": 3, "01": 4, "list": [0, 1, 2],
            "delta": {"content": "hi"}
        });
        let pointers = [
            "",
            "/",
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1/c",
            "/a/b/2",
            "/a/b/01",
            "/a/b/-1",
            "/a/b/+1",
            "/a/b/ 1",
            "/a/",
            "/a//",
            "/x~1y",
            "/m~0n",
            "/m~n",
            "/01",
            "/list/00",
            "/list/2",
            "/list/3",
            "/list/18446744073709551616",
            "a",
            "/delta/content",
            "/delta/content/x",
            "/nope",
            "//",
        ];
        for pointer in pointers {
            assert_eq!(value.at(pointer), value.pointer(pointer), "{pointer:?}");
        }
    }
}
