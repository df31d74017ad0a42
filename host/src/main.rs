//! The `sluice` command line. Each subcommand is a thin shell over the library.

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use sluice::config::Config;
use sluice::guardrails::Guardrails;
use sluice::sandbox::{Limits, Phase, PluginSource, Sandbox};
use sluice::telemetry::otel;
use sluice::{builtin, scaffold, scan};
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of the system allocator (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "An LLM API gateway with WebAssembly guardrails"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway. Without a config: the echo provider, every built-in
    /// guardrail, no keys, on 127.0.0.1:8080.
    Serve {
        /// The config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen on this address instead of the config's.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Run the configured guardrails over a file (or stdin) and print the findings.
    Scan {
        /// The config file; without one, every built-in plugin runs with its defaults.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Which phase to check the text as.
        #[arg(long, value_enum, default_value = "request")]
        phase: PhaseArg,
        /// Read JSON lines `{"id": ..., "text": ...}` and write one result line each.
        #[arg(long)]
        jsonl: bool,
        /// Print the text with redactions applied instead of the list of findings.
        #[arg(long, conflicts_with = "jsonl")]
        redact: bool,
        /// The file to scan; stdin when absent or `-`.
        file: Option<PathBuf>,
    },
    /// Validate a config file: parse it and load and configure every plugin.
    CheckConfig {
        /// The config file.
        file: PathBuf,
    },
    /// Work with plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Usage and cost totals by key, team, model, provider or metadata tag, per
    /// hour or day, from the gateway's state (its SQLite file or Redis).
    Usage(Box<UsageArgs>),
    /// Manage gateway keys: create, list, show, rotate, revoke, update. Keys are
    /// kept in the `[state]` file; running gateways pick changes up within a second.
    Keys {
        #[command(subcommand)]
        command: Box<sluice::keys::command::KeysCommand>,
    },
    /// Show the audit trail: every flagged, redacted and blocked request and every
    /// plugin failure, newest last. `sluice audit verify` checks its hash chain.
    #[command(args_conflicts_with_subcommands = true)]
    Audit {
        #[command(subcommand)]
        command: Option<AuditCommand>,
        #[command(flatten)]
        query: Box<AuditQuery>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain; report the first record that was changed or removed.
    Verify {
        #[command(flatten)]
        source: AuditSource,
    },
}

#[derive(clap::Args)]
struct AuditSource {
    /// The gateway's config file (the trail is its `[audit] path`).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The audit database itself, instead of a config: a SQLite file or a
    /// `postgres://` URL (prefer --config, which can read the password from the
    /// environment).
    #[arg(long, conflicts_with = "config")]
    db: Option<String>,
}

#[derive(clap::Args)]
struct AuditQuery {
    #[command(flatten)]
    source: AuditSource,
    /// From this UTC time (2026-11-22, 2026-11-22T14:00Z) or age (15m, 2h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Before this UTC time or age.
    #[arg(long)]
    until: Option<String>,
    /// Gateway key id.
    #[arg(long)]
    key: Option<String>,
    /// The key's team.
    #[arg(long)]
    team: Option<String>,
    /// A metadata tag, `name=value` (repeat for several; all must match).
    #[arg(long = "tag", value_name = "NAME=VALUE")]
    tags: Vec<String>,
    /// Guardrail id.
    #[arg(long)]
    plugin: Option<String>,
    /// Rule id, such as `secrets.github-pat`.
    #[arg(long)]
    rule: Option<String>,
    /// Finding kind, such as `email` or `secret`.
    #[arg(long)]
    kind: Option<String>,
    /// `flag`, `redact`, `block`, `fail-open`, `fail-closed` or `admin` (administrators' actions).
    #[arg(long)]
    action: Option<String>,
    /// One request's records.
    #[arg(long)]
    request: Option<String>,
    /// At most this many records.
    #[arg(long)]
    limit: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,
    /// Keep printing new records as they are written.
    #[arg(long, short)]
    follow: bool,
}

#[derive(clap::Args)]
struct UsageArgs {
    /// The gateway's config file (usage is kept where its `[state]` says).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The state file itself, instead of a config.
    #[arg(long, conflicts_with = "config")]
    db: Option<PathBuf>,
    /// From this UTC time (2026-11-22, 2026-11-22T14:00Z) or age (15m, 2h, 7d);
    /// default 7d.
    #[arg(long)]
    since: Option<String>,
    /// Before this UTC time or age.
    #[arg(long)]
    until: Option<String>,
    /// Group by these, comma-separated: key, team, model, provider, tag:NAME.
    #[arg(long, default_value = "key,model")]
    by: String,
    /// One row per `hour`, `day`, or `all` of the range.
    #[arg(long, default_value = "day")]
    per: String,
    /// Only this gateway key id.
    #[arg(long)]
    key: Option<String>,
    /// Only this team.
    #[arg(long)]
    team: Option<String>,
    /// Only this model (`@provider/model`).
    #[arg(long)]
    model: Option<String>,
    /// Only this provider.
    #[arg(long)]
    provider: Option<String>,
    /// Only this metadata tag, `name=value` (repeat for several).
    #[arg(long = "tag", value_name = "NAME=VALUE")]
    tags: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: UsageFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum UsageFormat {
    Table,
    Csv,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Jsonl,
    Csv,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create a new plugin crate.
    New {
        /// The plugin (and crate) name.
        name: String,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A local sluice-plugin-sdk checkout to depend on.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Load a plugin, describe it, configure it, and run it once on a sample.
    Check {
        /// The component (.wasm) file.
        file: PathBuf,
        /// The settings to configure it with, as JSON.
        #[arg(long, default_value = "{}")]
        settings: String,
        /// Text to check (default: a short sample with an e-mail address).
        #[arg(long)]
        sample: Option<String>,
    },
    /// List the built-in plugins.
    List,
}

#[derive(Clone, Copy, ValueEnum)]
enum PhaseArg {
    Request,
    Response,
}

impl From<PhaseArg> for Phase {
    fn from(phase: PhaseArg) -> Phase {
        match phase {
            PhaseArg::Request => Phase::Request,
            PhaseArg::Response => Phase::Response,
        }
    }
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("sluice: {error:#}");
            ExitCode::from(3)
        }
    }
}

/// Turns transparent huge pages off for this process (and the processes it
/// starts, such as MCP stdio servers, which inherit the setting). mimalloc asks
/// for them on its arenas (`madvise(MADV_HUGEPAGE)`), and then a heap of a few
/// MB in use sits in whole 2 MB pages: with four guardrails, 12 MB more at rest
/// and 24 to 50 MB more at the peak under load (docs/benchmarks.md, "Peak
/// memory"). Best effort: a kernel without THP refuses, and nothing changes.
#[allow(unsafe_code)]
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes one integer argument and touches no
    // memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    if !matches!(cli.command, Command::Serve { .. }) {
        otel::init(None)?.shutdown();
    }
    match cli.command {
        Command::Serve { config, listen } => {
            let source = sluice::server::ConfigSource {
                path: config,
                listen,
            };
            // The exporter (if any) starts before the runtime: its HTTP
            // client runs on a thread of its own.
            let tracing = otel::init(Some(&source.load()?.tracing))?;
            let served = serve_runtime()?.block_on(sluice::server::serve(source));
            tracing.shutdown();
            served?;
            Ok(0)
        }
        Command::Scan {
            config,
            phase,
            jsonl,
            redact,
            file,
        } => run_scan(config, phase.into(), jsonl, redact, file),
        Command::CheckConfig { file } => {
            let config = Config::load(&file)?;
            let sandbox = Sandbox::new(config.sandbox.artifact_cache())?;
            let guardrails = Guardrails::load(&sandbox, &config.guardrails)?;
            for g in guardrails.iter() {
                let info = g.plugin.info();
                println!(
                    "ok  {:<12} {} {} ({})",
                    g.id,
                    info.name,
                    info.version,
                    g.plugin.origin()
                );
            }
            println!("{}: valid", file.display());
            Ok(0)
        }
        Command::Plugin { command } => run_plugin(command),
        Command::Usage(args) => run_usage(*args),
        Command::Keys { command } => sluice::keys::command::run(*command),
        Command::Audit { command, query } => match command {
            Some(AuditCommand::Verify { source }) => run_audit_verify(source),
            None => run_audit(*query),
        },
    }
}

