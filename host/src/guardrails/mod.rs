//! A configured set of guardrails, run over the segments of one request or
//! response.
//!
//! For each call the set runs every guardrail that handles the phase, in config
//! order, and combines the results into an [`Outcome`]:
//!
//! ```text
//! for each guardrail (config order) that handles the phase:
//!     request phase, segment cache on, plugin declares a cache scope:
//!         segments seen before ─► their stored findings          (cache::incremental)
//!         the rest             ─► plugin.check(ctx, new segments)
//!         merged into the verdict plugin.check(ctx, segments) would return
//!     otherwise:
//!         plugin.check(ctx, segments) ─► verdict      (spans validated by the sandbox)
//!     a failure ─► on_failure = block: Block (fail-closed)
//!                  on_failure = allow: Allow, recorded (fail-open)
//!     a Block ends the run early (StopAt::FirstBlock), or not (StopAt::Never: scans)
//! outcome.action() = strongest of all verdicts and failure policies
//! ```

pub mod cache;
pub mod pool;
pub mod redact;
pub mod stream;

use crate::config::{FailurePolicy, GuardrailConfig};
use crate::sandbox::{
    Action, Context, LoadError, Phase, Plugin, PluginFailure, PluginSource, Sandbox, Segment,
    Verdict,
};
use cache::{CachedRun, SegmentCache};
use pool::{CheckPanicked, CheckPool};
pub use redact::Redaction;
use std::sync::Arc;

/// One configured guardrail: a loaded plugin with its id, phases and policy.
#[derive(Clone)]
pub struct Guardrail {
    /// The id from the config (defaults to the plugin's name).
    pub id: String,
    /// The loaded, configured plugin.
    pub plugin: Plugin,
    /// The phases it runs in: the config's choice, within what the plugin handles.
    pub phases: Vec<Phase>,
    /// What a failure of this plugin does.
    pub on_failure: FailurePolicy,
}

/// When a run over the set stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAt {
    /// At the first guardrail that blocks: the request is refused anyway.
    FirstBlock,
    /// Never: every guardrail runs (used by `sluice scan`).
    Never,
}

/// The guardrails of one config, in order, and the segment cache they share.
/// Cloning is a reference-count bump: a request takes its own handle on the hot
/// path.
#[derive(Clone)]
pub struct Guardrails {
    list: Arc<[Guardrail]>,
    cache: Option<Arc<SegmentCache>>,
    /// The threads checks of whole bodies run on ([`Guardrails::run_check`]),
    /// shared by every subset.
    checks: Arc<CheckPool>,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails {
            list: Arc::from(Vec::new()),
            cache: None,
            checks: Arc::new(CheckPool::new(default_parallel_checks())),
        }
    }
}

/// One check per core the process may run on: guardrail checks are CPU-bound,
/// so more at once only adds warm instances (memory) and thread switches.
fn default_parallel_checks() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Why a guardrail could not be set up; names the guardrail.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The plugin did not load or refused its settings.
    #[error("guardrail `{id}`: {source}")]
    Load {
        /// The guardrail id.
        id: String,
        /// Why.
        source: LoadError,
    },
    /// The config asks for a phase the plugin does not handle.
    #[error(
        "guardrail `{id}`: phase `{phase}` is configured, but plugin `{plugin}` only handles {handles}"
    )]
    Phase {
        /// The guardrail id.
        id: String,
        /// The plugin's name.
        plugin: String,
        /// The phase asked for.
        phase: &'static str,
        /// What it handles.
        handles: String,
    },
    /// Two guardrails share an id.
    #[error("guardrail id `{0}` is used twice; give one of them another `id`")]
    DuplicateId(String),
}

