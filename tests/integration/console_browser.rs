//! The web console in a real browser: Chromium, driven over WebDriver
//! (chromedriver, through `fantoccini`), against a gateway that the test has
//! sent traffic through (two teams, a redaction, a block, a budget near its
//! limit).
//!
//! Chromium is not part of the Rust toolchain: `.ci/run` installs Debian's
//! `chromium` and `chromium-driver` and sets `SLUICE_REQUIRE_CLIENTS=1`, which
//! makes their absence a failure; elsewhere the test reports "NOT RUN".
//! With `SLUICE_CONSOLE_SCREENSHOTS=DIR` it saves a screenshot of each page
//! there (how docs/console/*.png are made).

use crate::console::{ADMIN_KEY, Traffic, Who, get, with_traffic};
use crate::gateway::Harness;
use crate::support::{free_port, offline, sluice, text};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver, stopped when dropped.
struct Driver {
    child: std::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        let port = free_port();
        let child = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not listen within 10 s");
    }

    /// A headless Chromium session.
    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1200,900"],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

/// Saves a screenshot of the current page as `NAME.png` when asked to.
async fn screenshot(browser: &Client, name: &str) {
    let Some(dir) = std::env::var_os("SLUICE_CONSOLE_SCREENSHOTS") else {
        return;
    };
    let png = browser.screenshot().await.unwrap();
    std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).unwrap();
}

async fn css(browser: &Client, selector: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
}

async fn attr(browser: &Client, selector: &str, name: &str) -> String {
    css(browser, selector)
        .await
        .attr(name)
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn sign_in(browser: &Client, base: &str, key: &str) {
    browser
        .goto(&format!("{base}/console/login"))
        .await
        .unwrap();
    css(browser, "#admin_key")
        .await
        .send_keys(key)
        .await
        .unwrap();
    css(browser, "form.login button")
        .await
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_in_chromium_shows_the_traffic_and_manages_keys() {
    let present = !offline() && Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !crate::sdk::available(
        present,
        "Chromium and chromedriver (apt-get install chromium chromium-driver)",
    ) {
        return;
    }
    let t = with_traffic().await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    walk(&browser, &t).await;
    browser.close().await.unwrap();
    drop(driver);
}

async fn walk(browser: &Client, t: &Traffic) {
    let h = &t.harness;
    let base = h.base.as_str();

    // A wrong admin key is refused.
    browser.goto(&format!("{base}/console")).await.unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/login")
    );
    screenshot(browser, "sign-in").await;
    sign_in(browser, base, "not-the-admin-key-0123").await;
    let problem = css(browser, "#login-error").await.text().await.unwrap();
    assert!(problem.contains("not the admin key"), "{problem}");

    // Signed in: the overview's charts show the test's traffic.
    sign_in(browser, base, ADMIN_KEY).await;
    css(browser, "#tile-requests").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/console");
    assert_eq!(
        attr(browser, "svg[data-chart=requests]", "data-total").await,
        t.requests.to_string()
    );
    assert_eq!(
        attr(browser, "svg[data-chart=errors]", "data-total").await,
        "1"
    );
    assert_eq!(
        attr(browser, "svg[data-chart=top-teams]", "data-points").await,
        "2"
    );
    let tile = css(browser, "#tile-requests .value")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(tile, t.requests.to_string());
    screenshot(browser, "overview").await;

    usage_csv_matches_the_cli(browser, h).await;
    audit_filters_to_the_blocked_request(browser, t).await;
    a_key_is_created_used_and_revoked(browser, h).await;

    // Budgets: team a's is near its limit.
    browser
        .goto(&format!("{base}/console/budgets"))
        .await
        .unwrap();
    let fraction: f64 = attr(
        browser,
        "tr[data-limit=team-a-daily] svg.meter",
        "data-fraction",
    )
    .await
    .parse()
    .unwrap();
    assert!(fraction > 0.5, "{fraction}");
    screenshot(browser, "budgets").await;

    // Requests: a new request appears without a reload.
    browser
        .goto(&format!("{base}/console/requests"))
        .await
        .unwrap();
    css(browser, "#requests-body tr.request").await;
    let response = h
        .openai_as(
            crate::console::TEAM_B_KEY,
            json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "live?"}]}),
        )
        .await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    css(browser, &format!("tr.request[data-request={id}]")).await;
    screenshot(browser, "requests").await;

    browser
        .goto(&format!("{base}/console/guardrails"))
        .await
        .unwrap();
    let rules = css(browser, "#rules-table").await.text().await.unwrap();
    assert!(
        rules.contains("pii.email") && rules.contains("org-rules.codename"),
        "{rules}"
    );
    screenshot(browser, "guardrails").await;
}

