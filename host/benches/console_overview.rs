//! The console's overview against a state file of a million usage rows: the
//! time from `GET /console?range=…` to the whole HTML page, through the app
//! (session check, usage read and grouped, charts drawn), for each range.
//! `cargo bench -p sluice --bench console_overview` (`--rows N`, `--runs N`);
//! results are in docs/console.md.
//!
//! The rows are 30 days of hourly usage over 50 keys in 10 teams, 6 models and
//! 3 values of a metadata tag: about 1,390 rows an hour, the hours of the last
//! 30 days, written once into a temporary state file. The median of the runs
//! is shown. Criterion is not used: one run reads a large file, and the
//! question is whether a page takes "well under a second", not a nanosecond
//! comparison.

use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use rusqlite::params;
use sluice::config::Config;
use sluice::gateway::Gateway;
use std::path::Path;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const ADMIN_KEY: &str = "admin-key-bench-0123456789";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `rows` usage rows over the last 30 days into the state file at `path`.
fn fill(path: &Path, rows: usize) {
    // Open once through the gateway's own store so the schema is its own.
    drop(sluice::governance::state::LocalState::open(path, false).unwrap());
    let mut db = rusqlite::Connection::open(path).unwrap();
    let tx = db.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT OR IGNORE INTO sluice_usage (hour_ms, key_id, team, model, provider, tags, \
                 requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, \
                 cost_nanos, unpriced_requests) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, 0, ?10, 0)",
            )
            .unwrap();
        let now = sluice::clock::now_ms();
        let hour = 3_600_000i64;
        let hours = 30 * 24;
        let per_hour = rows.div_ceil(hours);
        let models = [
            "gpt-5",
            "gpt-5-mini",
            "claude-sonnet-4-5",
            "claude-haiku-4-5",
            "o4",
            "llama3.2",
        ];
        let mut written = 0;
        'hours: for h in 0..hours {
            let hour_ms = (now - now.rem_euclid(hour)) - h as i64 * hour;
            for i in 0..per_hour {
                if written == rows {
                    break 'hours;
                }
                let key = i % 50;
                let model = models[(i / 50) % models.len()];
                let project = (i / 300) % 5;
                insert
                    .execute(params![
                        hour_ms,
                        format!("key-{key:02}"),
                        format!("team-{}", key % 10),
                        format!(
                            "@{}/{model}",
                            if model.starts_with("claude") {
                                "anthropic"
                            } else {
                                "openai"
                            }
                        ),
                        if model.starts_with("claude") {
                            "anthropic"
                        } else {
                            "openai"
                        },
                        format!("{{\"project\":\"p{project}\"}}"),
                        3 + (i % 7) as i64,
                        1200 + (i % 500) as i64,
                        300 + (i % 200) as i64,
                        (i as i64 % 900) * 1000,
                    ])
                    .unwrap();
                written += 1;
            }
        }
    }
    tx.commit().unwrap();
}

#[tokio::main]
async fn main() {
    sluice::server::install_crypto_provider();
    let rows = arg("--rows", 1_000_000);
    let runs = arg("--runs", 7);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let started = Instant::now();
    fill(&state, rows);
    let count: i64 = rusqlite::Connection::open(&state)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM sluice_usage", [], |r| r.get(0))
        .unwrap();
    println!(
        "state file: {count} usage rows, {:.0} MB, written in {:.1} s",
        std::fs::metadata(&state).unwrap().len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let text = format!(
        "[admin]\nkey = \"{ADMIN_KEY}\"\n\n[state]\npath = {:?}\n\n[audit]\npath = {:?}\n\n\
         [[providers]]\nslug = \"echo\"\nkind = \"echo\"\n",
        state.display().to_string(),
        dir.path().join("audit.db").display().to_string()
    );
    let config = Config::parse(&text, dir.path(), &|_| None).unwrap();
    let gateway = Gateway::new(&config).await.unwrap();
    let app = sluice::server::app(gateway);
    let login = app
        .clone()
        .oneshot(
            Request::post("/console/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("admin_key={ADMIN_KEY}")))
                .unwrap(),
        )
        .await
        .unwrap();
    let cookie = login.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    println!("\n| page | rows read | median | min | max | page size |");
    println!("|---|---|---|---|---|---|");
    for (range, read) in [("1h", "≤ 1 hour"), ("24h", "1 day"), ("30d", "30 days")] {
        let mut times: Vec<Duration> = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let response = app
                .clone()
                .oneshot(
                    Request::get(format!("/console?range={range}"))
                        .header(header::COOKIE, &cookie)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            times.push(t.elapsed());
            size = body.len();
        }
        times.sort();
        println!(
            "| `/console?range={range}` | {read} | {:.0} ms | {:.0} ms | {:.0} ms | {} KB |",
            times[times.len() / 2].as_secs_f64() * 1000.0,
            times[0].as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0,
            size / 1024
        );
    }
}