impl Guardrails {
    /// Loads and configures every guardrail of `configs`.
    pub fn load(sandbox: &Sandbox, configs: &[GuardrailConfig]) -> Result<Self, SetupError> {
        let mut list: Vec<Guardrail> = Vec::with_capacity(configs.len());
        for config in configs {
            let source: PluginSource = config.source();
            let id = config.id();
            if list.iter().any(|g| g.id == id) {
                return Err(SetupError::DuplicateId(id));
            }
            let plugin = sandbox
                .load(&source, &config.settings_json(), config.limits())
                .map_err(|source| SetupError::Load {
                    id: id.clone(),
                    source,
                })?;
            let handles = plugin.info().phases.clone();
            let phases = match config.phases() {
                None => handles.clone(),
                Some(wanted) => {
                    for phase in &wanted {
                        if !handles.contains(phase) {
                            return Err(SetupError::Phase {
                                id,
                                plugin: plugin.info().name.clone(),
                                phase: phase.as_str(),
                                handles: handles
                                    .iter()
                                    .map(|p| p.as_str())
                                    .collect::<Vec<_>>()
                                    .join(" and "),
                            });
                        }
                    }
                    wanted
                }
            };
            list.push(Guardrail {
                id,
                plugin,
                phases,
                on_failure: config.on_failure,
            });
        }
        Ok(Guardrails {
            list: list.into(),
            ..Guardrails::default()
        })
    }

    /// The same guardrails, with at most `checks` body checks running at once.
    pub fn with_parallel_checks(self, checks: usize) -> Self {
        Guardrails {
            checks: Arc::new(CheckPool::new(checks)),
            ..self
        }
    }

    /// Runs `check` off the async workers, on the pool's threads: at most
    /// `[sandbox] parallel_checks` at once, later ones in the order they came.
    pub async fn run_check<T, F>(&self, check: F) -> Result<T, CheckPanicked>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.checks.run(check).await
    }

    /// The same guardrails, checking request segments through `cache` (which
    /// may be shared with other sets: keys include each plugin's fingerprint).
    pub fn with_cache(self, cache: Arc<SegmentCache>) -> Self {
        Guardrails {
            cache: Some(cache),
            ..self
        }
    }

    /// The segment cache, if one is on.
    pub fn cache(&self) -> Option<&Arc<SegmentCache>> {
        self.cache.as_ref()
    }

    /// The guardrails with the given ids (all when `None`), in config order.
    pub fn subset(&self, ids: Option<&[String]>) -> Guardrails {
        match ids {
            None => self.clone(),
            Some(ids) => Guardrails {
                list: self
                    .list
                    .iter()
                    .filter(|g| ids.contains(&g.id))
                    .cloned()
                    .collect(),
                cache: self.cache.clone(),
                checks: self.checks.clone(),
            },
        }
    }

    /// The guardrails, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Guardrail> {
        self.list.iter()
    }

    /// True when no guardrail is configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// True when at least one guardrail runs in `phase`.
    pub fn runs_in(&self, phase: Phase) -> bool {
        self.list.iter().any(|g| g.phases.contains(&phase))
    }

    /// A hash of what decides the outcome of a check in `phase`: the id,
    /// failure policy and fingerprint (code and settings) of each guardrail
    /// that runs in it. Two sets with the same fingerprint judge alike.
    pub fn fingerprint(&self, phase: Phase) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"sluice guardrail set v1\0");
        for guardrail in self.list.iter().filter(|g| g.phases.contains(&phase)) {
            hasher.update(&(guardrail.id.len() as u64).to_le_bytes());
            hasher.update(guardrail.id.as_bytes());
            hasher.update(format!("{:?}", guardrail.on_failure).as_bytes());
            hasher.update(guardrail.plugin.fingerprint().as_bytes());
        }
        *hasher.finalize().as_bytes()
    }

    /// Runs the guardrails of `ctx.phase` over `segments`. Request segments go
    /// through the segment cache when one is on: the outcome is the same, and
    /// only segments not seen before are scanned.
    pub fn check(&self, ctx: &Context, segments: &[Segment], stop: StopAt) -> Outcome {
        let cached = match &self.cache {
            Some(cache) if ctx.phase == Phase::Request => {
                Some(CachedRun::new(cache, ctx, segments))
            }
            _ => None,
        };
        let mut decisions = Vec::new();
        for guardrail in self.list.iter().filter(|g| g.phases.contains(&ctx.phase)) {
            let _span = tracing::info_span!("guardrail", guardrail = %guardrail.id).entered();
            let started = std::time::Instant::now();
            let result = match &cached {
                Some(run) => run.check(&guardrail.plugin),
                None => guardrail.plugin.check(ctx, segments),
            };
            let decision = Decision {
                elapsed: started.elapsed(),
                guardrail: guardrail.id.clone(),
                plugin: guardrail.plugin.info().name.clone(),
                version: guardrail.plugin.info().version.clone(),
                on_failure: guardrail.on_failure,
                result,
            };
            let blocks = decision.action() == Action::Block;
            decisions.push(decision);
            if blocks && stop == StopAt::FirstBlock {
                break;
            }
        }
        Outcome { decisions }
    }
}

