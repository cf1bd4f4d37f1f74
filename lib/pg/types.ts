// node-postgres's `types` (the pg-types package) for pgtide/pg: a registry of parsers by type OID
// and format, with pg-types' default parsers, and `TypeOverrides` (per pool, client or query).
// pg receives every column as text and parses it here, so the defaults must give exactly what
// pg-types gives: applications rely on its quirks (int8 and numeric as strings, numeric[] as
// numbers, dates at local midnight, ±Infinity for infinite timestamps).

import * as binary from '../types/binary'
import type { Decoder } from '../types/decoder'
import { parseArray } from '../types/text'

/** A parser of one value, as pg's typings have it: the result is whatever the application wants. */
export type TypeParser<I = string, T = any> = (value: I) => T

export type TypeFormat = 'text' | 'binary'

/** What pg accepts as `types` (pool, client or query config): a parser lookup. */
export interface CustomTypesConfig {
  getTypeParser(oid: number, format?: TypeFormat): TypeParser<string> | TypeParser<Buffer>
}

/** Type OIDs by name: pg-types' list (built-in base types of pg_catalog). */
export const builtins = {
  BOOL: 16,
  BYTEA: 17,
  CHAR: 18,
  INT8: 20,
  INT2: 21,
  INT4: 23,
  REGPROC: 24,
  TEXT: 25,
  OID: 26,
  TID: 27,
  XID: 28,
  CID: 29,
  JSON: 114,
  XML: 142,
  PG_NODE_TREE: 194,
  SMGR: 210,
  PATH: 602,
  POLYGON: 604,
  CIDR: 650,
  FLOAT4: 700,
  FLOAT8: 701,
  ABSTIME: 702,
  RELTIME: 703,
  TINTERVAL: 704,
  CIRCLE: 718,
  MACADDR8: 774,
  MONEY: 790,
  MACADDR: 829,
  INET: 869,
  ACLITEM: 1033,
  BPCHAR: 1042,
  VARCHAR: 1043,
  DATE: 1082,
  TIME: 1083,
  TIMESTAMP: 1114,
  TIMESTAMPTZ: 1184,
  INTERVAL: 1186,
  TIMETZ: 1266,
  BIT: 1560,
  VARBIT: 1562,
  NUMERIC: 1700,
  REFCURSOR: 1790,
  REGPROCEDURE: 2202,
  REGOPER: 2203,
  REGOPERATOR: 2204,
  REGCLASS: 2205,
  REGTYPE: 2206,
  UUID: 2950,
  TXID_SNAPSHOT: 2970,
  PG_LSN: 3220,
  PG_NDISTINCT: 3361,
  PG_DEPENDENCIES: 3402,
  TSVECTOR: 3614,
  TSQUERY: 3615,
  GTSVECTOR: 3642,
  REGCONFIG: 3734,
  REGDICTIONARY: 3769,
  JSONB: 3802,
  REGNAMESPACE: 4089,
  REGROLE: 4096,
} as const

export type BuiltinTypeName = keyof typeof builtins

// ---------------------------------------------------------------------------------------------
// Scalar text parsers

/**
 * The parser of types without one: the value as it came. pg's is `String(value)`, the same for
 * a string; text-rows.ts recognises this function and skips the call.
 */
export function noParse(value: unknown): string {
  return typeof value === 'string' ? value : String(value)
}

/** PostgreSQL writes `t`/`f`; pg-types also takes the other spellings PostgreSQL reads. */
const TRUE_WORDS = new Set(['TRUE', 't', 'true', 'y', 'yes', 'on', '1'])

export function parseBool(text: string): boolean {
  return TRUE_WORDS.has(text)
}

export function parseInteger(text: string): number {
  return parseInt(text, 10)
}

/** float4, float8: `NaN`, `Infinity` and `-Infinity` read as parseFloat reads them. */
export function parseDouble(text: string): number {
  return parseFloat(text)
}

/** int8 stays a string: beyond 2^53 a number would be wrong (pg-types' default). */
export function parseBigInteger(text: string): string {
  return text
}

export function parseJson(text: string): unknown {
  return JSON.parse(text)
}

// ---------------------------------------------------------------------------------------------
// Dates: `date`, `timestamp` and `timestamptz` in DateStyle ISO

