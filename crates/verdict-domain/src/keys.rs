//! API keys over their life: how a presented key is hashed for storage, whether a stored key
//! still opens its account, and which secrets are too weak to accept.
//!
//! Keys are stored as HMAC-SHA-256 under a server-side key secret kept out of the database, so
//! that a leaked database (or a backup of it) does not give up low-entropy imported keys to a
//! dictionary: without the secret, a stored hash cannot be tested against guesses. A keyed hash
//! is as fast as a plain one, so the report path pays nothing for it; a salted password hash
//! (argon2id) would cost milliseconds per report or a cache of plaintext-derived values.
//!
//! Keys stored before the secret existed are plain SHA-256 (`KeyScheme::Unkeyed`); they still
//! open their account, and the engine rewrites each as keyed the first time it is presented.

use std::fmt;

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::ids::{ApiKey, KeyHash};
use crate::timestamp::Timestamp;
use crate::{Account, AccountId};

/// Shortest key secret accepted, in bytes: 256 bits when written as hex, as generated.
pub const MIN_KEY_SECRET_LEN: usize = 32;

/// The server-side secret API keys are hashed under. Never logged: `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySecret(Vec<u8>);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeySecretError {
    #[error("the key secret must be at least {MIN_KEY_SECRET_LEN} characters")]
    TooShort,
    #[error("the key secret is too predictable: {0}")]
    Weak(WeakSecret),
}

impl KeySecret {
    /// A secret as an operator configured it (surrounding whitespace, such as a file's final
    /// newline, is not part of it).
    pub fn parse(text: &str) -> Result<Self, KeySecretError> {
        let text = text.trim();
        if text.len() < MIN_KEY_SECRET_LEN {
            return Err(KeySecretError::TooShort);
        }
        check_strength(text, SECRET_BITS).map_err(KeySecretError::Weak)?;
        Ok(Self(text.as_bytes().to_vec()))
    }

    /// A fingerprint of the secret that reveals nothing of it, stored beside the keys so that a
    /// node started with a different secret refuses to start instead of locking every client out.
    pub fn fingerprint(&self) -> String {
        KeyHasher::new(self)
            .mac(b"verdict key secret fingerprint v1")
            .to_hex()
    }
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySecret(<redacted>)")
    }
}

/// How a stored key hash was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScheme {
    /// HMAC-SHA-256 under the key secret.
    Keyed,
    /// Plain SHA-256, as keys were stored before key secrets.
    Unkeyed,
}

impl KeyScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScheme::Keyed => "hmac-sha256",
            KeyScheme::Unkeyed => "sha256",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hmac-sha256" => Some(KeyScheme::Keyed),
            "sha256" => Some(KeyScheme::Unkeyed),
            _ => None,
        }
    }
}

/// Hashes keys under one key secret.
#[derive(Clone)]
pub struct KeyHasher {
    mac: hmac::Hmac<Sha256>,
}

impl KeyHasher {
    pub fn new(secret: &KeySecret) -> Self {
        Self {
            mac: hmac::Hmac::<Sha256>::new_from_slice(&secret.0)
                .expect("HMAC accepts a key of any length"),
        }
    }

    fn mac(&self, data: &[u8]) -> KeyHash {
        let mut mac = self.mac.clone();
        mac.update(data);
        KeyHash::from_bytes(mac.finalize().into_bytes().into())
    }

    /// The hash a new key is stored under.
    pub fn hash(&self, key: &ApiKey) -> KeyHash {
        self.mac(key.expose().as_bytes())
    }

    /// The key an account created under idempotency key `creation` is given: derived from it
    /// under the secret, so that a retry of the creation can answer with the same key without
    /// the key ever being stored. As unguessable as a random key without the secret.
    pub fn key_for_creation(&self, creation: &str) -> ApiKey {
        let mut data = b"verdict generated key v1\0".to_vec();
        data.extend_from_slice(creation.as_bytes());
        let hex = self.mac(&data).to_hex();
        ApiKey::parse(&hex[..32]).expect("32 hex characters are a valid key")
    }

