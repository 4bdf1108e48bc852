//! The judging simulation at CI size (`verdict simulate`: seed 1, default policy) held to the
//! issue's bars, and the figures README.md and docs/simulation.md state for it compared with
//! the ones this build computes, so that a change that moves them fails until the docs say so.
//!
//! The blocks between `<!-- ci-figures:begin -->` and `<!-- ci-figures:end -->` (and
//! `ci-bars` in the README) are rendered by `Metrics::markdown` and
//! `Metrics::markdown_issue_bars`; to write this build's figures into them:
//!
//! ```sh
//! VERDICT_BLESS=1 cargo test -p verdict-sim --test ci_figures
//! ```
//!
//! The run takes minutes (1.9 M tasks through the real engine and SQLite).

use std::path::{Path, PathBuf};

use verdict_domain::Policy;
use verdict_sim::{Metrics, SimConfig, simulate_in_process};

const REGENERATE: &str = "VERDICT_BLESS=1 cargo test -p verdict-sim --test ci_figures";

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name)
}

/// The text between `<!-- {name}:begin ... -->` and `<!-- {name}:end -->` in `doc`, with the
/// byte range it occupies.
fn block(doc: &str, name: &str) -> Option<(std::ops::Range<usize>, String)> {
    let begin = format!("<!-- {name}:begin");
    let end = format!("<!-- {name}:end -->");
    let opening = doc.find(&begin)?;
    let start = opening + doc[opening..].find("-->\n")? + "-->\n".len();
    let stop = start + doc[start..].find(&end)?;
    Some((start..stop, doc[start..stop].to_owned()))
}

/// Compares the block `name` of `file` with `rendered`: `None` when they match (or, with
/// VERDICT_BLESS=1, once the block is rewritten), else what differs.
fn check_block(file: &str, name: &str, rendered: &str) -> Option<String> {
    let path = repo_file(file);
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let Some((range, stated)) = block(&doc, name) else {
        return Some(format!(
            "{file} has no <!-- {name}:begin --> … <!-- {name}:end --> block"
        ));
    };
    if stated == rendered {
        return None;
    }
    if std::env::var_os("VERDICT_BLESS").is_some_and(|v| v == "1") {
        let mut updated = doc.clone();
        updated.replace_range(range, rendered);
        std::fs::write(&path, updated)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        eprintln!("{file}: the {name} block now holds this build's figures");
        return None;
    }
    let differing: Vec<String> = stated
        .lines()
        .zip(rendered.lines())
        .filter(|(s, r)| s != r)
        .map(|(s, r)| format!("    docs:  {s}\n    build: {r}"))
        .chain(
            (stated.lines().count() != rendered.lines().count()).then(|| {
                format!(
                    "    ({} lines in the docs, {} rendered)",
                    stated.lines().count(),
                    rendered.lines().count()
                )
            }),
        )
        .collect();
    Some(format!(
        "{file}'s {name} block is not what this build computes; regenerate it with\n    \
         {REGENERATE}\n{}",
        differing.join("\n")
    ))
}

/// The issue's bars, each with its figure: what is missed.
fn missed_issue_bars(m: &Metrics) -> Vec<String> {
    let mut missed = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            missed.push(what);
        }
    };
    check(
        m.abuse.leaked_pct <= 5.0,
        format!(
            "leakage {} % of what abusers claimed (bar: <= 5 %)",
            m.abuse.leaked_pct
        ),
    );
    check(
        m.honest.wrongly_ignored_per_account_week_pct <= 0.1,
        format!(
            "honest accounts wrongly ignored {} % per account-week (bar: <= 0.1 %)",
            m.honest.wrongly_ignored_per_account_week_pct
        ),
    );
    check(
        m.honest.genuine_refunded_pct >= 98.0,
        format!(
            "honest genuine failures refunded {} % (bar: >= 98 %)",
            m.honest.genuine_refunded_pct
        ),
    );
    match m.strategies.iter().find(|s| s.strategy == "always-report") {
        None => check(false, "no always-report accounts in the world".into()),
        Some(s) => {
            // The worst account's tasks of a family before it was ignored; one never ignored
            // counts with every task it did, and must not be there at all.
            check(
                s.accounts > 0 && s.detected == s.accounts && s.never_ignored == 0,
                format!(
                    "always-report: {} of {} accounts ignored",
                    s.detected, s.accounts
                ),
            );
            check(
                s.tasks_to_ignore_max.is_some_and(|t| t <= 200),
                format!(
                    "always-report ignored within {:?} tasks at worst (bar: <= 200)",
                    s.tasks_to_ignore_max
                ),
            );
        }
    }
    missed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_ci_size_the_issue_bars_are_met_and_the_docs_state_the_figures() {
    let config = SimConfig::ci(1);
    let m = simulate_in_process(config.clone(), Policy::default())
        .await
        .expect("the CI-size simulation");
    assert_eq!(m.config, config);
    eprintln!(
        "CI-size simulation: {} tasks in {:.0} s",
        m.run.tasks, m.run.wall_seconds
    );

    let mut failures = missed_issue_bars(&m);
    // The bars the simulation itself reports agree with the ones checked here.
    for bar in m.bars.iter().filter(|b| b.source == "issue" && !b.met) {
        failures.push(format!("issue bar missed: {} = {:?}", bar.name, bar.value));
    }
    failures.extend(check_block(
        "docs/simulation.md",
        "ci-figures",
        &m.markdown(),
    ));
    failures.extend(check_block(
        "README.md",
        "ci-bars",
        &m.markdown_issue_bars(),
    ));
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_block_is_read_between_its_markers() {
    let doc = "intro\n<!-- x:begin (generated) -->\n| a |\n<!-- x:end -->\nafter\n";
    let (range, text) = block(doc, "x").unwrap();
    assert_eq!(text, "| a |\n");
    assert_eq!(&doc[range], "| a |\n");
    assert!(block(doc, "y").is_none());
    assert!(block("<!-- x:begin -->\nno end\n", "x").is_none());
}
