//! sluice's built-in `secrets` guardrail: finds credentials (API keys, tokens,
//! private keys, passwords) in prompts and answers, and redacts them.
//!
//! Every finding has kind `secret`, rule `secrets.<id>` (the id of the rule that
//! found it) and the replacement `[SECRET:<id>]`, which the gateway numbers per
//! request (`[SECRET:github-pat_1]`). Only the secret itself is replaced: in
//! `DB_PASSWORD=...` or `postgres://app:...@db` the name, the user and the host
//! stay. The default action is `redact`, on requests and on responses.
//!
//! # What it detects
//!
//! 243 rules, kept as data in `plugins/secrets/rules.toml` ([`rules::RULES_TOML`],
//! embedded when the plugin is built):
//!
//! | family | what |
//! |---|---|
//! | AWS | access key IDs (`AKIA`, `ASIA`, `ABIA`, `ACCA`), secret access keys and session tokens next to their names (secret keys also next to their key ID), Bedrock API keys, MWS tokens |
//! | Google | API keys (`AIza`), OAuth client secrets (`GOCSPX-`), access (`ya29.`) and refresh (`1//0`) tokens, FCM server keys; service-account JSON keys through `private-key` |
//! | Azure | storage and Cosmos DB account keys (`AccountKey=`), Service Bus shared access keys, SAS signatures (`sig=` with `sv=`), Entra ID client secrets (`Q~`), identifiable 84-character keys (`JQQJ9`), DevOps PATs |
//! | other clouds | Alibaba, Tencent, DigitalOcean (`dop_v1_`, `doo_v1_`, `dor_v1_`), Heroku (`HRKU-`, or a UUID next to its name), Fly.io, Vercel, Netlify, Cloudflare (tokens, global keys, Origin CA keys) |
//! | source hosts | GitHub classic, fine-grained, OAuth, app and refresh tokens; GitLab personal, deploy, runner, registration (`GR1348941`), trigger, CI job and other tokens; Atlassian API tokens (`ATATT3`); Bitbucket app passwords (`ATBB`) |
//! | chat | Slack bot, user, app, configuration and legacy tokens and webhook URLs; Discord bot tokens and webhook URLs; Telegram bot tokens; Microsoft Teams webhook URLs |
//! | payments, commerce, e-mail | Stripe (`sk_live_`, `rk_live_`, webhook secrets; `sk_test_` only flagged, see below), Shopify (`shpat_`, `shpss_`, `shpca_`, `shppa_`), Square, Plaid, Shippo, EasyPost, Duffel, SendGrid (`SG.`), Mailgun, Mailchimp (`-us21`), Brevo, Postmark, Twilio |
//! | SaaS and developer tools | Linear, Notion, Airtable, HubSpot, Figma, Contentful, Typeform, Mapbox, Algolia, Zendesk, Facebook, Twitter/X, Dropbox, Postman, Terraform Cloud, Vault (`hvs.`), Doppler, Pulumi, Grafana, PlanetScale, Supabase, Databricks, Okta, Auth0, SonarQube, Snyk, Sourcegraph, Buildkite, CircleCI, Datadog, New Relic, Sentry, Dynatrace, 1Password, age, SettleMint, Harness, Octopus Deploy, OpenShift, LaunchDarkly, Intercom, Sumo Logic, and more |
//! | finance and social APIs | Flutterwave, GoCardless, Lob, Plaid, Coinbase, Kraken, KuCoin, Bittrex, Finicity, Finnhub, Discord, Twitter/X, LinkedIn, Twitch, Asana, Adobe, Etsy, Yandex (most of them next to their names) |
//! | LLM providers | OpenAI (`sk-proj-`, `sk-svcacct-`, `sk-admin-`, legacy keys with `T3BlbkFJ`), Anthropic (`sk-ant-api03-`, `sk-ant-admin01-`), other `sk-` keys (DeepSeek, Moonshot, ...), OpenRouter, Groq, xAI, Perplexity, Replicate, Hugging Face, LangSmith, Pinecone, Mistral, Cohere, Together, ElevenLabs, Weights & Biases |
//! | package registries | npm (`npm_`, `.npmrc` `_authToken` and `_auth`), PyPI, RubyGems, NuGet, crates.io, Docker Hub (`dckr_pat_`) and Docker `config.json` auths, Clojars, JFrog |
//! | private keys and tokens | PEM blocks (RSA, EC, DSA, PKCS#8, encrypted, OpenSSH, PGP, SSH2; also inside JSON strings), PuTTY `.ppk` files, base64-encoded PEM keys (kubeconfig `client-key-data`), JWTs (header checked to be JSON with `"alg"`; unsigned tokens too) and JWTs base64-encoded once more (`ZXlK...`, decoded and checked) |
//! | passwords | in database and broker URLs (postgres, mysql, mongodb, redis, amqp, ...) and other URLs (`https://user:pass@`), basic authorization headers (decoded and checked), bearer tokens, `curl -u`, SQL (`IDENTIFIED BY`), and generic assignments (`password = "..."`, `DB_PASSWORD=...`, `api_key: ...`, `--password ...`, `<password>...</password>`) |
//!
//! The four `generic-*` rules, `bearer-token` and `curl-header-token` are loose: a specific rule wins
//! when both find the same text, and `disable_generic` turns them off.
//!
//! Formats without a prefix of their own are read next to a name that says whose
//! they are (`MERAKI_DASHBOARD_API_KEY=`, `discordClientSecret :=`), through one
//! shape shared by those rules, the rule file's fragment `(?&assign)` (see
//! [`fragments`]): the operators, types and quotes of the generic rules below, the
//! `(` of a call, only spaces, or the end of an XML start tag with the value on the
//! next line; never across any other line break. Public identifiers (client and
//! application IDs, publishable and public keys) and test-mode keys are rules with
//! `action = "flag"`.
//!
//! The generic assignment rules read a name that says what the value is
//! (`password`, `passwd`, `pwd`, `secret`, `token`, `credential`, `api_key`,
//! `private_key`, ...), an operator, and the value, all on one line:
//!
//! - operators: `=`, `:`, `:=`, `=>`, `,` (a tuple or call argument), `||` and `??`
//!   (defaults), Makefile `?=`, `::=` and `:::=`, PHP `.=`;
//! - a type between the name and the operator: Go `var apiToken string = "..."`
//!   (also `[]byte`), TypeScript and Rust `const apiToken: string = "..."`,
//!   `let api_key: &str = "..."` (`&'static str`, `String`, `str`);
//! - the value quoted (`"`, `'`, backticks, with `b`/`r`/`u` prefixes and escaped
//!   quotes as in JSON-encoded files) or bare up to the next space, `,`, `;` or `&`.
//!
//! A value is never looked for past a line break: in `GITHUB_API_KEY=` followed by
//! `DYNATRACE_API_KEY=` on the next line, neither is a secret, and a YAML key whose
//! value is on the next indented line is not read. The one deliberate exception is
//! `generic-xml-secret`: a value alone on its line inside an element
//! (`<apiKey>`, line break, the value, line break, `</apiKey>`) is read: one line
//! break on each side of the value at most, with up to 16 spaces or tabs before it
//! and 32 of indentation after it, so the match stays within the 512 bytes a
//! stream holds back (the rule can match at most 386 bytes).
//!
//! # What it ignores
//!
//! Coding-agent traffic is full of strings that look like secrets. They are told
//! apart like this:
//!
//! - **Keywords and formats.** Most rules look for a vendor's prefix (`ghp_`,
//!   `xoxb-`, `sk-ant-api03-`) followed by its exact alphabet and length. Formats
//!   without a prefix (AWS secret keys, Mailgun or Datadog keys, passwords) are only
//!   taken next to a name that says what they are (`aws_secret_access_key`,
//!   `MAILGUN_API_KEY`, `password`). UUIDs, git SHAs, hashes, base64 blobs and
//!   version strings on their own match no rule.
//! - **Entropy.** A rule can require a minimum Shannon entropy of the secret
//!   (`AKIAAAAAAAAAAAAAAAAA` falls below it).
//! - **Placeholders and documentation values.** A secret that contains a stopword
//!   in one case (`example`, `your`, `xxxx`, `redacted`, `changeme`, `insert`,
//!   `replace`, ...: `AKIAIOSFODNN7EXAMPLE`, `YOUR_API_KEY`, `sk-xxxxxxxx`) or that
//!   matches one of the rule file's patterns (`${VAR}`, `$VAR`, `{{ var }}`,
//!   `<token>`, `%VAR%`, values containing `...`, `…`, `***`, `•••` or `####`) is not
//!   reported. Counting sequences typed as stand-ins (`abc123`, `123abc`, `xyz123`,
//!   `456def`, `789ghi`, ...: `sk-ant-api03-abc123xyz-456def789...`) are stopwords
//!   too, as are masked values such as `xoxp-...-####################`. Rules
//!   add their own: the generic ones skip identifiers and expressions
//!   (`os.environ["X"]`, `process.env.X`, `get_token()`, `None`, `str`; CamelCase
//!   identifiers made of words, also with a version or counter at the end, such as
//!   `token: ParseTokenFromHeaderV2`), paths,
//!   URLs, words without digits or symbols, pagination and CSRF tokens, and the
//!   usual placeholder passwords (`password123`, `admin`, `P@ssw0rd`, `postgres`);
//!   the URL rules skip `user:password@` and `guest:guest@`; `jwt` skips jwt.io's
//!   sample token and Supabase's public `anon` key; `private-key` skips blocks cut
//!   short with `...`; `basic-auth-header` decodes the credential and skips
//!   `user:password`.
//! - **`allow_values`.** Exact values an operator declares harmless.
//!
//! # Settings
//!
//! ```toml
//! [[guardrails]]
//! plugin = "secrets"
//!
//! [guardrails.settings]
//! action = "redact"                  # every rule: redact | flag | block (default redact)
//! rules = { "stripe-test-key" = "redact", "jwt" = "flag", "generic-secret" = "off" }
//! allow_values = ["ghp_the-shared-read-only-demo-token"]   # exact secrets that pass
//! disable_generic = false            # true: no generic-* and bearer-token rules
//!
//! [[guardrails.settings.extra_rules]]  # same shape as a [[rules]] entry of rules.toml
//! id = "acme-token"
//! title = "Acme internal token"
//! keywords = ["acme_"]
//! regex = '\b(ACME_[A-Za-z0-9]{32})\b'
//! entropy = 3.5
//! examples = ["token: ACME_q8FwL2zVr7Kd0sPbX3mN6tYhZk3pW9qv"]
//! ```
//!
//! - `action` applies to every rule, except that a rule may cap it in the rule
//!   file: `stripe-test-key` (`sk_test_` and `rk_test_` keys, which move no real
//!   money) carries `action = "flag"`, so test keys are recorded but left in place,
//!   even when `action` is `block`.
//! - `rules` sets one rule by id, overriding both `action` and the rule's cap; `off`
//!   disables it (also a generic rule turned off by `disable_generic` can be turned
//!   on again here). An unknown id is refused, with the closest ids suggested.
//! - `extra_rules` are checked when the gateway starts, as the built-in rules are by
//!   the unit tests: a new kebab-case id, lowercase keywords, regexes that compile,
//!   a bounded regex within 512 bytes, every example found (not a placeholder, not
//!   below the entropy floor) and no negative.
//!
//! # The rule file
//!
//! `rules.toml` has a `version`, an `[allow]` section (`stopwords` and `patterns`,
//! see above), `[fragments]` (named pieces of regex that rules use as `(?&name)`,
//! such as `assign`, the shape between a name and its value; `extra_rules` may use
//! them too) and the `[[rules]]`, in priority order. A rule ([`rules::RuleDef`]):
//!
//! ```toml
//! [[rules]]
//! id = "github-pat"                    # kebab-case, unique: findings say secrets.<id>
//! title = "GitHub personal access token (classic)"
//! keywords = ["ghp_"]                  # lowercase; every match must contain one
//! regex = '''\b(ghp_[A-Za-z0-9]{36,40})\b'''   # `regex` crate syntax, no look-around
//! secret_group = 1                     # optional: the group that is the secret
//!                                      #   (default: the first group that matched)
//! entropy = 3.0                        # optional: minimum bits per byte of the secret
//! generic = false                      # optional: loses to specific rules
//! action = "flag"                      # optional: the most this rule does by default
//! validate = "jwt"                     # optional: jwt | basic-auth | base64-private-key | base64-jwt
//! allow = ['^ghp_0+$']                 # optional: a secret these match is not reported
//! allow_match = ['(?i)example']        # optional: tried on the whole match and what
//!                                      #   precedes it on its line (up to 64 bytes)
//! examples = ['GITHUB_TOKEN=ghp_...']  # texts it must find a secret in (fake values!)
//! negatives = ['ghp_<token>']          # texts it must find nothing in
//! ```
//!
//! How a scan runs (see [`scan`]): one pass finds every keyword, ASCII
//! case-insensitively (see [`keywords`]: each keyword's three bytes rarest in code,
//! by a table of common trigrams, hashed into a 64 KB table); a text without
//! keywords costs nothing more. A rule's regex
//! runs only where its keywords occur, and is compiled the first time that
//! happens. When every match of a rule begins with one of its keywords (proved from
//! the regex by [`rules::starts_with_keyword`]), the regex is tried anchored at each
//! occurrence, which keeps rules keyed on frequent words (`token`, `password`)
//! cheap; otherwise it searches the text within its maximum length around each
//! occurrence. So, when writing a rule:
//!
//! - choose keywords that are rare in ordinary text, and put the keyword first in
//!   the regex where possible (`(?i:heroku)...` rather than `[\w.]*heroku...`);
//! - bound every repetition (`{8,64}`, `[ \t]{0,4}`) and prefer ASCII classes
//!   (`[!-~&&[^"']]` rather than `[^"']`, which also matches 4-byte characters): a
//!   bounded regex may match at most 512 bytes. Leave a regex unbounded only for
//!   secrets that can be longer (PEM blocks, JWTs, session tokens), as described
//!   under "Streaming";
//! - keep the context (names, `=`, quotes) outside the secret's capture group;
//! - give examples in the shapes the secret takes in code, configs, logs and chat,
//!   and negatives for its look-alikes. Example values must be fake: generate
//!   random ones in the right alphabet (many here contain the marker `FaKe`).
//!
//! The unit tests check every rule: `cargo test -p sluice-plugin-secrets`.
//!
//! # Streaming
//!
//! The plugin declares `MAX_MATCH_LEN = 512`: in a streamed response the gateway
//! holds back the last 512 bytes, and a redaction that straddles the release point
//! moves it back to the redaction's start. A bounded rule matches at most 512
//! bytes, so its secret is complete when found. Longer secrets (private keys, long
//! JWTs, AWS session tokens, Dropbox and Fly.io tokens) come from unbounded rules
//! written so that an unfinished secret at the end of the text already matches from
//! its start (a PEM block's END line and a JWT's signature are optional there): the
//! redaction then reaches the end of what has arrived, and the gateway keeps the
//! secret back until it is complete. What a rule needs before it recognises such a
//! secret (a PEM header and 20 characters of key; a JWT's header and 10 characters
//! of payload) is far shorter than 512 bytes. This protects redactions and blocks;
//! a rule set to `flag` changes nothing in the text, so nothing is held back for it.
//!
//! # Performance
//!
//! `examples/secrets_throughput.rs` measures it natively. `configure` indexes the keywords
//! and compiles every enabled rule's regexes: about 50 ms natively with 165 rules,
//! about twice that with 243 (72 and 150 ms in a debug build with optimised
//! dependencies), and more in the sandbox, once per instance (warm instances are
//! reused), so that no call pays for compiling inside its deadline. Most text has
//! few keywords, so the keyword pass sets the pace: natively, the sandbox
//! benchmark's coding-agent text is scanned at 650 to 900 MB/s, more varied
//! secret-free code and logs (with `token`, `password` and `key` in them) at 200
//! to 300 MB/s, and text with a secret every 2 KB at 55 to 110 MB/s; the sandbox
//! numbers are in docs/benchmarks.md.
//!
//! Findings depend on a segment's text only, so the plugin declares
//! `CacheScope::Segment`.