fn load_guardrails(config: Option<PathBuf>) -> anyhow::Result<(Sandbox, Guardrails)> {
    let config = match config {
        Some(path) => Config::load(&path)?,
        None => Config::embedded_default(),
    };
    let sandbox = Sandbox::new(config.sandbox.artifact_cache())?;
    let guardrails = Guardrails::load(&sandbox, &config.guardrails)?;
    Ok((sandbox, guardrails))
}

fn run_scan(
    config: Option<PathBuf>,
    phase: Phase,
    jsonl: bool,
    redact: bool,
    file: Option<PathBuf>,
) -> anyhow::Result<u8> {
    let (_sandbox, guardrails) = load_guardrails(config)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let from_stdin = file.as_deref().is_none_or(|f| f.as_os_str() == "-");
    if jsonl {
        let bad = if from_stdin {
            scan::scan_jsonl(&guardrails, phase, std::io::stdin().lock(), &mut out)?
        } else {
            let path = file.expect("checked");
            let reader = std::fs::File::open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            scan::scan_jsonl(
                &guardrails,
                phase,
                std::io::BufReader::new(reader),
                &mut out,
            )?
        };
        out.flush()?;
        return Ok(if bad > 0 { 3 } else { 0 });
    }
    let mut bytes = Vec::new();
    if from_stdin {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        let path = file.as_ref().expect("checked");
        bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => bail!(
            "the input is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    };
    let (outcome, segments) = scan::scan(&guardrails, phase, text);
    if redact {
        out.write_all(outcome.redact(0, &segments[0].text).as_bytes())?;
        out.flush()?;
        if let Some(message) = outcome.block_message() {
            eprintln!("sluice: {message}");
        }
    } else {
        scan::write_report(&mut out, &outcome, &segments[0].text)?;
        out.flush()?;
    }
    Ok(scan::exit_code(&outcome) as u8)
}

/// The runtime `sluice serve` runs on: a single thread when the process may
/// use one CPU (a pinned core, a container's CPU quota of one), where a
/// work-stealing scheduler has no other worker to steal from and only costs;
/// otherwise one worker per CPU.
fn serve_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    if std::thread::available_parallelism().is_ok_and(|cpus| cpus.get() == 1) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    }
}