/// The usage page's CSV export holds the numbers `sluice usage` prints.
async fn usage_csv_matches_the_cli(browser: &Client, h: &Harness) {
    browser
        .goto(&format!("{}/console/usage", h.base))
        .await
        .unwrap();
    let table = css(browser, "#usage-table").await.text().await.unwrap();
    assert!(table.contains("team"), "{table}");
    screenshot(browser, "usage").await;
    let href = attr(browser, "#csv-export", "href").await;
    let cookie = browser.get_named_cookie("sluice_console").await.unwrap();
    let session = format!("sluice_console={}", cookie.value());
    let csv = get(&h.base, &href, Who::Session(&session)).await;
    let csv = csv.text().await.unwrap();
    let query: Vec<(String, String)> = url_pairs(&href);
    let since = &query.iter().find(|(k, _)| k == "since").unwrap().1;
    let output = sluice()
        .args(["usage", "--db"])
        .arg(&h.state_db)
        .args([
            "--since", since, "--by", "team", "--per", "day", "--format", "csv",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(csv, stdout);
    assert!(csv.lines().count() >= 3, "{csv}");
}

fn url_pairs(href: &str) -> Vec<(String, String)> {
    let query = href.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The audit page filtered to blocks finds the blocked request, and its link
/// shows that request's events together.
async fn audit_filters_to_the_blocked_request(browser: &Client, t: &Traffic) {
    let base = &t.harness.base;
    browser
        .goto(&format!("{base}/console/audit"))
        .await
        .unwrap();
    assert_eq!(attr(browser, "#chain-status", "data-ok").await, "true");
    css(browser, "#audit-filters input[name=action]")
        .await
        .send_keys("block")
        .await
        .unwrap();
    css(browser, "#audit-filters button")
        .await
        .click()
        .await
        .unwrap();
    css(
        browser,
        &format!("#audit-table tr[data-request={}]", t.blocked),
    )
    .await;
    // Read in one script: the table refreshes itself, and a row element
    // found in one WebDriver call may be replaced before the next reads it.
    let actions = browser
        .execute(
            "return Array.from(document.querySelectorAll('#audit-table tbody tr[data-action]'))\
             .map(row => row.getAttribute('data-action'));",
            vec![],
        )
        .await
        .unwrap();
    let actions = actions.as_array().expect("an array of actions");
    assert!(!actions.is_empty());
    for action in actions {
        assert_eq!(action.as_str(), Some("block"), "{actions:?}");
    }
    screenshot(browser, "audit").await;
    css(
        browser,
        &format!("#audit-table tr[data-request={}] a", t.blocked),
    )
    .await
    .click()
    .await
    .unwrap();
    let request = attr(browser, "#audit-filters input[name=request]", "value").await;
    assert_eq!(request, t.blocked);
}

/// A key made in the console works; revoked, it gets a 401.
async fn a_key_is_created_used_and_revoked(browser: &Client, h: &Harness) {
    browser
        .goto(&format!("{}/console/keys", h.base))
        .await
        .unwrap();
    css(browser, "#create-key input[name=id]")
        .await
        .send_keys("browser-key")
        .await
        .unwrap();
    css(browser, "#create-key input[name=team]")
        .await
        .send_keys("web")
        .await
        .unwrap();
    css(browser, "#create-key button")
        .await
        .click()
        .await
        .unwrap();
    let secret = css(browser, "#secret-value").await.text().await.unwrap();
    let ask = || {
        h.openai_as(
            &secret,
            json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "from the new key"}]}),
        )
    };
    assert_eq!(ask().await.status(), 200);
    browser
        .goto(&format!("{}/console/keys", h.base))
        .await
        .unwrap();
    screenshot(browser, "keys").await;
    let page = browser.source().await.unwrap();
    assert!(!page.contains(&secret), "the secret is shown only once");
    css(browser, "tr[data-key=browser-key] button.danger")
        .await
        .click()
        .await
        .unwrap();
    browser.accept_alert().await.unwrap();
    css(browser, "tr[data-key=browser-key][data-status=revoked]").await;
    h.gateway.keys.managed().unwrap().mark_stale();
    assert_eq!(ask().await.status(), 401);
}
