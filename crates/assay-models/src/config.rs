//! The model registry: named endpoints and the `auto` model per role.
//!
//! In `assay.toml` the registry is the `[models]` section: every sub-table but `auto` is an
//! endpoint named by its key, and `[models.auto]` names an endpoint per role.
//!
//! ```toml
//! [models.gpt]
//! kind = "responses"
//! base_url = "https://api.openai.com/v1"
//! model = "gpt-4.1-mini"
//! api_key_env = "OPENAI_API_KEY"
//! max_concurrency = 32
//! requests_per_minute = 3000
//!
//! [models.vllm]
//! kind = "chat_completions"
//! base_url = "http://127.0.0.1:8000/v1"
//! timeout_seconds = 600
//!
//! [models.embedder]
//! kind = "embeddings"
//! base_url = "http://127.0.0.1:8001/v1"
//! model = "BAAI/bge-small-en-v1.5"
//!
//! [models.auto]
//! generation = "gpt"
//! judge = "gpt"
//! embedding = "embedder"
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The API an endpoint speaks (or, for `local`, that it is served in-process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndpointKind {
    /// OpenAI Responses API, `POST {base_url}/responses`.
    Responses,
    /// OpenAI Chat Completions API, `POST {base_url}/chat/completions`.
    ChatCompletions,
    /// OpenAI (legacy) Completions API, `POST {base_url}/completions`.
    Completions,
    /// OpenAI Embeddings API, `POST {base_url}/embeddings`.
    Embeddings,
    /// OpenAI audio transcription API, `POST {base_url}/audio/transcriptions` (multipart).
    Transcriptions,
    /// A model run in-process. No backend is built in: one must be registered with
    /// [`GatewayBuilder::backend`](crate::GatewayBuilder::backend) under the endpoint's name.
    /// The kind allows every role; the backend says which it serves
    /// ([`ModelBackend::serves`](crate::ModelBackend::serves)).
    Local,
}

impl EndpointKind {
    /// The config spelling (`responses`, `chat_completions`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointKind::Responses => "responses",
            EndpointKind::ChatCompletions => "chat_completions",
            EndpointKind::Completions => "completions",
            EndpointKind::Embeddings => "embeddings",
            EndpointKind::Transcriptions => "transcriptions",
            EndpointKind::Local => "local",
        }
    }

    /// Whether the kind is reached over HTTP (and so needs `base_url`).
    pub fn is_http(self) -> bool {
        !matches!(self, EndpointKind::Local)
    }

    /// Whether the kind can serve a role.
    pub fn serves(self, role: Role) -> bool {
        match (self, role) {
            (EndpointKind::Local, _) => true,
            (EndpointKind::Embeddings, Role::Embedding) => true,
            (EndpointKind::Transcriptions, Role::Transcription) => true,
            (EndpointKind::Embeddings | EndpointKind::Transcriptions, _) => false,
            (_, Role::Embedding | Role::Transcription) => false,
            _ => true,
        }
    }
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a model is used for in a run; selects the `auto` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The candidate models being evaluated.
    Generation,
    /// Model-backed graders (`judge_model`).
    Judge,
    /// Embedding tasks and graders (`embedding_model`).
    Embedding,
    /// Transcription tasks.
    Transcription,
}

