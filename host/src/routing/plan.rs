//! From a routing config to a plan: the targets one request will try, in
//! order. Load balancing and conditions are decided here, once per request;
//! fallbacks become the order of the steps, each step knowing which failures
//! of the step before may move on to it.

use super::condition::Facts;
use super::retry::{RetryPolicy, random_unit};
use crate::api::error::{ApiError, ErrorKind};
use crate::api::splice::ClientBytes;
use crate::config::{DEFAULT_FAILURE_CODES, RouteNode, Strategy};
use crate::providers::{Providers, Route};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How deep configs may nest (references included).
const MAX_DEPTH: usize = 16;

/// The most targets one request's plan may hold. With retries (at most 10
/// per target) and [`super::MAX_ATTEMPTS`], this bounds the upstream calls a
/// single request (an inline config in particular) can cause.
pub const MAX_TARGETS: usize = 16;

/// One target of a plan.
#[derive(Debug, Clone)]
pub struct Step<'p> {
    /// Where it sends.
    pub route: Route<'p>,
    /// The target's `name`, if it has one.
    pub name: Option<String>,
    /// Request fields to set (`null`: remove) before the request guardrails
    /// run; see [`Step::outgoing`].
    pub overrides: Map<String, Value>,
    /// The body this step sends, in the client's format: the request with
    /// this step's overrides applied, *after* the request guardrails checked
    /// (and redacted) exactly it. It still names the client's model; the
    /// target's is set as it is sent. Set by the pipeline; a step without one
    /// is never sent.
    pub body: Option<Arc<Value>>,
    /// The client's own bytes, when `body` is exactly what they say: no
    /// overrides, nothing redacted. Sent as they are, with only the model
    /// spliced in, to a provider that speaks the client's dialect.
    pub raw: Option<ClientBytes>,
    /// Whether `body` is only the head of `raw` (a request no guardrail
    /// read, parsed no further than its top-level fields): the whole body is
    /// `raw`, parsed when it cannot be sent as it is.
    pub head_only: bool,
    /// Its retries.
    pub retry: RetryPolicy,
    /// How long its answer may take to start (`None`: the provider's timeout).
    pub timeout: Option<Duration>,
    /// The statuses of the step before that move on to this one (`None` for the
    /// first step). Connection errors, timeouts, malformed answers and open
    /// circuits always move on.
    pub enter_on: Option<Vec<u16>>,
}

impl Step<'_> {
    /// The request as this step sends it, in the client's format: `request`
    /// with the step's overrides applied (a `null` removes the field). This is
    /// what the request guardrails check.
    pub fn outgoing(&self, request: &Value) -> Value {
        let mut body = request.clone();
        if let Some(object) = body.as_object_mut() {
            for (field, value) in &self.overrides {
                if value.is_null() {
                    object.remove(field);
                } else {
                    object.insert(field.clone(), value.clone());
                }
            }
        }
        body
    }
}

/// The steps of one request.
#[derive(Debug, Clone)]
pub struct Plan<'p> {
    /// The config's name (`inline` for one sent in the header), if any.
    pub config: Option<String>,
    /// The targets, in order.
    pub steps: Vec<Step<'p>>,
}

/// What plans are made from.
pub struct Planner<'a, 'p> {
    /// Providers and aliases.
    pub providers: &'p Providers,
    /// The named configs.
    pub configs: &'a BTreeMap<String, RouteNode>,
    /// What conditions see.
    pub facts: Facts<'a>,
    /// The model the request names, if any.
    pub requested: Option<&'a str>,
    /// The key's default model, if any.
    pub key_default: Option<&'a str>,
}

/// What a node passes down to its targets.
#[derive(Debug, Clone, Default)]
struct Inherited {
    retry: Option<RetryPolicy>,
    timeout: Option<Duration>,
    overrides: Map<String, Value>,
}

