// Rows arrive as one Buffer of DataRow bodies (per value: int32 length, -1 for NULL, then the
// bytes). Each result shape (column names, types, formats) gets one row-decoding function,
// generated once and cached: a straight-line read of every column and one object literal per
// row, so V8 builds every row with the same hidden class and calls each column's decoder from
// a call site of its own. A json or jsonb column is parsed whole, once per result
// (lib/json-column.ts), before the rows are built.

import type { NativeField } from './native'
import { jsonColumn, JSON_BATCH_LIMIT } from './json-column'
import { DEFAULT_TYPE_SETTINGS, TypeDecoders, type Decoder, type TypeSettings } from './types'
import { JSON_TEXT_AFTER } from './types/binary'
import { int32 } from './types/decoder'

/** One result column, in pg's shape; every result of a statement shares them (frozen). */
export type FieldDef = NativeField

type RowsDecoder = (buf: Buffer, count: number) => unknown[]

/** Result shapes remembered per type configuration; the oldest is forgotten past this. */
const MAX_SHAPES = 500

/** Decodes results for one type configuration; shared by every connection that has it. */
export class ResultDecoder {
  private static readonly bySettings = new Map<string, ResultDecoder>()
  /** The same by settings object: a pool's wrappers all pass its one object, once per checkout. */
  private static readonly bySettingsObject = new WeakMap<TypeSettings, ResultDecoder>()

  static for(settings: TypeSettings = DEFAULT_TYPE_SETTINGS): ResultDecoder {
    let decoder = ResultDecoder.bySettingsObject.get(settings)
    if (decoder) return decoder
    // Normalised settings have their keys in one order, so equal settings give one key.
    const key = JSON.stringify(settings)
    decoder = ResultDecoder.bySettings.get(key)
    if (!decoder) {
      decoder = new ResultDecoder(new TypeDecoders(settings))
      ResultDecoder.bySettings.set(key, decoder)
    }
    ResultDecoder.bySettingsObject.set(settings, decoder)
    return decoder
  }

  /** Decoders by result shape (column names, types and formats). */
  private readonly shapes = new Map<string, RowsDecoder>()
  /** The same, by a statement's shared column array: a repeated query's lookup. */
  private readonly byFields = new WeakMap<readonly NativeField[], RowsDecoder>()

  private constructor(private readonly types: TypeDecoders) {}

  /** Rows as objects keyed by column name (a later column wins a name). */
  rows<R>(fields: readonly NativeField[], buf: Buffer, count: number): R[] {
    if (count === 0) return []
    let decode = this.byFields.get(fields)
    if (!decode) {
      decode = this.shapeOf(fields)
      this.byFields.set(fields, decode)
    }
    return decode(buf, count) as R[]
  }

  private shapeOf(fields: readonly NativeField[]): RowsDecoder {
    let key = ''
    for (const f of fields) key += f.dataTypeID + ':' + f.format + ':' + f.name + '\0'
    let decode = this.shapes.get(key)
    if (!decode) {
      decode = this.compile(fields)
      if (this.shapes.size >= MAX_SHAPES) this.shapes.delete(this.shapes.keys().next().value!)
      this.shapes.set(key, decode)
    }
    return decode
  }

  private compile(fields: readonly NativeField[]): RowsDecoder {
    const names = fields.map((f) => f.name)
    const decoders = fields.map((f) => this.types.decoderFor(f.dataTypeID, f.format === 'binary' ? 1 : 0))
    try {
      return generatedRows(names, decoders)
    } catch {
      // Code generation is off (--disallow-code-generation-from-strings): the generic loop.
      return genericRows(names, decoders)
    }
  }
}

/** A property key in source form; `__proto__` computed, so it is an own property, not the prototype. */
export function propertyKey(name: string): string {
  return name === '__proto__' ? '["__proto__"]' : JSON.stringify(name)
}

function generatedRows(names: string[], decoders: Decoder[]): RowsDecoder {
  // Columns of JSON text: parsed whole (jsonColumn) when the result is not too large for one text.
  const jsonSkip = decoders.map((d) => JSON_TEXT_AFTER.get(d))
  const batched = jsonSkip.some((skip) => skip !== undefined)
  const lines = ['return function decodeRows(buf, count) {']
  if (batched) {
    lines.push('  const whole = buf.length <= batchLimit')
    jsonSkip.forEach((skip, c) => {
      if (skip !== undefined) lines.push(`  const j${c} = whole ? jsonColumn(buf, count, ${names.length}, ${c}, ${skip}) : null`)
    })
  }
  lines.push('  const rows = new Array(count)', '  let at = 0, size = 0')
  lines.push('  for (let r = 0; r < count; r++) {')
  names.forEach((_, c) => {
    lines.push(
      '    size = (buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]',
      '    at += 4',
      `    let v${c} = null`,
    )
    if (jsonSkip[c] === undefined) lines.push(`    if (size >= 0) { v${c} = d${c}(buf, at, at + size); at += size }`)
    else lines.push(`    if (j${c} !== null) v${c} = j${c}[r]`, `    else if (size >= 0) v${c} = d${c}(buf, at, at + size)`, '    if (size > 0) at += size')
  })
  lines.push(`    rows[r] = { ${names.map((name, c) => `${propertyKey(name)}: v${c}`).join(', ')} }`)
  lines.push('  }', '  return rows', '}')
  const parameters = [...decoders.map((_, c) => `d${c}`), 'jsonColumn', 'batchLimit']
  // The names enter the source only as JSON string literals; the decoders only as arguments.
  return new Function(...parameters, lines.join('\n'))(...decoders, jsonColumn, JSON_BATCH_LIMIT) as RowsDecoder
}

function genericRows(names: string[], decoders: Decoder[]): RowsDecoder {
  const width = names.length
  return (buf, count) => {
    const rows: unknown[] = new Array(count)
    let at = 0
    for (let r = 0; r < count; r++) {
      const row: Record<string, unknown> = {}
      for (let c = 0; c < width; c++) {
        const size = int32(buf, at)
        at += 4
        let value: unknown = null
        if (size >= 0) {
          value = decoders[c]!(buf, at, at + size)
          at += size
        }
        const name = names[c]!
        if (name === '__proto__') Object.defineProperty(row, name, { value, writable: true, enumerable: true, configurable: true })
        else row[name] = value
      }
      rows[r] = row
    }
    return rows
  }
}
