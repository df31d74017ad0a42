//! IP addresses. IPv4 in dotted-quad form (each octet at most 255, no leading
//! zeros), IPv6 in any form `std::net` accepts. By default only addresses that
//! can point at a person or their machine are reported: loopback, private,
//! link-local, unspecified, multicast, broadcast and documentation ranges are
//! not, nor are version numbers (`v1.2.3.4`, `version 10.0.0.1`).

use crate::digits::{is_ascii_word_byte, word_at, word_before};
use crate::number_starts::NumberStarts;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// The longest textual IPv6 address (with an embedded IPv4).
pub const MAX_LEN: usize = 45;

/// An address found, and whether it is in a public (personal) range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Byte range in the text.
    pub span: Range<usize>,
    /// `ipv4` or `ipv6`.
    pub kind: &'static str,
    /// False for loopback, private, link-local and other non-personal ranges.
    pub public: bool,
}

/// Every IP address in `text`.
pub fn find(text: &str) -> Vec<Found> {
    find_in(text, &NumberStarts::new(text.as_bytes()))
}

/// [`find`], with the text's number starts already found.
pub(crate) fn find_in(text: &str, starts: &NumberStarts) -> Vec<Found> {
    let mut found = find_v4(text, starts);
    found.extend(find_v6(text));
    found.sort_by_key(|f| f.span.start);
    found
}

fn find_v4(text: &str, starts: &NumberStarts) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut cursor = starts.cursor();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i = cursor.next(i);
            continue;
        }
        if word_before(bytes, i) || (i > 0 && bytes[i - 1] == b'.') {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
            end += 1;
        }
        // A trailing dot ends a sentence, not the address.
        let mut token_end = end;
        while token_end > start && bytes[token_end - 1] == b'.' {
            token_end -= 1;
        }
        let token = &text[start..token_end];
        i = end.max(start + 1);
        if word_at(bytes, end) {
            continue;
        }
        let Some(address) = parse_v4(token) else {
            continue;
        };
        if is_version_context(&text[..start]) {
            continue;
        }
        out.push(Found {
            span: start..token_end,
            kind: "ipv4",
            public: public_v4(address),
        });
    }
    out
}

fn parse_v4(token: &str) -> Option<Ipv4Addr> {
    if token.bytes().filter(|&b| b == b'.').count() != 3 {
        return None; // most numbers: no need to split them
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 4
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 3 || (p.len() > 1 && p.starts_with('0')))
    {
        return None;
    }
    token.parse().ok()
}

fn public_v4(a: Ipv4Addr) -> bool {
    let [first, second, third, _] = a.octets();
    let documentation = matches!(
        (first, second, third),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113)
    );
    let shared = first == 100 && (64..=127).contains(&second);
    !(a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_multicast()
        || a.is_broadcast()
        || documentation
        || shared
        || first == 0
        || first >= 240)
}

/// Whether the text before a dotted quad says it is a version or another
/// dotted number, not an address: `v1.2.3.4`, `version 1.2.3.4`,
/// `__version__ = "1.2.3.4"`, `AssemblyVersion("1.2.3.4")`,
/// `<version>1.2.3.4`, `"version": "1.2.3.4"`, `==1.2.3.4` (pip), an image tag
/// `api:1.2.3.4`, `OID 2.5.4.3`, `section 4.5.1.54`.
fn is_version_context(before: &str) -> bool {
    let line = before.rsplit('\n').next().unwrap_or(before);
    let tail: String = line
        .chars()
        .rev()
        .take(32)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_lowercase();
    if tail.ends_with("==") || tail.ends_with('v') {
        return true;
    }
    // An image tag or a `name:version` pin: a colon right after a name, unless
    // the name says an address follows (`ip:`, `host:`, `from:` ...).
    if let Some(name) = tail.strip_suffix(':')
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        let word: String = name
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return !ADDRESS_WORDS.iter().any(|w| word.ends_with(w));
    }
    let words = tail.trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | '=' | ':' | '(' | '>' | '_' | '[' | '`')
    });
    // `AssemblyVersion`, `appVersion`, `__version__`: "version" ends any name.
    if words.ends_with("version") {
        return true;
    }
    if ["ver", "release", "build", "oid", "section", "chapter", "§"]
        .iter()
        .any(|word| {
            words
                .strip_suffix(word)
                .is_some_and(|rest| !rest.ends_with(|c: char| c.is_alphanumeric()))
        })
    {
        return true;
    }
    // `pinned the driver to 9.9.11.34`, `ドライバを8.1.2.73に固定`: a version
    // word earlier in the same sentence.
    VERSION_WORDS.iter().any(|word| {
        tail.match_indices(word).any(|(i, _)| {
            !tail[..i].ends_with(|c: char| c.is_ascii_alphanumeric())
                && !tail[i + word.len()..].starts_with(|c: char| c.is_ascii_alphabetic())
        })
    })
}

