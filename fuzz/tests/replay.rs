//! The fuzz targets as tests: every committed corpus file (seeds, and anything a fuzzing run
//! found worth keeping), then a seeded random pass of mutated seeds. A failure prints the input.

use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

/// A seed with a few bytes flipped, inserted, removed or spliced from another: what a mutation
/// fuzzer starts with, without its coverage guidance.
fn mutate(rng: &mut Pcg64Mcg, seeds: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut data = seeds[rng.random_range(0..seeds.len())].1.clone();
    for _ in 0..rng.random_range(1..8) {
        let at = if data.is_empty() {
            0
        } else {
            rng.random_range(0..data.len())
        };
        match rng.random_range(0..5) {
            0 if !data.is_empty() => data[at] ^= 1 << rng.random_range(0..8),
            1 => data.insert(at, rng.random()),
            2 if !data.is_empty() => {
                data.remove(at);
            }
            3 => {
                let interesting: &[&[u8]] = &[
                    b"-1",
                    b"18446744073709551616",
                    b"\xff\xfe",
                    b"\"",
                    b"{}",
                    b"[]",
                    b"null",
                    b"%00",
                    b"\x00",
                    b"9223372036854775808",
                    b"1e999",
                    b"\\u0000",
                ];
                let piece = interesting[rng.random_range(0..interesting.len())];
                data.splice(at..at, piece.iter().copied());
            }
            _ => {
                let other = &seeds[rng.random_range(0..seeds.len())].1;
                if !other.is_empty() {
                    let from = rng.random_range(0..other.len());
                    let len = rng.random_range(0..=(other.len() - from).min(16));
                    data.splice(at..at, other[from..from + len].iter().copied());
                }
            }
        }
    }
    data
}

fn run(target: &str, check: fn(&[u8]), random: usize) {
    let seeds = corpus(target);
    assert!(seeds.len() >= 3, "{target}: the corpus has its seeds");
    for (name, data) in &seeds {
        let caught = std::panic::catch_unwind(|| check(data));
        assert!(caught.is_ok(), "{target}: {name} fails");
    }
    let mut rng = Pcg64Mcg::seed_from_u64(7);
    for n in 0..random {
        let data = mutate(&mut rng, &seeds);
        let caught = std::panic::catch_unwind(|| check(&data));
        assert!(caught.is_ok(), "{target}: random input {n} fails: {data:?}");
    }
}

#[test]
fn every_dialect_answers_the_corpus_and_mutations_of_it_in_its_shape() {
    run("dialects", verdict_fuzz::dialect_request, 3_000);
}

#[test]
fn ingest_parses_the_corpus_and_mutations_and_round_trips_what_validates() {
    run("ingest", verdict_fuzz::ingest_batch, 20_000);
}

#[test]
fn every_dialect_has_seeds() {
    let seeds = corpus("dialects");
    for dialect in verdict_http::dialect::DIALECTS {
        assert!(
            seeds
                .iter()
                .any(|(name, _)| name.contains(&format!("/{}-", dialect.name))),
            "no seed for {}: run cargo run -p verdict-fuzz --bin fuzz-seeds -- fuzz/corpus",
            dialect.name
        );
    }
}
