//! JSON Lines and JSON files.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use super::{Row, RowStream};
use crate::error::HubError;
use crate::source::{ByteSource, ByteStream};

/// The most a whole-document JSON file may hold (it is parsed in memory).
const MAX_JSON_DOCUMENT: usize = 1 << 30;
/// The longest line read.
const MAX_LINE: usize = 256 << 20;

/// Splits a byte stream into lines (without `\n` / `\r\n`).
pub(super) struct LineReader {
    stream: ByteStream,
    repo: String,
    path: String,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    /// 1-based number of the last line returned.
    pub line_no: usize,
}

impl LineReader {
    pub(super) fn new(stream: ByteStream, source: &dyn ByteSource) -> Self {
        let (repo, path) = source.describe();
        LineReader {
            stream,
            repo: repo.to_string(),
            path: path.to_string(),
            buf: Vec::new(),
            start: 0,
            eof: false,
            line_no: 0,
        }
    }

    /// The next line, `None` at the end.
    pub(super) async fn next_line(&mut self) -> Result<Option<Vec<u8>>, HubError> {
        loop {
            if let Some(i) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
                let end = self.start + i;
                let mut line = self.buf[self.start..end].to_vec();
                self.start = end + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(self.finish(line)));
            }
            if self.eof {
                if self.start >= self.buf.len() {
                    return Ok(None);
                }
                let line = self.buf[self.start..].to_vec();
                self.start = self.buf.len();
                return Ok(Some(self.finish(line)));
            }
            // Compact, then read more.
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            if self.buf.len() > MAX_LINE {
                return Err(HubError::unreadable(
                    &self.repo,
                    &self.path,
                    format!("line {} is longer than 256 MiB", self.line_no + 1),
                ));
            }
            match self.stream.next().await {
                Some(chunk) => self.buf.extend_from_slice(&chunk?),
                None => self.eof = true,
            }
        }
    }

    fn finish(&mut self, mut line: Vec<u8>) -> Vec<u8> {
        self.line_no += 1;
        if self.line_no == 1 && line.starts_with(b"\xEF\xBB\xBF") {
            line.drain(..3);
        }
        line
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}

fn unreadable(source: &dyn ByteSource, reason: impl std::fmt::Display) -> HubError {
    let (repo, path) = source.describe();
    HubError::unreadable(repo, path, reason)
}

/// A JSON Lines stream: one object per non-blank line.
pub(super) fn json_lines<S: ByteSource + 'static>(source: S) -> RowStream {
    let source: Arc<dyn ByteSource> = Arc::new(source);
    lazily(async move {
        let reader = LineReader::new(source.stream().await?, &*source);
        Ok(lines_from(source, reader, Vec::new()))
    })
}

/// Rows from `reader`, after `pending` rows already parsed.
fn lines_from(source: Arc<dyn ByteSource>, reader: LineReader, pending: Vec<Row>) -> RowStream {
    let pending = futures::stream::iter(pending.into_iter().map(Ok));
    let rest = futures::stream::try_unfold((source, reader), |(source, mut reader)| async move {
        loop {
            let Some(line) = reader.next_line().await? else {
                return Ok(None);
            };
            if is_blank(&line) {
                continue;
            }
            let row = parse_object(&line).map_err(|reason| {
                unreadable(&*source, format!("line {}: {reason}", reader.line_no))
            })?;
            return Ok(Some((row, (source, reader))));
        }
    });
    pending.chain(rest).boxed()
}

fn parse_object(bytes: &[u8]) -> Result<Row, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(row)) => Ok(row),
        Ok(other) => Err(format!("expected a JSON object, got {}", kind(&other))),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A `.json` file: an array of objects, JSON Lines, or one object of equal-length columns.
pub(super) fn json<S: ByteSource + 'static>(source: S) -> RowStream {
    let source: Arc<dyn ByteSource> = Arc::new(source);
    lazily(async move {
        let mut reader = LineReader::new(source.stream().await?, &*source);
        // The first non-blank line decides.
        let first = loop {
            match reader.next_line().await? {
                None => return Ok(futures::stream::empty().boxed()),
                Some(line) if is_blank(&line) => continue,
                Some(line) => break line,
            }
        };
        let starts_array = first
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'[');
        if !starts_array {
            if let Ok(row) = parse_object(&first) {
                return Ok(lines_from(source, reader, vec![row]));
            }
        }
        drop(reader);
        let document = read_all(&*source).await?;
        let rows = document_rows(&document).map_err(|reason| unreadable(&*source, reason))?;
        Ok(futures::stream::iter(rows.into_iter().map(Ok)).boxed())
    })
}

async fn read_all(source: &dyn ByteSource) -> Result<Vec<u8>, HubError> {
    let mut stream = source.stream().await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.try_next().await? {
        out.extend_from_slice(&chunk);
        if out.len() > MAX_JSON_DOCUMENT {
            return Err(unreadable(
                source,
                "a JSON document over 1 GiB (use JSON Lines for large files)",
            ));
        }
    }
    Ok(out)
}

fn document_rows(bytes: &[u8]) -> Result<Vec<Row>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match serde_json::from_slice::<Value>(bytes).map_err(|e| format!("invalid JSON: {e}"))? {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(row) => Ok(row),
                other => Err(format!(
                    "item {i} of the array is {}, not an object",
                    kind(&other)
                )),
            })
            .collect(),
        Value::Object(columns) => columns_to_rows(columns),
        other => Err(format!(
            "expected an array of objects, got {}",
            kind(&other)
        )),
    }
}

fn columns_to_rows(columns: Map<String, Value>) -> Result<Vec<Row>, String> {
    let mut len = None;
    for (name, values) in &columns {
        let Value::Array(values) = values else {
            return Err(format!(
                "a JSON object whose `{name}` is not a list: expected an array of objects or an object of columns"
            ));
        };
        match len {
            None => len = Some(values.len()),
            Some(n) if n != values.len() => {
                return Err("the columns of the JSON object have different lengths".into())
            }
            Some(_) => {}
        }
    }
    let n = len.unwrap_or(0);
    let mut rows: Vec<Row> = (0..n).map(|_| Map::new()).collect();
    for (name, values) in columns {
        if let Value::Array(values) = values {
            for (row, value) in rows.iter_mut().zip(values) {
                row.insert(name.clone(), value);
            }
        }
    }
    Ok(rows)
}

/// A stream set up by an async step; a setup error is the stream's only item.
pub(super) fn lazily<F>(setup: F) -> RowStream
where
    F: std::future::Future<Output = Result<RowStream, HubError>> + Send + 'static,
{
    futures::stream::once(async move {
        match setup.await {
            Ok(stream) => stream,
            Err(e) => futures::stream::iter([Err(e)]).boxed(),
        }
    })
    .flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents() {
        assert_eq!(
            document_rows(br#"[{"a": 1}, {"a": 2}]"#).unwrap(),
            vec![
                json!({"a": 1}).as_object().unwrap().clone(),
                json!({"a": 2}).as_object().unwrap().clone()
            ]
        );
        let rows = document_rows(br#"{"a": [1, 2], "b": ["x", "y"]}"#).unwrap();
        assert_eq!(Value::Object(rows[1].clone()), json!({"a": 2, "b": "y"}));
        assert!(document_rows(br#"[1]"#)
            .unwrap_err()
            .contains("not an object"));
        assert!(document_rows(br#"{"a": [1], "b": []}"#).is_err());
        assert!(document_rows(b"{").unwrap_err().starts_with("invalid JSON"));
    }
}