impl Role {
    /// The config spelling (`generation`, `judge`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Generation => "generation",
            Role::Judge => "judge",
            Role::Embedding => "embedding",
            Role::Transcription => "transcription",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One named endpoint (`[models.NAME]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// The API the endpoint speaks.
    pub kind: EndpointKind,
    /// Base URL including the API version segment, e.g. `https://api.openai.com/v1`.
    /// Required for every kind but `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// For `local` endpoints: the model on disk — a `.gguf` file (generation), a
    /// sentence-transformers directory with `model.safetensors` and `tokenizer.json`
    /// (embeddings), or a Moonshine directory with `encoder_model.ort` (transcription).
    /// Relative paths are resolved against the working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Upstream model name sent as `model`; defaults to the endpoint's registry name. A run
    /// may override it with `NAME:UPSTREAM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Environment variable holding the API key (sent as `Authorization: Bearer …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Most calls in flight to this endpoint at once, shared by every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Most calls started per minute, shared by every run (a token bucket holding one
    /// second's worth, at least one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// Per-attempt timeout when the run's `generation.timeout_seconds` is unset (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// `[models.auto]`: the registry entry `auto` means, per role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoConfig {
    /// Entry for candidate generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    /// Entry for judges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<String>,
    /// Entry for embeddings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<String>,
    /// Entry for transcription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcription: Option<String>,
}

impl AutoConfig {
    /// The entry named for `role`.
    pub fn for_role(&self, role: Role) -> Option<&str> {
        match role {
            Role::Generation => self.generation.as_deref(),
            Role::Judge => self.judge.as_deref(),
            Role::Embedding => self.embedding.as_deref(),
            Role::Transcription => self.transcription.as_deref(),
        }
    }
}

/// The `[models]` section: named endpoints plus `auto`. (De)serialized as one table whose key
/// `auto` is the [`AutoConfig`] and whose other keys are endpoint names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelsConfig {
    /// Endpoints by registry name.
    pub endpoints: BTreeMap<String, EndpointConfig>,
    /// The `auto` entry per role.
    pub auto: AutoConfig,
}

