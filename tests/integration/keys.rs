//! Managed gateway keys end to end: made with `sluice keys` while a gateway
//! runs, used with the official SDKs, revoked, expired and limited to some
//! models, managed through the admin API — and no secret left behind in a
//! listing, the database file or the gateway's debug log.

use crate::gateway::{Harness, KEY, start};
use crate::mock_upstream::MockUpstream;
use crate::sdk::{assert_ok, available, python_has, run};
use crate::support::{sluice, spawn_serve, text};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const ADMIN_KEY: &str = "admin-key-for-keys-0123456789";

/// A running gateway's keys change within this (docs/keys.md): 1 s, plus
/// room for a slow machine.
const RELOAD_BOUND: Duration = Duration::from_millis(1300);

/// A key made by another process works within this (docs/keys.md): 100 ms,
/// plus room.
const NEW_KEY_BOUND: Duration = Duration::from_millis(150);

/// A config like the gateway harness's, for `sluice serve` in `dir`; with
/// `config_key`, it holds gateway key `team-a` ([`KEY`]).
fn write_config(dir: &Path, mock: &MockUpstream, config_key: bool) -> PathBuf {
    let addr = mock.addr;
    let keys = if config_key {
        format!("[[keys]]\nid = \"team-a\"\nkey = \"{KEY}\"\n")
    } else {
        String::new()
    };
    let config = dir.join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[providers]]
slug = "oa"
kind = "openai"
base_url = "http://{addr}/v1"
api_key = "sk-test-provider-openai-key"

[[providers]]
slug = "an"
kind = "anthropic"
base_url = "http://{addr}"
api_key = "sk-ant-test-provider-key"

[[providers]]
slug = "echo"
kind = "echo"

[models]
"claude-test" = "@an/echo-last"

{keys}
[admin]
key = "{ADMIN_KEY}"

[[guardrails]]
plugin = "pii"
"#
        ),
    )
    .unwrap();
    config
}

/// Runs `sluice keys ARGS` (off the async workers).
async fn keys_cli(args: &[&str]) -> Output {
    let mut command = sluice();
    command.arg("keys").args(args);
    run(command).await
}

/// `sluice keys create ... --json`: the new key's JSON (with its secret).
async fn create(args: &[&str]) -> Value {
    let mut all = vec!["create", "--json"];
    all.extend_from_slice(args);
    let output = keys_cli(&all).await;
    serde_json::from_str(&assert_ok("sluice keys create", &output)).unwrap()
}

fn secret_of(key: &Value) -> String {
    let secret = key["secret"]
        .as_str()
        .expect("a new key's secret")
        .to_string();
    assert!(secret.starts_with("sk-sluice-"), "{secret}");
    secret
}

