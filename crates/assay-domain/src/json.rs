//! Decoding request bodies with the path of the first offending field.

use crate::error::{field, ValidationError};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Parses a JSON request body into `T` (which may borrow from it). Syntax errors, wrong types
/// and missing fields all become a [`ValidationError`] naming the field path (`body` for the
/// document itself).
pub fn from_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ValidationError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ValidationError::new("body", format!("malformed JSON: {message}"));
        }
        describe(&path, &message)
    })?;
    de.end()
        .map_err(|e| ValidationError::new("body", format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// Decodes an already parsed JSON value into `T`, prefixing error paths with `base`.
pub fn from_value<T: DeserializeOwned>(
    value: &serde_json::Value,
    base: &str,
) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let rel = err.path().to_string();
        let message = err.into_inner().to_string();
        let path = if rel == "." {
            base.to_string()
        } else if rel.starts_with('[') {
            format!("{base}{rel}")
        } else {
            field(base, &rel)
        };
        describe(&path, &message)
    })
}

/// Turns serde's message into a path and a sentence; a missing field moves into the path.
fn describe(path: &str, message: &str) -> ValidationError {
    let path = if path == "." || path.is_empty() {
        ""
    } else {
        path
    };
    // serde reports a missing field at its parent: name the field itself.
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(name) = rest.split('`').next() {
            return ValidationError::new(field(path, name), "is required");
        }
    }
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string();
    ValidationError::new(if path.is_empty() { "body" } else { path }, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: i64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        items: Vec<Inner>,
    }

    #[test]
    fn missing_field_names_the_field() {
        let err = from_slice::<Outer>(br#"{"items": []}"#).unwrap_err();
        assert_eq!(err.path, "name");
        let err = from_slice::<Outer>(br#"{"name": "x", "items": [{}]}"#).unwrap_err();
        assert_eq!(err.path, "items[0].n");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = from_slice::<Outer>(br#"{"name": "x", "items": [{"n": "7"}]}"#).unwrap_err();
        assert_eq!(err.path, "items[0].n");
        assert!(err.message.contains("invalid type"), "{}", err.message);
    }

    #[test]
    fn malformed_json_is_a_body_error() {
        let err = from_slice::<Outer>(br#"{"name": "#).unwrap_err();
        assert_eq!(err.path, "body");
        assert!(err.message.starts_with("malformed JSON"));
    }

    #[test]
    fn value_paths_take_the_base() {
        let v = serde_json::json!({"name": "x", "items": [{"n": true}]});
        let err = from_value::<Outer>(&v, "manifest").unwrap_err();
        assert_eq!(err.path, "manifest.items[0].n");
    }
}
