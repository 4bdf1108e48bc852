//! `verdict simulate --routing`: verdict's router ([`RouteTable`]) against an oracle and the
//! usual baselines, on one seeded task stream at platform scale, with providers whose
//! accuracy, availability, price and latency change (research/domain.md §5.3, §5.4, §6.1).
//!
//! The router is domain code, so this needs no engine, store or HTTP: the simulation plays
//! the service's part (it feeds answers, errors, latencies and delayed feedback to the table
//! and asks it for a provider per task). It never reaches into the table's beliefs.
//!
//! [`RouteTable`]: verdict_domain::routing::RouteTable

pub mod figures;
pub mod policy;
pub mod run;
pub mod world;

use std::time::Instant;

use verdict_domain::routing::RouteConfig;

pub use figures::RoutingFigures;
pub use world::WorldConfig;

/// One routing simulation: a seed, a world, and the router's configuration under test.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingConfig {
    pub seed: u64,
    pub size: &'static str,
    pub world: WorldConfig,
    pub route: RouteConfig,
}

impl RoutingConfig {
    /// 30 simulated days, four types, 1,000 tasks a minute (43 million tasks per policy).
    pub fn full(seed: u64) -> Self {
        Self {
            seed,
            size: "full",
            world: WorldConfig::full(),
            route: RouteConfig::default(),
        }
    }

    /// Two simulated days, two types, 400 tasks a minute: every event of the full world, in
    /// seconds of a debug build.
    pub fn ci(seed: u64) -> Self {
        Self {
            seed,
            size: "ci",
            world: WorldConfig::ci(),
            route: RouteConfig::default(),
        }
    }
}

impl RoutingConfig {
    /// The same world with nobody confirming a good answer: the learned policies learn from
    /// reports of wrong answers and from silence, as verdict's router does in production.
    pub fn without_confirmations(mut self) -> Self {
        self.world.confirmations = false;
        self
    }
}

/// Runs the simulation. The figures depend on the configuration alone, except the wall
/// time.
pub fn simulate_routing(config: &RoutingConfig) -> RoutingFigures {
    let started = Instant::now();
    let outcome = run::run(config);
    figures::summarise(config, &outcome, started.elapsed().as_secs_f64())
}
