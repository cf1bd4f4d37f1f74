// `copyRows()`: rows of JavaScript values as COPY's text format (tab-separated columns, `\N`
// for NULL, backslash escapes), ready for `copyFrom()`. The values map as parameters do: a
// Date as its ISO instant, a Buffer as bytea's hex form, an array as an array literal, any
// other object as JSON. The binary format is copy-binary.ts's.

import { BinaryRows, binaryEncoders, type CopyBinaryType } from './copy-binary'

/** One row: its column values in the order of the COPY's column list. */
export type CopyRow = readonly unknown[]

/** Rows are gathered into Buffers of about this size. */
const CHUNK_SIZE = 64 * 1024
const NEEDS_ESCAPE = /[\\\n\r\t]/
const ESCAPED = /[\\\n\r\t]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }
const NEEDS_QUOTE = /[{},"\\\s]|^$|^null$/i

/** `copyRows()`'s options. */
export interface CopyRowsOptions {
  /** `text` (default), or `binary` for `COPY ... (FORMAT binary)`, which needs `types`. */
  format?: 'text' | 'binary'
  /** The binary format's column types, one per column, in the COPY's column order. */
  types?: readonly CopyBinaryType[]
}

/**
 * Rows of values as COPY data (text, or binary with `types`), in Buffers of about 64 kB: sync
 * rows give a sync iterable, async rows an async one.
 */
export function copyRows(rows: Iterable<CopyRow>, options?: CopyRowsOptions): Generator<Buffer, void, undefined>
export function copyRows(rows: AsyncIterable<CopyRow>, options?: CopyRowsOptions): AsyncGenerator<Buffer, void, undefined>
export function copyRows(
  rows: Iterable<CopyRow> | AsyncIterable<CopyRow>,
  options: CopyRowsOptions = {},
): Generator<Buffer, void, undefined> | AsyncGenerator<Buffer, void, undefined> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`copyRows() options must be an object, not ${options === null ? 'null' : typeof options}`)
  }
  const { format = 'text', types } = options
  if (format !== 'text' && format !== 'binary') {
    throw new TypeError(`copyRows() option 'format' must be 'text' or 'binary', not ${JSON.stringify(format)}`)
  }
  const encoders = format === 'binary' ? binaryEncoders(types) : undefined
  if (rows !== null && typeof rows === 'object' && Symbol.asyncIterator in rows) {
    return encoders ? asyncBinary(rows, encoders) : asyncChunks(rows)
  }
  if (rows !== null && typeof rows === 'object' && Symbol.iterator in rows) {
    return encoders ? syncBinary(rows, encoders) : syncChunks(rows)
  }
  throw new TypeError(`copyRows() takes an iterable or async iterable of rows, not ${rows === null ? 'null' : typeof rows}`)
}

type Encoders = ReturnType<typeof binaryEncoders>

function* syncBinary(rows: Iterable<CopyRow>, encoders: Encoders): Generator<Buffer, void, undefined> {
  const out = new BinaryRows(encoders)
  for (const row of rows) {
    const chunk = out.add(row)
    if (chunk !== undefined) yield chunk
  }
  yield out.end()
}

async function* asyncBinary(rows: AsyncIterable<CopyRow>, encoders: Encoders): AsyncGenerator<Buffer, void, undefined> {
  const out = new BinaryRows(encoders)
  for await (const row of rows) {
    const chunk = out.add(row)
    if (chunk !== undefined) yield chunk
  }
  yield out.end()
}

function* syncChunks(rows: Iterable<CopyRow>): Generator<Buffer, void, undefined> {
  let chunk = ''
  let index = 0
  for (const row of rows) {
    chunk += copyLine(row, index++)
    if (chunk.length >= CHUNK_SIZE) {
      yield Buffer.from(chunk, 'utf8')
      chunk = ''
    }
  }
  if (chunk.length > 0) yield Buffer.from(chunk, 'utf8')
}

async function* asyncChunks(rows: AsyncIterable<CopyRow>): AsyncGenerator<Buffer, void, undefined> {
  let chunk = ''
  let index = 0
  for await (const row of rows) {
    chunk += copyLine(row, index++)
    if (chunk.length >= CHUNK_SIZE) {
      yield Buffer.from(chunk, 'utf8')
      chunk = ''
    }
  }
  if (chunk.length > 0) yield Buffer.from(chunk, 'utf8')
}

/** One row as a line of COPY text. */
export function copyLine(row: CopyRow, index = 0): string {
  if (!Array.isArray(row)) {
    throw new TypeError(`copyRows(): row ${index} must be an array of values, not ${row === null ? 'null' : typeof row}`)
  }
  let line = ''
  for (let i = 0; i < row.length; i++) {
    if (i > 0) line += '\t'
    line += field(row[i], index, i)
  }
  return line + '\n'
}

function escape(text: string): string {
  return NEEDS_ESCAPE.test(text) ? text.replace(ESCAPED, (c) => ESCAPES[c]!) : text
}

function field(value: unknown, row: number, column: number): string {
  if (value === null || value === undefined) return '\\N'
  switch (typeof value) {
    case 'string':
      return escape(value)
    case 'number':
      return Number.isFinite(value) ? String(value) : Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity'
    case 'bigint':
      return String(value)
    case 'boolean':
      return value ? 't' : 'f'
    case 'object':
      return escape(literal(value, row, column))
    default:
      throw new TypeError(`copyRows(): row ${row}, column ${column + 1}: a ${typeof value} has no COPY form`)
  }
}

/** An object's text as PostgreSQL reads it (before COPY's escapes). */
function literal(value: object, row: number, column: number): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError(`copyRows(): row ${row}, column ${column + 1}: an invalid Date`)
    return value.toISOString()
  }
  if (value instanceof Uint8Array) return '\\x' + Buffer.from(value.buffer, value.byteOffset, value.length).toString('hex')
  if (Array.isArray(value)) return arrayLiteral(value, row, column)
  return JSON.stringify(value)
}

function arrayLiteral(values: readonly unknown[], row: number, column: number): string {
  const items = values.map((item) => {
    if (item === null || item === undefined) return 'NULL'
    if (Array.isArray(item)) return arrayLiteral(item, row, column)
    const text =
      typeof item === 'string' ? item : typeof item === 'object' ? literal(item, row, column) : field(item, row, column)
    return NEEDS_QUOTE.test(text) ? `"${text.replace(/["\\]/g, '\\$&')}"` : text
  })
  return `{${items.join(',')}}`
}
