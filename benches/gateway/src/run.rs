//! The orchestrator: starts the mock, then for each scenario its gateway, and
//! measures it closed loop (most requests per second) and open loop (latency at
//! a fixed rate, next to a direct run at the same rate).

use crate::body::Bodies;
use crate::load::{self, Mode, Outcome, Workload};
use crate::mock::{Mock, MockOptions};
use crate::scenario::{self, Scenario, Target};
use crate::targets::{self, Gateway, Peers, Placement};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a gateway may take to answer its first request after it listens.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// What to run, and how hard.
#[derive(Debug, Clone)]
pub struct Options {
    /// A `sluice` binary (a release build for numbers that mean anything).
    pub sluice: PathBuf,
    /// The scenarios; their baselines are added.
    pub scenarios: Vec<&'static Scenario>,
    /// Closed-loop load, not measured, before each closed-loop run.
    pub warmup: Duration,
    /// Each closed-loop run.
    pub duration: Duration,
    /// Each open-loop run (the scenario's and its direct baseline's).
    pub open_duration: Duration,
    /// Closed- and open-loop runs of the peer gateways (they are slow).
    pub peer_duration: Duration,
    /// Connections of the closed loop; the open loop's pool.
    pub connections: usize,
    /// The open loop's rate: this, or half of what the scenario served closed
    /// loop when that is less.
    pub rate: f64,
    /// How the mock answers.
    pub mock: MockOptions,
    /// Cores.
    pub placement: Placement,
    /// Why the run is not pinned, when it is not and pinning was asked for.
    pub placement_note: Option<String>,
    /// Where the peers are installed.
    pub peers: Peers,
    /// Keep the configs and logs here instead of a temporary folder.
    pub keep: Option<PathBuf>,
}

impl Options {
    /// Every scenario, the durations of a full run, unpinned.
    pub fn full(sluice: PathBuf) -> Options {
        Options {
            sluice,
            scenarios: scenario::ALL.iter().collect(),
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(5),
            open_duration: Duration::from_secs(5),
            peer_duration: Duration::from_secs(3),
            connections: 32,
            rate: 15_000.0,
            mock: MockOptions::default(),
            placement: Placement::NONE,
            placement_note: None,
            peers: Peers {
                dir: PathBuf::from("target/bench-peers"),
            },
            keep: None,
        }
    }

    /// The smoke mode: every sluice scenario (and its baseline) for a fraction
    /// of a second with a tiny load, no peers, unpinned. It shows that the
    /// harness works, not how fast anything is.
    pub fn smoke(sluice: PathBuf) -> Options {
        Options {
            scenarios: scenario::ALL
                .iter()
                .filter(|s| !s.target.is_peer())
                .collect(),
            warmup: Duration::from_millis(50),
            duration: Duration::from_millis(300),
            open_duration: Duration::from_millis(300),
            peer_duration: Duration::from_millis(300),
            connections: 2,
            rate: 100.0,
            mock: MockOptions {
                chunks: 6,
                chunk_delay: Duration::from_millis(1),
            },
            ..Options::full(sluice)
        }
    }
}

/// One scenario's measurements.
pub struct Row {
    /// The scenario.
    pub scenario: &'static Scenario,
    /// Why it did not run, if it did not (a peer not installed, a gateway that
    /// did not start).
    pub skipped: Option<String>,
    /// The closed-loop run.
    pub closed: Option<Outcome>,
    /// The open-loop run.
    pub open: Option<Outcome>,
    /// The direct baseline at the same rate, right before the open-loop run.
    pub baseline_open: Option<Outcome>,
    /// The gateway's peak resident memory after both runs, in KiB.
    pub peak_memory_kib: Option<u64>,
    /// The gateway's threads at the end.
    pub threads: Option<u64>,
    /// The guardrails it served with (sluice).
    pub guardrails: Vec<String>,
    /// Requests the mock received during the measured runs through the gateway.
    pub upstream_requests: u64,
    /// The gateway's version, when known.
    pub version: Option<String>,
}

impl Row {
    fn new(scenario: &'static Scenario) -> Row {
        Row {
            scenario,
            skipped: None,
            closed: None,
            open: None,
            baseline_open: None,
            peak_memory_kib: None,
            threads: None,
            guardrails: Vec::new(),
            upstream_requests: 0,
            version: None,
        }
    }

