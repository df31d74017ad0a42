//! What every [`Store`] must do, as checks that each store's tests run against
//! a real database of its kind.

use super::filter::Filter;
use super::record::{Excerpt, Outcome, Record};
use super::store::Store;

/// A fresh, empty trail under test.
pub struct Trail {
    /// Another connection to the trail.
    pub open: Box<dyn Fn() -> Box<dyn Store> + Send + Sync>,
    /// Runs SQL on it behind the store's back; `{table}` names the records table.
    pub tamper: Box<dyn Fn(&str)>,
    /// Whatever must live as long as the trail (a temporary folder).
    pub _keep: Box<dyn std::any::Any>,
}

/// A redaction record numbered `i`.
pub fn record(i: i64, key: &str, rule: &str) -> Record {
    Record {
        time_ms: 1_000 + i,
        request_id: format!("req-{i}"),
        key_id: Some(key.into()),
        team: Some("a".into()),
        metadata: vec![("team".into(), "a".into()), ("app".into(), "cli".into())],
        api: "openai".into(),
        model: "@oa/gpt-4o".into(),
        phase: "request".into(),
        guardrail: "pii".into(),
        plugin: "pii".into(),
        plugin_version: "0.1.0".into(),
        outcome: Outcome::Redact,
        rule: Some(rule.into()),
        kind: Some("email".into()),
        segment: Some("messages[0].content".into()),
        span: Some((3, 20)),
        excerpt: Some(Excerpt::of("jane@example.com", &[1; 32])),
        failure: None,
    }
}

fn query(store: &mut dyn Store, filter: Filter) -> Vec<(i64, Record)> {
    store.query(&filter).unwrap()
}

/// Appends in two batches; reads back in order; filters by key, time, page
/// and tag (in the query, so a page is full even when tags filter).
pub fn records_round_trip_and_filter(trail: &Trail) {
    let mut store = (trail.open)();
    let mut written: Vec<Record> = (0..6)
        .map(|i| record(i, if i % 2 == 0 { "k0" } else { "k1" }, "pii.email"))
        .collect();
    written[5].metadata = vec![("app".into(), "web".into())];
    store.append(&written[..4]).unwrap();
    store.append(&written[4..]).unwrap();
    let all = query(&mut *store, Filter::default());
    assert_eq!(
        all.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
        written
    );
    let k1 = Filter {
        key: Some("k1".into()),
        ..Filter::default()
    };
    assert_eq!(query(&mut *store, k1).len(), 3);
    let later = Filter {
        since_ms: Some(1_004),
        ..Filter::default()
    };
    assert_eq!(query(&mut *store, later).len(), 2);
    let paged = query(
        &mut *store,
        Filter {
            after_seq: all[1].0,
            limit: Some(2),
            ..Filter::default()
        },
    );
    let seqs: Vec<i64> = paged.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [all[2].0, all[3].0]);
    let web = Filter {
        tags: vec![("app".into(), "web".into())],
        ..Filter::default()
    };
    assert_eq!(query(&mut *store, web)[0].1, written[5]);
    // The tag filter runs before the limit: two `cli` records, not one.
    let cli_page = Filter {
        tags: vec![("app".into(), "cli".into()), ("team".into(), "a".into())],
        after_seq: all[3].0,
        limit: Some(2),
        ..Filter::default()
    };
    assert_eq!(query(&mut *store, cli_page).len(), 1);
    let missing = Filter {
        tags: vec![("app".into(), "cli".into()), ("team".into(), "b".into())],
        ..Filter::default()
    };
    assert!(query(&mut *store, missing).is_empty());
    assert_eq!(store.verify().unwrap(), Ok(6));
}

/// A changed record and a removed record are each named by `verify`.
pub fn verify_finds_a_changed_and_a_removed_record(fresh: &dyn Fn() -> Trail) {
    let written: Vec<Record> = (0..5).map(|i| record(i, "k", "pii.email")).collect();

    let trail = fresh();
    let mut store = (trail.open)();
    store.append(&written).unwrap();
    let third = query(&mut *store, Filter::default())[2].0;
    (trail.tamper)(&format!(
        "UPDATE {{table}} SET rule = 'pii.phone' WHERE seq = {third}"
    ));
    let problem = store.verify().unwrap().unwrap_err();
    assert_eq!(problem.seq, third);
    assert!(problem.what.contains("changed"), "{problem:?}");

    let trail = fresh();
    let mut store = (trail.open)();
    store.append(&written).unwrap();
    let seqs: Vec<i64> = query(&mut *store, Filter::default())
        .iter()
        .map(|(s, _)| *s)
        .collect();
    (trail.tamper)(&format!("DELETE FROM {{table}} WHERE seq = {}", seqs[1]));
    let problem = store.verify().unwrap().unwrap_err();
    assert_eq!(problem.seq, seqs[2]);
    assert!(problem.what.contains("removed"), "{problem:?}");
}

/// Retention deletes old records; the rest still verifies, appends continue
/// the chain, and removing the oldest remaining record is still caught.
pub fn pruning_keeps_the_rest_verifiable(trail: &Trail) {
    let mut store = (trail.open)();
    let written: Vec<Record> = (0..10).map(|i| record(i, "k", "pii.email")).collect();
    store.append(&written).unwrap();
    assert_eq!(store.prune(1_004).unwrap(), 4);
    assert_eq!(store.prune(1_004).unwrap(), 0);
    assert_eq!(store.verify().unwrap(), Ok(6));
    store.append(&[record(20, "k", "pii.email")]).unwrap();
    assert_eq!(store.verify().unwrap(), Ok(7));
    let oldest = query(&mut *store, Filter::default())[0].0;
    (trail.tamper)(&format!("DELETE FROM {{table}} WHERE seq = {oldest}"));
    assert!(store.verify().unwrap().is_err());
}

/// Four connections appending at once (as four gateway processes would) build
/// one chain with every record in it.
pub fn concurrent_writers_build_one_chain(trail: &Trail) {
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let open = &trail.open;
            scope.spawn(move || {
                let mut store = open();
                for i in 0..25 {
                    let batch = [
                        record(i, &format!("w{writer}"), "pii.email"),
                        record(i, &format!("w{writer}"), "pii.phone"),
                    ];
                    store.append(&batch).unwrap();
                }
            });
        }
    });
    let mut store = (trail.open)();
    assert_eq!(store.verify().unwrap(), Ok(200));
    for writer in 0..4 {
        let mine = Filter {
            key: Some(format!("w{writer}")),
            ..Filter::default()
        };
        assert_eq!(query(&mut *store, mine).len(), 50);
    }
}
