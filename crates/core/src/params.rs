//! Query parameters: their encoding for the parameter types the server reported, from the
//! tagged form JavaScript sends them in (`tagged.rs`).
//!
//! Strings go to the server in text format whatever the parameter's type, so the server parses
//! them (`'42'` fits an int4 parameter, as in pg). Other values are checked against the
//! parameter's type here, so a value that cannot fit is reported with its position and type
//! before anything reaches the server; then they are encoded in binary where the type has an
//! exact binary form (integers, floats, bool, bytea, date, timestamps) and in PostgreSQL's
//! text form otherwise (numeric, arrays, json...). See `docs/types.md` for the whole mapping.

mod dates;
mod tagged;
mod target;
#[cfg(test)]
mod tests;
mod text;

use bytes::{BufMut, BytesMut};
use postgres_types::{Kind, Type};

use crate::error::{Error, Result};
pub use tagged::{decode, Param, ParamBuffer, MAX_NESTING};
use target::Target;

pub const FORMAT_TEXT: i16 = 0;
pub const FORMAT_BINARY: i16 = 1;

/// Parameters encoded for one Bind message.
pub struct Encoded {
    pub formats: Vec<i16>,
    /// Where each value lies in `data`; `None` is NULL.
    pub values: Vec<Option<std::ops::Range<usize>>>,
    pub data: BytesMut,
}

/// Encodes `params` for the statement's parameter types, or names the first that cannot fit.
pub fn encode(params: &[Param<'_>], types: &[u32]) -> Result<Encoded> {
    if params.len() != types.len() {
        return Err(Error::Programming(format!(
            "the query has {} placeholders but {} parameters were passed",
            types.len(),
            params.len()
        )));
    }
    let mut encoded = Encoded {
        formats: Vec::with_capacity(params.len()),
        values: Vec::with_capacity(params.len()),
        data: BytesMut::new(),
    };
    for (index, (param, &oid)) in params.iter().zip(types).enumerate() {
        let start = encoded.data.len();
        let format =
            encode_one(param, oid, &mut encoded.data).map_err(|problem| param_error(index + 1, oid, problem))?;
        encoded.formats.push(format);
        encoded
            .values
            .push((*param != Param::Null).then(|| start..encoded.data.len()));
    }
    Ok(encoded)
}

fn encode_one(param: &Param<'_>, oid: u32, out: &mut BytesMut) -> Result<i16, String> {
    let target = Target::of(oid);
    match param {
        Param::Null => Ok(FORMAT_TEXT),
        // The common case, without a detour through a String.
        Param::Text(text) => {
            out.put_slice(text.as_bytes());
            Ok(FORMAT_TEXT)
        }
        _ if target::encode_binary(param, target, out)? => Ok(FORMAT_BINARY),
        _ => {
            let mut text = String::new();
            text::write_value(param, target, &mut text)?;
            out.put_slice(text.as_bytes());
            Ok(FORMAT_TEXT)
        }
    }
}

/// The type's name as users write it: `int4`, `text[]`, or its OID when pgtide does not know it.
pub fn type_name(oid: u32) -> String {
    match Type::from_oid(oid) {
        Some(ty) => match ty.kind() {
            Kind::Array(element) => format!("{}[]", element.name()),
            _ => ty.name().to_string(),
        },
        None => format!("type with oid {oid}"),
    }
}

fn param_error(position: usize, oid: u32, problem: String) -> Error {
    let pg_type = type_name(oid);
    Error::ParamType {
        position,
        message: format!("parameter ${position} ({pg_type}): {problem}"),
        pg_type,
    }
}
