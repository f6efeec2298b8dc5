//! The dataset checks made when a suite (or a suite version) is created, so that mistakes
//! surface before any model call: every uploaded-file dataset a task reads is streamed once,
//! as planning will read it, and each row goes through the code planning uses — templates
//! rendered (few-shot included), embedding columns read. The first problem is reported at the
//! manifest field that asks for what the data lacks, with the wording a run would fail with.
//!
//! Not checked here, and so checked only when a run plans: rows a Python preprocessor
//! rewrites (their columns are only known after it ran; the files must still parse) and
//! datasets that are not uploaded files.

use assay_domain::manifest::{DatasetSource, Manifest, Task, TaskType};
use assay_domain::Principal;
use assay_store::{Store, StoreError};
use futures::StreamExt;

use crate::dataset::{open_rows, DatasetRef};
use crate::embedding_task::check_row;
use crate::plan::Renderer;
use crate::PlanError;

/// Why a manifest's datasets cannot work.
#[derive(Debug, thiserror::Error)]
pub enum DatasetCheckError {
    /// `path` (e.g. `manifest.tasks[0].prompt_template`) asks for what the data lacks.
    #[error("{path}: {message}")]
    Unusable { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks every uploaded-file dataset of `manifest` as `owner` reads them; `prefix` is the
/// manifest's path in the request (`manifest`).
pub async fn check_datasets(
    store: &Store,
    owner: &Principal,
    manifest: &Manifest,
    prefix: &str,
) -> Result<(), DatasetCheckError> {
    for (i, task) in manifest.tasks.iter().enumerate() {
        check_task(store, owner, task).await.map_err(|e| {
            let task_path = format!("{prefix}.tasks[{i}]");
            match e {
                PlanError::Store(e) => DatasetCheckError::Store(e),
                PlanError::Unusable { field, message, .. } => DatasetCheckError::Unusable {
                    path: format!("{task_path}.{field}"),
                    message,
                },
                PlanError::Dataset(message) => DatasetCheckError::Unusable {
                    path: format!("{task_path}.dataset"),
                    message,
                },
                other => DatasetCheckError::Unusable {
                    path: task_path,
                    message: other.to_string(),
                },
            }
        })?;
    }
    Ok(())
}

async fn check_task(store: &Store, owner: &Principal, task: &Task) -> Result<(), PlanError> {
    let own = DatasetRef {
        task_id: &task.id,
        field: "dataset",
    };
    if let (TaskType::Embedding, Some(c)) = (task.task_type, &task.embedding) {
        // The eval rows, and the auxiliary datasets this kind reads.
        let datasets = std::iter::once(("dataset", &task.dataset)).chain(
            c.aux_datasets()
                .filter(|(name, _)| c.kind.required_datasets().contains(name)),
        );
        for (name, dataset) in datasets {
            if !is_file(dataset) {
                continue;
            }
            let field = if name == "dataset" {
                name.to_string()
            } else {
                format!("embedding.{name}")
            };
            let at = DatasetRef {
                task_id: &task.id,
                field: &field,
            };
            let mut rows = open_rows(store, None, owner, dataset, at).await?;
            let mut index = 0;
            while let Some(row) = rows.next().await {
                check_row(c, name, &row?, &format!("{} row {index}", at.describe()))?;
                index += 1;
            }
        }
        return Ok(());
    }
    let fewshot_dataset = task
        .fewshot
        .as_ref()
        .and_then(|f| f.dataset.as_ref())
        .filter(|_| task.fewshot_count() > 0);
    let renders = task.preprocess.is_none()
        && task.task_type != TaskType::Transcription
        && is_file(&task.dataset)
        && fewshot_dataset.is_none_or(is_file);
    if !renders {
        // Rows are rewritten first, or come from elsewhere: the files must still parse.
        if let Some(pool) = fewshot_dataset.filter(|d| is_file(d)) {
            let at = DatasetRef {
                task_id: &task.id,
                field: "fewshot.dataset",
            };
            drain(open_rows(store, None, owner, pool, at).await?).await?;
        }
        if is_file(&task.dataset) {
            drain(open_rows(store, None, owner, &task.dataset, own).await?).await?;
        }
        return Ok(());
    }
    let renderer = Renderer::new(store, None, owner, task, None).await?;
    let mut rows = open_rows(store, None, owner, &task.dataset, own).await?;
    let mut index = 0;
    while let Some(row) = rows.next().await {
        renderer.render(&row?, index)?;
        index += 1;
    }
    Ok(())
}

fn is_file(dataset: &assay_domain::manifest::Dataset) -> bool {
    dataset.effective_source() == Some(DatasetSource::File)
}

/// Reads a row stream to its end, stopping at the first problem.
async fn drain(
    mut rows: futures::stream::BoxStream<'static, Result<crate::dataset::Row, PlanError>>,
) -> Result<(), PlanError> {
    while let Some(row) = rows.next().await {
        row?;
    }
    Ok(())
}
