//! The reference local models that `scripts/install-models` unpacks, as tests and benchmarks
//! find them: under `ASSAY_MODELS_DIR`, default `<repo>/models`. A missing model skips the
//! caller, unless `ASSAY_REQUIRE_MODELS=1` (set by `scripts/test`), which makes it a failure.

use std::path::PathBuf;

/// The reference generative model (SmolLM2-135M-Instruct Q4_1), relative to [`dir`].
pub const GENERATOR_FILE: &str = "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The reference embedding model's directory (all-minilm-l6-v2), relative to [`dir`].
pub const EMBEDDER_DIR: &str = "all-minilm-l6-v2";
/// The reference transcription model's directory (Moonshine base, English), relative to
/// [`dir`].
pub const TRANSCRIBER_DIR: &str = "moonshine-base-en";

/// Where the reference models are installed.
pub fn dir() -> PathBuf {
    std::env::var_os("ASSAY_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

/// `relative` inside [`dir`] when it exists; `None` (with a note on stderr) when it does not.
///
/// # Panics
/// When it does not exist and `ASSAY_REQUIRE_MODELS=1`.
pub fn installed(relative: &str) -> Option<PathBuf> {
    let path = dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    let note = format!("{} is missing: run scripts/install-models", path.display());
    assert!(
        std::env::var("ASSAY_REQUIRE_MODELS").as_deref() != Ok("1"),
        "{note} (ASSAY_REQUIRE_MODELS=1)"
    );
    eprintln!("note: skipping: {note}");
    None
}

/// Whether `program` (a tool the tests run, e.g. `espeak-ng`) runs; when it does not, the
/// caller skips with a note.
///
/// # Panics
/// When it does not run and `ASSAY_REQUIRE_MODELS=1`.
pub fn tool(program: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let note = format!("{program} is not installed (Debian package {program})");
        assert!(
            std::env::var("ASSAY_REQUIRE_MODELS").as_deref() != Ok("1"),
            "{note} (ASSAY_REQUIRE_MODELS=1)"
        );
        eprintln!("note: skipping: {note}");
    }
    found
}
