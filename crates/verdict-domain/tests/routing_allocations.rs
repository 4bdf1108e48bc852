//! The routing fast path allocates nothing: a counting global allocator around ten thousand
//! decisions among 50 providers, with evidence arriving between them.

use std::alloc::System;
use std::time::Duration;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use verdict_domain::Timestamp;
use verdict_domain::routing::RouteLimits;
use verdict_domain::routing::{Profile, RouteConfig, RouteTable};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn routing_feedback_and_answers_allocate_nothing() {
    let start = Timestamp::from_millis(1_800_000_000_000);
    let mut table = RouteTable::new(RouteConfig::default());
    for i in 0..50 {
        table.upsert_provider(
            &format!("provider-{i}"),
            Profile {
                cost: 1.0 + f64::from(i) * 0.02,
                latency_ms: 10_000.0 + f64::from(i) * 200.0,
                p95_latency_ms: 20_000.0 + f64::from(i) * 400.0,
            },
        );
    }
    let limits = RouteLimits {
        max_latency_ms: Some(60_000.0),
        success_budget_ms: Some(40_000.0),
        ..RouteLimits::default()
    };
    let mut rng = Pcg64Mcg::seed_from_u64(1);
    let mut chosen = 0usize;
    let region = Region::new(GLOBAL);
    for n in 0..10_000u32 {
        let now = start.saturating_add(Duration::from_millis(u64::from(n) * 10));
        let decision = table
            .route(|i| i != 7, &limits, now, &mut rng)
            .expect("a provider");
        table.answered(decision.index, n % 50 != 0, now);
        table.feedback(
            decision.index,
            f64::from(n % 10 != 0),
            f64::from(n % 10 == 0),
            now,
        );
        chosen += decision.index;
    }
    let stats = region.change();
    assert!(chosen > 0);
    // Not zero: the test harness's own threads may allocate meanwhile. An allocation per
    // decision would be 10,000.
    assert!(stats.allocations + stats.reallocations < 10, "{stats:?}");
}
