//! What a parameter's type is to the encoder, and the binary forms of the values that have one.

use bytes::{BufMut, BytesMut};
use postgres_types::{Kind, Type};

use super::dates;
use super::text::js_number;
use super::Param;

/// A parameter type, as far as encoding values for it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Int(IntType),
    Float4,
    Float8,
    Numeric,
    Bool,
    Bytea,
    /// json and jsonb: their text form is JSON text either way.
    Json,
    Date,
    Timestamp,
    Timestamptz,
    /// An array type; the OID of its element type.
    Array(u32),
    /// Another built-in type (text, uuid, interval, inet...): values go as text, the server parses.
    OtherBuiltin,
    /// A type pgtide does not know (domains, enums, extension types, their arrays): values go as
    /// they are and the server judges them.
    Unknown,
}

impl Target {
    pub(super) fn of(oid: u32) -> Target {
        let Some(ty) = Type::from_oid(oid) else {
            return Target::Unknown;
        };
        match ty {
            Type::INT2 => Target::Int(IntType::Int2),
            Type::INT4 => Target::Int(IntType::Int4),
            Type::INT8 => Target::Int(IntType::Int8),
            Type::OID => Target::Int(IntType::Oid),
            Type::FLOAT4 => Target::Float4,
            Type::FLOAT8 => Target::Float8,
            Type::NUMERIC => Target::Numeric,
            Type::BOOL => Target::Bool,
            Type::BYTEA => Target::Bytea,
            Type::JSON | Type::JSONB => Target::Json,
            Type::DATE => Target::Date,
            Type::TIMESTAMP => Target::Timestamp,
            Type::TIMESTAMPTZ => Target::Timestamptz,
            _ => match ty.kind() {
                Kind::Array(element) => Target::Array(element.oid()),
                _ => Target::OtherBuiltin,
            },
        }
    }

    /// What fits this type besides a string (strings fit every type: the server parses them).
    pub(super) fn expected(self) -> &'static str {
        match self {
            Target::Int(_) => "an integer",
            Target::Float4 | Target::Float8 => "a number",
            Target::Numeric => "a number or a bigint",
            Target::Bool => "a boolean",
            Target::Bytea => "a Buffer or a Uint8Array",
            Target::Date | Target::Timestamp | Target::Timestamptz => "a Date",
            Target::Array(_) => "an array",
            Target::OtherBuiltin => "a string, number, boolean, bigint or Date",
            Target::Json | Target::Unknown => "any value",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IntType {
    Int2,
    Int4,
    Int8,
    Oid,
}

/// A JavaScript number past this has already lost digits (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

impl IntType {
    fn range(self) -> (i64, i64) {
        match self {
            IntType::Int2 => (i16::MIN.into(), i16::MAX.into()),
            IntType::Int4 => (i32::MIN.into(), i32::MAX.into()),
            IntType::Int8 => (i64::MIN, i64::MAX),
            IntType::Oid => (0, u32::MAX.into()),
        }
    }

    /// The integer a number stands for, if it is one and fits.
    pub(super) fn integer_of(self, n: f64) -> Result<i64, String> {
        if !n.is_finite() || n.fract() != 0.0 {
            return Err(format!("expected an integer, got {}", js_number(n)));
        }
        if n.abs() > MAX_SAFE_INTEGER && self == IntType::Int8 {
            return Err(format!(
                "{} is beyond 2^53, where numbers lose digits: pass a bigint or a string",
                js_number(n)
            ));
        }
        // Beyond i64 the cast saturates, and the range check below reports it.
        self.in_range(n as i64)
            .map_err(|()| format!("{} is out of range", js_number(n)))
    }

    /// The integer a bigint's decimal digits stand for, if it fits.
    pub(super) fn integer_of_decimal(self, digits: &str) -> Result<i64, String> {
        let out_of_range = || format!("{digits} is out of range");
        let value: i64 = digits.parse().map_err(|_| out_of_range())?;
        self.in_range(value).map_err(|()| out_of_range())
    }

    fn in_range(self, value: i64) -> Result<i64, ()> {
        let (min, max) = self.range();
        if value < min || value > max {
            return Err(());
        }
        Ok(value)
    }

    fn put(self, value: i64, out: &mut BytesMut) {
        match self {
            IntType::Int2 => out.put_i16(value as i16),
            IntType::Int4 => out.put_i32(value as i32),
            IntType::Int8 => out.put_i64(value),
            IntType::Oid => out.put_u32(value as u32),
        }
    }
}

/// Writes the binary form of `param` for `target` when the pair has an exact one (and says so);
/// `false` leaves the value to its text form.
pub(super) fn encode_binary(param: &Param<'_>, target: Target, out: &mut BytesMut) -> Result<bool, String> {
    match (param, target) {
        (Param::Number(n), Target::Int(int)) => int.put(int.integer_of(*n)?, out),
        (Param::BigInt(digits), Target::Int(int)) => int.put(int.integer_of_decimal(digits)?, out),
        (Param::Number(n), Target::Float4) => {
            let narrow = *n as f32;
            if n.is_finite() && narrow.is_infinite() {
                return Err(format!("{} is out of range", js_number(*n)));
            }
            out.put_f32(narrow)
        }
        (Param::Number(n), Target::Float8) => out.put_f64(*n),
        (Param::Bool(b), Target::Bool) => out.put_u8(*b as u8),
        // A user-defined type may be a domain over bytea: its receive function judges the bytes.
        (Param::Bytes(bytes), Target::Bytea | Target::Unknown) => out.put_slice(bytes),
        (Param::Date(ms), Target::Timestamp | Target::Timestamptz) => out.put_i64(dates::pg_micros(*ms)?),
        (Param::Date(ms), Target::Date) => out.put_i32(dates::pg_days(*ms)?),
        _ => return Ok(false),
    }
    Ok(true)
}
