//! `sluice keys create|list|show|rotate|revoke|update`: the command line over
//! the key store. A running gateway sees each change within the bounds in
//! [`super::live`]; the commands print secrets only right after making them.
//! Each change is recorded in the gateway's audit trail (the config's, or the
//! embedded default's; not with `--db`, which names no trail).

use super::report::{with_secret, write_details, write_secret, write_table};
use super::{KeyChanges, KeyRecord, KeyStore, SqliteKeyStore, parse_expiry};
use crate::audit::admin::Actor;
use crate::audit::now_ms;
use crate::audit::report::format_time;
use crate::config::Config;
use anyhow::{Context as _, bail};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// `sluice keys ...`. Its fields are documented by their `--help` text.
#[allow(missing_docs)]
#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its secret, the only time it is shown.
    Create {
        #[command(flatten)]
        source: Source,
        /// The key's id (lowercase letters, digits, '-', '_'); default: generated.
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        fields: Fields,
    },
    /// List every key (never a secret or a hash).
    List {
        #[command(flatten)]
        source: Source,
    },
    /// Show one key.
    Show {
        #[command(flatten)]
        source: Source,
        /// The key's id.
        id: String,
    },
    /// Give a key a new secret (printed once); the old one stops working.
    Rotate {
        #[command(flatten)]
        source: Source,
        /// The key's id.
        id: String,
    },
    /// Revoke a key, for good.
    Revoke {
        #[command(flatten)]
        source: Source,
        /// The key's id.
        id: String,
    },
    /// Change a key's name, team, tags, models, providers or expiry.
    Update {
        #[command(flatten)]
        source: Source,
        /// The key's id.
        id: String,
        #[command(flatten)]
        fields: Fields,
        #[command(flatten)]
        clear: Clear,
    },
}

