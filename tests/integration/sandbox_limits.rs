//! Every limit of the sandbox, each both obeyed and violated, with the hostile
//! guest; after every failure the plugin keeps serving.

use crate::support::{context, hostile, sandbox, segments};
use sluice::sandbox::{InstanceMode, Limits, LoadError, PluginFailure, PluginSource};
use std::time::{Duration, Instant};

fn check(
    plugin: &sluice::sandbox::Plugin,
    text: &str,
) -> Result<sluice::sandbox::Verdict, PluginFailure> {
    plugin.check(&context(), &segments(&[text]))
}

fn assert_serves(plugin: &sluice::sandbox::Plugin) {
    let verdict = check(plugin, "hello").expect("the next call succeeds");
    assert!(verdict.findings.is_empty());
}

#[test]
fn the_deadline_clock_ticks_during_calls_and_rests_between_them() {
    let sandbox = sandbox();
    let plugin = hostile(&sandbox, Limits::default());
    check(&plugin, "spin:100000").expect("bounded work finishes");
    // At rest: no call in flight, so no ticks (one may end a tick begun during
    // the last call).
    std::thread::sleep(Duration::from_millis(5));
    let resting = sandbox.epoch_ticks();
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        sandbox.epoch_ticks() <= resting + 1,
        "ticks with no call in flight"
    );
    // A call that runs past a few ticks sees them (and its deadline with them).
    let limits = Limits {
        timeout: Duration::from_millis(20),
        ..Limits::default()
    };
    let looping = hostile(&sandbox, limits);
    let failure = check(&looping, "loop").unwrap_err();
    assert_eq!(failure, PluginFailure::Timeout(Duration::from_millis(20)));
    assert!(sandbox.epoch_ticks() >= resting + 20);
}

#[test]
fn deadline_interrupts_an_infinite_loop_and_spares_bounded_work() {
    let sandbox = sandbox();
    let limits = Limits {
        timeout: Duration::from_millis(50),
        ..Limits::default()
    };
    // The deadline's clock starts with the first plugin, not before.
    assert!(!sandbox.ticking());
    let plugin = hostile(&sandbox, limits);
    assert!(sandbox.ticking());
    check(&plugin, "spin:100000").expect("bounded work finishes within the deadline");

    let started = Instant::now();
    let failure = check(&plugin, "loop").unwrap_err();
    assert_eq!(failure, PluginFailure::Timeout(Duration::from_millis(50)));
    // Generous bound: the point is that the call returned, not how fast.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_serves(&plugin);
}

#[test]
fn memory_cap_refuses_growth_and_allows_use_below_it() {
    let sandbox = sandbox();
    let limits = Limits {
        memory: 32 << 20,
        ..Limits::default()
    };
    let plugin = hostile(&sandbox, limits);
    check(&plugin, "alloc:8").expect("8 MiB fits under a 32 MiB cap");
    let failure = check(&plugin, "alloc:64").unwrap_err();
    let PluginFailure::MemoryLimit(message) = &failure else {
        panic!("expected a memory-limit failure, got {failure:?}");
    };
    assert!(message.contains("32 MiB"), "{message}");
    assert_serves(&plugin);
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let sandbox = sandbox();
    let plugin = hostile(&sandbox, Limits::default());
    let failure = check(&plugin, "panic").unwrap_err();
    let PluginFailure::Panic(message) = &failure else {
        panic!("expected a panic failure, got {failure:?}");
    };
    assert!(
        message.contains("hostile guest panicked on purpose"),
        "{message}"
    );
    assert_serves(&plugin);
}

#[test]
fn a_plugin_error_is_a_failure_with_its_message() {
    let sandbox = sandbox();
    let plugin = hostile(&sandbox, Limits::default());
    assert_eq!(
        check(&plugin, "error").unwrap_err(),
        PluginFailure::Error("the guest failed on purpose".into())
    );
    assert_serves(&plugin);
}

#[test]
fn spans_outside_the_text_or_inside_a_character_are_refused() {
    let sandbox = sandbox();
    let plugin = hostile(&sandbox, Limits::default());
    let cases = [
        ("span:range", "spans bytes 0..15 of a 10-byte segment"),
        ("span:mid-char é", "splits a UTF-8 character"),
        ("settled:range", "settled offset 14 of a 13-byte segment"),
        ("settled:count", "2 settled offsets for 1 segments"),
        ("span:segment", "names segment 99 but there are 1"),
    ];
    for (text, expected) in cases {
        let failure = check(&plugin, text).unwrap_err();
        let PluginFailure::BadOutput(message) = &failure else {
            panic!("{text}: expected bad output, got {failure:?}");
        };
        assert!(message.contains(expected), "{text}: {message}");
        assert_serves(&plugin);
    }
}

