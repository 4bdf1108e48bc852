//! What an operator sees at a glance (the dashboard's operator view): reports and money over a
//! window, the accounts that need a look with their recent numbers, and the re-check queue.
//! Provider trends and the router's shares are in [`scores`](crate::scores).

use std::time::Duration;

use verdict_domain::Timestamp;
use verdict_store::{AccountQuery, FlowCount, MoneyCount, RecheckQueue};

use crate::{AccountView, Engine, EngineError};

/// The most accounts needing attention one overview lists.
pub const ATTENTION_LISTED: u32 = 200;

/// The periods an overview can cover, each with the width of its chart buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Period {
    /// The last hour, per minute: what arrives now.
    #[default]
    Hour,
    /// The last day, per half hour.
    Day,
    /// The last week, per six hours.
    Week,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Hour, Period::Day, Period::Week];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Week => "week",
        }
    }

    pub fn length(self) -> Duration {
        Duration::from_secs(match self {
            Period::Hour => 3_600,
            Period::Day => 24 * 3_600,
            Period::Week => 7 * 24 * 3_600,
        })
    }

    pub fn bucket(self) -> Duration {
        Duration::from_secs(match self {
            Period::Hour => 60,
            Period::Day => 30 * 60,
            Period::Week => 6 * 3_600,
        })
    }

    /// Where the period's first bucket begins at `now`: a whole bucket, so that buckets line
    /// up from one refresh to the next.
    pub fn start(self, now: Timestamp) -> Timestamp {
        let width = self.bucket().as_millis() as i64;
        let since = now.saturating_sub(self.length()).as_millis();
        Timestamp::from_millis(since.div_euclid(width) * width + width)
    }
}

/// Reports, money, attention and re-checks over one period.
#[derive(Debug, Clone)]
pub struct Overview {
    pub now: Timestamp,
    pub period: Period,
    /// Where the first bucket begins.
    pub since: Timestamp,
    pub flow: Vec<FlowCount>,
    pub money: Vec<MoneyCount>,
    /// Accounts an operator should look at, each with its activity over the last day, in id
    /// order; at most [`ATTENTION_LISTED`].
    pub attention: Vec<AccountView>,
    /// More accounts need attention than are listed.
    pub attention_truncated: bool,
    pub rechecks: RecheckQueue,
}

impl Engine {
    pub async fn overview(&self, period: Period) -> Result<Overview, EngineError> {
        let now = self.parts.clock.now();
        let since = period.start(now);
        let width = period.bucket().as_millis() as i64;
        let flow = self.parts.store.report_flow(since, width).await?;
        let money = self.parts.store.money_flow(since, width).await?;
        let mut listed = self
            .parts
            .store
            .accounts(&AccountQuery {
                attention_at: Some(now),
                after: None,
                limit: ATTENTION_LISTED + 1,
            })
            .await?;
        // The store's filter may keep more than the rule holds for; the domain decides.
        listed.retain(|a| a.needs_attention(now));
        let attention_truncated = listed.len() > ATTENTION_LISTED as usize;
        listed.truncate(ATTENTION_LISTED as usize);
        let day_ago = now.saturating_sub(crate::ACTIVITY_PERIOD);
        let mut attention = Vec::with_capacity(listed.len());
        for account in listed {
            let activity = self
                .parts
                .store
                .account_activity(account.id, day_ago)
                .await?;
            attention.push(AccountView { account, activity });
        }
        Ok(Overview {
            now,
            period,
            since,
            flow,
            money,
            attention,
            attention_truncated,
            rechecks: self.parts.store.recheck_queue(now).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_starts_on_a_whole_bucket_and_covers_its_length() {
        let now = Timestamp::from_millis(1_800_000_123_456);
        for period in Period::ALL {
            let start = period.start(now);
            let width = period.bucket().as_millis() as i64;
            assert_eq!(start.as_millis() % width, 0, "{period:?}");
            let covered = now.as_millis() - start.as_millis();
            let length = period.length().as_millis() as i64;
            assert!(
                covered <= length && covered > length - width,
                "{period:?}: {covered} of {length}"
            );
            assert_eq!(Period::parse(period.as_str()), Some(period));
        }
        assert_eq!(Period::parse("month"), None);
    }
}
