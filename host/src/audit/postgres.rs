//! The audit trail in PostgreSQL, for deployments where several gateway
//! processes share one trail.
//!
//! Appends take a transaction-scoped advisory lock before reading the last link,
//! so concurrent writers from any number of processes build one unbroken chain
//! in sequence order. TLS follows libpq's `sslmode` (see [`tls_mode`]): used
//! when the server offers it by default, and the server's certificate checked
//! against the platform's trust store with `sslmode=verify-full`.
//!
//! PostgreSQL text cannot hold the NUL character, which a client can put in a
//! model name or a metadata value: such characters are written as U+FFFD, before
//! the record is linked, so the stored record is exactly the hashed one.

use super::filter::{Dialect, Filter, Param};
use super::record::{
    Excerpt, GENESIS, Outcome, Problem, Record, Stored, check_chain, link, to_link,
};
use super::store::Store;
use crate::secret::Secret;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, Row};
use std::sync::Arc;

/// An open connection to the trail's database.
pub struct PostgresStore {
    url: Secret,
    client: Client,
}

/// The advisory lock every append (and schema change) takes: one writer at a
/// time extends the chain. The number is `sluice-audit` in ASCII, truncated.
const CHAIN_LOCK: i64 = 0x736c_7569_6365_6175;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sluice_audit (
    seq            BIGSERIAL PRIMARY KEY,
    time_ms        BIGINT NOT NULL,
    request_id     TEXT NOT NULL,
    key_id         TEXT,
    team           TEXT,
    metadata       JSONB NOT NULL,
    api            TEXT NOT NULL,
    model          TEXT NOT NULL,
    phase          TEXT NOT NULL,
    guardrail      TEXT NOT NULL,
    plugin         TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    rule           TEXT,
    kind           TEXT,
    segment        TEXT,
    span_start     BIGINT,
    span_end       BIGINT,
    excerpt_chars  BIGINT,
    excerpt_hash   TEXT,
    failure        TEXT,
    prev_link      BYTEA NOT NULL,
    link           BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS sluice_audit_time ON sluice_audit (time_ms);
CREATE INDEX IF NOT EXISTS sluice_audit_key ON sluice_audit (key_id, time_ms);
CREATE INDEX IF NOT EXISTS sluice_audit_rule ON sluice_audit (rule, time_ms);
CREATE INDEX IF NOT EXISTS sluice_audit_metadata ON sluice_audit USING GIN (metadata);
-- Where retention cut the chain: verification starts from this link.
CREATE TABLE IF NOT EXISTS sluice_audit_pruned (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    up_to_seq BIGINT NOT NULL,
    link      BYTEA NOT NULL
);
";

const COLUMNS: &str = "seq, time_ms, request_id, key_id, team, metadata::text, api, model, phase, \
     guardrail, plugin, plugin_version, outcome, rule, kind, segment, span_start, span_end, \
     excerpt_chars, excerpt_hash, failure, prev_link, link";

/// Parameters are `$1`, `$2`, ...; tags are `[key, value]` pairs in a JSONB array.
const POSTGRES: Dialect = Dialect {
    placeholder: |n| format!("${n}"),
    has_tag: |k, v| {
        format!("metadata @> jsonb_build_array(jsonb_build_array({k}::text, {v}::text))")
    },
};

impl PostgresStore {
    /// Connects and creates the tables when missing.
    pub fn connect(url: &Secret) -> anyhow::Result<PostgresStore> {
        let mut client = connect(url)?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])?;
        tx.batch_execute(SCHEMA)?;
        tx.commit()?;
        Ok(PostgresStore {
            url: url.clone(),
            client,
        })
    }

    /// The connection, reconnecting when it was lost (a server restart, say).
    fn client(&mut self) -> anyhow::Result<&mut Client> {
        if self.client.is_closed() {
            self.client = connect(&self.url)?;
        }
        Ok(&mut self.client)
    }

    /// Runs `sql` as is, for tests that tamper with the table.
    pub fn execute(&mut self, sql: &str) -> anyhow::Result<u64> {
        Ok(self.client()?.execute(sql, &[])?)
    }
}