/// Words that make a dotted quad later in the sentence a version (lowercase).
pub(crate) const VERSION_WORDS: &[&str] = &[
    "version",
    "release",
    "driver",
    "treiber",
    "драйвер",
    "tag",
    "pinned",
    "pin",
    "bump",
    "bumped",
    "upgrade",
    "upgraded",
    "downgrade",
    "downgraded",
    "versão",
    "versión",
    "バージョン",
    "ドライバ",
    "版本",
    "驱动",
    "версия",
    "固定",
];

/// Names after which `name:1.2.3.4` is an address, not a version pin.
const ADDRESS_WORDS: &[&str] = &[
    "ip",
    "addr",
    "address",
    "host",
    "client",
    "remote",
    "peer",
    "server",
    "src",
    "dst",
    "from",
    "to",
    "source",
    "destination",
    "origin",
];

/// IPv6 addresses, found from their colons: the scan jumps from colon to
/// colon, passes over those that cannot be in an address
/// ([`cannot_be_in_v6`]) and grows the token around the others.
fn find_v6(text: &str) -> Vec<Found> {
    find_v6_skipping(text, cannot_be_in_v6)
}

/// [`find_v6`], passing over the colons `skip` says are in no address.
#[inline]
fn find_v6_skipping(text: &str, skip: impl Fn(&[u8], usize) -> bool) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut resume = 0;
    for colon in memchr::memchr_iter(b':', bytes) {
        if colon < resume || skip(bytes, colon) {
            continue;
        }
        let mut start = colon;
        while start > 0 && is_v6_byte(bytes[start - 1]) {
            start -= 1;
        }
        let mut i = colon;
        while i < bytes.len() && is_v6_byte(bytes[i]) {
            i += 1;
        }
        resume = i;
        if word_before(bytes, start) || word_at(bytes, i) {
            continue;
        }
        let mut end = i;
        while end > start
            && matches!(bytes[end - 1], b'.' | b':')
            && !text[start..end].ends_with("::")
        {
            end -= 1;
        }
        let token = &text[start..end];
        if token.matches(':').count() < 2 {
            continue;
        }
        // `ECONNREFUSED ::1:5942`: loopback and a port, as Node prints it.
        if token
            .strip_prefix("::1:")
            .is_some_and(|port| port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let Ok(address) = token.parse::<Ipv6Addr>() else {
            continue;
        };
        out.push(Found {
            span: start..end,
            kind: "ipv6",
            public: public_v6(address),
        });
    }
    out
}

/// Whether the colon at `colon` is, without looking further, in no IPv6
/// address [`find_v6`] would report: right after a letter that is no hex
/// digit (`tracing::info`, `main.rs:88`; the token would start at the colon,
/// after a word character), or alone between two bytes that hold no address
/// (`"model":"`, `error[E0382]: `; the token would be the colon alone). Code
/// is full of such colons; this spares each the walk around it.
#[inline]
fn cannot_be_in_v6(bytes: &[u8], colon: usize) -> bool {
    let before = colon.checked_sub(1).map(|at| bytes[at]);
    if before.is_some_and(|b| is_ascii_word_byte(b) && !b.is_ascii_hexdigit()) {
        return true;
    }
    !before.is_some_and(is_v6_byte) && !bytes.get(colon + 1).copied().is_some_and(is_v6_byte)
}

/// A byte an IPv6 address holds: hex digits, colons, and the dots of an
/// embedded IPv4 address.
#[inline]
fn is_v6_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

