//! The gateways under test, as child processes: sluice with a config written for
//! the scenario, nginx as a reverse proxy, the Portkey gateway and the LiteLLM
//! proxy; pinning with `taskset`; peak memory from `/proc`.

use crate::body::{ANTHROPIC_MODEL, OPENAI_MODEL};
use crate::proxy::Proxy;
use crate::scenario::Target;
use anyhow::{Context as _, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The gateway key the load generator sends to sluice.
pub const GATEWAY_KEY: &str = "sk-bench-gateway-key-0123456789";
/// The key the gateways send upstream (the mock ignores it).
const UPSTREAM_KEY: &str = "sk-bench-upstream-key";
/// The LiteLLM proxy's master key, which it requires (and the load sends).
const LITELLM_MASTER_KEY: &str = "sk-bench-litellm-master-key-0123456789";
/// How long a gateway may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Where processes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The core of the gateway under test, when pinned.
    pub gateway_cpu: Option<usize>,
    /// The core of the load generator and the mock (this process), when pinned.
    pub load_cpu: Option<usize>,
}

impl Placement {
    /// Unpinned.
    pub const NONE: Placement = Placement {
        gateway_cpu: None,
        load_cpu: None,
    };

    /// Cores 0 (load and mock) and 1 (gateway), if this machine has two and
    /// `taskset` works; else `NONE` and why.
    pub fn two_cores() -> (Placement, Option<String>) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 {
            return (Placement::NONE, Some(format!("only {cores} core")));
        }
        let works = Command::new("taskset")
            .args(["-c", "1", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !works {
            return (Placement::NONE, Some("taskset is missing or fails".into()));
        }
        (
            Placement {
                gateway_cpu: Some(1),
                load_cpu: Some(0),
            },
            None,
        )
    }

    /// Pins this process (every thread it has and will have) to the load core.
    /// Call it before any thread is started.
    pub fn pin_self(&self) -> anyhow::Result<()> {
        let Some(cpu) = self.load_cpu else {
            return Ok(());
        };
        let pid = std::process::id().to_string();
        taskset(
            &["-a", "-p", "-c", &cpu.to_string(), &pid],
            "the harness",
            cpu,
        )
    }

    /// The gateway's core, if the gateway is pinned.
    pub fn gateway_cpu(&self) -> Option<usize> {
        self.gateway_cpu
    }

    /// `program` as a command, pinned to the gateway's core.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match self.gateway_cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.args(["-c", &cpu.to_string()]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }
}

/// Where the peers are installed (`benches/gateway/install-peers.sh`).
#[derive(Debug, Clone)]
pub struct Peers {
    /// `target/bench-peers`.
    pub dir: PathBuf,
}

impl Peers {
    fn portkey_script(&self) -> PathBuf {
        self.dir
            .join("portkey/node_modules/@portkey-ai/gateway/build/start-server.js")
    }

    fn litellm_binary(&self) -> PathBuf {
        self.dir.join("litellm/bin/litellm")
    }

    /// Why `target` cannot run here, if it cannot.
    pub fn missing(&self, target: Target) -> Option<String> {
        if target == Target::Nginx {
            return nginx_binary().is_none().then(|| {
                "not installed (nginx: `apt-get install nginx`, or benches/gateway/install-peers.sh)"
                    .to_string()
            });
        }
        let (what, path) = match target {
            Target::Portkey => ("Portkey", self.portkey_script()),
            Target::Litellm => ("LiteLLM", self.litellm_binary()),
            _ => return None,
        };
        (!path.exists()).then(|| {
            format!(
                "not installed ({what}: run benches/gateway/install-peers.sh; looked for {})",
                path.display()
            )
        })
    }

