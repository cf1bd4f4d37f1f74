//! Query parameters: the compact tagged form JavaScript sends them in, and their encoding for
//! the parameter types the server reported.
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
//!
//! Strings go to the server in text format whatever the parameter's type, so the server parses
//! them (`'42'` fits an int4 parameter, as in pg). Other values are checked against the
//! parameter's type here, so a value that cannot fit is reported with its position and type
//! before anything reaches the server; then they are encoded in binary where the type has an
//! exact binary form (integers, floats, bool, bytea, date, timestamps) and in PostgreSQL's
//! text form otherwise (numeric, arrays, json...). See `docs/types.md` for the whole mapping.

mod dates;
mod target;
mod text;

use bytes::{BufMut, BytesMut};
use postgres_types::{Kind, Type};

use crate::error::{Error, Result};
use target::Target;

const TAG_NULL: u8 = 0;
const TAG_TEXT: u8 = 1;
const TAG_NUMBER: u8 = 2;
const TAG_BOOL: u8 = 3;
const TAG_BIGINT: u8 = 4;
const TAG_BYTES: u8 = 5;
const TAG_DATE: u8 = 6;
const TAG_JSON: u8 = 7;
const TAG_ARRAY: u8 = 8;
const TAG_INVALID: u8 = 9;

/// Arrays nested deeper than this are refused when reading the tagged form (JavaScript refuses
/// them first); it keeps the recursion bounded whatever the buffer holds.
pub const MAX_NESTING: usize = 100;

