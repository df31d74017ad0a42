//! What tokens cost: a built-in table of common OpenAI, Anthropic, Gemini and
//! Amazon Nova models, extended or overridden by the config's `[pricing]`.
//!
//! A model is looked up as `@provider/model`, then by its name, in the config
//! first; then in the built-in table by name, or by the longest entry that the
//! name starts with followed by `-` (so `claude-sonnet-4-5-20250929` is priced
//! as `claude-sonnet-4-5`, and `gpt-4o-mini-2024-07-18` as `gpt-4o-mini`, not
//! `gpt-4o`). The clouds' ids are looked up in the table by the model's own
//! name: Bedrock's `us.anthropic.claude-sonnet-4-5-20250929-v1:0` and Vertex
//! AI's `claude-sonnet-4-5@20250929` as `claude-sonnet-4-5`. A model found
//! nowhere costs nothing and is reported as unpriced.

use super::usage::Usage;
use crate::config::PriceConfig;
use std::collections::BTreeMap;

/// Dollars per million tokens: input, output, cache read, cache write.
type Row = (&'static str, f64, f64, f64, f64);

/// List prices in US dollars per million tokens, as published by OpenAI and
/// Anthropic (checked 2026-11). Anthropic's cache writes are the 5-minute
/// rate (1.25× input); its cache reads 0.1× input. Override in `[pricing]`.
const BUILT_IN: &[Row] = &[
    // OpenAI
    ("gpt-5", 1.25, 10.0, 0.125, 1.25),
    ("gpt-5-mini", 0.25, 2.0, 0.025, 0.25),
    ("gpt-5-nano", 0.05, 0.40, 0.005, 0.05),
    ("gpt-4.1", 2.0, 8.0, 0.50, 2.0),
    ("gpt-4.1-mini", 0.40, 1.60, 0.10, 0.40),
    ("gpt-4.1-nano", 0.10, 0.40, 0.025, 0.10),
    ("gpt-4o", 2.50, 10.0, 1.25, 2.50),
    ("gpt-4o-mini", 0.15, 0.60, 0.075, 0.15),
    ("gpt-4-turbo", 10.0, 30.0, 10.0, 10.0),
    ("gpt-3.5-turbo", 0.50, 1.50, 0.50, 0.50),
    ("o1", 15.0, 60.0, 7.50, 15.0),
    ("o3", 2.0, 8.0, 0.50, 2.0),
    ("o3-mini", 1.10, 4.40, 0.55, 1.10),
    ("o4-mini", 1.10, 4.40, 0.275, 1.10),
    // Anthropic
    ("claude-opus-4-5", 5.0, 25.0, 0.50, 6.25),
    ("claude-opus-4-1", 15.0, 75.0, 1.50, 18.75),
    ("claude-opus-4", 15.0, 75.0, 1.50, 18.75),
    ("claude-sonnet-4-5", 3.0, 15.0, 0.30, 3.75),
    ("claude-sonnet-4", 3.0, 15.0, 0.30, 3.75),
    ("claude-haiku-4-5", 1.0, 5.0, 0.10, 1.25),
    ("claude-3-7-sonnet", 3.0, 15.0, 0.30, 3.75),
    ("claude-3-5-sonnet", 3.0, 15.0, 0.30, 3.75),
    ("claude-3-5-haiku", 0.80, 4.0, 0.08, 1.0),
    ("claude-3-opus", 15.0, 75.0, 1.50, 18.75),
    ("claude-3-haiku", 0.25, 1.25, 0.03, 0.30),
    // Google Gemini (prompts up to 200k tokens; cache storage is billed
    // apart, so a cache write costs the input rate)
    ("gemini-3-pro", 2.0, 12.0, 0.20, 2.0),
    ("gemini-2.5-pro", 1.25, 10.0, 0.125, 1.25),
    ("gemini-2.5-flash", 0.30, 2.50, 0.03, 0.30),
    ("gemini-2.5-flash-lite", 0.10, 0.40, 0.01, 0.10),
    ("gemini-2.0-flash", 0.10, 0.40, 0.025, 0.10),
    ("gemini-2.0-flash-lite", 0.075, 0.30, 0.075, 0.075),
    // Amazon Nova on Bedrock
    ("nova-premier", 2.50, 12.50, 0.625, 2.50),
    ("nova-pro", 0.80, 3.20, 0.20, 0.80),
    ("nova-lite", 0.06, 0.24, 0.015, 0.06),
    ("nova-micro", 0.035, 0.14, 0.00875, 0.035),
];

/// The regional prefixes of Bedrock's cross-region inference profiles.
const BEDROCK_REGIONS: &[&str] = &["us", "eu", "apac", "global", "jp", "au", "ca", "us-gov"];

/// The name the built-in table knows a cloud's model id by: Bedrock's
/// `us.anthropic.claude-sonnet-4-5-20250929-v1:0` as
/// `claude-sonnet-4-5-20250929-v1:0` (its region and vendor prefixes off),
/// Vertex AI's `claude-sonnet-4-5@20250929` as `claude-sonnet-4-5-20250929`.
fn table_name(model: &str) -> std::borrow::Cow<'_, str> {
    let mut name = model;
    if let Some((region, rest)) = name.split_once('.')
        && BEDROCK_REGIONS.contains(&region)
    {
        name = rest;
    }
    if let Some((vendor, rest)) = name.split_once('.')
        && !vendor.is_empty()
        && vendor.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && !rest.is_empty()
    {
        name = rest;
    }
    if name.contains('@') {
        name.replace('@', "-").into()
    } else {
        name.into()
    }
}

