//! Text forms of parameter values, for the pairs of value and type without a binary form:
//! numbers for numeric, arrays (as array literals), anything for json, Dates for text types.

use std::fmt::{self, Write};

use super::dates;
use super::target::Target;
use super::Param;

/// PostgreSQL's limit on array dimensions (MAXDIM).
const MAX_DIMENSIONS: usize = 6;

/// Writes the text form of `param` for `target`, or says why it does not fit. NULL is not a
/// value here: its callers write it their own way (an absent value, `NULL` in an array literal,
/// `null` in JSON).
pub(super) fn write_value(param: &Param<'_>, target: Target, out: &mut String) -> Result<(), String> {
    use Target::*;
    match (param, target) {
        (Param::Null, _) => {}
        // Strings fit every type: the server parses them.
        (Param::Text(text), _) => out.push_str(text),
        (Param::Invalid(reason), _) => return Err((*reason).to_string()),
        (_, Json) => write_json(param, out)?,
        (Param::Array(items), Array(element)) => write_array(items, Target::of(element), out)?,
        (Param::Array(items), Unknown) => write_array(items, Unknown, out)?,
        (Param::Number(n), Int(int)) => {
            let _ = write!(out, "{}", int.integer_of(*n)?);
        }
        (Param::BigInt(digits), Int(int)) => {
            int.integer_of_decimal(digits)?;
            out.push_str(digits);
        }
        (Param::Number(n), Float4 | Float8 | Numeric | OtherBuiltin | Unknown) => out.push_str(&js_number(*n)),
        (Param::BigInt(digits), Float4 | Float8 | Numeric | OtherBuiltin | Unknown) => out.push_str(digits),
        (Param::Bool(b), Bool | OtherBuiltin | Unknown) => out.push_str(if *b { "true" } else { "false" }),
        (Param::Bytes(bytes), Bytea | Unknown) => {
            out.push_str("\\x");
            for byte in *bytes {
                let _ = write!(out, "{byte:02x}");
            }
        }
        (Param::Date(ms), Date) => dates::pg_date_text(*ms, out)?,
        (Param::Date(ms), Timestamp) => dates::pg_timestamp_text(*ms, false, out)?,
        (Param::Date(ms), Timestamptz | OtherBuiltin | Unknown) => dates::pg_timestamp_text(*ms, true, out)?,
        (Param::Json(json), Unknown) => out.push_str(json),
        _ => return Err(mismatch(param, target)),
    }
    Ok(())
}

fn mismatch(param: &Param<'_>, target: Target) -> String {
    let got = match param {
        Param::Number(_) => "a number",
        Param::Bool(_) => "a boolean",
        Param::BigInt(_) => "a bigint",
        Param::Bytes(_) => "a Buffer",
        Param::Date(_) => "a Date",
        Param::Json(_) => "an object",
        Param::Array(_) => "an array",
        Param::Null | Param::Text(_) | Param::Invalid(_) => "a value",
    };
    let hint = match (param, target) {
        (Param::Json(_), Target::OtherBuiltin) => " (objects fit json and jsonb; pass JSON.stringify(value) for text)",
        _ => "",
    };
    format!("expected {}, got {got}{hint}", target.expected())
}

/// A JavaScript number as `String(n)` writes it (what `JSON.stringify` writes for finite ones).
pub(super) fn js_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    // `{:e}` writes the shortest digits that read back as the same number, as JavaScript does;
    // only the layout differs (ECMAScript's Number::toString).
    let scientific = format!("{:e}", n.abs());
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return format!("{n}");
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    // The value is 0.<digits> × 10^point.
    let point = exponent.parse::<i32>().unwrap_or(0) + 1;
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    if k <= point && point <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (point - k) as usize));
    } else if 0 < point && point <= 21 {
        let (whole, fraction) = digits.split_at(point as usize);
        let _ = write!(out, "{whole}.{fraction}");
    } else if -6 < point && point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', -point as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            let _ = write!(out, ".{rest}");
        }
        let _ = write!(out, "e{}{}", if point > 0 { '+' } else { '-' }, (point - 1).abs());
    }
    out
}

