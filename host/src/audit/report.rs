//! Audit records for people and tools: a table, JSON lines or CSV, and the
//! times they are filtered by.

use super::record::Record;
use std::io::{self, Write};

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

fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// `2026-11-22T14:03:07.123Z` for milliseconds since the epoch.
pub fn format_time(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Parses a time for `--since`/`--until`: a UTC date or date-time
/// (`2026-11-22`, `2026-11-22T14:00`, `2026-11-22T14:00:05Z`), or an age
/// relative to `now_ms` (`90s`, `15m`, `2h`, `7d`).
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "`{text}`: expected a UTC time such as 2026-11-22 or 2026-11-22T14:00:05Z, or an age such as 15m, 2h or 7d"
        )
    };
    if let Some(unit) = text.chars().last().filter(|c| c.is_ascii_alphabetic())
        && let Ok(amount) = text[..text.len() - 1].parse::<i64>()
    {
        let unit_ms = match unit {
            's' => 1000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return Err(bad()),
        };
        return Ok(now_ms - amount * unit_ms);
    }
    let text = text.trim_end_matches('Z');
    let (date, time) = text.split_once(['T', ' ']).unwrap_or((text, "00:00:00"));
    let date: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let time: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [y, m, d] = date[..] else {
        return Err(bad());
    };
    let (h, min, s) = match time[..] {
        [h, min] => (h, min, 0),
        [h, min, s] => (h, min, s),
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 60 {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * 86_400_000 + (h * 3600 + min * 60 + s) * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
    }

    #[test]
    fn csv_cells_are_quoted_when_needed() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("plain"), "plain");
    }
}
