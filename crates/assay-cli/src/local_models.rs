//! Local models in the registry: loading `kind = "local"` entries, and the embedded default —
//! when no endpoint is configured at all, the reference models installed by
//! `scripts/install-models` become `auto` for generation, judging, embeddings and
//! transcription.

use std::path::{Path, PathBuf};

use anyhow::Context;
use assay_models::{AutoConfig, EndpointConfig, EndpointKind, GatewayBuilder, ModelsConfig};

/// Registry name of the default local generative model.
pub const DEFAULT_GENERATOR: &str = "smollm2-135m-instruct";
/// Registry name of the default local embedding model.
pub const DEFAULT_EMBEDDER: &str = "all-minilm-l6-v2";
/// Registry name of the default local transcription model.
pub const DEFAULT_TRANSCRIBER: &str = "moonshine-base-en";

/// The models directory: `ASSAY_MODELS_DIR`, else `./models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("ASSAY_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("models"))
}

fn local(path: &Path) -> EndpointConfig {
    EndpointConfig {
        kind: EndpointKind::Local,
        base_url: None,
        path: Some(path.display().to_string()),
        model: None,
        api_key_env: None,
        max_concurrency: None,
        requests_per_minute: None,
        timeout_seconds: None,
    }
}

/// With an empty registry, the reference local models found in `dir` (if installed).
pub fn with_defaults(mut config: ModelsConfig, dir: &Path) -> ModelsConfig {
    if !config.endpoints.is_empty() {
        return config;
    }
    let gguf = dir.join("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    let bert = dir.join("all-minilm-l6-v2");
    let moonshine = dir.join("moonshine-base-en");
    let mut auto = AutoConfig::default();
    if gguf.is_file() {
        config
            .endpoints
            .insert(DEFAULT_GENERATOR.into(), local(&gguf));
        auto.generation = Some(DEFAULT_GENERATOR.into());
        auto.judge = Some(DEFAULT_GENERATOR.into());
    }
    if bert.join("model.safetensors").is_file() {
        config
            .endpoints
            .insert(DEFAULT_EMBEDDER.into(), local(&bert));
        auto.embedding = Some(DEFAULT_EMBEDDER.into());
    }
    if moonshine.join("encoder_model.ort").is_file() {
        config
            .endpoints
            .insert(DEFAULT_TRANSCRIBER.into(), local(&moonshine));
        auto.transcription = Some(DEFAULT_TRANSCRIBER.into());
    }
    config.auto = auto;
    config
}

/// Loads every `local` entry's model and registers it with the gateway builder.
pub fn register(
    mut builder: GatewayBuilder,
    config: &ModelsConfig,
) -> anyhow::Result<GatewayBuilder> {
    for (name, endpoint) in &config.endpoints {
        if endpoint.kind != EndpointKind::Local {
            continue;
        }
        let path = endpoint.path.as_deref().unwrap_or_default();
        tracing::info!(model = %name, path, "loading local model");
        let backend = assay_local::load(Path::new(path))
            .with_context(|| format!("loading local model {name}"))?;
        builder = builder.backend(name.clone(), backend);
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_reference_models_become_the_auto_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let none = with_defaults(ModelsConfig::default(), dir.path());
        assert!(none.endpoints.is_empty());
        assert_eq!(none.auto, AutoConfig::default());

        let moonshine = dir.path().join("moonshine-base-en");
        std::fs::create_dir(&moonshine).expect("mkdir");
        std::fs::write(moonshine.join("encoder_model.ort"), b"").expect("write");
        let config = with_defaults(ModelsConfig::default(), dir.path());
        assert_eq!(
            config.auto.transcription.as_deref(),
            Some(DEFAULT_TRANSCRIBER)
        );
        assert_eq!(config.auto.generation, None);
        assert_eq!(config.auto.embedding, None);
        let entry = &config.endpoints[DEFAULT_TRANSCRIBER];
        assert_eq!(entry.kind, EndpointKind::Local);
        assert_eq!(
            entry.path.as_deref(),
            Some(&*moonshine.display().to_string())
        );

        // A configured registry is left as it is.
        let mut configured = ModelsConfig::default();
        configured
            .endpoints
            .insert("mine".into(), local(&moonshine));
        let kept = with_defaults(configured.clone(), dir.path());
        assert_eq!(kept, configured);
    }
}
