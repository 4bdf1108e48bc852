//! API keys in PostgreSQL: mirrors `sqlite/keys.rs`. Finding the account a presented key opens,
//! and storing what the engine decided about keys; whether a key still opens its account is the
//! domain's to say.

use deadpool_postgres::GenericClient;
use verdict_domain::keys::{KeyId, KeyLookup, KeyRecord, KeyScheme};
use verdict_domain::{AccountId, KeyHash, Timestamp};

use super::rows::{self, ACCOUNT_COLUMNS, ACCOUNT_WIDTH, KEY_COLUMNS};
use super::{Fail, PgResult};
use crate::{KeyHolder, NewKey, StoreError};

/// `SELECT` of the account and key a presented key was stored for, by either of its hashes
/// (`$1` keyed, `$2` unkeyed); the keyed one sorts first should both ever match.
pub(super) fn holder_sql() -> String {
    format!(
        "SELECT {ACCOUNT_COLUMNS}, {KEY_COLUMNS} FROM api_keys k
         JOIN accounts a ON a.id = k.account_id
         WHERE k.key_hash IN ($1, $2) ORDER BY k.scheme LIMIT 1"
    )
}

/// The holder a row of [`holder_sql`] (or a query starting with the same columns) describes,
/// if its hash really is one of the lookup's (compared in constant time).
pub(super) fn holder_of(
    row: &tokio_postgres::Row,
    lookup: &KeyLookup,
) -> Result<Option<KeyHolder>, StoreError> {
    let account = rows::account(row)?;
    let (key, scheme, stored) = rows::key(row, ACCOUNT_WIDTH)?;
    Ok(
        (lookup.scheme_of(&stored) == Some(scheme)).then_some(KeyHolder {
            account,
            key,
            scheme,
        }),
    )
}

/// Inserts a key; `Conflict` if its hash is in use.
pub(super) async fn insert<C: GenericClient>(
    client: &C,
    account: AccountId,
    key: &NewKey,
) -> PgResult<KeyRecord> {
    client
        .execute(
            "INSERT INTO api_keys (key_hash, account_id, created_at, key_id, scheme, label)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &key.hash.as_bytes().as_slice(),
                &account.0,
                &key.created_at.as_millis(),
                &key.id.as_str(),
                &key.scheme.as_str(),
                &key.label,
            ],
        )
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict { .. } => {
                Fail::Store(StoreError::conflict("API key already in use"))
            }
            other => Fail::Store(other),
        })?;
    Ok(KeyRecord {
        id: key.id.clone(),
        account,
        label: key.label.clone(),
        created_at: key.created_at,
        expires_at: None,
        revoked_at: None,
    })
}

/// Whether a key hash is taken: checked before inserting an account so that a refused key does
/// not use up an account id (a sequence does not roll back); the unique key still decides a race.
pub(super) async fn hash_taken<C: GenericClient>(client: &C, hash: &KeyHash) -> PgResult<bool> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM api_keys WHERE key_hash = $1",
            &[&hash.as_bytes().as_slice()],
        )
        .await?
        .is_some())
}

/// Locks the account's row until the transaction ends, so that keys are not added to an account
/// being created or changed; `false` if there is no such account.
pub(super) async fn lock_account<C: GenericClient>(
    client: &C,
    account: AccountId,
) -> PgResult<bool> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE",
            &[&account.0],
        )
        .await?
        .is_some())
}

pub(super) async fn set_expiry<C: GenericClient>(
    client: &C,
    account: AccountId,
    key: &KeyId,
    at: Timestamp,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE api_keys SET expires_at = $3 WHERE account_id = $1 AND key_id = $2",
            &[&account.0, &key.as_str(), &at.as_millis()],
        )
        .await?;
    Ok(())
}

pub(super) async fn revoke<C: GenericClient>(
    client: &C,
    account: AccountId,
    key: &KeyId,
    at: Timestamp,
) -> PgResult<Option<KeyRecord>> {
    // An UPDATE that changes nothing returns nothing, so the key is read back separately.
    client
        .execute(
            "UPDATE api_keys SET revoked_at = $3
             WHERE account_id = $1 AND key_id = $2 AND revoked_at IS NULL",
            &[&account.0, &key.as_str(), &at.as_millis()],
        )
        .await?;
    let sql =
        format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.account_id = $1 AND k.key_id = $2");
    match client.query_opt(&sql, &[&account.0, &key.as_str()]).await? {
        Some(row) => Ok(Some(rows::key(&row, 0)?.0)),
        None => Ok(None),
    }
}

pub(super) async fn of_account<C: GenericClient>(
    client: &C,
    account: AccountId,
) -> PgResult<Vec<KeyRecord>> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.account_id = $1 ORDER BY k.created_at, k.key_id"
    );
    let rows = client.query(&sql, &[&account.0]).await?;
    rows.iter()
        .map(|row| Ok(rows::key(row, 0)?.0))
        .collect::<PgResult<Vec<_>>>()
}

pub(super) async fn rehash<C: GenericClient>(
    client: &C,
    unkeyed: &KeyHash,
    keyed: &KeyHash,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE api_keys SET key_hash = $2, scheme = $3 WHERE key_hash = $1 AND scheme = $4",
            &[
                &unkeyed.as_bytes().as_slice(),
                &keyed.as_bytes().as_slice(),
                &KeyScheme::Keyed.as_str(),
                &KeyScheme::Unkeyed.as_str(),
            ],
        )
        .await?;
    Ok(())
}
