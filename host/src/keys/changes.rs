//! What creating or updating a key sets, checked field by field. The CLI and
//! the admin API both fill a [`KeyChanges`]; every error names the field as the
//! admin API spells it (`allowed_models[1]`, `metadata.app`).

use super::record::KeyRecord;
use crate::audit::report::{parse_duration_ms, parse_time};
use crate::config::{Config, is_slug};
use crate::metadata::{MAX_TAGS, check_tag_name, check_tag_value};

/// The longest name, model name or model pattern, in bytes.
const MAX_TEXT: usize = 256;

/// Changes to a key; `None` leaves a field as it is, and `Some(None)` clears
/// an optional one.
#[derive(Debug, Clone, Default)]
pub struct KeyChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new team, or none.
    pub team: Option<Option<String>>,
    /// Tags to set (`Some`) or remove (`None`), in order.
    pub tags: Vec<(String, Option<String>)>,
    /// A new default model, or none.
    pub default_model: Option<Option<String>>,
    /// A new guardrail subset, or `Some(None)` for all guardrails.
    pub guardrails: Option<Option<Vec<String>>>,
    /// New allowed model patterns (empty: any model).
    pub allowed_models: Option<Vec<String>>,
    /// New allowed provider slugs (empty: any provider).
    pub allowed_providers: Option<Vec<String>>,
    /// A new expiry, or none.
    pub expires_at: Option<Option<i64>>,
    /// A new routing config, or none.
    pub routing_config: Option<Option<String>>,
}

/// A field with a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct Invalid {
    /// The field, such as `allowed_models[1]`.
    pub field: String,
    /// Why.
    pub message: String,
}

impl Invalid {
    /// `field` cannot be `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl KeyChanges {
    /// Checks every change and applies them to `key`; on an error `key` may be
    /// half changed, so callers apply to a copy (the stores do).
    pub fn apply(&self, key: &mut KeyRecord) -> Result<(), Invalid> {
        if let Some(name) = &self.name {
            check_text("name", name)?;
            key.name = name.clone();
        }
        if let Some(team) = &self.team {
            if let Some(team) = team {
                if team.is_empty() {
                    return Err(Invalid::new("team", "must not be empty"));
                }
                check_tag_value("team", team).map_err(|m| Invalid::new("team", m))?;
            }
            key.team = team.clone();
        }
        for (name, value) in &self.tags {
            let field = format!("metadata.{name}");
            check_tag_name(name).map_err(|m| Invalid::new(&field, m))?;
            if name == "team" {
                return Err(Invalid::new(field, "set the team with `team` (--team)"));
            }
            match value {
                Some(value) => {
                    check_tag_value(name, value).map_err(|m| Invalid::new(&field, m))?;
                    key.metadata.insert(name.clone(), value.clone());
                }
                None => {
                    key.metadata.remove(name);
                }
            }
        }
        if key.metadata.len() > MAX_TAGS {
            return Err(Invalid::new(
                "metadata",
                format!("at most {MAX_TAGS} tags, got {}", key.metadata.len()),
            ));
        }
        if let Some(model) = &self.default_model {
            if let Some(model) = model {
                check_text("default_model", model)?;
            }
            key.default_model = model.clone();
        }
        if let Some(guardrails) = &self.guardrails {
            for (i, id) in guardrails.iter().flatten().enumerate() {
                check_text(&format!("guardrails[{i}]"), id)?;
            }
            key.guardrails = guardrails.clone().map(deduplicated);
        }
        if let Some(patterns) = &self.allowed_models {
            for (i, pattern) in patterns.iter().enumerate() {
                check_text(&format!("allowed_models[{i}]"), pattern)?;
            }
            key.allowed_models = deduplicated(patterns.clone());
        }
        if let Some(providers) = &self.allowed_providers {
            for (i, slug) in providers.iter().enumerate() {
                if !is_slug(slug) {
                    return Err(Invalid::new(
                        format!("allowed_providers[{i}]"),
                        format!(
                            "{slug:?} is not a provider slug (lowercase letters, digits, '-' or '_')"
                        ),
                    ));
                }
            }
            key.allowed_providers = deduplicated(providers.clone());
        }
        if let Some(config) = &self.routing_config {
            if let Some(name) = config {
                check_text("routing_config", name)?;
            }
            key.routing_config = config.clone();
        }
        if let Some(expires_at) = self.expires_at {
            key.expires_at = expires_at;
        }
        Ok(())
    }
}

/// Checks a key id given by a person.
pub fn check_id(id: &str) -> Result<(), Invalid> {
    if is_slug(id) {
        Ok(())
    } else {
        Err(Invalid::new(
            "id",
            format!("{id:?} must be 1 to 64 lowercase letters, digits, '-' or '_'"),
        ))
    }
}

