// Query parameters leave JavaScript as one Buffer in the engine's tagged form (documented in
// crates/core/src/params.rs): one crossing, however many parameters. Here each value is only
// tagged with what it is; the engine, which knows each parameter's type, encodes it for that
// type and reports a value that cannot fit as a TypeError naming its position and type.

import { types } from 'node:util'

const TAG_NULL = 0
const TAG_TEXT = 1
const TAG_NUMBER = 2
const TAG_BOOL = 3
const TAG_BIGINT = 4
const TAG_BYTES = 5
const TAG_DATE = 6
const TAG_JSON = 7
const TAG_ARRAY = 8
const TAG_INVALID = 9

/** Deeper arrays are refused (PostgreSQL arrays have at most 6 dimensions); it stops cycles too. */
const MAX_NESTING = 100

const EMPTY = Buffer.alloc(0)

/** Encodes parameter values into the tagged form. */
export function encodeParams(values: readonly unknown[] | undefined): Buffer {
  if (values === undefined || values === null) return EMPTY
  if (!Array.isArray(values)) throw new TypeError(`query parameters must be an array, not ${typeof values}`)
  if (values.length === 0) return EMPTY
  const writer = new Writer(values.length * 16)
  for (const value of values) writer.value(value, 0)
  return writer.done()
}

/** A growing buffer of tagged entries. */
class Writer {
  private buf: Buffer
  private at = 0

  constructor(estimate: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, estimate))
  }

  done(): Buffer {
    return this.buf.subarray(0, this.at)
  }

  value(value: unknown, depth: number): void {
    if (value === null || value === undefined) {
      this.tag(TAG_NULL, 0)
      return
    }
    switch (typeof value) {
      case 'string':
        this.text(TAG_TEXT, value)
        return
      case 'number':
        this.tag(TAG_NUMBER, 8)
        this.at = this.buf.writeDoubleBE(value, this.at)
        return
      case 'boolean':
        this.tag(TAG_BOOL, 1)
        this.buf[this.at++] = value ? 1 : 0
        return
      case 'bigint':
        this.text(TAG_BIGINT, value.toString())
        return
      case 'object':
        this.object(value, depth)
        return
      default:
        this.text(TAG_INVALID, `a ${typeof value} cannot be sent`)
    }
  }

  private object(value: object, depth: number): void {
    if (types.isDate(value)) {
      this.tag(TAG_DATE, 8)
      this.at = this.buf.writeDoubleBE((value as Date).getTime(), this.at)
    } else if (types.isUint8Array(value)) {
      this.bytes(value as Uint8Array)
    } else if (Array.isArray(value)) {
      if (depth >= MAX_NESTING) {
        this.text(TAG_INVALID, `arrays nested deeper than ${MAX_NESTING} levels (or containing themselves) cannot be sent`)
        return
      }
      this.tag(TAG_ARRAY, 4)
      this.at = this.buf.writeUInt32BE(value.length, this.at)
      for (const item of value) this.value(item, depth + 1)
    } else {
      this.json(value)
    }
  }

  private json(value: object): void {
    let json: string | undefined
    try {
      json = JSON.stringify(value)
    } catch (error) {
      this.text(TAG_INVALID, `cannot be sent as JSON: ${(error as Error).message}`)
      return
    }
    if (json === undefined) this.text(TAG_INVALID, 'JSON.stringify gave nothing to send')
    else this.text(TAG_JSON, json)
  }

  /** A tag, with room for `size` more bytes after it. */
  private tag(tag: number, size: number): void {
    this.reserve(1 + size)
    this.buf[this.at++] = tag
  }

  private text(tag: number, text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.tag(tag, 4 + text.length * 3)
    const length = this.buf.write(text, this.at + 4)
    this.buf.writeUInt32BE(length, this.at)
    this.at += 4 + length
  }

  private bytes(bytes: Uint8Array): void {
    this.tag(TAG_BYTES, 4 + bytes.length)
    this.at = this.buf.writeUInt32BE(bytes.length, this.at)
    this.buf.set(bytes, this.at)
    this.at += bytes.length
  }

  private reserve(size: number): void {
    if (this.at + size <= this.buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + size))
    this.buf.copy(grown, 0, 0, this.at)
    this.buf = grown
  }
}
