//! API keys over their life: which account a presented key opens, and what operators and
//! clients do with keys (add, rotate with a grace period, revoke) and accounts (disable,
//! enable). A new key is returned once and only its keyed hash is stored.

use std::sync::OnceLock;
use std::time::Duration;

use verdict_domain::account::Disabled;
use verdict_domain::keys::{self, KeyHasher, KeyId, KeyLookup, KeyRecord, KeyScheme, KeySecret};
use verdict_domain::{Account, AccountId, ApiKey, KeyHash};
use verdict_store::{KeyHolder, KeyRotation, NewKey};

use crate::secrets::{generate_secret, random_bytes};
use crate::{Engine, EngineError};

/// How long the keys a rotation replaces keep working unless the caller says otherwise.
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::from_secs(24 * 3600);
/// The longest grace a rotation may give: a replaced key must not live on indefinitely.
pub const MAX_ROTATION_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Key hashing and what the engine knows of the admin token.
#[derive(Debug)]
pub(crate) struct Keys {
    pub(crate) hasher: KeyHasher,
    /// The admin token's hash once [`Engine::admin_token`] settled it: imported keys may not
    /// equal it.
    pub(crate) admin: OnceLock<KeyHash>,
}

impl Keys {
    pub(crate) fn new(secret: &KeySecret) -> Self {
        Self {
            hasher: KeyHasher::new(secret),
            admin: OnceLock::new(),
        }
    }

    /// Keys under a secret nobody else has: what an engine uses until it is given the
    /// deployment's secret. Keys it stores open nothing for an engine with another secret.
    pub(crate) fn ephemeral() -> Self {
        let secret = KeySecret::parse(&format!("{}{}", generate_secret(), generate_secret()))
            .expect("two generated secrets make a valid key secret");
        Self::new(&secret)
    }
}

/// A key as its owner is shown it once, with its record.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub record: KeyRecord,
    pub key: ApiKey,
}

impl Engine {
    /// The lookup storage finds a presented key by.
    pub(crate) fn key_lookup(&self, key: &ApiKey) -> KeyLookup {
        self.parts.keys.hasher.lookup(key)
    }

    /// Whether a key found in storage opens its account now; a key stored under its plain hash
    /// is rewritten under its keyed hash on the way (once: the next lookup finds it keyed).
    pub(crate) async fn admit(
        &self,
        lookup: &KeyLookup,
        account: &Account,
        key: &KeyRecord,
        scheme: KeyScheme,
    ) -> bool {
        let opens = keys::admits(account, key, self.parts.clock.now());
        if opens && scheme == KeyScheme::Unkeyed {
            match self
                .parts
                .store
                .rehash_key(&lookup.unkeyed, &lookup.keyed)
                .await
            {
                Ok(()) => {
                    tracing::info!(account = %account.id, key = %key.id, "key stored under its keyed hash")
                }
                // The key works either way; the next use tries again.
                Err(e) => {
                    tracing::warn!(account = %account.id, error = %crate::chain(&e), "could not rehash a key")
                }
            }
        }
        opens
    }

    /// The account a client key opens: an active key of an enabled account.
    pub async fn authenticate(&self, key: &str) -> Result<Option<Account>, EngineError> {
        let Ok(key) = ApiKey::parse(key) else {
            return Ok(None);
        };
        let lookup = self.key_lookup(&key);
        let Some(KeyHolder {
            account,
            key,
            scheme,
        }) = self.parts.store.account_by_key(&lookup).await?
        else {
            return Ok(None);
        };
        Ok(self
            .admit(&lookup, &account, &key, scheme)
            .await
            .then_some(account))
    }

    /// A key to store for `key`.
    pub(crate) fn new_key(&self, key: &ApiKey, label: Option<String>) -> NewKey {
        NewKey {
            id: KeyId::from_random(random_bytes()),
            hash: self.parts.keys.hasher.hash(key),
            scheme: KeyScheme::Keyed,
            label,
            created_at: self.parts.clock.now(),
        }
    }

    /// `import`, checked, or a new random key.
    pub(crate) async fn key_to_issue(&self, import: Option<ApiKey>) -> Result<ApiKey, EngineError> {
        match import {
            Some(key) => {
                let admin = self.known_admin_hash().await?;
                keys::check_imported_key(&key, admin.as_ref()).map_err(|refusal| {
                    EngineError::Invalid(format!("api_key is refused: {refusal}"))
                })?;
                Ok(key)
            }
            None => ApiKey::parse(&generate_secret()).map_err(|e| EngineError::Internal(e.into())),
        }
    }