/// An invalid registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("models.{path}: {message}")]
pub struct ConfigError {
    /// Where in `[models]`, e.g. `vllm.base_url` or `auto.judge`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl ModelsConfig {
    /// Checks names, URLs, limits and that every `auto` entry exists and fits its role.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, ep) in &self.endpoints {
            if name.is_empty() || name.contains(':') || name.trim() != name {
                return Err(ConfigError::new(
                    name.clone(),
                    "endpoint names must be non-empty, without ':' or surrounding spaces",
                ));
            }
            match (&ep.base_url, ep.kind.is_http()) {
                (None, true) => {
                    return Err(ConfigError::new(
                        format!("{name}.base_url"),
                        format!("required for kind {}", ep.kind),
                    ))
                }
                (Some(url), _) => match reqwest::Url::parse(url) {
                    Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                    _ => {
                        return Err(ConfigError::new(
                            format!("{name}.base_url"),
                            "must be an http(s) URL",
                        ))
                    }
                },
                (None, false) => {}
            }
            if ep.kind == EndpointKind::Local
                && ep.path.as_deref().is_none_or(|p| p.trim().is_empty())
            {
                return Err(ConfigError::new(
                    format!("{name}.path"),
                    "required for kind local (a .gguf file, or an embedding or transcription model directory)",
                ));
            }
            if ep.model.as_deref() == Some("") {
                return Err(ConfigError::new(
                    format!("{name}.model"),
                    "must not be empty",
                ));
            }
            if ep.max_concurrency == Some(0) {
                return Err(ConfigError::new(
                    format!("{name}.max_concurrency"),
                    "must be at least 1",
                ));
            }
            if ep.requests_per_minute == Some(0) {
                return Err(ConfigError::new(
                    format!("{name}.requests_per_minute"),
                    "must be at least 1",
                ));
            }
            if let Some(t) = ep.timeout_seconds {
                if !(1..=3600).contains(&t) {
                    return Err(ConfigError::new(
                        format!("{name}.timeout_seconds"),
                        "must be between 1 and 3600",
                    ));
                }
            }
        }
        for role in [
            Role::Generation,
            Role::Judge,
            Role::Embedding,
            Role::Transcription,
        ] {
            if let Some(target) = self.auto.for_role(role) {
                let path = format!("auto.{role}");
                let Some(ep) = self.endpoints.get(target) else {
                    return Err(ConfigError::new(
                        path,
                        format!("names no endpoint: {target:?}"),
                    ));
                };
                if !ep.kind.serves(role) {
                    return Err(ConfigError::new(
                        path,
                        format!("{target:?} is a {} endpoint, unusable for {role}", ep.kind),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Serialize for ModelsConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.endpoints.len() + 1))?;
        for (name, ep) in &self.endpoints {
            map.serialize_entry(name, ep)?;
        }
        map.serialize_entry("auto", &self.auto)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for ModelsConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ModelsConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of model endpoints by name, plus `auto`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ModelsConfig, A::Error> {
                let mut out = ModelsConfig::default();
                let mut seen_auto = false;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "auto" {
                        if seen_auto {
                            return Err(serde::de::Error::duplicate_field("auto"));
                        }
                        seen_auto = true;
                        out.auto = map.next_value()?;
                    } else {
                        let ep: EndpointConfig = map.next_value()?;
                        if out.endpoints.insert(key.clone(), ep).is_some() {
                            return Err(serde::de::Error::custom(format!(
                                "duplicate endpoint {key:?}"
                            )));
                        }
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[models.gpt]
kind = "responses"
base_url = "https://api.openai.com/v1"
model = "gpt-4.1-mini"
api_key_env = "OPENAI_API_KEY"
max_concurrency = 32
requests_per_minute = 3000

[models.vllm]
kind = "chat_completions"
base_url = "http://127.0.0.1:8000/v1"
timeout_seconds = 600

[models.embedder]
kind = "embeddings"
base_url = "http://127.0.0.1:8001/v1"

[models.auto]
generation = "gpt"
judge = "gpt"
embedding = "embedder"
"#;

    #[derive(Debug, Deserialize, Serialize)]
    struct Root {
        models: ModelsConfig,
    }

    #[test]
    fn toml_round_trip() {
        let root: Root = toml::from_str(EXAMPLE).unwrap();
        let m = &root.models;
        assert_eq!(m.endpoints.len(), 3);
        assert_eq!(m.endpoints["gpt"].kind, EndpointKind::Responses);
        assert_eq!(m.endpoints["gpt"].max_concurrency, Some(32));
        assert_eq!(m.endpoints["vllm"].model, None);
        assert_eq!(m.auto.for_role(Role::Judge), Some("gpt"));
        assert_eq!(m.auto.transcription, None);
        m.validate().unwrap();
        let again: Root = toml::from_str(&toml::to_string(&root).unwrap()).unwrap();
        assert_eq!(&again.models, m);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = toml::from_str::<Root>(
            "[models.a]\nkind = \"responses\"\nbase_url = \"http://x\"\nbase_ulr = \"y\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("base_ulr"), "{err}");
        let err = toml::from_str::<Root>("[models.auto]\njudges = \"a\"\n").unwrap_err();
        assert!(err.to_string().contains("judges"), "{err}");
        let err = toml::from_str::<Root>("[models.a]\nkind = \"grpc\"\nbase_url = \"http://x\"\n")
            .unwrap_err();
        assert!(err.to_string().contains("grpc"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let parse = |s: &str| toml::from_str::<Root>(s).unwrap().models.validate();
        let e = parse("[models.a]\nkind = \"responses\"\n").unwrap_err();
        assert_eq!(e.path, "a.base_url");
        let e = parse("[models.a]\nkind = \"responses\"\nbase_url = \"ftp://x\"\n").unwrap_err();
        assert_eq!(e.path, "a.base_url");
        let e =
            parse("[models.\"a:b\"]\nkind = \"responses\"\nbase_url = \"http://x\"\n").unwrap_err();
        assert_eq!(e.path, "a:b");
        let e = parse(
            "[models.a]\nkind = \"responses\"\nbase_url = \"http://x\"\nmax_concurrency = 0\n",
        )
        .unwrap_err();
        assert_eq!(e.path, "a.max_concurrency");
        let e = parse("[models.auto]\njudge = \"nope\"\n").unwrap_err();
        assert_eq!(e.path, "auto.judge");
        let e = parse(
            "[models.a]\nkind = \"responses\"\nbase_url = \"http://x\"\n[models.auto]\nembedding = \"a\"\n",
        )
        .unwrap_err();
        assert_eq!(e.path, "auto.embedding");
        parse("[models.l]\nkind = \"local\"\npath = \"/models/tiny.gguf\"\n").unwrap();
        let missing = parse("[models.l]\nkind = \"local\"\n").unwrap_err();
        assert_eq!(missing.path, "l.path");
        assert_eq!(
            e.to_string(),
            format!("models.auto.embedding: {}", e.message)
        );
    }
}
