//! The web console and the admin views under it, in-process over a real
//! socket: the JSON endpoints count the traffic the test sent, sign-in gives a
//! strict cookie, a change without its CSRF token is refused, wrong admin keys
//! are limited, every change is audited, and no page shows a secret.
//! (`console_browser` drives the same console in Chromium.)

use crate::gateway::{Harness, KEY, start};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

pub const ADMIN_KEY: &str = "admin-key-console-0123456789";
pub const TEAM_B_KEY: &str = "gw-key-team-b-0123456789";
/// A provider key of the harness: no page may show it.
const PROVIDER_KEY: &str = "sk-test-provider-openai-key";

/// Prices, and a budget of team `a` that the traffic brings near its limit.
const SPENDING: &str = r#"
[pricing."echo-last"]
input = 3.0
output = 15.0

[[budgets]]
id = "team-a-daily"
team = "a"
period = "day"
cost_usd = 0.0005
"#;

/// A guardrail that blocks a codename.
const CODENAME: &str = r#"
[[guardrails]]
plugin = "org-rules"
settings.rules = [{ id = "codename", keywords = ["Project Falcon"], action = "block" }]
"#;

/// The config: an admin key, a second key and team, [`SPENDING`], a rate
/// limit per key, and guardrails that redact an e-mail address and block a
/// codename.
pub fn config() -> String {
    format!(
        r#"
[admin]
key = "{ADMIN_KEY}"

[[keys]]
id = "team-b"
key = "{TEAM_B_KEY}"
metadata = {{ team = "b" }}

[[rate_limits]]
id = "per-key"
key = "*"
per = "minute"
requests = 100

[[guardrails]]
plugin = "pii"
{SPENDING}{CODENAME}"#
    )
}

/// What [`with_traffic`] sent.
pub struct Traffic {
    pub harness: Harness,
    /// The blocked request's id.
    pub blocked: String,
    /// Requests sent, blocked one included.
    pub requests: u64,
}

async fn ask(h: &Harness, key: &str, text: &str) -> reqwest::Response {
    h.openai_as(
        key,
        json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": text}]}),
    )
    .await
}

/// A gateway with [`config`] after traffic from two teams: four requests of
/// team `a` (one with an e-mail address, redacted), two of team `b`, and one
/// of team `b` blocked.
pub async fn with_traffic() -> Traffic {
    let h = start(&config()).await;
    for text in ["hello", "write to jane.doe@example.com", "again", "more"] {
        assert_eq!(ask(&h, KEY, text).await.status(), 200);
    }
    for text in ["hi from b", "and again"] {
        assert_eq!(ask(&h, TEAM_B_KEY, text).await.status(), 200);
    }
    let response = ask(&h, TEAM_B_KEY, "tell me about Project Falcon").await;
    assert_eq!(response.status(), 400);
    let blocked = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    // Usage (the blocked request counted too) is recorded as each answer
    // ends; the audit writer commits in the
    // background: wait for both.
    h.usage_rows(ADMIN_KEY, "by=team&per=all", 7).await;
    h.audit_records(2).await;
    Traffic {
        harness: h,
        blocked,
        requests: 7,
    }
}

