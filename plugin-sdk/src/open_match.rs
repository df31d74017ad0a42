//! Settled offsets for plugins whose matches are regexes (feature `regex`).
//!
//! [`OpenMatches`] answers the two questions [`Guardrail::settled`] needs,
//! exactly, from a lazy DFA of the patterns:
//!
//! - [`may_be_open`](OpenMatches::may_be_open): can a match that begins at
//!   this offset still be open, that is, could text yet to come make it match
//!   or match longer? The DFA runs anchored at the offset over the rest of the
//!   text, with every match kind kept ([`MatchKind::All`], so a preferred
//!   alternative that has matched does not hide a longer one still running).
//!   When every thread has died, or only a match that has ended is left, the
//!   offset is decided: the check just run found what it will ever find there.
//! - [`starts_alike`](OpenMatches::starts_alike): does a window that starts at
//!   this offset read as the whole text does there? The gateway checks what it
//!   holds back on its own, so its first byte has no neighbour before it: `\b`,
//!   `^` and `\A` must see the same at the cut as in the whole text, or a
//!   window could match where the whole text does not (`falcon` in
//!   `peregrinefalcon` cut before the `f`).
//!
//! The lazy DFA cannot read Unicode word boundaries past ASCII text; rather
//! than give up there, they are read as always true. That only adds matches,
//! so a start it calls decided is decided; and a window starts only after a
//! character that is not a word character, where a word boundary at the start
//! of the window reads as it does in the whole text.
//!
//! [`Guardrail::settled`]: crate::Guardrail::settled

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::{LazyStateID, StartError};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::start;
use regex_automata::{Anchored, Input, MatchKind};
use regex_syntax::hir::{Hir, HirKind, Look};
use std::sync::Mutex;

/// The most memory one lazy DFA's cache takes (regex-automata's default is 2
/// MiB): a plugin may hold one per rule, inside its capped memory, and the
/// small windows of a stream visit few states.
const CACHE_CAPACITY: usize = 256 << 10;

/// What a match that begins at some offset of a text can still become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// More text could make one, or a longer one.
    Open,
    /// Decided: one has ended before the end of the text, and none longer can
    /// come (with Unicode word boundaries read as always true, it may be one
    /// the patterns would not report).
    Ended,
    /// Decided: none begins there, whatever comes.
    Never,
}

/// The patterns of a plugin, ready to say where a streamed text is settled.
#[derive(Debug)]
pub struct OpenMatches {
    dfa: DFA,
    /// One cache serves the calls; a call that finds it busy makes its own.
    cache: Mutex<Cache>,
    /// Whether a pattern holds a Unicode word boundary (read as always true).
    unicode_words: bool,
    /// Starts decided at their first byte ([`FirstBytes`]).
    first_bytes: FirstBytes,
}

impl OpenMatches {
    /// Compiles `patterns` (`regex` crate syntax, as the `regex` crate parses
    /// them by default); a match of any of them counts.
    pub fn new<P: AsRef<str>>(patterns: &[P]) -> Result<OpenMatches, String> {
        let hirs = patterns
            .iter()
            .map(|p| regex_syntax::parse(p.as_ref()).map_err(|e| e.to_string()))
            .collect::<Result<Vec<Hir>, String>>()?;
        OpenMatches::from_hirs(hirs)
    }

    /// Like [`new`](OpenMatches::new), from patterns already parsed.
    pub fn from_hirs(hirs: Vec<Hir>) -> Result<OpenMatches, String> {
        OpenMatches::with_cache_capacity(hirs, CACHE_CAPACITY)
    }

