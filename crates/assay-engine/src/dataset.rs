//! Reading a task's rows from an uploaded JSONL or CSV file, streamed from blob storage.

use assay_domain::manifest::{Dataset, DatasetFormat, DatasetSource};
use assay_domain::Principal;
use assay_store::{Store, StoreError};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};
use tokio::io::AsyncBufReadExt;
use tokio_util::io::StreamReader;

use crate::hub_datasets::HubDatasets;
use crate::PlanError;

/// One dataset row: column → value.
pub type Row = Map<String, Value>;

/// Which dataset of which task is read: for messages (`task qa fewshot.dataset`) and for the
/// manifest field a problem with it is reported at.
#[derive(Debug, Clone, Copy)]
pub struct DatasetRef<'a> {
    pub task_id: &'a str,
    /// The dataset's field within the task: `dataset`, `fewshot.dataset`,
    /// `embedding.corpus_dataset`, …
    pub field: &'a str,
}

impl DatasetRef<'_> {
    /// How messages name the dataset: `task qa` for a task's own rows, else with the field.
    pub fn describe(&self) -> String {
        if self.field == "dataset" {
            format!("task {}", self.task_id)
        } else {
            format!("task {} {}", self.task_id, self.field)
        }
    }

    /// A problem with the file itself, reported at its `file_id`.
    fn file_problem(&self, message: String) -> PlanError {
        PlanError::Unusable {
            field: format!("{}.file_id", self.field),
            template: false,
            message: format!("{}: {message}", self.describe()),
        }
    }
}

/// Where a run's Hugging Face datasets are read from, and the run they are read for (its
/// recorded commits).
pub type HubFor<'a> = Option<(&'a HubDatasets, &'a str)>;

/// Opens the rows of `dataset` (at most its `max_rows`) as a stream, reading an uploaded file
/// as its owner would, or a Hugging Face dataset through `hub` (for a run). A line that is not
/// a JSON object, or a CSV record that does not parse, ends the stream with an error naming
/// the file and the line.
pub async fn open_rows(
    store: &Store,
    hub: HubFor<'_>,
    owner: &Principal,
    dataset: &Dataset,
    at: DatasetRef<'_>,
) -> Result<BoxStream<'static, Result<Row, PlanError>>, PlanError> {
    if let (Some(DatasetSource::Huggingface), Some((hub, run_id))) =
        (dataset.effective_source(), hub)
    {
        return hub.open(store, run_id, dataset, at).await;
    }
    let (reader, format, name) = open_file(store, owner, dataset, at).await?;
    let limit = dataset.max_rows.map(|n| n as usize).unwrap_or(usize::MAX);
    let owned = OwnedRef {
        task_id: at.task_id.to_string(),
        field: at.field.to_string(),
        file: name,
    };
    let rows: BoxStream<'static, Result<Row, PlanError>> = match format {
        DatasetFormat::Jsonl => tokio_stream_lines(reader)
            .enumerate()
            .filter_map(move |(n, line)| {
                let problem = |what: String| Some(Err(owned.line_problem(n as u64 + 1, what)));
                let row = match line {
                    Err(e) => problem(format!("cannot be read: {e}")),
                    Ok(line) if is_blank(&line) => None,
                    Ok(line) => match serde_json::from_str::<Value>(&line) {
                        Ok(Value::Object(row)) => Some(Ok(row)),
                        Ok(other) => problem(format!(
                            "is not a JSON object (each line must be one object, not {})",
                            json_kind(&other)
                        )),
                        Err(e) => problem(format!("is not valid JSON: {e}")),
                    },
                };
                futures::future::ready(row)
            })
            .boxed(),
        DatasetFormat::Csv => {
            let mut reader = csv_reader(reader);
            let headers = reader
                .headers()
                .await
                .map_err(|e| owned.line_problem(1, format!("(the header) {}", csv_problem(&e))))?
                .iter()
                .map(str::to_string)
                .collect::<Vec<_>>();
            reader
                .into_records()
                .map(move |record| {
                    let record = record.map_err(|e| {
                        let line = csv_line(&e).unwrap_or(0);
                        owned.line_problem(line, csv_problem(&e))
                    })?;
                    Ok(headers
                        .iter()
                        .zip(record.iter())
                        .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
                        .collect::<Row>())
                })
                .boxed()
        }
    };
    Ok(rows.take(limit).boxed())
}

