//! Query parameters: the compact tagged form JavaScript sends them in, and their encoding for
//! the parameter types the server asked for.
//!
//! The tagged form is a byte string, one entry per parameter:
//! `0` NULL | `1` u32 length + UTF-8 text | `2` f64 (big-endian) | `3` one byte bool.
//! Text goes to the server in text format whatever the parameter's type, so the server parses
//! it (`'42'` fits an int4 parameter, as in pg). Numbers and booleans are encoded in binary for
//! the types that have an exact binary form, and checked first, so a value that cannot fit is
//! reported with its position and type before anything reaches the server.

use bytes::{BufMut, BytesMut};
use postgres_types::Type;

use crate::error::{Error, Result};

const TAG_NULL: u8 = 0;
const TAG_TEXT: u8 = 1;
const TAG_NUMBER: u8 = 2;
const TAG_BOOL: u8 = 3;

pub const FORMAT_TEXT: i16 = 0;
pub const FORMAT_BINARY: i16 = 1;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'a> {
    Null,
    Text(&'a str),
    Number(f64),
    Bool(bool),
}

/// Reads the tagged form. A malformed buffer is a bug in the caller, reported as such.
pub fn decode(mut buf: &[u8]) -> Result<Vec<Param<'_>>> {
    let malformed = || Error::interface("malformed parameter buffer (this is a bug in pgtide's JavaScript layer)");
    let mut params = Vec::new();
    while let Some((&tag, rest)) = buf.split_first() {
        let (param, rest) = match tag {
            TAG_NULL => (Param::Null, rest),
            TAG_TEXT => {
                let len = u32::from_be_bytes(rest.get(..4).ok_or_else(malformed)?.try_into().unwrap()) as usize;
                let bytes = rest.get(4..4 + len).ok_or_else(malformed)?;
                let text = std::str::from_utf8(bytes).map_err(|_| malformed())?;
                (Param::Text(text), &rest[4 + len..])
            }
            TAG_NUMBER => {
                let bytes = rest.get(..8).ok_or_else(malformed)?;
                (Param::Number(f64::from_be_bytes(bytes.try_into().unwrap())), &rest[8..])
            }
            TAG_BOOL => (Param::Bool(*rest.first().ok_or_else(malformed)? != 0), &rest[1..]),
            _ => return Err(malformed()),
        };
        params.push(param);
        buf = rest;
    }
    Ok(params)
}

/// Builds the tagged form from Rust (tests and tools; JavaScript has its own encoder).
#[derive(Default)]
pub struct ParamBuffer(Vec<u8>);

impl ParamBuffer {
    pub fn null(mut self) -> Self {
        self.0.push(TAG_NULL);
        self
    }
    pub fn text(mut self, text: &str) -> Self {
        self.0.push(TAG_TEXT);
        self.0.extend_from_slice(&(text.len() as u32).to_be_bytes());
        self.0.extend_from_slice(text.as_bytes());
        self
    }
    pub fn number(mut self, n: f64) -> Self {
        self.0.push(TAG_NUMBER);
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }
    pub fn bool(mut self, b: bool) -> Self {
        self.0.push(TAG_BOOL);
        self.0.push(b as u8);
        self
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

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
            encode_one(*param, oid, &mut encoded.data).map_err(|problem| param_error(index + 1, oid, problem))?;
        encoded.formats.push(format);
        encoded
            .values
            .push((*param != Param::Null).then(|| start..encoded.data.len()));
    }
    Ok(encoded)
}