fn run_plugin(command: PluginCommand) -> anyhow::Result<u8> {
    match command {
        PluginCommand::New { name, dir, sdk } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let sdk = match sdk {
                Some(path) => scaffold::SdkSource::Path(
                    path.canonicalize()
                        .with_context(|| format!("--sdk {}", path.display()))?,
                ),
                None => scaffold::SdkSource::default_for_this_build(),
            };
            let files = scaffold::create(&dir, &name, &sdk).map_err(anyhow::Error::msg)?;
            for file in files {
                println!("created {}", file.display());
            }
            println!(
                "\nnext:\n  cd {dir}\n  cargo test\n  cargo build --release --target wasm32-wasip2\n  \
                 sluice plugin check target/wasm32-wasip2/release/{crate_file}.wasm",
                dir = dir.display(),
                crate_file = name.replace('-', "_"),
            );
            Ok(0)
        }
        PluginCommand::Check {
            file,
            settings,
            sample,
        } => {
            let sandbox = Sandbox::new(Config::default().sandbox.artifact_cache())?;
            let source = PluginSource::File(file);
            let plugin = sandbox.load(&source, &settings, Limits::default())?;
            let info = plugin.info();
            println!("plugin:        {} {}", info.name, info.version);
            println!(
                "contract:      sluice:guardrail@{}",
                sluice::sandbox::CONTRACT_VERSION
            );
            let phases: Vec<&str> = info.phases.iter().map(|p| p.as_str()).collect();
            println!("phases:        {}", phases.join(", "));
            println!("max-match-len: {} bytes", info.max_match_len);
            println!("cache-scope:   {:?}", info.cache_scope);
            println!("settings:      accepted");
            let text =
                sample.unwrap_or_else(|| "Sample text: write to jane.doe@example.com.".into());
            let phase = info.phases[0];
            let segments = vec![sluice::sandbox::Segment::user("sample", text)];
            match plugin.check(&scan::scan_context(phase), &segments) {
                Ok(verdict) => {
                    println!(
                        "sample check:  {} ({} findings)",
                        verdict.effective_action().as_str(),
                        verdict.findings.len()
                    );
                    println!(
                        "memory:        {:.1} MiB of linear memory after the sample",
                        plugin.stats().idle_memory as f64 / f64::from(1 << 20)
                    );
                    Ok(0)
                }
                Err(failure) => {
                    println!("sample check:  FAILED: {failure}");
                    Ok(1)
                }
            }
        }
        PluginCommand::List => {
            let width = builtin::BUILTINS
                .iter()
                .map(|b| b.name.len())
                .max()
                .unwrap_or(0);
            for b in builtin::BUILTINS {
                println!("{:<width$}  {}", b.name, b.summary);
            }
            Ok(0)
        }
    }
}

