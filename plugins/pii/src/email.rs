//! E-mail address detection: a scanner anchored on `@`.
//!
//! Faster and more exact than a regex: `memchr` jumps from `@` to `@`, and around
//! each one the scanner grows the local part leftwards and the domain rightwards
//! by the rules of RFC 5321/6531 that matter in running text. It works on whole
//! characters, so spans always fall on UTF-8 boundaries whatever surrounds them.
//!
//! Internationalised addresses (`jörg@münchen.de`) are matched: letters outside
//! ASCII count as address characters, except in scripts written without spaces
//! (CJK and beyond, from U+2E80), where they belong to the surrounding sentence
//! (`連絡先：taro@example.jpまで`).

use std::ops::Range;

/// The longest address: the SMTP path limit of 256 octets minus the angle brackets.
pub const MAX_LEN: usize = 254;

const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;

/// Finds the e-mail addresses in `text`, as byte ranges, in order.
pub fn find(text: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut resume = 0; // never match inside a previous match
    for at in memchr::memchr_iter(b'@', text.as_bytes()) {
        if at < resume {
            continue;
        }
        let Some(start) = local_part_start(text, at, resume) else {
            continue;
        };
        let Some(end) = domain_end(text, at + 1) else {
            continue;
        };
        if is_login_not_address(text, start, end) {
            continue;
        }
        found.push(start..end);
        resume = end;
    }
    found
}

/// Commands whose `user@host` argument is a login, not an address.
pub(crate) const LOGIN_COMMANDS: &[&str] = &[
    "ssh",
    "scp",
    "sftp",
    "rsync",
    "mosh",
    "ssh-copy-id",
    "telnet",
];

/// `user@host` shapes that are logins, which redacting would break:
/// the user part of a URL (`postgres://app:pw@db.acme.io/x`,
/// `https://token@github.com/...`), an scp-style remote (`git@github.com:org/repo.git`)
/// and the argument of `ssh`, `scp` and the like.
fn is_login_not_address(text: &str, start: usize, end: usize) -> bool {
    let before = &text[..start];
    let token_start = before
        .rfind(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '(' | '<' | '`'))
        .map_or(0, |i| i + 1);
    if before[token_start..].contains("://") {
        return true;
    }
    let after = &text[end..];
    if after.starts_with(':') && after[1..].starts_with(|c: char| !c.is_whitespace()) {
        return true;
    }
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let from = line.ceil_char_boundary(line.len().saturating_sub(80));
    // Words end where a shell's do, and at the punctuation that closes a
    // word in a stream (`Sure,ssh a@b.io`: a window may start at `ssh`), so
    // that a stream reads the command as the whole text does.
    line[from..]
        .split(|c: char| {
            c.is_whitespace()
                || matches!(c, '`' | '$' | ';' | '&' | '|')
                || u8::try_from(c).is_ok_and(|b| crate::settled::CLOSING.contains(&b))
        })
        .any(|word| LOGIN_COMMANDS.contains(&word))
}

/// A letter of a script written with spaces between words.
fn is_spaced_letter(c: char) -> bool {
    !c.is_ascii() && (c as u32) < 0x2E80 && c.is_alphanumeric()
}

fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '.' | '_' | '%' | '+' | '-' | '\'')
        || is_spaced_letter(c)
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || is_spaced_letter(c)
}

/// Where the local part before the `@` at `at` starts, if there is a valid one.
fn local_part_start(text: &str, at: usize, floor: usize) -> Option<usize> {
    let mut start = at;
    for (i, c) in text[floor..at].char_indices().rev() {
        if !is_local_char(c) {
            break;
        }
        start = floor + i;
        if at - start > MAX_LOCAL {
            return None; // a longer run is a hash or a blob, not an address
        }
    }
    // Leading punctuation belongs to the surrounding text: `'a@b.com'`, `...a@b`.
    let local = text[start..at].trim_start_matches(['.', '\'', '-', '+']);
    let start = at - local.len();
    if local.is_empty() || local.ends_with('.') || local.contains("..") {
        return None;
    }
    Some(start)
}