    /// The installed version of `target`, if known.
    pub fn version(&self, target: Target) -> Option<String> {
        match target {
            Target::Nginx => {
                // `nginx -v` prints `nginx version: nginx/1.22.1` on stderr.
                let out = Command::new(nginx_binary()?).arg("-v").output().ok()?;
                let text = String::from_utf8_lossy(&out.stderr);
                Some(text.trim().rsplit('/').next()?.to_string())
            }
            Target::Portkey => {
                let manifest = self
                    .dir
                    .join("portkey/node_modules/@portkey-ai/gateway/package.json");
                let text = std::fs::read_to_string(manifest).ok()?;
                let value: serde_json::Value = serde_json::from_str(&text).ok()?;
                Some(value["version"].as_str()?.to_string())
            }
            Target::Litellm => {
                let lib = self.dir.join("litellm/lib");
                let site = std::fs::read_dir(lib).ok()?.flatten().next()?.path();
                let packages = std::fs::read_dir(site.join("site-packages")).ok()?;
                packages.flatten().find_map(|entry| {
                    let name = entry.file_name().into_string().ok()?;
                    let version = name.strip_prefix("litellm-")?.strip_suffix(".dist-info")?;
                    Some(version.to_string())
                })
            }
            _ => None,
        }
    }
}

/// The calling thread (only it) pinned to `cpu`, with `taskset` on its
/// thread id.
pub fn pin_this_thread(cpu: usize) -> anyhow::Result<()> {
    // `/proc/thread-self` links to `<pid>/task/<tid>`.
    let link = std::fs::read_link("/proc/thread-self").context("read /proc/thread-self")?;
    let tid = link
        .file_name()
        .and_then(|name| name.to_str())
        .context("no thread id in /proc/thread-self")?
        .to_string();
    taskset(
        &["-p", "-c", &cpu.to_string(), &tid],
        &format!("thread {tid}"),
        cpu,
    )
}

/// Runs `taskset` with `args`, which pin `what` to `cpu`.
fn taskset(args: &[&str], what: &str, cpu: usize) -> anyhow::Result<()> {
    let status = Command::new("taskset")
        .args(args)
        .stdout(Stdio::null())
        .status()
        .context("run taskset")?;
    if !status.success() {
        bail!("taskset could not pin {what} to core {cpu}");
    }
    Ok(())
}

/// A gateway, stopped when dropped: a process, or the bare proxy on a thread
/// of the harness.
pub struct Gateway {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Headers every request needs (keys, routing).
    pub headers: Vec<(String, String)>,
    /// The guardrails it serves with (sluice's start-up line names them).
    pub guardrails: Vec<String>,
    /// Its log file (none for the bare proxy, which logs nothing).
    pub log: Option<PathBuf>,
    running: Running,
}

/// How a gateway runs.
enum Running {
    Process(Child),
    /// Held to be dropped: dropping the proxy stops it.
    Thread(#[expect(dead_code, reason = "held only to stop the proxy when dropped")] Proxy),
}

impl Gateway {
    /// The process's peak resident memory (VmHWM), with its descendants', in
    /// KiB (a sum: pages they share count once per process).
    /// `None` for a gateway on a thread of the harness.
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let mut total = 0;
        let mut any = false;
        for pid in descendants(self.pid()?) {
            if let Some(kib) = vm_hwm_kib(pid) {
                total += kib;
                any = true;
            }
        }
        any.then_some(total)
    }

    /// How many threads the process has now.
    pub fn threads(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status_field(&status, "Threads:")
    }

    /// The process id (`None` for a gateway on a thread of the harness).
    pub fn pid(&self) -> Option<u32> {
        match &self.running {
            Running::Process(child) => Some(child.id()),
            Running::Thread(_) => None,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let Running::Process(child) = self else {
            return; // the proxy stops itself
        };
        let pids = descendants(child.id());
        // SIGTERM to the gateway and its children (uvicorn workers), then wait.
        for pid in pids.iter().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in pids.iter().skip(1) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `pid` and every process below it, parents first.
fn descendants(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let parent = all[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) {
            for task in tasks.flatten() {
                let children = std::fs::read_to_string(task.path().join("children"));
                for child in children.unwrap_or_default().split_whitespace() {
                    if let Ok(child) = child.parse() {
                        all.push(child);
                    }
                }
            }
        }
        i += 1;
    }
    all
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&status, "VmHWM:")
}

fn status_field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// A free port on 127.0.0.1.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A log file in `dir` for `name`, and a handle to write it.
fn log_file(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, std::fs::File)> {
    let path = dir.join(format!("{name}.log"));
    let file =
        std::fs::File::create(&path).with_context(|| format!("create {}", path.display()))?;
    Ok((path, file))
}

/// Waits until `child` listens on `addr`; stops it and says why (with the
/// end of its log) when it exits first or takes too long.
fn listening(mut child: Child, addr: SocketAddr, log: &Path, what: &str) -> anyhow::Result<Child> {
    match wait_listening(&mut child, addr, log) {
        Ok(()) => Ok(child),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e.context(format!("{what} did not start")))
        }
    }
}

