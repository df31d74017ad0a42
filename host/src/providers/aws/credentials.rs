//! AWS credentials: an access key id, its secret and, for temporary
//! credentials, a session token. They come from the provider's config
//! (usually as `${...}` references) or, when the config names none, from the
//! standard environment variables `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`. The secret and the token
//! are [`Secret`]s: they never print.

use crate::secret::Secret;

/// Credentials to sign requests with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (an identifier, not a secret: AWS logs it).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret>,
}

/// `value` unless it is empty.
fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// Why there are no usable credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// Neither the config nor the environment has any.
    #[error(
        "no AWS credentials: set `access_key_id` and `secret_access_key` in the provider's \
         config, or the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    Missing,
    /// One half of the key pair without the other.
    #[error("AWS credentials from {0} have {1} but not {2}")]
    Incomplete(&'static str, &'static str, &'static str),
}

impl Credentials {
    /// Credentials from the config's values if it has any, else from the
    /// environment (`env` looks a variable up; [`std::env::var`] in the
    /// gateway).
    pub fn resolve(
        access_key_id: Option<&str>,
        secret_access_key: Option<&Secret>,
        session_token: Option<&Secret>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, CredentialsError> {
        if access_key_id.is_some() || secret_access_key.is_some() {
            return Self::pair(
                "the config",
                present(access_key_id),
                present(secret_access_key.map(Secret::expose)),
                present(session_token.map(Secret::expose)),
            );
        }
        let (id, secret, token) = (
            env("AWS_ACCESS_KEY_ID"),
            env("AWS_SECRET_ACCESS_KEY"),
            env("AWS_SESSION_TOKEN"),
        );
        if id.is_none() && secret.is_none() {
            return Err(CredentialsError::Missing);
        }
        Self::pair(
            "the environment",
            present(id.as_deref()),
            present(secret.as_deref()),
            present(token.as_deref()),
        )
    }

    /// Credentials from both halves of a key pair (and a token).
    fn pair(
        from: &'static str,
        id: Option<&str>,
        secret: Option<&str>,
        token: Option<&str>,
    ) -> Result<Credentials, CredentialsError> {
        match (id, secret) {
            (Some(id), Some(secret)) => Ok(Credentials {
                access_key_id: id.into(),
                secret_access_key: Secret::new(secret),
                session_token: token.map(Secret::new),
            }),
            (Some(_), None) => Err(CredentialsError::Incomplete(
                from,
                "an access key id",
                "its secret access key",
            )),
            _ => Err(CredentialsError::Incomplete(
                from,
                "a secret access key",
                "its access key id",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn the_config_wins_over_the_environment() {
        let secret = Secret::new("config-secret");
        let credentials = Credentials::resolve(
            Some("AKIACONFIG"),
            Some(&secret),
            None,
            env(&[
                ("AWS_ACCESS_KEY_ID", "AKIAENV"),
                ("AWS_SECRET_ACCESS_KEY", "env"),
            ]),
        )
        .expect("credentials");
        assert_eq!(credentials.access_key_id, "AKIACONFIG");
        assert_eq!(credentials.secret_access_key.expose(), "config-secret");
        assert_eq!(credentials.session_token, None);
    }

    #[test]
    fn the_environment_gives_temporary_credentials_with_their_token() {
        let credentials = Credentials::resolve(
            None,
            None,
            None,
            env(&[
                ("AWS_ACCESS_KEY_ID", "ASIAENV"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
                ("AWS_SESSION_TOKEN", "env-token"),
            ]),
        )
        .expect("credentials");
        assert_eq!(credentials.access_key_id, "ASIAENV");
        assert_eq!(
            credentials.session_token.as_ref().map(Secret::expose),
            Some("env-token")
        );
        let printed = format!("{credentials:?}");
        assert!(!printed.contains("env-secret") && !printed.contains("env-token"));
    }

    #[test]
    fn missing_or_half_credentials_are_clear_errors() {
        assert_eq!(
            Credentials::resolve(None, None, None, env(&[])),
            Err(CredentialsError::Missing)
        );
        let error = Credentials::resolve(None, None, None, env(&[("AWS_ACCESS_KEY_ID", "A")]))
            .expect_err("half a pair");
        assert_eq!(
            error.to_string(),
            "AWS credentials from the environment have an access key id but not its secret access key"
        );
        let secret = Secret::new("s");
        assert!(Credentials::resolve(None, Some(&secret), None, env(&[])).is_err());
    }
}