mod allow;
pub mod entropy;
pub mod fragments;
pub mod keywords;
pub mod rules;
pub mod scan;
mod settled;
pub mod validate;

use allow::Allow;
use rules::{Compiled, Rule, RuleAction, RuleDef};
use scan::Scanner;
use serde::Deserialize;
use sluice_plugin_sdk::{
    Action, CacheScope, Context, Finding, Guardrail, Mode, Segment, Settings, Verdict,
};
use std::collections::BTreeMap;

/// The kind of every finding.
pub const KIND: &str = "secret";

/// The plugin's settings, as written in the gateway config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsSettings {
    #[serde(default = "default_action")]
    action: Mode,
    #[serde(default)]
    rules: BTreeMap<String, Mode>,
    #[serde(default)]
    allow_values: Vec<String>,
    #[serde(default)]
    extra_rules: Vec<RuleDef>,
    #[serde(default)]
    disable_generic: bool,
}

fn default_action() -> Mode {
    Mode::Redact
}

fn rule_action(action: RuleAction) -> Action {
    match action {
        RuleAction::Flag => Action::Flag,
        RuleAction::Redact => Action::Redact,
        RuleAction::Block => Action::Block,
    }
}

/// The `secrets` guardrail.
#[derive(Debug)]
pub struct Secrets {
    scanner: Scanner,
    /// Per rule, in the scanner's order: its action, `None` when off.
    actions: Vec<Option<Action>>,
    /// Per rule: `secrets.<id>`.
    rule_names: Vec<String>,
    /// Per rule: `[SECRET:<id>]`.
    replacements: Vec<String>,
}