    /// What is wrong with the row's runs: failures, runs without answers, a
    /// gateway that answered without asking the upstream, guardrails that did
    /// not run. Empty for a row that was skipped.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.skipped.is_some() {
            return problems;
        }
        let name = self.scenario.name;
        let runs = [
            ("closed loop", &self.closed),
            ("open loop", &self.open),
            ("direct at the same rate", &self.baseline_open),
        ];
        let mut answered = 0;
        for (what, run) in runs {
            let Some(run) = run else {
                if what != "direct at the same rate" || self.scenario.target != Target::Direct {
                    problems.push(format!("{name}: no {what} run"));
                }
                continue;
            };
            if what != "direct at the same rate" {
                answered += run.ok;
            }
            if run.ok == 0 {
                problems.push(format!("{name}, {what}: no good answer"));
            }
            if run.failed > 0 {
                problems.push(format!(
                    "{name}, {what}: {} failed (statuses {:?}); first: {}",
                    run.failed,
                    run.statuses,
                    run.first_failure.as_deref().unwrap_or("?")
                ));
            }
            if self.scenario.stream && run.ok > 0 && run.ttft.len() != run.ok {
                problems.push(format!(
                    "{name}, {what}: {} streams without a first token",
                    run.ok - run.ttft.len()
                ));
            }
        }
        if self.scenario.target != Target::Direct && self.upstream_requests < answered {
            problems.push(format!(
                "{name}: {answered} answers but the upstream saw {} requests",
                self.upstream_requests
            ));
        }
        let expected: &[&str] = match self.scenario.target {
            Target::SluiceGuardrails => &["pii", "secrets", "content-filter", "org-rules"],
            _ => &[],
        };
        if self.scenario.target.is_sluice() && self.guardrails != expected {
            problems.push(format!(
                "{name}: sluice served with guardrails {:?}, not {expected:?}",
                self.guardrails
            ));
        }
        problems
    }
}

/// Everything one run measured.
pub struct Report {
    /// One row per scenario run (baselines included), in order.
    pub rows: Vec<Row>,
    /// The options it ran with.
    pub options: Options,
    /// Load average (1 min) when the run started and ended.
    pub load_before: Option<f64>,
    /// The same at the end.
    pub load_after: Option<f64>,
    /// Compilers or other benchmark-disturbing processes seen during the run.
    pub disturbances: Vec<String>,
    /// Wall time of the run.
    pub took: Duration,
}

impl Report {
    /// The row of `name`.
    pub fn row(&self, name: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.scenario.name == name)
    }

    /// Every row's problems.
    pub fn problems(&self) -> Vec<String> {
        self.rows.iter().flat_map(Row::problems).collect()
    }
}

/// Runs `options`' scenarios. Call [`Placement::pin_self`] first to pin.
pub fn run(options: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    let load_before = load_average();
    let mut disturbances = busy_processes();
    let temp = tempfile::tempdir()?;
    let dir = match &options.keep {
        Some(keep) => {
            std::fs::create_dir_all(keep)?;
            keep.clone()
        }
        None => temp.path().to_path_buf(),
    };
    let mock = Mock::start(options.mock)?;
    let mut rows = Vec::new();
    for scenario in scenario::with_baselines(&options.scenarios) {
        eprintln!("sluice-bench: {} ({})", scenario.name, scenario.about);
        let row = measure(options, scenario, &mock, &dir);
        if let Some(why) = &row.skipped {
            eprintln!("sluice-bench:   {why}");
        }
        rows.push(row);
        for busy in busy_processes() {
            if !disturbances.contains(&busy) {
                disturbances.push(busy);
            }
        }
    }
    Ok(Report {
        rows,
        options: options.clone(),
        load_before,
        load_after: load_average(),
        disturbances,
        took: started.elapsed(),
    })
}

fn workload(scenario: &Scenario, addr: SocketAddr, headers: Vec<(String, String)>) -> Workload {
    Workload {
        addr,
        path: scenario.api.path().to_string(),
        headers,
        bodies: Arc::new(Bodies::new(scenario.body, scenario.api, scenario.stream)),
        api: scenario.api,
        stream: scenario.stream,
    }
}

