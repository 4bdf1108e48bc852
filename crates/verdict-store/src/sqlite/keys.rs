//! API keys in SQLite: finding the account a presented key opens, and storing what the engine
//! decided about keys (new, rotated, revoked, rehashed). Whether a key still opens its account
//! is not decided here: the stored record goes back to the domain.

use rusqlite::{Connection, OptionalExtension, params};
use verdict_domain::keys::{KeyId, KeyLookup, KeyRecord, KeyScheme};
use verdict_domain::{AccountId, KeyHash, Timestamp};

use super::rows::{self, ACCOUNT_COLUMNS, ACCOUNT_WIDTH, KEY_COLUMNS};
use crate::{KeyHolder, NewKey, StoreError, StoreResult};

/// The account and key a presented key was stored for, by either of its hashes.
pub(super) fn holder(conn: &Connection, lookup: &KeyLookup) -> StoreResult<Option<KeyHolder>> {
    // One point lookup per hash, the keyed one first (it is what a key is stored under once
    // used). Not `key_hash IN (?1, ?2)`: SQLite builds a temporary b-tree for the list on
    // every run, which cost more than the rest of the report's reads (docs/performance.md).
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS}, {KEY_COLUMNS} FROM api_keys k
         JOIN accounts a ON a.id = k.account_id
         WHERE k.key_hash = ?1"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    for hash in [&lookup.keyed, &lookup.unkeyed] {
        let found = stmt
            .query_row([hash.as_bytes().as_slice()], |row| {
                Ok((rows::account(row)?, rows::key(row, ACCOUNT_WIDTH)?))
            })
            .optional()?;
        if let Some((account, (key, scheme, stored))) = found {
            // The index found the row; compare again in constant time so that the check
            // itself does not depend on how much of the hash matched.
            return Ok(
                (lookup.scheme_of(&stored) == Some(scheme)).then_some(KeyHolder {
                    account,
                    key,
                    scheme,
                }),
            );
        }
    }
    Ok(None)
}

/// Inserts a key; `Conflict` if its hash is in use.
pub(super) fn insert(
    conn: &Connection,
    account: AccountId,
    key: &NewKey,
) -> StoreResult<KeyRecord> {
    conn.prepare_cached(
        "INSERT INTO api_keys (key_hash, account_id, created_at, key_id, scheme, label)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        key.hash.as_bytes().as_slice(),
        account.0,
        key.created_at.as_millis(),
        key.id.as_str(),
        key.scheme.as_str(),
        key.label,
    ])
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict { .. } => StoreError::conflict("API key already in use"),
        other => other,
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

pub(super) fn account_exists(conn: &Connection, account: AccountId) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?1)")?
        .query_row([account.0], |r| r.get(0))?)
}

pub(super) fn set_expiry(
    conn: &Connection,
    account: AccountId,
    key: &KeyId,
    at: Timestamp,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE api_keys SET expires_at = ?3 WHERE account_id = ?1 AND key_id = ?2",
    )?
    .execute(params![account.0, key.as_str(), at.as_millis()])?;
    Ok(())
}

pub(super) fn revoke(
    conn: &Connection,
    account: AccountId,
    key: &KeyId,
    at: Timestamp,
) -> StoreResult<Option<KeyRecord>> {
    conn.prepare_cached(
        "UPDATE api_keys SET revoked_at = ?3
         WHERE account_id = ?1 AND key_id = ?2 AND revoked_at IS NULL",
    )?
    .execute(params![account.0, key.as_str(), at.as_millis()])?;
    let sql =
        format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.account_id = ?1 AND k.key_id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![account.0, key.as_str()], |row| rows::key(row, 0))
        .optional()?
        .map(|(record, _, _)| record))
}

pub(super) fn of_account(conn: &Connection, account: AccountId) -> StoreResult<Vec<KeyRecord>> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.account_id = ?1 ORDER BY k.created_at, k.key_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let keys = stmt
        .query_map([account.0], |row| rows::key(row, 0))?
        .map(|r| r.map(|(record, _, _)| record))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(keys)
}

pub(super) fn rehash(conn: &Connection, unkeyed: &KeyHash, keyed: &KeyHash) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE api_keys SET key_hash = ?2, scheme = ?3 WHERE key_hash = ?1 AND scheme = ?4",
    )?
    .execute(params![
        unkeyed.as_bytes().as_slice(),
        keyed.as_bytes().as_slice(),
        KeyScheme::Keyed.as_str(),
        KeyScheme::Unkeyed.as_str(),
    ])?;
    Ok(())
}