/// Where the keys are.
#[derive(clap::Args)]
pub struct Source {
    /// The gateway's config file: keys are kept in its `[state]` file, and new
    /// values are checked against its providers, models and guardrails.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The state database (a SQLite file) itself, instead of a config.
    #[arg(long, conflicts_with = "config")]
    db: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// What a key is given.
#[derive(clap::Args)]
pub struct Fields {
    /// A name for people (default: the id).
    #[arg(long)]
    name: Option<String>,
    /// The team; it becomes the `team` metadata tag of every call.
    #[arg(long)]
    team: Option<String>,
    /// A metadata tag of every call (repeat for several).
    #[arg(long = "tag", value_name = "NAME=VALUE")]
    tags: Vec<String>,
    /// The model used when a request names none.
    #[arg(long)]
    default_model: Option<String>,
    /// A guardrail (by id) that runs for this key; repeat. Default: all.
    #[arg(long = "guardrail", value_name = "ID")]
    guardrails: Vec<String>,
    /// A model the key may use: `@openai/*`, `claude-sonnet-*`, an alias;
    /// repeat. Default: any. On update, the list replaces the old one.
    #[arg(long = "model", value_name = "PATTERN")]
    models: Vec<String>,
    /// A provider (slug) the key may use; repeat. Default: any. On update,
    /// the list replaces the old one.
    #[arg(long = "provider", value_name = "SLUG")]
    providers: Vec<String>,
    /// When the key stops working: an RFC 3339 time (2026-12-31T23:59:59Z) or
    /// a span from now (30d, 12h, 90m).
    #[arg(long, value_name = "TIME|SPAN")]
    expires: Option<String>,
    /// The routing config (`[routing.NAME]`) the key's requests use.
    #[arg(long, value_name = "NAME")]
    routing_config: Option<String>,
}

/// What `update` can take away.
#[derive(clap::Args)]
pub struct Clear {
    /// Remove the team.
    #[arg(long, conflicts_with = "team")]
    no_team: bool,
    /// Remove a metadata tag (repeat for several).
    #[arg(long = "remove-tag", value_name = "NAME")]
    remove_tags: Vec<String>,
    /// Remove the default model.
    #[arg(long, conflicts_with = "default_model")]
    no_default_model: bool,
    /// Run every guardrail for this key again.
    #[arg(long, conflicts_with = "guardrails")]
    all_guardrails: bool,
    /// Let the key use any model again.
    #[arg(long, conflicts_with = "models")]
    any_model: bool,
    /// Let the key use any provider again.
    #[arg(long, conflicts_with = "providers")]
    any_provider: bool,
    /// Remove the expiry.
    #[arg(long, conflicts_with = "expires")]
    no_expiry: bool,
    /// Remove the routing config.
    #[arg(long, conflicts_with = "routing_config")]
    no_routing_config: bool,
}

impl Fields {
    fn changes(&self, now: i64) -> anyhow::Result<KeyChanges> {
        let set = |items: &[String]| (!items.is_empty()).then(|| items.to_vec());
        let mut tags = Vec::new();
        for tag in &self.tags {
            let Some((name, value)) = tag.split_once('=') else {
                bail!("--tag {tag}: write it as NAME=VALUE");
            };
            tags.push((name.to_string(), Some(value.to_string())));
        }
        Ok(KeyChanges {
            name: self.name.clone(),
            team: self.team.clone().map(Some),
            tags,
            default_model: self.default_model.clone().map(Some),
            guardrails: set(&self.guardrails).map(Some),
            allowed_models: set(&self.models),
            allowed_providers: set(&self.providers),
            expires_at: match &self.expires {
                Some(text) => Some(Some(parse_expiry(text, now)?)),
                None => None,
            },
            routing_config: self.routing_config.clone().map(Some),
        })
    }
}

impl Clear {
    fn apply_to(&self, changes: &mut KeyChanges) {
        if self.no_team {
            changes.team = Some(None);
        }
        if self.no_default_model {
            changes.default_model = Some(None);
        }
        if self.all_guardrails {
            changes.guardrails = Some(None);
        }
        if self.any_model {
            changes.allowed_models = Some(Vec::new());
        }
        if self.any_provider {
            changes.allowed_providers = Some(Vec::new());
        }
        if self.no_expiry {
            changes.expires_at = Some(None);
        }
        if self.no_routing_config {
            changes.routing_config = Some(None);
        }
        changes
            .tags
            .extend(self.remove_tags.iter().map(|name| (name.clone(), None)));
    }
}

/// Runs one `sluice keys` command; the exit code.
pub fn run(command: KeysCommand) -> anyhow::Result<u8> {
    let now = now_ms();
    let mut out = std::io::stdout().lock();
    match command {
        KeysCommand::Create { source, id, fields } => {
            let changes = fields.changes(now)?;
            let (store, config) = source.open(true)?;
            let (key, secret) = store.create(id.as_deref(), &changes, config.as_ref(), now)?;
            source.audit(config.as_ref(), "keys.create", &key.id, now);
            if source.json {
                writeln!(out, "{:#}", with_secret(&key, &secret, now))?;
            } else {
                writeln!(out, "created gateway key `{}`\n", key.id)?;
                write_details(&mut out, &key, now)?;
                write_secret(&mut out, &secret)?;
            }
        }
        KeysCommand::List { source } => {
            let (store, _) = source.open(false)?;
            let keys = store.list()?;
            if source.json {
                let data: Vec<_> = keys.iter().map(|k| k.to_json(now)).collect();
                let list = serde_json::json!({"object": "list", "data": data});
                writeln!(out, "{list:#}")?;
            } else {
                write_table(&mut out, &keys, now)?;
            }
        }
        KeysCommand::Show { source, id } => {
            let (store, _) = source.open(false)?;
            let key = store.get(&id)?.ok_or(super::KeyError::NotFound(id))?;
            source.print(&mut out, None, &key, now)?;
        }
        KeysCommand::Rotate { source, id } => {
            let (store, config) = source.open(false)?;
            let (key, secret) = store.rotate(&id, now)?;
            source.audit(config.as_ref(), "keys.rotate", &key.id, now);
            if source.json {
                writeln!(out, "{:#}", with_secret(&key, &secret, now))?;
            } else {
                writeln!(
                    out,
                    "rotated gateway key `{}`: the old secret stops working within {} s",
                    key.id,
                    super::RECHECK.as_secs()
                )?;
                write_secret(&mut out, &secret)?;
            }
        }
        KeysCommand::Revoke { source, id } => {
            let (store, config) = source.open(false)?;
            let key = store.revoke(&id, now)?;
            let at = key.revoked_at.expect("revoked");
            if at == now {
                source.audit(config.as_ref(), "keys.revoke", &key.id, now);
            }
            let said = if at == now {
                format!(
                    "revoked gateway key `{}`: running gateways refuse it within {} s",
                    key.id,
                    super::RECHECK.as_secs()
                )
            } else {
                format!(
                    "gateway key `{}` was revoked already, on {}",
                    key.id,
                    format_time(at)
                )
            };
            source.print(&mut out, Some(&said), &key, now)?;
        }
        KeysCommand::Update {
            source,
            id,
            fields,
            clear,
        } => {
            let mut changes = fields.changes(now)?;
            clear.apply_to(&mut changes);
            let (store, config) = source.open(false)?;
            let key = store.update(&id, &changes, config.as_ref())?;
            source.audit(config.as_ref(), "keys.update", &key.id, now);
            let said = format!("updated gateway key `{}`", key.id);
            source.print(&mut out, Some(&said), &key, now)?;
        }
    }
    out.flush()?;
    Ok(0)
}

impl Source {
    /// The store, and the config when one was given. Only `create` makes a
    /// new database; the other commands want to find the gateway's.
    fn open(&self, create: bool) -> anyhow::Result<(Arc<dyn KeyStore>, Option<Config>)> {
        let (path, config) = match (&self.db, &self.config) {
            (Some(db), _) => (db.clone(), None),
            (None, Some(path)) => {
                let config = Config::load(path)?;
                if config.state.redis.is_some() {
                    let store = super::open(&config.state)
                        .context("cannot open the key store in [state] redis")?;
                    return Ok((store, Some(config)));
                }
                (config.state.database(), Some(config))
            }
            (None, None) => (Config::embedded_default().state.database(), None),
        };
        if !create && !path.exists() {
            bail!(
                "no key store at {} (pass the gateway's --config, or --db)",
                path.display()
            );
        }
        let store = SqliteKeyStore::open(&path)
            .with_context(|| format!("cannot open the key store {}", path.display()))?;
        Ok((Arc::new(store), config))
    }