fn encode_one(param: Param<'_>, oid: u32, out: &mut BytesMut) -> Result<i16, String> {
    let number_as_text = |n: f64, out: &mut BytesMut| {
        out.put_slice(format_number(n).as_bytes());
        Ok(FORMAT_TEXT)
    };
    match param {
        Param::Null => Ok(FORMAT_TEXT),
        Param::Text(text) => {
            out.put_slice(text.as_bytes());
            Ok(FORMAT_TEXT)
        }
        Param::Number(n) => match oid {
            oid if oid == Type::INT2.oid() => {
                integer(n, i16::MIN as f64, i16::MAX as f64).map(|i| out.put_i16(i as i16))
            }
            oid if oid == Type::INT4.oid() => {
                integer(n, i32::MIN as f64, i32::MAX as f64).map(|i| out.put_i32(i as i32))
            }
            oid if oid == Type::INT8.oid() => {
                // Beyond 2^53 a JavaScript number has already lost digits: ask for a bigint.
                integer(n, -9007199254740991.0, 9007199254740991.0).map(|i| out.put_i64(i))
            }
            oid if oid == Type::OID.oid() => integer(n, 0.0, u32::MAX as f64).map(|i| out.put_u32(i as u32)),
            oid if oid == Type::FLOAT4.oid() => {
                out.put_f32(n as f32);
                Ok(())
            }
            oid if oid == Type::FLOAT8.oid() => {
                out.put_f64(n);
                Ok(())
            }
            oid if oid == Type::BOOL.oid() => Err(format!("{} is a number, not a boolean", format_number(n))),
            _ => return number_as_text(n, out),
        }
        .map(|()| FORMAT_BINARY),
        Param::Bool(b) => match oid {
            oid if oid == Type::BOOL.oid() => {
                out.put_u8(b as u8);
                Ok(FORMAT_BINARY)
            }
            oid if [
                Type::INT2,
                Type::INT4,
                Type::INT8,
                Type::FLOAT4,
                Type::FLOAT8,
                Type::NUMERIC,
                Type::OID,
            ]
            .iter()
            .any(|t| t.oid() == oid) =>
            {
                Err(format!("{b} is a boolean, not a number"))
            }
            _ => {
                out.put_slice(if b { b"true" } else { b"false" });
                Ok(FORMAT_TEXT)
            }
        },
    }
}

fn integer(n: f64, min: f64, max: f64) -> Result<i64, String> {
    if !n.is_finite() || n.fract() != 0.0 {
        return Err(format!("{} is not an integer", format_number(n)));
    }
    if n < min || n > max {
        return Err(format!("{} is out of range", format_number(n)));
    }
    Ok(n as i64)
}

/// A number as JavaScript's `String(n)` writes the common cases (integers without `.0`).
fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

pub fn type_name(oid: u32) -> String {
    Type::from_oid(oid).map_or_else(|| format!("type with oid {oid}"), |t| t.name().to_string())
}

fn param_error(position: usize, oid: u32, problem: String) -> Error {
    let pg_type = type_name(oid);
    Error::ParamType {
        position,
        message: format!("parameter ${position} ({pg_type}): {problem}"),
        pg_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_form_round_trips() {
        let buf = ParamBuffer::default().null().text("héllo").number(-1.5).bool(true);
        let params = decode(buf.bytes()).unwrap();
        assert_eq!(
            params,
            vec![
                Param::Null,
                Param::Text("héllo"),
                Param::Number(-1.5),
                Param::Bool(true)
            ]
        );
    }

    #[test]
    fn malformed_buffers_are_errors_not_panics() {
        for bad in [&[1u8, 0, 0, 0, 9, b'x'][..], &[2, 0, 0], &[3], &[9]] {
            assert!(matches!(decode(bad), Err(Error::Interface(_))), "{bad:?}");
        }
    }

    #[test]
    fn numbers_are_checked_against_their_type() {
        let int4 = Type::INT4.oid();
        let ok = encode(&[Param::Number(42.0)], &[int4]).unwrap();
        assert_eq!(&ok.data[..], &42i32.to_be_bytes());
        let err = encode(&[Param::Null, Param::Number(1.5)], &[int4, int4]).err().unwrap();
        assert_eq!(err.to_string(), "parameter $2 (int4): 1.5 is not an integer");
        let err = encode(&[Param::Number(70000.0)], &[Type::INT2.oid()]).err().unwrap();
        assert!(matches!(err, Error::ParamType { position: 1, ref pg_type, .. } if pg_type == "int2"));
    }

    #[test]
    fn text_goes_as_text_for_any_type() {
        let enc = encode(&[Param::Text("42")], &[Type::INT4.oid()]).unwrap();
        assert_eq!(enc.formats, vec![FORMAT_TEXT]);
        assert_eq!(&enc.data[..], b"42");
    }

    #[test]
    fn placeholder_count_must_match() {
        assert!(matches!(encode(&[], &[Type::INT4.oid()]), Err(Error::Programming(_))));
    }
}
