//! New secrets and ids, from the operating system's random source.
//!
//! A secret is `sk-sluice-` and 40 base62 characters (about 238 random bits):
//! far beyond guessing, so an unsalted BLAKE3 hash of it is safe to store.

use super::record::KeyHash;
use crate::secret::Secret;

/// How every generated secret starts, so scanners (and people) recognise one.
pub const SECRET_PREFIX: &str = "sk-sluice-";
/// Random characters after the prefix.
const SECRET_CHARS: usize = 40;
/// Random characters of the secret kept as its display prefix.
const SHOWN_CHARS: usize = 4;
/// Random characters of a generated id (`key-` and these).
const ID_CHARS: usize = 10;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A new secret, and what is kept of it.
pub struct NewSecret {
    /// The secret: shown once, then forgotten.
    pub secret: Secret,
    /// Its hash, which the store keeps.
    pub hash: KeyHash,
    /// Its first characters (`sk-sluice-ab12`), which the store keeps for display.
    pub prefix: String,
}

/// Could not read the operating system's random source.
#[derive(Debug, thiserror::Error)]
#[error("no random source: {0}")]
pub struct NoRandomness(getrandom::Error);

/// A new random secret.
pub fn new_secret() -> Result<NewSecret, NoRandomness> {
    let text = format!("{SECRET_PREFIX}{}", random_chars(BASE62, SECRET_CHARS)?);
    Ok(NewSecret {
        hash: KeyHash::of(&text),
        prefix: text[..SECRET_PREFIX.len() + SHOWN_CHARS].to_string(),
        secret: Secret::new(text),
    })
}

/// A new random key id, such as `key-4k2n9x0qzt`.
pub fn new_id() -> Result<String, NoRandomness> {
    Ok(format!("key-{}", random_chars(BASE36, ID_CHARS)?))
}

/// `count` characters drawn uniformly from `alphabet` (rejection sampling, so
/// no character is likelier than another).
fn random_chars(alphabet: &[u8], count: usize) -> Result<String, NoRandomness> {
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(count);
    let mut bytes = [0u8; 64];
    while out.len() < count {
        getrandom::fill(&mut bytes).map_err(NoRandomness)?;
        for &b in bytes.iter().filter(|&&b| usize::from(b) < limit) {
            if out.len() == count {
                break;
            }
            out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_shown_only_by_their_prefix() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        let text = a.secret.expose();
        assert!(text.starts_with(SECRET_PREFIX), "{text}");
        assert_eq!(text.len(), SECRET_PREFIX.len() + SECRET_CHARS);
        assert!(
            text[SECRET_PREFIX.len()..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert_ne!(text, b.secret.expose());
        assert_eq!(a.prefix, &text[..14]);
        assert_eq!(a.hash, KeyHash::of(text));
        assert_eq!(format!("{:?}", a.secret), "*****");
    }

    #[test]
    fn ids_are_slugs() {
        let id = new_id().unwrap();
        assert_eq!(id.len(), 4 + ID_CHARS);
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        );
    }

    #[test]
    fn every_character_of_the_alphabet_turns_up() {
        let text = random_chars(BASE62, 4000).unwrap();
        for &c in BASE62 {
            assert!(text.contains(char::from(c)), "{}", char::from(c));
        }
    }
}
