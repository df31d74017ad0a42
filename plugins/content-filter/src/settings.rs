//! The plugin's settings, as written in the gateway config, and what they
//! configure.

use crate::category::Category;
use crate::matcher::{Builder, Matcher, Target};
use crate::terms::BuiltinLists;
use serde::Deserialize;
use sluice_plugin_sdk::{Action, Mode, Settings};
use std::collections::BTreeMap;

/// The settings, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    #[serde(default)]
    action: Option<Mode>,
    #[serde(default)]
    categories: BTreeMap<String, Mode>,
    #[serde(default)]
    extra_terms: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    replace_terms: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    allow_terms: Vec<String>,
}

/// The configured plugin's parts.
#[derive(Debug, Clone)]
pub struct Config {
    /// The action of each category, in the order of [`Category::ALL`]; `None`
    /// when it is off.
    pub actions: [Option<Action>; 7],
    /// The word lists of the categories that are on; `None` when none is.
    pub matcher: Option<Matcher>,
    /// The built-in lists' version.
    pub lists_version: u32,
}

/// Parses and checks the settings, and compiles the word lists.
pub fn configure(settings: &Settings) -> Result<Config, String> {
    let raw: RawSettings = settings.parse()?;
    if raw.action == Some(Mode::Off) {
        return Err("action: \"off\" would turn every category off; remove the guardrail instead, or turn categories off one by one in `categories`".into());
    }
    let mut actions = Category::ALL.map(|c| match raw.action {
        Some(mode) => mode.action(),
        None => Some(c.default_action()),
    });
    for (name, mode) in &raw.categories {
        let category = category("categories", name, &Category::ALL)?;
        actions[category.index()] = mode.action();
    }
    if actions.iter().all(Option::is_none) {
        return Err("categories: every category is off; remove the guardrail instead".into());
    }
    let mut replace: BTreeMap<Category, &[String]> = BTreeMap::new();
    for (name, terms) in &raw.replace_terms {
        replace.insert(category("replace_terms", name, &Category::WORDS)?, terms);
    }
    let mut extra: BTreeMap<Category, &[String]> = BTreeMap::new();
    for (name, terms) in &raw.extra_terms {
        extra.insert(category("extra_terms", name, &Category::WORDS)?, terms);
    }

    let lists = BuiltinLists::load()?;
    let mut builder = Builder::default();
    for category in Category::WORDS {
        if actions[category.index()].is_none() {
            continue;
        }
        let target = Target::Category(category);
        let name = category.name();
        match replace.get(&category) {
            Some(terms) => add_all(
                &mut builder,
                target,
                terms,
                &format!("replace_terms.{name}"),
            )?,
            None => add_all(
                &mut builder,
                target,
                lists.of(category),
                &format!("built-in list {name}"),
            )?,
        }
        if let Some(terms) = extra.get(&category) {
            add_all(&mut builder, target, terms, &format!("extra_terms.{name}"))?;
        }
    }
    let words_on = builder.patterns() > 0;
    add_all(&mut builder, Target::Allow, &raw.allow_terms, "allow_terms")?;
    Ok(Config {
        actions,
        matcher: if words_on {
            Some(builder.build()?)
        } else {
            None
        },
        lists_version: lists.version,
    })
}

/// The category called `name`, one of `allowed`; the error names the field.
fn category(field: &str, name: &str, allowed: &[Category]) -> Result<Category, String> {
    match Category::from_name(name) {
        Some(c) if allowed.contains(&c) => Ok(c),
        Some(c) => Err(format!(
            "{field}: `{}` is found by character, not by words, and has no word list (word categories: {})",
            c.name(),
            Category::list(allowed)
        )),
        None => Err(format!(
            "{field}: unknown category `{name}` (categories: {})",
            Category::list(allowed)
        )),
    }
}

fn add_all(
    builder: &mut Builder,
    target: Target,
    terms: &[String],
    field: &str,
) -> Result<(), String> {
    // Swear words, slurs and sexual terms are masked to be written anyway
    // (`f*ck`); phrases of intent are not.
    let masks = matches!(
        target,
        Target::Category(Category::Profanity | Category::Hate | Category::Sexual)
    );
    for term in terms {
        let added = if masks {
            builder.add_masked(target, term)
        } else {
            builder.add(target, term)
        };
        added.map_err(|e| format!("{field}: {e}"))?;
    }
    Ok(())
}