    /// A fingerprint of an account creation request, to tell a retry from a different request
    /// sent under the same idempotency key (the imported key enters only as its keyed hash).
    pub fn creation_fingerprint(
        &self,
        name: &str,
        trusted: bool,
        import: Option<&ApiKey>,
    ) -> String {
        let mut data = b"verdict account creation v1\0".to_vec();
        for part in [name.as_bytes(), if trusted { b"1" } else { b"0" }] {
            data.extend_from_slice(&(part.len() as u64).to_be_bytes());
            data.extend_from_slice(part);
        }
        if let Some(key) = import {
            data.extend_from_slice(self.hash(key).as_bytes());
        }
        self.mac(&data).to_hex()
    }

    /// The hashes a presented key may be stored under: keyed, and unkeyed for keys stored before
    /// key secrets.
    pub fn lookup(&self, key: &ApiKey) -> KeyLookup {
        KeyLookup {
            keyed: self.hash(key),
            unkeyed: KeyHash::unkeyed(key.expose()),
        }
    }
}

impl fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHasher(<redacted>)")
    }
}

/// What storage looks a presented key up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLookup {
    pub keyed: KeyHash,
    pub unkeyed: KeyHash,
}

impl KeyLookup {
    /// Which scheme a stored hash found by this lookup was made with, compared in constant time;
    /// `None` if it is neither (the index matched something else).
    pub fn scheme_of(&self, stored: &KeyHash) -> Option<KeyScheme> {
        // Both comparisons always run, so the time taken does not say which one matched.
        let keyed = stored.matches(&self.keyed);
        let unkeyed = stored.matches(&self.unkeyed);
        if keyed {
            Some(KeyScheme::Keyed)
        } else if unkeyed {
            Some(KeyScheme::Unkeyed)
        } else {
            None
        }
    }
}

/// A key's public name: what operators and clients see and revoke it by. Never part of the key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// `k_` and 12 lowercase hex characters.
    pub fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix("k_")?;
        (hex.len() == 12 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(text.to_owned()))
    }

    /// The id made of six random bytes (drawn by the caller: the domain has no randomness).
    pub fn from_random(bytes: [u8; 6]) -> Self {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("k_{hex}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest key label, in bytes.
pub const MAX_KEY_LABEL_LEN: usize = 100;

/// Checks a key label: at most 100 bytes, no control characters.
pub fn validate_key_label(label: &str) -> Result<(), &'static str> {
    if label.len() > MAX_KEY_LABEL_LEN {
        return Err("label must be at most 100 bytes");
    }
    if label.chars().any(char::is_control) {
        return Err("label must not contain control characters");
    }
    Ok(())
}

/// A stored key, without its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: KeyId,
    pub account: AccountId,
    pub label: Option<String>,
    pub created_at: Timestamp,
    /// When a rotation's grace period ends; the key opens nothing from then on.
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Where a key is in its life at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Active,
    /// Replaced by a rotation; still accepted until then.
    Expiring {
        until: Timestamp,
    },
    Expired {
        at: Timestamp,
    },
    Revoked {
        at: Timestamp,
    },
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Expiring { .. } => "expiring",
            KeyState::Expired { .. } => "expired",
            KeyState::Revoked { .. } => "revoked",
        }
    }

    /// Whether a key in this state opens its account.
    pub fn opens(self) -> bool {
        matches!(self, KeyState::Active | KeyState::Expiring { .. })
    }
}

/// Whether a presented key lets its holder in at `now`: a key that opens (not expired, not
/// revoked) of an account an operator has not disabled.
pub fn admits(account: &Account, key: &KeyRecord, now: Timestamp) -> bool {
    account.enabled() && key.account == account.id && key.opens(now)
}

impl KeyRecord {
    pub fn state(&self, now: Timestamp) -> KeyState {
        match (self.revoked_at, self.expires_at) {
            (Some(at), _) if at <= now => KeyState::Revoked { at },
            (_, Some(at)) if at <= now => KeyState::Expired { at },
            (_, Some(until)) => KeyState::Expiring { until },
            _ => KeyState::Active,
        }
    }

    pub fn opens(&self, now: Timestamp) -> bool {
        self.state(now).opens()
    }
}