/// Where the domain that starts at `from` ends, if it is a valid one: two or more
/// dot-separated labels, the last one alphabetic and at least two letters long.
fn domain_end(text: &str, from: usize) -> Option<usize> {
    let rest = &text[from..];
    let mut labels = 0;
    let mut end = 0; // end of the last good label, relative to `from`
    let mut last_label = "";
    let mut pos = 0;
    loop {
        let len: usize = rest[pos..]
            .chars()
            .take_while(|&c| is_label_char(c))
            .map(char::len_utf8)
            .sum();
        let label = &rest[pos..pos + len];
        if label.is_empty() || len > MAX_LABEL || label.starts_with('-') || label.ends_with('-') {
            break;
        }
        labels += 1;
        end = pos + len;
        last_label = label;
        let after = &rest[end..];
        match after.strip_prefix('.').and_then(|s| s.chars().next()) {
            Some(c) if is_label_char(c) => pos = end + 1,
            _ => break,
        }
    }
    let tld_ok = last_label.chars().count() >= 2 && last_label.chars().all(char::is_alphabetic);
    if labels < 2 || !tld_ok || end > MAX_DOMAIN {
        return None;
    }
    // `a@b.com_x`: the domain runs on into an identifier; not an address.
    if rest[end..].starts_with('_') {
        return None;
    }
    Some(from + end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(text: &str) -> Vec<&str> {
        find(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn logins_are_not_addresses() {
        for text in [
            "DATABASE_URL=postgres://app:S3cr3tPw@db.internal.acme-corp.io:5432/app",
            "git clone https://x-access-token:ghp_abc@github.com/acme/api.git",
            "https://deploy@git.acme.io/repo",
            "git@github.com:acme/api.git",
            "$ ssh deploy@bastion.acme-corp.io",
            "ssh -i ~/.ssh/id_ed25519 ops@jump.acme.io 'uptime'",
            "scp dump.sql backup@files.acme.io:/srv/",
            "ログイン — ssh deploy@bastion.acme-corp.io",
        ] {
            assert!(matches(text).is_empty(), "{text}: {:?}", matches(text));
        }
        for (text, address) in [
            ("Contact: bob@corp.io: he knows", "bob@corp.io"),
            ("mailto:bob@corp.io", "bob@corp.io"),
            ("send to ana@corp.io, then ssh in", "ana@corp.io"),
        ] {
            assert_eq!(matches(text), [address], "{text}");
        }
    }

    #[test]
    fn finds_plain_addresses() {
        assert_eq!(
            matches("mail jane.doe@example.com now"),
            ["jane.doe@example.com"]
        );
        assert_eq!(matches("a+tag@mail.co.uk."), ["a+tag@mail.co.uk"]);
        assert_eq!(
            matches("<bob_99@sub-domain.example.org>"),
            ["bob_99@sub-domain.example.org"]
        );
        assert_eq!(matches("x@y.io,z@w.dev"), ["x@y.io", "z@w.dev"]);
    }

    #[test]
    fn trims_surrounding_punctuation() {
        assert_eq!(matches("'jane@example.com'"), ["jane@example.com"]);
        assert_eq!(matches("...jane@example.com..."), ["jane@example.com"]);
        assert_eq!(matches("(jane@example.com)"), ["jane@example.com"]);
        assert_eq!(matches("write to a@b.example.com."), ["a@b.example.com"]);
        assert_eq!(matches("a@b.com.-x"), ["a@b.com"]);
    }

    #[test]
    fn rejects_look_alikes() {
        for text in [
            "@decorator",
            "user@localhost",
            "npm i @scope/pkg@1.2.3",
            "a..b@example.com",
            "name@host.c0m",
            "x@-bad.com",
            "foo@bar.com_baz",
            "trailing.@example.com",
        ] {
            assert!(matches(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn internationalised_addresses_are_whole() {
        assert_eq!(
            matches("Grüße an jörg@example.de — danke"),
            ["jörg@example.de"]
        );
        assert_eq!(
            matches("écrire à élodie@société.fr."),
            ["élodie@société.fr"]
        );
        assert_eq!(matches("почта: иван@пример.рф"), ["иван@пример.рф"]);
    }

    #[test]
    fn cjk_text_around_an_address_is_not_part_of_it() {
        assert_eq!(matches("連絡先：taro@example.jpまで"), ["taro@example.jp"]);
        assert_eq!(matches("メールtaro@example.jp です"), ["taro@example.jp"]);
    }

    #[test]
    fn spans_fall_on_char_boundaries() {
        let text = "ünïcödé x@ÿ.com ümlaut";
        for span in find(text) {
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
        }
    }

    #[test]
    fn overlong_local_part_is_not_an_address() {
        let long = format!("{}@example.com", "a".repeat(100));
        assert!(find(&long).is_empty());
        let ok = format!("{}@example.com", "a".repeat(64));
        assert_eq!(find(&ok), vec![0..ok.len()]);
    }
}
