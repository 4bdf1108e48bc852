//! `cargo afl build --features afl -p verdict-fuzz` then
//! `cargo afl fuzz -i fuzz/corpus/ingest -o <out> target/debug/fuzz-ingest` (docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| verdict_fuzz::ingest_batch(data));
}
