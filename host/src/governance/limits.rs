//! Budgets and rate limits as the gateway applies them: which of them a
//! request falls under, and the counter each one keeps for it.

use super::window::Window;
use crate::config::{BudgetConfig, Period, RateLimitConfig};

/// What a limit is applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    Key,
    Team,
    Model,
    Tag(String),
}

/// One selected value, or each value separately (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matches {
    Each,
    Exactly(String),
}

/// The requests a limit counts: one key, team, model or tag value, or each.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scope {
    selector: Selector,
    matches: Matches,
}

impl Scope {
    /// From the config's selector fields (validation made sure one is set).
    fn parse(
        key: &Option<String>,
        team: &Option<String>,
        model: &Option<String>,
        tag: &Option<String>,
    ) -> Scope {
        let matches = |value: &str| match value {
            "*" => Matches::Each,
            other => Matches::Exactly(other.to_string()),
        };
        if let Some(tag) = tag {
            let (name, value) = tag.split_once('=').unwrap_or((tag, "*"));
            return Scope {
                selector: Selector::Tag(name.to_string()),
                matches: matches(value),
            };
        }
        let (selector, value) = match (key, team, model) {
            (Some(k), _, _) => (Selector::Key, k),
            (_, Some(t), _) => (Selector::Team, t),
            (_, _, Some(m)) => (Selector::Model, m),
            _ => unreachable!("validated: one selector is set"),
        };
        Scope {
            selector,
            matches: matches(value),
        }
    }

    /// The value this scope counts `request` under, if it applies.
    fn value_for(&self, request: &Subject<'_>) -> Option<String> {
        let tag = |name: &str| {
            request
                .metadata
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let value = match &self.selector {
            Selector::Key => request.key_id?,
            Selector::Team => tag("team")?,
            Selector::Model => request.model,
            Selector::Tag(name) => tag(name)?,
        };
        match &self.matches {
            Matches::Each => Some(value.to_string()),
            Matches::Exactly(wanted) => (wanted == value).then(|| value.to_string()),
        }
    }

    /// `key alice`, `team research`, `tag project=apollo`, `model @openai/gpt-4o`.
    fn describe(&self, value: &str) -> String {
        match &self.selector {
            Selector::Key => format!("key {value}"),
            Selector::Team => format!("team {value}"),
            Selector::Model => format!("model {value}"),
            Selector::Tag(name) => format!("tag {name}={value}"),
        }
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Requests let in.
    Requests,
    /// Tokens, input and output, as the provider reported them.
    Tokens,
    /// Cost in billionths of a dollar.
    CostNanos,
}

impl Metric {
    fn as_str(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::Tokens => "tokens",
            Metric::CostNanos => "cost",
        }
    }
}

/// A budget (refused with 402 once spent) or a rate limit (refused with 429
/// until its window ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// From `[[budgets]]`.
    Budget,
    /// From `[[rate_limits]]`.
    RateLimit,
}

/// One limit on one metric.
#[derive(Debug, Clone)]
pub struct Limit {
    /// The config's id.
    pub id: String,
    /// Budget or rate limit.
    pub kind: Kind,
    scope: Scope,
    /// The window it counts in.
    pub period: Period,
    /// What it counts.
    pub metric: Metric,
    /// The most it allows in a window.
    pub max: i64,
}

impl Limit {
    /// The start and end of the name of every counter of this limit in
    /// `window`; the value it counts under goes between them. Metadata values
    /// hold no control characters, so 0x1F separates.
    pub fn counter_parts(&self, window: &Window) -> (String, String) {
        (
            format!("{}\u{1f}", self.id),
            format!(
                "\u{1f}{}\u{1f}{}",
                self.metric.as_str(),
                window.start_ms / 1000
            ),
        )
    }

    /// The value a limit on one value counts under (`None` for `*`: each
    /// value has its own counter).
    pub fn only_value(&self) -> Option<&str> {
        match &self.scope.matches {
            Matches::Exactly(value) => Some(value),
            Matches::Each => None,
        }
    }

    /// What it applies to, in words: `team research`, `each key`.
    pub fn describe_scope(&self) -> String {
        match &self.scope.matches {
            Matches::Exactly(value) => self.scope.describe(value),
            Matches::Each => match &self.scope.selector {
                Selector::Key => "each key".into(),
                Selector::Team => "each team".into(),
                Selector::Model => "each model".into(),
                Selector::Tag(name) => format!("each value of tag {name}"),
            },
        }
    }

    /// `requests`, `tokens` or `cost`.
    pub fn metric_name(&self) -> &'static str {
        self.metric.as_str()
    }
}

/// The facts of a request that limits select on.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The gateway key's id.
    pub key_id: Option<&'a str>,
    /// The merged metadata tags (`team` among them).
    pub metadata: &'a [(String, String)],
    /// The model as routed, `@provider/model`.
    pub model: &'a str,
}

