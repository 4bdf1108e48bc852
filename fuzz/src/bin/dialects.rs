//! `cargo afl build --features afl -p verdict-fuzz` then
//! `cargo afl fuzz -i fuzz/corpus/dialects -o <out> target/debug/fuzz-dialects` (docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| verdict_fuzz::dialect_request(data));
}
