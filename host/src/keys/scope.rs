//! Which models and providers a gateway key may use.
//!
//! A model pattern may hold `*` (any run of characters, `/` included) and is
//! compared with the model a request resolves to, by both of its names: the
//! qualified `@provider/model` and the provider's own model name. A pattern
//! that is an alias from `[models]` allows exactly the model the alias stands
//! for (asked for by the alias or by its `@provider/model`), and nothing else:
//! with `gpt-4o = "@openai/gpt-4o"`, the pattern `gpt-4o` does not allow
//! `@other/gpt-4o`, though the bare name matches that model's own name. So
//! `@openai/*`, `claude-sonnet-*` and `fast` (an alias) all work, and what a
//! key may use never depends on what an alias happens to be called.
//!
//! The same holds for a pattern of `[models]`: with `"claude-*" =
//! "@anthropic/*"`, the entry `claude-*` allows the family it forwards to,
//! `@anthropic/claude-*`, and a name it covers, such as `claude-opus-4`,
//! allows `@anthropic/claude-opus-4` only, not the same name at another
//! provider.

use crate::providers::Route;
use std::borrow::Cow;

/// The models and providers of a key; a key without limits has no `Scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    models: Vec<String>,
    providers: Vec<String>,
}

impl Scope {
    /// The scope of these lists (empty: any); `None` when both are empty.
    pub fn new(models: &[String], providers: &[String]) -> Option<Scope> {
        (!models.is_empty() || !providers.is_empty()).then(|| Scope {
            models: models.to_vec(),
            providers: providers.to_vec(),
        })
    }