impl Store for PostgresStore {
    fn append(&mut self, records: &[Record]) -> anyhow::Result<()> {
        let mut tx = self.client()?.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])?;
        let mut previous = last_link(&mut tx)?;
        let insert = tx.prepare(
            "INSERT INTO sluice_audit (time_ms, request_id, key_id, team, metadata, api, model, \
             phase, guardrail, plugin, plugin_version, outcome, rule, kind, segment, span_start, \
             span_end, excerpt_chars, excerpt_hash, failure, prev_link, link) \
             VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, $18, $19, $20, $21, $22)",
        )?;
        for record in records {
            let r = without_nul(record);
            let next = link(&previous, &r);
            let metadata = serde_json::to_string(&r.metadata).expect("tags serialise");
            let span_start = r.span.map(|s| i64::from(s.0));
            let span_end = r.span.map(|s| i64::from(s.1));
            let chars = r.excerpt.as_ref().map(|e| i64::from(e.chars));
            let hash = r.excerpt.as_ref().map(|e| e.hash.as_str());
            let (prev_bytes, next_bytes) = (previous.as_slice(), next.as_slice());
            tx.execute(
                &insert,
                &[
                    &r.time_ms,
                    &r.request_id,
                    &r.key_id,
                    &r.team,
                    &metadata,
                    &r.api,
                    &r.model,
                    &r.phase,
                    &r.guardrail,
                    &r.plugin,
                    &r.plugin_version,
                    &r.outcome.as_str(),
                    &r.rule,
                    &r.kind,
                    &r.segment,
                    &span_start,
                    &span_end,
                    &chars,
                    &hash,
                    &r.failure,
                    &prev_bytes,
                    &next_bytes,
                ],
            )?;
            previous = next;
        }
        tx.commit()?;
        Ok(())
    }

    fn query(&mut self, filter: &Filter) -> anyhow::Result<Vec<(i64, Record)>> {
        let (clause, values) = filter.where_clause(&POSTGRES);
        let sql = format!(
            "SELECT {COLUMNS} FROM sluice_audit{clause}{}",
            filter.order_and_limit()
        );
        let values: Vec<Box<dyn ToSql + Sync>> = values
            .into_iter()
            .map(|p| -> Box<dyn ToSql + Sync> {
                match p {
                    Param::Int(i) => Box::new(i),
                    Param::Text(t) => Box::new(t),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        let rows = self.client()?.query(&sql, &refs)?;
        rows.iter()
            .map(|row| row_to_record(row).map(|(seq, record, _, _)| (seq, record)))
            .collect()
    }

    fn verify(&mut self) -> anyhow::Result<Result<u64, Problem>> {
        let client = self.client()?;
        let pruned = client.query_opt("SELECT link FROM sluice_audit_pruned WHERE id = 1", &[])?;
        let start = pruned.map_or(GENESIS, |row| to_link(row.get::<_, &[u8]>(0)));
        // Streamed, so a trail of millions of records is checked in constant memory.
        let no_params: [&(dyn ToSql + Sync); 0] = [];
        let rows = client.query_raw(
            &format!("SELECT {COLUMNS} FROM sluice_audit ORDER BY seq"),
            no_params,
        )?;
        check_chain(start, rows.iterator().map(|row| row_to_record(&row?)))
    }

    fn prune(&mut self, before_ms: i64) -> anyhow::Result<usize> {
        let mut tx = self.client()?.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])?;
        let last = tx.query_opt(
            "SELECT seq, link FROM sluice_audit WHERE time_ms < $1 ORDER BY seq DESC LIMIT 1",
            &[&before_ms],
        )?;
        let Some(last) = last else {
            return Ok(0);
        };
        let (seq, link): (i64, Vec<u8>) = (last.get(0), last.get(1));
        let deleted = tx.execute("DELETE FROM sluice_audit WHERE seq <= $1", &[&seq])?;
        tx.execute(
            "INSERT INTO sluice_audit_pruned (id, up_to_seq, link) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET up_to_seq = excluded.up_to_seq, link = excluded.link",
            &[&seq, &link],
        )?;
        tx.commit()?;
        Ok(deleted as usize)
    }
}

/// `PostgreSQL database audit on db.internal:5432 as sluice`: the URL without
/// its password.
pub fn describe(url: &Secret) -> String {
    let Ok(config) = url.expose().parse::<postgres::Config>() else {
        return "PostgreSQL (an unreadable connection URL)".into();
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
        })
        .collect();
    format!(
        "PostgreSQL database {} on {} as {}",
        config.get_dbname().unwrap_or("(default)"),
        hosts.join(","),
        config.get_user().unwrap_or("(default)"),
    )
}

