//! Calendar time in UTC, without a date-time crate: milliseconds since the
//! epoch to and from dates, for the audit trail, budgets and usage reports.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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
/// (`2026-11-22`, `2026-11-22T14:00`, `2026-11-22T14:00:05Z`), an RFC 3339
/// time with fractions or an offset (`2026-11-22T16:00:05.250+02:00`), or an
/// age relative to `now_ms` (`90s`, `15m`, `2h`, `7d`).
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "`{text}`: expected a UTC time such as 2026-11-22 or 2026-11-22T14:00:05Z, or an age such as 15m, 2h or 7d"
        )
    };
    if text
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphabetic() && c != 'Z')
    {
        return parse_duration_ms(text)
            .map(|age| now_ms - age)
            .ok_or_else(bad);
    }
    let (date, time) = text.split_once(['T', ' ']).unwrap_or((text, "00:00:00Z"));
    let (time, offset_ms) = split_offset(time).ok_or_else(bad)?;
    let (time, fraction_ms) = match time.split_once('.') {
        Some((time, digits))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let millis: String = digits.chars().chain("00".chars()).take(3).collect();
            (time, millis.parse::<i64>().map_err(|_| bad())?)
        }
        Some(_) => return Err(bad()),
        None => (time, 0),
    };
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
    Ok(
        days_from_civil(y, m, d) * 86_400_000 + (h * 3600 + min * 60 + s) * 1000 + fraction_ms
            - offset_ms,
    )
}

/// A span of time written `90s`, `15m`, `2h` or `7d`, in milliseconds.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit_ms = match text.chars().last()? {
        's' => 1000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    let amount: i64 = text[..text.len() - 1].parse().ok().filter(|n| *n >= 0)?;
    amount.checked_mul(unit_ms)
}

/// The time of day without its UTC offset (`Z`, `+02:00`, `-0530`, or none for
/// UTC), and the offset in milliseconds.
fn split_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(time) = time.strip_suffix(['Z', 'z']) {
        return Some((time, 0));
    }
    let Some(at) = time.rfind(['+', '-']) else {
        return Some((time, 0));
    };
    let (time, offset) = time.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits = offset[1..].replace(':', "");
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    Some((time, sign * (hours * 60 + minutes) * 60_000))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of `days_from_civil`).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
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
