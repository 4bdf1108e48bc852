//! verdict's use cases. Each one loads what a decision needs from the [`Store`], asks the pure
//! domain to decide, and persists the result, returning a canonical outcome that every wire
//! dialect renders in its own shape. Knows nothing of HTTP.

mod clock;
mod error;
mod secrets;

use std::sync::Arc;
use std::time::Duration;

use verdict_domain::judging::judge_second_report;
use verdict_domain::{
    Account, AccountId, ApiKey, Judgement, KeyHash, LedgerEntry, Policy, Refusal, Report,
    ReportRequest, Situation, Task, TaskId, TaskInput, Timestamp, judge,
};
use verdict_store::{FamilyActivity, IngestResult, NewAccount, Recorded, Store};

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::EngineError;
pub use secrets::generate_secret;

/// How far back account statistics look.
pub const ACTIVITY_PERIOD: Duration = Duration::from_secs(24 * 3600);

/// What became of a report, whatever dialect it came through.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportOutcome {
    /// Judged and recorded now (accepted, rejected, acknowledged or pending).
    Recorded(Report),
    /// An identical report was recorded before; this is it, unchanged.
    Repeated(Report),
    /// Nothing recorded.
    Refused(Refusal),
}

/// An account with its recent activity.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub account: Account,
    pub activity: Vec<FamilyActivity>,
}

/// The result of an ingest request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub inserted: usize,
    pub duplicates: usize,
    /// Records not stored: their position in the request and why.
    pub rejected: Vec<(usize, String)>,
}