/// The price of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    input: f64,
    output: f64,
    cache_read: f64,
    cache_write: f64,
}

impl From<&PriceConfig> for Price {
    fn from(p: &PriceConfig) -> Self {
        Price {
            input: p.input,
            output: p.output,
            cache_read: p.cache_read.unwrap_or(p.input),
            cache_write: p.cache_write.unwrap_or(p.input),
        }
    }
}

impl Price {
    /// The cost of `usage`, in billionths of a dollar, rounded.
    pub fn cost_nanos(&self, usage: &Usage) -> i64 {
        // $1 per million tokens is 1,000 nano-dollars per token.
        let nanos = 1000.0
            * (usage.input_tokens as f64 * self.input
                + usage.output_tokens as f64 * self.output
                + usage.cache_read_tokens as f64 * self.cache_read
                + usage.cache_write_tokens as f64 * self.cache_write);
        nanos.round() as i64
    }
}

/// The prices the gateway knows.
#[derive(Debug, Clone, Default)]
pub struct Pricing {
    configured: BTreeMap<String, Price>,
}

impl Pricing {
    /// The built-in table with the config's `[pricing]` on top.
    pub fn new(configured: &BTreeMap<String, PriceConfig>) -> Self {
        Pricing {
            configured: configured
                .iter()
                .map(|(k, v)| (k.clone(), Price::from(v)))
                .collect(),
        }
    }

    /// The price of `model` served by `provider` (`None`: unpriced).
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        if !self.configured.is_empty()
            && let Some(price) = self
                .configured
                .get(&format!("@{provider}/{model}"))
                .or_else(|| self.configured.get(model))
        {
            return Some(*price);
        }
        let model = table_name(model);
        let model = &*model;
        BUILT_IN
            .iter()
            .filter(|row| {
                model == row.0
                    || model
                        .strip_prefix(row.0)
                        .is_some_and(|rest| rest.starts_with('-'))
            })
            .max_by_key(|row| row.0.len())
            .map(|&(_, input, output, cache_read, cache_write)| Price {
                input,
                output,
                cache_read,
                cache_write,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            ..Usage::default()
        }
    }

    #[test]
    fn dated_model_names_take_the_longest_matching_entry() {
        let pricing = Pricing::default();
        let mini = pricing.price("openai", "gpt-4o-mini-2024-07-18").unwrap();
        assert_eq!(mini.input, 0.15);
        let sonnet = pricing
            .price("anthropic", "claude-sonnet-4-5-20250929")
            .unwrap();
        assert_eq!(sonnet.output, 15.0);
        // `gpt-4o` does not price `gpt-4ox`: the name must continue with '-'.
        assert_eq!(pricing.price("openai", "gpt-4ox"), None);
        assert_eq!(pricing.price("ollama", "llama3.2"), None);
    }

    #[test]
    fn cloud_model_ids_are_priced_as_the_model_they_serve() {
        let pricing = Pricing::default();
        for (provider, model) in [
            ("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
            ("vertex", "claude-sonnet-4-5@20250929"),
        ] {
            assert_eq!(
                pricing.price(provider, model).map(|p| p.output),
                Some(15.0),
                "{model}"
            );
        }
        assert_eq!(
            pricing
                .price("bedrock", "amazon.nova-pro-v1:0")
                .map(|p| p.input),
            Some(0.80)
        );
        assert_eq!(
            pricing
                .price("gemini", "gemini-2.5-flash")
                .map(|p| p.output),
            Some(2.50)
        );
        assert_eq!(
            pricing
                .price("gemini", "gemini-2.5-flash-lite-preview-09-2025")
                .map(|p| p.input),
            Some(0.10)
        );
        assert_eq!(
            pricing.price("bedrock", "eu.meta.llama3-70b-instruct-v1:0"),
            None
        );
    }

    #[test]
    fn costs_are_counted_in_nano_dollars() {
        let price = Pricing::default()
            .price("anthropic", "claude-sonnet-4-5")
            .unwrap();
        // 1,000 input tokens at $3/M and 100 output at $15/M: $0.0045.
        assert_eq!(price.cost_nanos(&usage(1000, 100)), 4_500_000);
        let cached = Usage {
            cache_read_tokens: 10_000,
            cache_write_tokens: 1_000,
            ..Usage::default()
        };
        // $0.30/M reads and $3.75/M writes: $0.003 + $0.00375.
        assert_eq!(price.cost_nanos(&cached), 6_750_000);
    }

    #[test]
    fn the_config_overrides_by_qualified_name_then_by_name() {
        let mut configured = BTreeMap::new();
        let cheap = PriceConfig {
            input: 0.0,
            output: 0.0,
            cache_read: None,
            cache_write: None,
        };
        configured.insert("@local/gpt-4o".to_string(), cheap);
        configured.insert(
            "llama3.2".to_string(),
            PriceConfig {
                input: 0.1,
                ..cheap
            },
        );
        let pricing = Pricing::new(&configured);
        assert_eq!(pricing.price("local", "gpt-4o").unwrap().input, 0.0);
        assert_eq!(pricing.price("openai", "gpt-4o").unwrap().input, 2.5);
        let llama = pricing.price("ollama", "llama3.2").unwrap();
        assert_eq!((llama.input, llama.cache_read), (0.1, 0.1));
    }
}
