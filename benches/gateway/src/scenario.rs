//! What is measured: each scenario is a target (direct, sluice, a peer gateway)
//! and a workload (API, body, streamed or not), with the direct scenario that is
//! its baseline.

use crate::body::BodyKind;

/// The wire API of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// OpenAI Chat Completions, `POST /v1/chat/completions`.
    OpenAi,
    /// Anthropic Messages, `POST /v1/messages`.
    Anthropic,
}

impl Api {
    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            Api::OpenAi => "/v1/chat/completions",
            Api::Anthropic => "/v1/messages",
        }
    }
}

/// What the load generator talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The mock upstream itself: the baseline.
    Direct,
    /// sluice with no guardrails.
    SluicePassthrough,
    /// sluice with the four built-in guardrails on requests and responses.
    SluiceGuardrails,
    /// nginx as a plain reverse proxy (one worker, kept-alive upstream
    /// connections, no body parsing): what a proxy's speed is on this core.
    Nginx,
    /// A bare reverse proxy on sluice's own HTTP stack (hyper's server and
    /// pooled client, one thread; [`crate::proxy`]): the floor of that stack.
    HyperProxy,
    /// The Portkey gateway (npm `@portkey-ai/gateway`).
    Portkey,
    /// The LiteLLM proxy (PyPI `litellm[proxy]`).
    Litellm,
}

impl Target {
    /// Whether this is sluice.
    pub fn is_sluice(self) -> bool {
        matches!(self, Target::SluicePassthrough | Target::SluiceGuardrails)
    }

    /// Whether this is another gateway.
    pub fn is_peer(self) -> bool {
        matches!(self, Target::Portkey | Target::Litellm)
    }
}

/// One scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// Its name on the command line and in the table.
    pub name: &'static str,
    /// What it measures, in a few words.
    pub about: &'static str,
    /// Who answers.
    pub target: Target,
    /// The API spoken.
    pub api: Api,
    /// The request bodies.
    pub body: BodyKind,
    /// Streamed answers.
    pub stream: bool,
}

impl Scenario {
    /// The direct scenario with the same workload: what this one's added
    /// latency and throughput are compared with.
    pub fn baseline(&self) -> Option<&'static Scenario> {
        if self.target == Target::Direct {
            return None;
        }
        ALL.iter().find(|s| {
            s.target == Target::Direct
                && (s.api, s.body, s.stream) == (self.api, self.body, self.stream)
        })
    }
}

/// Every scenario, baselines first, in the order they run.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "direct",
        about: "load generator to the mock, small OpenAI requests",
        target: Target::Direct,
        api: Api::OpenAi,
        body: BodyKind::Small,
        stream: false,
    },
    Scenario {
        name: "direct-anthropic",
        about: "to the mock, small Anthropic requests",
        target: Target::Direct,
        api: Api::Anthropic,
        body: BodyKind::Small,
        stream: false,
    },
    Scenario {
        name: "direct-32k",
        about: "to the mock, unique 32 KB coding-agent requests",
        target: Target::Direct,
        api: Api::OpenAi,
        body: BodyKind::Agent32k,
        stream: false,
    },
    Scenario {
        name: "direct-stream",
        about: "to the mock, small OpenAI requests, streamed answers",
        target: Target::Direct,
        api: Api::OpenAi,
        body: BodyKind::Small,
        stream: true,
    },
    Scenario {
        name: "passthrough",
        about: "sluice, no guardrails, small OpenAI requests",
        target: Target::SluicePassthrough,
        api: Api::OpenAi,
        body: BodyKind::Small,
        stream: false,
    },
    Scenario {
        name: "passthrough-32k",
        about: "sluice, no guardrails, unique 32 KB coding-agent requests",
        target: Target::SluicePassthrough,
        api: Api::OpenAi,
        body: BodyKind::Agent32k,
        stream: false,
    },
    Scenario {
        name: "nginx",
        about: "nginx as a reverse proxy, small OpenAI requests",
        target: Target::Nginx,
        api: Api::OpenAi,
        body: BodyKind::Small,
        stream: false,
    },
    Scenario {
        name: "nginx-32k",
        about: "nginx as a reverse proxy, unique 32 KB requests",
        target: Target::Nginx,
        api: Api::OpenAi,
        body: BodyKind::Agent32k,
        stream: false,
    },
    Scenario {
        name: "hyper-proxy",
        about: "a bare hyper reverse proxy, small OpenAI requests",
        target: Target::HyperProxy,
        api: Api::OpenAi,
        body: BodyKind::Small,
        stream: false,
    },
    Scenario {
        name: "hyper-proxy-32k",
        about: "a bare hyper reverse proxy, unique 32 KB requests",
        target: Target::HyperProxy,
        api: Api::OpenAi,
        body: BodyKind::Agent32k,
        stream: false,
    },
    Scenario {
        name: "passthrough-anthropic",
        about: "sluice, no guardrails, small Anthropic requests",
        target: Target::SluicePassthrough,
        api: Api::Anthropic,
        body: BodyKind::Small,
        stream: false,
    },
    Scenario {
        name: "guardrails",
        about: "sluice, four guardrails, small unique requests",
        target: Target::SluiceGuardrails,
        api: Api::OpenAi,
        body: BodyKind::Small,
        stream: false,
    },
    Scenario {
        name: "guardrails-32k",
        about: "sluice, four guardrails, unique 32 KB coding-agent requests",
        target: Target::SluiceGuardrails,
        api: Api::OpenAi,
        body: BodyKind::Agent32k,
        stream: false,
    },
    Scenario {
        name: "stream",
        about: "sluice, no guardrails, streamed answers",
        target: Target::SluicePassthrough,
        api: Api::OpenAi,
        body: BodyKind::Small,
        stream: true,
    },
    Scenario {
        name: "stream-guardrails",
        about: "sluice, four guardrails (response ones on the stream)",
        target: Target::SluiceGuardrails,
        api: Api::OpenAi,
        body: BodyKind::Small,
        stream: true,
    },
    Scenario {
        name: "portkey",
        about: "Portkey gateway, small OpenAI requests",
        target: Target::Portkey,
        api: Api::OpenAi,
        body: BodyKind::Small,
        stream: false,
    },
    Scenario {
        name: "litellm",
        about: "LiteLLM proxy, small OpenAI requests",
        target: Target::Litellm,
        api: Api::OpenAi,
        body: BodyKind::Small,
        stream: false,
    },
];

/// The scenario called `name`.
pub fn named(name: &str) -> Option<&'static Scenario> {
    ALL.iter().find(|s| s.name == name)
}

/// `names` with the baselines they need, in the order of [`ALL`].
pub fn with_baselines(names: &[&'static Scenario]) -> Vec<&'static Scenario> {
    ALL.iter()
        .filter(|s| {
            names
                .iter()
                .any(|n| n.name == s.name || n.baseline().map(|b| b.name) == Some(s.name))
        })
        .collect()
}
