//! verdict's use cases. Each one loads what a decision needs from the [`Store`], asks the pure
//! domain to decide, and persists the result, returning a canonical outcome that every wire
//! dialect renders in its own shape. Knows nothing of HTTP.
//!
//! Modules by use case: [`reports`] (judging a report), [`statistics`] (the cohort and the
//! baselines the screen compares with), [`rechecks`] (second solves), [`scores`] (reliability
//! scores and routing), [`accounts`], [`tasks`], [`corrections`] (the dataset, page by page),
//! `retention` (deleting old tasks).

mod accounts;
mod clock;
mod corrections;
mod error;
mod keys;
pub mod metrics;
mod overview;
mod rechecks;
mod reports;
mod retention;
mod scores;
mod secrets;
mod silence;
mod statistics;
mod tasks;

use std::sync::Arc;

use verdict_domain::{Policy, Timestamp};
use verdict_store::Store;

pub use accounts::{ACTIVITY_PERIOD, AccountPage, AccountView, CreatedAccount, MAX_ACCOUNTS_PAGE};
pub use clock::{Clock, ManualClock, ScaledClock, SystemClock};
pub use corrections::{CORRECTIONS_PAGE, CorrectionFilter, CorrectionPages};
pub use error::{EngineError, chain};
pub use keys::{DEFAULT_ROTATION_GRACE, IssuedKey, MAX_ROTATION_GRACE};
pub use overview::{ATTENTION_LISTED, Overview, Period};
pub use rechecks::RecheckOutcome;
pub use reports::ReportOutcome;
pub use retention::{PRUNE_BATCH, Pruned};
pub use scores::{
    HOURS_KEPT, MINUTES_KEPT, ProviderProfile, ProviderScore, RouteOutcome, RouteRequest, Router,
    RoutingSettings, ScoreHistory, WorkerScore,
};
pub use secrets::generate_secret;
pub use statistics::{FamilyCohort, Refresh};
pub use tasks::{INGEST_STEP, Ingest, IngestSummary, MAX_REPORTS_PAGE, TaskStory, ValidatedStep};
/// What `Engine::reports` lists: storage's query, as handlers build it.
pub use verdict_store::ReportQuery;
pub use verdict_store::{FlowCount, MoneyCount, RecheckQueue};

/// The service's operations over a store. Cloned for every request (each middleware layer and
/// handler holds one), so it is one shared pointer.
#[derive(Debug, Clone)]
pub struct Engine {
    parts: Arc<Parts>,
}

#[derive(Debug, Clone)]
struct Parts {
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    clock: Arc<dyn Clock>,
    router: Arc<Router>,
    cohort_growth: Arc<statistics::CohortGrowth>,
    silence: Arc<silence::SilenceWeights>,
    keys: Arc<keys::Keys>,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, policy: Policy, clock: Arc<dyn Clock>) -> Self {
        Self {
            parts: Arc::new(Parts {
                store,
                policy: Arc::new(policy),
                clock,
                router: Arc::new(Router::new(RoutingSettings::default())),
                cohort_growth: Arc::default(),
                silence: Arc::default(),
                keys: Arc::new(keys::Keys::ephemeral()),
            }),
        }
    }

    /// The same engine hashing API keys under the deployment's key secret. Until it is given
    /// one, an engine hashes under a random secret of its own, so keys it issues open nothing
    /// after a restart: every long-lived engine must be given the secret.
    pub fn with_key_secret(mut self, secret: &verdict_domain::keys::KeySecret) -> Self {
        Arc::make_mut(&mut self.parts).keys = Arc::new(keys::Keys::new(secret));
        self
    }

    /// The same engine routing with these providers and settings.
    pub fn with_routing(mut self, settings: RoutingSettings) -> Self {
        Arc::make_mut(&mut self.parts).router = Arc::new(Router::new(settings));
        self
    }

    pub fn routing(&self) -> &RoutingSettings {
        self.parts.router.settings()
    }

    /// Another engine on the same store and policy with a clock of its own (and its own
    /// router): what a simulation's concurrent lanes use.
    pub fn with_clock(&self, clock: Arc<dyn Clock>) -> Self {
        Self {
            parts: Arc::new(Parts {
                clock,
                router: Arc::new(Router::new(self.parts.router.settings().clone())),
                ..(*self.parts).clone()
            }),
        }
    }

    /// Succeeds when the database answers reads and writes: the readiness probe.
    pub async fn ready(&self) -> Result<(), EngineError> {
        Ok(self.parts.store.ping().await?)
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.parts.store.backend()
    }

    pub fn policy(&self) -> &Policy {
        &self.parts.policy
    }

    pub fn now(&self) -> Timestamp {
        self.parts.clock.now()
    }
}
