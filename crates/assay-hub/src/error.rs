//! [`HubError`]: what went wrong reading a Hub dataset, worded so that a run error can name
//! the dataset and say what to check.

use std::fmt;

/// What a [`HubError::NotFound`] could not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// The repository itself (or it is private and the request carried no accepted token).
    Repo,
    /// A revision (branch, tag or commit) of the repository.
    Revision(String),
    /// A config (subset, `name`) of the dataset; empty when none was named and the dataset
    /// has several configs but no default.
    Config(String),
    /// A split of the chosen config.
    Split(String),
    /// A file named by a `data_files` entry without wildcards.
    File(String),
    /// No data files at all for the chosen config and split.
    DataFiles,
}

/// An error reading a Hugging Face dataset. Every variant names the dataset (`repo`); its
/// `Display` says what is missing or wrong and which field or setting to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// The repository, a revision, a config, a split or a data file does not exist.
    /// `available` lists the configs or splits that do exist, when they are known.
    #[error("{}", not_found_message(.repo, .missing, .available))]
    NotFound {
        /// The dataset (repository id).
        repo: String,
        /// What is missing.
        missing: Missing,
        /// The configs (for [`Missing::Config`]) or splits (for [`Missing::Split`]) that exist.
        available: Vec<String>,
    },
    /// The Hub refused the request without valid credentials (HTTP 401): the dataset is
    /// private or gated (or does not exist; the Hub does not tell anonymous callers), or the
    /// token was rejected.
    #[error(
        "Hugging Face dataset `{repo}`: {}",
        if *.token_sent {
            "the Hub rejected the server's Hugging Face token (401); check that the token is valid"
        } else {
            "the Hub requires authentication (401): the dataset is private or gated, or does not exist; set the server's Hugging Face token"
        }
    )]
    Unauthorized {
        /// The dataset (repository id).
        repo: String,
        /// Whether a token was sent.
        token_sent: bool,
    },
    /// The Hub refused access with the credentials given (HTTP 403), typically a gated dataset
    /// whose conditions the token's account has not accepted.
    #[error(
        "Hugging Face dataset `{repo}`: access denied (403); the dataset is private or gated: set the server's Hugging Face token to one whose account may read it (for a gated dataset, accept its conditions on the Hub)"
    )]
    Forbidden {
        /// The dataset (repository id).
        repo: String,
    },
    /// The Hub could not be reached or kept failing (network errors, timeouts, 5xx, 429) after
    /// the retries.
    #[error("Hugging Face dataset `{repo}`: the Hub is unavailable: {reason}")]
    Unavailable {
        /// The dataset (repository id).
        repo: String,
        /// What failed last.
        reason: String,
    },
    /// A file (or the dataset card, or a Hub answer) that does not parse.
    #[error("Hugging Face dataset `{repo}`: cannot read `{path}`: {reason}")]
    Unreadable {
        /// The dataset (repository id).
        repo: String,
        /// The file, relative to the repository root.
        path: String,
        /// Why it cannot be read.
        reason: String,
    },
}

impl HubError {
    /// The dataset (repository id) the error is about.
    pub fn repo(&self) -> &str {
        match self {
            HubError::NotFound { repo, .. }
            | HubError::Unauthorized { repo, .. }
            | HubError::Forbidden { repo }
            | HubError::Unavailable { repo, .. }
            | HubError::Unreadable { repo, .. } => repo,
        }
    }

    /// Whether trying again later may succeed (the Hub was unavailable).
    pub fn is_transient(&self) -> bool {
        matches!(self, HubError::Unavailable { .. })
    }

    pub(crate) fn not_found(repo: &str, missing: Missing) -> Self {
        HubError::NotFound {
            repo: repo.to_string(),
            missing,
            available: Vec::new(),
        }
    }

    pub(crate) fn unreadable(repo: &str, path: &str, reason: impl fmt::Display) -> Self {
        HubError::Unreadable {
            repo: repo.to_string(),
            path: path.to_string(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn unavailable(repo: &str, reason: impl fmt::Display) -> Self {
        HubError::Unavailable {
            repo: repo.to_string(),
            reason: reason.to_string(),
        }
    }
}

fn not_found_message(repo: &str, missing: &Missing, available: &[String]) -> String {
    let list = |kind: &str| {
        if available.is_empty() {
            String::new()
        } else {
            format!(" (available {kind}: {})", available.join(", "))
        }
    };
    match missing {
        Missing::Repo => format!(
            "Hugging Face dataset `{repo}` does not exist (or is private: set the server's Hugging Face token); check `path`"
        ),
        Missing::Revision(rev) => format!(
            "Hugging Face dataset `{repo}` has no revision `{rev}`; check `revision`"
        ),
        Missing::Config(name) if name.is_empty() => format!(
            "Hugging Face dataset `{repo}` has several configs and none is the default{}; set `name`",
            list("configs")
        ),
        Missing::Config(name) => format!(
            "Hugging Face dataset `{repo}` has no config `{name}`{}; check `name`",
            list("configs")
        ),
        Missing::Split(split) => format!(
            "Hugging Face dataset `{repo}` has no split `{split}`{}; check `split`",
            list("splits")
        ),
        Missing::File(file) => format!(
            "Hugging Face dataset `{repo}` has no file matching `{file}`; check `data_files`"
        ),
        Missing::DataFiles => format!(
            "Hugging Face dataset `{repo}` has no data files for the chosen config and split{}; check `name`, `split` and `data_files`",
            list("splits")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_dataset_and_the_field() {
        let err = HubError::NotFound {
            repo: "org/ds".into(),
            missing: Missing::Split("dev".into()),
            available: vec!["train".into(), "test".into()],
        };
        assert_eq!(
            err.to_string(),
            "Hugging Face dataset `org/ds` has no split `dev` (available splits: train, test); check `split`"
        );
        let err = HubError::Unauthorized {
            repo: "org/p".into(),
            token_sent: false,
        };
        assert!(err
            .to_string()
            .contains("set the server's Hugging Face token"));
        assert_eq!(err.repo(), "org/p");
        assert!(!err.is_transient());
    }
}
