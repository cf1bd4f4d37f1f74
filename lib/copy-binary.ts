// `copyRows(rows, { format: 'binary', types })`: rows of JavaScript values in COPY's binary
// format, for `COPY ... FROM STDIN (FORMAT binary)`. The binary form of a value depends on its
// column's type, which COPY does not say, so the caller names each column's type; the server
// then reads the values without parsing any text.

/** The column types binary rows can carry. */
export type CopyBinaryType =
  | 'bool'
  | 'int2'
  | 'int4'
  | 'int8'
  | 'float4'
  | 'float8'
  | 'text'
  | 'varchar'
  | 'bpchar'
  | 'name'
  | 'bytea'
  | 'json'
  | 'jsonb'
  | 'uuid'
  | 'date'
  | 'timestamp'
  | 'timestamptz'

/** Writes the value's field, or returns what the value should have been. */
type Encoder = (w: Writer, value: unknown) => string | void

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')
/** 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix ms. */
const PG_EPOCH_MS = 946_684_800_000
const DAY_MS = 86_400_000
const CHUNK_SIZE = 64 * 1024
/** Strings up to this long are copied character by character while they are ASCII. */
const SHORT_TEXT = 64
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/

/** A growing buffer, written field by field without a closure per value (the hot path). */
class Writer {
  buf = Buffer.allocUnsafe(CHUNK_SIZE * 2)
  at = 0

  room(n: number): void {
    if (this.at + n <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n))
    this.buf.copy(bigger, 0, 0, this.at)
    this.buf = bigger
  }

  int16(n: number): void {
    this.room(2)
    this.at = this.buf.writeInt16BE(n, this.at)
  }

  int32(n: number): void {
    this.room(4)
    this.at = this.buf.writeInt32BE(n, this.at)
  }

  /** A field of `length` bytes: writes its length and returns where its value goes in `buf`. */
  fixed(length: number): number {
    this.room(4 + length)
    const at = this.buf.writeInt32BE(length, this.at)
    this.at = at + length
    return at
  }

  bytes(bytes: Uint8Array): void {
    this.buf.set(bytes, this.fixed(bytes.length))
  }

  /**
   * UTF-8 text in one pass: room for the longest encoding, the text, then the length it took.
   * A short string's ASCII head is copied here: a `buf.write` per value costs more than the
   * copy (about 200 ns a call against 80 for the loop, for a 10-character string).
   */
  text(text: string): void {
    const n = text.length
    this.room(4 + n * 3)
    const buf = this.buf
    let at = this.at + 4
    let k = 0
    if (n <= SHORT_TEXT) {
      for (; k < n; k++) {
        const c = text.charCodeAt(k)
        if (c > 0x7f) break
        buf[at++] = c
      }
    }
    // The rest from the first non-ASCII character (a code point's start) or all of a long one.
    if (k < n) at += buf.write(k === 0 ? text : text.slice(k), at, 'utf8')
    buf.writeInt32BE(at - this.at - 4, this.at)
    this.at = at
  }

  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.at))
    this.at = 0
    return out
  }
}

function integer(bits: 16 | 32, value: unknown): number | undefined {
  const n = typeof value === 'bigint' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n)) return undefined
  const limit = 2 ** (bits - 1)
  return n >= -limit && n < limit ? n : undefined
}

function bigint(value: unknown): bigint | undefined {
  try {
    if (typeof value === 'bigint') return value
    if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value)
    if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value)
  } catch {
    return undefined
  }
  return undefined
}

function micros(value: unknown): bigint | undefined {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return undefined
  return BigInt(value.getTime() - PG_EPOCH_MS) * 1000n
}

const text: Encoder = (w, v) => (typeof v === 'string' ? w.text(v) : 'a string')

/** An 8-byte integer field. */
function int64(w: Writer, n: bigint): void {
  const at = w.fixed(8)
  w.buf.writeBigInt64BE(n, at)
}

