//! Results: the detailed record (results.json, every raw value) and the one table people read
//! (stdout and results.md), built from the same values so they cannot disagree.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::load::RunStats;

/// One load run as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub requests: u64,
    pub elapsed_s: f64,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Open loop: how late requests left against their schedule (timer and generator).
    pub send_lag_p99_ms: Option<f64>,
    pub bad_status: u64,
    pub bad_body: u64,
    pub transport_errors: u64,
    pub first_unexpected: Option<String>,
    pub exhausted: bool,
    /// The server's user+system CPU seconds during the run, per request.
    pub cpu_us_per_request: Option<f64>,
}

impl RunSummary {
    pub fn of(stats: &RunStats, cpu_seconds: Option<f64>) -> Self {
        Self {
            requests: stats.requests,
            elapsed_s: stats.elapsed.as_secs_f64(),
            rate: stats.rate(),
            p50_ms: stats.quantile_ms(0.50),
            p99_ms: stats.quantile_ms(0.99),
            p999_ms: stats.quantile_ms(0.999),
            max_ms: stats.latency.max() as f64 / 1000.0,
            send_lag_p99_ms: stats.lag_quantile_ms(0.99),
            bad_status: stats.bad_status,
            bad_body: stats.bad_body,
            transport_errors: stats.transport_errors,
            first_unexpected: stats.first_unexpected.clone(),
            exhausted: stats.exhausted,
            cpu_us_per_request: cpu_seconds.map(|s| s * 1e6 / stats.requests.max(1) as f64),
        }
    }

    pub fn failures(&self) -> u64 {
        self.bad_status + self.transport_errors
    }

