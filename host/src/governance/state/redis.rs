//! The shared state store: counters and usage totals in Redis, so that every
//! gateway process pointed at one server enforces one limit and one budget.
//!
//! - A counter is a Redis integer `sluice:c:<name>` that expires a day after its
//!   window ends. Admission runs one Lua script that reads every counter of the
//!   request and raises them only if all pass: Redis runs scripts one at a time,
//!   so no two processes can both take the last request of a window.
//! - Usage totals are hashes `sluice:u:<hour>` (fields `<total>␟<dimensions>`,
//!   kept 400 days), with the set of hours in the sorted set `sluice:u:hours`.
//!
//! Counters are exact up to 2^53 (Lua numbers are doubles): nine million
//! dollars of budget in nano-dollars, or nine quadrillion tokens.

use super::{Add, Admission, Check, TOTAL_NAMES, Totals, UsageKey};
use crate::secret::Secret;
use anyhow::Context as _;
use redis::aio::ConnectionManager;
use std::collections::{BTreeMap, HashMap};

/// How long usage hours are kept.
const USAGE_KEEP_S: i64 = 400 * 86_400;
const HOURS: &str = "sluice:u:hours";

const ADMIT: &str = r"
local values = {0}
for i, key in ipairs(KEYS) do
  local value = tonumber(redis.call('GET', key) or '0')
  local max = tonumber(ARGV[3 * i - 2])
  local add = tonumber(ARGV[3 * i - 1])
  if (add > 0 and value + add > max) or (add <= 0 and value >= max) then
    return {i, value}
  end
  values[i + 1] = value + add
end
for i, key in ipairs(KEYS) do
  local add = tonumber(ARGV[3 * i - 1])
  if add ~= 0 then
    redis.call('INCRBY', key, add)
    redis.call('PEXPIREAT', key, ARGV[3 * i])
  end
end
return values
";

/// A connection to the shared Redis server (reconnects on its own).
pub struct RedisState {
    connection: ConnectionManager,
    admit: redis::Script,
    describe: String,
}

