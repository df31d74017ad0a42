//! `[models]`: the names a client may use for models.
//!
//! An entry is an exact alias (`fast = "@local/llama3.2"`) or a pattern: a
//! name ending in `*` that forwards a family of names to one provider
//! (`"claude-*" = "@anthropic/*"`). The `*` of a pattern's target stands for
//! the whole name the request asked for, so `claude-opus-4-8` goes to
//! `@anthropic/claude-opus-4-8`. A name is looked up in this order: an exact
//! alias; then, unless it is an `@provider/model`, the pattern with the
//! longest prefix it starts with. Patterns are not models: model lists leave
//! them out.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// The entries of `[models]`, split into exact aliases and patterns.
#[derive(Debug, Clone, Default)]
pub struct ModelAliases {
    exact: BTreeMap<String, String>,
    /// `(prefix, target)`, the longest prefix first.
    patterns: Vec<(String, String)>,
}

impl ModelAliases {
    /// The aliases of a (checked, see [`check_entry`]) `[models]` table.
    pub fn new(models: &BTreeMap<String, String>) -> Self {
        let mut aliases = ModelAliases::default();
        for (name, target) in models {
            match name.strip_suffix('*') {
                Some(prefix) => aliases.patterns.push((prefix.to_string(), target.clone())),
                None => {
                    aliases.exact.insert(name.clone(), target.clone());
                }
            }
        }
        aliases
            .patterns
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        aliases
    }

    /// The `@provider/model` that `name` stands for, if an entry covers it.
    pub fn target(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(target) = self.exact.get(name) {
            return Some(Cow::Borrowed(target));
        }
        if name.starts_with('@') {
            return None;
        }
        self.patterns
            .iter()
            .find(|(prefix, _)| name.starts_with(prefix.as_str()))
            .map(|(_, target)| Cow::Owned(target.replacen('*', name, 1)))
    }

    /// What an entry of a key's `allowed_models` grants when it names an
    /// alias: the target of an exact alias or of a name a pattern covers; for
    /// a pattern itself (`claude-*`), the family it forwards to, as a pattern
    /// (`@anthropic/claude-*`). `None`: the entry is no alias.
    pub fn grant(&self, entry: &str) -> Option<Cow<'_, str>> {
        if let Some(prefix) = entry.strip_suffix('*')
            && let Some((_, target)) = self.patterns.iter().find(|(p, _)| p == prefix)
        {
            return Some(Cow::Owned(target.replacen('*', entry, 1)));
        }
        if entry.contains('*') {
            return None;
        }
        self.target(entry)
    }

    /// The exact aliases, by name.
    pub fn exact(&self) -> &BTreeMap<String, String> {
        &self.exact
    }
}

/// Checks the shape of entry `name = target` (that its provider is
/// configured is checked by the caller); says what is wrong.
pub fn check_entry(name: &str, target: &str) -> Result<(), String> {
    let stars = name.matches('*').count();
    let model = target.strip_prefix('@').and_then(|t| t.split_once('/'));
    if let Some((slug, _)) = model
        && slug.contains('*')
    {
        return Err(format!(
            "{target:?}: a provider slug has no `*`; write @provider/*"
        ));
    }
    let target_stars = target.matches('*').count();
    if stars == 0 {
        if target_stars > 0 {
            return Err(format!(
                "{target:?} has a `*` but {name:?} is no pattern: only a name ending in `*` (like \"claude-*\") may forward a family of models"
            ));
        }
        return Ok(());
    }
    let Some(prefix) = name.strip_suffix('*').filter(|p| !p.contains('*')) else {
        return Err(format!(
            "{name:?}: a pattern has one `*`, at its end, like \"claude-*\""
        ));
    };
    if prefix.starts_with('@') {
        return Err(format!(
            "{name:?}: @provider/model names are used as they are; a pattern cannot start with `@`"
        ));
    }
    if target_stars != 1 {
        return Err(format!(
            "{target:?}: the target of pattern {name:?} needs one `*`, which stands for the name asked for, like \"@anthropic/*\""
        ));
    }
    if let Some((slug, model)) = model
        && !prefix.is_empty()
        && model
            .split('*')
            .next()
            .is_some_and(|before| before.ends_with(prefix))
    {
        return Err(format!(
            "{target:?}: the `*` stands for the whole name asked for ({prefix}x goes to {}), so this would repeat {prefix:?}; write \"@{slug}/*\"",
            target.replacen('*', &format!("{prefix}x"), 1)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases(entries: &[(&str, &str)]) -> ModelAliases {
        let table = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ModelAliases::new(&table)
    }

    #[test]
    fn exact_aliases_win_then_the_longest_prefix() {
        let aliases = aliases(&[
            ("claude-*", "@anthropic/*"),
            ("claude-haiku-*", "@cheap/*"),
            ("claude-opus-4-8", "@pinned/opus"),
            ("*", "@local/*"),
        ]);
        let target = |name| aliases.target(name).map(Cow::into_owned);
        assert_eq!(target("claude-opus-4-8").unwrap(), "@pinned/opus");
        assert_eq!(
            target("claude-sonnet-4-5").unwrap(),
            "@anthropic/claude-sonnet-4-5"
        );
        assert_eq!(target("claude-haiku-4").unwrap(), "@cheap/claude-haiku-4");
        assert_eq!(target("llama3").unwrap(), "@local/llama3");
        assert_eq!(target("@openai/gpt-4o"), None, "qualified names are direct");
        assert_eq!(aliases.exact().len(), 1);
    }

    #[test]
    fn a_pattern_grants_the_family_it_forwards_to() {
        let aliases = aliases(&[("claude-*", "@anthropic/*"), ("fast", "@oa/mini")]);
        let grant = |entry| aliases.grant(entry).map(Cow::into_owned);
        assert_eq!(grant("claude-*").unwrap(), "@anthropic/claude-*");
        assert_eq!(grant("claude-opus-4").unwrap(), "@anthropic/claude-opus-4");
        assert_eq!(grant("fast").unwrap(), "@oa/mini");
        assert_eq!(grant("claude-sonnet-*"), None, "a glob that is no entry");
        assert_eq!(grant("gpt-4o"), None);
    }

    #[test]
    fn malformed_entries_are_refused_saying_why() {
        for (name, target, says) in [
            ("claude-*-x", "@anthropic/*", "at its end"),
            ("*claude*", "@anthropic/*", "at its end"),
            ("@anthropic/*", "@anthropic/*", "cannot start with `@`"),
            ("claude-*", "@anthropic/claude-opus", "needs one `*`"),
            ("claude-*", "@anthropic/*-*", "needs one `*`"),
            ("claude-*", "@anthropic/claude-*", "write \"@anthropic/*\""),
            ("fast", "@oa/*", "is no pattern"),
            ("claude-*", "@*/x*", "slug has no `*`"),
        ] {
            let error = check_entry(name, target).unwrap_err();
            assert!(error.contains(says), "{name} = {target}: {error}");
        }
        for (name, target) in [
            ("claude-*", "@anthropic/*"),
            ("*", "@local/*"),
            ("gpt-*", "@azure/deployments-*"),
            ("fast", "@oa/mini"),
        ] {
            assert_eq!(check_entry(name, target), Ok(()), "{name} = {target}");
        }
    }
}