/// One limit as it applies to one request: its counter in the current window.
#[derive(Debug, Clone)]
pub struct Applied<'a> {
    /// The limit.
    pub limit: &'a Limit,
    /// The key, team, model or tag value it counts the request under.
    pub value: String,
    /// The current window.
    pub window: Window,
    /// The counter's name in the state store.
    pub counter: String,
}

impl Applied<'_> {
    /// `team research`, for messages.
    pub fn describe(&self) -> String {
        self.limit.scope.describe(&self.value)
    }
}

/// Every configured limit.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    limits: Vec<Limit>,
}

impl Limits {
    /// The limits of the config: one per budget or rate-limit metric.
    pub fn new(budgets: &[BudgetConfig], rate_limits: &[RateLimitConfig]) -> Self {
        let mut limits = Vec::new();
        for b in budgets {
            let scope = Scope::parse(&b.key, &b.team, &None, &b.tag);
            let metrics = [
                (
                    Metric::CostNanos,
                    b.cost_usd.map(|usd| (usd * 1e9).round() as i64),
                ),
                (Metric::Tokens, b.tokens.map(saturating_i64)),
            ];
            for (metric, max) in metrics {
                if let Some(max) = max {
                    limits.push(Limit {
                        id: b.id.clone(),
                        kind: Kind::Budget,
                        scope: scope.clone(),
                        period: b.period,
                        metric,
                        max,
                    });
                }
            }
        }
        for r in rate_limits {
            let scope = Scope::parse(&r.key, &r.team, &r.model, &r.tag);
            let metrics = [(Metric::Requests, r.requests), (Metric::Tokens, r.tokens)];
            for (metric, max) in metrics {
                if let Some(max) = max {
                    limits.push(Limit {
                        id: r.id.clone(),
                        kind: Kind::RateLimit,
                        scope: scope.clone(),
                        period: r.per,
                        metric,
                        max: saturating_i64(max),
                    });
                }
            }
        }
        Limits { limits }
    }

    /// Every limit, in config order.
    pub fn iter(&self) -> impl Iterator<Item = &Limit> {
        self.limits.iter()
    }

    /// True when nothing is limited.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// The limits `request` falls under, with their counters at `now_ms`.
    pub fn applying(&self, request: &Subject<'_>, now_ms: i64) -> Vec<Applied<'_>> {
        self.limits
            .iter()
            .filter_map(|limit| {
                let value = limit.scope.value_for(request)?;
                let window = Window::of(limit.period, now_ms);
                let (prefix, suffix) = limit.counter_parts(&window);
                let counter = format!("{prefix}{value}{suffix}");
                Some(Applied {
                    limit,
                    value,
                    window,
                    counter,
                })
            })
            .collect()
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_limit(id: &str, team: Option<&str>, tag: Option<&str>) -> RateLimitConfig {
        RateLimitConfig {
            id: id.into(),
            key: None,
            team: team.map(Into::into),
            model: None,
            tag: tag.map(Into::into),
            per: Period::Minute,
            requests: Some(10),
            tokens: Some(1000),
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn scopes_select_by_exact_value_or_each_value() {
        let limits = Limits::new(
            &[],
            &[
                rate_limit("research", Some("research"), None),
                rate_limit("per-project", None, Some("project")),
                rate_limit("apollo", None, Some("project=apollo")),
            ],
        );
        let metadata = tags(&[("team", "research"), ("project", "zeus")]);
        let subject = Subject {
            key_id: Some("alice"),
            metadata: &metadata,
            model: "@openai/gpt-4o",
        };
        let applied = limits.applying(&subject, 0);
        let names: Vec<(&str, String)> = applied
            .iter()
            .map(|a| (a.limit.id.as_str(), a.describe()))
            .collect();
        assert_eq!(
            names,
            [
                ("research", "team research".to_string()),
                ("research", "team research".to_string()),
                ("per-project", "tag project=zeus".to_string()),
                ("per-project", "tag project=zeus".to_string()),
            ]
        );
        // Requests and tokens keep separate counters.
        assert_ne!(applied[0].counter, applied[1].counter);
    }

    #[test]
    fn budgets_count_cost_in_nano_dollars() {
        let budget = BudgetConfig {
            id: "monthly".into(),
            key: Some("*".into()),
            team: None,
            tag: None,
            period: Period::Month,
            cost_usd: Some(12.5),
            tokens: None,
        };
        let limits = Limits::new(&[budget], &[]);
        let subject = Subject {
            key_id: Some("bob"),
            metadata: &[],
            model: "@anthropic/claude-sonnet-4-5",
        };
        let applied = limits.applying(&subject, 0);
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0].limit.max, 12_500_000_000);
        assert_eq!(applied[0].limit.metric, Metric::CostNanos);
        // Without a key (an open gateway), a per-key budget does not apply.
        let anonymous = Subject {
            key_id: None,
            ..subject
        };
        assert!(limits.applying(&anonymous, 0).is_empty());
    }
}
