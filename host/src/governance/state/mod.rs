//! Where budget and rate-limit counters and usage totals are kept: in memory
//! with a SQLite file behind it (one gateway process), or in Redis (several
//! processes enforcing one limit).
//!
//! Both stores give the same two guarantees:
//!
//! - [`State::admit`] checks every counter of a request and counts it in one
//!   atomic step, so concurrent requests never slip past a request limit, and a
//!   request refused by one limit is not counted against the others.
//! - [`State::record`] adds a finished request's tokens, cost and usage totals;
//!   nothing is lost to a race.

mod local;
mod redis;

pub use local::LocalState;
pub use redis::RedisState;

use std::collections::BTreeMap;

/// One counter a request must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The counter's name.
    pub counter: String,
    /// The most the counter may reach.
    pub max: i64,
    /// Added on admission: 1 for a request limit. With 0 (tokens and cost,
    /// counted when the answer is done) the request passes while the counter is
    /// below `max`.
    pub add: i64,
    /// When the counter may be forgotten (its window's end, plus a day).
    pub expires_ms: i64,
}

impl Check {
    /// Whether a counter at `value` lets the request in.
    pub fn passes(&self, value: i64) -> bool {
        if self.add > 0 {
            value + self.add <= self.max
        } else {
            value < self.max
        }
    }
}

/// The answer to [`State::admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Let in; each counter's value after the request was counted.
    Admitted(Vec<i64>),
    /// Refused by the check at `index`, whose counter stands at `value`.
    Refused {
        /// The failing check.
        index: usize,
        /// Its counter's value.
        value: i64,
    },
}

/// An amount to add to a counter once a request is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Add {
    /// The counter's name.
    pub counter: String,
    /// How much.
    pub amount: i64,
    /// When the counter may be forgotten.
    pub expires_ms: i64,
}

/// The dimensions usage is totalled by, per hour.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageKey {
    /// The hour's first millisecond.
    pub hour_ms: i64,
    /// The gateway key's id (empty without keys).
    pub key_id: String,
    /// The `team` tag (empty without one).
    pub team: String,
    /// `@provider/model` as routed.
    pub model: String,
    /// The provider's slug.
    pub provider: String,
    /// Every other metadata tag.
    pub tags: BTreeMap<String, String>,
}

impl UsageKey {
    /// The tags as compact JSON (sorted, so equal sets give equal text).
    pub fn tags_json(&self) -> String {
        serde_json::to_string(&self.tags).expect("a map of strings serializes")
    }
}

/// Totals of one usage row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Requests let in.
    pub requests: i64,
    /// Input tokens not read from or written to the prompt cache.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: i64,
    /// Input tokens written to the prompt cache.
    pub cache_write_tokens: i64,
    /// Cost in billionths of a dollar.
    pub cost_nanos: i64,
    /// Requests whose model has no price (counted at no cost).
    pub unpriced_requests: i64,
}

impl Totals {
    /// Adds `other` to these totals.
    pub fn add(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cost_nanos += other.cost_nanos;
        self.unpriced_requests += other.unpriced_requests;
    }

    /// The columns, in the order stores keep them.
    pub fn columns(&self) -> [i64; 7] {
        [
            self.requests,
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.cost_nanos,
            self.unpriced_requests,
        ]
    }

    /// The totals of `columns` (the order of [`Totals::columns`]).
    pub fn from_columns(c: [i64; 7]) -> Totals {
        Totals {
            requests: c[0],
            input_tokens: c[1],
            output_tokens: c[2],
            cache_read_tokens: c[3],
            cache_write_tokens: c[4],
            cost_nanos: c[5],
            unpriced_requests: c[6],
        }
    }
}

/// The names of [`Totals::columns`], for schemas and reports.
pub const TOTAL_NAMES: [&str; 7] = [
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_nanos",
    "unpriced_requests",
];

/// A state store.
pub enum State {
    /// Memory, saved to a SQLite file.
    Local(LocalState),
    /// A Redis server shared by several gateway processes.
    Redis(RedisState),
}

impl State {
    /// Opens the store `config` names: Redis, or the SQLite file (saved every
    /// second when `saving`, as the gateway does; tools save when closing).
    pub async fn open(config: &crate::config::StateConfig, saving: bool) -> anyhow::Result<State> {
        Ok(match &config.redis {
            Some(url) => State::Redis(RedisState::open(url).await?),
            None => State::Local(LocalState::open(&config.database(), saving)?),
        })
    }

    /// Checks and counts a request against `checks`, atomically.
    pub async fn admit(&self, checks: &[Check]) -> anyhow::Result<Admission> {
        match self {
            State::Local(local) => Ok(local.admit(checks)),
            State::Redis(redis) => redis.admit(checks).await,
        }
    }

    /// Adds a finished request's counts and its usage row.
    pub async fn record(&self, adds: &[Add], usage: (UsageKey, Totals)) -> anyhow::Result<()> {
        match self {
            State::Local(local) => {
                local.record(adds, usage);
                Ok(())
            }
            State::Redis(redis) => redis.record(adds, usage).await,
        }
    }

    /// The usage rows of the hours from `from_ms` up to (not including) `to_ms`.
    pub async fn usage(&self, from_ms: i64, to_ms: i64) -> anyhow::Result<Vec<(UsageKey, Totals)>> {
        match self {
            State::Local(local) => local.usage(from_ms, to_ms),
            State::Redis(redis) => redis.usage(from_ms, to_ms).await,
        }
    }

    /// The counters whose names start with `prefix` and end with `suffix`,
    /// with their values (the budgets page: every counter of a limit's window).
    pub async fn counters(&self, prefix: &str, suffix: &str) -> anyhow::Result<Vec<(String, i64)>> {
        match self {
            State::Local(local) => Ok(local.counters(prefix, suffix)),
            State::Redis(redis) => redis.counters(prefix, suffix).await,
        }
    }

    /// Usage of the hours in `[from_ms, to_ms)` summed per bucket of
    /// `bucket_ms` and per team, key and model: what the overview reads.
    pub async fn usage_summary(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> anyhow::Result<super::summary::Summary> {
        match self {
            State::Local(local) => local.usage_summary(from_ms, to_ms, bucket_ms),
            State::Redis(redis) => {
                let mut summary = super::summary::Summary::new(bucket_ms);
                for (key, totals) in redis.usage(from_ms, to_ms).await? {
                    summary.add(key.hour_ms, &key.key_id, &key.team, &key.model, &totals);
                }
                Ok(summary)
            }
        }
    }

    /// Whether the store can be used now: always for the local one (it is in
    /// memory), a `PING` for Redis.
    pub async fn ping(&self) -> anyhow::Result<()> {
        match self {
            State::Local(_) => Ok(()),
            State::Redis(redis) => redis.ping().await,
        }
    }

    /// Saves what is not saved yet (the local store; Redis saves as it goes).
    pub fn close(&self) {
        if let State::Local(local) = self {
            local.close();
        }
    }

    /// Where the state is, for the startup line (no password).
    pub fn describe(&self) -> String {
        match self {
            State::Local(local) => local.describe(),
            State::Redis(redis) => redis.describe(),
        }
    }
}