#[test]
fn findings_are_capped_in_number_and_in_bytes() {
    let sandbox = sandbox();
    let plugin = hostile(&sandbox, Limits::default());
    let verdict = check(&plugin, "findings:1000").expect("1000 findings are fine");
    assert_eq!(verdict.findings.len(), 1000);
    let failure = check(&plugin, "findings:20000").unwrap_err();
    assert!(
        matches!(&failure, PluginFailure::BadOutput(m) if m.contains("more than the limit of 10000")),
        "{failure:?}"
    );
    assert_serves(&plugin);

    // An enormous list is stopped while it is being copied out, not after.
    let small_output = Limits {
        max_output_bytes: 64 << 10,
        ..Limits::default()
    };
    let plugin = hostile(&sandbox, small_output);
    check(&plugin, "findings:10").expect("a short list fits");
    let failure = check(&plugin, "findings:200000").unwrap_err();
    assert!(
        matches!(&failure, PluginFailure::BadOutput(m) if m.contains("more than 65536 bytes")),
        "{failure:?}"
    );
    assert_serves(&plugin);
}

#[test]
fn long_labels_are_refused() {
    let sandbox = sandbox();
    let plugin = hostile(&sandbox, Limits::default());
    check(&plugin, "label:100").expect("a 100-byte kind is fine");
    let failure = check(&plugin, "label:1000").unwrap_err();
    assert!(
        matches!(&failure, PluginFailure::BadOutput(m) if m.contains("1000-byte kind")),
        "{failure:?}"
    );
}

