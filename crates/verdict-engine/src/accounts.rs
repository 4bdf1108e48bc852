//! Accounts: creation with a key shown once, authentication, views, and what operators change
//! by hand (trust, standing).

use std::time::Duration;

use verdict_domain::{Account, AccountId, ApiKey, KeyHash, LedgerEntry, Standing, Timestamp};
use verdict_store::{AccountQuery, CreationKey, FamilyActivity, NewAccount};

use crate::secrets::generate_secret;
use crate::{Engine, EngineError};

/// How far back account statistics look.
pub const ACTIVITY_PERIOD: Duration = Duration::from_secs(24 * 3600);

/// An account just created (or found again by its creation's idempotency key) and its key,
/// shown this once.
#[derive(Debug, Clone)]
pub struct CreatedAccount {
    pub account: Account,
    pub key: ApiKey,
    /// Created by an earlier request with the same idempotency key.
    pub replayed: bool,
}

/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

fn check_idempotency_key(key: &str) -> Result<(), EngineError> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(EngineError::Invalid(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters"
        )));
    }
    Ok(())
}

/// Where the generated admin token's hash is stored.
pub(crate) const ADMIN_TOKEN_META: &str = "admin_token_sha256";

/// An account with its recent activity.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub account: Account,
    pub activity: Vec<FamilyActivity>,
}

/// The most accounts one page of [`Engine::accounts`] holds.
pub const MAX_ACCOUNTS_PAGE: u32 = 1_000;

/// One page of accounts in id order.
#[derive(Debug, Clone)]
pub struct AccountPage {
    pub accounts: Vec<AccountView>,
    /// Where the next page starts (after this id); `None` on the last page.
    pub next: Option<AccountId>,
}

impl Engine {
    /// The account for a username and password pair (DeathByCaptcha's login): the password is
    /// the account's API key and the username its name. Both must match.
    pub async fn authenticate_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Account>, EngineError> {
        let account = self.authenticate(password).await?;
        Ok(account.filter(|a| a.name == username))
    }

    /// Creates an account. Its key is `import` (a key the client already uses elsewhere) or a
    /// new random one; either way only its hash is stored, and the key is returned once.
    pub async fn create_account(
        &self,
        name: String,
        trusted: bool,
        import: Option<ApiKey>,
    ) -> Result<(Account, ApiKey), EngineError> {
        let created = self
            .create_account_once(name, trusted, import, None)
            .await?;
        Ok((created.account, created.key))
    }

    /// [`Engine::create_account`] that a client can retry: the first request with an
    /// idempotency key creates the account; a retry of the same request answers with the same
    /// account and key (`replayed`), a different request under the same key is refused. The
    /// generated key is derived from the idempotency key under the key secret, so it is never
    /// stored, yet the retry can show it.
    pub async fn create_account_once(
        &self,
        name: String,
        trusted: bool,
        import: Option<ApiKey>,
        idempotency: Option<&str>,
    ) -> Result<CreatedAccount, EngineError> {
        verdict_domain::account::validate_account_name(&name)
            .map_err(|e| EngineError::Invalid(e.into()))?;
        let Some(creation) = idempotency else {
            let key = self.key_to_issue(import).await?;
            let account = self.insert_account(name, trusted, &key, None).await?;
            return Ok(CreatedAccount {
                account,
                key,
                replayed: false,
            });
        };
        check_idempotency_key(creation)?;
        let hasher = &self.parts.keys.hasher;
        let fingerprint = hasher.creation_fingerprint(&name, trusted, import.as_ref());
        let key = match import {
            Some(key) => self.key_to_issue(Some(key)).await?,
            None => hasher.key_for_creation(creation),
        };
        if let Some(replay) = self.replay_creation(creation, &fingerprint, &key).await? {
            return Ok(replay);
        }
        let stored = CreationKey {
            key: creation.to_owned(),
            fingerprint: fingerprint.clone(),
        };
        match self.insert_account(name, trusted, &key, Some(stored)).await {
            Ok(account) => Ok(CreatedAccount {
                account,
                key,
                replayed: false,
            }),
            // Another request with the same key won the race: answer as its retry.
            Err(EngineError::Conflict { .. }) => self
                .replay_creation(creation, &fingerprint, &key)
                .await?
                .ok_or_else(|| EngineError::conflict("API key already in use")),
            Err(other) => Err(other),
        }
    }

    async fn insert_account(
        &self,
        name: String,
        trusted: bool,
        key: &ApiKey,
        idempotency: Option<CreationKey>,
    ) -> Result<Account, EngineError> {
        let account = self
            .parts
            .store
            .create_account(NewAccount {
                name,
                trusted,
                key: self.new_key(key, None),
                created_at: self.parts.clock.now(),
                idempotency,
            })
            .await?;
        if trusted {
            self.parts.silence.set_trusted(account.id, true);
        }
        tracing::info!(account = %account.id, trusted, "account created");
        Ok(account)
    }

    /// The answer to a retried creation, if the idempotency key was used before.
    async fn replay_creation(
        &self,
        creation: &str,
        fingerprint: &str,
        key: &ApiKey,
    ) -> Result<Option<CreatedAccount>, EngineError> {
        let Some((account, stored)) = self.parts.store.account_by_creation_key(creation).await?
        else {
            return Ok(None);
        };
        if stored != fingerprint {
            return Err(EngineError::conflict(
                "This Idempotency-Key was used for a different request; use a new key.",
            ));
        }
        let lookup = self.key_lookup(key);
        let still_opens = match self.parts.store.account_by_key(&lookup).await? {
            Some(holder) => {
                holder.account.id == account.id
                    && verdict_domain::keys::admits(
                        &holder.account,
                        &holder.key,
                        self.parts.clock.now(),
                    )
            }
            None => false,
        };
        if !still_opens {
            return Err(EngineError::conflict(format!(
                "Account {} was created by this request, but the key it was given has been \
                 rotated or revoked since; issue a new one with POST /v1/accounts/{}/keys.",
                account.id, account.id
            )));
        }
        Ok(Some(CreatedAccount {
            account,
            key: key.clone(),
            replayed: true,
        }))
    }