#[derive(Debug, Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    clock: Arc<dyn Clock>,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, policy: Policy, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            policy: Arc::new(policy),
            clock,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Judges a report presented with `key` and records it. Safe under any concurrency: if two
    /// reports on one task race, storage keeps the first and the second is judged against it.
    pub async fn submit_report(
        &self,
        key: &str,
        request: ReportRequest,
    ) -> Result<ReportOutcome, EngineError> {
        let Ok(key) = ApiKey::parse(key) else {
            return Ok(ReportOutcome::Refused(Refusal::UnknownKey));
        };
        let Some(ctx) = self
            .store
            .report_context(&key.hash(), &request.task)
            .await?
        else {
            return Ok(ReportOutcome::Refused(Refusal::UnknownKey));
        };
        self.judge_and_record(
            &ctx.account,
            ctx.task.as_ref(),
            ctx.existing.as_ref(),
            request,
        )
        .await
    }

    /// Like [`Engine::submit_report`], for a caller already authenticated as `account`.
    pub async fn submit_report_for(
        &self,
        account: &Account,
        request: ReportRequest,
    ) -> Result<ReportOutcome, EngineError> {
        let (task, existing) = match self.store.task(&request.task).await? {
            Some((task, existing)) => (Some(task), existing),
            None => (None, None),
        };
        self.judge_and_record(account, task.as_ref(), existing.as_ref(), request)
            .await
    }

    async fn judge_and_record(
        &self,
        account: &Account,
        task: Option<&Task>,
        existing: Option<&Report>,
        request: ReportRequest,
    ) -> Result<ReportOutcome, EngineError> {
        let situation = Situation {
            account,
            task,
            existing,
        };
        let report = match judge(&request, situation, &self.policy, self.clock.now()) {
            Judgement::Refuse(refusal) => return Ok(ReportOutcome::Refused(refusal)),
            Judgement::Repeat(existing) => return Ok(ReportOutcome::Repeated(existing)),
            Judgement::Record(report) => report,
        };
        match self.store.record_report(report).await? {
            Recorded::Inserted(report) => {
                tracing::info!(
                    task = %report.task, account = %report.account, dialect = report.dialect,
                    verdict = report.verdict.as_str(), reason = %report.reason, "report judged"
                );
                Ok(ReportOutcome::Recorded(report))
            }
            // Another report on this task was stored between our read and our write.
            Recorded::Existing(existing) => Ok(match judge_second_report(&request, &existing) {
                Ok(repeat) => ReportOutcome::Repeated(repeat),
                Err(conflict) => ReportOutcome::Refused(conflict),
            }),
        }
    }

    /// The account a client key belongs to.
    pub async fn authenticate(&self, key: &str) -> Result<Option<Account>, EngineError> {
        let Ok(key) = ApiKey::parse(key) else {
            return Ok(None);
        };
        Ok(self.store.account_by_key(&key.hash()).await?)
    }

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
        verdict_domain::account::validate_account_name(&name)
            .map_err(|e| EngineError::Invalid(e.into()))?;
        let key = match import {
            Some(key) => key,
            None => {
                ApiKey::parse(&generate_secret()).map_err(|e| EngineError::Internal(e.into()))?
            }
        };
        let account = self
            .store
            .create_account(NewAccount {
                name,
                trusted,
                key_hash: key.hash(),
                created_at: self.clock.now(),
            })
            .await?;
        tracing::info!(account = %account.id, trusted, "account created");
        Ok((account, key))
    }

    pub async fn account(&self, id: AccountId) -> Result<AccountView, EngineError> {
        let account = self.store.account(id).await?.ok_or(EngineError::NotFound)?;
        let since = self.clock.now().saturating_sub(ACTIVITY_PERIOD);
        let activity = self.store.account_activity(id, since).await?;
        Ok(AccountView { account, activity })
    }

    pub async fn ledger(&self, id: AccountId) -> Result<Vec<LedgerEntry>, EngineError> {
        Ok(self.store.ledger(id).await?)
    }

    pub async fn task(&self, id: &TaskId) -> Result<Option<(Task, Option<Report>)>, EngineError> {
        Ok(self.store.task(id).await?)
    }

    /// Validates and stores a batch of task records. `records` holds, per position, either the
    /// record or why it could not even be read. Valid records are stored in one transaction.
    pub async fn ingest(
        &self,
        records: Vec<Result<TaskInput, String>>,
    ) -> Result<IngestSummary, EngineError> {
        let now = self.clock.now();
        let mut summary = IngestSummary::default();
        let mut tasks = Vec::with_capacity(records.len());
        let mut positions = Vec::with_capacity(records.len());
        for (index, record) in records.into_iter().enumerate() {
            match record.and_then(|r| r.validate(now)) {
                Ok(task) => {
                    tasks.push(task);
                    positions.push(index);
                }
                Err(why) => summary.rejected.push((index, why)),
            }
        }
        if tasks.is_empty() {
            return Ok(summary);
        }
        let accounts: Vec<AccountId> = tasks.iter().map(|t| t.account).collect();
        let results = self.store.ingest_tasks(tasks, now).await?;
        for ((result, index), account) in results.into_iter().zip(positions).zip(accounts) {
            match result {
                IngestResult::Inserted => summary.inserted += 1,
                IngestResult::Duplicate => summary.duplicates += 1,
                IngestResult::UnknownAccount => summary
                    .rejected
                    .push((index, format!("account: no account with id {account}"))),
            }
        }
        summary.rejected.sort_by_key(|(i, _)| *i);
        tracing::info!(
            inserted = summary.inserted,
            duplicates = summary.duplicates,
            rejected = summary.rejected.len(),
            "tasks ingested"
        );
        Ok(summary)
    }

    /// The admin token's hash. A configured token wins; otherwise the one stored at first start;
    /// otherwise a new token is generated, stored (as a hash) and returned so it can be shown
    /// once. Several nodes starting together agree on one token.
    pub async fn admin_token(
        &self,
        configured: Option<&str>,
    ) -> Result<(KeyHash, Option<String>), EngineError> {
        const META_KEY: &str = "admin_token_sha256";
        if let Some(token) = configured {
            return Ok((KeyHash::of(token), None));
        }
        if let Some(stored) = self.store.meta(META_KEY).await? {
            let hash = KeyHash::from_hex(&stored).ok_or_else(|| {
                EngineError::Internal(anyhow::anyhow!("stored admin token hash is malformed"))
            })?;
            return Ok((hash, None));
        }
        let token = generate_secret();
        let hash = KeyHash::of(&token);
        if self
            .store
            .set_meta_if_absent(META_KEY, &hash.to_hex())
            .await?
        {
            return Ok((hash, Some(token)));
        }
        // Another node stored one first: use that.
        Box::pin(self.admin_token(None)).await
    }
}
