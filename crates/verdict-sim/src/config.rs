//! What a simulation run is made of. `full` is research/domain.md §6; `ci` is the same world
//! scaled down so that the test suite can afford it.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimConfig {
    pub seed: u64,
    /// Days before scoring starts, so that the cohort and the baselines exist (not scored).
    pub warmup_days: u32,
    /// Scored days.
    pub days: u32,
    pub honest: usize,
    /// Accounts per abuse strategy (domain.md §6.2: 50).
    pub per_strategy: usize,
    /// New sybil accounts per scored day, each doing `sybil_tasks` tasks and reporting them all.
    pub sybils_per_day: usize,
    pub sybil_tasks: u64,
    /// Share of honest accounts the operator marked trusted: the cohort.
    pub trusted_share: f64,
    /// Share of the trusted cohort that is in fact abusive (mistakes of the operator).
    pub contamination: f64,
    /// Most tasks a day one account sends.
    pub volume_cap: f64,
    /// Share of honest accounts that confirm every solution that worked (domain.md §6.1: 30 %).
    pub confirm_share: f64,
    /// Share of honest accounts whose own integration breaks once for 12 h.
    pub outage_share: f64,
    /// Image and audio reports go through second solves.
    pub rechecks: bool,
    /// How often the platform's second solve gives the true answer.
    pub resolver_accuracy: f64,
    /// Refunds of an account put on ignored standing are clawed back (verdict's default).
    pub clawback: bool,
    /// Every abusive account abuses from its first task (otherwise each turns at a random
    /// moment of the first third of the scored days).
    pub abuse_at_start: bool,
}

/// Worlds that break one of the standard world's kind assumptions each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// Warm-up days, a quarter of the honest accounts trusted, 30 % of them confirming.
    Standard,
    /// A fresh database: no warm-up, every abuser abusing from the first minute.
    DayOne,
    /// 15 trusted accounts, fewer than a cohort fit needs (the platform most are).
    SmallPlatform,
    /// Nobody confirms a solution that worked.
    NoConfirmations,
}

impl World {
    pub const ALL: [World; 4] = [
        World::Standard,
        World::DayOne,
        World::SmallPlatform,
        World::NoConfirmations,
    ];

    pub fn name(self) -> &'static str {
        match self {
            World::Standard => "standard",
            World::DayOne => "day-one",
            World::SmallPlatform => "small-platform",
            World::NoConfirmations => "no-confirmations",
        }
    }
}

impl SimConfig {
    /// The standard simulation: 2,000 honest accounts, 50 per abuse strategy, 20 sybils a day,
    /// 3 warm-up days and 30 scored days.
    pub fn full(seed: u64) -> Self {
        Self {
            seed,
            warmup_days: 3,
            days: 30,
            honest: 2000,
            per_strategy: 50,
            sybils_per_day: 20,
            sybil_tasks: 150,
            trusted_share: 0.25,
            contamination: 0.05,
            volume_cap: 2000.0,
            confirm_share: 0.3,
            outage_share: 0.05,
            rechecks: true,
            resolver_accuracy: 0.97,
            clawback: true,
            abuse_at_start: false,
        }
    }

    /// This configuration in `world`.
    pub fn in_world(self, world: World) -> Self {
        match world {
            World::Standard => self,
            World::DayOne => Self {
                warmup_days: 0,
                abuse_at_start: true,
                ..self
            },
            World::SmallPlatform => Self {
                trusted_share: 15.0 / self.honest.max(15) as f64,
                ..self
            },
            World::NoConfirmations => Self {
                confirm_share: 0.0,
                ..self
            },
        }
    }

    /// The same world at about a fiftieth of the work: 10 scored days, 240 honest accounts,
    /// 6 per strategy, 4 sybils a day.
    pub fn ci(seed: u64) -> Self {
        Self {
            days: 10,
            honest: 240,
            per_strategy: 6,
            sybils_per_day: 4,
            volume_cap: 1000.0,
            ..Self::full(seed)
        }
    }

    /// A world small enough for a debug-build test: every strategy once, four days.
    pub fn smoke(seed: u64) -> Self {
        Self {
            warmup_days: 2,
            days: 2,
            honest: 40,
            per_strategy: 1,
            sybils_per_day: 2,
            volume_cap: 600.0,
            ..Self::full(seed)
        }
    }

    pub fn total_days(&self) -> u32 {
        self.warmup_days + self.days
    }
}
