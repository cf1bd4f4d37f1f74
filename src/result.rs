//! A query result as it crosses to JavaScript: one object, the rows in one Buffer.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use pgtide_core::QueryResult;

#[napi(object)]
pub struct NativeField {
    pub name: String,
    pub table_id: u32,
    pub column_id: i32,
    pub data_type_id: u32,
    pub data_type_size: i32,
    pub data_type_modifier: i32,
    /// 0 text, 1 binary: how the values of this column are encoded in `rows`.
    pub format: i32,
}

#[napi(object)]
pub struct NativeResult {
    pub command: String,
    /// The row count the command tag reports (null for commands that report none).
    pub row_count: Option<f64>,
    pub fields: Vec<NativeField>,
    /// DataRow bodies back to back: per value an int32 length (-1 for NULL), then the bytes.
    pub rows: Buffer,
    /// How many rows `rows` holds.
    pub rows_length: u32,
}

impl From<QueryResult> for NativeResult {
    fn from(result: QueryResult) -> Self {
        let (command, count) = result.command_and_count();
        NativeResult {
            command: command.to_string(),
            row_count: count.map(|n| n as f64),
            fields: result
                .fields
                .iter()
                .map(|f| NativeField {
                    name: f.name.clone(),
                    table_id: f.table_oid,
                    column_id: f.column_id as i32,
                    data_type_id: f.type_oid,
                    data_type_size: f.type_size as i32,
                    data_type_modifier: f.type_modifier,
                    format: f.format as i32,
                })
                .collect(),
            rows_length: result.row_count as u32,
            rows: result.rows.into(),
        }
    }
}