const ENCODERS: Record<CopyBinaryType, Encoder> = {
  bool: (w, v) => {
    if (typeof v !== 'boolean') return 'a boolean'
    w.buf[w.fixed(1)] = v ? 1 : 0
  },
  int2: (w, v) => {
    const n = integer(16, v)
    if (n === undefined) return 'an integer from -32768 to 32767'
    const at = w.fixed(2)
    w.buf.writeInt16BE(n, at)
  },
  int4: (w, v) => {
    const n = integer(32, v)
    if (n === undefined) return 'a 32-bit integer'
    const at = w.fixed(4)
    w.buf.writeInt32BE(n, at)
  },
  int8: (w, v) => {
    const n = bigint(v)
    if (n === undefined || n < -(2n ** 63n) || n >= 2n ** 63n) return 'a 64-bit integer (number, bigint or digits)'
    int64(w, n)
  },
  float4: (w, v) => {
    if (typeof v !== 'number') return 'a number'
    const at = w.fixed(4)
    w.buf.writeFloatBE(v, at)
  },
  float8: (w, v) => {
    if (typeof v !== 'number') return 'a number'
    const at = w.fixed(8)
    w.buf.writeDoubleBE(v, at)
  },
  text,
  varchar: text,
  bpchar: text,
  name: text,
  bytea: (w, v) => (v instanceof Uint8Array ? w.bytes(v) : 'a Buffer or Uint8Array'),
  // A string is JSON text already; anything else is serialised.
  json: (w, v) => w.text(typeof v === 'string' ? v : JSON.stringify(v)),
  jsonb: (w, v) => {
    const json = Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8')
    const at = w.fixed(json.length + 1)
    w.buf[at] = 1 // jsonb's binary format version
    w.buf.set(json, at + 1)
  },
  uuid: (w, v) => {
    if (typeof v !== 'string' || !UUID.test(v)) return 'a UUID string'
    w.bytes(Buffer.from(v.replaceAll('-', ''), 'hex'))
  },
  date: (w, v) => {
    let ms: number | undefined
    const day = typeof v === 'string' ? DAY.exec(v) : null
    if (day !== null) ms = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]))
    else if (v instanceof Date && !Number.isNaN(v.getTime())) ms = v.getTime()
    if (ms === undefined) return "a Date or a 'YYYY-MM-DD' string"
    const at = w.fixed(4)
    w.buf.writeInt32BE(Math.floor((ms - PG_EPOCH_MS) / DAY_MS), at)
  },
  timestamp: (w, v) => {
    const n = micros(v)
    if (n === undefined) return 'a valid Date'
    int64(w, n)
  },
  timestamptz: (w, v) => {
    const n = micros(v)
    if (n === undefined) return 'a valid Date'
    int64(w, n)
  },
}

/** @internal Checks the `types` option: one known type per column. */
export function binaryEncoders(types: unknown): Encoder[] {
  if (!Array.isArray(types) || types.length === 0) {
    throw new TypeError("copyRows(): the binary format needs 'types', an array naming each column's type")
  }
  return types.map((type, i) => {
    const encoder = typeof type === 'string' ? ENCODERS[type as CopyBinaryType] : undefined
    if (encoder === undefined || !Object.hasOwn(ENCODERS, type as string)) {
      throw new TypeError(
        `copyRows(): column ${i + 1}'s type ${JSON.stringify(type)} has no binary encoder here ` +
          `(known: ${Object.keys(ENCODERS).join(', ')})`,
      )
    }
    return encoder
  })
}

/** @internal Binary COPY data: the header, then rows in about 64 kB Buffers, then the trailer. */
export class BinaryRows {
  private readonly w = new Writer()
  private index = 0

  constructor(private readonly encoders: Encoder[]) {
    this.w.room(SIGNATURE.length + 8)
    SIGNATURE.copy(this.w.buf, 0)
    this.w.at = SIGNATURE.length
    this.w.int32(0) // flags
    this.w.int32(0) // header extension length
  }

  /** Adds a row; a Buffer when about 64 kB have gathered. */
  add(row: unknown): Buffer | undefined {
    const index = this.index++
    if (!Array.isArray(row)) {
      throw new TypeError(`copyRows(): row ${index} must be an array of values, not ${row === null ? 'null' : typeof row}`)
    }
    if (row.length !== this.encoders.length) {
      throw new TypeError(`copyRows(): row ${index} has ${row.length} values for ${this.encoders.length} column types`)
    }
    this.w.int16(row.length)
    for (let i = 0; i < row.length; i++) {
      const value: unknown = row[i]
      if (value === null || value === undefined) {
        this.w.int32(-1)
        continue
      }
      const wanted = this.encoders[i]!(this.w, value)
      if (typeof wanted === 'string') {
        throw new TypeError(`copyRows(): row ${index}, column ${i + 1}: expected ${wanted}, not ${typeof value}`)
      }
    }
    return this.w.at >= CHUNK_SIZE ? this.w.take() : undefined
  }

  /** The rest, with the trailer. */
  end(): Buffer {
    this.w.int16(-1)
    return this.w.take()
  }
}
