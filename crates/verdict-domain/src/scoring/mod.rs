//! What verdict believes of solvers: how much one report says about the task's provider and
//! worker ([`reliability`]: the trust-weighted signal, the Beta belief), and the scores it
//! publishes from that evidence ([`published`]: aged sums, credible intervals, ranking), and
//! what the tasks nobody complained about say ([`silence`]).

pub mod published;
pub mod reliability;
pub mod silence;

pub use published::{
    Interval, Observed, ReportingBounds, Score, aged_sum, rank, score, type_prior,
};
pub use reliability::{
    CORRECTION_WEIGHT, PUBLISHED_HALF_LIFE, Prior, RECHECK_WEIGHT, Reliability, Signal, Weighed,
    reliability, signal_of,
};
pub use silence::{LagDistribution, Reporter, lag_bucket, silence_weight, silent_good};
