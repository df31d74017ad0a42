//! The plugin's settings, as given in the gateway config.

use crate::Action;
use serde::de::DeserializeOwned;

/// What a plugin's settings say to do with one kind of finding: an action, or
/// `off` to not report it at all. Written `"redact"`, `"flag"`, `"block"` or
/// `"off"`, so that every plugin spells per-kind settings the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Replace the finding.
    Redact,
    /// Report it; let the text through.
    Flag,
    /// Refuse the text.
    Block,
    /// Do not report it.
    Off,
}

impl Mode {
    /// The action this mode asks for; `None` for `Off`.
    pub fn action(self) -> Option<Action> {
        match self {
            Mode::Redact => Some(Action::Redact),
            Mode::Flag => Some(Action::Flag),
            Mode::Block => Some(Action::Block),
            Mode::Off => None,
        }
    }
}

/// The settings for one plugin, as the JSON document the gateway passes to
/// `configure` (`{}` when the config gives none).
#[derive(Debug, Clone)]
pub struct Settings {
    json: String,
}

impl Settings {
    /// Wraps a JSON document.
    pub fn new(json: impl Into<String>) -> Self {
        Settings { json: json.into() }
    }

    /// The raw JSON text.
    pub fn as_json(&self) -> &str {
        &self.json
    }

    /// True when the config gave no settings (`{}`, `null` or nothing at all).
    pub fn is_empty(&self) -> bool {
        let trimmed = self.json.trim();
        if trimmed.is_empty() || trimmed == "null" {
            return true;
        }
        matches!(
            serde_json::from_str::<serde_json::Value>(trimmed),
            Ok(serde_json::Value::Object(map)) if map.is_empty()
        )
    }

    /// Parses the settings into `T`. Empty settings parse as `{}`, so a `T` whose
    /// fields all have `#[serde(default)]` gets its defaults. Mark `T` with
    /// `#[serde(deny_unknown_fields)]` so that a misspelt setting is refused.
    ///
    /// The error names the offending field and is meant to be shown as is.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, String> {
        let json = if self.is_empty() { "{}" } else { &self.json };
        serde_json::from_str(json).map_err(|e| format!("invalid settings: {e}"))
    }

    /// Refuses any settings: for plugins that take none.
    pub fn expect_none(&self) -> Result<(), String> {
        if self.is_empty() {
            Ok(())
        } else {
            Err("this plugin takes no settings".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct S {
        #[serde(default)]
        level: u8,
    }

    #[test]
    fn empty_settings_parse_as_defaults() {
        for json in ["", "null", "{}", "  { } "] {
            assert!(Settings::new(json).is_empty(), "{json:?}");
            assert_eq!(Settings::new(json).parse::<S>().unwrap(), S { level: 0 });
        }
    }

    #[test]
    fn unknown_field_is_refused_with_its_name() {
        let err = Settings::new(r#"{"levle": 3}"#).parse::<S>().unwrap_err();
        assert!(err.contains("levle"), "{err}");
    }

    #[test]
    fn expect_none_refuses_settings() {
        assert!(Settings::new("{}").expect_none().is_ok());
        assert!(Settings::new(r#"{"a":1}"#).expect_none().is_err());
    }
}
