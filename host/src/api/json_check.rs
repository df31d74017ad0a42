//! A JSON value checked as `serde_json` checks it when it parses it into a
//! tree (`serde_json::Value`), without building anything: the reader of a
//! request's head ([`crate::api::shallow::read_object_laid_out`]) passes most
//! of a body through here, and only needs to know that it is valid and where
//! each value ends.
//!
//! What it refuses is what `serde_json` refuses: a control character in a
//! string, an unknown escape, a `\u` escape that is not four hex digits, a
//! lone surrogate (`\ud800` not followed by `\udc00`-`\udfff`, or a trailing
//! one alone), a number `serde_json` cannot read or that overflows an `f64`
//! (each number is given to `serde_json` itself: they are short and few),
//! literals other than `true`, `false`, `null`, and nesting deeper than the
//! levels allowed. Strings, nearly all of a chat body's bytes, are scanned
//! eight bytes at a time and never copied or unescaped.

use std::ops::Range;

/// Where the JSON value that starts at `bytes[at]` (no whitespace before
/// it) ends, if it is valid; `levels` is how many arrays or objects may
/// still open, the value's own included. `bytes` are a UTF-8 text's: strings
/// are not checked for UTF-8 again.
pub fn value_end(bytes: &[u8], at: usize, levels: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => string_end(bytes, at),
        b'{' => object_end(bytes, at, levels, |_, _| {}),
        b'[' => {
            let levels = levels.checked_sub(1)?;
            let mut at = skip_space(bytes, at + 1);
            if bytes.get(at) == Some(&b']') {
                return Some(at + 1);
            }
            loop {
                at = skip_space(bytes, value_end(bytes, at, levels)?);
                match bytes.get(at)? {
                    b',' => at = skip_space(bytes, at + 1),
                    b']' => return Some(at + 1),
                    _ => return None,
                }
            }
        }
        b't' => literal(bytes, at, b"true"),
        b'f' => literal(bytes, at, b"false"),
        b'n' => literal(bytes, at, b"null"),
        b'-' | b'0'..=b'9' => {
            let len = bytes[at..]
                .iter()
                .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .unwrap_or(bytes.len() - at);
            let end = at + len;
            // serde_json's own reading: its grammar, its range (the token is
            // ASCII)
            let token = std::str::from_utf8(&bytes[at..end]).ok()?;
            serde_json::from_str::<serde_json::Value>(token).ok()?;
            Some(end)
        }
        _ => None,
    }
}

/// Where the object that opens at `bytes[at]` (a `{`) ends, if it is valid,
/// telling `member` each member's key (between its quotes) and value as it
/// passes them; `levels` as for [`value_end`], the object's own included.
pub fn object_end(
    bytes: &[u8],
    at: usize,
    levels: usize,
    member: impl FnMut(Range<usize>, Range<usize>),
) -> Option<usize> {
    let levels = levels.checked_sub(1)?;
    members(
        bytes,
        at,
        string_end,
        |bytes, at| value_end(bytes, at, levels),
        member,
    )
}

/// [`object_end`] for a text known to be valid JSON (`serde_json` has parsed
/// it whole): nothing is checked again, and strings are crossed from quote
/// to quote ([`valid_value_end`]). `None` only if the text was not valid
/// after all.
pub fn valid_object_end(
    bytes: &[u8],
    at: usize,
    member: impl FnMut(Range<usize>, Range<usize>),
) -> Option<usize> {
    members(bytes, at, valid_string_end, valid_value_end, member)
}

/// The members of the object that opens at `bytes[at]`, read with `key_end`
/// and `value_end`: where it ends.
fn members(
    bytes: &[u8],
    at: usize,
    key_end: fn(&[u8], usize) -> Option<usize>,
    value_end: impl Fn(&[u8], usize) -> Option<usize>,
    mut member: impl FnMut(Range<usize>, Range<usize>),
) -> Option<usize> {
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    let mut at = skip_space(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some(at + 1);
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = key_end(bytes, at)?;
        let key = at + 1..key_end - 1;
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_space(bytes, at + 1);
        let end = value_end(bytes, start)?;
        member(key, start..end);
        at = skip_space(bytes, end);
        match bytes.get(at)? {
            b',' => at = skip_space(bytes, at + 1),
            b'}' => return Some(at + 1),
            _ => return None,
        }
    }
}

/// Where the value that starts at `bytes[at]` ends, in a text known to be
/// valid JSON: a string at its closing quote (found by `memchr`, quote to
/// quote, not at every escape), an array or object where its brackets
/// balance, anything else at the next `,`, `]`, `}` or whitespace.
pub fn valid_value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => valid_string_end(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'"' => {
                        i = valid_string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let len = bytes[at..]
                .iter()
                .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - at);
            Some(at + len)
        }
    }
}

/// The offset just past the string that opens at `start`, in valid JSON: the
/// first quote after it that an odd run of backslashes does not escape.
fn valid_string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut from = start + 1;
    loop {
        let quote = from + memchr::memchr(b'"', bytes.get(from..)?)?;
        let backslashes = bytes[from..quote]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return Some(quote + 1);
        }
        from = quote + 1;
    }
}