fn connect(url: &Secret) -> anyhow::Result<Client> {
    let (url_text, verify) = tls_mode(url.expose());
    let config: postgres::Config = url_text.parse().map_err(|_| {
        // The parser's message can quote the URL, password included.
        anyhow::anyhow!("the audit `url` is not a valid PostgreSQL connection URL")
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let tls = if verify {
        rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier(tls)?
            .with_no_client_auth()
    } else {
        tls.dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    };
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
    config
        .connect(tls)
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", describe(url)))
}

/// libpq's `sslmode` meanings: `disable`, `prefer` (the default) and `require`
/// encrypt without checking the server's certificate; `verify-ca` and
/// `verify-full` also check it against the platform's trust store (and the
/// host name). The client library knows only the first three, so the last two
/// are passed on as `require` with checking turned on.
fn tls_mode(url: &str) -> (String, bool) {
    for mode in ["sslmode=verify-full", "sslmode=verify-ca"] {
        if url.contains(mode) {
            return (url.replace(mode, "sslmode=require"), true);
        }
    }
    (url.to_string(), false)
}

/// Accepts any server certificate while still checking the handshake's
/// signatures: encryption without authentication, as libpq's `prefer` and
/// `require` give.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn last_link(tx: &mut postgres::Transaction<'_>) -> anyhow::Result<[u8; 32]> {
    if let Some(row) = tx.query_opt(
        "SELECT link FROM sluice_audit ORDER BY seq DESC LIMIT 1",
        &[],
    )? {
        return Ok(to_link(row.get::<_, &[u8]>(0)));
    }
    let pruned = tx.query_opt("SELECT link FROM sluice_audit_pruned WHERE id = 1", &[])?;
    Ok(pruned.map_or(GENESIS, |row| to_link(row.get::<_, &[u8]>(0))))
}

/// The record with every NUL character replaced (PostgreSQL text cannot hold it).
fn without_nul(record: &Record) -> std::borrow::Cow<'_, Record> {
    /// Replaces NULs in every string of `value`; true when there were any.
    fn clean(value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(text) if text.contains('\0') => {
                *text = text.replace('\0', "\u{FFFD}");
                true
            }
            serde_json::Value::Array(items) => {
                items.iter_mut().fold(false, |any, v| clean(v) | any)
            }
            serde_json::Value::Object(fields) => {
                fields.values_mut().fold(false, |any, v| clean(v) | any)
            }
            _ => false,
        }
    }
    let mut value = serde_json::to_value(record).expect("a record serialises");
    if !clean(&mut value) {
        return std::borrow::Cow::Borrowed(record);
    }
    std::borrow::Cow::Owned(serde_json::from_value(value).expect("the same record shape"))
}

