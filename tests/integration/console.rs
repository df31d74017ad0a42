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

/// The config: an admin key, a second key and team, prices, a budget of team
/// `a` that the traffic brings near its limit, and guardrails that redact an
/// e-mail address and block a codename.
pub const CONFIG: &str = r#"
[admin]
key = "admin-key-console-0123456789"

[[keys]]
id = "team-b"
key = "gw-key-team-b-0123456789"
metadata = { team = "b" }

[pricing."echo-last"]
input = 3.0
output = 15.0

[[budgets]]
id = "team-a-daily"
team = "a"
period = "day"
cost_usd = 0.0005

[[rate_limits]]
id = "per-key"
key = "*"
per = "minute"
requests = 100

[[guardrails]]
plugin = "pii"

[[guardrails]]
plugin = "org-rules"
settings.rules = [{ id = "codename", keywords = ["Project Falcon"], action = "block" }]
"#;

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

/// A gateway with [`CONFIG`] after traffic from two teams: four requests of
/// team `a` (one with an e-mail address, redacted), two of team `b`, and one
/// of team `b` blocked.
pub async fn with_traffic() -> Traffic {
    let h = start(CONFIG).await;
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

/// A form body.
pub fn encode<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        .finish()
}

/// A client that does not follow redirects (to see them).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn admin_get(h: &Harness, path: &str) -> Value {
    let response = h
        .client
        .get(format!("{}{path}", h.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Signs in; the session cookie (`name=value`) and the page's CSRF token.
pub async fn sign_in(base: &str) -> (String, String) {
    let response = client()
        .post(format!("{base}/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&[("admin_key", ADMIN_KEY)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = client()
        .get(format!("{base}/console"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
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
    assert!(counted.contains(&("team-a", 4)), "{counted:?}");

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
    let h = start(CONFIG).await;
    for path in [
        "/admin/overview",
        "/admin/providers",
        "/admin/budgets",
        "/admin/requests",
        "/admin/guardrails",
        "/admin/audit/verify",
    ] {
        let none = h
            .client
            .get(format!("{}{path}", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(none.status(), 401, "{path}");
        let gateway_key = h
            .client
            .get(format!("{}{path}", h.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(gateway_key.status(), 401, "{path}");
        admin_get(&h, path).await;
    }
    let bad = h
        .client
        .get(format!("{}/admin/overview?range=week", h.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`range`")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_admin_key_the_console_is_off_and_says_how_to_turn_it_on() {
    let h = start("").await;
    for path in ["/console", "/console/login", "/console/keys"] {
        let response = client()
            .get(format!("{}{path}", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("The console is off"), "{page}");
        assert!(page.contains("SLUICE_ADMIN_KEY"));
    }
    let login = client()
        .post(format!("{}/console/login", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&[("admin_key", "anything-at-all-0123")]))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 404);
    let api = h
        .client
        .get(format!("{}/admin/overview", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_gives_a_strict_cookie_and_sign_out_ends_the_session() {
    let h = start(CONFIG).await;
    let page = client()
        .get(format!("{}/console", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "signed out: to the sign-in page");
    assert_eq!(page.headers()["location"], "/console/login");

    let response = client()
        .post(format!("{}/console/login", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&[("admin_key", ADMIN_KEY)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("sluice_console="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: not Secure");
    assert!(!cookie.contains(ADMIN_KEY));
    let over_tls = client()
        .post(format!("{}/console/login", h.base))
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&[("admin_key", ADMIN_KEY)]))
        .send()
        .await
        .unwrap();
    let secure = over_tls.headers()["set-cookie"].to_str().unwrap();
    assert!(secure.contains("; Secure"), "{secure}");

    let (cookie, csrf) = sign_in(&h.base).await;
    // The session opens the admin API's reads too (the console's own scripts).
    let api = client()
        .get(format!("{}/admin/overview", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    // A session cookie from another admin key is refused.
    let forged = client()
        .get(format!("{}/console", h.base))
        .header(
            "cookie",
            format!("sluice_console=99999999999999.abcd.{}", "0".repeat(64)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 303);

    let signed_out = client()
        .post(format!("{}/console/logout", h.base))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&[("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 303);
    assert!(
        signed_out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = client()
        .get(format!("{}/console", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303, "the old cookie no longer works");

    let records = h.audit_records(3).await;
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
    let h = start(CONFIG).await;
    let (cookie, csrf) = sign_in(&h.base).await;
    let post = |fields: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut request = client()
            .post(format!("{}/console/keys", h.base))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(&fields));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let without = post(vec![("id", "no-token".into())], None).await.unwrap();
    assert_eq!(without.status(), 403);
    let wrong = post(
        vec![("id", "wrong-token".into()), ("csrf", "0".repeat(32))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 403);
    let elsewhere = post(
        vec![("id", "elsewhere".into()), ("csrf", csrf.clone())],
        Some("http://evil.example"),
    )
    .await
    .unwrap();
    assert_eq!(elsewhere.status(), 403);

    let created = post(
        vec![
            ("id", "ci-bot".into()),
            ("team", "platform".into()),
            ("allowed_models", "@oa/*".into()),
            ("csrf", csrf.clone()),
        ],
        None,
    )
    .await
    .unwrap();
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
    let list = client()
        .get(format!("{}/console/keys", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("ci-bot"));
    assert!(!list.contains(&secret));

    // The admin API through a session: writes need the token in a header.
    let revoke = |token: Option<&str>| {
        let mut request = client()
            .delete(format!("{}/admin/keys/ci-bot", h.base))
            .header("cookie", &cookie);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        request.send()
    };
    assert_eq!(revoke(None).await.unwrap().status(), 403);
    assert_eq!(revoke(Some(&csrf)).await.unwrap().status(), 200);
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
    assert!(
        create
            .metadata
            .iter()
            .any(|(k, v)| k == "via" && v == "console")
    );
    let trail = format!("{records:?}");
    assert!(!trail.contains(&secret), "no secret in the audit trail");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_admin_keys_are_limited_per_address() {
    let h = start(CONFIG).await;
    let login = |key: &'static str| {
        client()
            .post(format!("{}/console/login", h.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(&[("admin_key", key)]))
            .send()
    };
    for _ in 0..5 {
        let refused = login("not-the-admin-key-at-all").await.unwrap();
        assert_eq!(refused.status(), 401);
        assert!(refused.headers().get("set-cookie").is_none());
    }
    let locked = login(ADMIN_KEY).await.unwrap();
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
    let h = &t.harness;
    let (cookie, _) = sign_in(&h.base).await;
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
        let response = client()
            .get(format!("{}{path}", h.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert!(
            response.status() == 200 || (path == "/console/login" && response.status() == 303),
            "{path}: {}",
            response.status()
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
    let audit = client()
        .get(format!("{}/console/audit?action=block", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains(&t.blocked), "the blocked request is listed");
    assert!(!audit.contains("data-action=\"redact\""), "only blocks");
}
