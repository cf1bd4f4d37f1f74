// The `pg-cursor` and `pg-query-stream` packages from npm (Knex, TypeORM and MikroORM build
// them themselves) drive node-postgres's protocol connection: parse, bind, describe, execute,
// flush, sync, close, and the client's calls back into them (handleRowDescription, ...). This
// plays that connection on the engine's cursor, so those objects run unchanged.

import { EventEmitter } from 'node:events'

import { nativeAsync } from '../errors'
import type { NativeConnection, NativeCursor, NativeField, NativeResult } from '../native'
import { encodeParams } from '../params'
import { textRowsDecoder } from './text-rows'

/** The calls such an object expects from the client that runs it. */
export interface ForeignSubmittable {
  submit(connection: unknown): void
  handleRowDescription?(message: { fields: NativeField[] }): void
  handleDataRow?(message: { fields: (string | null)[] }): void
  handlePortalSuspended?(): void
  handleCommandComplete?(message: { text: string }): void
  handleReadyForQuery?(): void
  handleError?(error: Error): void
}

/** Every value as its text (or null), in column order: what a DataRow carries in pg. */
const asText = () => undefined

function commandTag(command: string, rowCount: number | null): string {
  if (rowCount === null) return command
  return command === 'INSERT' ? `INSERT 0 ${rowCount}` : `${command} ${rowCount}`
}

/** Runs `submittable` on `native` (the caller holds the connection until it ends). */
export function runForeignSubmittable(native: NativeConnection, submittable: ForeignSubmittable): void {
  const protocol = new ProtocolConnection(native, submittable)
  submittable.submit(protocol)
}

class ProtocolConnection extends EventEmitter {
  #text = ''
  #values: readonly unknown[] | null = null
  #cursor: Promise<NativeCursor> | null = null
  /** The rows an Execute asked for, sent at the next Flush. */
  #wanted = 0
  #described = false
  /** Messages act in the order sent, as on a socket. */
  #chain: Promise<void> = Promise.resolve()

  constructor(
    private readonly native: NativeConnection,
    private readonly query: ForeignSubmittable,
  ) {
    super()
  }

  parse(message: { text: string }): void {
    this.#text = message.text
  }

  bind(message: { values?: readonly unknown[] | null }): void {
    this.#values = message.values ?? null
  }

  describe(): void {}

  execute(message: { rows?: number }): void {
    this.#wanted = message.rows ?? 0
  }

  flush(): void {
    const wanted = this.#wanted
    this.#wanted = 0
    this.#then(async () => {
      if (this.#cursor === null) {
        this.#cursor = nativeAsync(this.native.openCursor(this.#text, encodeParams(this.#values ?? undefined)))
      }
      const cursor = await this.#cursor
      if (wanted > 0) await this.#read(cursor, wanted)
    })
  }

  async #read(cursor: NativeCursor, wanted: number): Promise<void> {
    const [command, rowCount, fields, buf, length] = (await nativeAsync(cursor.read(wanted))) as NativeResult
    if (!this.#described) {
      this.#described = true
      if (fields.length > 0) {
        this.emit('rowDescription', { fields })
        this.query.handleRowDescription?.({ fields: [...fields] })
      } else {
        this.emit('noData')
      }
    }
    if (length > 0) {
      const rows = textRowsDecoder(fields, asText, 'array')(buf, length) as (string | null)[][]
      for (const row of rows) this.query.handleDataRow?.({ fields: row })
    }
    if (command === '') this.query.handlePortalSuspended?.()
    else this.query.handleCommandComplete?.({ text: commandTag(command, rowCount) })
  }

  close(): void {}

  /** Ends the exchange: the portal is closed and the connection is free for the next query. */
  sync(): void {
    this.#then(async () => {
      const cursor = this.#cursor === null ? null : await this.#cursor.catch(() => null)
      if (cursor !== null) await nativeAsync(cursor.close())
      this.emit('readyForQuery')
      this.query.handleReadyForQuery?.()
    })
  }

  end(): void {
    this.sync()
    this.#then(async () => void this.emit('end'))
  }

  #then(work: () => Promise<void>): void {
    this.#chain = this.#chain.then(work).catch((error: Error) => {
      // The query takes the error (pg-cursor then sends Sync, which ends the exchange).
      this.query.handleError?.(error)
    })
  }
}