fn audit_store(source: AuditSource) -> anyhow::Result<Box<dyn sluice::audit::Store>> {
    use sluice::audit::Location;
    let location = match (source.db, source.config) {
        (Some(db), _) => Location::parse(&db),
        (None, Some(config)) => Config::load(&config)?.audit.location(),
        (None, None) => Config::embedded_default().audit.location(),
    };
    if let Location::Sqlite(path) = &location
        && !path.exists()
    {
        bail!(
            "no audit trail at {} (pass the gateway's --config, or --db)",
            path.display()
        );
    }
    location.open()
}

fn run_audit(query: AuditQuery) -> anyhow::Result<u8> {
    use sluice::audit::{Filter, now_ms, report};
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (name, value) in [
        ("since", &query.since),
        ("until", &query.until),
        ("key", &query.key),
        ("team", &query.team),
        ("plugin", &query.plugin),
        ("rule", &query.rule),
        ("kind", &query.kind),
        ("action", &query.action),
        ("request", &query.request),
    ] {
        if let Some(value) = value {
            pairs.push((name, value));
        }
    }
    pairs.extend(query.tags.iter().map(|t| ("tag", t.as_str())));
    let mut filter = Filter::from_pairs(pairs, now_ms()).map_err(anyhow::Error::msg)?;
    filter.limit = query.limit;
    let format = match query.format {
        FormatArg::Table => report::Format::Table,
        FormatArg::Jsonl => report::Format::Jsonl,
        FormatArg::Csv => report::Format::Csv,
    };
    let mut store = audit_store(query.source)?;
    let mut out = std::io::stdout().lock();
    report::write_header(&mut out, format)?;
    loop {
        for (seq, record) in store.query(&filter)? {
            report::write_record(&mut out, format, seq, &record)?;
            filter.after_seq = seq;
        }
        out.flush()?;
        if !query.follow {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

fn run_usage(args: UsageArgs) -> anyhow::Result<u8> {
    use sluice::governance::report::{self, UsageQuery};
    use sluice::governance::state::State;
    let state_config = match (&args.db, &args.config) {
        (Some(db), _) => sluice::config::StateConfig {
            path: Some(db.clone()),
            ..Default::default()
        },
        (None, Some(config)) => Config::load(config)?.state,
        (None, None) => Config::embedded_default().state,
    };
    if state_config.redis.is_none() && !state_config.database().exists() {
        bail!(
            "no state file at {} (pass the gateway's --config, or --db)",
            state_config.database().display()
        );
    }
    let mut pairs: Vec<(&str, &str)> = vec![("by", &args.by), ("per", &args.per)];
    for (name, value) in [
        ("since", &args.since),
        ("until", &args.until),
        ("key", &args.key),
        ("team", &args.team),
        ("model", &args.model),
        ("provider", &args.provider),
    ] {
        if let Some(value) = value {
            pairs.push((name, value));
        }
    }
    pairs.extend(args.tags.iter().map(|t| ("tag", t.as_str())));
    let query =
        UsageQuery::from_pairs(pairs, sluice::clock::now_ms()).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rows = runtime.block_on(async {
        let state = State::open(&state_config, false).await?;
        let (from, to) = query.hours();
        state.usage(from, to).await
    })?;
    let rows = report::group(&query, rows);
    let mut out = std::io::stdout().lock();
    match args.format {
        UsageFormat::Csv => write!(out, "{}", report::to_csv(&query, &rows))?,
        UsageFormat::Json => writeln!(out, "{:#}", report::to_json(&query, &rows))?,
        UsageFormat::Table => {
            let mut lines = vec![report::header(&query)];
            lines.extend(rows.iter().map(|row| report::cells(&query, row)));
            let widths: Vec<usize> = (0..lines[0].len())
                .map(|i| {
                    lines
                        .iter()
                        .map(|l| l[i].chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for line in &lines {
                let cells: Vec<String> = line
                    .iter()
                    .zip(&widths)
                    .map(|(cell, width)| format!("{cell:<width$}"))
                    .collect();
                writeln!(out, "{}", cells.join("  ").trim_end())?;
            }
        }
    }
    Ok(0)
}

fn run_audit_verify(source: AuditSource) -> anyhow::Result<u8> {
    let mut store = audit_store(source)?;
    match store.verify()? {
        Ok(count) => {
            println!("ok: {count} records, every link holds");
            Ok(0)
        }
        Err(problem) => {
            println!("broken at record {}: {}", problem.seq, problem.what);
            Ok(1)
        }
    }
}
