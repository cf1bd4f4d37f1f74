// Rows of a text-format result for pgtide/pg, parsed the way pg parses them: every value decoded
// from UTF-8 once, then given to its column's type parser (none for types without one).
//
// As in ../decode.ts, each result shape gets generated code: a straight-line read of every
// column and one object (or array) literal per row. The source depends only on the column names,
// the row mode and which columns have a parser; the parsers themselves are arguments of a
// factory compiled once per shape, so a query with parsers of its own (pg's per-query `types`,
// which Drizzle and Prisma pass on every query) costs a closure, not a compilation.

import { propertyKey } from '../decode'
import { int32, type SlicingBuffer } from '../types/decoder'
import { noParse, type TypeParser } from './types'

/** The part of a result column these rows need (pg's FieldDef has both). */
export interface TextField {
  readonly name: string
  readonly dataTypeID: number
}

/** The parser of a type OID; undefined (or pg's `noParse`) for the text unchanged. */
export type ParserLookup = (oid: number) => TypeParser<string> | undefined

/** pg's `rowMode`: objects keyed by column name, or arrays in column order. */
export type RowMode = 'object' | 'array'

/** Decodes `count` DataRow bodies (per value: int32 length, -1 for NULL, then the bytes). */
export type TextRowsDecoder = (buf: Buffer, count: number) => unknown[]

type RowsFactory = (...parsers: TypeParser<string>[]) => TextRowsDecoder

/** Shapes remembered; the oldest is forgotten past this (as ../decode.ts). */
const MAX_SHAPES = 500
/** Parser sets remembered per column array: a statement's default and a few per-query ones. */
const MAX_PARSER_SETS = 4

const factories = new Map<string, RowsFactory>()

interface Compiled {
  readonly mode: RowMode
  readonly parsers: readonly (TypeParser<string> | undefined)[]
  readonly decode: TextRowsDecoder
}

/** By a statement's shared (frozen) column array: a repeated query finds its decoder here. */
const byFields = new WeakMap<readonly TextField[], Compiled[]>()

/**
 * The row decoder for `fields` with the parsers `parserFor` gives now. Parsers are looked up on
 * every call (N lookups), so a parser set later by setTypeParser, or given per query, applies.
 * In object mode a later column wins a repeated name, as pg; array mode keeps every column.
 */
export function textRowsDecoder(
  fields: readonly TextField[],
  parserFor: ParserLookup,
  mode: RowMode = 'object',
): TextRowsDecoder {
  const parsers = fields.map((f) => {
    const parser = parserFor(f.dataTypeID)
    return parser === noParse ? undefined : parser
  })
  let known = byFields.get(fields)
  const hit = known?.find((c) => c.mode === mode && sameParsers(c.parsers, parsers))
  if (hit) return hit.decode

  const decode = factoryFor(fields, parsers, mode)(...parsers.filter((p) => p !== undefined))
  if (!known) {
    known = []
    byFields.set(fields, known)
  }
  if (known.length >= MAX_PARSER_SETS) known.shift()
  known.push({ mode, parsers, decode })
  return decode
}

function sameParsers(a: readonly (TypeParser<string> | undefined)[], b: readonly (TypeParser<string> | undefined)[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function factoryFor(fields: readonly TextField[], parsers: readonly (TypeParser<string> | undefined)[], mode: RowMode): RowsFactory {
  let key: string = mode
  fields.forEach((f, c) => (key += (parsers[c] ? '\0p' : '\0-') + f.name))
  let factory = factories.get(key)
  if (!factory) {
    const names = fields.map((f) => f.name)
    const parsed = parsers.map((p) => p !== undefined)
    try {
      factory = generatedFactory(names, parsed, mode)
    } catch {
      // Code generation is off (--disallow-code-generation-from-strings): the generic loop.
      factory = genericFactory(names, parsed, mode)
    }
    if (factories.size >= MAX_SHAPES) factories.delete(factories.keys().next().value!)
    factories.set(key, factory)
  }
  return factory
}

function generatedFactory(names: string[], parsed: boolean[], mode: RowMode): RowsFactory {
  const parameters: string[] = []
  const lines = ['return function decodeTextRows(buf, count) {', '  const rows = new Array(count)', '  let at = 0, size = 0']
  lines.push('  for (let r = 0; r < count; r++) {')
  names.forEach((_, c) => {
    const text = 'buf.utf8Slice(at, at + size)'
    if (parsed[c]) parameters.push(`p${c}`)
    lines.push(
      '    size = (buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]',
      '    at += 4',
      `    let v${c} = null`,
      `    if (size >= 0) { v${c} = ${parsed[c] ? `p${c}(${text})` : text}; at += size }`,
    )
  })
  const values = names.map((_, c) => `v${c}`)
  const row =
    mode === 'array' ? `[${values.join(', ')}]` : `{ ${names.map((name, c) => `${propertyKey(name)}: v${c}`).join(', ')} }`
  lines.push(`    rows[r] = ${row}`, '  }', '  return rows', '}')
  // The names enter the source only as JSON string literals; the parsers only as arguments.
  return new Function(...parameters, lines.join('\n')) as RowsFactory
}

function genericFactory(names: string[], parsed: boolean[], mode: RowMode): RowsFactory {
  const width = names.length
  return (...given) => {
    // Back to one slot per column, undefined for the columns read as text.
    const parsers: (TypeParser<string> | undefined)[] = []
    let next = 0
    for (let c = 0; c < width; c++) parsers.push(parsed[c] ? given[next++] : undefined)
    return (buf, count) => {
      const rows: unknown[] = new Array(count)
      let at = 0
      for (let r = 0; r < count; r++) {
        const values: unknown[] = new Array(width)
        for (let c = 0; c < width; c++) {
          const size = int32(buf, at)
          at += 4
          let value: unknown = null
          if (size >= 0) {
            const text = (buf as SlicingBuffer).utf8Slice(at, at + size)
            const parser = parsers[c]
            value = parser ? parser(text) : text
            at += size
          }
          values[c] = value
        }
        rows[r] = mode === 'array' ? values : objectOf(names, values)
      }
      return rows
    }
  }
}

function objectOf(names: string[], values: unknown[]): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  names.forEach((name, c) => {
    const value = values[c]
    if (name === '__proto__') Object.defineProperty(row, name, { value, writable: true, enumerable: true, configurable: true })
    else row[name] = value
  })
  return row
}
