//! CSV and TSV files, typed like pandas types them (see the module docs of [`super`]).

use std::collections::VecDeque;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use serde_json::{Number, Value};

use super::lines::lazily;
use super::{Row, RowStream};
use crate::error::HubError;
use crate::source::ByteSource;

/// Rows typed together, as `datasets` reads CSV (`chunksize`).
const CHUNK_ROWS: usize = 10_000;
/// The longest stretch without a line break read.
const MAX_LINE: usize = 256 << 20;

/// pandas' default missing-value markers.
const NA_VALUES: [&str; 19] = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Null,
    Int,
    Float,
    Bool,
    Text,
}

fn is_na(value: &str) -> bool {
    NA_VALUES.contains(&value)
}

fn parse_int(value: &str) -> Option<i64> {
    let v = value.trim();
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn parse_float(value: &str) -> Option<f64> {
    let v = value.trim();
    // Rust also reads `nan`/`inf` words; pandas takes `inf`-like words too, and every NaN
    // spelling is a missing value already.
    if v.is_empty() || v.contains('_') {
        return None;
    }
    v.parse().ok()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "True" | "TRUE" | "true" => Some(true),
        "False" | "FALSE" | "false" => Some(false),
        _ => None,
    }
}

/// The type pandas gives a column of `values` (`None` = missing field).
fn column_type<'a>(values: impl Iterator<Item = Option<&'a str>> + Clone) -> ColumnType {
    let present: Vec<&str> = values.flatten().filter(|v| !is_na(v)).collect();
    if present.is_empty() {
        return ColumnType::Null;
    }
    if present.iter().all(|v| parse_int(v).is_some()) {
        return ColumnType::Int;
    }
    if present.iter().all(|v| parse_float(v).is_some()) {
        return ColumnType::Float;
    }
    if present.iter().all(|v| parse_bool(v).is_some()) {
        return ColumnType::Bool;
    }
    ColumnType::Text
}

fn float_value(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn typed(value: Option<&str>, ty: ColumnType, has_missing: bool) -> Value {
    let Some(v) = value.filter(|v| !is_na(v)) else {
        return Value::Null;
    };
    match ty {
        ColumnType::Null => Value::Null,
        ColumnType::Int if has_missing => parse_int(v)
            .map(|i| float_value(i as f64))
            .unwrap_or(Value::Null),
        ColumnType::Int => parse_int(v).map(Value::from).unwrap_or(Value::Null),
        ColumnType::Float => parse_float(v).map(float_value).unwrap_or(Value::Null),
        ColumnType::Bool => parse_bool(v).map(Value::Bool).unwrap_or(Value::Null),
        ColumnType::Text => Value::String(v.to_string()),
    }
}

/// Column names as pandas makes them: an empty name is `Unnamed: {i}`, a repeated one gets
/// `.1`, `.2`, ….
fn column_names(header: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(header.len());
    for (i, name) in header.iter().enumerate() {
        let base = if name.is_empty() {
            format!("Unnamed: {i}")
        } else {
            name.clone()
        };
        let mut candidate = base.clone();
        let mut n = 0;
        while out.contains(&candidate) {
            n += 1;
            candidate = format!("{base}.{n}");
        }
        out.push(candidate);
    }
    out
}

/// Types a chunk of raw records and turns it into rows.
fn type_chunk(names: &[String], records: Vec<Vec<String>>) -> VecDeque<Row> {
    let columns: Vec<(ColumnType, bool)> = (0..names.len())
        .map(|c| {
            let values = records.iter().map(move |r| r.get(c).map(String::as_str));
            let ty = column_type(values.clone());
            let has_missing = values.clone().any(|v| v.is_none_or(is_na));
            (ty, has_missing)
        })
        .collect();
    records
        .into_iter()
        .map(|record| {
            names
                .iter()
                .enumerate()
                .map(|(c, name)| {
                    let (ty, missing) = columns[c];
                    (
                        name.clone(),
                        typed(record.get(c).map(String::as_str), ty, missing),
                    )
                })
                .collect()
        })
        .collect()
}

struct State {
    source: Arc<dyn ByteSource>,
    reader: csv_async::AsyncReader<
        tokio_util::io::StreamReader<
            futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
            bytes::Bytes,
        >,
    >,
    names: Vec<String>,
    pending: VecDeque<Row>,
    done: bool,
}

fn csv_error(source: &dyn ByteSource, e: csv_async::Error) -> HubError {
    if let csv_async::ErrorKind::Io(io) = e.kind() {
        if let Some(hub) = io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<HubError>())
        {
            return hub.clone();
        }
    }
    let (repo, path) = source.describe();
    HubError::unreadable(repo, path, e)
}