    fn remember_admin(&self, hash: KeyHash) -> KeyHash {
        // A process serves with one admin token: the first settled is the one checked against.
        let _ = self.parts.keys.admin.set(hash);
        hash
    }

    pub async fn account(&self, id: AccountId) -> Result<AccountView, EngineError> {
        let account = self
            .parts
            .store
            .account(id)
            .await?
            .ok_or(EngineError::NotFound)?;
        let since = self.parts.clock.now().saturating_sub(ACTIVITY_PERIOD);
        let activity = self.parts.store.account_activity(id, since).await?;
        Ok(AccountView { account, activity })
    }

    /// Accounts in id order after `after`, `limit` of them at most (capped at
    /// [`MAX_ACCOUNTS_PAGE`]), each with its activity; with `attention`, only those an operator
    /// should look at now (`Account::needs_attention`).
    pub async fn accounts(
        &self,
        after: Option<AccountId>,
        limit: u32,
        attention: bool,
    ) -> Result<AccountPage, EngineError> {
        let now = self.parts.clock.now();
        let limit = limit.clamp(1, MAX_ACCOUNTS_PAGE);
        let listed = self
            .parts
            .store
            .accounts(&AccountQuery {
                attention_at: attention.then_some(now),
                after,
                limit,
            })
            .await?;
        // The page goes as far as the store read, even where the rule below drops the last
        // ones, so that the next page never reads them again.
        let next = (listed.len() == limit as usize)
            .then(|| listed.last().map(|a| a.id))
            .flatten();
        let since = now.saturating_sub(ACTIVITY_PERIOD);
        let mut accounts = Vec::with_capacity(listed.len());
        // The store's filter may keep more than the rule holds for; the domain decides.
        for account in listed
            .into_iter()
            .filter(|a| !attention || a.needs_attention(now))
        {
            let activity = self.parts.store.account_activity(account.id, since).await?;
            accounts.push(AccountView { account, activity });
        }
        Ok(AccountPage { accounts, next })
    }

    pub async fn ledger(&self, id: AccountId) -> Result<Vec<LedgerEntry>, EngineError> {
        Ok(self.parts.store.ledger(id).await?)
    }

    /// Puts an account in the trusted cohort, or takes it out.
    pub async fn set_trusted(&self, id: AccountId, trusted: bool) -> Result<Account, EngineError> {
        let account = self
            .parts
            .store
            .set_trusted(id, trusted)
            .await?
            .ok_or(EngineError::NotFound)?;
        self.parts.silence.set_trusted(id, trusted);
        tracing::info!(account = %id, trusted, "trust changed by an operator");
        Ok(account)
    }

    /// Ignores an account's incorrect-reports until `until`, by an operator's decision.
    pub async fn impose_ignore(
        &self,
        id: AccountId,
        until: Timestamp,
        reason: String,
    ) -> Result<Account, EngineError> {
        if until <= self.parts.clock.now() {
            return Err(EngineError::Invalid(
                "the ignore period must end in the future".into(),
            ));
        }
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid("a reason is required".into()));
        }
        let standing = Standing::Ignored {
            until,
            reason: format!("by an operator: {}", reason.trim()),
        };
        let account = self
            .parts
            .store
            .set_standing(id, standing, self.parts.clock.now())
            .await?
            .ok_or(EngineError::NotFound)?;
        crate::metrics::standing("ignored", "operator");
        tracing::warn!(account = %id, until = %until, "ignore period imposed by an operator");
        Ok(account)
    }

    /// Ends an account's ignore period.
    pub async fn lift_ignore(&self, id: AccountId) -> Result<Account, EngineError> {
        let account = self
            .parts
            .store
            .set_standing(id, Standing::Good, self.parts.clock.now())
            .await?
            .ok_or(EngineError::NotFound)?;
        crate::metrics::standing("lifted", "operator");
        tracing::warn!(account = %id, "ignore period lifted by an operator");
        Ok(account)
    }

    /// The admin token's hash. A configured token wins (if it is strong enough:
    /// `keys::check_admin_token`); otherwise the one stored at first start; otherwise a new
    /// token is generated, stored (as a hash) and returned so it can be shown once. Several
    /// nodes starting together agree on one token. The engine remembers it, so that no client
    /// key can be imported equal to it.
    pub async fn admin_token(
        &self,
        configured: Option<&str>,
    ) -> Result<(KeyHash, Option<String>), EngineError> {
        if let Some(token) = configured {
            verdict_domain::keys::check_admin_token(token).map_err(|weak| {
                EngineError::Invalid(format!("the admin token is refused: {weak}"))
            })?;
            return Ok((self.remember_admin(KeyHash::unkeyed(token)), None));
        }
        if let Some(stored) = self.parts.store.meta(ADMIN_TOKEN_META).await? {
            let hash = KeyHash::from_hex(&stored).ok_or_else(|| {
                EngineError::Internal(anyhow::anyhow!("stored admin token hash is malformed"))
            })?;
            return Ok((self.remember_admin(hash), None));
        }
        let token = generate_secret();
        let hash = KeyHash::unkeyed(&token);
        if self
            .parts
            .store
            .set_meta_if_absent(ADMIN_TOKEN_META, &hash.to_hex())
            .await?
        {
            return Ok((self.remember_admin(hash), Some(token)));
        }
        // Another node stored one first: use that.
        Box::pin(self.admin_token(None)).await
    }
}