    /// Records a change in the audit trail of the gateway this command
    /// works for: the one `--config` names, or the embedded default's (none
    /// with `--db`). A failure is said on standard error: the change is made.
    fn audit(&self, config: Option<&Config>, action: &str, key_id: &str, now: i64) {
        let audit = match (&self.db, config) {
            (Some(_), _) => return,
            (None, Some(config)) => config.audit.clone(),
            (None, None) => Config::embedded_default().audit,
        };
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty());
        let record =
            crate::audit::admin::record(&Actor::Cli(user), action, Some(key_id), None, now);
        match crate::audit::AuditLog::open(&audit) {
            Ok(Some(log)) => {
                log.append(vec![record]);
                log.close();
            }
            Ok(None) => {}
            Err(e) => eprintln!(
                "sluice: the change was made, but it could not be recorded in the audit trail: {e:#}"
            ),
        }
    }

    /// A key as text (after `said`, when given) or as JSON.
    fn print(
        &self,
        out: &mut impl Write,
        said: Option<&str>,
        key: &KeyRecord,
        now: i64,
    ) -> anyhow::Result<()> {
        if self.json {
            writeln!(out, "{:#}", key.to_json(now))?;
        } else {
            if let Some(said) = said {
                writeln!(out, "{said}\n")?;
            }
            write_details(out, key, now)?;
        }
        Ok(())
    }
}