fn row_to_record(row: &Row) -> anyhow::Result<Stored> {
    let metadata: String = row.try_get(5)?;
    let outcome: String = row.try_get(12)?;
    let span_start: Option<i64> = row.try_get(16)?;
    let span_end: Option<i64> = row.try_get(17)?;
    let excerpt_chars: Option<i64> = row.try_get(18)?;
    let excerpt_hash: Option<String> = row.try_get(19)?;
    let record = Record {
        time_ms: row.try_get(1)?,
        request_id: row.try_get(2)?,
        key_id: row.try_get(3)?,
        team: row.try_get(4)?,
        metadata: serde_json::from_str(&metadata)?,
        api: row.try_get(6)?,
        model: row.try_get(7)?,
        phase: row.try_get(8)?,
        guardrail: row.try_get(9)?,
        plugin: row.try_get(10)?,
        plugin_version: row.try_get(11)?,
        outcome: Outcome::parse(&outcome)?,
        rule: row.try_get(13)?,
        kind: row.try_get(14)?,
        segment: row.try_get(15)?,
        span: span_start.zip(span_end).map(|(s, e)| (s as u32, e as u32)),
        excerpt: excerpt_chars
            .zip(excerpt_hash)
            .map(|(chars, hash)| Excerpt {
                chars: chars as u32,
                hash,
            }),
        failure: row.try_get(20)?,
    };
    Ok((
        row.try_get(0)?,
        record,
        to_link(row.try_get::<_, &[u8]>(21)?),
        to_link(row.try_get::<_, &[u8]>(22)?),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::store_contract::{self, Trail};
    use super::*;

    /// A fresh schema in the test server (`SLUICE_TEST_POSTGRES_URL`, which
    /// `.ci/services` prints), dropped afterwards. `None` (the test is skipped,
    /// and says so) when no server is configured or `SLUICE_TEST_OFFLINE=1`, unless
    /// `SLUICE_REQUIRE_SERVICES` is set, as in CI.
    fn trail() -> Option<Trail> {
        let base = crate::test_services::service_url("SLUICE_TEST_POSTGRES_URL", "PostgreSQL")?;
        let schema = format!(
            "sluice_test_{}",
            blake3::hash(&now_nanos()).to_hex()[..12].to_owned()
        );
        let base = Secret::new(base);
        connect(&base)
            .unwrap()
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
        let separator = if base.expose().contains('?') {
            '&'
        } else {
            '?'
        };
        let url = Secret::new(format!(
            "{}{separator}options=-csearch_path%3D{schema}",
            base.expose()
        ));
        let tamper_url = url.clone();
        Some(Trail {
            open: Box::new(move || Box::new(PostgresStore::connect(&url).unwrap())),
            tamper: Box::new(move |sql| {
                connect(&tamper_url)
                    .unwrap()
                    .batch_execute(&sql.replace("{table}", "sluice_audit"))
                    .unwrap();
            }),
            _keep: Box::new(DropSchema { base, schema }),
        })
    }

    fn now_nanos() -> [u8; 16] {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let thread = format!("{:?}", std::thread::current().id());
        let mut bytes = nanos.to_le_bytes();
        bytes[15] ^= blake3::hash(thread.as_bytes()).as_bytes()[0];
        bytes
    }

    struct DropSchema {
        base: Secret,
        schema: String,
    }

    impl Drop for DropSchema {
        fn drop(&mut self) {
            if let Ok(mut client) = connect(&self.base) {
                let _ = client.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
            }
        }
    }

    #[test]
    fn records_round_trip_and_filter() {
        if let Some(trail) = trail() {
            store_contract::records_round_trip_and_filter(&trail);
        }
    }

    #[test]
    fn verify_finds_a_changed_and_a_removed_record() {
        if trail().is_some() {
            store_contract::verify_finds_a_changed_and_a_removed_record(&|| trail().unwrap());
        }
    }

    #[test]
    fn pruning_keeps_the_rest_verifiable_and_appends_continue_the_chain() {
        if let Some(trail) = trail() {
            store_contract::pruning_keeps_the_rest_verifiable(&trail);
        }
    }

    #[test]
    fn concurrent_writers_build_one_chain() {
        if let Some(trail) = trail() {
            store_contract::concurrent_writers_build_one_chain(&trail);
        }
    }

    #[test]
    fn nul_characters_are_stored_replaced_and_the_chain_holds() {
        let Some(trail) = trail() else { return };
        let mut store = (trail.open)();
        let mut r = store_contract::record(1, "k", "pii.email");
        r.model = "gpt\u{0}4o".into();
        // The text of an escaped NUL is not a NUL, and must survive as is.
        r.request_id = r"req-\u0000-literal".into();
        r.metadata = vec![("app".into(), "a\u{0}b".into())];
        store.append(&[r]).unwrap();
        let stored = store.query(&Filter::default()).unwrap();
        assert_eq!(stored[0].1.model, "gpt\u{FFFD}4o");
        assert_eq!(stored[0].1.request_id, r"req-\u0000-literal");
        assert_eq!(stored[0].1.metadata[0].1, "a\u{FFFD}b");
        assert_eq!(store.verify().unwrap(), Ok(1));
    }

    #[test]
    fn descriptions_never_hold_the_password() {
        let url = Secret::new("postgres://sluice:hunter2hunter2@db.internal:6543/trail");
        let text = describe(&url);
        assert_eq!(
            text,
            "PostgreSQL database trail on db.internal:6543 as sluice"
        );
        let Err(error) = connect(&Secret::new("postgres://u:hunter2hunter2@[bad")) else {
            panic!("connected with a malformed URL");
        };
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
