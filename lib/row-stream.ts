// Rows of a large result arrive in chunks before the result itself (src/rows.rs): decoding
// them as they come overlaps the decoding with the server still sending. Each async query
// takes a number; its chunks are decoded into its entry here and joined with the last rows
// when the result settles.

import type { ResultDecoder } from './decode'
import { binding, type NativeField } from './native'

interface Early {
  decoder: ResultDecoder
  chunks: unknown[][]
}

const early = new Map<number, Early>()
let lastId = 0

binding.setRowSink((id: number, fields: unknown[], rows: Buffer, count: number) => {
  const entry = early.get(id)
  if (entry !== undefined) entry.chunks.push(entry.decoder.rows(fields as readonly NativeField[], rows, count))
})

/** A number for a query whose early rows `decoder` decodes. */
export function streamRows(decoder: ResultDecoder): number {
  lastId = lastId >= 0x7fffffff ? 1 : lastId + 1
  early.set(lastId, { decoder, chunks: [] })
  return lastId
}

/** The query's rows: its early chunks, if any, then `last`; forgets the query. */
export function joinRows<R>(id: number, last: R[]): R[] {
  const entry = early.get(id)
  early.delete(id)
  if (entry === undefined || entry.chunks.length === 0) return last
  return (entry.chunks[0] as R[]).concat(...(entry.chunks.slice(1) as R[][]), last)
}

/** Forgets a query that failed. */
export function dropRows(id: number): void {
  early.delete(id)
}