#[test]
fn a_log_flood_is_cut_and_the_call_still_succeeds() {
    let sandbox = sandbox();
    // A generous deadline: this is about the line cap, not about speed.
    let limits = Limits {
        timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let plugin = hostile(&sandbox, limits);
    check(&plugin, "log:5000").expect("log lines past the limit are dropped");
}

#[test]
fn no_ambient_authority_files_env_clock_or_network() {
    let sandbox = sandbox();
    let plugin = hostile(&sandbox, Limits::default());
    let observe = |probe: &str| {
        let verdict = check(&plugin, probe).expect(probe);
        verdict.findings[0].kind.clone()
    };
    assert_eq!(observe("probe:env"), "env-0");
    assert_eq!(observe("probe:file"), "file-read-false-listed-false");
    assert_eq!(observe("probe:clock"), "clock-0");
    assert_eq!(observe("probe:net"), "net-connected-false");
}

#[test]
fn warm_instances_are_reused_and_replaced_after_a_trap() {
    let sandbox = sandbox();
    let plugin = hostile(&sandbox, Limits::default());
    let rule =
        |plugin: &sluice::sandbox::Plugin| check(plugin, "count").unwrap().findings[0].rule.clone();
    assert_eq!(rule(&plugin), "call-1");
    assert_eq!(rule(&plugin), "call-2");
    let _ = check(&plugin, "panic");
    // The panicked instance was discarded: a fresh one starts counting again.
    assert_eq!(rule(&plugin), "call-1");
    assert_eq!(plugin.stats().instantiations, 2);
}

#[test]
fn stats_say_how_much_linear_memory_the_idle_instances_hold() {
    let sandbox = sandbox();
    let plugin = hostile(&sandbox, Limits::default());
    let at_load = plugin.stats();
    assert_eq!(at_load.idle, 1);
    assert!(at_load.idle_memory >= 64 << 10, "{at_load}");
    check(&plugin, "alloc:8").unwrap();
    let grown = plugin.stats();
    assert_eq!(grown.idle, 1);
    assert!(
        grown.idle_memory >= at_load.idle_memory + (8 << 20),
        "{at_load} / {grown}"
    );
    assert!(grown.to_string().contains("1 idle holding"), "{grown}");
}

/// Waits (up to a generous bound) until `plugin` has prepared `n` successors.
fn wait_for_successors(plugin: &sluice::sandbox::Plugin, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while plugin.stats().successors < n {
        assert!(
            Instant::now() < deadline,
            "no successor: {}",
            plugin.stats()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_used_up_instance_is_replaced_off_the_call_path() {
    let sandbox = sandbox();
    let limits = Limits {
        max_uses: 3,
        ..Limits::default()
    };
    let plugin = hostile(&sandbox, limits);
    let rule =
        |plugin: &sluice::sandbox::Plugin| check(plugin, "count").unwrap().findings[0].rule.clone();
    for k in 1..=3 {
        assert_eq!(rule(&plugin), format!("call-{k}"));
    }
    // Used up: its successor is prepared on another thread; until it is ready
    // the old instance serves, so no call creates an instance.
    wait_for_successors(&plugin, 1);
    assert_eq!(rule(&plugin), "call-1", "the successor serves");
    for _ in 0..20 {
        check(&plugin, "count").unwrap();
    }
    let stats = plugin.stats();
    assert_eq!(stats.cold_calls, 0, "{stats}");
}

#[test]
fn an_instance_grown_too_big_is_replaced_off_the_call_path() {
    let sandbox = sandbox();
    let limits = Limits {
        recycle_memory: 4 << 20,
        ..Limits::default()
    };
    let plugin = hostile(&sandbox, limits);
    check(&plugin, "alloc:8").expect("8 MiB fits under the cap");
    wait_for_successors(&plugin, 1);
    let verdict = check(&plugin, "count").unwrap();
    assert_eq!(verdict.findings[0].rule, "call-1", "the successor serves");
    let stats = plugin.stats();
    assert_eq!(
        (stats.cold_calls, stats.instantiations, stats.idle),
        (0, 2, 1),
        "{stats}"
    );
}

#[test]
fn a_plugin_configured_past_recycle_memory_does_not_replace_an_instance_per_call() {
    let sandbox = sandbox();
    // Every configured instance has at least one page: past a 1-byte bound
    // from the start, so a successor could never be smaller.
    let limits = Limits {
        recycle_memory: 1,
        ..Limits::default()
    };
    let plugin = hostile(&sandbox, limits);
    for _ in 0..20 {
        check(&plugin, "count").unwrap();
    }
    // Give a successor, had one been started, the time to be counted.
    std::thread::sleep(Duration::from_millis(200));
    let stats = plugin.stats();
    assert_eq!(
        (stats.instantiations, stats.successors, stats.cold_calls),
        (1, 0, 0),
        "{stats}"
    );
    let verdict = check(&plugin, "count").unwrap();
    assert_eq!(
        verdict.findings[0].rule, "call-21",
        "one instance served every call"
    );
}

#[test]
fn fresh_mode_never_shares_an_instance_between_calls() {
    let sandbox = sandbox();
    let limits = Limits {
        instances: InstanceMode::Fresh,
        ..Limits::default()
    };
    let plugin = hostile(&sandbox, limits);
    for _ in 0..3 {
        let verdict = check(&plugin, "count").unwrap();
        assert_eq!(verdict.findings[0].rule, "call-1");
    }
    assert_eq!(plugin.stats().idle, 0);
}

#[test]
fn concurrent_calls_with_failures_mixed_in_all_get_answers() {
    let sandbox = sandbox();
    let limits = Limits {
        timeout: Duration::from_millis(50),
        ..Limits::default()
    };
    let plugin = hostile(&sandbox, limits);
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let plugin = plugin.clone();
            scope.spawn(move || {
                for i in 0..25 {
                    let text = match (worker + i) % 5 {
                        0 => "panic",
                        1 => "loop",
                        _ => "spin:1000",
                    };
                    let result = check(&plugin, text);
                    match text {
                        "panic" => assert!(matches!(result, Err(PluginFailure::Panic(_)))),
                        "loop" => assert!(matches!(result, Err(PluginFailure::Timeout(_)))),
                        _ => assert!(result.is_ok(), "{result:?}"),
                    }
                }
            });
        }
    });
    assert_serves(&plugin);
}

#[test]
fn configure_failures_stop_loading_with_the_reason() {
    let sandbox = sandbox();
    let source = PluginSource::File(crate::support::guest("sluice-guest-hostile"));
    let limits = Limits {
        setup_timeout: Duration::from_millis(200),
        ..Limits::default()
    };

    let err = sandbox
        .load(&source, r#"{"configure": "refuse"}"#, limits.clone())
        .err()
        .expect("refused settings fail the load");
    assert!(matches!(err, LoadError::Settings { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("refused on purpose"), "{message}");
    assert!(message.contains("hostile"), "names the plugin: {message}");

    let err = sandbox
        .load(&source, r#"{"configure": "panic"}"#, limits.clone())
        .err()
        .expect("a panic in configure fails the load");
    assert!(
        matches!(
            &err,
            LoadError::Setup {
                failure: PluginFailure::Panic(_),
                ..
            }
        ),
        "{err:?}"
    );

    let err = sandbox
        .load(&source, r#"{"configure": "loop"}"#, limits)
        .err()
        .expect("a loop in configure fails the load");
    assert!(
        matches!(
            &err,
            LoadError::Setup {
                failure: PluginFailure::Timeout(_),
                ..
            }
        ),
        "{err:?}"
    );
}