    /// The admin token's hash if one is settled: configured and registered, or stored.
    async fn known_admin_hash(&self) -> Result<Option<KeyHash>, EngineError> {
        if let Some(hash) = self.parts.keys.admin.get() {
            return Ok(Some(*hash));
        }
        Ok(self
            .parts
            .store
            .meta(crate::accounts::ADMIN_TOKEN_META)
            .await?
            .and_then(|hex| KeyHash::from_hex(&hex)))
    }

    /// An account's keys, oldest first, whatever their state.
    pub async fn keys(&self, account: AccountId) -> Result<Vec<KeyRecord>, EngineError> {
        self.parts
            .store
            .account(account)
            .await?
            .ok_or(EngineError::NotFound)?;
        Ok(self.parts.store.keys(account).await?)
    }

    /// Adds a key to an account beside those it has: `import` (checked as at account creation)
    /// or a new random one, shown once.
    pub async fn add_key(
        &self,
        account: AccountId,
        label: Option<String>,
        import: Option<ApiKey>,
    ) -> Result<IssuedKey, EngineError> {
        let label = checked_label(label)?;
        let key = self.key_to_issue(import).await?;
        let record = self
            .parts
            .store
            .add_key(account, self.new_key(&key, label))
            .await?;
        tracing::info!(account = %account, key = %record.id, "key added");
        Ok(IssuedKey { record, key })
    }

    /// Issues a new random key and lets every key the account has now expire after `grace`
    /// (at once with a zero grace), so a client can switch without a gap. Returns the new key
    /// and the account's keys as they stand after.
    pub async fn rotate_keys(
        &self,
        account: AccountId,
        label: Option<String>,
        grace: Duration,
    ) -> Result<(IssuedKey, Vec<KeyRecord>), EngineError> {
        if grace > MAX_ROTATION_GRACE {
            return Err(EngineError::Invalid(format!(
                "grace must be at most {} days",
                MAX_ROTATION_GRACE.as_secs() / 86_400
            )));
        }
        let label = checked_label(label)?;
        let now = self.parts.clock.now();
        let current = self.keys(account).await?;
        let expire = current
            .iter()
            .filter_map(|k| keys::rotation_expiry(k, now, grace).map(|at| (k.id.clone(), at)))
            .collect();
        let key = self.key_to_issue(None).await?;
        let rotation = KeyRotation {
            new: self.new_key(&key, label),
            expire,
        };
        let record = self.parts.store.rotate_keys(account, rotation).await?;
        tracing::warn!(account = %account, key = %record.id, grace_s = grace.as_secs(), "keys rotated");
        let keys = self.parts.store.keys(account).await?;
        Ok((IssuedKey { record, key }, keys))
    }

    /// Revokes one key now. Revoking a revoked key changes nothing.
    pub async fn revoke_key(
        &self,
        account: AccountId,
        key: &KeyId,
    ) -> Result<KeyRecord, EngineError> {
        let record = self
            .parts
            .store
            .revoke_key(account, key, self.parts.clock.now())
            .await?
            .ok_or(EngineError::NotFound)?;
        tracing::warn!(account = %account, key = %key, "key revoked");
        Ok(record)
    }

    /// Disables an account: none of its keys opens anything (every dialect answers as for an
    /// unknown key) until it is enabled again. Its data, refunds and balance stay as they are.
    pub async fn disable_account(
        &self,
        id: AccountId,
        reason: String,
    ) -> Result<Account, EngineError> {
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid("a reason is required".into()));
        }
        let disabled = Disabled {
            at: self.parts.clock.now(),
            reason: reason.trim().to_owned(),
        };
        let account = self
            .parts
            .store
            .set_disabled(id, Some(disabled))
            .await?
            .ok_or(EngineError::NotFound)?;
        tracing::warn!(account = %id, "account disabled by an operator");
        Ok(account)
    }

    pub async fn enable_account(&self, id: AccountId) -> Result<Account, EngineError> {
        let account = self
            .parts
            .store
            .set_disabled(id, None)
            .await?
            .ok_or(EngineError::NotFound)?;
        tracing::warn!(account = %id, "account enabled by an operator");
        Ok(account)
    }
}

fn checked_label(label: Option<String>) -> Result<Option<String>, EngineError> {
    let label = label.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
    if let Some(l) = &label {
        keys::validate_key_label(l).map_err(|e| EngineError::Invalid(e.into()))?;
    }
    Ok(label)
}