/// Counts the rows an uploaded-file dataset yields (at most its `max_rows`) without parsing
/// them: non-blank JSONL lines, or CSV records. `None` for a Hugging Face dataset, whose rows
/// are only counted by reading them. Problems with the file are the planner's to report.
pub async fn count_rows(
    store: &Store,
    owner: &Principal,
    dataset: &Dataset,
    at: DatasetRef<'_>,
) -> Result<Option<usize>, PlanError> {
    if dataset.effective_source() == Some(DatasetSource::Huggingface) {
        return Ok(None);
    }
    let (reader, format, _) = open_file(store, owner, dataset, at).await?;
    let limit = dataset.max_rows.map(|n| n as usize).unwrap_or(usize::MAX);
    let mut count = 0;
    match format {
        DatasetFormat::Jsonl => {
            let mut lines = reader.lines();
            while count < limit {
                match lines.next_line().await {
                    Ok(Some(line)) if is_blank(&line) => {}
                    Ok(Some(_)) => count += 1,
                    Ok(None) => break,
                    Err(e) => return Err(at.file_problem(format!("cannot be read: {e}"))),
                }
            }
        }
        DatasetFormat::Csv => {
            let mut reader = csv_reader(reader);
            let mut record = csv_async::ByteRecord::new();
            while count < limit {
                match reader.read_byte_record(&mut record).await {
                    Ok(true) => count += 1,
                    Ok(false) => break,
                    Err(e) => return Err(at.file_problem(csv_problem(&e))),
                }
            }
        }
    }
    Ok(Some(count))
}

/// An uploaded-file dataset opened for reading as `owner`: its bytes, its format (stated, or
/// told by the file name) and the file name.
async fn open_file(
    store: &Store,
    owner: &Principal,
    dataset: &Dataset,
    at: DatasetRef<'_>,
) -> Result<
    (
        impl tokio::io::AsyncBufRead + Send + Unpin + 'static,
        DatasetFormat,
        String,
    ),
    PlanError,
> {
    if dataset.effective_source() != Some(DatasetSource::File) {
        return Err(PlanError::Unsupported(format!(
            "{}: only uploaded-file datasets can be read",
            at.describe()
        )));
    }
    let file_id = dataset.file_id.clone().unwrap_or_default();
    let file = match store.get_file(owner, &file_id).await {
        Ok(f) => f,
        Err(StoreError::NotFound) => {
            return Err(at.file_problem(format!("file {file_id} no longer exists")))
        }
        Err(e) => return Err(e.into()),
    };
    let name = file.object.filename.clone();
    let format = dataset
        .format
        .or_else(|| DatasetFormat::from_filename(&name))
        .ok_or_else(|| {
            at.file_problem(format!(
                "cannot tell the format of {name} from its name; set the dataset's format"
            ))
        })?;
    let bytes = store
        .blobs()
        .get_stream(&file.blob_key)
        .await?
        .map_err(std::io::Error::other);
    Ok((StreamReader::new(bytes), format, name))
}

/// Whether a JSONL line is blank: such lines are skipped, not rows.
fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// A CSV reader over `bytes` whose records must all have the header's fields.
fn csv_reader<R: tokio::io::AsyncRead + Unpin + Send>(bytes: R) -> csv_async::AsyncReader<R> {
    csv_async::AsyncReaderBuilder::new()
        .flexible(false)
        .create_reader(bytes)
}

/// A [`DatasetRef`] the row stream can keep, with the file's name.
struct OwnedRef {
    task_id: String,
    field: String,
    file: String,
}

impl OwnedRef {
    fn line_problem(&self, line: u64, what: String) -> PlanError {
        let at = DatasetRef {
            task_id: &self.task_id,
            field: &self.field,
        };
        at.file_problem(format!("line {line} of {} {what}", self.file))
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The line a CSV error is on, when the reader knows it.
fn csv_line(e: &csv_async::Error) -> Option<u64> {
    e.position().map(|p| p.line())
}

/// A CSV error in words, without the position (the caller says the line).
fn csv_problem(e: &csv_async::Error) -> String {
    match e.kind() {
        csv_async::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("is not valid CSV: it has {len} fields where the header has {expected_len}"),
        csv_async::ErrorKind::Utf8 { err, .. } => format!("is not valid UTF-8 ({err})"),
        _ => format!("is not valid CSV: {e}"),
    }
}

fn tokio_stream_lines<R: tokio::io::AsyncBufRead + Unpin + Send + 'static>(
    reader: R,
) -> BoxStream<'static, std::io::Result<String>> {
    futures::stream::unfold(reader.lines(), |mut lines| async move {
        match lines.next_line().await {
            Ok(Some(line)) => Some((Ok(line), lines)),
            Ok(None) => None,
            Err(e) => Some((Err(e), lines)),
        }
    })
    .boxed()
}
