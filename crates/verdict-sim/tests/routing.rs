//! The routing simulation at its CI size: verdict's router meets the bars against the
//! oracle and the baselines on the same task stream, with confirmations and without, and a
//! seed gives the same figures twice. About half a minute in a debug build.

use verdict_sim::routing::figures::PolicyFigures;
use verdict_sim::routing::{RoutingConfig, RoutingFigures, simulate_routing};

fn policy<'a>(figures: &'a RoutingFigures, name: &str) -> &'a PolicyFigures {
    figures
        .policies
        .iter()
        .find(|p| p.policy == name)
        .unwrap_or_else(|| panic!("no policy {name}"))
}

/// Everything but the wall time.
fn deterministic(figures: &RoutingFigures) -> serde_json::Value {
    let mut value = serde_json::to_value(figures).expect("figures serialise");
    value
        .as_object_mut()
        .expect("an object")
        .remove("wall_seconds");
    value
}

#[test]
fn verdict_routes_within_the_bars_at_the_ci_size() {
    assert_within_the_bars(&simulate_routing(&RoutingConfig::ci(3)));
}

/// Nobody confirms: the router learns from reports of wrong answers and from silence
/// (`routing::MaturingSilence`), as in production (docs/routing.md, "Without
/// confirmations", has what a wrong weight of silence does to it).
#[test]
fn without_confirmations_verdict_routes_within_the_same_bars_on_reports_and_silence() {
    let figures = simulate_routing(&RoutingConfig::ci(3).without_confirmations());
    assert!(!figures.world.confirmations);
    assert_within_the_bars(&figures);
}

fn assert_within_the_bars(figures: &RoutingFigures) {
    let oracle = policy(figures, "oracle");
    let verdict = policy(figures, "verdict");
    let greedy = policy(figures, "greedy");
    let round_robin = policy(figures, "round-robin");
    let report = figures.render();
    assert!(figures.tasks_per_policy > 500_000, "{report}");
    assert_eq!(oracle.on_best_pct, 100.0);
    assert!(
        verdict.success_vs_oracle >= 0.98,
        "success rate vs oracle\n{report}"
    );
    assert!(
        verdict.cost_vs_oracle <= 1.02,
        "cost per success vs oracle\n{report}"
    );
    assert!(
        verdict.cost_per_success < greedy.cost_per_success,
        "beats greedy\n{report}"
    );
    assert!(
        verdict.cost_per_success < round_robin.cost_per_success,
        "beats round-robin\n{report}"
    );
    for t in &verdict.types {
        let away = t.away_minutes.expect("leaves the degraded provider");
        assert!(away <= 5.0, "{}: {away} min\n{report}", t.name);
        assert!(t.back_minutes.is_some(), "{}: never back\n{report}", t.name);
    }
    // The fixed rule stays on the degraded provider: recovery is measured, not assumed.
    assert_eq!(
        policy(figures, "fixed-best-at-start").away_minutes,
        None,
        "{report}"
    );
    assert!(figures.all_bars_met(), "{report}");
}

#[test]
fn a_seed_gives_the_same_figures_and_another_seed_others() {
    // The CI world's first ten hours (the latency spike and the drop): cheap, and every
    // source of randomness has run.
    let short = |seed| {
        let mut config = RoutingConfig::ci(seed);
        config.world.minutes = 600;
        config
    };
    let figures = simulate_routing(&short(3));
    let again = simulate_routing(&short(3));
    assert_eq!(deterministic(&figures), deterministic(&again));
    let other = simulate_routing(&short(4));
    assert_ne!(
        deterministic(&figures)["policies"],
        deterministic(&other)["policies"],
        "another seed, another stream"
    );
}
