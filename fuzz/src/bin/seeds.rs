//! Writes the seed corpus: every dialect's well-formed reports and a few ingest batches.
//! `cargo run -p verdict-fuzz --bin fuzz-seeds -- fuzz/corpus`

use std::path::PathBuf;

use verdict_domain::ReportKind;
use verdict_http::dialect::DIALECTS;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    write(&root)
}

/// Writes the seeds under `root`: `dialects/<dialect>-<kind>` and `ingest/<name>`.
fn write(root: &std::path::Path) -> std::io::Result<()> {
    let dialects = root.join("dialects");
    let ingest = root.join("ingest");
    std::fs::create_dir_all(&dialects)?;
    std::fs::create_dir_all(&ingest)?;
    for (n, dialect) in DIALECTS.iter().enumerate() {
        for kind in [ReportKind::Incorrect, ReportKind::Correct] {
            if let Some(request) = verdict_fuzz::example(dialect, kind) {
                let name = format!("{}-{}", dialect.name, kind.as_str());
                std::fs::write(dialects.join(name), verdict_fuzz::encode(n, &request))?;
            }
        }
    }
    let batches = [
        (
            "one",
            r#"{"id":"1","account":1,"type":"image","provider":"p","worker":"w","answer":"KWG90","cost":"0.0020","completed_at":"2026-11-21T10:00:00Z"}"#,
        ),
        (
            "uuid",
            r#"{"id":"550E8400-E29B-41D4-A716-446655440000","account":"1","type":"hcaptcha","provider":"p","cost":"0.003","completed_at":"2026-11-21T10:00:00.123+02:00"}"#,
        ),
        (
            "mixed",
            "{\"id\":\"18446744073709551615\",\"account\":1,\"type\":\"recaptcha_v2\",\"provider\":\"p\",\"cost\":\"0\",\"completed_at\":\"2026-11-21T10:00:00Z\"}\r\nnot json\n\n[1,2]\n{\"id\":\"x\"}\n",
        ),
    ];
    for (name, batch) in batches {
        std::fs::write(ingest.join(name), batch)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed corpus holds what this writes: the seeds in `fuzz/corpus` are not stale
    /// after a dialect changed its requests (tests/replay.rs checks every dialect has one).
    #[test]
    fn the_committed_seeds_are_current() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path()).unwrap();
        let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for target in ["dialects", "ingest"] {
            for entry in std::fs::read_dir(dir.path().join(target)).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap();
                let written = std::fs::read(&path).unwrap();
                let kept = std::fs::read(committed.join(target).join(name))
                    .unwrap_or_else(|e| panic!("{target}/{name:?} not committed: {e}"));
                assert_eq!(written, kept, "{target}/{name:?} is stale: run fuzz-seeds");
            }
        }
    }
}