    /// Whether key `key_id` may use `route`; `alias_target` looks up
    /// `[models]` ([`crate::providers::Providers::alias_target`]). The error
    /// names the model as the request did (`requested`, when it named one)
    /// and says what the key may use instead.
    pub fn check<'a>(
        &self,
        key_id: &str,
        route: &Route<'_>,
        requested: Option<&str>,
        alias_target: impl Fn(&str) -> Option<Cow<'a, str>>,
    ) -> Result<(), String> {
        let slug = &route.provider.slug;
        let qualified = route.qualified();
        if !self.providers.is_empty() && !self.providers.contains(slug) {
            return Err(format!(
                "gateway key `{key_id}` may not use provider `{slug}` (model `{qualified}`); it may use: {}",
                self.providers.join(", ")
            ));
        }
        let allowed = self.models.is_empty()
            || self
                .models
                .iter()
                .any(|pattern| match alias_target(pattern) {
                    // An alias grants what it points to, not its name at every
                    // provider; a pattern alias, the family it forwards to.
                    Some(target) if target.contains('*') => matches(&target, &qualified),
                    Some(target) => target == qualified,
                    None => matches(pattern, &qualified) || matches(pattern, &route.model),
                });
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "gateway key `{key_id}` may not use model `{}`; it may use: {}",
                requested.unwrap_or(&qualified),
                self.models.join(", ")
            ))
        }
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen, and where in `text` its run currently ends.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((star_at, run_end)) = star {
            pi = star_at + 1;
            ti = run_end + 1;
            star = Some((star_at, run_end + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ProviderKind};
    use crate::providers::Providers;
    use std::path::Path;

    #[test]
    fn stars_match_any_run() {
        for (pattern, text) in [
            ("@openai/*", "@openai/gpt-4o"),
            ("claude-sonnet-*", "claude-sonnet-4-5"),
            ("*", ""),
            ("a*b*c", "a-b-b-c"),
            ("exact", "exact"),
            ("*-mini", "gpt-4o-mini"),
        ] {
            assert!(matches(pattern, text), "{pattern} {text}");
        }
        for (pattern, text) in [
            ("@openai/*", "@anthropic/claude"),
            ("claude-sonnet-*", "claude-opus-4"),
            ("exact", "exactly"),
            ("a*b*c", "a-b-b-d"),
        ] {
            assert!(!matches(pattern, text), "{pattern} {text}");
        }
    }

    fn providers() -> Providers {
        crate::server::install_crypto_provider();
        let config = Config::parse(
            "[[providers]]\nslug = \"oa\"\nkind = \"echo\"\n[[providers]]\nslug = \"an\"\nkind = \"echo\"\n\
             [models]\nfast = \"@oa/gpt-4o-mini\"\n\"gpt-4o\" = \"@oa/gpt-4o\"\n",
            Path::new("."),
            &|_| None,
        )
        .unwrap();
        assert_eq!(config.providers[0].kind, ProviderKind::Echo);
        Providers::new(&config).unwrap()
    }

    fn check(scope: &Scope, requested: &str) -> Result<(), String> {
        let providers = providers();
        let route = providers.resolve(Some(requested), None).unwrap();
        scope.check("ci", &route, Some(requested), |name| {
            providers.alias_target(name)
        })
    }

    #[test]
    fn a_model_is_allowed_by_either_of_its_names_or_its_alias() {
        let scope = Scope::new(&["gpt-4o-*".into()], &[]).unwrap();
        assert!(check(&scope, "fast").is_ok(), "the provider's model name");
        assert!(check(&scope, "@oa/gpt-4o-mini").is_ok());
        assert!(check(&scope, "@an/gpt-4o-mini").is_ok());
        let scope = Scope::new(&["fast".into()], &[]).unwrap();
        assert!(check(&scope, "fast").is_ok(), "the alias");
        assert!(
            check(&scope, "@oa/gpt-4o-mini").is_ok(),
            "what it stands for"
        );
        let pattern = Scope::new(&["fa*".into()], &[]).unwrap();
        assert!(
            check(&pattern, "fast").is_err(),
            "an alias's name is no model's"
        );
        let error = check(&scope, "@an/gpt-4o-mini").unwrap_err();
        assert_eq!(
            error,
            "gateway key `ci` may not use model `@an/gpt-4o-mini`; it may use: fast"
        );
    }

    #[test]
    fn an_alias_named_like_a_model_allows_only_its_target() {
        // `gpt-4o` is an alias of `@oa/gpt-4o`; `an` serves a `gpt-4o` too.
        let scope = Scope::new(&["gpt-4o".into()], &[]).unwrap();
        assert!(check(&scope, "gpt-4o").is_ok(), "the alias");
        assert!(check(&scope, "@oa/gpt-4o").is_ok(), "what it stands for");
        let error = check(&scope, "@an/gpt-4o").unwrap_err();
        assert_eq!(
            error,
            "gateway key `ci` may not use model `@an/gpt-4o`; it may use: gpt-4o"
        );
        // A pattern that is no alias still matches the model name anywhere.
        let scope = Scope::new(&["gpt-4o*".into()], &[]).unwrap();
        assert!(check(&scope, "@an/gpt-4o").is_ok());
    }

    fn pattern_providers() -> Providers {
        crate::server::install_crypto_provider();
        let config = Config::parse(
            "[[providers]]\nslug = \"an\"\nkind = \"echo\"\n[[providers]]\nslug = \"other\"\nkind = \"echo\"\n\
             [models]\n\"claude-*\" = \"@an/*\"\n",
            Path::new("."),
            &|_| None,
        )
        .unwrap();
        Providers::new(&config).unwrap()
    }

    fn check_pattern(scope: &Scope, requested: &str) -> Result<(), String> {
        let providers = pattern_providers();
        let route = providers.resolve(Some(requested), None).unwrap();
        scope.check("ci", &route, Some(requested), |name| {
            providers.alias_target(name)
        })
    }

    #[test]
    fn a_pattern_alias_allows_the_family_it_forwards_to() {
        let scope = Scope::new(&["claude-*".into()], &[]).unwrap();
        assert!(check_pattern(&scope, "claude-opus-4-8").is_ok());
        assert!(check_pattern(&scope, "@an/claude-haiku-4").is_ok());
        let error = check_pattern(&scope, "@other/claude-opus-4-8").unwrap_err();
        assert!(
            error.contains("may not use model `@other/claude-opus-4-8`"),
            "{error}"
        );
        assert!(
            check_pattern(&scope, "@an/gpt-4o").is_err(),
            "not in the family"
        );
        // A name the pattern covers allows its target only.
        let scope = Scope::new(&["claude-opus-4-8".into()], &[]).unwrap();
        assert!(check_pattern(&scope, "claude-opus-4-8").is_ok());
        assert!(check_pattern(&scope, "@an/claude-opus-4-8").is_ok());
        assert!(check_pattern(&scope, "@other/claude-opus-4-8").is_err());
        assert!(check_pattern(&scope, "claude-sonnet-4-5").is_err());
    }

    #[test]
    fn providers_limit_every_model() {
        let scope = Scope::new(&[], &["an".into()]).unwrap();
        assert!(check(&scope, "@an/x").is_ok());
        let error = check(&scope, "fast").unwrap_err();
        assert!(error.contains("may not use provider `oa`"), "{error}");
        assert!(error.contains("it may use: an"), "{error}");
        assert_eq!(Scope::new(&[], &[]), None);
    }
}
