//! The `sluice` command line: scan, check-config and plugin subcommands, run as
//! a user would run them.

use crate::support::{guest, run_with_stdin, sluice, text};

#[test]
fn scan_without_config_runs_the_builtins_and_reports_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "first line\nwrite to jörg@example.de, thanks\n").unwrap();
    let output = sluice().arg("scan").arg(&file).output().unwrap();
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "findings exit 1: {stderr}");
    assert!(stdout.contains("pii.email"), "{stdout}");
    assert!(stdout.contains("2:10"), "line 2, column 10: {stdout}");
    assert!(stdout.contains("verdict: redact (1 findings)"), "{stdout}");
}

#[test]
fn scan_redact_prints_the_text_as_the_upstream_would_see_it() {
    let output = run_with_stdin(
        sluice().args(["scan", "--redact"]),
        "Ping élodie@société.fr or bob@corp.io — merci",
    );
    let (stdout, _) = text(&output);
    assert_eq!(stdout, "Ping [EMAIL_1] or [EMAIL_2] — merci");
}

#[test]
fn scan_jsonl_gives_exact_utf8_byte_offsets() {
    let inputs = [
        (1, "日本語のテキスト taro@example.jp です"),
        (2, "nothing to see"),
        (3, "Ünïcödé → a@b.co, c@d.io"),
    ];
    let stdin: String = inputs
        .iter()
        .map(|(id, t)| serde_json::json!({ "id": id, "text": t }).to_string() + "\n")
        .collect();
    let output = run_with_stdin(sluice().args(["scan", "--jsonl"]), &stdin);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for ((id, input), line) in inputs.iter().zip(&lines) {
        assert_eq!(line["id"], *id);
        for finding in line["findings"].as_array().unwrap() {
            let start = finding["start"].as_u64().unwrap() as usize;
            let end = finding["end"].as_u64().unwrap() as usize;
            let matched = &input[start..end];
            assert!(
                matched.contains('@') && !matched.contains(' '),
                "{matched:?}"
            );
            assert_eq!(finding["plugin"], "pii");
            assert_eq!(finding["kind"], "email");
            assert_eq!(finding["action"], "redact");
        }
    }
    let counts: Vec<usize> = lines
        .iter()
        .map(|l| l["findings"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [1, 0, 2]);
}

#[test]
fn scan_jsonl_reports_bad_lines_and_goes_on() {
    let output = run_with_stdin(
        sluice().args(["scan", "--jsonl"]),
        "not json\n{\"id\": 7}\n{\"id\": 8, \"text\": \"x@y.io\"}\n",
    );
    let (stdout, _) = text(&output);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines[0]["error"].as_str().unwrap().contains("line 1"));
    assert_eq!(lines[1]["id"], 7);
    assert!(lines[1]["error"].as_str().unwrap().contains("text"));
    assert_eq!(lines[2]["findings"].as_array().unwrap().len(), 1);
    assert_eq!(
        output.status.code(),
        Some(3),
        "bad lines make the exit status 3"
    );
}

#[test]
fn scan_with_a_config_uses_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        "[[guardrails]]\nplugin = \"pii\"\nsettings = { action = \"block\", allow_domains = [\"corp.io\"] }\n",
    )
    .unwrap();
    let output = run_with_stdin(
        sluice().arg("scan").arg("--config").arg(&config),
        "bob@corp.io",
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "allowlisted: {:?}",
        text(&output)
    );

    let output = run_with_stdin(
        sluice().arg("scan").arg("--config").arg(&config),
        "eve@evil.io",
    );
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(2), "blocks exit 2: {stdout}");
    assert!(
        stdout.contains("verdict: block: blocked by guardrail `pii` (rule pii.email)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("verdict: block: eve@"),
        "the reason never echoes the match"
    );
}

#[test]
fn check_config_names_the_field_and_the_plugins_own_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad_field = dir.path().join("bad-field.toml");
    std::fs::write(
        &bad_field,
        "[[guardrails]]\nplugin = \"pii\"\ntimeout_ms = 0\n",
    )
    .unwrap();
    let output = sluice()
        .arg("check-config")
        .arg(&bad_field)
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr.contains("bad-field.toml: guardrails[0].timeout_ms"),
        "{stderr}"
    );

    let refused = dir.path().join("refused.toml");
    std::fs::write(
        &refused,
        "[[guardrails]]\nplugin = \"pii\"\nsettings = { action = \"shred\" }\n",
    )
    .unwrap();
    let output = sluice().arg("check-config").arg(&refused).output().unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr.contains("guardrail `pii`"), "{stderr}");
    assert!(stderr.contains("refused its settings"), "{stderr}");
    assert!(
        stderr.contains("shred"),
        "the plugin's own message: {stderr}"
    );

    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[[guardrails]]\nplugin = \"pii\"\n").unwrap();
    let output = sluice().arg("check-config").arg(&good).output().unwrap();
    assert!(output.status.success(), "{:?}", text(&output));
}

#[test]
fn plugin_check_describes_configures_and_runs_a_plugin() {
    let hostile = guest("sluice-guest-hostile");
    let output = sluice()
        .args(["plugin", "check"])
        .arg(&hostile)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("plugin:        hostile 0.0.1"), "{stdout}");
    assert!(stdout.contains("settings:      accepted"), "{stdout}");
    assert!(stdout.contains("sample check:  allow"), "{stdout}");
    assert!(
        stdout.contains(" MiB of linear memory after the sample"),
        "{stdout}"
    );

    let output = sluice()
        .args(["plugin", "check"])
        .arg(&hostile)
        .args(["--settings", r#"{"configure": "refuse"}"#])
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr.contains("refused on purpose"), "{stderr}");

    let old = guest("sluice-guest-old-contract");
    let output = sluice()
        .args(["plugin", "check"])
        .arg(&old)
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(stderr.contains("contract 0.1.0"), "{stderr}");
}

#[test]
fn plugin_list_shows_the_builtins() {
    let output = sluice().args(["plugin", "list"]).output().unwrap();
    let (stdout, _) = text(&output);
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["secrets", "pii", "content-filter", "org-rules"],
        "{stdout}"
    );
}
