//! Reading a data file's rows as JSON objects, lazily: [`open_rows`].
//!
//! - Parquet: the footer is read with one range request (a 64 KiB suffix, more only when
//!   the metadata is larger), then only the row groups needed for `max_rows`, column chunk
//!   by column chunk (adjacent ranges merged). Values become JSON as `datasets` gives them
//!   (see [`convert`]).
//! - JSON Lines: the body is streamed and split into lines; blank lines are skipped; reading
//!   stops (and the transfer with it) at `max_rows`.
//! - JSON: an array of objects (read whole), or JSON Lines in a `.json` file (streamed); a
//!   single object of equal-length arrays is read as columns.
//! - CSV / TSV: streamed with a header row; values are typed the way pandas (which `datasets`
//!   reads CSV with) types them, column by column over chunks of 10,000 rows: integers,
//!   floats (an integer column with a missing value becomes float), booleans, strings, and
//!   pandas' missing-value markers (empty, `NA`, `null`, `NaN`, …) as `null`. To type its
//!   first rows like pandas, a reader stopping at `max_rows` still reads that chunk (at most
//!   10,000 rows) before it stops.

pub mod convert;
mod csv;
mod lines;
mod parquet;

use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::{Map, Value};

use crate::error::HubError;
use crate::source::ByteSource;
use crate::DataFormat;

/// One row: column name → value, in the file's column order.
pub type Row = Map<String, Value>;

/// A lazy stream of rows; dropping it stops reading.
pub type RowStream = BoxStream<'static, Result<Row, HubError>>;

/// The rows of one file in `format` from `source`, at most `max_rows` of them. Nothing is
/// read until the stream is polled; the stream ends after the first error.
pub fn open_rows<S: ByteSource + 'static>(
    source: S,
    format: DataFormat,
    max_rows: Option<usize>,
) -> RowStream {
    if max_rows == Some(0) {
        return futures::stream::empty().boxed();
    }
    let rows = match format {
        DataFormat::Parquet => parquet::rows(source, max_rows),
        DataFormat::JsonLines => lines::json_lines(source),
        DataFormat::Json => lines::json(source),
        DataFormat::Csv => csv::rows(source, b','),
        DataFormat::Tsv => csv::rows(source, b'\t'),
    };
    let limited = match max_rows {
        Some(n) => rows.take(n).boxed(),
        None => rows,
    };
    stop_after_error(limited)
}

/// Ends a stream after its first error.
fn stop_after_error(stream: RowStream) -> RowStream {
    futures::stream::unfold((stream, false), |(mut stream, failed)| async move {
        if failed {
            return None;
        }
        let item = stream.next().await?;
        let failed = item.is_err();
        Some((item, (stream, failed)))
    })
    .boxed()
}