/// The rows of a delimited file with a header row.
pub(super) fn rows<S: ByteSource + 'static>(source: S, delimiter: u8) -> RowStream {
    let source: Arc<dyn ByteSource> = Arc::new(source);
    lazily(async move {
        // A stretch of 256 MiB without a line break is no CSV record: refuse it rather
        // than buffer it.
        let mut since_newline: usize = 0;
        let guard = source.clone();
        let bytes = source
            .stream()
            .await?
            .map(move |chunk| {
                let chunk = chunk?;
                match chunk.iter().rposition(|&b| b == b'\n') {
                    Some(i) => since_newline = chunk.len() - i - 1,
                    None => since_newline += chunk.len(),
                }
                if since_newline > MAX_LINE {
                    let (repo, path) = guard.describe();
                    return Err(HubError::unreadable(
                        repo,
                        path,
                        "a line longer than 256 MiB",
                    ));
                }
                Ok(chunk)
            })
            .map_err(std::io::Error::other)
            .boxed();
        let mut reader = csv_async::AsyncReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .create_reader(tokio_util::io::StreamReader::new(bytes));
        let mut header = csv_async::StringRecord::new();
        let has_header = reader
            .read_record(&mut header)
            .await
            .map_err(|e| csv_error(&*source, e))?;
        if !has_header {
            return Ok(futures::stream::empty().boxed());
        }
        let mut raw: Vec<String> = header.iter().map(str::to_string).collect();
        if let Some(first) = raw.first_mut() {
            if let Some(rest) = first.strip_prefix('\u{feff}') {
                *first = rest.to_string();
            }
        }
        let state = State {
            source,
            reader,
            names: column_names(&raw),
            pending: VecDeque::new(),
            done: false,
        };
        Ok(futures::stream::try_unfold(state, |mut st| async move {
            loop {
                if let Some(row) = st.pending.pop_front() {
                    return Ok(Some((row, st)));
                }
                if st.done {
                    return Ok(None);
                }
                let mut chunk: Vec<Vec<String>> = Vec::new();
                let mut record = csv_async::StringRecord::new();
                while chunk.len() < CHUNK_ROWS {
                    let more = st
                        .reader
                        .read_record(&mut record)
                        .await
                        .map_err(|e| csv_error(&*st.source, e))?;
                    if !more {
                        st.done = true;
                        break;
                    }
                    if record.len() > st.names.len() {
                        let (repo, path) = st.source.describe();
                        let line = record.position().map(|p| p.line()).unwrap_or_default();
                        return Err(HubError::unreadable(
                            repo,
                            path,
                            format!(
                                "line {line}: expected {} fields, saw {}",
                                st.names.len(),
                                record.len()
                            ),
                        ));
                    }
                    chunk.push(record.iter().map(str::to_string).collect());
                }
                st.pending = type_chunk(&st.names, chunk);
            }
        })
        .boxed())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typed_rows(header: &[&str], rows: &[&[&str]]) -> Value {
        let names = column_names(&header.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let records = rows
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect();
        Value::Array(
            type_chunk(&names, records)
                .into_iter()
                .map(Value::Object)
                .collect(),
        )
    }

    #[test]
    fn columns_are_typed_like_pandas() {
        let got = typed_rows(
            &["i", "f", "m", "b", "s", "n", "mixed"],
            &[
                &["1", "1.5", "3", "True", "a", "", "1"],
                &["-2", "2", "", "false", "NA", "null", "x"],
            ],
        );
        assert_eq!(
            got,
            json!([
                {"i": 1, "f": 1.5, "m": 3.0, "b": true, "s": "a", "n": null, "mixed": "1"},
                {"i": -2, "f": 2.0, "m": null, "b": false, "s": null, "n": null, "mixed": "x"}
            ])
        );
    }

    #[test]
    fn short_rows_are_padded_and_names_made_unique() {
        let got = typed_rows(&["a", "a", ""], &[&["1"], &["2", "x", "y"]]);
        assert_eq!(
            got,
            json!([
                {"a": 1, "a.1": null, "Unnamed: 2": null},
                {"a": 2, "a.1": "x", "Unnamed: 2": "y"}
            ])
        );
    }
}
