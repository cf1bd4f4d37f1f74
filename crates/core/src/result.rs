//! What a query returns: column metadata, and the rows exactly as the server sent them.

use std::sync::Arc;

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

/// The format each result column is asked for: binary where JavaScript decodes the binary form
/// exactly and faster than text, text otherwise (a type without a decoder arrives as its text).
pub fn result_format(type_oid: u32) -> i16 {
    use postgres_types::Type;
    const BINARY: [Type; 7] = [
        Type::BOOL,
        Type::INT2,
        Type::INT4,
        Type::INT8,
        Type::OID,
        Type::FLOAT4,
        Type::FLOAT8,
    ];
    if BINARY.iter().any(|t| t.oid() == type_oid) {
        crate::params::FORMAT_BINARY
    } else {
        crate::params::FORMAT_TEXT
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
}
