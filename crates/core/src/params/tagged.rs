//! The compact tagged form JavaScript sends query parameters in (`lib/params.ts` writes it).
//!
//! The tagged form is a byte string, one entry per parameter (integers big-endian):
//!
//! | tag | JavaScript value            | payload                                           |
//! |-----|-----------------------------|---------------------------------------------------|
//! | 0   | null, undefined             | none                                              |
//! | 1   | string                      | u32 length + UTF-8                                |
//! | 2   | number                      | f64                                               |
//! | 3   | boolean                     | u8, 0 or 1                                        |
//! | 4   | bigint                      | u32 length + decimal digits, `-` first if negative |
//! | 5   | Buffer, Uint8Array          | u32 length + the bytes                            |
//! | 6   | Date                        | f64 milliseconds since 1970 (NaN: invalid Date)   |
//! | 7   | other object                | u32 length + UTF-8 JSON text (`JSON.stringify`)   |
//! | 8   | array                       | u32 element count + that many entries, any tag    |
//! | 9   | a value JavaScript can't send | u32 length + UTF-8 reason, reported as a TypeError |

use crate::error::{Error, Result};

const TAG_NULL: u8 = 0;
const TAG_TEXT: u8 = 1;
const TAG_NUMBER: u8 = 2;
const TAG_BOOL: u8 = 3;
const TAG_BIGINT: u8 = 4;
const TAG_BYTES: u8 = 5;
const TAG_DATE: u8 = 6;
const TAG_JSON: u8 = 7;
pub(super) const TAG_ARRAY: u8 = 8;
const TAG_INVALID: u8 = 9;

/// Arrays nested deeper than this are refused when reading the tagged form (JavaScript refuses
/// them first); it keeps the recursion bounded whatever the buffer holds.
pub const MAX_NESTING: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub enum Param<'a> {
    Null,
    Text(&'a str),
    Number(f64),
    Bool(bool),
    /// Decimal digits, `-` first if negative (checked when read).
    BigInt(&'a str),
    Bytes(&'a [u8]),
    /// Milliseconds since 1970-01-01 UTC; NaN for an invalid Date.
    Date(f64),
    /// JSON text.
    Json(&'a str),
    Array(Vec<Param<'a>>),
    /// A value JavaScript could not encode, and why.
    Invalid(&'a str),
}

/// Reads the tagged form. A malformed buffer is a bug in the caller, reported as such.
pub fn decode(mut buf: &[u8]) -> Result<Vec<Param<'_>>> {
    let mut params = Vec::new();
    while !buf.is_empty() {
        params.push(read_entry(&mut buf, 0)?);
    }
    Ok(params)
}

fn malformed() -> Error {
    Error::interface("malformed parameter buffer (this is a bug in pgtide's JavaScript layer)")
}

fn read_entry<'a>(buf: &mut &'a [u8], depth: usize) -> Result<Param<'a>> {
    let tag = take(buf, 1)?[0];
    Ok(match tag {
        TAG_NULL => Param::Null,
        TAG_TEXT => Param::Text(take_str(buf)?),
        TAG_NUMBER => Param::Number(take_f64(buf)?),
        TAG_BOOL => Param::Bool(take(buf, 1)?[0] != 0),
        TAG_BIGINT => {
            let digits = take_str(buf)?;
            let unsigned = digits.strip_prefix('-').unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            Param::BigInt(digits)
        }
        TAG_BYTES => {
            let len = take_u32(buf)?;
            Param::Bytes(take(buf, len)?)
        }
        TAG_DATE => Param::Date(take_f64(buf)?),
        TAG_JSON => Param::Json(take_str(buf)?),
        TAG_ARRAY => {
            if depth >= MAX_NESTING {
                return Err(malformed());
            }
            let count = take_u32(buf)?;
            // Every entry takes at least one byte: a count beyond the buffer is malformed.
            if count > buf.len() {
                return Err(malformed());
            }
            let items = (0..count).map(|_| read_entry(buf, depth + 1)).collect::<Result<_>>()?;
            Param::Array(items)
        }
        TAG_INVALID => Param::Invalid(take_str(buf)?),
        _ => return Err(malformed()),
    })
}

fn take<'a>(buf: &mut &'a [u8], len: usize) -> Result<&'a [u8]> {
    if buf.len() < len {
        return Err(malformed());
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

fn take_u32(buf: &mut &[u8]) -> Result<usize> {
    let bytes = take(buf, 4)?;
    Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
}

fn take_f64(buf: &mut &[u8]) -> Result<f64> {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(take(buf, 8)?);
    Ok(f64::from_be_bytes(bytes))
}

fn take_str<'a>(buf: &mut &'a [u8]) -> Result<&'a str> {
    let len = take_u32(buf)?;
    std::str::from_utf8(take(buf, len)?).map_err(|_| malformed())
}

/// Builds the tagged form from Rust (tests and tools; JavaScript has its own encoder).
#[derive(Default)]
pub struct ParamBuffer(Vec<u8>);

impl ParamBuffer {
    pub fn null(mut self) -> Self {
        self.0.push(TAG_NULL);
        self
    }
    pub fn text(self, text: &str) -> Self {
        self.with_payload(TAG_TEXT, text.as_bytes())
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
    pub fn bigint(self, digits: &str) -> Self {
        self.with_payload(TAG_BIGINT, digits.as_bytes())
    }
    pub fn bytes(self, bytes: &[u8]) -> Self {
        self.with_payload(TAG_BYTES, bytes)
    }
    pub fn date(mut self, ms: f64) -> Self {
        self.0.push(TAG_DATE);
        self.0.extend_from_slice(&ms.to_be_bytes());
        self
    }
    pub fn json(self, json: &str) -> Self {
        self.with_payload(TAG_JSON, json.as_bytes())
    }
    /// An array of `count` elements: the next `count` entries.
    pub fn array(mut self, count: u32) -> Self {
        self.0.push(TAG_ARRAY);
        self.0.extend_from_slice(&count.to_be_bytes());
        self
    }
    pub fn invalid(self, reason: &str) -> Self {
        self.with_payload(TAG_INVALID, reason.as_bytes())
    }
    fn with_payload(mut self, tag: u8, payload: &[u8]) -> Self {
        self.0.push(tag);
        self.0.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        self.0.extend_from_slice(payload);
        self
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}
