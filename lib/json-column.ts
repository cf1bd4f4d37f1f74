// A json or jsonb column parsed a few dozen values at a time: their texts copied into one
// `[v1,v2,...]` text (NULL as `null`), parsed with one JSON.parse. Each value comes out as its
// own JSON.parse would give it, with a string to make and a call per group rather than per
// value (docs/performance.md has the measurements, and why groups rather than the whole column).

import type { SlicingBuffer } from './types/decoder'

const COMMA = 0x2c
const OPEN = 0x5b
const CLOSE = 0x5d
const NULL = [0x6e, 0x75, 0x6c, 0x6c] // null

/** The scratch kept between calls grows to this size; larger texts get a buffer of their own. */
const KEEP_LIMIT = 1024 * 1024
/** Past this many bytes of rows, values are parsed one by one (a group of huge values could pass V8's string limit). */
export const JSON_BATCH_LIMIT = 256 * 1024 * 1024
/** Values longer than this are copied with Buffer.copy; shorter ones byte by byte (no native call). */
const NATIVE_COPY = 64
/** Values per JSON.parse. */
const GROUP = 64

let kept = Buffer.allocUnsafe(64 * 1024)

function scratch(size: number): Buffer {
  if (size <= kept.length) return kept
  if (size > KEEP_LIMIT) return Buffer.allocUnsafe(size)
  kept = Buffer.allocUnsafe(Math.min(KEEP_LIMIT, Math.max(size, kept.length * 2)))
  return kept
}

/**
 * The values of column `column` (of `width`) of the `count` rows in `buf` (DataRow bodies),
 * each JSON text starting `skip` bytes into its value; null for NULL.
 */
export function jsonColumn(buf: Buffer, count: number, width: number, column: number, skip: number): unknown[] {
  // Every value's text, a comma each, `null` at most 4 bytes for a 4-byte length, brackets.
  const out = scratch(buf.length + count + 2)
  const values: unknown[] = new Array(count)
  let first = 0 // the group's first row
  let w = 0
  out[w++] = OPEN
  let at = 0
  for (let r = 0; r < count; r++) {
    if (r > first) out[w++] = COMMA
    for (let c = 0; c < width; c++) {
      const size = (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!
      at += 4
      if (c !== column) {
        if (size > 0) at += size
        continue
      }
      if (size < 0) {
        for (const byte of NULL) out[w++] = byte
        continue
      }
      const end = at + size
      if (size - skip > NATIVE_COPY) {
        w += buf.copy(out, w, at + skip, end)
      } else {
        for (let k = at + skip; k < end; k++) out[w++] = buf[k]!
      }
      at = end
    }
    if (r - first === GROUP - 1 || r === count - 1) {
      out[w++] = CLOSE
      const group = JSON.parse((out as SlicingBuffer).utf8Slice(0, w)) as unknown[]
      for (let i = 0; i < group.length; i++) values[first + i] = group[i]
      first = r + 1
      w = 0
      out[w++] = OPEN
    }
  }
  return values
}