/** `2024-03-15`, `2024-03-15 12:34:56.789`, `...+05:30`, `...+00:19:32`, `0044-03-15 BC`. */
const TIMESTAMP = /^(\d+)-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(\.\d+)?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?)?( BC)?$/

/**
 * A Date, or `Infinity`/`-Infinity` for PostgreSQL's infinite values (as pg-types gives), or null
 * for text it cannot read. Without a zone (`date`, `timestamp`) the fields are local time: a
 * `date` is local midnight. Sub-millisecond digits are dropped.
 */
export function parseDate(text: string): Date | number | null {
  if (text === 'infinity') return Infinity
  if (text === '-infinity') return -Infinity
  const m = TIMESTAMP.exec(text)
  if (!m) return null
  // 1 BC is the year 0 of the arithmetic, 2 BC the year -1.
  const year = m[12] ? 1 - Number(m[1]) : Number(m[1])
  const month = Number(m[2]) - 1
  const day = Number(m[3])
  const hours = Number(m[4] ?? 0)
  const minutes = Number(m[5] ?? 0)
  const seconds = Number(m[6] ?? 0)
  // Computed as pg-types does (not rounded), so both give the same millisecond.
  const ms = m[7] ? 1000 * parseFloat(m[7]) : 0
  // The Date constructors read years 0 to 99 as 1900 to 1999; the setters do not.
  const shortYear = year >= 0 && year < 100
  if (m[8] === undefined) {
    const local = new Date(year, month, day, hours, minutes, seconds, ms)
    if (shortYear) local.setFullYear(year)
    return local
  }
  const utc = new Date(Date.UTC(year, month, day, hours, minutes, seconds, ms))
  if (shortYear) utc.setUTCFullYear(year)
  const offsetSeconds = Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0)
  utc.setTime(utc.getTime() - (m[8] === '-' ? -offsetSeconds : offsetSeconds) * 1000)
  return utc
}

// ---------------------------------------------------------------------------------------------
// Intervals, in IntervalStyle postgres (the default): `1 year 2 mons -3 days +04:05:06.789`

const INTERVAL_PART = /([+-]?\d+) +(year|mon|day)s?|([+-])?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?/g

const INTERVAL_FIELDS = ['years', 'months', 'days', 'hours', 'minutes', 'seconds', 'milliseconds'] as const
type IntervalField = (typeof INTERVAL_FIELDS)[number]

/**
 * An interval as pg-types gives it (postgres-interval): an own property for each non-zero field
 * only, `milliseconds` with the microseconds as its fraction. Other IntervalStyles give no fields.
 */
export class PostgresInterval {
  declare years?: number
  declare months?: number
  declare days?: number
  declare hours?: number
  declare minutes?: number
  declare seconds?: number
  declare milliseconds?: number

  constructor(text?: string) {
    if (text) assignIntervalFields(this, text)
  }

  /** Interval input PostgreSQL reads: `1 years 2 days 3.5 seconds`, or `0`. */
  toPostgres(): string {
    const fields = (['seconds', 'minutes', 'hours', 'days', 'months', 'years'] as const).filter((field) =>
      Object.prototype.hasOwnProperty.call(this, field),
    )
    // A fraction without whole seconds still needs a seconds part (written last, as pg-types).
    if (this.milliseconds && !fields.includes('seconds')) fields.push('seconds')
    if (fields.length === 0) return '0'
    const written = fields.map((field) =>
      field === 'seconds' && this.milliseconds
        ? `${secondsWithFraction(this).replace(/\.?0+$/, '')} seconds`
        : `${this[field] ?? 0} ${field}`,
    )
    return written.join(' ')
  }

  /** ISO 8601 duration, every field written: `P1Y2M3DT4H5M6.789S`. */
  toISOString(): string {
    const seconds = this.milliseconds ? secondsWithFraction(this).replace(/0+$/, '') : String(this.seconds ?? 0)
    return (
      `P${this.years ?? 0}Y${this.months ?? 0}M${this.days ?? 0}D` +
      `T${this.hours ?? 0}H${this.minutes ?? 0}M${seconds}S`
    )
  }

  toISO(): string {
    return this.toISOString()
  }
}

