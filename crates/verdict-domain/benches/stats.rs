//! What the screen's statistics cost per report as an account grows: the slow lane's tail, the
//! refund cap's quantile and the trust weight, for an account with 100, 10 thousand and 1
//! million tasks in its window reporting a little above the cohort's rate (the longest case
//! for a sum: the tail starts inside the bulk).
//!
//! `cargo bench -p verdict-domain --bench stats`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use verdict_domain::stats::{beta_cdf, beta_quantile, betabinom_quantile, betabinom_upper_tail};

/// A fitted cohort's prior: a 10 % report rate, as spread as honest accounts are.
const A: f64 = 10.0;
const B: f64 = 90.0;

fn statistics(c: &mut Criterion) {
    let mut group = c.benchmark_group("screen statistics");
    group.measurement_time(Duration::from_secs(3));
    for n in [100u64, 10_000, 1_000_000] {
        // 1.2 × the cohort's mean: above it, so the tail is summed, and far from significant.
        let x = n * 12 / 100;
        group.bench_with_input(
            BenchmarkId::new("betabinom_upper_tail", n),
            &n,
            |bench, &n| bench.iter(|| betabinom_upper_tail(black_box(x), black_box(n), A, B)),
        );
        group.bench_with_input(
            BenchmarkId::new("betabinom_quantile", n),
            &n,
            |bench, &n| bench.iter(|| betabinom_quantile(black_box(0.99), black_box(n), A, B)),
        );
        group.bench_with_input(BenchmarkId::new("trust_weight_cdf", n), &n, |bench, &n| {
            bench.iter(|| {
                let band = beta_quantile(0.99, A, B);
                beta_cdf(band, A + x as f64, B + (n - x) as f64)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, statistics);
criterion_main!(benches);
