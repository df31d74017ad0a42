//! Applying redactions to text: the host's job, never the plugin's.

use std::collections::HashMap;
use std::ops::Range;

/// One span to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// Byte range of the text to replace (validated to be on char boundaries).
    pub span: Range<usize>,
    /// What to put there.
    pub replacement: String,
}

/// Numbers placeholders within one call (its request and its response), so that
/// the same value always gets the same placeholder and different values
/// different ones: `[EMAIL_1]` mailed `[EMAIL_2]`, then `[EMAIL_1]` again. The
/// model can still tell the people apart without seeing who they are, and a new
/// value in the answer never reuses a number the request gave someone else.
///
/// Only bracketed replacements (`[EMAIL]`, `[SECRET:github-pat]`) are numbered;
/// any other replacement (such as the empty string that strips hidden text) is
/// used as is. The values are kept only as long as this value lives.
#[derive(Debug, Default)]
pub struct Placeholders {
    /// (replacement, redacted value) → its number.
    numbers: HashMap<(String, String), usize>,
    /// replacement → how many values it has numbered.
    counts: HashMap<String, usize>,
}

impl Placeholders {
    /// The text that replaces `value` for a redaction whose replacement is `replacement`.
    pub fn label(&mut self, replacement: &str, value: &str) -> String {
        let Some(inner) = replacement
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .filter(|inner| !inner.is_empty())
        else {
            return replacement.to_string();
        };
        let key = (replacement.to_string(), value.to_string());
        let number = match self.numbers.get(&key) {
            Some(number) => *number,
            None => {
                let count = self.counts.entry(key.0.clone()).or_default();
                *count += 1;
                self.numbers.insert(key, *count);
                *count
            }
        };
        format!("[{inner}_{number}]")
    }
}

/// Returns `text` with every redaction applied, placeholders numbered by
/// `placeholders`. Overlapping spans (from one plugin or several) are merged into
/// one, replaced by the replacement of the span that starts first (the longest,
/// when two start together).
pub fn apply(text: &str, redactions: &[Redaction], placeholders: &mut Placeholders) -> String {
    let mut order: Vec<&Redaction> = redactions.iter().collect();
    order.sort_by_key(|r| (r.span.start, std::cmp::Reverse(r.span.end)));
    // Merge first, so a placeholder is numbered by the whole text it replaces.
    let mut merged: Vec<(Range<usize>, &str)> = Vec::new();
    for redaction in order {
        match merged.last_mut() {
            Some((span, _)) if redaction.span.start < span.end => {
                span.end = span.end.max(redaction.span.end);
            }
            _ => merged.push((redaction.span.clone(), &redaction.replacement)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (span, replacement) in merged {
        out.push_str(&text[at..span.start]);
        out.push_str(&placeholders.label(replacement, &text[span.clone()]));
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A call's numbering, shared by its request check, its response check and its
/// stream guard (which may run on different threads, one after another).
pub type SharedPlaceholders = std::sync::Arc<std::sync::Mutex<Placeholders>>;

/// Locks a call's numbering. A panic elsewhere while it was held leaves the
/// numbering as it was (each change is one insert), so it is used as is.
pub fn lock(shared: &SharedPlaceholders) -> std::sync::MutexGuard<'_, Placeholders> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_fresh(text: &str, redactions: &[Redaction]) -> String {
        apply(text, redactions, &mut Placeholders::default())
    }

    fn r(span: Range<usize>, with: &str) -> Redaction {
        Redaction {
            span,
            replacement: with.into(),
        }
    }

    #[test]
    fn replaces_in_order_whatever_the_input_order() {
        let text = "call 555 or mail a@b.co";
        let out = apply_fresh(text, &[r(17..23, "[EMAIL]"), r(5..8, "[PHONE]")]);
        assert_eq!(out, "call [PHONE_1] or mail [EMAIL_1]");
    }

    #[test]
    fn overlapping_spans_merge_and_first_replacement_wins() {
        let text = "0123456789";
        assert_eq!(
            apply_fresh(text, &[r(2..5, "[A]"), r(4..8, "[B]")]),
            "01[A_1]89"
        );
        assert_eq!(
            apply_fresh(text, &[r(2..8, "[A]"), r(3..4, "[B]")]),
            "01[A_1]89"
        );
        assert_eq!(
            apply_fresh(text, &[r(2..4, "[S]"), r(2..6, "[L]")]),
            "01[L_1]6789"
        );
    }

    #[test]
    fn multibyte_text_is_kept_intact() {
        let text = "für jörg@example.de — ok";
        let start = text.find("jörg").unwrap();
        let end = start + "jörg@example.de".len();
        assert_eq!(
            apply_fresh(text, &[r(start..end, "[EMAIL]")]),
            "für [EMAIL_1] — ok"
        );
    }

    #[test]
    fn nothing_to_do_returns_the_text() {
        assert_eq!(apply_fresh("same", &[]), "same");
    }

    #[test]
    fn the_same_value_keeps_its_number_across_texts() {
        let mut placeholders = Placeholders::default();
        let first = "a@x.io wrote to b@y.io";
        let first_out = apply(
            first,
            &[r(0..6, "[EMAIL]"), r(16..22, "[EMAIL]")],
            &mut placeholders,
        );
        assert_eq!(first_out, "[EMAIL_1] wrote to [EMAIL_2]");
        let second = "b@y.io replied, cc a@x.io and c@z.io";
        let second_out = apply(
            second,
            &[
                r(0..6, "[EMAIL]"),
                r(19..25, "[EMAIL]"),
                r(30..36, "[EMAIL]"),
            ],
            &mut placeholders,
        );
        assert_eq!(second_out, "[EMAIL_2] replied, cc [EMAIL_1] and [EMAIL_3]");
    }

    #[test]
    fn numbers_count_per_placeholder_and_unbracketed_ones_stay_as_they_are() {
        let mut placeholders = Placeholders::default();
        assert_eq!(placeholders.label("[PHONE]", "555"), "[PHONE_1]");
        assert_eq!(placeholders.label("[EMAIL]", "555"), "[EMAIL_1]");
        assert_eq!(placeholders.label("", "\u{e0041}"), "");
        assert_eq!(placeholders.label("***", "x"), "***");
        assert_eq!(placeholders.label("[]", "x"), "[]");
        assert_eq!(
            placeholders.label("[SECRET:npm]", "npm_x"),
            "[SECRET:npm_1]"
        );
    }
}