fn measure(
    options: &Options,
    scenario: &'static Scenario,
    mock: &Mock,
    dir: &std::path::Path,
) -> Row {
    let mut row = Row::new(scenario);
    if let Some(missing) = options.peers.missing(scenario.target) {
        row.skipped = Some(missing);
        return row;
    }
    row.version = options.peers.version(scenario.target);
    let gateway = match start(options, scenario.target, mock.addr, dir) {
        Ok(gateway) => gateway,
        Err(e) => {
            row.skipped = Some(format!("did not start: {e:#}"));
            return row;
        }
    };
    let (addr, headers) = match &gateway {
        Some(g) => (g.addr, g.headers.clone()),
        None => (mock.addr, Vec::new()),
    };
    if let Some(g) = &gateway {
        row.guardrails = g.guardrails.clone();
    }
    let work = Arc::new(workload(scenario, addr, headers));
    if let Err(why) = probe(&work) {
        row.skipped = Some(match &gateway {
            Some(Gateway { log: Some(log), .. }) => {
                format!("never answered: {why} (log: {})", log.display())
            }
            _ => format!("never answered: {why}"),
        });
        return row;
    }
    let (duration, open_duration) = if scenario.target.is_peer() {
        (options.peer_duration, options.peer_duration)
    } else {
        (options.duration, options.open_duration)
    };
    let connections = options.connections;
    let closed_mode = Mode::Closed { connections };
    let _ = load::run(work.clone(), closed_mode, options.warmup);
    let before = mock.requests();
    let closed = load::run(work.clone(), closed_mode, duration);
    row.upstream_requests += mock.requests() - before;
    let Ok(closed) = closed else {
        row.skipped = Some("the load generator could not start".into());
        return row;
    };
    let rate = options.rate.min(closed.rate() / 2.0);
    row.closed = Some(closed);
    if rate > 0.0 {
        let open_mode = Mode::Open { rate, connections };
        if let Some(baseline) = scenario.baseline() {
            let direct = Arc::new(workload(baseline, mock.addr, Vec::new()));
            row.baseline_open = load::run(direct, open_mode, open_duration).ok();
        }
        let before = mock.requests();
        row.open = load::run(work, open_mode, open_duration).ok();
        row.upstream_requests += mock.requests() - before;
    }
    if let Some(g) = &gateway {
        row.peak_memory_kib = g.peak_memory_kib();
        row.threads = g.threads();
    }
    row
}

fn start(
    options: &Options,
    target: Target,
    mock: SocketAddr,
    dir: &std::path::Path,
) -> anyhow::Result<Option<Gateway>> {
    let placement = options.placement;
    Ok(match target {
        Target::Direct => None,
        Target::SluicePassthrough | Target::SluiceGuardrails => Some(targets::start_sluice(
            &options.sluice,
            target,
            dir,
            mock,
            placement,
        )?),
        Target::Nginx => Some(targets::start_nginx(dir, mock, placement)?),
        Target::HyperProxy => Some(targets::start_hyper_proxy(mock, placement)?),
        Target::Portkey => Some(targets::start_portkey(
            &options.peers,
            dir,
            mock,
            placement,
        )?),
        Target::Litellm => Some(targets::start_litellm(
            &options.peers,
            dir,
            mock,
            placement,
        )?),
    })
}

/// Sends single requests until one is answered well (a gateway that listens may
/// still be loading), for at most [`PROBE_TIMEOUT`].
fn probe(work: &Arc<Workload>) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let outcome = load::run(
            work.clone(),
            Mode::Closed { connections: 1 },
            Duration::from_millis(1),
        )
        .map_err(|e| e.to_string())?;
        if outcome.ok > 0 {
            return Ok(());
        }
        if started.elapsed() > PROBE_TIMEOUT {
            return Err(outcome
                .first_failure
                .unwrap_or_else(|| "no answer".to_string()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Processes that would disturb the measurement if they ran with it (builds).
fn busy_processes() -> Vec<String> {
    const BUSY: &[&str] = &["rustc", "cargo", "cc1", "cc1plus", "ld", "clippy-driver"];
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        if BUSY.contains(&comm) && !found.iter().any(|f| f == comm) {
            found.push(comm.to_string());
        }
    }
    found
}
