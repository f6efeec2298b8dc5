//! What a suite version's tasks look like before any run: each task's first dataset rows, its
//! row count, and its first row's prompt and target rendered exactly as planning renders them
//! (few-shot examples included); and what changed between two versions' manifests.

use std::collections::BTreeSet;

use assay_domain::manifest::{DatasetSource, Task, TaskType};
use assay_domain::Principal;
use assay_store::Store;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::dataset::{open_rows, DatasetRef, Row};
use crate::plan::Renderer;
use crate::PlanError;

/// A task's dataset as a preview shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskPreview {
    /// The first rows, in file order.
    pub rows: Vec<Row>,
    /// Every column of those rows, in order of first appearance.
    pub columns: Vec<String>,
    /// How many rows the task reads (its `max_rows` applied), counted up to `count_limit`;
    /// `None` when not counted.
    pub row_count: Option<u64>,
    /// Whether counting stopped at the limit (there may be more rows).
    pub count_limited: bool,
    /// The first row's prompt and target as a run would render them.
    pub example: Option<(String, Option<String>)>,
    /// Why the rows could not be read or the example rendered (the preview stops there).
    pub problem: Option<String>,
}

/// Previews `task`'s dataset as `reader` reads it: the first `first` rows, the rows counted
/// up to `count_limit` (no count, and no reading past the first rows, when it is `None`), and
/// the first row rendered. Datasets that are not uploaded files are read when a run starts,
/// and say so in `problem`.
pub async fn preview_task(
    store: &Store,
    reader: &Principal,
    task: &Task,
    first: usize,
    count_limit: Option<u64>,
) -> Result<TaskPreview, assay_store::StoreError> {
    let mut preview = TaskPreview {
        rows: Vec::new(),
        columns: Vec::new(),
        row_count: None,
        count_limited: false,
        example: None,
        problem: None,
    };
    if task.dataset.effective_source() != Some(DatasetSource::File) {
        preview.problem =
            Some("This dataset is read from the Hugging Face Hub when a run starts.".into());
        return Ok(preview);
    }
    let at = DatasetRef {
        task_id: &task.id,
        field: "dataset",
    };
    let mut rows = match open_rows(store, None, reader, &task.dataset, at).await {
        Ok(rows) => rows,
        Err(PlanError::Store(e)) => return Err(e),
        Err(e) => {
            preview.problem = Some(e.to_string());
            return Ok(preview);
        }
    };
    let mut seen = 0u64;
    while let Some(row) = rows.next().await {
        let row = match row {
            Ok(row) => row,
            Err(PlanError::Store(e)) => return Err(e),
            Err(e) => {
                preview.problem = Some(e.to_string());
                break;
            }
        };
        seen += 1;
        if preview.rows.len() < first {
            for column in row.keys() {
                if !preview.columns.contains(column) {
                    preview.columns.push(column.clone());
                }
            }
            preview.rows.push(row);
        }
        match count_limit {
            None if preview.rows.len() >= first => break,
            Some(limit) if seen >= limit => {
                preview.count_limited = rows.next().await.is_some();
                break;
            }
            _ => {}
        }
    }
    if count_limit.is_some() && preview.problem.is_none() {
        preview.row_count = Some(seen);
    }
    // Rendering needs the rows as planning sees them: not after a preprocessor rewrites them,
    // and not for audio.
    let renders = task.preprocess.is_none() && task.task_type != TaskType::Transcription;
    if let (true, None, Some(row)) = (renders, &preview.problem, preview.rows.first()) {
        let rendered = match Renderer::new(store, None, reader, task, None).await {
            Ok(renderer) => renderer.render(row, 0),
            Err(e) => Err(e),
        };
        match rendered {
            Ok(example) => preview.example = Some(example),
            Err(PlanError::Store(e)) => return Err(e),
            Err(e) => preview.problem = Some(e.to_string()),
        }
    }
    Ok(preview)
}

/// One difference between two manifests: the value at `path` before and after (`None` where
/// it is absent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManifestChange {
    /// Where, e.g. `tasks[qa].prompt_template` (tasks are named by id, not position).
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The differences from manifest `before` to `after`, in path order: keys added, removed or
/// changed, descending into objects and arrays; tasks are matched by their `id`, so
/// reordering tasks is no change.
pub fn manifest_diff(before: &Value, after: &Value) -> Vec<ManifestChange> {
    let mut changes = Vec::new();
    diff_at("", &by_task_id(before), &by_task_id(after), &mut changes);
    changes
}

/// The manifest with its `tasks` array keyed by task id (`[id]`), when every task has one.
fn by_task_id(manifest: &Value) -> Value {
    let mut manifest = manifest.clone();
    if let Some(tasks) = manifest.get("tasks").and_then(Value::as_array) {
        let keyed: Option<serde_json::Map<String, Value>> = tasks
            .iter()
            .map(|t| {
                t.get("id")
                    .and_then(Value::as_str)
                    .map(|id| (format!("[{id}]"), t.clone()))
            })
            .collect();
        if let (Some(keyed), Some(m)) = (keyed, manifest.as_object_mut()) {
            m.insert("tasks".into(), Value::Object(keyed));
        }
    }
    manifest
}

fn join(path: &str, key: &str) -> String {
    if key.starts_with('[') {
        format!("{path}{key}")
    } else if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn diff_at(path: &str, before: &Value, after: &Value, out: &mut Vec<ManifestChange>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let at = join(path, key);
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff_at(&at, x, y, out),
                    (x, y) => out.push(ManifestChange {
                        path: at,
                        before: x.cloned(),
                        after: y.cloned(),
                    }),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let at = format!("{path}[{i}]");
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => diff_at(&at, x, y, out),
                    (x, y) => out.push(ManifestChange {
                        path: at,
                        before: x.cloned(),
                        after: y.cloned(),
                    }),
                }
            }
        }
        (x, y) if x != y => out.push(ManifestChange {
            path: path.to_string(),
            before: Some(x.clone()),
            after: Some(y.clone()),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manifests_differ_by_path_with_tasks_named_by_id() {
        let v1 = json!({"tasks": [
            {"id": "qa", "prompt_template": "Q: {{q}}", "metrics": ["exact_match"]},
            {"id": "old", "prompt_template": "x"}]});
        let v2 = json!({"tasks": [
            {"id": "new", "prompt_template": "y"},
            {"id": "qa", "prompt_template": "Question: {{q}}", "metrics": ["exact_match", "f1"]}],
            "description": "v2"});
        let paths: Vec<(String, Option<Value>, Option<Value>)> = manifest_diff(&v1, &v2)
            .into_iter()
            .map(|c| (c.path, c.before, c.after))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("description".into(), None, Some(json!("v2"))),
                (
                    "tasks[new]".into(),
                    None,
                    Some(json!({"id": "new", "prompt_template": "y"}))
                ),
                (
                    "tasks[old]".into(),
                    Some(json!({"id": "old", "prompt_template": "x"})),
                    None
                ),
                ("tasks[qa].metrics[1]".into(), None, Some(json!("f1"))),
                (
                    "tasks[qa].prompt_template".into(),
                    Some(json!("Q: {{q}}")),
                    Some(json!("Question: {{q}}"))
                ),
            ]
        );
        assert!(manifest_diff(&v1, &v1).is_empty());
        // Without ids, tasks are compared by position.
        let a = json!({"tasks": [{"x": 1}]});
        let b = json!({"tasks": [{"x": 2}]});
        assert_eq!(manifest_diff(&a, &b)[0].path, "tasks[0].x");
    }
}
