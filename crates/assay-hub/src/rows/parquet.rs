//! Parquet files over a [`ByteSource`]: the footer first, then only the row groups needed.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::convert::batch_rows;
use super::lines::lazily;
use super::RowStream;
use crate::error::HubError;
use crate::source::ByteSource;

/// Bytes read from the end of the file to find the footer in one request.
const FOOTER_PREFETCH: usize = 64 * 1024;
/// Ranges closer than this are fetched with one request.
const COALESCE_GAP: u64 = 1024 * 1024;
/// Rows per decoded batch.
const BATCH_ROWS: usize = 1024;

struct Reader {
    source: Arc<dyn ByteSource>,
    len: u64,
}

fn external(e: HubError) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for Reader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        let source = self.source.clone();
        async move {
            source
                .read_range(range.start, range.end)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        let source = self.source.clone();
        async move {
            // Merge ranges that are close together, fetch each merged range once, and cut
            // the requested ranges out of them.
            let mut order: Vec<usize> = (0..ranges.len()).collect();
            order.sort_by_key(|&i| ranges[i].start);
            let mut merged: Vec<Range<u64>> = Vec::new();
            for &i in &order {
                let r = &ranges[i];
                match merged.last_mut() {
                    Some(last) if r.start <= last.end.saturating_add(COALESCE_GAP) => {
                        last.end = last.end.max(r.end);
                    }
                    _ => merged.push(r.clone()),
                }
            }
            let mut fetched: Vec<(Range<u64>, Bytes)> = Vec::with_capacity(merged.len());
            for m in merged {
                let bytes = source.read_range(m.start, m.end).await.map_err(external)?;
                fetched.push((m, bytes));
            }
            ranges
                .iter()
                .map(|r| {
                    let (m, bytes) = fetched
                        .iter()
                        .find(|(m, _)| m.start <= r.start && r.end <= m.end)
                        .ok_or_else(|| ParquetError::General("range not fetched".into()))?;
                    let from = (r.start - m.start) as usize;
                    let to = (r.end - m.start) as usize;
                    Ok(bytes.slice(from..to))
                })
                .collect()
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let len = self.len;
            let reader = ParquetMetaDataReader::new()
                .with_prefetch_hint(Some(FOOTER_PREFETCH))
                .with_arrow_reader_options(options);
            let metadata = reader.load_and_finish(self, len).await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// What a Parquet error means for the caller: the source's own error when it failed to
/// deliver bytes, else the file does not parse.
fn parquet_error(source: &dyn ByteSource, e: ParquetError) -> HubError {
    if let ParquetError::External(inner) = &e {
        if let Some(hub) = inner.downcast_ref::<HubError>() {
            return hub.clone();
        }
    }
    let (repo, path) = source.describe();
    HubError::unreadable(repo, path, format!("not a readable Parquet file: {e}"))
}

/// The smallest prefix of row groups holding `max_rows` rows (all of them without a limit).
fn row_groups_for(row_counts: &[i64], max_rows: Option<usize>) -> Vec<usize> {
    let Some(max) = max_rows else {
        return (0..row_counts.len()).collect();
    };
    let mut total: u64 = 0;
    let mut out = Vec::new();
    for (i, &n) in row_counts.iter().enumerate() {
        if total >= max as u64 {
            break;
        }
        out.push(i);
        total += n.max(0) as u64;
    }
    out
}

pub(super) fn rows<S: ByteSource + 'static>(source: S, max_rows: Option<usize>) -> RowStream {
    let source: Arc<dyn ByteSource> = Arc::new(source);
    lazily(async move {
        let len = source.len().await?;
        let reader = Reader {
            source: source.clone(),
            len,
        };
        let builder = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(|e| parquet_error(&*source, e))?;
        let counts: Vec<i64> = builder
            .metadata()
            .row_groups()
            .iter()
            .map(|rg| rg.num_rows())
            .collect();
        let mut builder = builder
            .with_batch_size(BATCH_ROWS)
            .with_row_groups(row_groups_for(&counts, max_rows));
        if let Some(max) = max_rows {
            builder = builder.with_limit(max);
        }
        let batches = builder.build().map_err(|e| parquet_error(&*source, e))?;
        let rows = batches.flat_map(move |batch| {
            let items: Vec<Result<super::Row, HubError>> = match batch {
                Ok(batch) => match batch_rows(&batch) {
                    Ok(rows) => rows.into_iter().map(Ok).collect(),
                    Err(reason) => {
                        let (repo, path) = source.describe();
                        vec![Err(HubError::unreadable(repo, path, reason))]
                    }
                },
                Err(e) => vec![Err(parquet_error(&*source, e))],
            };
            futures::stream::iter(items)
        });
        Ok(rows.boxed())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_row_groups_needed() {
        assert_eq!(row_groups_for(&[10, 10, 10], Some(5)), [0]);
        assert_eq!(row_groups_for(&[10, 10, 10], Some(10)), [0]);
        assert_eq!(row_groups_for(&[10, 10, 10], Some(11)), [0, 1]);
        assert_eq!(row_groups_for(&[10, 10, 10], None), [0, 1, 2]);
        assert_eq!(row_groups_for(&[10, 10, 10], Some(100)), [0, 1, 2]);
        assert_eq!(row_groups_for(&[0, 3], Some(2)), [0, 1]);
    }
}
