//! `[routing.NAME]`: named routing configs — trees of strategies (single,
//! fallback, loadbalance, conditional) over targets, with retries and
//! timeouts. What the gateway does with them is in `crate::routing`.

use serde::Deserialize;
use std::collections::BTreeMap;

/// How a node picks among its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Its one target.
    Single,
    /// Each target in order, moving on when one fails.
    Fallback,
    /// One target, drawn at random by weight.
    Loadbalance,
    /// The target the first matching condition names, else `default`.
    Conditional,
}

/// One node of a routing config: a strategy over `targets`, a reference to
/// another named config (`config`), or a leaf that sends to a model.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteNode {
    /// Names the target, for `conditions` and response headers.
    pub name: Option<String>,
    /// For a node with `targets`: how to pick among them.
    pub strategy: Option<Strategy>,
    /// The node's targets (any of them may be a node again).
    #[serde(default)]
    pub targets: Vec<RouteNode>,
    /// Another named config to use here.
    pub config: Option<String>,
    /// A leaf's model (`@provider/model` or an alias); without one, the model
    /// the request names.
    pub model: Option<String>,
    /// Request fields to set (or, with `null`, remove) for this target.
    pub override_params: Option<serde_json::Map<String, serde_json::Value>>,
    /// Loadbalance weight (default 1).
    pub weight: Option<f64>,
    /// Fallback: the statuses that move on to the next target (default 429
    /// and 5xx). Connection errors, timeouts and malformed answers always do.
    pub on_status_codes: Option<Vec<u16>>,
    /// Conditional: tried in order; the first that matches picks its target.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Conditional: the target's name when no condition matches.
    pub default: Option<String>,
    /// Retries for the leaves under this node (a deeper `retry` wins).
    pub retry: Option<RetryConfig>,
    /// Seconds to wait for a leaf's answer to start (a deeper value wins;
    /// default: the provider's `timeout_s`).
    pub timeout_s: Option<u64>,
}

/// One condition of a conditional node.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Field → test; every test must pass. Fields: `model`, `key`, `api`,
    /// `metadata.NAME`, `params.PATH` (a dotted path into the request body).
    pub when: BTreeMap<String, Test>,
    /// The name of the target to use.
    pub then: String,
}

/// A comparison: one or more operators, all of which must hold.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Test {
    /// Equal to.
    pub eq: Option<serde_json::Value>,
    /// Not equal to (also true when the field is missing).
    pub ne: Option<serde_json::Value>,
    /// One of.
    #[serde(rename = "in")]
    pub one_of: Option<Vec<serde_json::Value>>,
    /// None of (also true when the field is missing).
    pub not_in: Option<Vec<serde_json::Value>>,
    /// Greater than (numbers).
    pub gt: Option<f64>,
    /// Greater than or equal.
    pub gte: Option<f64>,
    /// Less than.
    pub lt: Option<f64>,
    /// Less than or equal.
    pub lte: Option<f64>,
    /// A string starting with.
    pub prefix: Option<String>,
    /// A string containing.
    pub contains: Option<String>,
    /// Present (`true`) or missing (`false`).
    pub exists: Option<bool>,
}

/// Retries of one target.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Retries after the first try (0 to 10).
    pub attempts: u32,
    /// Statuses worth retrying (default 429, 500, 502, 503, 504); connection
    /// errors and timeouts are always retried.
    pub on_status_codes: Option<Vec<u16>>,
    /// The first backoff, in milliseconds (default 250), doubled each retry,
    /// with full jitter.
    pub backoff_ms: Option<u64>,
    /// The longest backoff, in milliseconds (default 8000). A `Retry-After`
    /// longer than this ends the retries.
    pub max_backoff_ms: Option<u64>,
    /// The most time all tries of one target may take, in seconds (default 120).
    pub max_total_s: Option<u64>,
}

/// `[circuit_breaker]`: a target (`@provider/model`) that failed `failures`
/// times in a row (connection errors, timeouts, malformed answers, 5xx) is
/// skipped for `cooldown_s`, then given one probe request.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreakerConfig {
    /// Skip failing targets (default `true`).
    pub enabled: bool,
    /// Failures in a row that open the circuit (default 5).
    pub failures: u32,
    /// Seconds a target is skipped before a probe (default 30).
    pub cooldown_s: u64,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            enabled: true,
            failures: 5,
            cooldown_s: 30,
        }
    }
}

impl CircuitBreakerConfig {
    /// Checks the section; returns the offending field and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.failures == 0 {
            return Err((
                "circuit_breaker.failures".into(),
                "must be at least 1 (or set enabled = false)".into(),
            ));
        }
        if !(1..=86_400).contains(&self.cooldown_s) {
            return Err((
                "circuit_breaker.cooldown_s".into(),
                "must be between 1 and 86400".into(),
            ));
        }
        Ok(())
    }
}

/// The statuses that fall back or retry by default.
pub const DEFAULT_FAILURE_CODES: [u16; 5] = [429, 500, 502, 503, 504];