function secondsWithFraction(interval: PostgresInterval): string {
  return ((interval.seconds ?? 0) + (interval.milliseconds ?? 0) / 1000).toFixed(6)
}

function assignIntervalFields(target: PostgresInterval, text: string): void {
  const found: Partial<Record<IntervalField, number>> = {}
  for (const m of text.matchAll(INTERVAL_PART)) {
    if (m[2] !== undefined) {
      const field = m[2] === 'year' ? 'years' : m[2] === 'mon' ? 'months' : 'days'
      found[field] = parseInt(m[1]!, 10)
      continue
    }
    // A time's sign applies to all its parts; the fraction is microseconds, zeros omitted.
    const sign = m[3] === '-' ? -1 : 1
    found.hours = sign * parseInt(m[4]!, 10)
    found.minutes = sign * parseInt(m[5]!, 10)
    found.seconds = sign * parseInt(m[6]!, 10)
    if (m[7]) found.milliseconds = (sign * parseInt(m[7].padEnd(6, '0'), 10)) / 1000
  }
  // In one order, and zero fields left out, as postgres-interval does.
  for (const field of INTERVAL_FIELDS) {
    const value = found[field]
    if (value) target[field] = value
  }
}

export function parseInterval(text: string): PostgresInterval {
  return new PostgresInterval(text)
}

// ---------------------------------------------------------------------------------------------
// bytea, geometry

const BACKSLASH = 92

/** bytea_output `hex` (`\x0102`) or `escape` (`a\000\\b`). */
export function parseBytea(text: string): Buffer {
  if (text.charCodeAt(0) === BACKSLASH && text.charCodeAt(1) === 120 /* x */) return Buffer.from(text.slice(2), 'hex')
  const bytes: number[] = []
  let at = 0
  while (at < text.length) {
    const c = text.charCodeAt(at)
    if (c !== BACKSLASH) {
      bytes.push(c & 0xff)
      at++
    } else if (/^[0-7]{3}/.test(text.slice(at + 1, at + 4))) {
      bytes.push(parseInt(text.slice(at + 1, at + 4), 8) & 0xff)
      at += 4
    } else if (text.charCodeAt(at + 1) === BACKSLASH) {
      bytes.push(BACKSLASH)
      at += 2
    } else {
      // A lone backslash: PostgreSQL never writes one; dropped.
      at++
    }
  }
  return Buffer.from(bytes)
}

export interface Point {
  x: number
  y: number
}

export interface Circle extends Point {
  radius: number
}

/** `(1.5,2)`; null for anything else. */
export function parsePoint(text: string): Point | null {
  if (text.charCodeAt(0) !== 40 /* ( */) return null
  const comma = text.indexOf(',')
  return { x: parseFloat(text.slice(1, comma)), y: parseFloat(text.slice(comma + 1, text.length - 1)) }
}

/** `<(1,2),3>`; null for anything else. */
export function parseCircle(text: string): Circle | null {
  if (!text.startsWith('<(')) return null
  const close = text.indexOf(')')
  const center = parsePoint(text.slice(1, close + 1))
  if (!center) return null
  return { x: center.x, y: center.y, radius: parseFloat(text.slice(close + 2, text.length - 1)) }
}

// ---------------------------------------------------------------------------------------------
// Arrays

/** A parser of an array's text form whose elements `element` parses (strings without one). */
export function arrayOf(element?: TypeParser<string>, delimiter = ','): TypeParser<string, unknown[] | null> {
  // pg-types answers null for an empty text; PostgreSQL never sends one for an array.
  return (text) => (text ? parseArray(text, element, delimiter) : null)
}

/** pg-types' `arrayParser`: `arrayParser.create(text, transform).parse()`. */
export const arrayParser = {
  create(source: string, transform?: TypeParser<string>): { parse(): unknown[] } {
    return { parse: () => parseArray(source, transform) }
  },
}

// ---------------------------------------------------------------------------------------------
// Binary parsers (pg asks for text; these are for code that calls getTypeParser(oid, 'binary'))

function fromDecoder(decoder: Decoder): TypeParser<Buffer> {
  return (value) => decoder(value, 0, value.length)
}