    fn latency(&self) -> String {
        format!("p50 {:.2} / p99 {:.2} ms", self.p50_ms, self.p99_ms)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub ceiling: RunSummary,
    pub verdict: RunSummary,
    pub ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Saturation {
    pub conns: usize,
    pub duration_s: f64,
    pub pairs: Vec<Pair>,
    pub median_ratio: f64,
    pub median_ceiling_rate: f64,
    pub median_verdict_rate: f64,
    pub bar_min_ratio: f64,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FixedRate {
    pub rate: f64,
    pub conns: usize,
    pub run: RunSummary,
    pub bar_max_p99_ms: f64,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ingest {
    /// Rows of each side of each pair.
    pub rows: usize,
    pub batch_rows: usize,
    /// Medians over the pairs.
    pub http_rows_per_s: f64,
    pub raw_rows_per_s: f64,
    /// Median of the pairs' ratios.
    pub ratio: f64,
    pub pairs: Vec<IngestPair>,
    pub bar_min_ratio: f64,
    pub met: bool,
}

/// The same rows stored over HTTP, then in process, each into a store that earlier pairs grew
/// alike.
#[derive(Debug, Clone, Serialize)]
pub struct IngestPair {
    pub http_s: f64,
    pub http_rows_per_s: f64,
    /// `Store::ingest_tasks` alone, a batch per call, on a store of the same backend.
    pub raw_store_s: f64,
    pub raw_rows_per_s: f64,
    /// Parsing and validating the same NDJSON in process (not part of the raw rate).
    pub raw_parse_s: f64,
    pub ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrowthRun {
    pub accounts: usize,
    pub tasks_per_account: usize,
    /// Tasks in the store while this was measured.
    pub stored_tasks: u64,
    pub run: RunSummary,
}

#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    pub rate: f64,
    pub duration_s: f64,
    pub d1_many_small_accounts: GrowthRun,
    pub d2_one_large_account: GrowthRun,
    pub d3_small_store: GrowthRun,
    pub d4_large_store: GrowthRun,
    /// p50 of d2 over p50 of d1.
    pub account_ratio: f64,
    /// p50 of d4 over p50 of d3.
    pub store_ratio: f64,
    pub bar_max_ratio: f64,
    pub account_met: bool,
    pub store_met: bool,
    /// 10 M rows over HTTP, for information.
    pub large_ingest_rows_per_s: f64,
    pub peak_rss_mib: f64,
    pub bar_max_rss_mib: f64,
    pub rss_met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// What one request of each kind got, checked before loading.
    pub answers: Vec<(String, String)>,
    pub ingest: Ingest,
    pub saturation: Saturation,
    pub fixed_rate: FixedRate,
    pub saturation_process_peak_rss_mib: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendResult {
    pub backend: &'static str,
    /// Why this backend was not measured.
    pub skipped: Option<String>,
    pub measured: Option<Measured>,
    pub growth: Option<Growth>,
    pub growth_skipped: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub command: String,
    pub date_utc: String,
    pub cores: usize,
    pub quick: bool,
    pub backends: Vec<BackendResult>,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub measure: String,
    pub reference: String,
    pub verdict: String,
    pub ratio: String,
    pub bar: String,
    /// `None`: for information, or not measured.
    pub met: Option<bool>,
    pub status: String,
}

fn row(
    measure: String,
    reference: String,
    verdict: String,
    ratio: String,
    bar: &str,
    met: Option<bool>,
) -> Row {
    let status = match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "info",
    };
    Row {
        measure,
        reference,
        verdict,
        ratio,
        bar: bar.into(),
        met,
        status: status.into(),
    }
}

fn rate(r: f64) -> String {
    format!("{r:.0}/s")
}

pub fn rows(backends: &[BackendResult]) -> Vec<Row> {
    let mut rows = Vec::new();
    for b in backends {
        let name = b.backend;
        if let Some(why) = &b.skipped {
            rows.push(Row {
                measure: format!("[{name}] all measures"),
                reference: "-".into(),
                verdict: "-".into(),
                ratio: "-".into(),
                bar: "-".into(),
                met: None,
                status: format!("SKIPPED: {why}"),
            });
        }
        if let Some(m) = &b.measured {
            let s = &m.saturation;
            let pairs: Vec<String> = s.pairs.iter().map(|p| format!("{:.2}", p.ratio)).collect();
            let med = |f: fn(&RunSummary) -> f64, ceiling: bool| {
                median(
                    s.pairs
                        .iter()
                        .map(|p| f(if ceiling { &p.ceiling } else { &p.verdict }))
                        .collect(),
                )
            };
            rows.push(row(
                format!(
                    "[{name}] (a) saturation, {} conns, median of {} pairs ({})",
                    s.conns,
                    s.pairs.len(),
                    pairs.join(", ")
                ),
                format!(
                    "{} (p50 {:.2} / p99 {:.2} ms)",
                    rate(s.median_ceiling_rate),
                    med(|r| r.p50_ms, true),
                    med(|r| r.p99_ms, true)
                ),
                format!(
                    "{} (p50 {:.2} / p99 {:.2} ms)",
                    rate(s.median_verdict_rate),
                    med(|r| r.p50_ms, false),
                    med(|r| r.p99_ms, false)
                ),
                format!("{:.2}", s.median_ratio),
                &format!("≥ {:.2}", s.bar_min_ratio),
                Some(s.met),
            ));
            let cpu = |ceiling: bool| {
                median(
                    s.pairs
                        .iter()
                        .filter_map(|p| {
                            if ceiling { &p.ceiling } else { &p.verdict }.cpu_us_per_request
                        })
                        .collect(),
                )
            };
            rows.push(row(
                format!("[{name}] (e) server CPU per request, saturation"),
                format!("{:.1} µs", cpu(true)),
                format!("{:.1} µs", cpu(false)),
                format!("{:.2}", cpu(false) / cpu(true)),
                "-",
                None,
            ));
            let f = &m.fixed_rate;
            rows.push(row(
                format!(
                    "[{name}] (b) fixed rate {} (25 % of ceiling), open loop, {} conns",
                    rate(f.rate),
                    f.conns
                ),
                format!(
                    "send lag p99 {:.2} ms",
                    f.run.send_lag_p99_ms.unwrap_or(f64::NAN)
                ),
                format!("{} at {}", f.run.latency(), rate(f.run.rate)),
                "-".into(),
                &format!("p99 ≤ {:.0} ms", f.bar_max_p99_ms),
                Some(f.met),
            ));
            let i = &m.ingest;
            rows.push(row(
                format!(
                    "[{name}] (c) ingest, {} rows in batches of {}, median of {} pairs ({})",
                    i.rows,
                    i.batch_rows,
                    i.pairs.len(),
                    i.pairs
                        .iter()
                        .map(|p| format!("{:.2}", p.ratio))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!("raw store {:.0} rows/s", i.raw_rows_per_s),
                format!("HTTP {:.0} rows/s", i.http_rows_per_s),
                format!("{:.2}", i.ratio),
                &format!("≥ {:.2}", i.bar_min_ratio),
                Some(i.met),
            ));
        }
        if let Some(why) = &b.growth_skipped {
            rows.push(Row {
                measure: format!("[{name}] (d) growth, (e) peak RSS"),
                reference: "-".into(),
                verdict: "-".into(),
                ratio: "-".into(),
                bar: "-".into(),
                met: None,
                status: format!("SKIPPED: {why}"),
            });
        }
        if let Some(g) = &b.growth {
            let (d1, d2, d3, d4) = (
                &g.d1_many_small_accounts,
                &g.d2_one_large_account,
                &g.d3_small_store,
                &g.d4_large_store,
            );
            rows.push(row(
                format!(
                    "[{name}] (d) {}: {} accounts × {} tasks vs 1 × {}",
                    rate(g.rate),
                    d1.accounts,
                    d1.tasks_per_account,
                    d2.tasks_per_account
                ),
                d1.run.latency(),
                d2.run.latency(),
                format!("{:.2}", g.account_ratio),
                &format!("p50 ratio ≤ {:.1}", g.bar_max_ratio),
                Some(g.account_met),
            ));
            rows.push(row(
                format!(
                    "[{name}] (d) {}: {} vs {} stored tasks (accounts of {})",
                    rate(g.rate),
                    d3.stored_tasks,
                    d4.stored_tasks,
                    d3.tasks_per_account
                ),
                d3.run.latency(),
                d4.run.latency(),
                format!("{:.2}", g.store_ratio),
                &format!("p50 ratio ≤ {:.1}", g.bar_max_ratio),
                Some(g.store_met),
            ));
            rows.push(row(
                format!(
                    "[{name}] (e) peak RSS after {} stored (VmHWM)",
                    d4.stored_tasks
                ),
                "-".into(),
                format!("{:.1} MiB", g.peak_rss_mib),
                "-".into(),
                &format!("≤ {:.0} MB", g.bar_max_rss_mib),
                Some(g.rss_met),
            ));
            rows.push(row(
                format!("[{name}] large ingest over HTTP (for the growth store)"),
                "-".into(),
                format!("{:.0} rows/s", g.large_ingest_rows_per_s),
                "-".into(),
                "-",
                None,
            ));
        }
    }
    rows
}

pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| measure | ceiling / reference | verdict | ratio | bar | met/missed |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.measure, r.reference, r.verdict, r.ratio, r.bar, r.status
        );
    }
    out
}

pub fn markdown(results: &Results) -> String {
    let mut out = String::from("# verdict benchmark\n\n");
    let _ = writeln!(
        out,
        "`{}` — {} UTC, {} cores{}.\n",
        results.command,
        results.date_utc,
        results.cores,
        if results.quick {
            " (quick: smoke-test sizes, not a measurement)"
        } else {
            ""
        }
    );
    out.push_str(&markdown_table(&results.rows));
    if !results.notes.is_empty() {
        out.push_str("\nNotes:\n\n");
        for n in &results.notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}

pub fn write(out_dir: &Path, results: &Results) -> anyhow::Result<()> {
    std::fs::create_dir_all(out_dir)?;
    std::fs::write(
        out_dir.join("results.json"),
        serde_json::to_string_pretty(results)? + "\n",
    )?;
    std::fs::write(out_dir.join("results.md"), markdown(results))?;
    Ok(())
}
