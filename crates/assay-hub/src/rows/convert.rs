//! Arrow values as JSON, the way `datasets` hands Parquet rows to Python (and Assay then to
//! templates): integers and floats as numbers (a non-finite float as `null`), strings,
//! booleans, nulls, lists as arrays, structs as objects in field order, maps as arrays of
//! `[key, value]` pairs, dictionary-encoded values as their value. Binary values become
//! base64 strings (standard alphabet, padded), so the Hugging Face `Audio` / `Image` struct
//! `{bytes: binary, path: string}` becomes `{"bytes": "<base64>", "path": "…"}`, which the
//! transcription feature decodes. Dates, times, timestamps, durations and decimals become
//! Arrow's display strings (ISO 8601 for dates and timestamps).

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::Row;

/// The rows of a record batch, columns in schema order.
pub fn batch_rows(batch: &RecordBatch) -> Result<Vec<Row>, String> {
    let schema = batch.schema();
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(unpack_dictionary)
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let mut row = Map::with_capacity(columns.len());
        for (field, column) in schema.fields().iter().zip(&columns) {
            row.insert(field.name().clone(), value(column.as_ref(), i)?);
        }
        rows.push(row);
    }
    Ok(rows)
}

fn unpack_dictionary(array: &ArrayRef) -> Result<ArrayRef, String> {
    match array.data_type() {
        DataType::Dictionary(_, value_type) => {
            arrow_cast::cast(array, value_type).map_err(|e| e.to_string())
        }
        _ => Ok(array.clone()),
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn list(values: ArrayRef) -> Result<Value, String> {
    let values = unpack_dictionary(&values)?;
    (0..values.len())
        .map(|j| value(values.as_ref(), j))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// The JSON value of `array[i]`.
pub fn value(array: &dyn Array, i: usize) -> Result<Value, String> {
    if matches!(array.data_type(), DataType::Null) || array.is_null(i) {
        return Ok(Value::Null);
    }
    Ok(match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(i)),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(i).into(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(i).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).into(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(i).into(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(i).into(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(i).into(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(i).into(),
        DataType::Float16 => float(array.as_primitive::<Float16Type>().value(i).to_f64()),
        DataType::Float32 => float(array.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Value::String(array.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Value::String(array.as_string_view().value(i).to_string()),
        DataType::Binary => base64(array.as_binary::<i32>().value(i)),
        DataType::LargeBinary => base64(array.as_binary::<i64>().value(i)),
        DataType::BinaryView => base64(array.as_binary_view().value(i)),
        DataType::FixedSizeBinary(_) => base64(array.as_fixed_size_binary().value(i)),
        DataType::List(_) => list(array.as_list::<i32>().value(i))?,
        DataType::LargeList(_) => list(array.as_list::<i64>().value(i))?,
        DataType::FixedSizeList(_, _) => list(array.as_fixed_size_list().value(i))?,
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut out = Map::with_capacity(fields.len());
            for (field, column) in fields.iter().zip(s.columns()) {
                let column = unpack_dictionary(column)?;
                out.insert(field.name().clone(), value(column.as_ref(), i)?);
            }
            Value::Object(out)
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(i);
            let keys = unpack_dictionary(entries.column(0))?;
            let values = unpack_dictionary(entries.column(1))?;
            let mut pairs = Vec::with_capacity(entries.len());
            for j in 0..entries.len() {
                pairs.push(Value::Array(vec![
                    value(keys.as_ref(), j)?,
                    value(values.as_ref(), j)?,
                ]));
            }
            Value::Array(pairs)
        }
        DataType::Dictionary(_, value_type) => {
            let one =
                arrow_cast::cast(&array.slice(i, 1), value_type).map_err(|e| e.to_string())?;
            value(one.as_ref(), 0)?
        }
        _ => {
            let options = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(array, &options).map_err(|e| e.to_string())?;
            Value::String(formatter.value(i).to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{BinaryBuilder, ListBuilder, StringBuilder};
    use arrow_array::{
        BinaryArray, DictionaryArray, Float32Array, Float64Array, Int64Array, StringArray,
        StructArray,
    };
    use arrow_schema::{Field, Schema};
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn values_become_json_like_datasets_gives_them() {
        let mut tags = ListBuilder::new(StringBuilder::new());
        tags.values().append_value("a");
        tags.values().append_value("b");
        tags.append(true);
        tags.append(false);
        let tags = tags.finish();
        let mut bytes = BinaryBuilder::new();
        bytes.append_value(b"RIFF");
        bytes.append_null();
        let audio = StructArray::from(vec![
            (
                Arc::new(Field::new("bytes", DataType::Binary, true)),
                Arc::new(BinaryArray::from(vec![Some(b"\x00\x01".as_ref()), None])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("path", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("a.wav"), None])) as ArrayRef,
            ),
        ]);
        let dict: DictionaryArray<Int32Type> = vec!["x", "y"].into_iter().collect();
        let batch = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            (
                "f",
                Arc::new(Float64Array::from(vec![0.5, f64::NAN])) as ArrayRef,
            ),
            (
                "h",
                Arc::new(Float32Array::from(vec![0.1f32, 2.0])) as ArrayRef,
            ),
            ("tags", Arc::new(tags) as ArrayRef),
            ("raw", Arc::new(bytes.finish()) as ArrayRef),
            ("audio", Arc::new(audio) as ArrayRef),
            ("label", Arc::new(dict) as ArrayRef),
        ])
        .unwrap();
        let rows = batch_rows(&batch).unwrap();
        assert_eq!(
            Value::Object(rows[0].clone()),
            json!({"id": 1, "f": 0.5, "h": 0.10000000149011612, "tags": ["a", "b"], "raw": "UklGRg==",
                   "audio": {"bytes": "AAE=", "path": "a.wav"}, "label": "x"})
        );
        assert_eq!(
            Value::Object(rows[1].clone()),
            json!({"id": 2, "f": null, "h": 2.0, "tags": null, "raw": null,
                   "audio": {"bytes": null, "path": null}, "label": "y"})
        );
        let keys: Vec<&String> = rows[0].keys().collect();
        assert_eq!(keys, ["id", "f", "h", "tags", "raw", "audio", "label"]);
        let _ = Schema::empty();
    }
}