/// What `JSON.stringify` writes for the value (JavaScript's own encoder wrote the objects).
fn write_json(param: &Param<'_>, out: &mut String) -> Result<(), String> {
    match param {
        Param::Null => out.push_str("null"),
        Param::Text(text) => write_json_string(text, out),
        Param::Number(n) if n.is_finite() => out.push_str(&js_number(*n)),
        Param::Number(_) => out.push_str("null"),
        Param::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // As JSON.stringify, which throws for a bigint anywhere in an object.
        Param::BigInt(_) => {
            return Err("a bigint has no JSON form (JSON.stringify refuses it): pass a number or a string".into())
        }
        // Buffer's toJSON.
        Param::Bytes(bytes) => {
            out.push_str(r#"{"type":"Buffer","data":["#);
            for (index, byte) in bytes.iter().enumerate() {
                let _ = write!(out, "{}{byte}", if index > 0 { "," } else { "" });
            }
            out.push_str("]}");
        }
        Param::Date(ms) => match dates::iso_text(*ms) {
            Some(iso) => write_json_string(&iso, out),
            None => out.push_str("null"),
        },
        Param::Json(json) => out.push_str(json),
        Param::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json(item, out)?;
            }
            out.push(']');
        }
        Param::Invalid(reason) => return Err((*reason).to_string()),
    }
    Ok(())
}

fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An array literal (`{"1","2"}`, `{{"a",NULL}}`): every element quoted, so no element's text
/// can be mistaken for syntax or for NULL.
fn write_array(items: &[Param<'_>], element: Target, out: &mut String) -> Result<(), String> {
    let dimensions = dimensions(items)?;
    // PostgreSQL has no empty sub-arrays: an array with a zero-length dimension is empty.
    if dimensions.contains(&0) {
        out.push_str("{}");
        return Ok(());
    }
    write_level(items, element, out).map_err(|e| e.to_string())
}

/// The array's dimensions, if it is rectangular (as PostgreSQL arrays are) and not too deep.
fn dimensions(items: &[Param<'_>]) -> Result<Vec<usize>, String> {
    let mut dimensions = vec![items.len()];
    let mut first = items.first();
    while let Some(Param::Array(inner)) = first {
        dimensions.push(inner.len());
        first = inner.first();
    }
    if dimensions.len() > MAX_DIMENSIONS {
        return Err(format!(
            "PostgreSQL arrays have at most {MAX_DIMENSIONS} dimensions; this one has {}",
            dimensions.len()
        ));
    }
    if !is_rectangular(items, &dimensions) {
        return Err(
            "nested arrays must be rectangular (sub-arrays of one level all as long, no NULL in place of one), \
             as PostgreSQL's multi-dimensional arrays are"
                .into(),
        );
    }
    Ok(dimensions)
}

fn is_rectangular(items: &[Param<'_>], dimensions: &[usize]) -> bool {
    items.len() == dimensions[0]
        && items.iter().all(|item| match item {
            Param::Array(inner) => dimensions.len() > 1 && is_rectangular(inner, &dimensions[1..]),
            _ => dimensions.len() == 1,
        })
}

/// Which element did not fit, and why.
struct ElementError {
    /// Indices from the innermost level out.
    path: Vec<usize>,
    problem: String,
}

impl fmt::Display for ElementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("element ")?;
        for index in self.path.iter().rev() {
            write!(f, "[{index}]")?;
        }
        write!(f, ": {}", self.problem)
    }
}

fn write_level(items: &[Param<'_>], element: Target, out: &mut String) -> Result<(), ElementError> {
    out.push('{');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let written = match item {
            Param::Null => {
                out.push_str("NULL");
                Ok(())
            }
            Param::Array(inner) => write_level(inner, element, out),
            _ => write_quoted(item, element, out).map_err(|problem| ElementError { path: vec![], problem }),
        };
        written.map_err(|mut error| {
            error.path.push(index);
            error
        })?;
    }
    out.push('}');
    Ok(())
}

fn write_quoted(item: &Param<'_>, element: Target, out: &mut String) -> Result<(), String> {
    out.push('"');
    let start = out.len();
    write_value(item, element, out)?;
    if out[start..].contains(['"', '\\']) {
        let raw = out.split_off(start);
        for c in raw.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    Ok(())
}