/// Waits until `addr` accepts connections, or the process ends.
fn wait_listening(child: &mut Child, addr: SocketAddr, log: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("exited ({status}) before listening; {}", tail(log));
        }
        if started.elapsed() > START_TIMEOUT {
            bail!("not listening after {START_TIMEOUT:?}; {}", tail(log));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last lines of a log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(8);
    format!("{} says: {}", log.display(), lines[start..].join(" | "))
}

/// The guardrails of the guardrail scenarios: the four built-ins with their
/// defaults, org-rules with the sample rules of host/benches (a keyword list
/// and two regexes).
const GUARDRAILS: [(&str, &str); 4] = [
    ("pii", "\n[[guardrails]]\nplugin = \"pii\"\n"),
    ("secrets", "\n[[guardrails]]\nplugin = \"secrets\"\n"),
    (
        "content-filter",
        "\n[[guardrails]]\nplugin = \"content-filter\"\n",
    ),
    (
        "org-rules",
        r#"
[[guardrails]]
plugin = "org-rules"
settings.rules = [
  { id = "codename", keywords = ["Project Falcon", "Osprey"], action = "block" },
  { id = "gpl", regex = 'GNU (Affero |Lesser )?General Public License' },
  { id = "tickets", regex = '\bINC-\d{4,}\b', action = "redact" },
]
"#,
    ),
];

/// Whether the guardrail scenarios run guardrail `id`: all four, unless
/// `$SLUICE_BENCH_GUARDRAILS` names some (comma-separated), to measure one
/// plugin in the gateway on its own.
fn chosen_guardrail(id: &str) -> bool {
    guardrail_in(id, std::env::var("SLUICE_BENCH_GUARDRAILS").ok().as_deref())
}

/// Whether `choice` (comma-separated ids; `None`: all) includes guardrail
/// `id`. Panics naming an id that is none of [`GUARDRAILS`].
fn guardrail_in(id: &str, choice: Option<&str>) -> bool {
    let Some(ids) = choice else {
        return true;
    };
    let chosen: Vec<&str> = ids.split(',').map(str::trim).collect();
    if let Some(unknown) = chosen
        .iter()
        .find(|c| !GUARDRAILS.iter().any(|(known, _)| known == *c))
    {
        panic!(
            "SLUICE_BENCH_GUARDRAILS: unknown guardrail `{unknown}` (known: pii, secrets, content-filter, org-rules)"
        );
    }
    chosen.contains(&id)
}

/// A sluice config for `target` with the mock at `mock`, listening on `port`.
/// The defaults stay as a user gets them: the audit trail and the state in
/// SQLite files next to the config, the guardrail segment cache on (the bodies
/// are unique, so it cannot help), the response cache off. The TOML in
/// `$SLUICE_BENCH_EXTRA_CONFIG` (a file), if set, is appended to every sluice
/// config, for A/B runs of a setting (say `[guardrail_cache]\nenabled = false`);
/// `$SLUICE_BENCH_GUARDRAILS` picks guardrails ([`chosen_guardrail`]).
pub fn sluice_config(target: Target, mock: SocketAddr, port: u16) -> String {
    let mut config = format!(
        r#"[server]
listen = "127.0.0.1:{port}"

[[providers]]
slug = "mock"
kind = "openai-compatible"
base_url = "http://{mock}/v1"
api_key = "{UPSTREAM_KEY}"

[[providers]]
slug = "mock-anthropic"
kind = "anthropic"
base_url = "http://{mock}"
api_key = "{UPSTREAM_KEY}"

[models]
"{OPENAI_MODEL}" = "@mock/{OPENAI_MODEL}"
"{ANTHROPIC_MODEL}" = "@mock-anthropic/{ANTHROPIC_MODEL}"

[[keys]]
id = "bench"
key = "{GATEWAY_KEY}"
metadata = {{ team = "platform" }}
"#
    );
    if target == Target::SluiceGuardrails {
        for (_, block) in GUARDRAILS.iter().filter(|(id, _)| chosen_guardrail(id)) {
            config.push_str(block);
        }
    }
    if let Some(path) = std::env::var_os("SLUICE_BENCH_EXTRA_CONFIG") {
        let extra = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("SLUICE_BENCH_EXTRA_CONFIG {}: {e}", path.display()));
        config.push('\n');
        config.push_str(&extra);
    }
    config
}

