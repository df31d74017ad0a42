//! A Google service account's JSON key file (the one `gcloud iam
//! service-accounts keys create` writes): the account's email, its RSA
//! private key in PEM, the key's id and the token endpoint. The private key
//! is a [`Secret`]: it never prints, and no error here quotes the file.

use crate::secret::Secret;
use serde::Deserialize;
use std::path::Path;

/// Google's OAuth token endpoint, when a key file names none.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// A service account's key.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccountKey {
    /// The account, such as `gateway@project.iam.gserviceaccount.com`.
    pub client_email: String,
    /// The RSA private key, PEM (PKCS #8).
    pub private_key: Secret,
    /// The key's id (sent as the JWT's `kid`).
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// Where tokens are exchanged.
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
    /// The project the account belongs to.
    #[serde(default)]
    pub project_id: Option<String>,
}

fn default_token_uri() -> String {
    GOOGLE_TOKEN_URI.into()
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("the service-account key file {path} could not be read: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// It is not a service account key (the parser's position, not its text).
    #[error("the service-account key file {path} is not a service account's JSON key: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, without the file's content.
        reason: String,
    },
}

impl ServiceAccountKey {
    /// Reads a key file.
    pub fn from_file(path: &Path) -> Result<ServiceAccountKey, KeyFileError> {
        let text = std::fs::read_to_string(path).map_err(|error| KeyFileError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Self::from_json(&text).map_err(|reason| KeyFileError::Invalid {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses a key from its JSON; the error says what is wrong, never what
    /// the JSON holds.
    pub fn from_json(text: &str) -> Result<ServiceAccountKey, String> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("not JSON (line {}, column {})", e.line(), e.column()))?;
        if let Some(kind) = value["type"].as_str().filter(|k| *k != "service_account") {
            return Err(format!("its type is `{kind}`, not `service_account`"));
        }
        for field in ["client_email", "private_key"] {
            if !value[field].is_string() {
                return Err(format!("it has no `{field}`"));
            }
        }
        serde_json::from_value(value).map_err(|_| "a field has the wrong type".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";

    #[test]
    fn a_key_reads_with_googles_default_token_endpoint_and_never_prints_its_key() {
        let json = serde_json::json!({"type": "service_account", "project_id": "p",
            "private_key_id": "k1", "private_key": PRIVATE,
            "client_email": "sa@p.iam.gserviceaccount.com"});
        let key = ServiceAccountKey::from_json(&json.to_string()).expect("a key");
        assert_eq!(key.token_uri, GOOGLE_TOKEN_URI);
        assert_eq!(key.private_key.expose(), PRIVATE);
        assert!(!format!("{key:?}").contains("MIIE"));
    }

    #[test]
    fn errors_say_what_is_wrong_without_quoting_the_file() {
        let broken = format!("{{\"private_key\": \"{}\", ", PRIVATE.replace('\n', "\\n"));
        let error = ServiceAccountKey::from_json(&broken).expect_err("not JSON");
        assert!(error.starts_with("not JSON"), "{error}");
        assert!(!error.contains("MIIE"));
        let user = serde_json::json!({"type": "authorized_user", "private_key": PRIVATE});
        let error = ServiceAccountKey::from_json(&user.to_string()).expect_err("wrong type");
        assert_eq!(
            error,
            "its type is `authorized_user`, not `service_account`"
        );
        let no_email = serde_json::json!({"private_key": PRIVATE});
        assert_eq!(
            ServiceAccountKey::from_json(&no_email.to_string()).expect_err("no email"),
            "it has no `client_email`"
        );
    }
}