impl Default for Secrets {
    fn default() -> Self {
        Secrets::build(SecretsSettings {
            action: Mode::Redact,
            rules: BTreeMap::new(),
            allow_values: Vec::new(),
            extra_rules: Vec::new(),
            disable_generic: false,
        })
        .expect("the built-in rules are valid (checked by the unit tests)")
    }
}

impl Secrets {
    fn build(settings: SecretsSettings) -> Result<Self, String> {
        if settings.action == Mode::Off {
            return Err("action: \"off\" would disable every rule; remove the guardrail instead, or turn rules off one by one in `rules`".into());
        }
        let file = rules::builtin();
        let mut rules: Vec<Rule> = file.rules.into_iter().map(Rule::new).collect();
        for (index, mut def) in settings.extra_rules.into_iter().enumerate() {
            for keyword in &mut def.keywords {
                *keyword = keyword.to_lowercase();
            }
            def.regex = fragments::expand(&def.regex, &file.fragments)
                .map_err(|e| format!("extra_rules[{index}] (id {:?}): regex: {e}", def.id))?;
            let compiled = check_rule(&def, &rules, &file.allow)
                .map_err(|e| format!("extra_rules[{index}] (id {:?}): {e}", def.id))?;
            rules.push(Rule::precompiled(def, compiled));
        }

        let global = settings.action.action().expect("off was refused above");
        let mut actions: Vec<Option<Action>> = rules
            .iter()
            .map(|rule| {
                if settings.disable_generic && rule.def.generic {
                    None
                } else {
                    Some(
                        rule.def
                            .action
                            .map_or(global, |cap| global.min(rule_action(cap))),
                    )
                }
            })
            .collect();
        for (id, mode) in &settings.rules {
            let Some(index) = rules.iter().position(|rule| rule.def.id == *id) else {
                return Err(unknown_rule(id, &rules));
            };
            actions[index] = mode.action();
        }
        let enabled: Vec<bool> = actions.iter().map(Option::is_some).collect();
        let rule_names = rules
            .iter()
            .map(|r| format!("secrets.{}", r.def.id))
            .collect();
        let replacements = rules
            .iter()
            .map(|r| format!("[SECRET:{}]", r.def.id))
            .collect();
        let scanner = Scanner::new(
            rules,
            &enabled,
            Allow::new(file.allow),
            settings.allow_values,
        );
        scanner.compile_enabled();
        Ok(Secrets {
            scanner,
            actions,
            rule_names,
            replacements,
        })
    }

