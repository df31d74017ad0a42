#!/usr/bin/env python3
"""Generates src/fold/table.rs, the character folding table of the content filter.

    python3 tools/gen_fold_table.py > src/fold/table.rs

For every code point outside ASCII it decides what the normaliser makes of it:

- `Invisible`: zero-width, format and other invisible characters (the list
  below, plus every other format character, category Cf). Dropped from words;
  runs of them are what the hidden-text scanner looks at.
- `Mark`: combining marks (categories Mn, Me). Dropped: `e` + U+0301 reads `e`.
- `Byte` / `Str` / `Seq`: the character reads as these ASCII characters:
  NFKD decomposition (fullwidth forms, mathematical alphanumerics, ligatures,
  circled and superscript letters, accented letters), combining marks removed,
  case folded, then the homoglyph table below (Cyrillic, Greek and other
  look-alikes that Unicode does not decompose). Kept only when the result is
  ASCII and no longer, in bytes, than the character's UTF-8 form, and, for
  symbols, a single character (so that `™` stays a symbol).
- anything else is absent: the normaliser keeps letters of other scripts as
  letters (lowercased) and everything else as a symbol.

Written with the Unicode database of the Python that runs it; the table says
which version.
"""

import sys
import unicodedata

# Invisible characters that are not format characters (Cf), or that are marks
# (Mn) but used to hide data rather than to write: fillers, joiners, variation
# selectors. Keep in sync with `hidden::is_invisible` (a unit test checks it).
INVISIBLE = [
    (0x00AD, 0x00AD),  # soft hyphen (Cf)
    (0x034F, 0x034F),  # combining grapheme joiner (Mn)
    (0x061C, 0x061C),  # Arabic letter mark (Cf)
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers (Lo)
    (0x17B4, 0x17B5),  # Khmer inherent vowels (Mn)
    (0x180B, 0x180F),  # Mongolian free variation selectors, vowel separator
    (0x200B, 0x200F),  # zero width space, non-joiner, joiner, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible function application/times/separator/plus
    (0x2066, 0x2069),  # bidi isolates
    (0x206A, 0x206F),  # deprecated format characters
    (0x3164, 0x3164),  # Hangul filler (Lo)
    (0xFE00, 0xFE0F),  # variation selectors 1-16 (Mn)
    (0xFEFF, 0xFEFF),  # zero width no-break space, byte order mark
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler (Lo)
    (0xFFF9, 0xFFFB),  # interlinear annotation anchors
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE007F),  # tag characters (ASCII smuggling)
    (0xE0100, 0xE01EF),  # variation selectors 17-256 (Mn)
]

# Format characters that are visible: the prepended concatenation marks.
VISIBLE_FORMAT = {0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06DD, 0x070F,
                  0x0890, 0x0891, 0x08E2, 0x110BD, 0x110CD}

# Whitespace that is not category Z*.
SPACES = {0x0085: " ", 0x2800: " "}  # next line, braille pattern blank

# Punctuation that should read as ASCII punctuation.
PUNCT = {
    0x2018: "'", 0x2019: "'", 0x201A: "'", 0x201B: "'", 0x2032: "'", 0x00B4: "'",
    0x02BC: "'", 0x02B9: "'", 0x2035: "'",
    0x201C: '"', 0x201D: '"', 0x201E: '"', 0x201F: '"', 0x2033: '"', 0x00AB: '"',
    0x00BB: '"', 0x2039: '"', 0x203A: '"',
    0x2010: "-", 0x2011: "-", 0x2043: "-",
    0x00B7: ".", 0x2027: ".", 0x2219: ".",
}

# Look-alikes that NFKD leaves alone, after case folding. Letters of other
# scripts that are drawn like Latin ones in common fonts (Unicode's
# confusables.txt, the lowercase forms most used in evasions), small capitals,
# and Latin letters with a stroke or a hook.
HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "і": "i", "ї": "i", "ј": "j",
    "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y",
    "х": "x", "ѕ": "s", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ь": "b",
    "ɡ": "g", "ү": "y", "ҽ": "e", "ӕ": "ae", "ԍ": "g", "ԏ": "t", "ꙇ": "i",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "ζ": "z", "η": "n", "ι": "i", "κ": "k",
    "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c",
    "ϳ": "j", "ϵ": "e", "ϱ": "p",
    # Armenian
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "զ": "q",
    # Latin letters without a decomposition
    "ø": "o", "đ": "d", "ħ": "h", "ł": "l", "ŀ": "l", "ŧ": "t", "ƀ": "b", "ɨ": "i",
    "ɵ": "o", "ǥ": "g", "ʉ": "u", "ȼ": "c", "ɇ": "e", "ɍ": "r", "ɏ": "y", "æ": "ae",
    "œ": "oe", "ð": "d", "ĸ": "k", "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i",
    "ƅ": "b", "ɓ": "b", "ƈ": "c", "ɗ": "d", "ƒ": "f", "ɠ": "g", "ɦ": "h", "ƙ": "k",
    "ɱ": "m", "ɲ": "n", "ƥ": "p", "ʠ": "q", "ɽ": "r", "ʂ": "s", "ƭ": "t", "ʋ": "v",
    "ⱳ": "w", "ƴ": "y", "ȥ": "z", "ʐ": "z",
    # small capitals
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h",
    "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p",
    "ǫ": "q", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y",
    "ᴢ": "z",
}