/// When the keys a rotation replaces stop opening the account: after `grace`, so that a client
/// can deploy its new key without a gap; never later than any expiry already set.
pub fn rotation_expiry(
    key: &KeyRecord,
    now: Timestamp,
    grace: std::time::Duration,
) -> Option<Timestamp> {
    if !key.opens(now) {
        return None;
    }
    let end = now.saturating_add(grace);
    Some(key.expires_at.map_or(end, |set| set.min(end)))
}

/// Estimated bits of entropy a secret needs: admin tokens and key secrets are chosen once by an
/// operator and guard everything.
const ADMIN_TOKEN_BITS: f64 = 80.0;
const SECRET_BITS: f64 = 128.0;
/// Imported keys are the credentials a platform's clients already have (DeathByCaptcha
/// passwords among them): refusing one breaks that client's switch, so the bar only stops what
/// a guesser tries first (`password`, `12345678`, one character repeated).
const IMPORTED_KEY_BITS: f64 = 32.0;
/// Shortest admin token accepted.
pub const MIN_ADMIN_TOKEN_LEN: usize = 20;

/// Why a secret was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeakSecret {
    #[error("it must be at least {0} characters")]
    TooShort(usize),
    #[error(
        "it has about {estimated:.0} bits of entropy; at least {required:.0} are needed (use a longer random string)"
    )]
    LowEntropy { estimated: f64, required: f64 },
}

/// A rough upper estimate of a secret's entropy, in bits: the smaller of its length times the
/// bits of the alphabet its character classes span, and its length times the Shannon entropy
/// of its own characters (which sees repetition: `adminadmin…` has five symbols, not 26). It
/// cannot tell a random string from a long phrase, so it only refuses what is weak whatever
/// its origin.
pub fn estimated_bits(text: &str) -> f64 {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let mut alphabet = 0u32;
    let has = |test: fn(&char) -> bool| chars.iter().any(test);
    if has(char::is_ascii_lowercase) {
        alphabet += 26;
    }
    if has(char::is_ascii_uppercase) {
        alphabet += 26;
    }
    if has(char::is_ascii_digit) {
        alphabet += 10;
    }
    if has(|c| c.is_ascii_punctuation()) {
        alphabet += 32;
    }
    if has(|c| !c.is_ascii_graphic()) {
        alphabet += 64;
    }
    let n = chars.len() as f64;
    let by_classes = n * f64::from(alphabet).log2();
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0u32) += 1;
    }
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = f64::from(k) / n;
            -p * p.log2()
        })
        .sum();
    by_classes.min(n * per_char)
}

fn check_strength(text: &str, required: f64) -> Result<(), WeakSecret> {
    let estimated = estimated_bits(text);
    if estimated < required {
        return Err(WeakSecret::LowEntropy {
            estimated,
            required,
        });
    }
    Ok(())
}

/// Whether `token` may be the admin token.
pub fn check_admin_token(token: &str) -> Result<(), WeakSecret> {
    if token.chars().count() < MIN_ADMIN_TOKEN_LEN {
        return Err(WeakSecret::TooShort(MIN_ADMIN_TOKEN_LEN));
    }
    check_strength(token, ADMIN_TOKEN_BITS)
}

/// Why a key an operator imports was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportRefusal {
    #[error("it is the admin token; a client key must never open the operator's API")]
    IsAdminToken,
    #[error("it is too weak: {0}")]
    Weak(WeakSecret),
}