/// JSON whitespace, skipped from `at`.
pub fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

fn literal(bytes: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    bytes[at..].starts_with(word).then_some(at + word.len())
}

/// The offset just past the string that opens at `start` (a `"`), if it is
/// valid.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        at = next_special(bytes, at)?;
        match bytes[at] {
            b'"' => return Some(at + 1),
            b'\\' => at = escape_end(bytes, at + 1)?,
            _ => return None, // a control character
        }
    }
}

/// The escape whose letter is at `bytes[at]` (just after its `\`): where it
/// ends.
fn escape_end(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 1),
        b'u' => {
            let unit = hex4(bytes, at + 1)?;
            match unit {
                0xDC00..=0xDFFF => None, // a trailing surrogate alone
                0xD800..=0xDBFF => {
                    // a leading surrogate: a trailing one must follow
                    if bytes.get(at + 5) != Some(&b'\\') || bytes.get(at + 6) != Some(&b'u') {
                        return None;
                    }
                    let next = hex4(bytes, at + 7)?;
                    (0xDC00..=0xDFFF).contains(&next).then_some(at + 11)
                }
                _ => Some(at + 5),
            }
        }
        _ => None,
    }
}

/// The four hex digits at `bytes[at..]`, as a number.
fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = bytes.get(at..at + 4)?;
    digits.iter().try_fold(0u16, |n, &b| {
        let digit = (b as char).to_digit(16)?;
        Some(n << 4 | digit as u16)
    })
}

/// The first `"`, `\` or control character at or after `at`, eight bytes at
/// a time.
fn next_special(bytes: &[u8], mut at: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        // a byte's high bit set where it is zero (quote, backslash) or below
        // 0x20; bytes from 0x80 (UTF-8) are never flagged
        let found = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | word.wrapping_sub(ONES * 0x20) & !word)
            & HIGHS;
        if found != 0 {
            // the lowest flagged byte is exact (borrows only run upwards)
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|n| at + n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `serde_json`'s verdict on `text` as a whole value, and ours.
    fn both(text: &str) -> (bool, bool) {
        let theirs = serde_json::from_str::<serde_json::Value>(text).is_ok();
        let ours = value_end(text.as_bytes(), 0, 127)
            .is_some_and(|end| skip_space(text.as_bytes(), end) == text.len());
        (theirs, ours)
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for text in [
            "\"a\u{1}b\"",
            "\"tab\there\"",
            r#""\x""#,
            r#""\u12G4""#,
            r#""\ud800""#,
            r#""\ud800x""#,
            r#""\ud800\u0041""#,
            r#""\udc00""#,
            r#""\ud800\ud800""#,
            r#"[1e999]"#,
            r#"[-1e400]"#,
            r#"[01]"#,
            r#"[1.]"#,
            r#"[.5]"#,
            r#"[+1]"#,
            r#"[-]"#,
            r#"[1e]"#,
            r#"[tru]"#,
            r#"[truex]"#,
            r#"[1,]"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{1:2}"#,
            r#"["unterminated]"#,
            r#"[nul"#,
        ] {
            assert_eq!(both(text), (false, false), "{text}");
        }
    }

    #[test]
    fn accepts_what_serde_json_accepts() {
        for text in [
            r#""plain""#,
            r#""esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 end""#,
            "\"del \u{7f} and é and 😀\"",
            r#"[0, -0, 1.5, -2.25e-3, 1E+5, 18446744073709551616, 1e308]"#,
            r#"{"a": [true, false, null, {"b": []}], "c": {}}"#,
            " [ 1 , 2 ] ",
        ] {
            assert_eq!(both(text.trim()), (true, true), "{text}");
        }
    }

    #[test]
    fn nesting_stops_at_the_levels_given() {
        for levels in [1, 127, 128, 129] {
            let text = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
            assert_eq!(both(&text).0, both(&text).1, "{levels}");
            assert!(value_end(text.as_bytes(), 0, levels).is_some(), "{levels}");
            assert!(
                value_end(text.as_bytes(), 0, levels - 1).is_none(),
                "{levels}"
            );
        }
    }

    proptest! {
        /// Strings of bytes that stress escapes, surrogates and control
        /// characters: the same verdict as serde_json's, and the same end.
        #[test]
        fn strings_are_judged_as_serde_json_judges_them(
            body in r#"([a-z "\\/\u{1}\u{1f}\u{7f}é😀]|\\[u"\\/bfnrtx]|\\u[dD][89abcAB][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}){0,24}"#,
        ) {
            let text = format!("\"{body}\"");
            let (theirs, ours) = both(&text);
            prop_assert_eq!(theirs, ours, "{}", text);
        }

        /// Numbers and literals made of their own characters.
        #[test]
        fn numbers_are_judged_as_serde_json_judges_them(token in "[-+.eE0-9]{1,12}|[a-z]{1,6}") {
            let text = format!("[{token}]");
            let (theirs, ours) = both(&text);
            prop_assert_eq!(theirs, ours, "{}", text);
        }
    }
}