fn public_v6(a: Ipv6Addr) -> bool {
    let segments = a.segments();
    let unique_local = segments[0] & 0xfe00 == 0xfc00;
    let link_local = segments[0] & 0xffc0 == 0xfe80;
    let documentation = segments[0] == 0x2001 && segments[1] == 0x0db8;
    if let Some(v4) = a.to_ipv4_mapped() {
        return public_v4(v4);
    }
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || unique_local
        || link_local
        || documentation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> Vec<&str> {
        find(text)
            .into_iter()
            .filter(|f| f.public)
            .map(|f| &text[f.span])
            .collect()
    }

    /// Passing over the colons [`cannot_be_in_v6`] picks finds the same as
    /// growing a token around every colon.
    #[test]
    fn skipped_colons_are_in_no_address() {
        let pieces = [
            "::",
            ":",
            ":",
            "1",
            "0",
            "a",
            "f",
            "fe80",
            "2001",
            "db8",
            "2a00",
            "ffff",
            ".",
            " ",
            "\"",
            "_",
            "g",
            "x",
            "é",
            "東",
            "[",
            "]",
            "/",
            "%",
            "\n",
            "8.8.8.8",
            "fe80::1",
            "1:2:3:4:5:6:7:8",
            "2001:db8:85a3:0:0:8a2e:370:7334",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "dead:beef:cafe:babe:face:fade:deaf:bead",
        ];
        let texts = sluice_plugin_sdk::testing::texts_from(&pieces, 30_000, 16, 0x51_7cc1_b727);
        let mut found = 0;
        for text in &texts {
            let expected = find_v6_skipping(text, |_, _| false);
            assert_eq!(
                find_v6_skipping(text, cannot_be_in_v6),
                expected,
                "{text:?}"
            );
            found += expected.len();
        }
        assert!(
            found > texts.len() / 10,
            "{found} addresses in {} texts",
            texts.len()
        );
    }

    #[test]
    fn finds_public_ipv4_and_ipv6() {
        let text = "client 81.2.69.160 connected; then 2a00:1450:4001:80b::200e. And 8.8.8.8:53";
        assert_eq!(
            public(text),
            ["81.2.69.160", "2a00:1450:4001:80b::200e", "8.8.8.8"]
        );
    }

    #[test]
    fn addresses_after_users_and_address_words_are_found() {
        for (text, ip) in [
            ("ssh root@207.116.116.116", "207.116.116.116"),
            ("from:81.2.69.160", "81.2.69.160"),
            ("server 81.2.69.160 is down", "81.2.69.160"),
            ("dev 81.2.69.160", "81.2.69.160"),
            ("アクセス元は39.0.64.111です", "39.0.64.111"),
        ] {
            assert_eq!(public(text), [ip], "{text}");
        }
    }

    #[test]
    fn private_loopback_and_documentation_ranges_are_found_but_not_public() {
        let text = "127.0.0.1 10.1.2.3 192.168.0.1 172.16.5.4 169.254.1.1 192.0.2.7 ::1 fe80::1 fd00::5 2001:db8::1";
        assert!(public(text).is_empty(), "{:?}", public(text));
        assert_eq!(find(text).len(), 10);
    }

    #[test]
    fn versions_times_and_hashes_are_not_addresses() {
        for text in [
            "upgrade to v1.2.3.4",
            "version 4.3.2.1",
            "pip install foo==1.2.3.4",
            "__version__ = \"6.13.2.39\"",
            "version=5.5.4.65",
            "[assembly: AssemblyVersion(\"7.15.6.89\")]",
            "<version>2.13.5.96</version>",
            "\"version\": \"2.13.5.96\"",
            "image: registry.acme.io/api:4.8.10.81",
            "OID 2.5.4.3",
            "see section 4.5.1.54",
            "ECONNREFUSED ::1:5942",
            "Requires release-3.20.1.22 and more",
            "We pinned the driver to 9.9.11.34 after the regression.",
            "回帰のためドライバを8.1.2.73に固定しました。",
            "Requires tag: 5.14.0.10 and more",
            "1.2.3",
            "300.1.1.1",
            "01.02.03.04",
            "1.2.3.4.5",
            "at 12:30:45",
            "sha deadbeef:cafe",
            "class Foo::Bar::Baz",
        ] {
            assert!(public(text).is_empty(), "{text}: {:?}", public(text));
        }
    }
}