/// Checks that what `key` names exists in `config`: its default model, its
/// guardrails, its providers (also those its `@provider/...` patterns name),
/// and that its id is not a config key's.
pub fn check_against_config(key: &KeyRecord, config: &Config) -> Result<(), Invalid> {
    if config.keys.iter().any(|k| k.id == key.id) {
        return Err(Invalid::new(
            "id",
            format!("`{}` is the id of a key in the config's [[keys]]", key.id),
        ));
    }
    if let Some(model) = &key.default_model {
        config
            .check_model_or_alias(model)
            .map_err(|m| Invalid::new("default_model", m))?;
    }
    if let Some(name) = &key.routing_config
        && !config.routing.contains_key(name)
    {
        return Err(Invalid::new(
            "routing_config",
            format!("no routing config `{name}` ([routing.{name}] is not in the config)"),
        ));
    }
    let guardrails: Vec<String> = config.guardrails.iter().map(|g| g.id()).collect();
    for (i, id) in key.guardrails.iter().flatten().enumerate() {
        if !guardrails.contains(id) {
            return Err(Invalid::new(
                format!("guardrails[{i}]"),
                format!(
                    "no guardrail with id `{id}` (configured: {})",
                    guardrails.join(", ")
                ),
            ));
        }
    }
    let providers: Vec<&str> = config.providers.iter().map(|p| p.slug.as_str()).collect();
    let unknown = |field: String, slug: &str| {
        Invalid::new(
            field,
            format!(
                "no provider `{slug}` is configured (configured: {})",
                providers.join(", ")
            ),
        )
    };
    for (i, slug) in key.allowed_providers.iter().enumerate() {
        if !providers.contains(&slug.as_str()) {
            return Err(unknown(format!("allowed_providers[{i}]"), slug));
        }
    }
    for (i, pattern) in key.allowed_models.iter().enumerate() {
        if let Some((slug, _)) = pattern.strip_prefix('@').and_then(|p| p.split_once('/'))
            && !slug.contains('*')
            && !providers.contains(&slug)
        {
            return Err(unknown(format!("allowed_models[{i}]"), slug));
        }
    }
    Ok(())
}

/// An expiry as the CLI and the admin API take it: an RFC 3339 time
/// (`2026-12-31T23:59:59Z`, `2026-12-31`) or a span from `now` (`30d`, `12h`).
pub fn parse_expiry(text: &str, now: i64) -> Result<i64, Invalid> {
    parse_duration_ms(text)
        .map(|span| now.saturating_add(span))
        .or_else(|| parse_time(text, now).ok())
        .ok_or_else(|| {
            Invalid::new(
                "expires_at",
                format!(
                    "`{text}`: expected an RFC 3339 time such as 2026-12-31T23:59:59Z, or a span from now such as 30d, 12h or 90m"
                ),
            )
        })
}

/// Names, models and patterns: 1 to 256 bytes, no spaces or control characters
/// (a name may have spaces).
fn check_text(field: &str, text: &str) -> Result<(), Invalid> {
    let spaces_allowed = field == "name";
    let bad_char = text
        .chars()
        .any(|c| c.is_control() || (!spaces_allowed && c.is_whitespace()));
    if text.trim().is_empty() || text.len() > MAX_TEXT || bad_char {
        let what = if spaces_allowed {
            "without control characters"
        } else {
            "without spaces or control characters"
        };
        return Err(Invalid::new(
            field,
            format!("must be 1 to {MAX_TEXT} bytes, {what}"),
        ));
    }
    Ok(())
}