/// Checks the named configs: each node is exactly one of a strategy, a
/// reference or a leaf; references exist and do not loop; models resolve
/// (`check_model` says why not).
pub fn validate(
    configs: &BTreeMap<String, RouteNode>,
    check_model: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(), (String, String)> {
    for (name, node) in configs {
        let field = format!("routing.{name}");
        check_node(node, &field, configs, check_model)?;
        check_cycles(name, configs, &mut Vec::new()).map_err(|m| (field.clone(), m))?;
    }
    Ok(())
}

/// Request fields `override_params` may not set: the model (a leaf names
/// it), the conversation, and the answer's shape the client expects. Whatever
/// an override does set is applied before the request guardrails run, so
/// they check exactly what is sent.
pub const FIXED_FIELDS: &[&str] = &["model", "messages", "stream", "stream_options"];

/// Checks one node (and those below it). Also used for configs sent inline in
/// a request header.
pub fn check_node(
    node: &RouteNode,
    field: &str,
    configs: &BTreeMap<String, RouteNode>,
    check_model: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(), (String, String)> {
    let fail = |name: &str, message: String| Err((format!("{field}.{name}"), message));
    if node.strategy.is_some() && node.config.is_some() {
        return fail(
            "config",
            "a node has either a `strategy` or a `config`, not both".into(),
        );
    }
    if let Some(name) = &node.config
        && !configs.contains_key(name)
    {
        return fail(
            "config",
            format!(
                "no routing config `{name}` (configured: {})",
                configs.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    if let Some(model) = &node.model {
        if node.strategy.is_some() || node.config.is_some() {
            return fail(
                "model",
                "only a leaf (no `strategy`, no `config`) names a model".into(),
            );
        }
        check_model(model).map_err(|m| (format!("{field}.model"), m))?;
    }
    if node.strategy.is_none() && !node.targets.is_empty() {
        return fail(
            "strategy",
            "a node with `targets` needs a `strategy`".into(),
        );
    }
    if let Some(weight) = node.weight
        && !(weight.is_finite() && weight >= 0.0)
    {
        return fail("weight", "must be a number of 0 or more".into());
    }
    if let Some(retry) = &node.retry
        && retry.attempts > 10
    {
        return fail("retry.attempts", "at most 10".into());
    }
    if let Some(field) = node
        .override_params
        .iter()
        .flat_map(|o| o.keys())
        .find(|k| FIXED_FIELDS.contains(&k.as_str()))
    {
        return fail(
            "override_params",
            format!(
                "`{field}` cannot be overridden: a target may change parameters, not the model (name it in `model`), the conversation or whether the answer streams"
            ),
        );
    }
    if node.timeout_s == Some(0) {
        return fail("timeout_s", "must be at least 1".into());
    }
    for codes in [
        node.on_status_codes.as_ref(),
        node.retry.as_ref().and_then(|r| r.on_status_codes.as_ref()),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(code) = codes.iter().find(|c| !(400..=599).contains(*c)) {
            return fail(
                "on_status_codes",
                format!("{code} is not an error status (400 to 599)"),
            );
        }
    }
    match node.strategy {
        None => {}
        Some(Strategy::Single) if node.targets.len() != 1 => {
            return fail("targets", "`single` takes exactly one target".into());
        }
        Some(_) if node.targets.is_empty() => {
            return fail("targets", "at least one target".into());
        }
        Some(Strategy::Loadbalance)
            if node
                .targets
                .iter()
                .map(|t| t.weight.unwrap_or(1.0))
                .sum::<f64>()
                <= 0.0 =>
        {
            return fail("targets", "the weights add up to 0".into());
        }
        Some(Strategy::Conditional) => {
            let names: Vec<&str> = node
                .targets
                .iter()
                .filter_map(|t| t.name.as_deref())
                .collect();
            for (i, condition) in node.conditions.iter().enumerate() {
                if !names.contains(&condition.then.as_str()) {
                    return fail(
                        &format!("conditions[{i}].then"),
                        format!(
                            "no target named `{}` (named: {})",
                            condition.then,
                            names.join(", ")
                        ),
                    );
                }
                for path in condition.when.keys() {
                    let known = path == "model"
                        || path == "key"
                        || path == "api"
                        || path
                            .strip_prefix("metadata.")
                            .is_some_and(|n| !n.is_empty())
                        || path.strip_prefix("params.").is_some_and(|n| !n.is_empty());
                    if !known {
                        return fail(
                            &format!("conditions[{i}].when"),
                            format!(
                                "`{path}`: fields are model, key, api, metadata.NAME or params.PATH"
                            ),
                        );
                    }
                }
            }
            match &node.default {
                Some(default) if !names.contains(&default.as_str()) => {
                    return fail("default", format!("no target named `{default}`"));
                }
                None if node.conditions.is_empty() => {
                    return fail(
                        "conditions",
                        "a conditional node needs conditions or a default".into(),
                    );
                }
                _ => {}
            }
        }
        Some(_) => {}
    }
    for (i, target) in node.targets.iter().enumerate() {
        check_node(
            target,
            &format!("{field}.targets[{i}]"),
            configs,
            check_model,
        )?;
    }
    Ok(())
}

/// Refuses configs that reach themselves through `config` references.
fn check_cycles(
    name: &str,
    configs: &BTreeMap<String, RouteNode>,
    path: &mut Vec<String>,
) -> Result<(), String> {
    if path.iter().any(|p| p == name) {
        path.push(name.to_string());
        return Err(format!(
            "configs refer to each other in a loop: {}",
            path.join(" → ")
        ));
    }
    path.push(name.to_string());
    let mut references = Vec::new();
    if let Some(node) = configs.get(name) {
        collect_references(node, &mut references);
    }
    for reference in references {
        check_cycles(&reference, configs, path)?;
    }
    path.pop();
    Ok(())
}

fn collect_references(node: &RouteNode, out: &mut Vec<String>) {
    if let Some(name) = &node.config {
        out.push(name.clone());
    }
    for target in &node.targets {
        collect_references(target, out);
    }
}
