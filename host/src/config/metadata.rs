//! `[metadata]`: which tags a request may set in `x-sluice-metadata`. What the
//! gateway does with the header is in `crate::metadata`.
//!
//! Tags select budgets, rate limits and routing conditions and are usage
//! dimensions, so a client must not be able to claim one that an operator
//! meant to assign. The rule:
//!
//! - `team` is only ever a gateway key's; no request sets it.
//! - With `request_tags` set, a request may set exactly the tags it lists.
//! - Without it, a request may set [`DEFAULT_REQUEST_TAGS`], except any of
//!   them that a budget, rate limit or routing condition selects on: such a
//!   tag is the client's to set only when the operator lists it.
//! - The tags the gateway takes from agents' headers
//!   ([`crate::metadata::HEADER_TAGS`]: `claude_code_session`,
//!   `claude_code_agent`) are recorded whether or not `request_tags` is
//!   written, except one that a budget, rate limit or routing condition
//!   selects on and `request_tags` does not list: the header's value is the
//!   client's choice too.

use super::{BudgetConfig, RateLimitConfig, RouteNode};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The tags a request may set when `request_tags` is not in the config.
pub const DEFAULT_REQUEST_TAGS: [&str; 3] = ["app", "session", "user"];

/// The tag that only a gateway key sets.
pub const TEAM_TAG: &str = "team";

/// The `[metadata]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    /// The tags a request may set in `x-sluice-metadata`, as written in the
    /// config (`None`: not written).
    request_tags: Option<Vec<String>>,
    /// The tags a request may set, once the config is read (see the module).
    #[serde(skip)]
    allowed: Vec<String>,
    /// The tags of [`crate::metadata::HEADER_TAGS`] recorded from headers.
    #[serde(skip)]
    from_headers: Vec<String>,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            request_tags: None,
            allowed: DEFAULT_REQUEST_TAGS.map(String::from).to_vec(),
            from_headers: header_tags().map(String::from).collect(),
        }
    }
}

impl MetadataConfig {
    /// A section listing `tags` (as `request_tags = [...]` would).
    pub fn listing(tags: &[&str]) -> Self {
        MetadataConfig {
            request_tags: Some(tags.iter().map(|t| t.to_string()).collect()),
            allowed: tags.iter().map(|t| t.to_string()).collect(),
            from_headers: header_tags().map(String::from).collect(),
        }
    }

    /// Whether a request may set tag `name`.
    pub fn request_may_set(&self, name: &str) -> bool {
        self.allowed.iter().any(|t| t == name)
    }

    /// Whether tag `name`, of [`crate::metadata::HEADER_TAGS`], is recorded
    /// from its header.
    pub fn header_may_set(&self, name: &str) -> bool {
        self.from_headers.iter().any(|t| t == name)
    }

    /// Why a request may not set `name` (which it may not), for the 403.
    pub fn refusal(&self, name: &str) -> String {
        if name == TEAM_TAG {
            return format!("`{TEAM_TAG}` is set only by a gateway key, never by a request");
        }
        match &self.request_tags {
            Some(_) => format!(
                "`{name}` may not be set by a request: it is not in [metadata] request_tags ({})",
                describe(&self.allowed)
            ),
            None if DEFAULT_REQUEST_TAGS.contains(&name) => format!(
                "`{name}` may not be set by a request: a budget, rate limit or routing condition selects on it, \
                 and it is not listed in [metadata] request_tags"
            ),
            None => format!(
                "`{name}` may not be set by a request: it is not in [metadata] request_tags (default: {})",
                describe(&self.allowed)
            ),
        }
    }

    /// Checks the section and works out the tags a request may set; returns
    /// the offending field and why.
    pub fn resolve(
        &mut self,
        budgets: &[BudgetConfig],
        rate_limits: &[RateLimitConfig],
        routing: &BTreeMap<String, RouteNode>,
    ) -> Result<(), (String, String)> {
        let mut selected: Vec<&str> = budgets
            .iter()
            .filter_map(|b| b.tag.as_deref())
            .chain(rate_limits.iter().filter_map(|r| r.tag.as_deref()))
            .map(|tag| tag.split_once('=').map_or(tag, |(name, _)| name))
            .collect();
        for node in routing.values() {
            condition_tags(node, &mut selected);
        }
        let listed = self.request_tags.clone().unwrap_or_default();
        self.from_headers = header_tags()
            .filter(|tag| !selected.contains(tag) || listed.iter().any(|l| l == tag))
            .map(String::from)
            .collect();
        if let Some(listed) = &self.request_tags {
            for (i, name) in listed.iter().enumerate() {
                let field = format!("metadata.request_tags[{i}]");
                crate::metadata::check_tag_name(name).map_err(|m| (field.clone(), m))?;
                if name == TEAM_TAG {
                    return Err((
                        field,
                        format!(
                            "`{TEAM_TAG}` is set only by gateway keys; a request cannot set it"
                        ),
                    ));
                }
            }
            self.allowed = listed.clone();
            return Ok(());
        }
        self.allowed = DEFAULT_REQUEST_TAGS
            .into_iter()
            .filter(|tag| !selected.contains(tag))
            .map(String::from)
            .collect();
        Ok(())
    }
}