const NUMERIC_NAN = 0xc000
const NUMERIC_PINF = 0xd000
const NUMERIC_NINF = 0xf000

/** numeric as a number (pg-types' binary parser gives a number too). */
function parseNumericBinary(value: Buffer): number {
  const count = value.readUInt16BE(0)
  const weight = value.readInt16BE(2)
  const sign = value.readUInt16BE(4)
  if (sign === NUMERIC_NAN) return NaN
  if (sign === NUMERIC_PINF) return Infinity
  if (sign === NUMERIC_NINF) return -Infinity
  // Base-10000 digits, the first worth 10000^weight: written out in decimal, read once.
  let digits = ''
  for (let i = 0; i < count; i++) digits += String(value.readUInt16BE(8 + 2 * i)).padStart(4, '0')
  const exponent = 4 * (weight + 1 - count)
  const magnitude = count === 0 ? 0 : Number(`${digits}e${exponent}`)
  return sign === 0 ? magnitude : -magnitude
}

/** timestamp (no zone) in binary: a Date whose local fields are the value, as the text parser. */
function parseTimestampBinary(value: Buffer): Date | number {
  const utc = binary.timestamp(value, 0, value.length) as Date | number
  if (typeof utc === 'number') return utc
  return new Date(utc.getTime() + utc.getTimezoneOffset() * 60_000)
}

// ---------------------------------------------------------------------------------------------
// The registry

/** Parsers by format and OID; pg-types' defaults, then whatever setTypeParser puts. */
const registry: { text: Record<number, TypeParser<string>>; binary: Record<number, TypeParser<Buffer>> } = {
  text: Object.create(null) as Record<number, TypeParser<string>>,
  binary: Object.create(null) as Record<number, TypeParser<Buffer>>,
}

function registerDefaults(): void {
  const text = registry.text
  const strings = arrayOf()
  const integers = arrayOf(parseInteger)
  const doubles = arrayOf(parseDouble)
  const dates = arrayOf(parseDate)

  text[builtins.BOOL] = parseBool
  text[builtins.INT2] = parseInteger
  text[builtins.INT4] = parseInteger
  text[builtins.OID] = parseInteger
  text[builtins.INT8] = parseBigInteger
  text[builtins.FLOAT4] = parseDouble
  text[builtins.FLOAT8] = parseDouble
  text[builtins.DATE] = parseDate
  text[builtins.TIMESTAMP] = parseDate
  text[builtins.TIMESTAMPTZ] = parseDate
  text[builtins.INTERVAL] = parseInterval
  text[builtins.BYTEA] = parseBytea
  text[builtins.JSON] = parseJson
  text[builtins.JSONB] = parseJson
  text[600] = parsePoint // point
  text[builtins.CIRCLE] = parseCircle

  // Arrays: pg-types parses these element types and no others (name[], box[], money as a
  // scalar... arrive as text). numeric[] gives numbers though numeric gives strings: pg-types'.
  text[1000] = arrayOf(parseBool) // bool[]
  text[1001] = arrayOf(parseBytea) // bytea[]
  text[1005] = integers // int2[]
  text[1007] = integers // int4[]
  text[1028] = integers // oid[]
  text[1016] = strings // int8[]
  text[1017] = arrayOf(parsePoint) // point[]
  text[1021] = doubles // float4[]
  text[1022] = doubles // float8[]
  text[1231] = doubles // numeric[]
  text[1115] = dates // timestamp[]
  text[1182] = dates // date[]
  text[1185] = dates // timestamptz[]
  text[1187] = arrayOf(parseInterval) // interval[]
  text[199] = arrayOf(parseJson) // json[]
  text[3807] = arrayOf(parseJson) // jsonb[]
  // regproc[], text[], bpchar[], varchar[], cidr[], macaddr[], inet[], numrange[], uuid[],
  // money[], time[], timetz[]
  for (const oid of [1008, 1009, 1014, 1015, 651, 1040, 1041, 3907, 2951, 791, 1183, 1270]) text[oid] = strings

  const bin = registry.binary
  bin[builtins.BOOL] = fromDecoder(binary.bool)
  bin[builtins.INT2] = fromDecoder(binary.int2)
  bin[builtins.INT4] = fromDecoder(binary.int4)
  bin[builtins.OID] = fromDecoder(binary.oid)
  bin[builtins.INT8] = fromDecoder(binary.int8String)
  bin[builtins.FLOAT4] = fromDecoder(binary.float4)
  bin[builtins.FLOAT8] = fromDecoder(binary.float8)
  bin[builtins.NUMERIC] = parseNumericBinary
  bin[builtins.TEXT] = fromDecoder(binary.text)
  bin[builtins.TIMESTAMP] = parseTimestampBinary
  bin[builtins.TIMESTAMPTZ] = fromDecoder(binary.timestamp)
  bin[1000] = fromDecoder(binary.array(binary.bool)) // bool[]
  bin[1007] = fromDecoder(binary.array(binary.int4)) // int4[]
  bin[1016] = fromDecoder(binary.array(binary.int8String)) // int8[]
  bin[1008] = fromDecoder(binary.array(binary.oid)) // regproc[]: the functions' OIDs
  bin[1009] = fromDecoder(binary.array(binary.text)) // text[]
}

