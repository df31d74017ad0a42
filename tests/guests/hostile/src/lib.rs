//! A deliberately hostile guardrail, for the sandbox tests and benchmarks.
//!
//! It uses the raw bindings rather than the SDK so that it can break the contract
//! any way a real plugin could. What `check` does is chosen by the first segment's
//! text, so one loaded plugin can be driven both within and past every limit:
//!
//! | text            | behaviour                                              |
//! |-----------------|--------------------------------------------------------|
//! | `loop`          | spins forever                                          |
//! | `spin:N`        | does N rounds of busy work, then allows                |
//! | `alloc:N`       | allocates and touches N MiB, then allows               |
//! | `panic`         | panics                                                 |
//! | `error`         | returns an error instead of a verdict                  |
//! | `span:range`    | a finding past the end of the text                     |
//! | `span:mid-char` | a finding that splits the `é` at the end of the text   |
//! | `span:segment`  | a finding naming a segment that does not exist         |
//! | `settled:range` | a settled offset past the end of the text              |
//! | `settled:count` | two settled offsets for one segment                    |
//! | `findings:N`    | N findings                                             |
//! | `label:N`       | one finding whose kind is N bytes long                 |
//! | `log:N`         | writes N log lines                                     |
//! | `count`         | a finding whose rule is `call-K`, K = calls this instance has seen |
//! | `redact:WORD`   | redacts every later occurrence of WORD in every segment |
//! | `probe:env`     | a finding whose kind says how many env vars it sees    |
//! | `probe:file`    | ... whether it could read `/etc/passwd` or list `/`    |
//! | `probe:clock`   | ... the wall clock's seconds since the epoch           |
//! | `probe:net`     | ... whether it could open a TCP connection             |
//! | anything else   | allows (a no-op plugin, for benchmarks)                |
//!
//! `configure` obeys the settings `{"configure": "refuse" | "panic" | "loop"}`.
#![cfg(target_arch = "wasm32")]
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit/guardrail.wit",
    world: "guardrail",
});

use exports::sluice::guardrail::plugin::Guest;
use sluice::guardrail::host;
use sluice::guardrail::types::{
    Action, CacheScope, Context, Finding, Info, Phase, Segment, Verdict,
};
use std::sync::atomic::{AtomicU64, Ordering};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Hostile;

fn finding(segment: u32, start: u32, end: u32, kind: String) -> Finding {
    Finding {
        segment,
        start,
        end,
        kind,
        rule: "hostile".into(),
        action: Action::Flag,
        replacement: None,
    }
}

fn verdict(findings: Vec<Finding>) -> Verdict {
    Verdict {
        action: Action::Allow,
        reason: None,
        findings,
        settled: Vec::new(),
    }
}

fn number(text: &str, prefix: &str) -> Option<u64> {
    text.strip_prefix(prefix)?.trim().parse().ok()
}

impl Guest for Hostile {
    fn describe() -> Info {
        Info {
            name: "hostile".into(),
            version: "0.0.1".into(),
            phases: vec![Phase::Request, Phase::Response],
            max_match_len: 64,
            cache_scope: CacheScope::None,
        }
    }

    fn configure(settings: String) -> Result<(), String> {
        if settings.contains("\"refuse\"") {
            return Err("refused on purpose: `configure` must be one of nothing".into());
        }
        if settings.contains("\"panic\"") {
            panic!("hostile guest panicked in configure");
        }
        if settings.contains("\"loop\"") {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        Ok(())
    }

    fn check(_ctx: Context, segments: Vec<Segment>) -> Result<Verdict, String> {
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        let text = segments.first().map(|s| s.text.as_str()).unwrap_or("");
        let len = text.len() as u32;
        if text == "loop" {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        if let Some(rounds) = number(text, "spin:") {
            let mut x = 0u64;
            for i in 0..rounds {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            std::hint::black_box(x);
            return Ok(verdict(vec![]));
        }
        if let Some(mib) = number(text, "alloc:") {
            let mut block = vec![0u8; (mib as usize) << 20];
            for page in block.chunks_mut(4096) {
                page[0] = 1;
            }
            std::hint::black_box(&block);
            return Ok(verdict(vec![]));
        }
        if text == "panic" {
            panic!("hostile guest panicked on purpose");
        }
        if text == "error" {
            return Err("the guest failed on purpose".into());
        }
        if text.starts_with("span:range") {
            return Ok(verdict(vec![finding(0, 0, len + 5, "range".into())]));
        }
        if text.starts_with("span:mid-char") {
            // The text ends in `é` (two bytes): end one byte into it.
            return Ok(verdict(vec![finding(0, 0, len - 1, "mid-char".into())]));
        }
        if text.starts_with("span:segment") {
            return Ok(verdict(vec![finding(99, 0, 1, "segment".into())]));
        }
        if text.starts_with("settled:range") {
            return Ok(Verdict {
                settled: vec![len + 1],
                ..verdict(vec![])
            });
        }
        if text.starts_with("settled:count") {
            return Ok(Verdict {
                settled: vec![0, 0],
                ..verdict(vec![])
            });
        }
        if let Some(n) = number(text, "findings:") {
            let all = (0..n).map(|_| finding(0, 0, 1, "many".into())).collect();
            return Ok(verdict(all));
        }
        if let Some(n) = number(text, "label:") {
            return Ok(verdict(vec![finding(0, 0, 1, "k".repeat(n as usize))]));
        }
        if let Some(n) = number(text, "log:") {
            for i in 0..n {
                host::log(host::Level::Info, &format!("hostile log line {i}"));
            }
            return Ok(verdict(vec![]));
        }
        if let Some(what) = text.strip_prefix("probe:") {
            let observed = match what {
                "env" => format!("env-{}", std::env::vars_os().count()),
                "file" => {
                    let read = std::fs::read("/etc/passwd").is_ok();
                    let listed = std::fs::read_dir("/").is_ok() || std::fs::read_dir(".").is_ok();
                    format!("file-read-{read}-listed-{listed}")
                }
                "clock" => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(u64::MAX);
                    format!("clock-{now}")
                }
                "net" => {
                    let connected = std::net::TcpStream::connect("127.0.0.1:9").is_ok()
                        || std::net::TcpStream::connect("1.1.1.1:443").is_ok();
                    format!("net-connected-{connected}")
                }
                other => format!("unknown-{other}"),
            };
            return Ok(verdict(vec![finding(0, 0, 0, observed)]));
        }
        if text == "count" {
            let mut f = finding(0, 0, len, "count".into());
            f.rule = format!("call-{calls}");
            return Ok(verdict(vec![f]));
        }
        if let Some(word) = text.strip_prefix("redact:") {
            let mut findings = Vec::new();
            for (i, segment) in segments.iter().enumerate().skip(1) {
                for (start, m) in segment.text.match_indices(word) {
                    let mut f = finding(
                        i as u32,
                        start as u32,
                        (start + m.len()) as u32,
                        "word".into(),
                    );
                    f.action = Action::Redact;
                    findings.push(f);
                }
            }
            return Ok(verdict(findings));
        }
        Ok(verdict(vec![]))
    }
}

export!(Hostile);