/// What one guardrail decided.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The guardrail id.
    pub guardrail: String,
    /// The plugin's name and version, as it describes itself.
    pub plugin: String,
    /// The plugin's version.
    pub version: String,
    /// The guardrail's failure policy.
    pub on_failure: FailurePolicy,
    /// The verdict, or how the plugin failed.
    pub result: Result<Verdict, PluginFailure>,
    /// How long the check took (the plugin call, or putting cached findings together).
    pub elapsed: std::time::Duration,
}

impl Decision {
    /// What this decision does to the traffic.
    pub fn action(&self) -> Action {
        match &self.result {
            Ok(verdict) => verdict.effective_action(),
            Err(_) => match self.on_failure {
                FailurePolicy::Block => Action::Block,
                FailurePolicy::Allow => Action::Allow,
            },
        }
    }
}

/// The combined result of a run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// One decision per guardrail that ran, in order.
    pub decisions: Vec<Decision>,
}

impl Outcome {
    /// The strongest action of all decisions.
    pub fn action(&self) -> Action {
        self.decisions
            .iter()
            .fold(Action::Allow, |acc, d| acc.max(d.action()))
    }

    /// The message for the client when the outcome blocks: which guardrail, which
    /// rule, and the plugin's reason. Never contains the matched text (plugins are
    /// told not to put it in a reason; failure messages are not shown).
    pub fn block_message(&self) -> Option<String> {
        let decision = self
            .decisions
            .iter()
            .find(|d| d.action() == Action::Block)?;
        Some(match &decision.result {
            Ok(verdict) => {
                let rule = verdict
                    .findings
                    .iter()
                    .find(|f| f.action == Action::Block)
                    .map(|f| format!(" (rule {})", f.rule))
                    .unwrap_or_default();
                let reason = verdict
                    .reason
                    .as_deref()
                    .unwrap_or("the content is not allowed");
                format!(
                    "blocked by guardrail `{}`{rule}: {reason}",
                    decision.guardrail
                )
            }
            Err(failure) => format!(
                "blocked because guardrail `{}` failed ({}) and is configured to fail closed",
                decision.guardrail,
                failure.kind()
            ),
        })
    }

    /// The redactions to apply to segment `index`, from every decision.
    pub fn redactions(&self, index: usize) -> Vec<Redaction> {
        self.decisions
            .iter()
            .filter_map(|d| d.result.as_ref().ok())
            .flat_map(|v| v.findings.iter())
            .filter(|f| f.action == Action::Redact && f.segment as usize == index)
            .map(|f| Redaction {
                span: f.start as usize..f.end as usize,
                replacement: f.replacement_text(),
            })
            .collect()
    }

    /// Segment `index`'s text with this outcome's redactions applied, placeholders
    /// numbered within this one text.
    pub fn redact(&self, index: usize, text: &str) -> String {
        redact::apply(
            text,
            &self.redactions(index),
            &mut redact::Placeholders::default(),
        )
    }

    /// Logs each plugin failure (a warning naming the guardrail and the failure
    /// kind): the record of a fail-open pass, and the reason for a fail-closed block.
    pub fn log_failures(&self) {
        for (decision, failure) in self.failures() {
            tracing::warn!(guardrail = %decision.guardrail, failure = failure.kind(), "guardrail failed: {failure}");
        }
    }

    /// The failures, with the guardrail that failed.
    pub fn failures(&self) -> impl Iterator<Item = (&Decision, &PluginFailure)> {
        self.decisions
            .iter()
            .filter_map(|d| d.result.as_ref().err().map(|f| (d, f)))
    }
}
