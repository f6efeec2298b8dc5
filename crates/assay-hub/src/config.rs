//! [`HubConfig`]: where the Hub is and how to authenticate (`[huggingface]` in the server's
//! configuration).

use serde::{Deserialize, Serialize};

/// The public Hugging Face Hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// The server's `[huggingface]` settings.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// Base URL of the Hub (or a mirror), without a trailing path; default
    /// `https://huggingface.co`.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// Access token sent as `Authorization: Bearer …` for private and gated datasets. The
    /// server reads it from an environment variable rather than the configuration file.
    #[serde(default, skip_serializing)]
    pub token: Option<String>,
}

fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.to_string()
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            endpoint: default_endpoint(),
            token: None,
        }
    }
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_fields() {
        let config: HubConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, HubConfig::default());
        assert_eq!(config.endpoint, "https://huggingface.co");
        assert!(serde_json::from_str::<HubConfig>(r#"{"endpont": "x"}"#).is_err());
        let with_token = HubConfig {
            token: Some("hf_secret".into()),
            ..HubConfig::default()
        };
        assert!(!format!("{with_token:?}").contains("hf_secret"));
        assert!(!serde_json::to_string(&with_token)
            .unwrap()
            .contains("hf_secret"));
    }
}
