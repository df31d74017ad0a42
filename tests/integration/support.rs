//! Shared helpers: test guests, sandboxes, and the `sluice` binary.

use sluice::sandbox::{Context, Limits, Phase, Plugin, PluginSource, Sandbox, Segment};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The test guest packages, compiled together once per test run.
const GUESTS: &[&str] = &["sluice-guest-hostile", "sluice-guest-old-contract"];

/// The component file of test guest `package`.
pub fn guest(package: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<sluice_wasm_build::Component>> = OnceLock::new();
    let built = BUILT.get_or_init(|| sluice_wasm_build::build_components(GUESTS));
    built
        .iter()
        .find(|c| c.package == package)
        .unwrap_or_else(|| panic!("{package} is not a test guest"))
        .path
        .clone()
}

/// A sandbox without an artifact cache (each test compiles what it loads).
pub fn sandbox() -> Sandbox {
    Sandbox::new(None).expect("sandbox")
}

/// The hostile guest, loaded with `limits` and no settings.
pub fn hostile(sandbox: &Sandbox, limits: Limits) -> Plugin {
    let source = PluginSource::File(guest("sluice-guest-hostile"));
    sandbox
        .load(&source, "{}", limits)
        .expect("load hostile guest")
}

/// A request-phase context.
pub fn context() -> Context {
    Context {
        phase: Phase::Request,
        api: "openai".into(),
        model: "@test/model".into(),
        key_id: Some("key-1".into()),
        metadata: vec![("team".into(), "infra".into())],
    }
}

/// One user-message segment per text.
pub fn segments(texts: &[&str]) -> Vec<Segment> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| Segment::user(format!("messages[{i}].content"), *text))
        .collect()
}

/// The `sluice` binary, with a private artifact cache.
pub fn sluice() -> Command {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let cache = CACHE.get_or_init(|| tempfile::tempdir().expect("cache dir"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command.env("SLUICE_CACHE_DIR", cache.path());
    command.env_remove("SLUICE_LOG");
    command
}

/// Runs `command` with `stdin` and returns its output.
pub fn run_with_stdin(command: &mut Command, stdin: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sluice");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for sluice")
}

/// Stdout and stderr as text.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Whether `SLUICE_TEST_OFFLINE=1`: every optional client (the Python SDKs,
/// Claude Code, Pi) and service (PostgreSQL, Redis) counts as absent, so the
/// tests that need one report "not run" — as on a fresh machine with only the
/// Rust toolchain. It cannot be combined with `SLUICE_REQUIRE_CLIENTS` or
/// `SLUICE_REQUIRE_SERVICES`.
pub fn offline() -> bool {
    let offline = std::env::var("SLUICE_TEST_OFFLINE").is_ok_and(|v| v == "1");
    if offline {
        for require in ["SLUICE_REQUIRE_CLIENTS", "SLUICE_REQUIRE_SERVICES"] {
            assert!(
                std::env::var_os(require).is_none(),
                "SLUICE_TEST_OFFLINE=1 forces every optional client and service absent; \
                 it cannot be combined with {require}"
            );
        }
    }
    offline
}

/// The URL of an optional test server in environment variable `var`, or
/// `None` after saying the test is not run. With `SLUICE_REQUIRE_SERVICES`
/// set, as in CI, a missing server fails the test instead.
fn service_url(var: &str, what: &str) -> Option<String> {
    if offline() {
        eprintln!("NOT RUN: no {what} (SLUICE_TEST_OFFLINE=1)");
        return None;
    }
    let Ok(url) = std::env::var(var) else {
        assert!(
            std::env::var_os("SLUICE_REQUIRE_SERVICES").is_none(),
            "{var} is not set: run `eval \"$(.ci/services)\"`"
        );
        eprintln!("NOT RUN: no {what} (set {var}; see .ci/services)");
        return None;
    };
    Some(url)
}

/// A fresh schema in the test PostgreSQL server, dropped when this is dropped.
pub struct PostgresSchema {
    base: String,
    name: String,
    /// A connection URL whose tables land in the schema.
    pub url: String,
}

impl PostgresSchema {
    /// A new schema, or `None` (the test says it is not run) when no server is
    /// configured (`SLUICE_TEST_POSTGRES_URL`, printed by `.ci/services`) or
    /// [`offline`]. With `SLUICE_REQUIRE_SERVICES` set, as in CI, a missing
    /// server fails the test.
    pub fn create() -> Option<PostgresSchema> {
        let base = service_url("SLUICE_TEST_POSTGRES_URL", "PostgreSQL")?;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "sluice_it_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        off_runtime(|| {
            let mut client = postgres::Client::connect(&base, postgres::NoTls).expect("connect");
            client
                .batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
                ))
                .expect("create schema");
        });
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{name}");
        Some(PostgresSchema { base, name, url })
    }

    /// Runs `sql` in the schema; every row's first column as text.
    pub fn query_text(&self, sql: &str) -> Vec<String> {
        off_runtime(|| {
            let mut client =
                postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
            client
                .query(sql, &[])
                .expect("query")
                .iter()
                .map(|row| row.get::<_, String>(0))
                .collect()
        })
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        off_runtime(|| {
            if let Ok(mut client) = postgres::Client::connect(&self.base, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
            }
        });
    }
}

