//! One routing decision among 50 providers (the bar: p50 <= 2 µs), and references in
//! the same run to read it against: the decision among 5, `routing::choose` alone on arms
//! already refreshed, and 50 Beta draws alone (what a decision would cost if it drew every
//! provider and did nothing else).
//!
//! `cargo bench -p verdict-domain --bench routing`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use verdict_domain::Timestamp;
use verdict_domain::routing::{Profile, RouteConfig, RouteTable};
use verdict_domain::routing::{RouteLimits, beta_sample, choose};

const START: Timestamp = Timestamp::from_millis(1_800_000_000_000);

/// A table of `n` providers with a few hundred events of evidence each, prices from 1.00 up
/// and accuracies between 0.80 and 0.98, as a busy type's table looks.
fn table(n: u32) -> RouteTable {
    let mut table = RouteTable::new(RouteConfig::default());
    let mut rng = Pcg64Mcg::seed_from_u64(n.into());
    for i in 0..n {
        let index = table.upsert_provider(
            &format!("provider-{i}"),
            Profile {
                cost: 1.0 + f64::from(i % 17) * 0.05,
                latency_ms: 8_000.0 + f64::from(i % 11) * 2_000.0,
                p95_latency_ms: 16_000.0 + f64::from(i % 11) * 4_000.0,
            },
        );
        let accuracy = 0.80 + 0.18 * f64::from((i * 7) % n) / f64::from(n);
        for s in 0..300 {
            let good = rand::RngExt::random::<f64>(&mut rng) < accuracy;
            let at = START.saturating_add(Duration::from_secs(s));
            table.feedback(index, f64::from(good), f64::from(!good), at);
            table.answered(index, true, at);
        }
    }
    table
}

fn limits() -> RouteLimits {
    RouteLimits {
        max_latency_ms: Some(120_000.0),
        success_budget_ms: Some(40_000.0),
        ..RouteLimits::default()
    }
}

fn routing(c: &mut Criterion) {
    let limits = limits();
    for n in [50u32, 5] {
        let mut table = table(n);
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        // Time moves a millisecond per decision, so every decision ages the beliefs.
        let mut now = START.saturating_add(Duration::from_secs(300));
        c.bench_function(&format!("route/{n} providers"), |b| {
            b.iter(|| {
                now = now.saturating_add(Duration::from_millis(1));
                black_box(table.route(|_| true, black_box(&limits), now, &mut rng))
            });
        });
    }

    let mut table = table(50);
    let now = START.saturating_add(Duration::from_secs(300));
    let arms = table.arms(now).to_vec();
    let mut rng = Pcg64Mcg::seed_from_u64(8);
    c.bench_function("reference/choose alone, 50 arms", |b| {
        b.iter(|| {
            black_box(choose(
                black_box(&arms),
                |_| true,
                &limits,
                0.002,
                now,
                &mut rng,
            ))
        });
    });
    let mut rng = Pcg64Mcg::seed_from_u64(9);
    c.bench_function("reference/50 beta draws", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for arm in &arms {
                sum += beta_sample(black_box(arm.a), black_box(arm.b), &mut rng);
            }
            black_box(sum)
        });
    });
}

criterion_group!(benches, routing);
criterion_main!(benches);