impl<'p> Planner<'_, 'p> {
    /// The plan of `node`.
    pub fn plan(&self, config: Option<String>, node: &RouteNode) -> Result<Plan<'p>, ApiError> {
        let mut steps = Vec::new();
        self.flatten(node, Inherited::default(), &mut steps, 0)?;
        if steps.len() > MAX_TARGETS {
            return Err(self.invalid(format!(
                "the routing config gives this request {} targets; at most {MAX_TARGETS} are allowed",
                steps.len()
            )));
        }
        Ok(Plan { config, steps })
    }

    /// The plan without a config: the model the request names.
    pub fn direct(&self) -> Result<Plan<'p>, ApiError> {
        let route = self.providers.resolve(self.requested, self.key_default)?;
        Ok(Plan {
            config: None,
            steps: vec![Step {
                route,
                name: None,
                overrides: Map::new(),
                body: None,
                raw: None,
                head_only: false,
                retry: RetryPolicy::none(),
                timeout: None,
                enter_on: None,
            }],
        })
    }

    fn invalid(&self, message: String) -> ApiError {
        ApiError::new(ErrorKind::InvalidRequest, message)
    }

    fn flatten(
        &self,
        node: &RouteNode,
        mut inherited: Inherited,
        out: &mut Vec<Step<'p>>,
        depth: usize,
    ) -> Result<(), ApiError> {
        if depth > MAX_DEPTH {
            return Err(self.invalid(format!(
                "routing configs nest deeper than {MAX_DEPTH} levels"
            )));
        }
        if let Some(retry) = &node.retry {
            inherited.retry = Some(RetryPolicy::from_config(retry));
        }
        if let Some(seconds) = node.timeout_s {
            inherited.timeout = Some(Duration::from_secs(seconds));
        }
        if let Some(overrides) = &node.override_params {
            inherited.overrides.extend(overrides.clone());
        }
        if let Some(name) = &node.config {
            let Some(referenced) = self.configs.get(name) else {
                return Err(self.invalid(format!("no routing config `{name}`")));
            };
            return self.flatten(referenced, inherited, out, depth + 1);
        }
        let Some(strategy) = node.strategy else {
            // A leaf: its model, else the request's.
            let route = match &node.model {
                Some(model) => self.providers.resolve(Some(model.as_str()), None)?,
                None => self.providers.resolve(self.requested, self.key_default)?,
            };
            out.push(Step {
                route,
                name: node.name.clone(),
                overrides: inherited.overrides,
                body: None,
                raw: None,
                head_only: false,
                retry: inherited.retry.unwrap_or_else(RetryPolicy::none),
                timeout: inherited.timeout,
                enter_on: None,
            });
            return Ok(());
        };
        match strategy {
            Strategy::Single => self.flatten(&node.targets[0], inherited, out, depth + 1),
            Strategy::Loadbalance => {
                let total: f64 = node.targets.iter().map(|t| t.weight.unwrap_or(1.0)).sum();
                let mut draw = random_unit() * total;
                let chosen = node
                    .targets
                    .iter()
                    .find(|t| {
                        draw -= t.weight.unwrap_or(1.0);
                        draw < 0.0
                    })
                    .or_else(|| {
                        node.targets
                            .iter()
                            .rev()
                            .find(|t| t.weight.unwrap_or(1.0) > 0.0)
                    })
                    .ok_or_else(|| self.invalid("a loadbalance node has no weight".into()))?;
                self.flatten(chosen, inherited, out, depth + 1)
            }
            Strategy::Conditional => {
                let name = node
                    .conditions
                    .iter()
                    .find(|c| self.facts.matches(&c.when))
                    .map(|c| &c.then)
                    .or(node.default.as_ref())
                    .ok_or_else(|| {
                        self.invalid("no routing condition matches this request, and the config has no default".into())
                    })?;
                let chosen = node
                    .targets
                    .iter()
                    .find(|t| t.name.as_ref() == Some(name))
                    .ok_or_else(|| self.invalid(format!("no target named `{name}`")))?;
                self.flatten(chosen, inherited, out, depth + 1)
            }
            Strategy::Fallback => {
                let codes = node
                    .on_status_codes
                    .clone()
                    .unwrap_or_else(|| DEFAULT_FAILURE_CODES.to_vec());
                for (i, target) in node.targets.iter().enumerate() {
                    let first = out.len();
                    self.flatten(target, inherited.clone(), out, depth + 1)?;
                    if i > 0
                        && let Some(step) = out.get_mut(first)
                    {
                        step.enter_on = Some(codes.clone());
                    }
                }
                Ok(())
            }
        }
    }
}