    /// [`from_hirs`](OpenMatches::from_hirs) with the lazy DFA's cache bounded
    /// by `capacity` bytes (at least the DFA's minimum); a full cache is
    /// cleared and rebuilt as it is used.
    fn with_cache_capacity(hirs: Vec<Hir>, capacity: usize) -> Result<OpenMatches, String> {
        let mut unicode_words = false;
        let relaxed: Vec<Hir> = hirs
            .into_iter()
            .map(|hir| without_unicode_words(hir, &mut unicode_words))
            .collect();
        let nfa = thompson::Compiler::new()
            .configure(thompson::Config::new().which_captures(WhichCaptures::None))
            .build_many_from_hir(&relaxed)
            .map_err(|e| e.to_string())?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(capacity)
                    .skip_cache_capacity_check(true),
            )
            .build_from_nfa(nfa)
            .map_err(|e| e.to_string())?;
        let mut cache = dfa.create_cache();
        let first_bytes = FirstBytes::new(&dfa, &mut cache);
        Ok(OpenMatches {
            dfa,
            cache: Mutex::new(cache),
            unicode_words,
            first_bytes,
        })
    }

    /// The settled offset of `text` when matches may begin anywhere from
    /// `from` on (a character boundary; the caller's bound, before which it
    /// promises nothing): the earliest start whose match may still be open,
    /// moved back to where a window [starts alike](OpenMatches::starts_alike);
    /// `from` if there is no such place after it.
    pub fn settled(&self, text: &str, from: usize) -> usize {
        let open = (from..text.len())
            .filter(|&at| text.is_char_boundary(at))
            .find(|&at| self.may_be_open(text, at))
            .unwrap_or(text.len());
        (from..=open)
            .rev()
            .find(|&at| text.is_char_boundary(at) && self.starts_alike(text, at))
            .unwrap_or(from)
    }

    /// Whether a match that begins at `start` (a character boundary) may still
    /// be open at the end of `text`: more text could make one, or a longer one.
    /// True when unsure.
    pub fn may_be_open(&self, text: &str, start: usize) -> bool {
        self.fate(text, start) == Fate::Open
    }

    /// What a match that begins at `start` (a character boundary) of `text`
    /// can still become; [`Fate::Open`] when unsure.
    pub fn fate(&self, text: &str, start: usize) -> Fate {
        if self.first_bytes.dies_at(text.as_bytes(), start) {
            return Fate::Never;
        }
        self.walk(text, start)
    }

    /// [`fate`](OpenMatches::fate), from the DFA's walk alone.
    fn walk(&self, text: &str, start: usize) -> Fate {
        self.with_cache(|dfa, cache| {
            let input = Input::new(text).range(start..).anchored(Anchored::Yes);
            let Ok(mut state) = dfa.start_state_forward(cache, &input) else {
                return Fate::Open;
            };
            let mut matched = false;
            for &byte in &text.as_bytes()[start..] {
                if state.is_dead() {
                    break;
                }
                state = match dfa.next_state(cache, state, byte) {
                    Ok(next) if !next.is_quit() => next,
                    _ => return Fate::Open,
                };
                matched |= state.is_match();
            }
            if state.is_dead() {
                if matched { Fate::Ended } else { Fate::Never }
            } else if state.is_match() && only_ended(dfa, cache, state) {
                Fate::Ended
            } else {
                Fate::Open
            }
        })
    }

    /// Whether a window of `text` starting at `at` (a character boundary)
    /// reads as the whole text does there: with nothing before it, a match at
    /// its start sees what it sees in the whole text.
    pub fn starts_alike(&self, text: &str, at: usize) -> bool {
        if at == 0 {
            return true;
        }
        if self.unicode_words
            && text[..at]
                .chars()
                .next_back()
                .is_some_and(regex_syntax::is_word_character)
        {
            return false;
        }
        self.with_cache(|dfa, cache| {
            let clears = cache.clear_count();
            let mut start = |look_behind| {
                let config = start::Config::new()
                    .anchored(Anchored::Yes)
                    .look_behind(look_behind);
                dfa.start_state(cache, &config)
            };
            let state = |s: Result<LazyStateID, StartError>| s.ok();
            let within = state(start(Some(text.as_bytes()[at - 1])));
            let alone = state(start(None));
            // Two ids compare only if no cache clear came between them (a
            // clear renumbers states); after one, say "not alike", the safe way.
            within.is_some() && within == alone && cache.clear_count() == clears
        })
    }

    fn with_cache<T>(&self, f: impl FnOnce(&DFA, &mut Cache) -> T) -> T {
        match self.cache.try_lock() {
            Ok(mut cache) => f(&self.dfa, &mut cache),
            Err(_) => f(&self.dfa, &mut self.dfa.create_cache()),
        }
    }
}