# Enclosed letters that have no decomposition: negative circled and negative
# squared capitals (U+1F150.., U+1F170..) read as their letter.
EXTRA_SEQ = [(0x1F150, 0x1F169), (0x1F170, 0x1F189)]


def in_ranges(cp, ranges):
    return any(lo <= cp <= hi for lo, hi in ranges)


def fold(cp):
    """(kind, value) for one code point, or None."""
    c = chr(cp)
    cat = unicodedata.category(c)
    if in_ranges(cp, INVISIBLE):
        return ("invisible", None)  # assigned in this database or not
    if cat == "Cn" or cat == "Cs" or cat == "Co":
        return None
    if cat == "Cf" and cp not in VISIBLE_FORMAT:
        return ("invisible", None)
    if cat in ("Mn", "Me"):
        return ("mark", None)
    if cp in SPACES:
        return ("ascii", SPACES[cp])
    if cat in ("Zs", "Zl", "Zp"):
        return ("ascii", " ")
    if cp in PUNCT:
        return ("ascii", PUNCT[cp])
    for lo, hi in EXTRA_SEQ:
        if lo <= cp <= hi:
            return ("ascii", chr(ord("a") + cp - lo))
    s = unicodedata.normalize("NFKD", c)
    s = "".join(ch for ch in s if unicodedata.category(ch) not in ("Mn", "Me"))
    s = s.casefold()
    s = "".join(HOMOGLYPHS.get(ch, ch) for ch in s)
    if not s or not s.isascii() or len(s) > len(c.encode()):
        return None
    if not s.isprintable():
        return None
    if cat[0] not in "LN" and len(s) != 1:
        return None
    if cat[0] in "LN" and not s.isalnum():
        return None  # ½ -> "1/2", ŉ -> "'n": keep them out of words
    return ("ascii", s)


def rust_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rust_byte(s):
    if s == "'":
        return "b'\\''"
    if s == "\\":
        return "b'\\\\'"
    return "b'" + s + "'"


def main():
    entries = []  # [first, last, kind, value, mode]
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        f = fold(cp)
        if f is None:
            continue
        kind, value = f
        if entries:
            e = entries[-1]
            if e[1] + 1 == cp and e[2] == kind:
                if kind in ("invisible", "mark"):
                    e[1] = cp
                    continue
                if e[4] in (None, "same") and e[3] == value:
                    e[1], e[4] = cp, "same"
                    continue
                if (e[4] in (None, "seq") and len(value) == 1 and len(e[3]) == 1
                        and value.isalnum()
                        and ord(value) == ord(e[3]) + (cp - e[0])):
                    e[1], e[4] = cp, "seq"
                    continue
        entries.append([cp, cp, kind, value, None])

    out = sys.stdout
    out.write("// Generated by tools/gen_fold_table.py from the Unicode %s database: do not edit.\n"
              % unicodedata.unidata_version)
    out.write("//! The folding table: sorted, disjoint code point ranges.\n\n")
    out.write("use super::Fold;\n\n")
    out.write("/// The Unicode version the table was generated from.\n")
    out.write("pub const UNICODE_VERSION: &str = \"%s\";\n\n" % unicodedata.unidata_version)
    out.write("/// `(first, last, fold)`; for `Fold::Byte` ranges longer than one code point,\n")
    out.write("/// the byte is the first code point's and the others follow it (`a`, `b`, ...).\n")
    out.write("pub static RANGES: &[(u32, u32, Fold)] = &[\n")
    for first, last, kind, value, mode in entries:
        if kind == "invisible":
            f = "Fold::Invisible"
        elif kind == "mark":
            f = "Fold::Mark"
        elif len(value) == 1:
            f = "Fold::Byte(%s)" % rust_byte(value)
        else:
            f = "Fold::Str(%s)" % rust_str(value)
        if mode == "same" and len(value or "") == 1:
            # A run of code points that all read as the same byte: split into
            # single entries would be wasteful; mark it with Fold::Same.
            f = "Fold::Same(%s)" % rust_byte(value)
        out.write("    (0x%04X, 0x%04X, %s),\n" % (first, last, f))
    out.write("];\n")


if __name__ == "__main__":
    main()
