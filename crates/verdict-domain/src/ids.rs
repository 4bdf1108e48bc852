//! Identifiers that arrive from the outside: task ids (strings, integers or UUIDs depending on
//! the dialect) and API keys.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Longest task id accepted, in bytes.
pub const MAX_TASK_ID_LEN: usize = 128;

/// A task id as the platform issued it.
///
/// Ids are opaque strings with three normalisations, so that every dialect finds the same task:
/// an id of only digits must be a canonical unsigned 64-bit integer (integer dialects carry it as
/// a JSON number, and 2captcha ids already exceed 2^32), and a UUID is stored in lower case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskIdError {
    #[error("task id is empty")]
    Empty,
    #[error("task id is longer than {MAX_TASK_ID_LEN} bytes")]
    TooLong,
    #[error("task id may contain only printable ASCII other than '/'")]
    BadCharacter,
    #[error("a task id of digits must be an unsigned 64-bit integer without leading zeros")]
    NotCanonicalInteger,
}

impl TaskId {
    pub fn parse(text: &str) -> Result<Self, TaskIdError> {
        if text.is_empty() {
            return Err(TaskIdError::Empty);
        }
        if text.len() > MAX_TASK_ID_LEN {
            return Err(TaskIdError::TooLong);
        }
        if !text.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
            return Err(TaskIdError::BadCharacter);
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            let canonical = text
                .parse::<u64>()
                .ok()
                .filter(|n| n.to_string() == text)
                .is_some();
            if !canonical {
                return Err(TaskIdError::NotCanonicalInteger);
            }
            return Ok(Self(text.to_owned()));
        }
        if looks_like_uuid(text) {
            return Ok(Self(text.to_ascii_lowercase()));
        }
        Ok(Self(text.to_owned()))
    }

    /// The id an integer dialect means by `n`.
    pub fn from_u64(n: u64) -> Self {
        Self(n.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The integer form, for ids made only of digits.
    pub fn as_u64(&self) -> Option<u64> {
        if self.0.bytes().all(|b| b.is_ascii_digit()) {
            self.0.parse().ok()
        } else {
            None
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn looks_like_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Shortest and longest API key accepted (imported keys included). Eight, because imported
/// DeathByCaptcha passwords serve as keys; generated keys are 32 characters.
pub const MIN_API_KEY_LEN: usize = 8;
pub const MAX_API_KEY_LEN: usize = 128;

/// An API key as presented by a client. Never logged: `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("API key must be {MIN_API_KEY_LEN} to {MAX_API_KEY_LEN} printable ASCII characters")]
    Malformed,
}

impl ApiKey {
    /// Accepts any printable ASCII key of plausible length, so a platform can import the keys its
    /// clients already use (captcha.fun's `CAPFUN-…`, 2captcha's 32 hex characters, …).
    pub fn parse(text: &str) -> Result<Self, ApiKeyError> {
        let ok = (MIN_API_KEY_LEN..=MAX_API_KEY_LEN).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(ApiKeyError::Malformed)
        }
    }

    /// Reveals the key. Only for showing a newly created key once to the operator.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// A hash of an API key or admin token: what storage keeps instead of the secret. API keys are
/// stored keyed (`keys::KeyHasher`); the admin token, always long and random, and keys stored
/// before key secrets existed, as plain SHA-256.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// Plain SHA-256 of a secret.
    pub fn unkeyed(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time comparison, for checking a presented secret against a stored hash.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
            let s = std::str::from_utf8(chunk).ok()?;
            out[i] = u8::from_str_radix(s, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({}…)", &self.to_hex()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("74455221488", "74455221488")]
    #[case("18446744073709551615", "18446744073709551615")]
    #[case(
        "550E8400-E29B-41D4-A716-446655440000",
        "550e8400-e29b-41d4-a716-446655440000"
    )]
    #[case("task_abc123xyz789", "task_abc123xyz789")]
    #[case("0", "0")]
    fn task_ids_normalise(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(TaskId::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", TaskIdError::Empty)]
    #[case("007", TaskIdError::NotCanonicalInteger)]
    #[case("18446744073709551616", TaskIdError::NotCanonicalInteger)]
    #[case("a b", TaskIdError::BadCharacter)]
    #[case("a/b", TaskIdError::BadCharacter)]
    #[case("é", TaskIdError::BadCharacter)]
    fn bad_task_ids_are_refused(#[case] input: &str, #[case] err: TaskIdError) {
        assert_eq!(TaskId::parse(input), Err(err));
    }

    #[test]
    fn task_ids_longer_than_128_bytes_are_refused() {
        assert!(TaskId::parse(&"x".repeat(128)).is_ok());
        assert_eq!(TaskId::parse(&"x".repeat(129)), Err(TaskIdError::TooLong));
    }

    #[test]
    fn api_keys_never_show_in_debug_output() {
        let key = ApiKey::parse("0123456789abcdef0123456789abcdef").unwrap();
        assert!(!format!("{key:?}").contains("0123"));
    }

    #[test]
    fn key_hash_hex_round_trips_and_compares() {
        let h = KeyHash::unkeyed("secret-secret-secret");
        assert!(KeyHash::from_hex(&h.to_hex()).unwrap().matches(&h));
        assert!(!h.matches(&KeyHash::unkeyed("secret-secret-secreT")));
    }

    proptest! {
        #[test]
        fn every_u64_round_trips_through_a_task_id(n: u64) {
            let id = TaskId::parse(&n.to_string()).unwrap();
            prop_assert_eq!(id.as_u64(), Some(n));
            prop_assert_eq!(id, TaskId::from_u64(n));
        }

        #[test]
        fn task_id_parsing_never_panics(text in "\\PC{0,140}") {
            let _ = TaskId::parse(&text);
        }
    }
}