/// For each byte a start may come after (or none, at the start of the text)
/// and each byte it may begin with: whether the DFA dies on that first byte,
/// so that nothing begins there whatever follows ([`Fate::Never`]). Most
/// offsets of a text are decided so, without a lock or a walk of the DFA:
/// a text is scanned at every offset for its settled point.
#[derive(Debug)]
struct FirstBytes {
    /// The row of each look-behind: index 0 for none, `1 + b` after byte `b`.
    row_of: [u8; 257],
    /// One row per distinct start state (a handful: the look-behind only
    /// matters to anchors and word boundaries), one bit per first byte.
    rows: Vec<[u64; 4]>,
}

impl FirstBytes {
    /// Asks the DFA for the start state after each look-behind, and for each
    /// distinct one, its step on every byte.
    fn new(dfa: &DFA, cache: &mut Cache) -> FirstBytes {
        let undecided = FirstBytes {
            row_of: [0; 257],
            rows: vec![[0; 4]],
        };
        let clears = cache.clear_count();
        let mut starts: Vec<LazyStateID> = Vec::new();
        let mut rows = Vec::new();
        let mut row_of = [0u8; 257];
        for (look_behind, row) in row_of.iter_mut().enumerate() {
            let config = start::Config::new()
                .anchored(Anchored::Yes)
                .look_behind(look_behind.checked_sub(1).map(|b| b as u8));
            let Ok(start) = dfa.start_state(cache, &config) else {
                return undecided; // unsure: the walk decides
            };
            let index = match starts.iter().position(|&known| known == start) {
                Some(index) => index,
                None => {
                    let mut dies = [0u64; 4];
                    for byte in 0..=255u8 {
                        // A quit byte or a failed step is no answer: left unmarked.
                        if dfa
                            .next_state(cache, start, byte)
                            .is_ok_and(|next| next.is_dead())
                        {
                            dies[usize::from(byte >> 6)] |= 1 << (byte & 63);
                        }
                    }
                    starts.push(start);
                    rows.push(dies);
                    rows.len() - 1
                }
            };
            let Ok(index) = u8::try_from(index) else {
                return undecided;
            };
            *row = index;
        }
        // A clear renumbers states: the ids compared above may not be the
        // states they were.
        if cache.clear_count() != clears {
            return undecided;
        }
        FirstBytes { row_of, rows }
    }

    /// Whether a match beginning at `start` of `text` dies on its first byte.
    fn dies_at(&self, text: &[u8], start: usize) -> bool {
        let Some(&byte) = text.get(start) else {
            return false;
        };
        let look_behind = match start.checked_sub(1) {
            Some(before) => 1 + usize::from(text[before]),
            None => 0,
        };
        let row = &self.rows[usize::from(self.row_of[look_behind])];
        row[usize::from(byte >> 6)] & (1 << (byte & 63)) != 0
    }
}

/// Whether the match state `state` has nothing left but the match that ended:
/// every byte, and the end of the text, lead to the dead state. `state` is
/// asked for many transitions, while regex-automata promises only the ID its
/// last call returned: in practice IDs change only when a call clears the
/// cache (renumbering the states, `state` among them), so after a clear the
/// answer is "no", the safe way, and no stale ID is used.
fn only_ended(dfa: &DFA, cache: &mut Cache, state: LazyStateID) -> bool {
    let classes = *dfa.byte_classes();
    let clears = cache.clear_count();
    classes.representatives(..).all(|unit| {
        let next = match unit.as_u8() {
            Some(byte) => dfa.next_state(cache, state, byte),
            None => dfa.next_eoi_state(cache, state),
        };
        next.is_ok_and(|next| next.is_dead()) && cache.clear_count() == clears
    })
}