    /// The scanner, with every rule (enabled or not).
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }
}

/// The error for a `rules` entry that names no rule, with the closest ids.
fn unknown_rule(id: &str, rules: &[Rule]) -> String {
    let mut close: Vec<(usize, &str)> = rules
        .iter()
        .map(|r| (edit_distance(id, &r.def.id), r.def.id.as_str()))
        .filter(|(d, other)| *d <= 3 || other.starts_with(id.split('-').next().unwrap_or(id)))
        .collect();
    close.sort();
    let suggestions: Vec<&str> = close.iter().take(5).map(|(_, id)| *id).collect();
    let hint = if suggestions.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", suggestions.join(", "))
    };
    format!(
        "rules: unknown rule `{id}`{hint}; the built-in rule ids are the `id` fields of the \
         secrets plugin's rules.toml (plugins/secrets/rules.toml), and a finding's rule \
         `secrets.<id>` in the audit log names the id to use here"
    )
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// Checks a rule the way `configure` checks extra rules: a new kebab-case id, a
/// title, lowercase keywords, regexes that compile, a valid secret group, and
/// examples that the rule finds (and negatives it does not), with the rule file's
/// allowlist applied. Returns the compiled regexes.
pub fn check_rule(
    def: &RuleDef,
    others: &[Rule],
    allow: &rules::AllowDef,
) -> Result<Compiled, String> {
    if !rules::is_kebab_case(&def.id) {
        return Err("id: must be kebab-case (lowercase letters, digits and dashes)".into());
    }
    if others.iter().any(|r| r.def.id == def.id) {
        return Err("id: a rule with this id exists already".into());
    }
    if def.title.trim().is_empty() {
        return Err("title: must not be empty".into());
    }
    if def.keywords.is_empty() {
        return Err("keywords: give at least one (the regex only runs near them)".into());
    }
    for keyword in &def.keywords {
        if keyword.is_empty() || *keyword != keyword.to_lowercase() {
            return Err(format!(
                "keywords: {keyword:?} must be non-empty and lowercase"
            ));
        }
    }
    if def.entropy.is_some_and(|e| !(0.0..=8.0).contains(&e)) {
        return Err("entropy: must be between 0 and 8 bits per byte".into());
    }
    let compiled = Compiled::new(def)?;
    rules::check_allows(def)?;
    if let Some(len) = compiled.max_len
        && len > rules::MAX_WINDOWED_MATCH
    {
        return Err(format!(
            "regex: can match up to {len} bytes, more than the {} a streamed response holds \
             back; bound it (`{{8,64}}` rather than `+`, `[ \\t]{{0,4}}` rather than `\\s*`, ASCII \
             classes such as `[!-~&&[^\"']]` rather than `[^\"']`), or leave it unbounded on \
             purpose for secrets longer than that",
            rules::MAX_WINDOWED_MATCH
        ));
    }
    if def.examples.is_empty() {
        return Err("examples: give at least one text the rule must find a secret in".into());
    }
    let lone = Scanner::new(
        vec![Rule::precompiled(def.clone(), Compiled::new(def)?)],
        &[true],
        Allow::new(allow.clone()),
        Vec::new(),
    );
    for (i, example) in def.examples.iter().enumerate() {
        if lone.candidates(example).is_empty() {
            return Err(format!(
                "examples[{i}]: the rule finds nothing in it (does the match contain a keyword? is the value a placeholder, or below the entropy floor?)"
            ));
        }
    }
    for (i, negative) in def.negatives.iter().enumerate() {
        if !lone.candidates(negative).is_empty() {
            return Err(format!("negatives[{i}]: the rule finds a secret in it"));
        }
    }
    Ok(compiled)
}

impl Guardrail for Secrets {
    const MAX_MATCH_LEN: u32 = rules::MAX_WINDOWED_MATCH as u32;
    const CACHE_SCOPE: CacheScope = CacheScope::Segment;

    fn configure(settings: &Settings) -> Result<Self, String> {
        Secrets::build(settings.parse()?)
    }