fn deduplicated(mut items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| seen.insert(item.clone()));
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::record::KeyHash;
    use std::path::Path;

    fn key() -> KeyRecord {
        KeyRecord::blank("ci".into(), KeyHash::of("s"), "sk-sluice-ab12".into(), 0)
    }

    #[test]
    fn changes_apply_and_clear() {
        let mut key = key();
        let changes = KeyChanges {
            name: Some("CI bot".into()),
            team: Some(Some("infra".into())),
            tags: vec![
                ("app".into(), Some("ci".into())),
                ("env".into(), Some("prod".into())),
            ],
            allowed_models: Some(vec!["@oa/*".into(), "@oa/*".into(), "claude-*".into()]),
            expires_at: Some(Some(99)),
            ..KeyChanges::default()
        };
        changes.apply(&mut key).unwrap();
        assert_eq!(key.name, "CI bot");
        assert_eq!(key.team.as_deref(), Some("infra"));
        assert_eq!(key.allowed_models, ["@oa/*", "claude-*"]);
        assert_eq!(key.expires_at, Some(99));
        let clear = KeyChanges {
            team: Some(None),
            tags: vec![("env".into(), None)],
            expires_at: Some(None),
            ..KeyChanges::default()
        };
        clear.apply(&mut key).unwrap();
        assert_eq!(key.team, None);
        assert_eq!(key.expires_at, None);
        assert_eq!(key.metadata.keys().collect::<Vec<_>>(), ["app"]);
        assert_eq!(key.name, "CI bot", "untouched fields stay");
    }

    #[test]
    fn each_bad_value_is_refused_naming_its_field() {
        let cases: Vec<(KeyChanges, &str)> = vec![
            (
                KeyChanges {
                    name: Some(" ".into()),
                    ..Default::default()
                },
                "name",
            ),
            (
                KeyChanges {
                    team: Some(Some("a\nb".into())),
                    ..Default::default()
                },
                "team",
            ),
            (
                KeyChanges {
                    tags: vec![("team".into(), Some("b".into()))],
                    ..Default::default()
                },
                "metadata.team",
            ),
            (
                KeyChanges {
                    tags: vec![("a b".into(), Some("x".into()))],
                    ..Default::default()
                },
                "metadata.a b",
            ),
            (
                KeyChanges {
                    allowed_models: Some(vec!["ok".into(), "two words".into()]),
                    ..Default::default()
                },
                "allowed_models[1]",
            ),
            (
                KeyChanges {
                    allowed_providers: Some(vec!["OpenAI".into()]),
                    ..Default::default()
                },
                "allowed_providers[0]",
            ),
            (
                KeyChanges {
                    default_model: Some(Some(String::new())),
                    ..Default::default()
                },
                "default_model",
            ),
        ];
        for (changes, field) in cases {
            let error = changes.apply(&mut key()).unwrap_err();
            assert_eq!(error.field, field, "{error}");
        }
        let many = KeyChanges {
            tags: (0..=MAX_TAGS)
                .map(|i| (format!("t{i}"), Some("v".into())))
                .collect(),
            ..Default::default()
        };
        assert_eq!(many.apply(&mut key()).unwrap_err().field, "metadata");
        assert_eq!(check_id("Bad Id").unwrap_err().field, "id");
        assert!(check_id("ci-bot_2").is_ok());
    }

    #[test]
    fn what_a_key_names_must_exist_in_the_config() {
        let config = Config::parse(
            "[[providers]]\nslug = \"oa\"\nkind = \"echo\"\n\n[models]\nfast = \"@oa/m\"\n\n\
             [[guardrails]]\nplugin = \"pii\"\n\n[[keys]]\nid = \"cfg\"\nkey = \"0123456789abcdef\"\n",
            Path::new("."),
            &|_| None,
        )
        .unwrap();
        let mut good = key();
        good.default_model = Some("fast".into());
        good.guardrails = Some(vec!["pii".into()]);
        good.allowed_providers = vec!["oa".into()];
        good.allowed_models = vec!["@oa/*".into(), "@*/m".into(), "gpt-*".into()];
        check_against_config(&good, &config).unwrap();
        type Spoil = fn(&mut KeyRecord);
        let cases: Vec<(Spoil, &str)> = vec![
            (|k| k.id = "cfg".into(), "id"),
            (
                |k| k.default_model = Some("@nope/m".into()),
                "default_model",
            ),
            (
                |k| k.guardrails = Some(vec!["secrets".into()]),
                "guardrails[0]",
            ),
            (
                |k| k.allowed_providers = vec!["an".into()],
                "allowed_providers[0]",
            ),
            (
                |k| k.allowed_models = vec!["@an/*".into()],
                "allowed_models[0]",
            ),
        ];
        for (spoil, field) in cases {
            let mut bad = good.clone();
            spoil(&mut bad);
            assert_eq!(
                check_against_config(&bad, &config).unwrap_err().field,
                field
            );
        }
    }

    #[test]
    fn expiries_are_times_or_spans_from_now() {
        let now = 1_000_000;
        assert_eq!(parse_expiry("30d", now), Ok(now + 30 * 86_400_000));
        assert_eq!(parse_expiry("12h", now), Ok(now + 12 * 3_600_000));
        assert_eq!(parse_expiry("1970-01-02T00:00:00Z", now), Ok(86_400_000));
        assert_eq!(
            parse_expiry("1970-01-02T02:00:00+02:00", now),
            Ok(86_400_000)
        );
        assert_eq!(parse_expiry("1970-01-02", now), Ok(86_400_000));
        for bad in ["soon", "30w", "1970-13-01", ""] {
            assert_eq!(
                parse_expiry(bad, now).unwrap_err().field,
                "expires_at",
                "{bad}"
            );
        }
    }
}