registerDefaults()

function parsersOf(format: string): Record<number, TypeParser<string>> | Record<number, TypeParser<Buffer>> | undefined {
  return format === 'text' ? registry.text : format === 'binary' ? registry.binary : undefined
}

/** The parser for `oid` in `format`; `noParse` (the value unchanged) for a type without one. */
export function getTypeParser(oid: number, format: TypeFormat = 'text'): TypeParser<any> {
  return parsersOf(format || 'text')?.[oid] ?? noParse
}

/** Replaces the parser of `oid` everywhere (every pool, client and query without an override). */
export function setTypeParser(oid: number, parser: TypeParser<string>): void
export function setTypeParser(oid: number, format: 'text', parser: TypeParser<string>): void
export function setTypeParser(oid: number, format: 'binary', parser: TypeParser<Buffer>): void
export function setTypeParser(oid: number, format: TypeFormat | TypeParser<any>, parser?: TypeParser<any>): void {
  setIn(parsersOf, oid, format, parser)
}

function setIn(
  lookup: (format: string) => Record<number, TypeParser<any>> | undefined,
  oid: number,
  format: TypeFormat | TypeParser<any>,
  parser: TypeParser<any> | undefined,
): void {
  if (typeof format === 'function') {
    parser = format
    format = 'text'
  }
  const parsers = lookup(format)
  // pg-types throws for another format (it indexes undefined); a clearer message here.
  if (!parsers) throw new TypeError(`setTypeParser: format must be 'text' or 'binary', not ${String(format)}`)
  // Not checked to be a function, as pg: an undefined parser means the default again.
  parsers[oid] = parser!
}

/** pg's `types` export (the pg-types module). */
export const types = { getTypeParser, setTypeParser, arrayParser, builtins }

/**
 * pg's TypeOverrides: parsers of one pool, client or query, each falling back to `types` given
 * (the global registry by default) for the OIDs it does not set.
 */
export class TypeOverrides implements CustomTypesConfig {
  readonly text: Record<number, TypeParser<string>> = {}
  readonly binary: Record<number, TypeParser<Buffer>> = {}
  private readonly _types: CustomTypesConfig

  constructor(userTypes?: CustomTypesConfig) {
    this._types = userTypes ?? types
  }

  /** The overrides of one format; an object nobody reads for any other format, as pg. */
  getOverrides(format: string): Record<number, TypeParser<any>> {
    return format === 'text' ? this.text : format === 'binary' ? this.binary : {}
  }

  setTypeParser(oid: number, parser: TypeParser<string>): void
  setTypeParser(oid: number, format: 'text', parser: TypeParser<string>): void
  setTypeParser(oid: number, format: 'binary', parser: TypeParser<Buffer>): void
  setTypeParser(oid: number, format: TypeFormat | TypeParser<any>, parser?: TypeParser<any>): void {
    // An unknown format writes into a throwaway object, as pg (no error).
    setIn((f) => this.getOverrides(f), oid, format, parser)
  }

  getTypeParser(oid: number, format: TypeFormat = 'text'): TypeParser<any> {
    format = format || 'text'
    return this.getOverrides(format)[oid] ?? this._types.getTypeParser(oid, format)
  }
}
