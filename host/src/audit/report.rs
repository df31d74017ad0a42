//! Audit records for people and tools: a table, JSON lines or CSV, and the
//! times they are filtered by.

use super::record::Record;
use std::io::{self, Write};

pub use crate::clock::{format_time, parse_duration_ms, parse_time};

/// How `sluice audit` prints records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header line.
    Csv,
}

const COLUMNS: [&str; 12] = [
    "seq", "time", "request", "key", "team", "phase", "outcome", "rule", "kind", "segment", "span",
    "match",
];

fn cells(seq: i64, r: &Record) -> [String; 12] {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    [
        seq.to_string(),
        format_time(r.time_ms),
        r.request_id.clone(),
        or_dash(&r.key_id),
        or_dash(&r.team),
        r.phase.clone(),
        r.outcome.as_str().to_string(),
        r.rule
            .clone()
            .or_else(|| r.failure.clone())
            .unwrap_or_else(|| "-".into()),
        or_dash(&r.kind),
        or_dash(&r.segment),
        r.span.map_or("-".into(), |(s, e)| format!("{s}..{e}")),
        r.excerpt.as_ref().map_or("-".into(), |e| e.short()),
    ]
}

/// Writes the header (table and CSV).
pub fn write_header(out: &mut impl Write, format: Format) -> io::Result<()> {
    match format {
        Format::Table => writeln!(out, "{}", COLUMNS.join("  ")),
        Format::Csv => writeln!(out, "{}", COLUMNS.join(",")),
        Format::Jsonl => Ok(()),
    }
}

/// Writes one record.
pub fn write_record(out: &mut impl Write, format: Format, seq: i64, r: &Record) -> io::Result<()> {
    match format {
        Format::Table => writeln!(out, "{}", cells(seq, r).join("  ")),
        Format::Csv => {
            let escaped: Vec<String> = cells(seq, r).iter().map(|c| csv_cell(c)).collect();
            writeln!(out, "{}", escaped.join(","))
        }
        Format::Jsonl => writeln!(out, "{}", to_json(seq, r)),
    }
}

/// A record as JSON, with its sequence number and its time in words: the shape
/// of `--format jsonl` lines and of `/admin/audit` entries.
pub fn to_json(seq: i64, r: &Record) -> serde_json::Value {
    let mut value = serde_json::to_value(r).expect("a record serialises");
    value["seq"] = seq.into();
    value["time"] = format_time(r.time_ms).into();
    value
}

/// One CSV cell, quoted when it holds a comma, a quote or a line break.
pub fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let ms = parse_time("2026-11-22T14:03:07Z", 0).unwrap();
        assert_eq!(format_time(ms), "2026-11-22T14:03:07.000Z");
        assert_eq!(parse_time("1970-01-01", 0), Ok(0));
        assert_eq!(format_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(parse_time("2000-02-29 00:00", 0), Ok(951_782_400_000));
    }

    #[test]
    fn ages_count_back_from_now() {
        let now = 10 * 86_400_000;
        assert_eq!(parse_time("2h", now), Ok(now - 7_200_000));
        assert_eq!(parse_time("7d", now), Ok(3 * 86_400_000));
        assert!(parse_time("7w", now).is_err());
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("2026-13-01", now).is_err());
        assert_eq!(parse_duration_ms("30d"), Some(30 * 86_400_000));
        assert_eq!(parse_duration_ms("-3h"), None);
    }

    #[test]
    fn rfc3339_fractions_and_offsets_are_understood() {
        let utc = parse_time("2026-11-22T14:03:07Z", 0).unwrap();
        assert_eq!(parse_time("2026-11-22T16:03:07+02:00", 0), Ok(utc));
        assert_eq!(parse_time("2026-11-22T08:33:07-05:30", 0), Ok(utc));
        assert_eq!(parse_time("2026-11-22T14:03:07.25Z", 0), Ok(utc + 250));
        assert_eq!(parse_time("2026-11-22T14:03:07.123456Z", 0), Ok(utc + 123));
        assert!(parse_time("2026-11-22T14:03:07+2", 0).is_err());
        assert!(parse_time("2026-11-22T14:03:07.Z", 0).is_err());
    }

    #[test]
    fn csv_cells_are_quoted_when_needed() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("plain"), "plain");
    }
}
