//! The opaque `cursor` of a truncated leaderboard-runs feed.
//!
//! A cursor is base64url (no padding) of a small JSON object: the query it continues (suite,
//! version, `per_group`, model), the highest run `seq` the first page considered, and how many
//! runs of the priority order earlier pages returned. Every page after the first ranks only
//! runs up to that `seq`, so runs created meanwhile cannot shift the pages (a run created
//! before the first page but completed or deleted after it still can). A cursor is checked on
//! decode: one that does not parse, or was issued for another query, is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The only format written so far.
const FORMAT: u8 = 1;

/// The query a feed answers; a cursor belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub suite_id: String,
    pub suite_version: Option<i64>,
    pub per_group: usize,
    pub model: Option<String>,
}

/// Where the next page of a feed starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub scope: Scope,
    /// The highest run `seq` the first page considered.
    pub up_to: i64,
    /// Runs of the priority order already returned.
    pub offset: usize,
}

/// A cursor as encoded, with short keys.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    f: u8,
    s: String,
    v: Option<i64>,
    g: usize,
    m: Option<String>,
    h: i64,
    o: usize,
}

impl Cursor {
    /// The cursor as sent to clients.
    pub fn encode(&self) -> String {
        self.encode_as(FORMAT)
    }

    fn encode_as(&self, format: u8) -> String {
        let wire = Wire {
            f: format,
            s: self.scope.suite_id.clone(),
            v: self.scope.suite_version,
            g: self.scope.per_group,
            m: self.scope.model.clone(),
            h: self.up_to,
            o: self.offset,
        };
        // A struct of strings and integers always serializes.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a cursor sent back for the query `scope`; the error says why it is refused.
    pub fn decode(text: &str, scope: &Scope) -> Result<Self, String> {
        let malformed = || "is not a cursor this server issued".to_string();
        let bytes = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| malformed())?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        if wire.f != FORMAT || wire.h < 0 || wire.o == 0 {
            return Err(malformed());
        }
        let cursor = Cursor {
            scope: Scope {
                suite_id: wire.s,
                suite_version: wire.v,
                per_group: wire.g,
                model: wire.m,
            },
            up_to: wire.h,
            offset: wire.o,
        };
        if &cursor.scope != scope {
            return Err(
                "was issued for another suite or other suite_version, per_group or model"
                    .to_string(),
            );
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            suite_id: "eval_suite_1".into(),
            suite_version: Some(2),
            per_group: 5,
            model: Some("fake:a".into()),
        }
    }

    #[test]
    fn round_trips_and_is_url_safe() {
        let cursor = Cursor {
            scope: scope(),
            up_to: 42,
            offset: 3,
        };
        let text = cursor.encode();
        assert!(text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(Cursor::decode(&text, &scope()), Ok(cursor));
    }

    #[test]
    fn refuses_garbage_and_foreign_cursors() {
        for text in ["", "!!!", "bm90IGpzb24", &URL_SAFE_NO_PAD.encode(b"{}")] {
            assert!(Cursor::decode(text, &scope()).is_err(), "{text}");
        }
        let cursor = |up_to, offset| Cursor {
            scope: scope(),
            up_to,
            offset,
        };
        let text = cursor(42, 3).encode();
        for other in [
            Scope {
                suite_id: "eval_suite_2".into(),
                ..scope()
            },
            Scope {
                suite_version: None,
                ..scope()
            },
            Scope {
                per_group: 4,
                ..scope()
            },
            Scope {
                model: None,
                ..scope()
            },
        ] {
            let err = Cursor::decode(&text, &other).unwrap_err();
            assert!(err.contains("another"), "{err}");
        }
        // Values no server writes.
        for (up_to, offset) in [(-1, 3), (42, 0)] {
            let text = cursor(up_to, offset).encode();
            assert!(Cursor::decode(&text, &scope()).is_err());
        }
        assert!(Cursor::decode(&cursor(42, 3).encode_as(2), &scope()).is_err());
    }
}
