//! Usage over a range, summed as the overview shows it: in total, per time
//! bucket, and per team, key and model. Built row by row as the store reads
//! them, so a range of a million rows is never held in memory.

use super::state::Totals;
use std::collections::{BTreeMap, HashMap};

/// The sums.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The width of a bucket (an hour, a day).
    pub bucket_ms: i64,
    /// Everything.
    pub total: Totals,
    /// Per bucket, by its first millisecond.
    pub per_bucket: BTreeMap<i64, Totals>,
    /// Per team (empty: no team).
    pub teams: HashMap<String, Totals>,
    /// Per gateway key id.
    pub keys: HashMap<String, Totals>,
    /// Per `@provider/model`.
    pub models: HashMap<String, Totals>,
}

fn add_to(map: &mut HashMap<String, Totals>, name: &str, totals: &Totals) {
    match map.get_mut(name) {
        Some(sum) => sum.add(totals),
        None => {
            map.insert(name.to_string(), *totals);
        }
    }
}

impl Summary {
    /// Empty sums with buckets of `bucket_ms`.
    pub fn new(bucket_ms: i64) -> Summary {
        Summary {
            bucket_ms,
            ..Summary::default()
        }
    }

    /// Adds one row of the hour starting at `hour_ms`.
    pub fn add(&mut self, hour_ms: i64, key_id: &str, team: &str, model: &str, totals: &Totals) {
        self.total.add(totals);
        self.per_bucket
            .entry(hour_ms - hour_ms.rem_euclid(self.bucket_ms))
            .or_default()
            .add(totals);
        add_to(&mut self.teams, team, totals);
        add_to(&mut self.keys, key_id, totals);
        add_to(&mut self.models, model, totals);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_add_up_per_bucket_and_name() {
        let day = 86_400_000;
        let t = Totals {
            requests: 1,
            cost_nanos: 10,
            ..Totals::default()
        };
        let mut s = Summary::new(day);
        s.add(0, "k1", "a", "@oa/m", &t);
        s.add(3_600_000, "k2", "a", "@oa/m", &t);
        s.add(day, "k1", "b", "@an/m", &t);
        assert_eq!(s.total.requests, 3);
        assert_eq!(s.per_bucket[&0].requests, 2);
        assert_eq!(s.per_bucket[&day].requests, 1);
        assert_eq!(s.teams["a"].cost_nanos, 20);
        assert_eq!(s.keys["k1"].requests, 2);
        assert_eq!(s.models.len(), 2);
    }
}
