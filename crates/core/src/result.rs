//! What a query returns: column metadata, and the rows exactly as the server sent them.

use std::sync::Arc;

use postgres_types::{Kind, Type};

use crate::params::{FORMAT_BINARY, FORMAT_TEXT};

/// One result column, as the RowDescription message describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub table_oid: u32,
    pub column_id: i16,
    pub type_oid: u32,
    pub type_size: i16,
    pub type_modifier: i32,
    /// 0 text, 1 binary: the format the values in `rows` are in.
    pub format: i16,
}

/// Where a large result's rows go while it still arrives: called with each `ROW_CHUNK` or so
/// of DataRow bodies (and how many rows they hold), so the caller can decode them while the
/// server sends the rest. The `QueryResult` then holds only the rows after the last chunk.
pub type RowSink = Arc<dyn Fn(Vec<u8>, usize, &Arc<[Field]>) + Send + Sync>;

/// The format a query asks its result columns in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultFormats {
    /// Binary for the types in `BINARY`, text for the rest: what pgtide's own decoders read best.
    #[default]
    Preferred,
    /// Text for every column, as node-postgres receives them (its type parsers read text).
    AllText,
}

/// The size of the row chunks a `RowSink` gets.
pub const ROW_CHUNK: usize = 128 * 1024;

#[derive(Debug, Clone)]
pub struct QueryResult {
    /// The command tag, e.g. `SELECT 3`, `INSERT 0 1`, `CREATE TABLE`.
    pub tag: String,
    pub fields: Arc<[Field]>,
    /// The DataRow bodies back to back: per value an i32 length (-1 for NULL), then its bytes.
    pub rows: Vec<u8>,
    pub row_count: usize,
}

impl QueryResult {
    /// The tag's verb (`SELECT`, `INSERT`, `CREATE`) and the row count it reports, as pg reads it.
    pub fn command_and_count(&self) -> (&str, Option<u64>) {
        let command = self.tag.split(' ').next().unwrap_or("");
        let count = self.tag.rsplit(' ').next().and_then(|n| n.parse().ok());
        (command, count)
    }
}

/// Types whose binary form JavaScript decodes exactly and at least as fast as their text
/// (`docs/performance.md` has the measurements); their arrays come back binary too, elements
/// and all. Every other type comes back as text: decoded from it (numeric, uuid...) or handed
/// over as it is (types without a decoder). `lib/types/` holds the decoders of both forms, and
/// reads this list (`binary_types`) rather than keeping one of its own.
const BINARY: [Type; 17] = [
    Type::BOOL,
    Type::BYTEA,
    Type::INT2,
    Type::INT4,
    Type::INT8,
    Type::OID,
    Type::FLOAT4,
    Type::FLOAT8,
    Type::TEXT,
    Type::VARCHAR,
    Type::BPCHAR,
    Type::NAME,
    Type::JSON,
    Type::JSONB,
    Type::DATE,
    Type::TIMESTAMP,
    Type::TIMESTAMPTZ,
];

/// The OIDs of the types asked for in binary (their arrays too): the list `lib/types/` builds
/// its binary decoders from, through the binding.
pub fn binary_types() -> impl Iterator<Item = u32> {
    BINARY.iter().map(Type::oid)
}

/// The same columns, each declared text: what a query asking `ResultFormats::AllText` gets.
pub fn all_text(fields: &[Field]) -> Arc<[Field]> {
    fields
        .iter()
        .map(|field| Field {
            format: FORMAT_TEXT,
            ..field.clone()
        })
        .collect()
}

/// The format each result column is asked for (see `BINARY`).
pub fn result_format(type_oid: u32) -> i16 {
    let Some(ty) = Type::from_oid(type_oid) else {
        return FORMAT_TEXT;
    };
    let element = match ty.kind() {
        Kind::Array(element) => element,
        _ => &ty,
    };
    if BINARY.contains(element) {
        FORMAT_BINARY
    } else {
        FORMAT_TEXT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(tag: &str) -> QueryResult {
        QueryResult {
            tag: tag.into(),
            fields: Arc::new([]),
            rows: vec![],
            row_count: 0,
        }
    }

    #[test]
    fn command_tags_read_like_pg() {
        assert_eq!(tagged("SELECT 3").command_and_count(), ("SELECT", Some(3)));
        assert_eq!(tagged("INSERT 0 12").command_and_count(), ("INSERT", Some(12)));
        assert_eq!(tagged("CREATE TABLE").command_and_count(), ("CREATE", None));
        assert_eq!(tagged("").command_and_count(), ("", None));
    }

    #[test]
    fn arrays_come_back_in_their_element_type_format() {
        assert_eq!(result_format(Type::INT4.oid()), FORMAT_BINARY);
        assert_eq!(result_format(Type::INT4_ARRAY.oid()), FORMAT_BINARY);
        assert_eq!(result_format(Type::TIMESTAMPTZ_ARRAY.oid()), FORMAT_BINARY);
        assert_eq!(result_format(Type::NUMERIC.oid()), FORMAT_TEXT);
        assert_eq!(result_format(Type::NUMERIC_ARRAY.oid()), FORMAT_TEXT);
        assert_eq!(result_format(Type::POINT_ARRAY.oid()), FORMAT_TEXT);
        // A type pgtide does not know (an enum, a domain, an extension's type) comes back as text.
        assert_eq!(result_format(90000), FORMAT_TEXT);
    }
}