/// Runs `f` on a thread of its own: the blocking PostgreSQL client starts a
/// runtime, which cannot start on a thread that drives async tasks.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(f).join().expect("no panic"))
}

/// A `sluice serve` process, killed when dropped (so a failing test leaves no
/// gateway behind).
pub struct Served {
    /// The process; take it to wait for it.
    pub child: Option<std::process::Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Served {
    /// Sends `signal` (`-TERM`, `-KILL`) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let sent = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP client for talking to fakes and the gateway (the TLS crypto
/// provider installed first, as reqwest needs).
pub fn http_client() -> reqwest::Client {
    sluice::server::install_crypto_provider();
    reqwest::Client::new()
}

/// `sluice serve --config CONFIG` on a free loopback port, once it answers
/// `/health`.
pub async fn spawn_serve(
    config: &std::path::Path,
    stderr: std::process::Stdio,
    env: &[(&str, &str)],
) -> Served {
    sluice::server::install_crypto_provider();
    let port = free_port();
    let child = sluice()
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .envs(env.iter().copied())
        .spawn()
        .unwrap();
    Served::started(child, port).await
}

impl Served {
    /// The gateway `child` serving on `port`, once it answers `/health`
    /// (a test fails when it does not within 30 s).
    pub async fn started(child: std::process::Child, port: u16) -> Served {
        let served = Served {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        while client
            .get(format!("{}/health", served.base))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "sluice did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        served
    }
}

/// A Redis database of its own (one of the server's 16), emptied first.
pub struct RedisDb {
    /// `redis://127.0.0.1:PORT/N`.
    pub url: String,
}

impl RedisDb {
    /// A fresh database, or `None` (the test says it is not run) when no
    /// server is configured (`SLUICE_TEST_REDIS_URL`, printed by
    /// `.ci/services`) or [`offline`]. With `SLUICE_REQUIRE_SERVICES` set, a
    /// missing server fails the test.
    pub fn create() -> Option<RedisDb> {
        let base = service_url("SLUICE_TEST_REDIS_URL", "Redis")?;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let db = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        assert!(db < 16, "more Redis tests than databases");
        let url = format!("{}/{db}", base.trim_end_matches('/'));
        let client = redis::Client::open(url.as_str()).expect("a Redis URL");
        let mut connection = client.get_connection().expect("connect to Redis");
        redis::cmd("FLUSHDB")
            .exec(&mut connection)
            .expect("flush the test database");
        Some(RedisDb { url })
    }
}

/// Waits, when the current calendar minute has less than fifteen seconds
/// left, until the next one has begun. Rate limits count in calendar windows
/// (`per = "minute"` resets on the minute), so a test that fills one and then
/// expects a refusal must not have its window end halfway through.
pub async fn clear_of_a_minute_edge() {
    const MINUTE_MS: u128 = 60_000;
    const MARGIN_MS: u128 = 15_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_millis();
    let left = MINUTE_MS - now % MINUTE_MS;
    if left < MARGIN_MS {
        tokio::time::sleep(std::time::Duration::from_millis(left as u64 + 50)).await;
    }
}

/// A config with the mock as provider `oa` and the pii guardrail, in `dir`.
pub fn pii_config(
    mock: &crate::mock_upstream::MockUpstream,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let config = dir.join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "{}[[guardrails]]\nplugin = \"pii\"\n",
            mock.openai_provider_toml()
        ),
    )
    .unwrap();
    config
}
