//! How `sluice keys` shows keys: a table, one key's details, or JSON. None of
//! them holds a hash; a secret appears only in [`with_secret`] and
//! [`write_secret`], right after it was made.

use super::record::KeyRecord;
use crate::audit::report::format_time;
use crate::secret::Secret;
use std::io::{self, Write};

/// One line a key: id, name, prefix, team, status, expiry, creation.
pub fn write_table(out: &mut impl Write, keys: &[KeyRecord], now: i64) -> io::Result<()> {
    let rows: Vec<[String; 7]> = keys
        .iter()
        .map(|k| {
            [
                k.id.clone(),
                k.name.clone(),
                format!("{}…", k.prefix),
                k.team.clone().unwrap_or_else(|| "-".into()),
                k.status(now).as_str().to_string(),
                k.expires_at.map_or_else(|| "never".into(), format_time),
                format_time(k.created_at),
            ]
        })
        .collect();
    let header = [
        "ID", "NAME", "PREFIX", "TEAM", "STATUS", "EXPIRES", "CREATED",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

/// Everything about one key, a field a line.
pub fn write_details(out: &mut impl Write, key: &KeyRecord, now: i64) -> io::Result<()> {
    let list = |items: &[String], empty: &str| {
        if items.is_empty() {
            empty.to_string()
        } else {
            items.join(", ")
        }
    };
    let time = |t: Option<i64>, none: &str| t.map_or_else(|| none.to_string(), format_time);
    let tags: Vec<String> = key
        .metadata
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let fields = [
        ("id", key.id.clone()),
        ("name", key.name.clone()),
        ("prefix", format!("{}…", key.prefix)),
        ("status", key.status(now).as_str().to_string()),
        ("team", key.team.clone().unwrap_or_else(|| "-".into())),
        ("metadata", list(&tags, "-")),
        (
            "default model",
            key.default_model.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "guardrails",
            key.guardrails
                .as_ref()
                .map_or_else(|| "all".into(), |g| list(g, "none")),
        ),
        ("models", list(&key.allowed_models, "any")),
        ("providers", list(&key.allowed_providers, "any")),
        (
            "routing config",
            key.routing_config.clone().unwrap_or_else(|| "-".into()),
        ),
        ("created", format_time(key.created_at)),
        ("expires", time(key.expires_at, "never")),
        ("rotated", time(key.rotated_at, "never")),
        ("revoked", time(key.revoked_at, "no")),
    ];
    for (name, value) in fields {
        writeln!(out, "{:<14} {value}", format!("{name}:"))?;
    }
    Ok(())
}

/// The secret of a key just created or rotated, said to be shown once.
pub fn write_secret(out: &mut impl Write, secret: &Secret) -> io::Result<()> {
    writeln!(
        out,
        "\nsecret (shown once; sluice keeps only its hash):\n{}",
        secret.expose()
    )
}

/// The JSON of a key just created or rotated: its fields and `secret`.
pub fn with_secret(key: &KeyRecord, secret: &Secret, now: i64) -> serde_json::Value {
    let mut json = key.to_json(now);
    json["secret"] = secret.expose().into();
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::record::KeyHash;

    #[test]
    fn a_table_lines_up_and_shows_no_secret_material() {
        let mut a = KeyRecord::blank("ci".into(), KeyHash::of("s1"), "sk-sluice-ab12".into(), 0);
        a.team = Some("infra".into());
        let mut b = KeyRecord::blank(
            "laptop-jane".into(),
            KeyHash::of("s2"),
            "sk-sluice-cd34".into(),
            0,
        );
        b.revoked_at = Some(5);
        let mut out = Vec::new();
        write_table(&mut out, &[a.clone(), b], 10).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ID           NAME"), "{text}");
        assert!(lines[1].contains("sk-sluice-ab12…") && lines[1].contains("infra"));
        assert!(lines[2].contains("revoked"), "{text}");
        let mut out = Vec::new();
        write_details(&mut out, &a, 10).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("guardrails:    all\n"), "{text}");
        assert!(text.contains("models:        any\n"), "{text}");
    }
}
