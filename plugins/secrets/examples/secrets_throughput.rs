//! Native throughput check for the `secrets` guardrail: scans about 1 MB of
//! secret-free code- and log-like text, then the same text with a secret every
//! ~2 KB, then the six-line agent text of the sandbox benchmark
//! (`host/benches/sandbox.rs`), and prints MB/s and how long `configure` takes.
//! Not a test; run it with
//! `cargo run --release -p sluice-plugin-secrets --example secrets_throughput`.

use sluice_plugin_sdk::{Context, Guardrail, Segment, Settings};
use sluice_plugin_secrets::{Secrets, rules};
use std::time::{Duration, Instant};

/// A small deterministic generator, so every run scans the same text.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() as usize % items.len()]
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.next() as usize % 16]))
            .collect()
    }
    fn b64(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        (0..n)
            .map(|_| char::from(A[self.next() as usize % 64]))
            .collect()
    }
}

/// One block of secret-free text: source code, logs, JSON, prose, with the usual
/// look-alikes (hashes, UUIDs, base64, versions) and benign uses of words like
/// `token`, `password` and `key`.
fn block(rng: &mut Lcg) -> String {
    let uuid = format!(
        "{}-{}-4{}-a{}-{}",
        rng.hex(8),
        rng.hex(4),
        rng.hex(3),
        rng.hex(3),
        rng.hex(12)
    );
    let sha = rng.hex(40);
    match rng.next() % 8 {
        0 => format!(
            "def handle_request(request, user_id: int) -> Response:\n    \"\"\"Look up the user and render the page.\"\"\"\n    token = request.headers.get(\"Authorization\")\n    if not token:\n        raise PermissionDenied(\"missing bearer token\")\n    user = User.objects.get(pk=user_id)\n    logger.info(\"loaded user %s in %.2f ms\", user.id, elapsed)\n    return render(request, \"profile.html\", {{\"user\": user, \"items\": items[:{}]}})\n\n",
            rng.next() % 100
        ),
        1 => format!(
            "2024-11-05T14:{:02}:{:02}.{:03}Z INFO  [worker-{}] request_id={} method=GET path=/api/v2/orders/{} status=200 duration_ms={} bytes={}\n2024-11-05T14:{:02}:{:02}.118Z WARN  [worker-{}] retrying upstream https://api.internal.acme.io/v1/items?page={} attempt=2 trace_id={}\n",
            rng.next() % 60,
            rng.next() % 60,
            rng.next() % 1000,
            rng.next() % 16,
            uuid,
            rng.next() % 99999,
            rng.next() % 900,
            rng.next() % 90000,
            rng.next() % 60,
            rng.next() % 60,
            rng.next() % 16,
            rng.next() % 40,
            rng.hex(32)
        ),
        2 => format!(
            "commit {sha}\nAuthor: Jane Developer <jane@acme.io>\nDate:   Tue Nov 5 14:03:22 2024 +0100\n\n    Fix password reset flow when the token has expired ({})\n\n diff --git a/src/auth.rs b/src/auth.rs\n index {}..{} 100644\n",
            rng.pick(&["#4312", "closes #88", "see review"]),
            rng.hex(7),
            rng.hex(7)
        ),
        3 => format!(
            "{{\"id\": \"{uuid}\", \"object\": \"chat.completion\", \"model\": \"gpt-4o-mini\", \"usage\": {{\"prompt_tokens\": {}, \"completion_tokens\": {}, \"total_tokens\": {}}}, \"choices\": [{{\"index\": 0, \"message\": {{\"role\": \"assistant\", \"content\": \"The key idea is to keep the API key in an environment variable, never in code.\"}}}}]}}\n",
            rng.next() % 4000,
            rng.next() % 1000,
            rng.next() % 5000
        ),
        4 => format!(
            "const config = {{\n  apiKey: process.env.OPENAI_API_KEY,\n  baseURL: \"https://api.openai.com/v1\",\n  maxTokens: {},\n  version: \"{}.{}.{}\",\n  integrity: \"sha512-{}==\",\n}};\nexport async function fetchToken(client) {{\n  const res = await client.post(\"/oauth/token\", {{ grant_type: \"client_credentials\" }});\n  return res.data.access_token;\n}}\n",
            rng.next() % 8192,
            rng.next() % 5,
            rng.next() % 30,
            rng.next() % 20,
            rng.b64(86)
        ),
        5 => format!(
            "Traceback (most recent call last):\n  File \"/usr/lib/python3.12/site-packages/requests/adapters.py\", line {}, in send\n    resp = conn.urlopen(method=request.method, url=url, body=request.body)\nrequests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.acme.io', port=443): Max retries exceeded\nimage: ghcr.io/acme/api@sha256:{}\n",
            rng.next() % 700,
            rng.hex(64)
        ),
        6 => format!(
            "The password policy requires twelve characters; rotate the secret every 90 days and store keys in the vault. Übersicht: Schlüssel werden nie im Klartext gespeichert — 鍵は環境変数に置いてください。 Checksum md5 {} and blob {}.\n",
            rng.hex(32),
            rng.b64(60)
        ),
        _ => format!(
            "services:\n  api:\n    image: acme/api:{}.{}.{}\n    environment:\n      DATABASE_URL: ${{DATABASE_URL}}\n      REDIS_URL: redis://cache:6379/0\n      LOG_LEVEL: info\n    ports:\n      - \"8080:8080\"\n",
            rng.next() % 4,
            rng.next() % 20,
            rng.next() % 10
        ),
    }
}

