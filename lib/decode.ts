// Rows arrive as one Buffer of DataRow bodies (per value: int32 length, -1 for NULL, then the
// bytes); each column's decoder is chosen once per result from its type and wire format.

import type { NativeField, NativeResult } from './native'

/** One result column, in pg's shape. */
export interface FieldDef {
  name: string
  tableID: number
  columnID: number
  dataTypeID: number
  dataTypeSize: number
  dataTypeModifier: number
  format: 'text' | 'binary'
}

type Decoder = (buf: Buffer, start: number, end: number) => unknown

const FORMAT_BINARY = 1

// Type OIDs (pg_type.oid) of the types decoded specially.
const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  jsonb: 3802,
} as const

const utf8: Decoder = (buf, start, end) => buf.toString('utf8', start, end)

const binaryDecoders: Record<number, Decoder> = {
  [OID.bool]: (buf, start) => buf[start] !== 0,
  [OID.int2]: (buf, start) => buf.readInt16BE(start),
  [OID.int4]: (buf, start) => buf.readInt32BE(start),
  [OID.oid]: (buf, start) => buf.readUInt32BE(start),
  [OID.float4]: (buf, start) => buf.readFloatBE(start),
  [OID.float8]: (buf, start) => buf.readDoubleBE(start),
  // int8 is a string by default: a JavaScript number cannot hold every int8 exactly.
  [OID.int8]: int8AsString,
}

const textDecoders: Record<number, Decoder> = {
  [OID.json]: (buf, start, end) => JSON.parse(buf.toString('utf8', start, end)),
  [OID.jsonb]: (buf, start, end) => JSON.parse(buf.toString('utf8', start, end)),
  [OID.bytea]: (buf, start, end) => Buffer.from(buf.toString('latin1', start + 2, end), 'hex'),
}

function int8AsString(buf: Buffer, start: number): string {
  const high = buf.readInt32BE(start)
  // Within ±2^52 the value is exact as a number, and String() is cheaper than a BigInt.
  if (high < 0x100000 && high >= -0x100000) return String(high * 0x100000000 + buf.readUInt32BE(start + 4))
  return buf.readBigInt64BE(start).toString()
}

function decoderFor(field: NativeField): Decoder {
  const table = field.format === FORMAT_BINARY ? binaryDecoders : textDecoders
  const decoder = table[field.dataTypeId]
  if (decoder) return decoder
  if (field.format === FORMAT_BINARY) {
    // The engine asks for binary only for types decoded above; anything else is a bug there.
    throw new Error(`pgtide: no binary decoder for type ${field.dataTypeId}`)
  }
  // Types without a decoder of their own arrive as PostgreSQL's text form.
  return utf8
}

export function fieldDefs(fields: NativeField[]): FieldDef[] {
  return fields.map((f) => ({
    name: f.name,
    tableID: f.tableId,
    columnID: f.columnId,
    dataTypeID: f.dataTypeId,
    dataTypeSize: f.dataTypeSize,
    dataTypeModifier: f.dataTypeModifier,
    format: f.format === FORMAT_BINARY ? 'binary' : 'text',
  }))
}

/** Decodes every row of a native result into objects keyed by column name. */
export function decodeRows<R>(result: NativeResult): R[] {
  const count = result.rowsLength
  const rows: R[] = new Array(count)
  if (count === 0) return rows
  const fields = result.fields
  const width = fields.length
  const names = fields.map((f) => f.name)
  const decoders = fields.map(decoderFor)
  const buf = result.rows
  let at = 0
  for (let r = 0; r < count; r++) {
    const row: Record<string, unknown> = {}
    for (let c = 0; c < width; c++) {
      const length = buf.readInt32BE(at)
      at += 4
      if (length < 0) {
        row[names[c]!] = null
      } else {
        row[names[c]!] = decoders[c]!(buf, at, at + length)
        at += length
      }
    }
    rows[r] = row as R
  }
  return rows
}
