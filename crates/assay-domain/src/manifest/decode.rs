//! Decoding a manifest's JSON into the typed structs: `null` counts as absent, and errors
//! inside `output_extraction` name the exact field.

use super::extraction::{
    LabelSetExtraction, OutputExtraction, RegexExtraction, TakeFirstExtraction,
};
use super::Manifest;
use crate::error::{field, index, ValidationError};
use crate::json;
use serde_json::{Map, Value};

/// Keys whose values are free-form (or not objects of ours): their own `null` still counts
/// as absent, but nothing inside them is touched.
const OPAQUE_KEYS: [&str; 3] = ["metadata", "dataset_kwargs", "data_files"];

/// Decodes `value` (the manifest at JSON path `path`) into a [`Manifest`].
pub(super) fn decode_manifest(value: &Value, path: &str) -> Result<Manifest, ValidationError> {
    let value = without_nulls(value);
    json::from_value(&value, path).map_err(|err| refine_extraction_error(&value, path, err))
}

/// A copy of `value` whose objects lack their `null`-valued keys, except inside
/// [`OPAQUE_KEYS`]. Array items are kept as they are (a `null` item is an error later).
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let v = if OPAQUE_KEYS.contains(&k.as_str()) {
                        v.clone()
                    } else {
                        without_nulls(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// serde reports any error inside an internally tagged enum at the enum itself. When `err`
/// lies inside a task's `output_extraction`, decode that object variant by variant to name
/// the exact field; otherwise keep `err`.
fn refine_extraction_error(value: &Value, path: &str, err: ValidationError) -> ValidationError {
    let Some(tasks) = value.get("tasks").and_then(Value::as_array) else {
        return err;
    };
    let tasks_path = field(path, "tasks");
    for (i, task) in tasks.iter().enumerate() {
        let ep = field(&index(&tasks_path, i), "output_extraction");
        let inside = err
            .path
            .strip_prefix(ep.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']));
        if inside {
            if let Some(extraction) = task.get("output_extraction") {
                if let Err(precise) = check_extraction(extraction, &ep) {
                    return precise;
                }
            }
            return err;
        }
    }
    err
}

/// Decodes one `output_extraction` object (at `path`) with exact error paths.
fn check_extraction(value: &Value, path: &str) -> Result<(), ValidationError> {
    let Some(map) = value.as_object() else {
        return Err(ValidationError::new(
            path,
            "must be an object with a `type` field",
        ));
    };
    let type_path = field(path, "type");
    let kind = match map.get("type") {
        None => return Err(ValidationError::new(type_path, "is required")),
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(ValidationError::new(type_path, "must be a string")),
    };
    match kind {
        "none" | "number" => Ok(()),
        "take_first" => decode_fields::<TakeFirstExtraction>(map, path),
        "regex" | "regex_last" => decode_fields::<RegexExtraction>(map, path),
        "label_set" => decode_fields::<LabelSetExtraction>(map, path),
        other => Err(ValidationError::new(
            type_path,
            format!(
                "unknown output extraction type `{other}`; expected one of {}",
                OutputExtraction::TYPES.join(", ")
            ),
        )),
    }
}

fn decode_fields<T: serde::de::DeserializeOwned>(
    map: &Map<String, Value>,
    path: &str,
) -> Result<(), ValidationError> {
    json::from_value::<T>(&Value::Object(map.clone()), path).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn extraction_error(extraction: Value) -> ValidationError {
        let manifest = json!({"tasks": [
            {"id": "ok", "type": "qa", "dataset": {"file_id": "f"}},
            {"id": "t", "type": "qa", "dataset": {"file_id": "f"}, "output_extraction": extraction}
        ]});
        decode_manifest(&manifest, "manifest").unwrap_err()
    }

    #[test]
    fn extraction_errors_name_the_field() {
        let p = "manifest.tasks[1].output_extraction";
        let cases = [
            (json!({"pattern": "x"}), format!("{p}.type")),
            (json!({"type": 3}), format!("{p}.type")),
            (json!({"type": "fuzzy"}), format!("{p}.type")),
            (json!({"type": "regex"}), format!("{p}.pattern")),
            (
                json!({"type": "regex", "pattern": 5}),
                format!("{p}.pattern"),
            ),
            (
                json!({"type": "regex_last", "pattern": "x", "group": true}),
                format!("{p}.group"),
            ),
            (
                json!({"type": "regex", "pattern": "x", "flags": 1}),
                format!("{p}.flags"),
            ),
            (
                json!({"type": "take_first", "lines": "2"}),
                format!("{p}.lines"),
            ),
            (json!({"type": "label_set"}), format!("{p}.labels")),
            (
                json!({"type": "label_set", "labels": ["a", 1]}),
                format!("{p}.labels[1]"),
            ),
            (
                json!({"type": "label_set", "labels": ["a"], "case_sensitive": "no"}),
                format!("{p}.case_sensitive"),
            ),
            (json!("regex"), p.to_string()),
        ];
        for (extraction, path) in cases {
            let err = extraction_error(extraction.clone());
            assert_eq!(err.path, path, "{extraction}: {}", err.message);
        }
        let err = extraction_error(json!({"type": "fuzzy"}));
        assert!(err.message.contains("`fuzzy`"), "{}", err.message);
    }

    #[test]
    fn null_extraction_fields_are_absent() {
        let manifest = json!({"tasks": [{
            "id": "t", "type": "qa", "dataset": {"file_id": "f"},
            "output_extraction": {"type": "regex", "pattern": "x", "group": null, "flags": null}
        }]});
        let m = decode_manifest(&manifest, "manifest").unwrap();
        assert_eq!(
            m.tasks[0].output_extraction,
            Some(OutputExtraction::Regex(RegexExtraction {
                pattern: "x".into(),
                group: None,
                flags: None
            }))
        );
    }

    #[test]
    fn other_errors_keep_their_path() {
        let manifest = json!({"tasks": [{"id": "t", "type": "quiz", "dataset": {}}]});
        let err = decode_manifest(&manifest, "manifest").unwrap_err();
        assert_eq!(err.path, "manifest.tasks[0].type");
        let err = decode_manifest(&json!({"tasks": [{"id": "t", "type": "qa"}]}), "m").unwrap_err();
        assert_eq!(err.path, "m.tasks[0].dataset");
        assert_eq!(err.message, "is required");
    }
}