    fn check(&self, _ctx: &Context, segments: &[Segment]) -> Verdict {
        let mut findings = Vec::new();
        for (index, segment) in segments.iter().enumerate() {
            for candidate in self.scanner.scan(&segment.text) {
                let Some(action) = self.actions[candidate.rule] else {
                    continue;
                };
                findings.push(
                    Finding::new(
                        index,
                        candidate.span,
                        KIND,
                        self.rule_names[candidate.rule].clone(),
                        action,
                    )
                    .with_replacement(self.replacements[candidate.rule].clone()),
                );
            }
        }
        let verdict = Verdict::from_findings(findings);
        if verdict.effective_action() == Action::Block {
            let mut ids: Vec<&str> = verdict
                .findings
                .iter()
                .filter(|f| f.action == Action::Block)
                .map(|f| f.rule.trim_start_matches("secrets."))
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let reason = format!("the text contains secrets ({})", ids.join(", "));
            verdict.with_reason(reason)
        } else {
            verdict
        }
    }

    fn settled(&self, segment: &Segment) -> usize {
        settled::settled(&self.scanner, &segment.text)
    }
}

sluice_plugin_sdk::register!(Secrets, name = "secrets");

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_plugin_sdk::testing::{Harness, apply_redactions};
    use sluice_plugin_sdk::{Phase, Segment};

    // Fake values, random apart from their format (none is a credential).
    const GITHUB: &str = "ghp_FaKeZYMmLOPIwFQuYhrsiF8nfMaunlNy5yX0";
    const AWS_ID: &str = "AKIAYNJ5LVFF6UZCRA3N";
    const AWS_SECRET: &str = "uK7Z7GtQbU4WWEOCV81K2LSnAwqRzZHb4gzQt8HQ";
    const ANTHROPIC: &str = "sk-ant-api03-FaKeT0PMPSlWW0Sao-dgPuXJkBGrbwzrzx1vLXEvz4dncnNobfxl4K41gIlp9Qg3l0Ukw4YwrZsAtlYVh1d0szAOZAnV4AA";
    const SLACK: &str = "xoxb-346788994301-4190064589943-wG3yZZyLQdVI4I5c32ssYaj9";
    const STRIPE_TEST: &str = "sk_test_FaKe46eqKEiPdhAHVyfEVpuAkriRoAlU";

    fn secrets() -> Harness<Secrets> {
        Harness::<Secrets>::with_defaults()
    }

    /// The rule ids of the findings in `text`, with the text each one covers.
    fn found(plugin: &Harness<Secrets>, text: &str) -> Vec<(String, String)> {
        plugin
            .check_text(text)
            .findings
            .iter()
            .map(|f| (f.rule.clone(), text[f.span.clone()].to_string()))
            .collect()
    }

    fn config_error(settings: &str) -> String {
        Harness::<Secrets>::configure(settings)
            .err()
            .expect("the settings should be refused")
    }

    #[test]
    fn every_builtin_rule_passes_its_checks() {
        // Per rule: kebab-case id not used before, a title, lowercase keywords, regexes
        // that compile, a bounded regex within MAX_WINDOWED_MATCH, every example found
        // by the rule alone and no negative.
        let file = rules::builtin();
        allow::Allow::validate(&file.allow).unwrap();
        let mut checked: Vec<Rule> = Vec::new();
        let mut errors = Vec::new();
        for def in file.rules {
            if let Err(e) = check_rule(&def, &checked, &file.allow) {
                errors.push(format!("{}: {e}", def.id));
            }
            checked.push(Rule::new(def));
        }
        assert!(
            errors.is_empty(),
            "{} rules fail:\n{}",
            errors.len(),
            errors.join("\n")
        );
    }

    #[test]
    fn the_rule_set_is_broad_and_its_ids_unique() {
        let file = rules::builtin();
        assert!(file.rules.len() >= 100, "{} rules", file.rules.len());
        let mut ids: Vec<&str> = file.rules.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate rule ids");
        for rule in &file.rules {
            assert!(rules::is_kebab_case(&rule.id), "{}", rule.id);
            for keyword in &rule.keywords {
                assert_eq!(
                    *keyword,
                    keyword.to_lowercase(),
                    "{}: keyword {keyword:?}",
                    rule.id
                );
            }
            assert!(!rule.examples.is_empty(), "{} has no example", rule.id);
        }
        assert!(!file.version.is_empty());
    }

    #[test]
    fn every_rule_is_in_the_documented_table_of_formats() {
        // docs/guardrails.md lists every rule ("Formats covered"; regenerate the
        // table with `python3 eval/rules_table.py`).
        let docs = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/guardrails.md"
        ))
        .expect("docs/guardrails.md");
        let missing: Vec<String> = rules::builtin()
            .rules
            .iter()
            .map(|rule| rule.id.clone())
            .filter(|id| !docs.contains(&format!("| `{id}` |")))
            .collect();
        assert!(
            missing.is_empty(),
            "rules missing from the table in docs/guardrails.md: {missing:?}"
        );
    }

    #[test]
    fn rules_on_frequent_words_take_the_fast_path() {
        // Rules whose keywords are common words run anchored at each keyword; a
        // change that loses this (context before the keyword) would slow every scan.
        let file = rules::builtin();
        for id in [
            "generic-password",
            "generic-secret",
            "sql-password",
            "bearer-token",
            "basic-auth-header",
            "sk-api-key",
            "openai-api-key",
            "sendgrid-api-key",
            "vault-token",
            "notion-token",
            "airtable-token",
            "jwt",
            "private-key",
        ] {
            let def = file.rules.iter().find(|r| r.id == id).unwrap();
            assert!(
                Compiled::new(def).unwrap().keyword_first,
                "{id} is not keyword-first"
            );
        }
    }

    #[test]
    fn every_example_is_reported_with_defaults() {
        // With all rules together, each example still yields a finding (from its own
        // rule or from a more specific one that covers the same text).
        let plugin = secrets();
        for rule in rules::builtin().rules {
            for example in &rule.examples {
                let verdict = plugin.check_text(example);
                assert!(
                    !verdict.findings.is_empty(),
                    "{}: nothing found in {example:?}",
                    rule.id
                );
            }
        }
    }

    #[test]
    fn redacts_with_the_rule_id_as_placeholder() {
        let plugin = secrets();
        let text = format!("export GITHUB_TOKEN={GITHUB}\naws_secret_access_key = {AWS_SECRET}\n");
        assert_eq!(
            plugin.redact(&text),
            "export GITHUB_TOKEN=[SECRET:github-pat]\naws_secret_access_key = [SECRET:aws-secret-access-key]\n"
        );
        let verdict = plugin.check_text(&text);
        assert_eq!(verdict.effective_action(), Action::Redact);
        assert!(verdict.findings.iter().all(|f| f.kind == KIND));
        assert_eq!(verdict.findings[0].rule, "secrets.github-pat");
    }

    #[test]
    fn responses_are_redacted_too() {
        let plugin = secrets();
        let verdict = plugin.check_text_in(Phase::Response, &format!("Your key is {ANTHROPIC}."));
        assert_eq!(verdict.effective_action(), Action::Redact);
        assert_eq!(verdict.findings[0].rule, "secrets.anthropic-api-key");
    }

    #[test]
    fn spans_are_exact_utf8_byte_offsets_around_non_ascii_text() {
        let plugin = secrets();
        let text = format!(
            "Clé d’accès — 日本語のテキスト 🔑: {GITHUB} ✓ puis «slack» {SLACK}… und ÄÖÜ password = \"Zk3#pW9q!vL2\" 🎉"
        );
        let found = found(&plugin, &text);
        assert_eq!(
            found,
            vec![
                ("secrets.github-pat".to_string(), GITHUB.to_string()),
                ("secrets.slack-bot-token".to_string(), SLACK.to_string()),
                (
                    "secrets.generic-password".to_string(),
                    "Zk3#pW9q!vL2".to_string()
                ),
            ]
        );
        let verdict = plugin.check_text(&text);
        let github = text.find(GITHUB).unwrap();
        assert_eq!(verdict.findings[0].span, github..github + GITHUB.len());
        assert_eq!(
            apply_redactions(&text, &verdict.findings),
            "Clé d’accès — 日本語のテキスト 🔑: [SECRET:github-pat] ✓ puis «slack» [SECRET:slack-bot-token]… und ÄÖÜ password = \"[SECRET:generic-password]\" 🎉"
        );
    }

    #[test]
    fn look_alikes_are_not_secrets() {
        let plugin = secrets();
        let text = r#"
commit 9fceb02d0ae598e95dc970b74767f19372d61af8
Merge: 1a2b3c4 5d6e7f8
request_id=3f2b8c1e-9a4d-4e6f-8b7a-2c1d0e9f8a7b trace_id: 4bf92f3577b34da6a3ce929d0e0e4736
sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
md5 = "5d41402abc4b2a76b9719d911017c592"
"integrity": "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
image: ghcr.io/acme/api@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
data = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
version = "1.42.0-rc.3+build.2024.11.05"  "react": "^18.3.1"  python_requires=">=3.9,<4"
color: #1f77b4; uuid = 123e4567-e89b-12d3-a456-426614174000
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv0W6uK3m1WJ3qP1dmHc8mH0qkLq5d3yD8e3qsc6K7X dev@laptop
OPENAI_API_KEY=YOUR_API_KEY
api_key = "sk-..."
ANTHROPIC_API_KEY=sk-ant-xxxxxxxxxxxxxxxxxxxxxxxx
token = "xxxxxxxxxxxxxxxxxxxxxxxxxxxx"
Authorization: Bearer <token>
GITHUB_TOKEN=${GITHUB_TOKEN}
token: ${{ secrets.NPM_TOKEN }}
api_key = process.env.OPENAI_API_KEY
api_key = os.environ["OPENAI_API_KEY"]
password = "changeme"
SECRET_KEY = "django-insecure-change-me-in-production"
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
max_tokens = 4096, "total_tokens": 1234, tokenizer = AutoTokenizer.from_pretrained("gpt2")
password = ""
password: str
token = None
token = get_token()
password = "${DB_PASSWORD}"
postgres://postgres:postgres@localhost:5432/app
See https://docs.example.com/auth#tokens and the password reset page.
"#;
        let found = found(&plugin, text);
        assert!(found.is_empty(), "look-alikes reported: {found:?}");
    }

    #[test]
    fn generic_assignments_in_makefile_go_php_and_xml_shapes_are_found() {
        let plugin = secrets();
        let value = "q8FwL2zVr7Kd0sPbX3mN6tYh";
        for text in [
            format!("DEPLOY_TOKEN ?= \"{value}\""),
            format!("DEPLOY_TOKEN ::= {value}"),
            format!("DEPLOY_TOKEN :::= {value}"),
            format!("var deployToken string = \"{value}\""),
            format!("const deployToken: string = '{value}';"),
            format!("$deployToken .= \"{value}\";"),
            format!("<apiKey>\n    {value}\n</apiKey>"),
            format!("  <db-password>\r\n\t{value}\r\n  </db-password>"),
        ] {
            let found = found(&plugin, &text);
            assert_eq!(found.len(), 1, "{text:?}: {found:?}");
            assert_eq!(found[0].1, value, "{text:?}");
        }
    }

    #[test]
    fn a_value_is_never_taken_from_the_next_line() {
        let plugin = secrets();
        for text in [
            "GITHUB_API_KEY=\nDYNATRACE_API_KEY=",
            "GITHUB_API_KEY=\r\nDYNATRACE_API_KEY=\r\n",
            "SECRET_KEY =\nq8FwL2zVr7Kd0sPbX3mN6tYh",
            "DB_PASSWORD:\n\tzd718mGpzagD5m",
            // The XML shape crosses one line break each side, no more.
            "<apiKey>\n\n    q8FwL2zVr7Kd0sPbX3mN6tYh\n</apiKey>",
        ] {
            assert_eq!(found(&plugin, text), vec![], "{text:?}");
        }
        // The assignment on the next line is still read on its own.
        assert_eq!(
            found(
                &plugin,
                "GITHUB_API_KEY=\nDYNATRACE_API_KEY=q8FwL2zVr7Kd0sPbX3mN6tYh"
            ),
            vec![(
                "secrets.generic-secret".to_string(),
                "q8FwL2zVr7Kd0sPbX3mN6tYh".to_string()
            )]
        );
    }

    #[test]
    fn identifiers_masked_values_and_placeholders_are_not_secrets() {
        let plugin = secrets();
        for text in [
            "token: ParseTokenFromHeader",
            "token: ParseTokenFromHeaderV2",
            "api_token = getTokenForUser2",
            "slack_token: 'xoxp-493817265034-582716349021-49381726503-####################'",
            "SLACK_TOKEN=xoxp-…-####################",
            "api_key = \"sk-proj-****************************abcd\"",
            "api_token = \"xxxxxxxxxxxxxxxxxxxx\"",
            "ANTHROPIC_API_KEY=sk-ant-api03-abc123xyz-456def789…",
            "ANTHROPIC_API_KEY=sk-ant-api03-abc123xyz-456def789ghi012jkl345mno678pqr901stu234vwx567yz890qwErtyuiopasdfghjklzxcvbnmQWE-rtyAA",
            "api_key = <your-key>",
            "API_KEY=${API_KEY}",
            "secret_key: changeme",
            "API_KEY=your_api_key_here",
        ] {
            assert_eq!(found(&plugin, text), vec![], "{text:?}");
        }
    }

    #[test]
    fn specific_rules_win_over_generic_ones() {
        let plugin = secrets();
        let found = found(&plugin, &format!("api_token = \"{SLACK}\""));
        assert_eq!(
            found,
            vec![("secrets.slack-bot-token".to_string(), SLACK.to_string())]
        );
    }

    #[test]
    fn stripe_test_keys_are_only_flagged() {
        let plugin = secrets();
        let text = format!("STRIPE_KEY={STRIPE_TEST}");
        let verdict = plugin.check_text(&text);
        assert_eq!(verdict.findings.len(), 1);
        assert_eq!(verdict.findings[0].action, Action::Flag);
        assert_eq!(plugin.redact(&text), text);
        // The rule's ceiling applies under `block` too; an explicit setting overrides it.
        let block = Harness::<Secrets>::configure(r#"{"action": "block"}"#).unwrap();
        assert_eq!(block.check_text(&text).findings[0].action, Action::Flag);
        let explicit =
            Harness::<Secrets>::configure(r#"{"rules": {"stripe-test-key": "redact"}}"#).unwrap();
        assert_eq!(
            explicit.redact(&text),
            "STRIPE_KEY=[SECRET:stripe-test-key]"
        );
    }

    #[test]
    fn block_gives_a_reason_without_the_secret() {
        let plugin = Harness::<Secrets>::configure(r#"{"action": "block"}"#).unwrap();
        let verdict = plugin.check_text(&format!("key {AWS_ID} and {GITHUB}"));
        assert_eq!(verdict.effective_action(), Action::Block);
        let reason = verdict.reason.unwrap();
        assert_eq!(
            reason,
            "the text contains secrets (aws-access-key-id, github-pat)"
        );
        assert!(!reason.contains(GITHUB));
    }

    #[test]
    fn rules_can_be_set_one_by_one() {
        let plugin = Harness::<Secrets>::configure(
            r#"{"rules": {"github-pat": "off", "aws-access-key-id": "flag", "slack-bot-token": "block"}}"#,
        )
        .unwrap();
        let text = format!("{GITHUB} {AWS_ID}");
        let verdict = plugin.check_text(&text);
        assert_eq!(verdict.findings.len(), 1);
        assert_eq!(verdict.findings[0].rule, "secrets.aws-access-key-id");
        assert_eq!(verdict.findings[0].action, Action::Flag);
        assert_eq!(plugin.check_text(SLACK).effective_action(), Action::Block);
    }

    #[test]
    fn unknown_rule_ids_are_refused_with_suggestions() {
        let err = config_error(r#"{"rules": {"github-token": "off"}}"#);
        assert!(err.contains("unknown rule `github-token`"), "{err}");
        assert!(err.contains("github-pat"), "{err}");
        let err = config_error(r#"{"rules": {"zzz": "off"}}"#);
        assert!(err.contains("unknown rule `zzz`"), "{err}");
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(config_error(r#"{"action": "off"}"#).contains("off"));
        assert!(config_error(r#"{"action": "shred"}"#).contains("shred"));
        assert!(config_error(r#"{"rule": {}}"#).contains("rule"));
        assert!(config_error(r#"{"rules": {"github-pat": "maybe"}}"#).contains("maybe"));
    }

    #[test]
    fn allow_values_pass() {
        let settings = format!(r#"{{"allow_values": ["{GITHUB}"]}}"#);
        let plugin = Harness::<Secrets>::configure(&settings).unwrap();
        let text = format!("{GITHUB} {AWS_ID}");
        assert_eq!(
            plugin.redact(&text),
            format!("{GITHUB} [SECRET:aws-access-key-id]")
        );
    }

    #[test]
    fn generic_rules_can_be_disabled() {
        let text = "DB_PASSWORD=Zk3pW9qvL2x7 and api_key = \"q8FwL2zVr7Kd0sPb\"";
        assert_eq!(
            secrets().redact(text),
            "DB_PASSWORD=[SECRET:generic-password] and api_key = \"[SECRET:generic-secret]\""
        );
        let plugin = Harness::<Secrets>::configure(r#"{"disable_generic": true}"#).unwrap();
        assert_eq!(plugin.redact(text), text);
        // A generic rule named explicitly is on again.
        let plugin = Harness::<Secrets>::configure(
            r#"{"disable_generic": true, "rules": {"generic-password": "redact"}}"#,
        )
        .unwrap();
        assert_eq!(
            plugin.redact(text),
            "DB_PASSWORD=[SECRET:generic-password] and api_key = \"q8FwL2zVr7Kd0sPb\""
        );
    }

    fn extra_rule(regex: &str, example: &str) -> String {
        format!(
            r#"{{"extra_rules": [{{"id": "acme-token", "title": "Acme internal token", "keywords": ["ACME_"], "regex": {regex:?}, "examples": [{example:?}]}}]}}"#
        )
    }

    #[test]
    fn extra_rules_are_checked_and_used() {
        let settings = extra_rule(
            r"\b(ACME_[A-Za-z0-9]{24})\b",
            "token: ACME_q8FwL2zVr7Kd0sPbX3mN6tYh",
        );
        let plugin = Harness::<Secrets>::configure(&settings).unwrap();
        assert_eq!(
            plugin.redact("use ACME_Zk3pW9qvL2x7Lm4nB8cD1eFg now"),
            "use [SECRET:acme-token] now"
        );
        // It can be set like a built-in rule.
        let mut with_mode: String = settings.trim_end_matches('}').to_string();
        with_mode.push_str(r#", "rules": {"acme-token": "block"}}"#);
        let plugin = Harness::<Secrets>::configure(&with_mode).unwrap();
        assert_eq!(
            plugin
                .check_text("ACME_Zk3pW9qvL2x7Lm4nB8cD1eFg")
                .effective_action(),
            Action::Block
        );
    }

    #[test]
    fn the_documented_settings_are_accepted() {
        // The example in the crate documentation, as JSON.
        let plugin = Harness::<Secrets>::configure(
            r#"{"action": "redact",
                "rules": {"stripe-test-key": "redact", "jwt": "flag", "generic-secret": "off"},
                "allow_values": ["ghp_the-shared-read-only-demo-token"],
                "disable_generic": false,
                "extra_rules": [{"id": "acme-token", "title": "Acme internal token",
                    "keywords": ["acme_"], "regex": "\\b(ACME_[A-Za-z0-9]{32})\\b",
                    "entropy": 3.5, "examples": ["token: ACME_q8FwL2zVr7Kd0sPbX3mN6tYhZk3pW9qv"]}]}"#,
        )
        .unwrap();
        assert_eq!(
            plugin.redact("ACME_Zk3pW9qvL2x7Lm4nB8cD1eFgHj5kRt2u"),
            "[SECRET:acme-token]"
        );
    }

    #[test]
    fn bad_extra_rules_are_refused_with_the_reason() {
        let err = config_error(&extra_rule(
            r"\b(ACME_[A-Za-z0-9]{24}",
            "ACME_q8FwL2zVr7Kd0sPbX3mN6tYh",
        ));
        assert!(
            err.contains("extra_rules[0]") && err.contains("regex"),
            "{err}"
        );
        let err = config_error(&extra_rule(r"\b(ACME_[A-Za-z0-9]{24})\b", "ACME_short"));
        assert!(err.contains("examples[0]"), "{err}");
        let err = config_error(&extra_rule(
            r"\b(ACME_[A-Za-z0-9]{24})\b",
            "ACME_xxxxxxxxxxxxxxxxxxxxxxxx",
        ));
        assert!(err.contains("placeholder"), "{err}");
        let err = config_error(&extra_rule(
            r"(ACME_[A-Za-z0-9]{24,2000})",
            "ACME_q8FwL2zVr7Kd0sPbX3mN6tYh",
        ));
        assert!(err.contains("512"), "{err}");
        let err = config_error(
            r#"{"extra_rules": [{"id": "github-pat", "title": "t", "keywords": ["x"], "regex": "x", "examples": ["x"]}]}"#,
        );
        assert!(err.contains("exists already"), "{err}");
        let err = config_error(
            r#"{"extra_rules": [{"id": "Acme", "title": "t", "keywords": ["x"], "regex": "x", "examples": ["x"]}]}"#,
        );
        assert!(err.contains("kebab-case"), "{err}");
        let err = config_error(
            r#"{"extra_rules": [{"id": "acme", "title": "t", "keywords": ["x"], "regex": "(x)", "secret_group": 2, "examples": ["x"]}]}"#,
        );
        assert!(err.contains("secret_group"), "{err}");
        let err = config_error(
            r#"{"extra_rules": [{"id": "acme", "title": "t", "keywords": ["x"], "regex": "x", "examples": ["x"], "allow": ["("]}]}"#,
        );
        assert!(err.contains("allow"), "{err}");
        let err = config_error(
            r#"{"extra_rules": [{"id": "acme", "title": "t", "keywords": ["x"], "regex": "x", "examples": ["x"], "colour": "red"}]}"#,
        );
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn every_segment_is_scanned() {
        let plugin = secrets();
        let segments = [
            Segment::user("nothing here"),
            Segment::user(format!("token {GITHUB}")),
        ];
        let verdict = plugin.check(
            &sluice_plugin_sdk::Context::request("@test/model"),
            &segments,
        );
        assert_eq!(verdict.findings.len(), 1);
        assert_eq!(verdict.findings[0].segment, 1);
    }

    #[test]
    fn an_unfinished_long_secret_at_the_end_of_a_text_is_found_from_its_start() {
        // What a streamed response looks like while a private key or JWT is still
        // arriving: the finding reaches the end of the text, so the gateway holds it.
        let plugin = secrets();
        let partial = "Here it is:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACD";
        let verdict = plugin.check_text(partial);
        assert_eq!(verdict.findings.len(), 1);
        assert_eq!(
            verdict.findings[0].span.start,
            partial.find("-----BEGIN").unwrap()
        );
        assert_eq!(verdict.findings[0].span.end, partial.len());
        let jwt =
            "token: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxOTAwMDAw";
        let verdict = plugin.check_text(jwt);
        assert_eq!(verdict.findings[0].rule, "secrets.jwt");
        assert_eq!(verdict.findings[0].span.end, jwt.len());
        // the same JWT base64-encoded once more, cut inside its header
        let encoded =
            "AUTH_TOKEN_B64: ZXlKaGJHY2lPaUpJVXpJMU5pSXNJblI1Y0NJNklrcFhWQ0o5LmV5SnpkV0lp";
        let verdict = plugin.check_text(encoded);
        assert_eq!(verdict.findings[0].rule, "secrets.jwt-base64");
        assert_eq!(
            verdict.findings[0].span.start,
            encoded.find("ZXlK").unwrap()
        );
        assert_eq!(verdict.findings[0].span.end, encoded.len());
    }

    #[test]
    fn declares_its_streaming_window_and_cache_scope() {
        assert_eq!(Secrets::MAX_MATCH_LEN as usize, rules::MAX_WINDOWED_MATCH);
        assert_eq!(Secrets::CACHE_SCOPE, CacheScope::Segment);
    }
}