/// The names of the tags taken from headers.
fn header_tags() -> impl Iterator<Item = &'static str> {
    crate::metadata::HEADER_TAGS.into_iter().map(|(_, tag)| tag)
}

/// The tags that the conditions of `node` and the nodes under it test.
fn condition_tags<'a>(node: &'a RouteNode, tags: &mut Vec<&'a str>) {
    for condition in &node.conditions {
        tags.extend(
            condition
                .when
                .keys()
                .filter_map(|field| field.strip_prefix("metadata.")),
        );
    }
    for target in &node.targets {
        condition_tags(target, tags);
    }
}

/// `a, b` or `none`.
fn describe(tags: &[String]) -> String {
    if tags.is_empty() {
        "none".into()
    } else {
        tags.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("."), &|_| None).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn listed_tags_are_exactly_what_a_request_may_set() {
        let config = parse("[metadata]\nrequest_tags = [\"project\", \"session\"]\n").unwrap();
        assert!(config.metadata.request_may_set("project"));
        assert!(config.metadata.request_may_set("session"));
        assert!(!config.metadata.request_may_set("app"));
        assert!(!config.metadata.request_may_set("team"));
        let refusal = config.metadata.refusal("app");
        assert!(refusal.contains("[metadata] request_tags"), "{refusal}");
    }

    #[test]
    fn by_default_requests_set_the_usual_tags_unless_something_selects_on_them() {
        let config = parse("").unwrap();
        for tag in ["app", "session", "user"] {
            assert!(config.metadata.request_may_set(tag), "{tag}");
        }
        assert!(!config.metadata.request_may_set("project"));
        assert!(!config.metadata.request_may_set("team"));

        let config = parse(
            "[[budgets]]\nid = \"b\"\ntag = \"session=*\"\nperiod = \"day\"\ntokens = 10\n\
             [[rate_limits]]\nid = \"r\"\ntag = \"user\"\nper = \"minute\"\nrequests = 1\n\
             [[providers]]\nslug = \"oa\"\nkind = \"echo\"\n\
             [routing.r]\nstrategy = \"conditional\"\ndefault = \"a\"\n\
             conditions = [{ when = { \"metadata.app\" = { eq = \"x\" } }, then = \"a\" }]\n\
             targets = [{ name = \"a\", model = \"@oa/m\" }]\n",
        )
        .unwrap();
        for tag in ["app", "session", "user"] {
            assert!(!config.metadata.request_may_set(tag), "{tag}");
            let refusal = config.metadata.refusal(tag);
            assert!(refusal.contains("selects on it"), "{refusal}");
        }
    }

    #[test]
    fn header_tags_are_recorded_unless_selected_on_and_not_listed() {
        for config in [
            parse("").unwrap(),
            parse("[metadata]\nrequest_tags = [\"project\"]\n").unwrap(),
        ] {
            assert!(config.metadata.header_may_set("claude_code_session"));
            assert!(config.metadata.header_may_set("claude_code_agent"));
        }
        let budget = "[[budgets]]\nid = \"b\"\ntag = \"claude_code_session=*\"\nperiod = \"day\"\ntokens = 10\n";
        let config = parse(budget).unwrap();
        assert!(!config.metadata.header_may_set("claude_code_session"));
        assert!(config.metadata.header_may_set("claude_code_agent"));
        let config = parse(&format!(
            "{budget}[metadata]\nrequest_tags = [\"claude_code_session\"]\n"
        ))
        .unwrap();
        assert!(config.metadata.header_may_set("claude_code_session"));
    }

    #[test]
    fn team_and_bad_names_cannot_be_listed() {
        let error = parse("[metadata]\nrequest_tags = [\"team\"]\n").unwrap_err();
        assert!(error.contains("metadata.request_tags[0]"), "{error}");
        let error = parse("[metadata]\nrequest_tags = [\"a b\"]\n").unwrap_err();
        assert!(error.contains("tag names"), "{error}");
        let error = parse("[metadata]\nrequest_tag = []\n").unwrap_err();
        assert!(error.contains("unknown field"), "{error}");
    }
}
