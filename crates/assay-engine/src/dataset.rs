//! Reading a task's rows from an uploaded JSONL or CSV file, streamed from blob storage.

use assay_domain::manifest::{Dataset, DatasetFormat, DatasetSource};
use assay_domain::Principal;
use assay_store::{Store, StoreError};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};
use tokio::io::AsyncBufReadExt;
use tokio_util::io::StreamReader;

use crate::PlanError;

/// One dataset row: column → value.
pub type Row = Map<String, Value>;

/// Opens the rows of `dataset` as a stream, reading the file as its owner would.
/// Only `file` datasets are read here; the caller rejects other sources up front.
pub async fn open_rows(
    store: &Store,
    owner: &Principal,
    dataset: &Dataset,
    what: &str,
) -> Result<BoxStream<'static, Result<Row, PlanError>>, PlanError> {
    if dataset.effective_source() != Some(DatasetSource::File) {
        return Err(PlanError::Unsupported(format!(
            "{what}: only uploaded-file datasets can be read"
        )));
    }
    let file_id = dataset.file_id.clone().unwrap_or_default();
    let file = match store.get_file(owner, &file_id).await {
        Ok(f) => f,
        Err(StoreError::NotFound) => {
            return Err(PlanError::Dataset(format!(
                "{what}: file {file_id} no longer exists"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let format = dataset
        .format
        .or_else(|| DatasetFormat::from_filename(&file.object.filename))
        .ok_or_else(|| {
            PlanError::Dataset(format!(
                "{what}: cannot tell the format of {} from its name",
                file.object.filename
            ))
        })?;
    let bytes = store
        .blobs()
        .get_stream(&file.blob_key)
        .await?
        .map_err(std::io::Error::other);
    let reader = StreamReader::new(bytes);
    let limit = dataset.max_rows.map(|n| n as usize).unwrap_or(usize::MAX);
    let what = what.to_string();
    let rows: BoxStream<'static, Result<Row, PlanError>> = match format {
        DatasetFormat::Jsonl => {
            let lines = tokio_stream_lines(reader);
            lines
                .enumerate()
                .filter_map(move |(n, line)| {
                    let what = what.clone();
                    async move {
                        match line {
                            Err(e) => Some(Err(PlanError::Dataset(format!(
                                "{what}: reading line {}: {e}",
                                n + 1
                            )))),
                            Ok(line) if line.trim().is_empty() => None,
                            Ok(line) => Some(match serde_json::from_str::<Value>(&line) {
                                Ok(Value::Object(row)) => Ok(row),
                                Ok(_) => Err(PlanError::Dataset(format!(
                                    "{what}: line {} is not a JSON object",
                                    n + 1
                                ))),
                                Err(e) => Err(PlanError::Dataset(format!(
                                    "{what}: line {} is not valid JSON: {e}",
                                    n + 1
                                ))),
                            }),
                        }
                    }
                })
                .boxed()
        }
        DatasetFormat::Csv => {
            let reader = csv_async::AsyncReaderBuilder::new()
                .flexible(false)
                .create_reader(reader);
            let what2 = what.clone();
            let mut reader = reader;
            let headers = reader
                .headers()
                .await
                .map_err(|e| PlanError::Dataset(format!("{what2}: reading the CSV header: {e}")))?
                .iter()
                .map(str::to_string)
                .collect::<Vec<_>>();
            reader
                .into_records()
                .enumerate()
                .map(move |(n, record)| {
                    let record = record.map_err(|e| {
                        PlanError::Dataset(format!("{what}: CSV record {}: {e}", n + 1))
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
