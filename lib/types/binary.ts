// Decoders of PostgreSQL's binary forms, for the types the engine asks for in binary
// (crates/core/src/result.rs): exact, and no text to parse.

import { int32, uint32, utf8, type Decoder, type SlicingBuffer } from './decoder'

export const bool: Decoder = (buf, start) => buf[start] !== 0

export const int2: Decoder = (buf, start) => ((buf[start]! << 24) >> 16) | buf[start + 1]!

export const int4: Decoder = (buf, start) => int32(buf, start)

export const oid: Decoder = (buf, start) => uint32(buf, start)

export const float4: Decoder = (buf, start) => buf.readFloatBE(start)

export const float8: Decoder = (buf, start) => buf.readDoubleBE(start)

/** int8 as its decimal digits: exact, the default. */
export const int8String: Decoder = (buf, start) => {
  const high = int32(buf, start)
  // Within ±2^52 the value is exact as a number, and String() is cheaper than a BigInt.
  if (high < 0x100000 && high >= -0x100000) return String(high * 0x100000000 + uint32(buf, start + 4))
  return buf.readBigInt64BE(start).toString()
}

/** int8 as a number: exact within ±2^53, the nearest double beyond. */
export const int8Number: Decoder = (buf, start) => int32(buf, start) * 0x100000000 + uint32(buf, start + 4)

export const int8BigInt: Decoder = (buf, start) => buf.readBigInt64BE(start)

/** A copy, so a value kept does not keep the whole result's memory alive. */
export const bytea: Decoder = (buf, start, end) => {
  const bytes = Buffer.allocUnsafe(end - start)
  buf.copy(bytes, 0, start, end)
  return bytes
}

export const text: Decoder = utf8

export const json: Decoder = (buf, start, end) => JSON.parse((buf as SlicingBuffer).utf8Slice(start, end))

/** jsonb's binary form is a version byte (1) and then the JSON text. */
export const jsonb: Decoder = (buf, start, end) => JSON.parse((buf as SlicingBuffer).utf8Slice(start + 1, end))

/**
 * The decoders whose value is JSON text after a prefix of this many bytes: a result decoder may
 * parse a whole column of them at once (lib/decode.ts), which gives the same values.
 */
export const JSON_TEXT_AFTER = new Map<Decoder, number>([
  [json, 0],
  [jsonb, 1],
])

const PG_EPOCH_MS = 946_684_800_000 // 2000-01-01, PostgreSQL's epoch
const PG_EPOCH_DAYS = 10_957
const INT32_MAX = 0x7fffffff
const INT32_MIN = -0x80000000

/**
 * Milliseconds since 1970 of a timestamp (microseconds since 2000, int64), rounded down, so the
 * sub-millisecond digits are dropped the way a truncated text form would drop them. Exact for
 * every timestamp a Date can hold: µs = hi·2^32 + lo = 1000·(hi·4294967) + (hi·296 + lo).
 * `±Infinity` for PostgreSQL's `infinity` and `-infinity`.
 */
function timestampMs(buf: Buffer, start: number): number {
  const hi = int32(buf, start)
  const lo = uint32(buf, start + 4)
  if (hi === INT32_MAX && lo === 0xffffffff) return Infinity
  if (hi === INT32_MIN && lo === 0) return -Infinity
  return hi * 4_294_967 + Math.floor((hi * 296 + lo) / 1000) + PG_EPOCH_MS
}

/** timestamptz and timestamp (read as UTC): a Date, or ±Infinity as pg gives. */
export const timestamp: Decoder = (buf, start) => {
  const ms = timestampMs(buf, start)
  return ms === Infinity || ms === -Infinity ? ms : new Date(ms)
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => (n < 10 ? '0' : '') + n)

/** date as PostgreSQL writes it (DateStyle ISO): `2024-03-15`, `0044-03-15 BC`, `infinity`. */
export const date: Decoder = (buf, start) => {
  const days = int32(buf, start)
  if (days === INT32_MAX) return 'infinity'
  if (days === INT32_MIN) return '-infinity'
  // Howard Hinnant's civil_from_days, from days since 1970.
  const z = days + PG_EPOCH_DAYS + 719_468
  const era = Math.floor(z / 146_097)
  const dayOfEra = z - era * 146_097
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  )
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100))
  const mp = Math.floor((5 * dayOfYear + 2) / 153)
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
  // PostgreSQL counts 1 BC as the year before 1 AD, where the arithmetic has year 0.
  const shown = year > 0 ? year : 1 - year
  const yyyy = shown >= 1000 ? String(shown) : String(shown).padStart(4, '0')
  return yyyy + '-' + TWO_DIGITS[month] + '-' + TWO_DIGITS[day] + (year > 0 ? '' : ' BC')
}

/**
 * An array of `element`s: nested arrays for several dimensions, null for NULL elements.
 * Lower bounds other than 1 are dropped: a JavaScript array starts at 0.
 */
export function array(element: Decoder): Decoder {
  return (buf, start) => {
    const dimensions = int32(buf, start)
    if (dimensions === 0) return []
    // Then a has-NULLs flag and the element type OID, not needed: every element has a length.
    const lengths: number[] = new Array(dimensions)
    for (let d = 0; d < dimensions; d++) lengths[d] = int32(buf, start + 12 + d * 8)
    let at = start + 12 + dimensions * 8
    const level = (d: number): unknown[] => {
      const length = lengths[d]!
      const values: unknown[] = new Array(length)
      for (let i = 0; i < length; i++) {
        if (d + 1 < dimensions) {
          values[i] = level(d + 1)
          continue
        }
        const size = int32(buf, at)
        at += 4
        if (size < 0) {
          values[i] = null
        } else {
          values[i] = element(buf, at, at + size)
          at += size
        }
      }
      return values
    }
    return level(0)
  }
}