/// A chat request in `api`'s format with `secret`; the status and JSON body.
async fn call(base: &str, api: &str, secret: &str, model: &str) -> (u16, Value) {
    let client = reqwest::Client::new();
    let request = match api {
        "openai" => client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(secret)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})),
        _ => client
            .post(format!("{base}/v1/messages"))
            .header("x-api-key", secret)
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})),
    };
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Asserts a refusal in each API's own error shape, saying `says`, through raw
/// HTTP and (when installed) both official SDKs.
async fn assert_refused(base: &str, secret: &str, status: u16, says: &str, model: &str) {
    let (kind, code) = match status {
        401 => ("authentication_error", json!("invalid_api_key")),
        _ => ("permission_error", Value::Null),
    };
    let (got, body) = call(base, "openai", secret, model).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(says), "{message}");
    let (got, body) = call(base, "anthropic", secret, model).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(says),
        "{body}"
    );
    assert!(!body.to_string().contains(secret), "the secret is echoed");
    if !available(
        python_has("openai") && python_has("anthropic"),
        "the `openai` and `anthropic` Python packages",
    ) {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sdk/key_errors.py");
    let mut command = Command::new("python3");
    command
        .arg(script)
        .args([base, secret, &status.to_string(), says, model]);
    assert_ok("key_errors.py", &run(command).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_made_with_the_cli_works_with_the_official_sdks() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock, true);
    let served = spawn_serve(&config, Stdio::null(), &[]).await;
    let config_arg = config.to_str().unwrap();
    let key = create(&["--config", config_arg, "--id", "sdk-user", "--team", "sdk"]).await;
    assert_eq!(key["id"], "sdk-user");
    assert_eq!(key["status"], "active");
    let secret = secret_of(&key);
    tokio::time::sleep(NEW_KEY_BOUND).await;
    // The key works at once, in either API, with or without the SDKs.
    for api in ["openai", "anthropic"] {
        let (status, body) = call(&served.base, api, &secret, "claude-test").await;
        assert_eq!(status, 200, "{api}: {body}");
    }
    assert_eq!(mock.received().len(), 2);
    for (script, module) in [
        ("openai_client.py", "openai"),
        ("anthropic_client.py", "anthropic"),
    ] {
        if !available(
            python_has(module),
            &format!("the `{module}` Python package"),
        ) {
            continue;
        }
        let before = mock.received().len();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/sdk")
            .join(script);
        let mut command = Command::new("python3");
        command.arg(&path).arg(&served.base).arg(&secret);
        assert_ok(script, &run(command).await);
        // The SDK's calls reached the upstream through the gateway.
        assert!(mock.received().len() > before, "{script} made no call");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_and_expired_keys_get_a_401_in_each_apis_format() {
    let h = start("").await;
    let db = h.state_db.to_str().unwrap();
    let revoked = secret_of(&create(&["--db", db, "--id", "leaver"]).await);
    tokio::time::sleep(NEW_KEY_BOUND).await;
    let (status, _) = call(&h.base, "openai", &revoked, "@oa/echo-last").await;
    assert_eq!(status, 200, "the new key works at once");

    let output = keys_cli(&["revoke", "--db", db, "leaver"]).await;
    let said = assert_ok("sluice keys revoke", &output);
    assert!(said.contains("revoked gateway key `leaver`"), "{said}");
    tokio::time::sleep(RELOAD_BOUND).await;
    let says = "this gateway key (`leaver`) was revoked on 20";
    assert_refused(&h.base, &revoked, 401, says, "@oa/echo-last").await;

    let expired = create(&[
        "--db",
        db,
        "--id",
        "temp",
        "--expires",
        "2020-01-01T00:00:00Z",
    ])
    .await;
    assert_eq!(expired["status"], "expired");
    let expired = secret_of(&expired);
    // The gateway sees the new key (and that it expired) within this; without
    // the wait the check raced the reload whenever the SDKs were not installed.
    tokio::time::sleep(NEW_KEY_BOUND).await;
    let says = "this gateway key (`temp`) expired on 2020-01-01T00:00:00.000Z";
    assert_refused(&h.base, &expired, 401, says, "claude-test").await;

    // A later expiry brings it back; a revoked key stays revoked.
    assert_ok(
        "sluice keys update",
        &keys_cli(&["update", "--db", db, "temp", "--expires", "30d"]).await,
    );
    let output = keys_cli(&["update", "--db", db, "leaver", "--no-expiry"]).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output).1.contains("a revoked key cannot be changed"));
    tokio::time::sleep(RELOAD_BOUND).await;
    assert_eq!(
        call(&h.base, "anthropic", &expired, "claude-test").await.0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_key_keeps_its_id_and_only_the_new_secret_works() {
    let h = start("").await;
    let db = h.state_db.to_str().unwrap();
    let old = secret_of(&create(&["--db", db, "--id", "ci", "--team", "infra"]).await);
    let output = keys_cli(&["rotate", "--db", db, "ci", "--json"]).await;
    let rotated: Value = serde_json::from_str(&assert_ok("rotate", &output)).unwrap();
    assert_eq!(rotated["id"], "ci");
    assert_eq!(rotated["team"], "infra");
    assert!(rotated["rotated_at"].is_string());
    let new = secret_of(&rotated);
    assert_ne!(new, old);
    tokio::time::sleep(RELOAD_BOUND).await;
    assert_refused(&h.base, &old, 401, "invalid gateway key", "@oa/echo-last").await;
    assert_eq!(call(&h.base, "openai", &new, "@oa/echo-last").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_limited_to_some_models_gets_a_403_naming_them() {
    let h = start("").await;
    let db = h.state_db.to_str().unwrap();
    let key = create(&[
        "--db",
        db,
        "--id",
        "claude-only",
        "--model",
        "claude-*",
        "--model",
        "@an/*",
    ])
    .await;
    let secret = secret_of(&key);
    tokio::time::sleep(NEW_KEY_BOUND).await;
    assert_eq!(
        call(&h.base, "anthropic", &secret, "claude-test").await.0,
        200
    );
    assert_eq!(
        call(&h.base, "openai", &secret, "@an/echo-last").await.0,
        200
    );
    let says =
        "gateway key `claude-only` may not use model `@oa/echo-last`; it may use: claude-*, @an/*";
    assert_refused(&h.base, &secret, 403, says, "@oa/echo-last").await;

    // The model list shows only what the key may use.
    let models = h.models_as(&secret).await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"claude-test"), "{ids:?}");
    assert!(!ids.contains(&"claude-on-openai"), "{ids:?}");
    assert!(!ids.contains(&"@oa/echo-last"), "{ids:?}");

    // Limited to a provider: every other provider's model is refused.
    let output = keys_cli(&[
        "update",
        "--db",
        db,
        "claude-only",
        "--any-model",
        "--provider",
        "oa",
    ])
    .await;
    assert_ok("update", &output);
    tokio::time::sleep(RELOAD_BOUND).await;
    let says = "gateway key `claude-only` may not use provider `an` (model `@an/echo-last`); it may use: oa";
    assert_refused(&h.base, &secret, 403, says, "claude-test").await;
    assert_eq!(
        call(&h.base, "openai", &secret, "@oa/echo-last").await.0,
        200
    );
}

/// An admin API request; the status and JSON body.
async fn admin(h: &Harness, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    admin_as(h, ADMIN_KEY, method, path, body).await
}

async fn admin_as(
    h: &Harness,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = h
        .client
        .request(method, format!("{}/admin/keys{path}", h.base))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_creates_changes_rotates_and_revokes_keys() {
    let h = start(&format!(
        "[admin]\nkey = \"{ADMIN_KEY}\"\n\n[[guardrails]]\nplugin = \"pii\"\n"
    ))
    .await;
    // Only the admin key opens it.
    assert_eq!(admin_as(&h, KEY, "GET", "", None).await.0, 401);
    let (status, created) = admin(
        &h,
        "POST",
        "",
        Some(
            json!({"id": "web", "name": "Web app", "team": "web", "metadata": {"app": "shop"},
                     "allowed_models": ["@oa/*"], "guardrails": ["pii"], "expires_at": "90d"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = secret_of(&created);
    assert_eq!(created["team"], "web");
    assert_eq!(created["metadata"], json!({"app": "shop"}));
    assert!(created["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(created.get("hash").is_none());
    assert_eq!(
        call(&h.base, "openai", &secret, "@oa/echo-last").await.0,
        200
    );

    // Listing and reading never show a secret.
    let (status, list) = admin(&h, "GET", "", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"][0]["id"], "web");
    assert_eq!(list["data"][0]["prefix"], secret[..14]);
    let (status, one) = admin(&h, "GET", "/web", None).await;
    assert_eq!(status, 200);
    for shown in [list.to_string(), one.to_string()] {
        assert!(!shown.contains(&secret[14..]), "{shown}");
    }

    // Changes: a field set, a tag added and one removed, a limit lifted; the
    // gateway uses them at once.
    let (status, changed) = admin(
        &h,
        "PATCH",
        "/web",
        Some(json!({"team": "shop", "metadata": {"app": null, "tier": "gold"}, "allowed_models": null})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["team"], "shop");
    assert_eq!(changed["metadata"], json!({"tier": "gold"}));
    assert_eq!(changed["allowed_models"], json!([]));
    assert_eq!(changed["name"], "Web app");
    assert_eq!(
        call(&h.base, "anthropic", &secret, "claude-test").await.0,
        200
    );

    // Bad input names the field; unknown ids are 404s.
    for (method, path, body, says) in [
        ("POST", "", json!({"id": "Bad Id"}), "`id`"),
        (
            "POST",
            "",
            json!({"id": "team-a"}),
            "`id`: `team-a` is the id of a key in the config",
        ),
        (
            "POST",
            "",
            json!({"id": "web"}),
            "`id`: a gateway key with id `web` exists already",
        ),
        (
            "POST",
            "",
            json!({"allowed_providers": ["nope"]}),
            "`allowed_providers[0]`: no provider `nope`",
        ),
        (
            "POST",
            "",
            json!({"guardrails": ["secrets"]}),
            "`guardrails[0]`: no guardrail with id `secrets`",
        ),
        (
            "PATCH",
            "/web",
            json!({"expires_at": "soon"}),
            "`expires_at`",
        ),
        (
            "PATCH",
            "/web",
            json!({"metadata": {"team": "x"}}),
            "`metadata.team`",
        ),
        (
            "PATCH",
            "/web",
            json!({"colour": "red"}),
            "`colour`: unknown field",
        ),
        (
            "PATCH",
            "/web",
            json!({"id": "other"}),
            "`id`: unknown field",
        ),
        (
            "PATCH",
            "/web",
            json!({"allowed_models": "@oa/*"}),
            "`allowed_models`: must be an array",
        ),
    ] {
        let (status, body) = admin(&h, method, path, Some(body)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message} (wanted {says})");
    }
    for (method, path) in [
        ("GET", "/nope"),
        ("PATCH", "/nope"),
        ("DELETE", "/nope"),
        ("POST", "/nope/rotate"),
    ] {
        let body = (method == "PATCH").then(|| json!({}));
        let (status, answer) = admin(&h, method, path, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no gateway key with id `nope`")
        );
    }

    // Rotation: the old secret stops at once in this process, the new one works.
    let (status, rotated) = admin(&h, "POST", "/web/rotate", None).await;
    assert_eq!(status, 200);
    let new = secret_of(&rotated);
    assert_eq!(
        call(&h.base, "openai", &secret, "@oa/echo-last").await.0,
        401
    );
    assert_eq!(call(&h.base, "openai", &new, "@oa/echo-last").await.0, 200);

    // Revocation: for good.
    let (status, revoked) = admin(&h, "DELETE", "/web", None).await;
    assert_eq!(status, 200);
    assert_eq!(revoked["status"], "revoked");
    let (status, body) = call(&h.base, "anthropic", &new, "claude-test").await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("was revoked on")
    );
    let (status, body) = admin(&h, "POST", "/web/rotate", None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        admin(&h, "DELETE", "/web", None).await.0,
        200,
        "revoking again changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_is_left_in_listings_the_database_or_the_debug_log() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock, true);
    let log_path = dir.path().join("gateway.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let served = spawn_serve(&config, Stdio::from(log), &[("SLUICE_LOG", "debug")]).await;
    let config_arg = config.to_str().unwrap();
    let first =
        secret_of(&create(&["--config", config_arg, "--id", "one", "--tag", "app=cli"]).await);
    let second = secret_of(&create(&["--config", config_arg]).await);
    let output = keys_cli(&["rotate", "--config", config_arg, "one"]).await;
    let rotated = assert_ok("rotate", &output);
    let third = rotated
        .lines()
        .find(|line| line.starts_with("sk-sluice-"))
        .expect("the new secret on a line of its own")
        .to_string();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for secret in [&first, &second, &third] {
        let _ = call(&served.base, "openai", secret, "@oa/echo-last").await;
        let _ = call(&served.base, "anthropic", secret, "claude-test").await;
    }
    assert_eq!(
        call(&served.base, "openai", &third, "@oa/echo-last")
            .await
            .0,
        200
    );
    assert_eq!(
        call(&served.base, "openai", &first, "@oa/echo-last")
            .await
            .0,
        401
    );

    let mut shown = String::new();
    for args in [
        vec!["list", "--config", config_arg],
        vec!["list", "--config", config_arg, "--json"],
        vec!["show", "--config", config_arg, "one"],
        vec!["show", "--config", config_arg, "one", "--json"],
    ] {
        let output = keys_cli(&args).await;
        shown.push_str(&assert_ok("sluice keys", &output));
    }
    assert!(
        shown.contains("sk-sluice-"),
        "the prefixes are shown: {shown}"
    );
    drop(served);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("DEBUG"), "the log is at debug level: {log}");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            files.push(std::fs::read(&path).unwrap());
        }
    }
    assert!(
        files.len() >= 3,
        "the state and audit databases and the log"
    );
    for secret in [&first, &second, &third] {
        // What follows the 14 characters that are shown on purpose.
        let hidden = &secret[14..];
        assert!(!shown.contains(hidden), "a listing shows a secret");
        assert!(!log.contains(hidden), "the log holds a secret");
        for bytes in &files {
            assert!(
                !bytes.windows(hidden.len()).any(|w| w == hidden.as_bytes()),
                "a file holds a secret"
            );
        }
        let hash = blake3::hash(secret.as_bytes()).to_hex().to_string();
        assert!(!shown.contains(&hash[..16]), "a listing shows a hash");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_says_what_is_wrong() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock, true);
    let config_arg = config.to_str().unwrap();
    let missing = dir.path().join("nowhere.db");
    for (args, says) in [
        (
            vec!["list", "--db", missing.to_str().unwrap()],
            "no key store at",
        ),
        (
            vec!["create", "--config", config_arg, "--id", "team-a"],
            "`id`: `team-a` is the id of a key in the config",
        ),
        (
            vec!["create", "--config", config_arg, "--model", "@zz/*"],
            "`allowed_models[0]`: no provider `zz`",
        ),
        (
            vec!["create", "--config", config_arg, "--expires", "soon"],
            "`expires_at`: `soon`",
        ),
        (
            vec!["create", "--config", config_arg, "--tag", "novalue"],
            "--tag novalue: write it as NAME=VALUE",
        ),
        (
            vec!["show", "--config", config_arg, "nope"],
            "no gateway key with id `nope`",
        ),
    ] {
        let output = keys_cli(&args).await;
        let (stdout, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(3), "{args:?}: {stdout}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(!missing.exists(), "reading does not create a database");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_gateway_with_some_key_listens_beyond_loopback() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock, false);
    let port = crate::support::free_port();
    let listen = format!("0.0.0.0:{port}");
    let mut serve = sluice();
    serve
        .args(["serve", "--listen", &listen, "--config"])
        .arg(&config);
    let output = run(serve).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(
        text(&output).1.contains("no gateway keys exist"),
        "{}",
        text(&output).1
    );

    // A managed key is enough.
    let secret = secret_of(&create(&["--config", config.to_str().unwrap(), "--id", "only"]).await);
    let mut child = sluice()
        .args(["serve", "--listen", &listen, "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut status = 0;
    for _ in 0..200 {
        if let Ok(response) = reqwest::Client::new()
            .get(format!("{base}/v1/models"))
            .bearer_auth(&secret)
            .send()
            .await
        {
            status = response.status().as_u16();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200);
}

/// A gateway key without a team, and a config that lets requests set only
/// `project`.
const TEAMLESS: &str = r#"
[[keys]]
id = "loner"
key = "gw-key-no-team-0123456789"

[admin]
key = "admin-key-for-keys-0123456789"

[[budgets]]
id = "victim-tokens"
team = "victim"
period = "day"
tokens = 1000

[metadata]
request_tags = ["project"]
"#;

/// A chat request with gateway key `loner` and `x-sluice-metadata: tags`.
async fn tagged(h: &Harness, api: &str, tags: Value) -> (u16, Value) {
    let request = match api {
        "openai" => h
            .client
            .post(format!("{}/v1/chat/completions", h.base))
            .bearer_auth("gw-key-no-team-0123456789")
            .json(&json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "hi"}]})),
        _ => h
            .client
            .post(format!("{}/v1/messages", h.base))
            .header("x-api-key", "gw-key-no-team-0123456789")
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": "@oa/echo-last", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})),
    };
    let response = request
        .header("x-sluice-metadata", tags.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_sets_only_the_tags_the_config_lists_and_never_a_team() {
    let h = start(TEAMLESS).await;
    // A key without a team cannot claim one, in either API's format.
    let (status, body) = tagged(&h, "openai", json!({"team": "victim"})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["type"], "permission_error", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`team` is set only by a gateway key"),
        "{message}"
    );
    let (status, body) = tagged(&h, "anthropic", json!({"team": "victim"})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "permission_error", "{body}");
    // A tag the config does not list is refused, naming the tag and the field.
    let (status, body) = tagged(&h, "openai", json!({"cost_center": "victim"})).await;
    assert_eq!(status, 403, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`cost_center`") && message.contains("[metadata] request_tags"),
        "{message}"
    );
    assert!(
        h.mock.received().is_empty(),
        "a refused request went upstream"
    );

    // A listed tag works, and usage shows it; nothing was charged to `victim`.
    let (status, body) = tagged(&h, "openai", json!({"project": "apollo"})).await;
    assert_eq!(status, 200, "{body}");
    let rows = h
        .usage_rows(ADMIN_KEY, "by=key,team,tag:project&per=all", 1)
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["key"], "loner");
    assert_eq!(rows[0]["team"], "");
    assert_eq!(rows[0]["tag:project"], "apollo");
    assert_eq!(rows[0]["requests"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alias_in_allowed_models_does_not_allow_its_name_at_another_provider() {
    // The harness's alias `claude-test` stands for `@an/echo-last`; the same
    // name at provider `oa` is another model, with another provider key.
    let h = start(
        r#"
[[keys]]
id = "alias-only"
key = "gw-key-alias-only-0123456789"
allowed_models = ["claude-test"]
"#,
    )
    .await;
    let secret = "gw-key-alias-only-0123456789";
    assert_eq!(
        call(&h.base, "anthropic", secret, "claude-test").await.0,
        200
    );
    assert_eq!(
        call(&h.base, "openai", secret, "@an/echo-last").await.0,
        200
    );
    let says =
        "gateway key `alias-only` may not use model `@oa/claude-test`; it may use: claude-test";
    assert_refused(&h.base, secret, 403, says, "@oa/claude-test").await;
    assert!(
        h.mock
            .received()
            .iter()
            .all(|r| !r.path.ends_with("/chat/completions")),
        "nothing reached provider `oa`"
    );
}