/// `hir` with its Unicode word boundaries made always true; sets `found` if
/// it had any.
fn without_unicode_words(hir: Hir, found: &mut bool) -> Hir {
    match hir.into_kind() {
        HirKind::Look(look) if is_unicode_word(look) => {
            *found = true;
            Hir::empty()
        }
        HirKind::Look(look) => Hir::look(look),
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(literal) => Hir::literal(literal.0),
        HirKind::Class(class) => Hir::class(class),
        HirKind::Repetition(mut repetition) => {
            repetition.sub = Box::new(without_unicode_words(*repetition.sub, found));
            Hir::repetition(repetition)
        }
        HirKind::Capture(mut capture) => {
            capture.sub = Box::new(without_unicode_words(*capture.sub, found));
            Hir::capture(capture)
        }
        HirKind::Concat(subs) => Hir::concat(
            subs.into_iter()
                .map(|sub| without_unicode_words(sub, found))
                .collect(),
        ),
        HirKind::Alternation(subs) => Hir::alternation(
            subs.into_iter()
                .map(|sub| without_unicode_words(sub, found))
                .collect(),
        ),
    }
}

fn is_unicode_word(look: Look) -> bool {
    matches!(
        look,
        Look::WordUnicode
            | Look::WordUnicodeNegate
            | Look::WordStartUnicode
            | Look::WordEndUnicode
            | Look::WordStartHalfUnicode
            | Look::WordEndHalfUnicode
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(patterns: &[&str]) -> OpenMatches {
        OpenMatches::new(patterns).unwrap()
    }

    #[test]
    fn a_start_decided_by_its_first_byte_is_one_the_walk_decides_alike() {
        // Look-behinds of every kind: ASCII word boundaries before a word
        // byte and before punctuation, their negation (Unicode ones are read
        // as always true), line and text anchors.
        let open = open(&[
            r"\bINC-\d{4,}\b",
            r"(?-u:\b)-y",
            r"(?-u:\B)falcon",
            r"(?m)^TODO: ",
            r"^start",
            r"GNU (Affero )?GPL",
            r"(?i)project falcon",
        ]);
        let texts = [
            "ax-y a -y -y",
            "peregrinefalcon falcon",
            "x\nTODO: y TODO: ",
            "start restart",
            "INC-1234 xINC-1234 INC-12",
            "GNU GPL, gnu gpl, é GNU Affero",
            "Project Falcon PROJECT FALCON",
        ];
        let mut decided = 0;
        for text in texts {
            for start in (0..=text.len()).filter(|&at| text.is_char_boundary(at)) {
                let walked = open.walk(text, start);
                if open.first_bytes.dies_at(text.as_bytes(), start) {
                    decided += 1;
                    assert_eq!(walked, Fate::Never, "{text:?} at {start}");
                }
                assert_eq!(open.fate(text, start), walked, "{text:?} at {start}");
            }
        }
        assert!(
            decided > 100,
            "only {decided} starts decided by their first byte"
        );
        // A few distinct start states, not one row per look-behind byte.
        assert!(
            open.first_bytes.rows.len() <= 8,
            "{}",
            open.first_bytes.rows.len()
        );
    }

    #[test]
    fn a_cache_cleared_mid_question_never_decides_what_a_full_one_would_not() {
        // The smallest cache clears all the time; after a clear the answers
        // may only turn to "open" / "not alike", never to a decision.
        let patterns = [
            r"\bproject\s+falcon\b",
            r"\bINC-\d{4,}\b",
            r"(?i)tok[a-z]{2,9}=\w{6,}",
        ];
        let hirs = || {
            patterns
                .iter()
                .map(|p| regex_syntax::parse(p).unwrap())
                .collect()
        };
        let full = OpenMatches::from_hirs(hirs()).unwrap();
        let tiny = OpenMatches::with_cache_capacity(hirs(), 0).unwrap();
        let pieces = [
            "project", " ", "falcon", "INC-", "12345", "token=", "abcdef", "x", ".", "é",
        ];
        let mut seed = 7u64;
        let (mut same, mut cleared) = (0, 0);
        for _ in 0..3_000 {
            let mut text = String::new();
            for _ in 0..6 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            for at in (0..text.len()).filter(|&at| text.is_char_boundary(at)) {
                let (expected, got) = (full.fate(&text, at), tiny.fate(&text, at));
                if got == expected {
                    same += 1;
                } else {
                    assert_eq!(got, Fate::Open, "{text:?} at {at}: full says {expected:?}");
                    cleared += 1;
                }
                if tiny.starts_alike(&text, at) {
                    assert!(full.starts_alike(&text, at), "{text:?} at {at}");
                }
            }
        }
        assert!(same > cleared, "{same} alike, {cleared} turned open");
    }

    #[test]
    fn a_start_is_open_while_the_pattern_can_still_match_from_it() {
        let m = open(&[r"\bproject\s+falcon\b", r"\bINC-\d{4,}\b"]);
        let text = "see project  fal";
        let start = text.find("project").unwrap();
        assert!(m.may_be_open(text, start));
        assert!(!m.may_be_open(text, start + 1), "`roject` starts nothing");
        // a whole word at the end waits for the boundary after it
        assert!(m.may_be_open("project falcon", 0));
        // decided: the match has ended, or cannot happen
        assert!(!m.may_be_open("project falcon ", 0));
        assert!(!m.may_be_open("project falconry", 0));
        assert!(!m.may_be_open("project x", 0));
        // `\d{4,}` may go on while digits come
        assert!(m.may_be_open("INC-12345", 0));
        assert!(!m.may_be_open("INC-12345.", 0));
        assert!(!m.may_be_open("INC-12.", 0));
    }

    #[test]
    fn the_fate_tells_an_ended_match_from_none() {
        let m = open(&[r"\bINC-\d{4,}\b"]);
        assert_eq!(m.fate("INC-1234 and", 0), Fate::Ended);
        assert_eq!(m.fate("INC-1234.", 0), Fate::Ended);
        assert_eq!(m.fate("INC-12 and", 0), Fate::Never);
        assert_eq!(m.fate("INC-1234", 0), Fate::Open);
    }

    #[test]
    fn a_preferred_alternative_that_matched_does_not_hide_a_longer_one() {
        // Leftmost-first would stop at `foo`; `foobar` may still come.
        let m = open(&["foo|foobar"]);
        assert!(m.may_be_open("foob", 0));
        assert!(!m.may_be_open("foox", 0));
    }

    #[test]
    fn an_end_of_text_anchor_keeps_the_start_open() {
        let m = open(&[r"key=\w+\z"]);
        assert!(m.may_be_open("key=abc", 0));
        assert!(!m.may_be_open("key=abc ", 0));
    }

    #[test]
    fn windows_start_only_where_the_start_reads_alike() {
        let words = open(&[r"\bfalcon\b"]);
        let text = "peregrinefalc";
        assert!(!words.starts_alike(text, text.find("falc").unwrap()));
        assert_eq!(words.settled(text, 0), 0, "the word is held whole");
        assert_eq!(words.settled("a peregrine falc", 0), "a peregrine ".len());
        assert_eq!(words.settled("plain words. ", 0), "plain words. ".len());
        assert_eq!(words.settled("plain words", 0), "plain ".len());
        assert!(words.starts_alike("é falc", "é ".len()));
        assert!(!words.starts_alike("éfalc", "é".len()));
        // No assertion: every start reads alike, so text goes out as it comes.
        let literal = open(&["GNU (Affero |Lesser )?General Public License"]);
        assert_eq!(literal.settled("plain words", 0), "plain words".len());
        assert_eq!(literal.settled("under the GNU Gen", 0), "under the ".len());
        // `^` without (?m) holds at the start of the text only.
        let anchored = open(&["^secret"]);
        assert!(!anchored.starts_alike("a secret", 2));
        assert!(anchored.starts_alike("a secret", 0));
    }

    #[test]
    fn settled_never_goes_below_the_callers_bound() {
        let m = open(&[r"\bfalcon\b"]);
        let text = "wordswordswords";
        assert_eq!(m.settled(text, 5), 5);
        assert_eq!(m.settled("ab é", 3), 3, "a character boundary");
    }
}
