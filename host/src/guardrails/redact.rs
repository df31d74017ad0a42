//! Applying redactions to text: the host's job, never the plugin's.

use std::ops::Range;

/// One span to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// Byte range of the text to replace (validated to be on char boundaries).
    pub span: Range<usize>,
    /// What to put there.
    pub replacement: String,
}

/// Returns `text` with every redaction applied. Overlapping spans (from one plugin
/// or several) are merged into one, replaced by the replacement of the span that
/// starts first (the longest, when two start together).
pub fn apply(text: &str, redactions: &[Redaction]) -> String {
    let mut order: Vec<&Redaction> = redactions.iter().collect();
    order.sort_by_key(|r| (r.span.start, std::cmp::Reverse(r.span.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for redaction in order {
        if redaction.span.end <= at && !redaction.span.is_empty() {
            continue; // wholly inside a span already replaced
        }
        if redaction.span.start >= at {
            out.push_str(&text[at..redaction.span.start]);
            out.push_str(&redaction.replacement);
            at = redaction.span.end;
        } else {
            at = at.max(redaction.span.end); // overlaps the previous one: extend it
        }
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(span: Range<usize>, with: &str) -> Redaction {
        Redaction {
            span,
            replacement: with.into(),
        }
    }

    #[test]
    fn replaces_in_order_whatever_the_input_order() {
        let text = "call 555 or mail a@b.co";
        let out = apply(text, &[r(17..23, "[EMAIL]"), r(5..8, "[PHONE]")]);
        assert_eq!(out, "call [PHONE] or mail [EMAIL]");
    }

    #[test]
    fn overlapping_spans_merge_and_first_replacement_wins() {
        let text = "0123456789";
        assert_eq!(apply(text, &[r(2..5, "[A]"), r(4..8, "[B]")]), "01[A]89");
        assert_eq!(apply(text, &[r(2..8, "[A]"), r(3..4, "[B]")]), "01[A]89");
        assert_eq!(apply(text, &[r(2..4, "[S]"), r(2..6, "[L]")]), "01[L]6789");
    }

    #[test]
    fn multibyte_text_is_kept_intact() {
        let text = "für jörg@example.de — ok";
        let start = text.find("jörg").unwrap();
        let end = start + "jörg@example.de".len();
        assert_eq!(apply(text, &[r(start..end, "[EMAIL]")]), "für [EMAIL] — ok");
    }

    #[test]
    fn nothing_to_do_returns_the_text() {
        assert_eq!(apply("same", &[]), "same");
    }
}