impl RedisState {
    /// Connects to `url`; fails if the server cannot be reached.
    pub async fn open(url: &Secret) -> anyhow::Result<RedisState> {
        let client = redis::Client::open(url.expose()).map_err(|e| {
            anyhow::anyhow!("[state] redis is not a valid Redis URL ({:?})", e.kind())
        })?;
        let info = client.get_connection_info();
        let describe = format!("Redis at {}", info.addr());
        let connection = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            ConnectionManager::new(client),
        )
        .await
        .map_err(|_| anyhow::anyhow!("{describe} did not answer within 10 s"))?
        .with_context(|| format!("could not connect to {describe}"))?;
        Ok(RedisState {
            connection,
            admit: redis::Script::new(ADMIT),
            describe,
        })
    }

    /// Whether the server answers (`PING`).
    pub async fn ping(&self) -> anyhow::Result<()> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.connection.clone())
            .await
            .with_context(|| format!("{}: PING", self.describe))?;
        Ok(())
    }

    /// Checks and counts, in one script run.
    pub async fn admit(&self, checks: &[Check]) -> anyhow::Result<Admission> {
        if checks.is_empty() {
            return Ok(Admission::Admitted(Vec::new()));
        }
        let mut invocation = self.admit.prepare_invoke();
        for check in checks {
            invocation
                .key(counter_key(&check.counter))
                .arg(check.max)
                .arg(check.add)
                .arg(check.expires_ms);
        }
        let reply: Vec<i64> = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .with_context(|| format!("{}: checking limits", self.describe))?;
        match reply.as_slice() {
            [0, values @ ..] => Ok(Admission::Admitted(values.to_vec())),
            [index, value] => Ok(Admission::Refused {
                index: (*index - 1) as usize,
                value: *value,
            }),
            other => anyhow::bail!("unexpected reply from the admission script: {other:?}"),
        }
    }

    /// Adds a finished request's counts and usage, in one round trip.
    pub async fn record(
        &self,
        adds: &[Add],
        (key, totals): (UsageKey, Totals),
    ) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        for a in adds {
            let name = counter_key(&a.counter);
            pipe.incr(&name, a.amount).ignore();
            pipe.cmd("PEXPIREAT").arg(&name).arg(a.expires_ms).ignore();
        }
        let hash = format!("sluice:u:{}", key.hour_ms);
        let dimensions = dimensions(&key);
        for (name, value) in TOTAL_NAMES.iter().zip(totals.columns()) {
            if value != 0 {
                pipe.hincr(&hash, format!("{name}\u{1f}{dimensions}"), value)
                    .ignore();
            }
        }
        pipe.expire(&hash, USAGE_KEEP_S).ignore();
        pipe.zadd(HOURS, key.hour_ms, key.hour_ms).ignore();
        pipe.query_async::<()>(&mut self.connection.clone())
            .await
            .with_context(|| format!("{}: recording usage", self.describe))
    }

    /// Usage rows of the hours in `[from_ms, to_ms)`.
    pub async fn usage(&self, from_ms: i64, to_ms: i64) -> anyhow::Result<Vec<(UsageKey, Totals)>> {
        let mut connection = self.connection.clone();
        let hours: Vec<i64> = redis::cmd("ZRANGEBYSCORE")
            .arg(HOURS)
            .arg(from_ms)
            .arg(format!("({to_ms}"))
            .query_async(&mut connection)
            .await
            .with_context(|| format!("{}: reading usage", self.describe))?;
        let mut pipe = redis::pipe();
        for hour in &hours {
            pipe.hgetall(format!("sluice:u:{hour}"));
        }
        let hashes: Vec<HashMap<String, i64>> = pipe
            .query_async(&mut connection)
            .await
            .with_context(|| format!("{}: reading usage", self.describe))?;
        let mut rows: BTreeMap<UsageKey, Totals> = BTreeMap::new();
        for (hour_ms, hash) in hours.into_iter().zip(hashes) {
            for (field, value) in hash {
                let Some((total, dimensions)) = field.split_once('\u{1f}') else {
                    continue;
                };
                let (Some(column), Some(key)) = (
                    TOTAL_NAMES.iter().position(|n| *n == total),
                    parse_dimensions(hour_ms, dimensions),
                ) else {
                    continue;
                };
                let mut columns = rows.get(&key).copied().unwrap_or_default().columns();
                columns[column] += value;
                rows.insert(key, Totals::from_columns(columns));
            }
        }
        Ok(rows.into_iter().collect())
    }

    /// Counters named `prefix…suffix` (a `SCAN` over their key pattern).
    pub async fn counters(&self, prefix: &str, suffix: &str) -> anyhow::Result<Vec<(String, i64)>> {
        let glob = |text: &str| {
            text.chars().fold(String::new(), |mut out, c| {
                if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                    out.push('\\');
                }
                out.push(c);
                out
            })
        };
        let pattern = format!("{}*{}", glob(&counter_key(prefix)), glob(suffix));
        let mut connection = self.connection.clone();
        let mut names: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await
                .with_context(|| format!("{}: listing counters", self.describe))?;
            names.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<i64>> = redis::cmd("MGET")
            .arg(&names)
            .query_async(&mut connection)
            .await
            .with_context(|| format!("{}: reading counters", self.describe))?;
        Ok(names
            .into_iter()
            .zip(values)
            .filter_map(|(name, value)| Some((name.strip_prefix("sluice:c:")?.to_string(), value?)))
            .collect())
    }

    /// `Redis at host:port` (never the password).
    pub fn describe(&self) -> String {
        self.describe.clone()
    }
}

fn counter_key(name: &str) -> String {
    format!("sluice:c:{name}")
}

/// The dimensions of a usage row as one JSON array.
fn dimensions(key: &UsageKey) -> String {
    serde_json::json!([key.key_id, key.team, key.model, key.provider, key.tags]).to_string()
}

fn parse_dimensions(hour_ms: i64, text: &str) -> Option<UsageKey> {
    let (key_id, team, model, provider, tags): (
        String,
        String,
        String,
        String,
        BTreeMap<String, String>,
    ) = serde_json::from_str(text).ok()?;
    Some(UsageKey {
        hour_ms,
        key_id,
        team,
        model,
        provider,
        tags,
    })
}