/// Who a test request comes from.
#[derive(Clone, Copy)]
pub enum Who<'a> {
    /// No key, no session.
    Nobody,
    /// `Authorization: Bearer` with this key.
    Bearer(&'a str),
    /// This session cookie (`sluice_console=...`).
    Session(&'a str),
}

/// A request to `base` + `path` as `who`, with `headers`; redirects are not
/// followed (to see them).
fn request(
    method: reqwest::Method,
    base: &str,
    path: &str,
    who: Who<'_>,
    headers: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let mut request = client.request(method, format!("{base}{path}"));
    match who {
        Who::Nobody => {}
        Who::Bearer(key) => request = request.bearer_auth(key),
        Who::Session(cookie) => request = request.header("cookie", cookie),
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
}

/// `GET base+path` as `who`.
pub async fn get(base: &str, path: &str, who: Who<'_>) -> reqwest::Response {
    request(reqwest::Method::GET, base, path, who, &[])
        .send()
        .await
        .unwrap()
}

/// A form `POST` to `base+path` as `who`, with `headers`.
pub async fn post_form<K: AsRef<str>, V: AsRef<str>>(
    base: &str,
    path: &str,
    who: Who<'_>,
    fields: &[(K, V)],
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        .finish();
    request(reqwest::Method::POST, base, path, who, headers)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn admin_get(h: &Harness, path: &str) -> Value {
    let response = get(&h.base, path, Who::Bearer(ADMIN_KEY)).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Signs in; the session cookie (`name=value`) and the page's CSRF token.
pub async fn sign_in(base: &str) -> (String, String) {
    let response = post_form(
        base,
        "/console/login",
        Who::Nobody,
        &[("admin_key", ADMIN_KEY)],
        &[],
    )
    .await;
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = get(base, "/console", Who::Session(&cookie))
        .await
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page has a CSRF token")
        .to_string();
    (cookie, csrf)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_views_count_the_traffic_sent() {
    // The per-key rate limit counts per calendar minute (below).
    let minute = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 60
    };
    let traffic_minute = minute();
    let t = with_traffic().await;
    let h = &t.harness;
    let overview = admin_get(h, "/admin/overview?range=1h").await;
    assert_eq!(overview["traffic"]["requests"], t.requests, "{overview:#}");
    assert_eq!(overview["traffic"]["errors"], 1);
    assert!(overview["traffic"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(overview["traffic"]["series"].as_array().unwrap().len(), 60);
    let day = admin_get(h, "/admin/overview").await;
    assert_eq!(day["range"], "24h");
    assert_eq!(
        day["usage"]["requests"], 7,
        "a blocked request is counted too: {day:#}"
    );
    let teams: Vec<&str> = day["usage"]["top_teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["a", "b"], "team a spent more");
    assert!(day["usage"]["cost_usd"].as_f64().unwrap() > 0.0);

    let requests = admin_get(h, "/admin/requests?limit=100").await;
    let lines = requests["data"].as_array().unwrap();
    assert_eq!(lines.len() as u64, t.requests);
    let blocked = lines
        .iter()
        .find(|l| l["request_id"] == t.blocked.as_str())
        .expect("the blocked request is in the log");
    assert_eq!(blocked["status"], 400);
    assert!(!requests.to_string().contains("jane.doe@example.com"));
    let after = requests["last"].as_u64().unwrap();
    let none_new = admin_get(h, &format!("/admin/requests?after={after}")).await;
    assert_eq!(none_new["data"].as_array().unwrap().len(), 0);

    let budgets = admin_get(h, "/admin/budgets").await;
    let budget = budgets["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "team-a-daily")
        .unwrap();
    assert_eq!(budget["kind"], "budget");
    assert_eq!(budget["period"], "day");
    assert_eq!(budget["counters"][0]["value"], "a");
    assert!(budget["counters"][0]["used"].as_f64().unwrap() > 0.0);
    let per_key = budgets["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "per-key")
        .unwrap();
    let counted: Vec<(&str, i64)> = per_key["counters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["value"].as_str().unwrap(), c["used"].as_i64().unwrap()))
        .collect();
    // Its window is the calendar minute: when a new one began since the
    // traffic (a slow run), part or all of the count is gone, never more.
    if minute() == traffic_minute {
        assert!(counted.contains(&("team-a", 4)), "{counted:?}");
    } else {
        assert!(counted.iter().all(|&(_, used)| used <= 4), "{counted:?}");
        eprintln!("a minute began during the test: the per-key count was not compared");
    }

    let hits = admin_get(h, "/admin/guardrails?range=1h").await;
    let rule = |name: &str| {
        hits["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {hits:#}"))
    };
    assert_eq!(rule("pii.email")["outcomes"]["redact"], 1);
    assert_eq!(rule("org-rules.codename")["outcomes"]["block"], 1);

    let providers = admin_get(h, "/admin/providers?range=1h").await;
    let oa = providers["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "oa")
        .unwrap();
    assert!(oa["requests"].as_u64().unwrap() >= 6, "{providers:#}");
    assert_eq!(oa["circuit"], "closed");

    let verify = admin_get(h, "/admin/audit/verify").await;
    assert_eq!(verify["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_views_need_the_admin_key() {
    let h = start(&config()).await;
    for path in [
        "/admin/overview",
        "/admin/providers",
        "/admin/budgets",
        "/admin/requests",
        "/admin/guardrails",
        "/admin/audit/verify",
    ] {
        assert_eq!(
            get(&h.base, path, Who::Nobody).await.status(),
            401,
            "{path}"
        );
        assert_eq!(
            get(&h.base, path, Who::Bearer(KEY)).await.status(),
            401,
            "{path}"
        );
        admin_get(&h, path).await;
    }
    let bad = get(
        &h.base,
        "/admin/overview?range=week",
        Who::Bearer(ADMIN_KEY),
    )
    .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("`range`"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_admin_key_the_console_is_off_and_says_how_to_turn_it_on() {
    let h = start("").await;
    for path in ["/console", "/console/login", "/console/keys"] {
        let response = get(&h.base, path, Who::Nobody).await;
        assert_eq!(response.status(), 404, "{path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("The console is off"), "{page}");
        assert!(page.contains("SLUICE_ADMIN_KEY"));
    }
    let fields = [("admin_key", "anything-at-all-0123")];
    let login = post_form(&h.base, "/console/login", Who::Nobody, &fields, &[]).await;
    assert_eq!(login.status(), 404);
    let api = get(&h.base, "/admin/overview", Who::Nobody).await;
    assert_eq!(api.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_gives_a_strict_cookie_and_sign_out_ends_the_session() {
    let h = start(&config()).await;
    let base = h.base.as_str();
    let page = get(base, "/console", Who::Nobody).await;
    assert_eq!(page.status(), 303, "signed out: to the sign-in page");
    assert_eq!(page.headers()["location"], "/console/login");

    let key = [("admin_key", ADMIN_KEY)];
    let response = post_form(base, "/console/login", Who::Nobody, &key, &[]).await;
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("sluice_console="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: not Secure");
    assert!(!cookie.contains(ADMIN_KEY));
    let tls = [("x-forwarded-proto", "https")];
    let over_tls = post_form(base, "/console/login", Who::Nobody, &key, &tls).await;
    let secure = over_tls.headers()["set-cookie"].to_str().unwrap();
    assert!(secure.contains("; Secure"), "{secure}");

    let (cookie, csrf) = sign_in(base).await;
    // The session opens the admin API's reads too (the console's own scripts).
    let api = get(base, "/admin/overview", Who::Session(&cookie)).await;
    assert_eq!(api.status(), 200);
    // A cookie not signed with this gateway's admin key is refused.
    let forged = format!("sluice_console=99999999999999.abcd.{}", "0".repeat(64));
    let page = get(base, "/console", Who::Session(&forged)).await;
    assert_eq!(page.status(), 303);

    let fields = [("csrf", csrf.as_str())];
    let signed_out = post_form(base, "/console/logout", Who::Session(&cookie), &fields, &[]).await;
    assert_eq!(signed_out.status(), 303);
    let cleared = signed_out.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let after = get(base, "/console", Who::Session(&cookie)).await;
    assert_eq!(after.status(), 303, "the old cookie no longer works");

    // Three sign-ins and a sign-out.
    let records = h.audit_records(4).await;
    let actions: Vec<&str> = records
        .iter()
        .filter(|r| r.outcome.as_str() == "admin")
        .filter_map(|r| r.rule.as_deref())
        .collect();
    assert!(actions.contains(&"console.sign-in"), "{actions:?}");
    assert!(actions.contains(&"console.sign-out"), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_without_its_csrf_token_or_from_another_site_is_refused() {
    let h = start(&config()).await;
    let base = h.base.as_str();
    let (cookie, csrf) = sign_in(base).await;
    let me = Who::Session(&cookie);
    let create = async |fields: &[(&str, &str)], headers: &[(&str, &str)]| {
        post_form(base, "/console/keys", me, fields, headers).await
    };
    let without = create(&[("id", "no-token")], &[]).await;
    assert_eq!(without.status(), 403);
    let zeros = "0".repeat(32);
    let wrong = create(&[("id", "wrong-token"), ("csrf", &zeros)], &[]).await;
    assert_eq!(wrong.status(), 403);
    let elsewhere = [("origin", "http://evil.example")];
    let refused = create(&[("id", "elsewhere"), ("csrf", &csrf)], &elsewhere).await;
    assert_eq!(refused.status(), 403);

    let fields = [
        ("id", "ci-bot"),
        ("team", "platform"),
        ("allowed_models", "@oa/*"),
        ("csrf", &csrf),
    ];
    let created = create(&fields, &[]).await;
    assert_eq!(created.status(), 200);
    let page = created.text().await.unwrap();
    let secret = page
        .split("id=\"secret-value\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the new secret is shown once")
        .to_string();
    assert!(secret.len() > 20);
    // It works, and it is never shown again.
    assert_eq!(ask(&h, &secret, "hi").await.status(), 200);
    let list = get(base, "/console/keys", me).await.text().await.unwrap();
    assert!(list.contains("ci-bot"));
    assert!(!list.contains(&secret));

    // The admin API through a session: writes need the token in a header.
    let revoke = |headers: &'static [(&'static str, &'static str)]| {
        request(
            reqwest::Method::DELETE,
            base,
            "/admin/keys/ci-bot",
            me,
            headers,
        )
        .send()
    };
    assert_eq!(revoke(&[]).await.unwrap().status(), 403);
    let with_token = request(
        reqwest::Method::DELETE,
        base,
        "/admin/keys/ci-bot",
        me,
        &[("x-csrf-token", &csrf)],
    );
    assert_eq!(with_token.send().await.unwrap().status(), 200);
    h.gateway.keys.managed().unwrap().mark_stale();
    assert_eq!(ask(&h, &secret, "hi").await.status(), 401);

    let records = h.audit_records(3).await;
    let admin: Vec<(&str, Option<&str>)> = records
        .iter()
        .filter(|r| r.outcome.as_str() == "admin")
        .map(|r| (r.rule.as_deref().unwrap(), r.key_id.as_deref()))
        .collect();
    assert!(
        admin.contains(&("keys.create", Some("ci-bot"))),
        "{admin:?}"
    );
    assert!(
        admin.contains(&("keys.revoke", Some("ci-bot"))),
        "{admin:?}"
    );
    let create = records
        .iter()
        .find(|r| r.rule.as_deref() == Some("keys.create"))
        .unwrap();
    let via = create.metadata.iter().find(|(k, _)| k == "via");
    assert_eq!(via.map(|(_, v)| v.as_str()), Some("console"));
    let trail = format!("{records:?}");
    assert!(!trail.contains(&secret), "no secret in the audit trail");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_admin_keys_are_limited_per_address() {
    let h = start(&config()).await;
    let login = async |key: &str| {
        post_form(
            &h.base,
            "/console/login",
            Who::Nobody,
            &[("admin_key", key)],
            &[],
        )
        .await
    };
    for _ in 0..5 {
        let refused = login("not-the-admin-key-at-all").await;
        assert_eq!(refused.status(), 401);
        assert!(refused.headers().get("set-cookie").is_none());
    }
    let locked = login(ADMIN_KEY).await;
    assert_eq!(locked.status(), 429, "even the right key waits");
    let wait: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&wait));
    assert!(locked.headers().get("set-cookie").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_has_a_strict_csp_and_no_inline_script_style_or_secret() {
    let t = with_traffic().await;
    let base = t.harness.base.as_str();
    let (cookie, _) = sign_in(base).await;
    let me = Who::Session(&cookie);
    for path in [
        "/console",
        "/console?range=1h",
        "/console?range=30d",
        "/console/usage",
        "/console/budgets",
        "/console/keys",
        "/console/audit",
        &format!("/console/audit?request={}", t.blocked),
        "/console/requests",
        "/console/guardrails",
        "/console/login",
    ] {
        let response = get(base, path, me).await;
        let status = response.status();
        assert!(
            status == 200 || (path == "/console/login" && status == 303),
            "{path}: {status}"
        );
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(response.headers()["cache-control"], "no-store");
        let page = response.text().await.unwrap();
        assert!(!page.contains("<script>"), "{path}: an inline script");
        assert!(!page.contains(" style="), "{path}: an inline style");
        for secret in [
            PROVIDER_KEY,
            KEY,
            TEAM_B_KEY,
            ADMIN_KEY,
            "jane.doe@example.com",
        ] {
            assert!(!page.contains(secret), "{path} shows {secret}");
        }
    }
    let audit = get(base, "/console/audit?action=block", me).await;
    let audit = audit.text().await.unwrap();
    assert!(audit.contains(&t.blocked), "the blocked request is listed");
    assert!(!audit.contains("data-action=\"redact\""), "only blocks");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_views_read_redis_state_and_a_postgresql_trail() {
    let Some(redis) = crate::support::RedisDb::create() else {
        return;
    };
    let Some(schema) = crate::support::PostgresSchema::create() else {
        return;
    };
    let mock = crate::mock_upstream::MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[admin]
key = "{ADMIN_KEY}"

[state]
redis = {redis:?}

[audit]
url = {pg:?}
hash_key = "test-audit-hash-key"

[[providers]]
slug = "oa"
kind = "openai"
base_url = "http://{addr}/v1"
api_key = "{PROVIDER_KEY}"

[[keys]]
id = "team-a"
key = "{KEY}"
metadata = {{ team = "a" }}
{SPENDING}{CODENAME}"#,
            redis = redis.url,
            pg = schema.url,
            addr = mock.addr,
        ),
    )
    .unwrap();
    let served = crate::support::spawn_serve(&config, std::process::Stdio::null(), &[]).await;
    let client = reqwest::Client::new();
    for text in ["hello", "again", "about Project Falcon"] {
        client
            .post(format!("{}/v1/chat/completions", served.base))
            .bearer_auth(KEY)
            .json(
                &json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": text}]}),
            )
            .send()
            .await
            .unwrap();
    }
    let view = async |path: &str| -> Value {
        let response = get(&served.base, path, Who::Bearer(ADMIN_KEY)).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    };
    // Usage and audit records are written a moment after the answers.
    let mut overview = Value::Null;
    for _ in 0..100 {
        overview = view("/admin/overview?range=1h").await;
        let hits = view("/admin/guardrails?range=1h").await;
        if overview["usage"]["requests"] == 3
            && hits["rules"].as_array().is_some_and(|r| !r.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(overview["usage"]["requests"], 3, "{overview:#}");
    assert_eq!(overview["usage"]["top_teams"][0]["name"], "a");
    let budgets = view("/admin/budgets").await;
    let counter = &budgets["data"][0]["counters"][0];
    assert_eq!(counter["value"], "a", "{budgets:#}");
    assert!(counter["used"].as_f64().unwrap() > 0.0);
    let hits = view("/admin/guardrails?range=1h").await;
    assert_eq!(hits["rules"][0]["rule"], "org-rules.codename", "{hits:#}");
    assert_eq!(hits["rules"][0]["outcomes"]["block"], 1);
    assert_eq!(view("/admin/audit/verify").await["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readmes_serve_command_with_an_admin_key_in_the_environment_opens_the_console() {
    sluice::server::install_crypto_provider();
    let data = tempfile::tempdir().unwrap();
    let serve = |admin_key: Option<&str>| {
        let port = crate::support::free_port();
        let mut command = crate::support::sluice();
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("XDG_DATA_HOME", data.path())
            .env_remove("SLUICE_ADMIN_KEY")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(key) = admin_key {
            command.env("SLUICE_ADMIN_KEY", key);
        }
        (command, port)
    };
    // Without one, the console says how to turn it on.
    let (mut command, port) = serve(None);
    let served = crate::support::Served::started(command.spawn().unwrap(), port).await;
    let off = get(&served.base, "/console", Who::Nobody).await;
    assert_eq!(off.status(), 404);
    assert!(off.text().await.unwrap().contains("SLUICE_ADMIN_KEY"));
    drop(served);

    // With one, sign in and see the overview.
    let (mut command, port) = serve(Some(ADMIN_KEY));
    let served = crate::support::Served::started(command.spawn().unwrap(), port).await;
    let (cookie, _) = sign_in(&served.base).await;
    let page = get(&served.base, "/console", Who::Session(&cookie)).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("id=\"tile-requests\""));
    drop(served);

    // A key too short to be safe is refused at start, by name.
    let (mut command, _) = serve(Some("short"));
    let output = command.output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SLUICE_ADMIN_KEY") && stderr.contains("16 characters"),
        "{stderr}"
    );
}

#[test]
fn a_key_made_with_the_cli_is_recorded_in_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        "[state]\npath = \"state.db\"\n\n[audit]\npath = \"audit.db\"\n\n\
         [[providers]]\nslug = \"echo\"\nkind = \"echo\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let output = crate::support::sluice()
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("USER", "alice")
            .output()
            .unwrap();
        let (stdout, stderr) = crate::support::text(&output);
        assert!(output.status.success(), "{stderr}");
        assert!(!stderr.contains("could not be recorded"), "{stderr}");
        stdout
    };
    run(&["keys", "create", "--id", "cli-made"]);
    run(&["keys", "revoke", "cli-made"]);
    let trail = run(&["audit", "--action", "admin", "--format", "jsonl"]);
    let records: Vec<Value> = trail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r["rule"].as_str().unwrap(), r["key_id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [("keys.create", "cli-made"), ("keys.revoke", "cli-made")]
    );
    let tags = records[0]["metadata"].to_string();
    assert!(
        tags.contains("user:alice") && tags.contains("\"cli\""),
        "{tags}"
    );
}