/// Whether an imported key may be stored: never the admin token (it would work as both), never
/// one a dictionary guesses.
pub fn check_imported_key(key: &ApiKey, admin: Option<&KeyHash>) -> Result<(), ImportRefusal> {
    if admin.is_some_and(|admin| KeyHash::unkeyed(key.expose()).matches(admin)) {
        return Err(ImportRefusal::IsAdminToken);
    }
    check_strength(key.expose(), IMPORTED_KEY_BITS).map_err(ImportRefusal::Weak)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::time::Duration;

    fn secret(text: &str) -> KeySecret {
        KeySecret::parse(text).unwrap()
    }

    const SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

    #[test]
    fn a_keyed_hash_depends_on_the_secret_and_differs_from_the_plain_one() {
        let key = ApiKey::parse("hunter22hunter22").unwrap();
        let a = KeyHasher::new(&secret(SECRET)).hash(&key);
        let b = KeyHasher::new(&secret(&SECRET.replace('0', "9"))).hash(&key);
        assert_ne!(a, b);
        assert_ne!(a, KeyHash::unkeyed(key.expose()));
        assert_eq!(a, KeyHasher::new(&secret(SECRET)).hash(&key));
    }

    #[test]
    fn a_creation_key_derives_one_key_and_requests_are_told_apart() {
        let hasher = KeyHasher::new(&secret(SECRET));
        let key = hasher.key_for_creation("order-1");
        assert_eq!(key.expose().len(), 32);
        assert_eq!(key, hasher.key_for_creation("order-1"));
        assert_ne!(key, hasher.key_for_creation("order-2"));
        let other = KeyHasher::new(&secret(&SECRET.replace('0', "9")));
        assert_ne!(key, other.key_for_creation("order-1"));
        let fp = |name: &str, trusted: bool| hasher.creation_fingerprint(name, trusted, None);
        assert_eq!(fp("acme", false), fp("acme", false));
        assert_ne!(fp("acme", false), fp("acme", true));
        assert_ne!(fp("acme", false), fp("acme2", false));
        let import = ApiKey::parse("CAPFUN-7d1f0a3b9c").unwrap();
        assert_ne!(
            fp("acme", false),
            hasher.creation_fingerprint("acme", false, Some(&import))
        );
    }

    #[test]
    fn a_lookup_tells_which_scheme_a_stored_hash_was_made_with() {
        let key = ApiKey::parse("hunter22hunter22").unwrap();
        let lookup = KeyHasher::new(&secret(SECRET)).lookup(&key);
        assert_eq!(lookup.scheme_of(&lookup.keyed), Some(KeyScheme::Keyed));
        assert_eq!(
            lookup.scheme_of(&KeyHash::unkeyed("hunter22hunter22")),
            Some(KeyScheme::Unkeyed)
        );
        assert_eq!(lookup.scheme_of(&KeyHash::unkeyed("someone-else")), None);
    }

    #[test]
    fn secrets_and_hashers_never_show_the_secret() {
        let s = secret(SECRET);
        assert!(!format!("{s:?}").contains("0f1e"));
        assert!(!format!("{:?}", KeyHasher::new(&s)).contains("0f1e"));
        assert_ne!(s.fingerprint(), SECRET);
        assert_eq!(s.fingerprint(), secret(SECRET).fingerprint());
    }

    #[rstest]
    #[case("short", false)]
    #[case("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false)]
    #[case("abababababababababababababababababababab", false)]
    #[case(SECRET, true)]
    fn key_secrets_must_be_long_and_unpredictable(#[case] text: &str, #[case] ok: bool) {
        assert_eq!(KeySecret::parse(text).is_ok(), ok, "{text}");
    }

    #[rstest]
    #[case("a", false)]
    #[case("change-me", false)]
    #[case("adminadminadminadminadmin", false)]
    #[case("12345678901234567890", false)]
    #[case("vX3-kP9q-Lm2w-Rt7z-Hn4c", true)]
    #[case("0123456789abcdef0123456789abcdef", true)]
    fn admin_tokens_must_be_long_and_varied(#[case] token: &str, #[case] ok: bool) {
        assert_eq!(check_admin_token(token).is_ok(), ok, "{token}");
    }

    #[test]
    fn an_imported_key_may_not_be_the_admin_token_or_a_dictionary_word() {
        let admin = "0123456789abcdef0123456789abcdef";
        let admin_hash = KeyHash::unkeyed(admin);
        let as_key = ApiKey::parse(admin).unwrap();
        assert_eq!(
            check_imported_key(&as_key, Some(&admin_hash)),
            Err(ImportRefusal::IsAdminToken)
        );
        let weak = ApiKey::parse("password").unwrap();
        assert!(matches!(
            check_imported_key(&weak, Some(&admin_hash)),
            Err(ImportRefusal::Weak(_))
        ));
        for weak in [
            "12345678",
            "passw0rd",
            "aaaaaaaaaaaaaaaa",
            "abababababababab",
        ] {
            let key = ApiKey::parse(weak).unwrap();
            assert!(check_imported_key(&key, None).is_err(), "{weak}");
        }
        for fine in [
            "CAPFUN-7d1f0a3b9c",
            "1abc234de567f89012345678abcdef90",
            "Tr0ub4dor&3",
            "a11ce5f0d3c8b92e47a1f6e03d9c2b71",
        ] {
            let key = ApiKey::parse(fine).unwrap();
            assert_eq!(
                check_imported_key(&key, Some(&admin_hash)),
                Ok(()),
                "{fine}"
            );
            assert_eq!(check_imported_key(&key, None), Ok(()), "{fine}");
        }
    }

    fn record(expires: Option<i64>, revoked: Option<i64>) -> KeyRecord {
        KeyRecord {
            id: KeyId::from_random([1, 2, 3, 4, 5, 6]),
            account: AccountId(1),
            label: None,
            created_at: Timestamp::from_millis(0),
            expires_at: expires.map(Timestamp::from_millis),
            revoked_at: revoked.map(Timestamp::from_millis),
        }
    }

    #[rstest]
    #[case(None, None, "active", true)]
    #[case(Some(2_000), None, "expiring", true)]
    #[case(Some(1_000), None, "expired", false)]
    #[case(Some(500), None, "expired", false)]
    #[case(None, Some(1_000), "revoked", false)]
    #[case(Some(5_000), Some(900), "revoked", false)]
    #[case(None, Some(5_000), "active", true)]
    fn a_key_opens_its_account_until_it_expires_or_is_revoked(
        #[case] expires: Option<i64>,
        #[case] revoked: Option<i64>,
        #[case] state: &str,
        #[case] opens: bool,
    ) {
        let now = Timestamp::from_millis(1_000);
        let key = record(expires, revoked);
        assert_eq!(key.state(now).as_str(), state);
        assert_eq!(key.opens(now), opens);
    }

    #[test]
    fn a_key_admits_only_to_its_own_enabled_account() {
        let now = Timestamp::from_millis(1_000);
        let mut account = Account {
            id: AccountId(1),
            name: "a".into(),
            trusted: false,
            balance: crate::Amount::ZERO,
            standing: crate::Standing::Good,
            ignores: Default::default(),
            screen_flag: None,
            disabled: None,
            created_at: Timestamp::from_millis(0),
        };
        assert!(admits(&account, &record(None, None), now));
        assert!(!admits(&account, &record(None, Some(1_000)), now));
        let other = KeyRecord {
            account: AccountId(2),
            ..record(None, None)
        };
        assert!(!admits(&account, &other, now));
        account.disabled = Some(crate::account::Disabled {
            at: now,
            reason: "fraud".into(),
        });
        assert!(!admits(&account, &record(None, None), now));
    }

    #[test]
    fn a_rotation_gives_the_old_key_its_grace_but_never_extends_an_expiry() {
        let now = Timestamp::from_millis(1_000);
        let grace = Duration::from_secs(60);
        assert_eq!(
            rotation_expiry(&record(None, None), now, grace),
            Some(Timestamp::from_millis(61_000))
        );
        assert_eq!(
            rotation_expiry(&record(Some(5_000), None), now, grace),
            Some(Timestamp::from_millis(5_000))
        );
        assert_eq!(rotation_expiry(&record(None, Some(10)), now, grace), None);
    }

    #[test]
    fn key_ids_round_trip_and_refuse_anything_else() {
        let id = KeyId::from_random([0xab, 0, 1, 2, 3, 0xff]);
        assert_eq!(id.as_str(), "k_ab00010203ff");
        assert_eq!(KeyId::parse(id.as_str()), Some(id));
        for bad in [
            "",
            "k_",
            "k_AB00010203FF",
            "x_ab00010203ff",
            "k_ab00010203f",
        ] {
            assert_eq!(KeyId::parse(bad), None, "{bad}");
        }
    }
}
