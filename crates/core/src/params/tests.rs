//! Parameters from the tagged form to the wire, value by value, and the errors that name them.

use super::tagged::TAG_ARRAY;
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