/// Starts `sluice serve` for `target` (passthrough or guardrails), with one
/// tokio worker thread, on the gateway's core. `dir` holds the config, the
/// SQLite files, the compiled-plugin cache and the log; the plugins are compiled
/// into the cache (`sluice check-config`) before the server starts, as a
/// restart would find them.
pub fn start_sluice(
    binary: &Path,
    target: Target,
    dir: &Path,
    mock: SocketAddr,
    placement: Placement,
) -> anyhow::Result<Gateway> {
    let name = match target {
        Target::SluiceGuardrails => "sluice-guardrails",
        _ => "sluice-passthrough",
    };
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder)?;
    let port = free_port()?;
    let config = folder.join("sluice.toml");
    std::fs::write(&config, sluice_config(target, mock, port))?;
    let cache = dir.join("plugin-cache");
    let checked = Command::new(binary)
        .arg("check-config")
        .arg(&config)
        .env("SLUICE_CACHE_DIR", &cache)
        .output()
        .with_context(|| format!("run {}", binary.display()))?;
    if !checked.status.success() {
        bail!(
            "sluice check-config refused the benchmark's config: {}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    let (log, file) = log_file(dir, name)?;
    let child = placement
        .command(binary)
        .args(["serve", "--config"])
        .arg(&config)
        .env("SLUICE_CACHE_DIR", &cache)
        .env("TOKIO_WORKER_THREADS", "1")
        .env_remove("SLUICE_LOG")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .with_context(|| format!("start {}", binary.display()))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = listening(child, addr, &log, "sluice")?;
    let guardrails = serving_guardrails(&serving_line(&log));
    Ok(Gateway {
        addr,
        headers: vec![("authorization".into(), format!("Bearer {GATEWAY_KEY}"))],
        guardrails,
        log: Some(log),
        running: Running::Process(child),
    })
}

/// sluice's log once it has its start-up line: the port accepts connections
/// as soon as it is bound, a moment before that line is written (a busy
/// machine made the moment long enough to read the log without it). Waits
/// up to five seconds; the log as it is then, if the line never comes.
fn serving_line(log: &Path) -> String {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let serving = text.lines().any(|l| l.starts_with("sluice: serving on"));
        if serving || started.elapsed() > Duration::from_secs(5) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The guardrails named in sluice's start-up line
/// `sluice: serving on http://ADDR (guardrails: a, b)`.
fn serving_guardrails(log: &str) -> Vec<String> {
    let Some(line) = log.lines().find(|l| l.starts_with("sluice: serving on")) else {
        return Vec::new();
    };
    let Some((_, list)) = line.split_once("(guardrails:") else {
        return Vec::new();
    };
    list.trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The nginx binary, if installed (Debian puts it in /usr/sbin).
fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// nginx as the reverse proxy a gateway is measured against: one worker,
/// pinned like the gateway, kept-alive connections to the mock, HTTP/1.1
/// upstream, no access log, and bodies kept in memory (no temp files).
pub fn nginx_config(dir: &Path, mock: SocketAddr, port: u16) -> String {
    let dir = dir.display();
    format!(
        r#"daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/nginx-body;
    proxy_temp_path {dir}/nginx-proxy;
    fastcgi_temp_path {dir}/nginx-fastcgi;
    uwsgi_temp_path {dir}/nginx-uwsgi;
    scgi_temp_path {dir}/nginx-scgi;
    client_max_body_size 64m;
    client_body_buffer_size 1m;
    keepalive_requests 1000000;
    upstream mock {{
        server {mock};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"#
    )
}

/// Starts nginx as a reverse proxy to the mock on the gateway's core. As root,
/// its worker runs as root too (`user root`), so it can use `dir`.
pub fn start_nginx(dir: &Path, mock: SocketAddr, placement: Placement) -> anyhow::Result<Gateway> {
    let binary = nginx_binary().context("nginx is not installed")?;
    let folder = dir.join("nginx");
    std::fs::create_dir_all(&folder)?;
    let port = free_port()?;
    let mut config = nginx_config(&folder, mock, port);
    if is_root() {
        config.insert_str(
            0,
            "user root;
",
        );
    }
    let path = folder.join("nginx.conf");
    std::fs::write(&path, config)?;
    let (log, file) = log_file(dir, "nginx")?;
    let child = placement
        .command(binary)
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(&folder)
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .context("start nginx")?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = listening(child, addr, &log, "nginx")?;
    Ok(Gateway {
        addr,
        headers: Vec::new(),
        guardrails: Vec::new(),
        log: Some(log),
        running: Running::Process(child),
    })
}

/// Starts the bare hyper proxy ([`crate::proxy`]) to the mock, on a thread
/// pinned to the gateway's core.
pub fn start_hyper_proxy(mock: SocketAddr, placement: Placement) -> anyhow::Result<Gateway> {
    let proxy = Proxy::start(mock, placement.gateway_cpu()).context("start the hyper proxy")?;
    Ok(Gateway {
        addr: proxy.addr,
        headers: Vec::new(),
        guardrails: Vec::new(),
        log: None,
        running: Running::Thread(proxy),
    })
}

/// Whether this process runs as root (its `/proc` entry is root's).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Starts the Portkey gateway (node, headless) on the gateway's core. Requests
/// reach the mock through its `x-portkey-provider: openai` and
/// `x-portkey-custom-host` headers.
pub fn start_portkey(
    peers: &Peers,
    dir: &Path,
    mock: SocketAddr,
    placement: Placement,
) -> anyhow::Result<Gateway> {
    let port = free_port()?;
    let (log, file) = log_file(dir, "portkey")?;
    let child = placement
        .command("node")
        .arg(peers.portkey_script())
        .arg(format!("--port={port}"))
        .arg("--headless")
        .env("NODE_ENV", "production")
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .context("start node")?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = listening(child, addr, &log, "Portkey")?;
    Ok(Gateway {
        addr,
        headers: vec![
            ("x-portkey-provider".into(), "openai".into()),
            ("x-portkey-custom-host".into(), format!("http://{mock}/v1")),
            ("authorization".into(), format!("Bearer {UPSTREAM_KEY}")),
        ],
        guardrails: Vec::new(),
        log: Some(log),
        running: Running::Process(child),
    })
}

/// Starts the LiteLLM proxy (one uvicorn worker) on the gateway's core, with a
/// `model_list` that sends the benchmark's model to the mock.
pub fn start_litellm(
    peers: &Peers,
    dir: &Path,
    mock: SocketAddr,
    placement: Placement,
) -> anyhow::Result<Gateway> {
    let port = free_port()?;
    let config = dir.join("litellm.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: {OPENAI_MODEL}\n    litellm_params:\n      model: openai/{OPENAI_MODEL}\n      api_base: http://{mock}/v1\n      api_key: {UPSTREAM_KEY}\nlitellm_settings:\n  telemetry: false\n"
        ),
    )?;
    let (log, file) = log_file(dir, "litellm")?;
    let child = placement
        .command(peers.litellm_binary())
        .arg("--config")
        .arg(&config)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--num_workers", "1"])
        // No network but the registries: the cost map ships with the package.
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("LITELLM_LOG", "ERROR")
        .env("LITELLM_TELEMETRY", "False")
        .env("LITELLM_MASTER_KEY", LITELLM_MASTER_KEY)
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .context("start litellm")?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = listening(child, addr, &log, "LiteLLM")?;
    Ok(Gateway {
        addr,
        headers: vec![(
            "authorization".into(),
            format!("Bearer {LITELLM_MASTER_KEY}"),
        )],
        guardrails: Vec::new(),
        log: Some(log),
        running: Running::Process(child),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guardrail_runs_unless_some_are_chosen() {
        assert!(GUARDRAILS.iter().all(|(id, _)| guardrail_in(id, None)));
        let chosen: Vec<&str> = GUARDRAILS
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| guardrail_in(id, Some("content-filter, pii")))
            .collect();
        assert_eq!(chosen, ["pii", "content-filter"]);
    }

    #[test]
    #[should_panic(expected = "unknown guardrail `pi`")]
    fn a_misspelt_guardrail_is_refused() {
        guardrail_in("pii", Some("pi"));
    }

    #[test]
    fn reads_the_guardrails_sluice_serves_with() {
        let log = "sluice: serving on http://127.0.0.1:1 (guardrails: pii, secrets)\nsluice: audit";
        assert_eq!(serving_guardrails(log), ["pii", "secrets"]);
        assert!(
            serving_guardrails("sluice: serving on http://127.0.0.1:1 (guardrails: )").is_empty()
        );
    }

    #[test]
    fn reads_status_fields() {
        let status = "Name:\tsluice\nVmHWM:\t   12345 kB\nThreads:\t7\n";
        assert_eq!(status_field(status, "VmHWM:"), Some(12345));
        assert_eq!(status_field(status, "Threads:"), Some(7));
    }
}