fn secret_free(bytes: usize) -> String {
    let mut rng = Lcg(42);
    let mut text = String::with_capacity(bytes + 4096);
    while text.len() < bytes {
        text.push_str(&block(&mut rng));
    }
    text
}

/// The secret-free text with a secret every ~2 KB: the rule file's examples,
/// round-robin (an example may hold two secrets, such as a key ID and its key).
/// Returns the text and the number of examples inserted.
fn secret_dense(bytes: usize) -> (String, usize) {
    let examples: Vec<String> = rules::builtin()
        .rules
        .into_iter()
        .flat_map(|r| r.examples)
        .collect();
    let mut rng = Lcg(42);
    let mut text = String::with_capacity(bytes + 8192);
    let mut next_secret = 2048;
    let mut inserted = 0;
    while text.len() < bytes {
        text.push_str(&block(&mut rng));
        if text.len() >= next_secret {
            text.push('\n');
            text.push_str(&examples[inserted % examples.len()]);
            text.push('\n');
            inserted += 1;
            next_secret += 2048;
        }
    }
    (text, inserted)
}

/// Scans `text` split into segments of about `segment` bytes (as chat messages
/// would be), `rounds` times; returns MB/s and the findings of one round.
fn measure(plugin: &Secrets, text: &str, segment: usize, rounds: usize) -> (f64, usize) {
    let mut segments = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + segment).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        // Cut at a line end so that no secret is split between segments.
        if let Some(nl) = text[end..].find('\n') {
            end += nl + 1;
        } else {
            end = text.len();
        }
        segments.push(Segment::user(&text[start..end]));
        start = end;
    }
    let ctx = Context::request("@bench/model");
    let findings = plugin.check(&ctx, &segments).findings.len();
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(plugin.check(&ctx, &segments));
    }
    let secs = started.elapsed().as_secs_f64();
    ((text.len() * rounds) as f64 / secs / 1e6, findings)
}

fn main() {
    let settings = Settings::new("{}");
    let mut best = Duration::MAX;
    for _ in 0..20 {
        let started = Instant::now();
        let plugin = Secrets::configure(&settings).expect("default settings");
        best = best.min(started.elapsed());
        std::hint::black_box(plugin);
    }
    println!(
        "configure(): {:.2} ms (best of 20)",
        best.as_secs_f64() * 1e3
    );

    let plugin = Secrets::configure(&settings).unwrap();
    let clean = secret_free(1 << 20);
    let (dense, inserted) = secret_dense(1 << 20);
    let started = Instant::now();
    let _ = measure(&plugin, &dense, 1 << 20, 0);
    println!(
        "first scan of the dense text (compiles the regexes of every triggered rule): {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    for segment in [4 << 10, 1 << 20] {
        let (clean_mbs, clean_findings) = measure(&plugin, &clean, segment, 20);
        let (dense_mbs, dense_findings) = measure(&plugin, &dense, segment, 20);
        println!(
            "segments of ~{} KB: secret-free {:.1} MB/s ({} findings, all false positives), \
             secret every ~2 KB {:.1} MB/s ({} findings for {} examples inserted)",
            segment >> 10,
            clean_mbs,
            clean_findings,
            dense_mbs,
            dense_findings,
            inserted
        );
    }
    for len in [32 << 10, 1 << 20] {
        let text = sluice_plugin_sdk::testing::agent_text(len);
        let rounds = (64 << 20) / len;
        let (mbs, findings) = measure(&plugin, &text, len, rounds);
        println!(
            "sandbox agent text, one segment of {} KB: {:.1} MB/s ({} findings)",
            len >> 10,
            mbs,
            findings
        );
    }
}
