// pg-cursor's `Cursor` and pg-query-stream's `QueryStream`, on the engine's cursor: a query's
// rows read a batch at a time from a portal, so a result of any size keeps memory bounded.
// Submit one with `client.query(cursor)`; the client's connection is the cursor's until it ends.

import { EventEmitter } from 'node:events'
import { Readable } from 'node:stream'

import { nativeAsync } from '../errors'
import type { NativeConnection, NativeCursor, NativeField, NativeResult } from '../native'
import { encodeParams } from '../params'
import type { TypeParserSource } from './config'
import { textRowsDecoder } from './text-rows'
import { getTypeParser } from './types'

export interface CursorConfig {
  rowMode?: 'array'
  types?: TypeParserSource
}

type RowsCallback<Row> = (err: Error | null, rows?: Row[], result?: CursorResult) => void

/** What a cursor knows of its query once read: pg's Result, rows aside. */
export interface CursorResult {
  command: string | null
  rowCount: number | null
  fields: NativeField[]
}

/** The client a cursor is submitted to: its connection and its type parsers. */
interface CursorHost {
  cursorTarget(): { native: NativeConnection; types: TypeParserSource | undefined }
}

/** `Row`: the shape of its rows, as the caller knows it (as pg-cursor's types take it; unchecked). */
export class Cursor<Row = unknown> extends EventEmitter {
  readonly text: string
  readonly values: readonly unknown[] | undefined
  readonly #config: CursorConfig
  #opening: Promise<NativeCursor> | null = null
  #defaults: TypeParserSource | undefined
  #result: CursorResult = { command: null, rowCount: null, fields: [] }
  /** Reads run one after another, as pg-cursor queues them. */
  #queue: Promise<unknown> = Promise.resolve()
  #done = false

  constructor(text: string, values?: readonly unknown[], config: CursorConfig = {}) {
    super()
    if (typeof text !== 'string') throw new TypeError(`a Cursor's query text must be a string, not ${typeof text}`)
    this.text = text
    this.values = values ?? undefined
    this.#config = config
  }

  /** Called by `client.query(cursor)`: opens the portal on the client's connection. */
  submit(client: CursorHost): void {
    if (this.#opening !== null) throw new Error('this Cursor was submitted already')
    const { native, types } = client.cursorTarget()
    this.#defaults = types
    this.#opening = nativeAsync(native.openCursor(this.text, encodeParams(this.values)))
    this.#opening.catch((error: Error) => this.#fail(error))
  }

  /** The next `rowCount` rows (fewer at the end; none once done). */
  read(rowCount: number): Promise<Row[]>
  read(rowCount: number, callback: RowsCallback<Row>): void
  read(rowCount: number, callback?: RowsCallback<Row>): Promise<Row[]> | void {
    const rows = this.#enqueue(() => this.#read(rowCount) as Promise<Row[]>)
    if (callback === undefined) return rows
    rows.then(
      (got) => callback(null, got, this.#result),
      (error: Error) => callback(error),
    )
  }

  async #read(rowCount: number): Promise<unknown[]> {
    if (this.#opening === null) throw new Error('submit the Cursor with client.query(cursor) before reading it')
    if (!Number.isInteger(rowCount) || rowCount < 1) throw new RangeError(`read() takes a row count of at least 1, not ${rowCount}`)
    const cursor = await this.#opening
    if (this.#done) return []
    let batch: NativeResult
    try {
      batch = (await nativeAsync(cursor.read(rowCount))) as NativeResult
    } catch (error) {
      this.#fail(error as Error)
      throw error
    }
    const [command, count, fields, buf, length] = batch
    this.#result.fields = fields as NativeField[]
    const rows = length === 0 ? [] : this.#decode(fields, buf, length)
    for (const row of rows) this.emit('row', row, this.#result)
    if (command !== '') {
      this.#result.command = command
      this.#result.rowCount = count
      this.#done = true
      this.emit('end', this.#result)
    }
    return rows
  }

  #decode(fields: readonly NativeField[], buf: Buffer, length: number): unknown[] {
    const source = this.#config.types ?? this.#defaults
    const parserFor = source === undefined ? (oid: number) => getTypeParser(oid) : (oid: number) => source.getTypeParser(oid, 'text')
    return textRowsDecoder(fields, parserFor, this.#config.rowMode === 'array' ? 'array' : 'object')(buf, length)
  }

  /** Closes the portal, giving the connection back to the client; harmless twice. */
  close(): Promise<void>
  close(callback: (err?: Error) => void): void
  close(callback?: (err?: Error) => void): Promise<void> | void {
    const closed = this.#enqueue(async () => {
      this.#done = true
      if (this.#opening === null) return
      const cursor = await this.#opening.catch(() => null)
      if (cursor !== null) await nativeAsync(cursor.close())
    })
    if (callback === undefined) return closed
    closed.then(
      () => callback(),
      (error: Error) => callback(error),
    )
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work)
    this.#queue = next.catch(() => undefined)
    return next
  }

  #fail(error: Error): void {
    this.#done = true
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }
}

export interface QueryStreamConfig extends CursorConfig {
  /** Rows read per round trip (default: highWaterMark, 100). */
  batchSize?: number
  highWaterMark?: number
}

/** A Readable of a query's rows, read from a cursor as the consumer takes them (backpressure). */
export class QueryStream extends Readable {
  readonly cursor: Cursor
  readonly #batchSize: number

  constructor(text: string, values?: readonly unknown[], config: QueryStreamConfig = {}) {
    const { batchSize, highWaterMark = 100 } = config
    super({ objectMode: true, autoDestroy: true, highWaterMark: batchSize ?? highWaterMark })
    this.#batchSize = batchSize ?? highWaterMark
    this.cursor = new Cursor(text, values, config)
    this.cursor.on('error', (error: Error) => this.destroy(error))
  }

  /** Called by `client.query(stream)`. */
  submit(client: CursorHost): void {
    this.cursor.submit(client)
  }

  override _read(): void {
    this.cursor.read(this.#batchSize).then(
      (rows) => {
        for (const row of rows) this.push(row)
        if (rows.length < this.#batchSize) this.push(null)
      },
      (error: Error) => this.destroy(error),
    )
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.cursor.close().then(
      () => callback(error),
      (closeError: Error) => callback(error ?? closeError),
    )
  }
}