pub const FORMAT_TEXT: i16 = 0;
pub const FORMAT_BINARY: i16 = 1;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_as(buf: ParamBuffer, ty: Type) -> Result<(i16, Vec<u8>)> {
        let params = decode(buf.as_bytes())?;
        let enc = encode(&params, &[ty.oid()])?;
        Ok((enc.formats[0], enc.data.to_vec()))
    }

    fn text_of(buf: ParamBuffer, ty: Type) -> String {
        let (format, data) = encode_as(buf, ty.clone()).unwrap_or_else(|e| panic!("{ty}: {e}"));
        assert_eq!(format, FORMAT_TEXT, "{ty}");
        String::from_utf8(data).unwrap()
    }

    fn problem(buf: ParamBuffer, ty: Type) -> String {
        match encode_as(buf, ty) {
            Err(e @ Error::ParamType { .. }) => e.to_string(),
            other => panic!("expected a ParamType error, got {:?}", other.map(|(_, d)| d)),
        }
    }

    #[test]
    fn tagged_form_round_trips() {
        let buf = ParamBuffer::default()
            .null()
            .text("héllo")
            .number(-1.5)
            .bool(true)
            .bigint("-12")
            .bytes(&[0, 255])
            .date(0.0)
            .json("{}")
            .array(2)
            .number(1.0)
            .array(0)
            .invalid("why");
        let params = decode(buf.as_bytes()).unwrap();
        assert_eq!(
            params,
            vec![
                Param::Null,
                Param::Text("héllo"),
                Param::Number(-1.5),
                Param::Bool(true),
                Param::BigInt("-12"),
                Param::Bytes(&[0, 255]),
                Param::Date(0.0),
                Param::Json("{}"),
                Param::Array(vec![Param::Number(1.0), Param::Array(vec![])]),
                Param::Invalid("why"),
            ]
        );
    }

    #[test]
    fn malformed_buffers_are_errors_not_panics() {
        let too_deep = [[TAG_ARRAY, 0, 0, 0, 1]; MAX_NESTING + 1].concat();
        let bad: [&[u8]; 10] = [
            &[1, 0, 0, 0, 9, b'x'],
            &[2, 0, 0],
            &[3],
            &[99],
            &[4, 0, 0, 0, 2, b'1', b'x'],
            &[4, 0, 0, 0, 0],
            &[5, 255, 255, 255, 255],
            &[8, 0, 0, 0, 2, 0],
            &[8, 255, 255, 255, 255],
            &too_deep,
        ];
        for bad in bad {
            assert!(matches!(decode(bad), Err(Error::Interface(_))), "{bad:?}");
        }
    }

    #[test]
    fn integers_are_checked_and_sent_in_binary() {
        let int4 = Type::INT4.oid();
        let ok = encode(&[Param::Number(42.0)], &[int4]).unwrap();
        assert_eq!((ok.formats[0], &ok.data[..]), (FORMAT_BINARY, &42i32.to_be_bytes()[..]));
        let err = encode(&[Param::Null, Param::Number(1.5)], &[int4, int4]).err().unwrap();
        assert_eq!(err.to_string(), "parameter $2 (int4): expected an integer, got 1.5");
        let err = encode(&[Param::Number(70000.0)], &[Type::INT2.oid()]).err().unwrap();
        assert!(matches!(err, Error::ParamType { position: 1, ref pg_type, .. } if pg_type == "int2"));
        assert_eq!(
            problem(ParamBuffer::default().number(f64::NAN), Type::INT8),
            "parameter $1 (int8): expected an integer, got NaN"
        );
        assert_eq!(
            problem(ParamBuffer::default().number(2f64.powi(53)), Type::INT8),
            "parameter $1 (int8): 9007199254740992 is beyond 2^53, where numbers lose digits: pass a bigint or a string"
        );
        assert_eq!(
            problem(ParamBuffer::default().number(-1.0), Type::OID),
            "parameter $1 (oid): -1 is out of range"
        );
    }

    #[test]
    fn bigints_are_range_checked_for_integer_types() {
        let max = ParamBuffer::default().bigint("9223372036854775807");
        assert_eq!(encode_as(max, Type::INT8).unwrap().1, i64::MAX.to_be_bytes());
        assert_eq!(
            problem(ParamBuffer::default().bigint("9223372036854775808"), Type::INT8),
            "parameter $1 (int8): 9223372036854775808 is out of range"
        );
        assert_eq!(
            problem(ParamBuffer::default().bigint("-32769"), Type::INT2),
            "parameter $1 (int2): -32769 is out of range"
        );
        let huge = "-123456789012345678901234567890";
        assert_eq!(text_of(ParamBuffer::default().bigint(huge), Type::NUMERIC), huge);
        assert_eq!(text_of(ParamBuffer::default().bigint("7"), Type::TEXT), "7");
        assert!(problem(ParamBuffer::default().bigint("1"), Type::BOOL).contains("got a bigint"));
    }

    #[test]
    fn floats_are_binary_and_float4_range_is_checked() {
        let (format, data) = encode_as(ParamBuffer::default().number(f64::NAN), Type::FLOAT8).unwrap();
        assert_eq!(format, FORMAT_BINARY);
        assert!(f64::from_be_bytes(data.try_into().unwrap()).is_nan());
        let (_, data) = encode_as(ParamBuffer::default().number(f64::NEG_INFINITY), Type::FLOAT4).unwrap();
        assert_eq!(f32::from_be_bytes(data.try_into().unwrap()), f32::NEG_INFINITY);
        assert_eq!(
            problem(ParamBuffer::default().number(1e300), Type::FLOAT4),
            "parameter $1 (float4): 1e+300 is out of range"
        );
    }

    #[test]
    fn numbers_for_numeric_are_written_as_javascript_prints_them() {
        for (n, js) in [
            (0.1, "0.1"),
            (-0.0, "0"),
            (1e21, "1e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (-2.5e-300, "-2.5e-300"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
        ] {
            assert_eq!(text_of(ParamBuffer::default().number(n), Type::NUMERIC), js, "{n}");
        }
    }

    #[test]
    fn booleans_fit_bool_and_text_not_numbers() {
        assert_eq!(
            encode_as(ParamBuffer::default().bool(true), Type::BOOL).unwrap(),
            (FORMAT_BINARY, vec![1])
        );
        assert_eq!(text_of(ParamBuffer::default().bool(false), Type::TEXT), "false");
        assert_eq!(
            problem(ParamBuffer::default().bool(true), Type::INT4),
            "parameter $1 (int4): expected an integer, got a boolean"
        );
        assert_eq!(
            problem(ParamBuffer::default().number(1.0), Type::BOOL),
            "parameter $1 (bool): expected a boolean, got a number"
        );
    }

    #[test]
    fn text_goes_as_text_for_any_type() {
        let enc = encode(&[Param::Text("42")], &[Type::INT4.oid()]).unwrap();
        assert_eq!(enc.formats, vec![FORMAT_TEXT]);
        assert_eq!(&enc.data[..], b"42");
    }

    #[test]
    fn bytes_fit_bytea_only() {
        let (format, data) = encode_as(ParamBuffer::default().bytes(&[0, 1, 255]), Type::BYTEA).unwrap();
        assert_eq!((format, data), (FORMAT_BINARY, vec![0, 1, 255]));
        assert_eq!(
            problem(ParamBuffer::default().bytes(b"x"), Type::TEXT),
            "parameter $1 (text): expected a string, number, boolean, bigint or Date, got a Buffer"
        );
        assert_eq!(
            problem(ParamBuffer::default().json(r#""abc""#), Type::BYTEA),
            "parameter $1 (bytea): expected a Buffer or a Uint8Array, got an object"
        );
        // A user-defined type (a domain over bytea, say) gets the bytes; the server judges.
        let buf = ParamBuffer::default().bytes(b"x");
        let params = decode(buf.as_bytes()).unwrap();
        assert_eq!(encode(&params, &[90000]).unwrap().formats, vec![FORMAT_BINARY]);
    }

    #[test]
    fn dates_are_binary_for_dates_and_timestamps() {
        // 2000-01-01T00:00:00.001Z is 1 ms after PostgreSQL's epoch.
        let ms = 946_684_800_001.0;
        let (format, data) = encode_as(ParamBuffer::default().date(ms), Type::TIMESTAMPTZ).unwrap();
        assert_eq!((format, data), (FORMAT_BINARY, 1000i64.to_be_bytes().to_vec()));
        let (_, data) = encode_as(ParamBuffer::default().date(ms), Type::TIMESTAMP).unwrap();
        assert_eq!(data, 1000i64.to_be_bytes());
        // The UTC calendar date: 1999-12-31T23:59:59.999Z is the day before the epoch.
        let (_, data) = encode_as(ParamBuffer::default().date(946_684_799_999.0), Type::DATE).unwrap();
        assert_eq!(data, (-1i32).to_be_bytes());
        assert_eq!(
            problem(ParamBuffer::default().date(f64::NAN), Type::TIMESTAMPTZ),
            "parameter $1 (timestamptz): invalid Date"
        );
        assert_eq!(
            problem(ParamBuffer::default().date(-8.64e15), Type::DATE),
            "parameter $1 (date): -271821-04-20T00:00:00.000Z is out of range (PostgreSQL's dates begin in 4714 BC)"
        );
        assert_eq!(
            text_of(ParamBuffer::default().date(ms), Type::TEXT),
            "2000-01-01 00:00:00.001+00"
        );
        assert!(problem(ParamBuffer::default().date(0.0), Type::INT8).contains("got a Date"));
    }

    #[test]
    fn objects_fit_json() {
        assert_eq!(
            text_of(ParamBuffer::default().json(r#"{"a":1}"#), Type::JSONB),
            r#"{"a":1}"#
        );
        assert_eq!(
            problem(ParamBuffer::default().json("{}"), Type::TEXT),
            "parameter $1 (text): expected a string, number, boolean, bigint or Date, got an object \
             (objects fit json and jsonb; pass JSON.stringify(value) for text)"
        );
    }

    #[test]
    fn values_for_json_are_written_as_json_stringify_does() {
        let buf = ParamBuffer::default()
            .array(8)
            .null()
            .text("a\"b\\c\n\u{1}é")
            .number(1.5)
            .number(f64::NAN)
            .bool(false)
            .date(0.0)
            .json(r#"{"k":[1]}"#)
            .bytes(&[1, 2]);
        assert_eq!(
            text_of(buf, Type::JSON),
            r#"[null,"a\"b\\c\n\u0001é",1.5,null,false,"1970-01-01T00:00:00.000Z",{"k":[1]},{"type":"Buffer","data":[1,2]}]"#
        );
        assert_eq!(text_of(ParamBuffer::default().number(f64::NAN), Type::JSONB), "null");
        assert_eq!(
            text_of(ParamBuffer::default().date(0.0), Type::JSON),
            r#""1970-01-01T00:00:00.000Z""#
        );
        assert_eq!(text_of(ParamBuffer::default().array(0), Type::JSONB), "[]");
        let bigint = ParamBuffer::default().array(1).bigint("1");
        assert!(problem(bigint, Type::JSONB).contains("a bigint has no JSON form"));
    }

    #[test]
    fn arrays_become_literals_with_every_element_quoted() {
        let buf = ParamBuffer::default()
            .array(8)
            .text("a\"b")
            .text("back\\slash")
            .text("x,{y}")
            .text("")
            .text("NULL")
            .null()
            .text(" padded ")
            .text("é");
        assert_eq!(
            text_of(buf, Type::TEXT_ARRAY),
            r#"{"a\"b","back\\slash","x,{y}","","NULL",NULL," padded ","é"}"#
        );
        let nested = ParamBuffer::default()
            .array(2)
            .array(2)
            .number(1.0)
            .null()
            .array(2)
            .bigint("3")
            .text("4");
        assert_eq!(text_of(nested, Type::INT8_ARRAY), r#"{{"1",NULL},{"3","4"}}"#);
        assert_eq!(text_of(ParamBuffer::default().array(0), Type::INT4_ARRAY), "{}");
        let empty_rows = ParamBuffer::default().array(2).array(0).array(0);
        assert_eq!(text_of(empty_rows, Type::INT4_ARRAY), "{}");
    }

    #[test]
    fn array_elements_are_encoded_for_the_element_type() {
        let buf = ParamBuffer::default().array(2).bytes(&[0xde, 0xad]).text("\\x00");
        assert_eq!(text_of(buf, Type::BYTEA_ARRAY), r#"{"\\xdead","\\x00"}"#);
        let dates = ParamBuffer::default().array(2).date(0.0).date(-62_135_596_800_001.0);
        assert_eq!(text_of(dates, Type::DATE_ARRAY), r#"{"1970-01-01","0001-12-31 BC"}"#);
        let stamps = ParamBuffer::default().array(1).date(-62_135_596_800_001.0);
        assert_eq!(
            text_of(stamps, Type::TIMESTAMPTZ_ARRAY),
            r#"{"0001-12-31 23:59:59.999+00 BC"}"#
        );
        let stamps = ParamBuffer::default().array(1).date(253_402_300_800_000.0);
        assert_eq!(
            text_of(stamps, Type::TIMESTAMP_ARRAY),
            r#"{"10000-01-01 00:00:00.000"}"#
        );
        let jsons = ParamBuffer::default().array(2).json(r#"{"a":"\""}"#).number(2.0);
        assert_eq!(text_of(jsons, Type::JSONB_ARRAY), r#"{"{\"a\":\"\\\"\"}","2"}"#);
        let bools = ParamBuffer::default().array(2).bool(true).bool(false);
        assert_eq!(text_of(bools, Type::BOOL_ARRAY), r#"{"true","false"}"#);
    }

    #[test]
    fn array_errors_name_the_element() {
        let buf = ParamBuffer::default()
            .array(2)
            .array(1)
            .number(1.0)
            .array(1)
            .number(2.5);
        assert_eq!(
            problem(buf, Type::INT4_ARRAY),
            "parameter $1 (int4[]): element [1][0]: expected an integer, got 2.5"
        );
        let ragged = ParamBuffer::default().array(2).array(2).null().null().array(1).null();
        assert!(problem(ragged, Type::INT4_ARRAY).contains("rectangular"));
        let mixed = ParamBuffer::default().array(2).array(1).null().null();
        assert!(problem(mixed, Type::INT4_ARRAY).contains("rectangular"));
        let mut deep = ParamBuffer::default();
        for _ in 0..7 {
            deep = deep.array(1);
        }
        assert!(problem(deep.null(), Type::INT4_ARRAY).contains("at most 6 dimensions"));
        assert_eq!(
            problem(ParamBuffer::default().array(0), Type::INT4),
            "parameter $1 (int4): expected an integer, got an array"
        );
        assert_eq!(
            problem(ParamBuffer::default().invalid("cannot send a symbol"), Type::TEXT),
            "parameter $1 (text): cannot send a symbol"
        );
    }

    #[test]
    fn user_defined_types_get_text_forms_and_the_server_judges() {
        let buf = ParamBuffer::default().array(2).text("happy").null();
        let params = decode(buf.as_bytes()).unwrap();
        let enc = encode(&params, &[90000]).unwrap();
        assert_eq!(&enc.data[..], br#"{"happy",NULL}"#);
        assert_eq!(type_name(90000), "type with oid 90000");
    }

    #[test]
    fn placeholder_count_must_match() {
        assert!(matches!(encode(&[], &[Type::INT4.oid()]), Err(Error::Programming(_))));
    }
}
