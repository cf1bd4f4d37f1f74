// The connections users hold: `AsyncConnection` (Promises) and `Connection` (blocking), two
// faces of one native connection. Everything here is shape; the behaviour is in the engine.

import { fieldDefs, ResultDecoder, type FieldDef } from './decode'
import { native, nativeAsync } from './errors'
import { binding, type NativeConnection, type NativeResult } from './native'
import { encodeParams } from './params'
import { connectionOptionsFrom, type ConnectionOptions } from './options'

export type Row = Record<string, unknown>

/** What `query()` returns, in pg's shape. */
export interface QueryResult<R = Row> {
  rows: R[]
  /** The row count the command reports (rows selected, inserted, updated...), or null. */
  rowCount: number | null
  /** The command's verb: `SELECT`, `INSERT`, `UPDATE`, `CREATE`... */
  command: string
  fields: FieldDef[]
}

export type TransactionStatus = 'idle' | 'active' | 'intrans' | 'inerror' | 'unknown'

function toQueryResult<R>(result: NativeResult, decoder: ResultDecoder): QueryResult<R> {
  return {
    rows: decoder.rows<R>(result),
    rowCount: result.rowCount ?? null,
    command: result.command,
    fields: fieldDefs(result.fields),
  }
}

function checkSql(sql: unknown): string {
  if (typeof sql !== 'string') throw new TypeError(`query text must be a string, not ${typeof sql}`)
  return sql
}

/** What both connection faces share: state getters over the native connection. */
abstract class BaseConnection {
  protected readonly native: NativeConnection
  /** Decodes results by the connection's `types` option. */
  protected readonly decoder: ResultDecoder

  protected constructor(nativeConnection: NativeConnection, decoder: ResultDecoder) {
    this.native = nativeConnection
    this.decoder = decoder
  }

  /** The server process serving this connection (`pg_backend_pid()`). */
  get backendPid(): number {
    return this.native.backendPid
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.native.closed
  }

  /** True when the connection was lost (the server went away or the network failed). */
  get broken(): boolean {
    return this.native.broken
  }

  /** The server's transaction status, as of the last exchange; `active` while one runs. */
  get transactionStatus(): TransactionStatus {
    return this.native.transactionStatus as TransactionStatus
  }

  /** Off by default, as in psycopg: the first statement opens a transaction. */
  get autocommit(): boolean {
    return this.native.autocommit
  }

  /** Throws ProgrammingError inside a transaction. */
  set autocommit(on: boolean) {
    if (typeof on !== 'boolean') throw new TypeError(`autocommit must be a boolean, not ${typeof on}`)
    native(() => this.native.setAutocommit(on))
  }
}

/** A connection whose operations return Promises. */
export class AsyncConnection extends BaseConnection {
  /** Opens a connection; `conninfo` is a libpq URL or `key=value` string (default: libpq's environment). */
  static async connect(conninfo: string = '', options: ConnectionOptions = {}): Promise<AsyncConnection> {
    const { autocommit, types } = connectionOptionsFrom(options)
    if (typeof conninfo !== 'string') throw new TypeError(`conninfo must be a string, not ${typeof conninfo}`)
    return new AsyncConnection(await nativeAsync(binding.connect(conninfo, autocommit)), ResultDecoder.for(types))
  }

  /** Runs one statement with `$1..$n` placeholders. */
  async query<R = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    const encoded = encodeParams(params)
    return toQueryResult<R>(await nativeAsync(this.native.query(checkSql(sql), encoded)), this.decoder)
  }

  /** Runs a script of one or more statements, with no parameters and no rows. */
  async exec(sql: string): Promise<void> {
    await nativeAsync(this.native.exec(checkSql(sql)))
  }

  async commit(): Promise<void> {
    await nativeAsync(this.native.commit())
  }

  async rollback(): Promise<void> {
    await nativeAsync(this.native.rollback())
  }

  /** Asks the server to cancel the statement this connection runs (a no-op when idle). */
  async cancel(): Promise<void> {
    await nativeAsync(this.native.cancel())
  }

  /** Closes the connection; an open transaction is rolled back by the server. */
  async close(): Promise<void> {
    await this.native.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** A connection whose operations block the calling thread until the server answers. */
export class Connection extends BaseConnection {
  /** Opens a connection; `conninfo` is a libpq URL or `key=value` string (default: libpq's environment). */
  static connect(conninfo: string = '', options: ConnectionOptions = {}): Connection {
    const { autocommit, types } = connectionOptionsFrom(options)
    if (typeof conninfo !== 'string') throw new TypeError(`conninfo must be a string, not ${typeof conninfo}`)
    return new Connection(native(() => binding.connectSync(conninfo, autocommit)), ResultDecoder.for(types))
  }

  /** Runs one statement with `$1..$n` placeholders. */
  query<R = Row>(sql: string, params?: readonly unknown[]): QueryResult<R> {
    const encoded = encodeParams(params)
    return toQueryResult<R>(native(() => this.native.querySync(checkSql(sql), encoded)), this.decoder)
  }

  /** Runs a script of one or more statements, with no parameters and no rows. */
  exec(sql: string): void {
    native(() => this.native.execSync(checkSql(sql)))
  }

  commit(): void {
    native(() => this.native.commitSync())
  }

  rollback(): void {
    native(() => this.native.rollbackSync())
  }

  /**
   * Asks the server to cancel the statement this connection runs. A sync connection blocks while
   * it runs a statement, so this is for another thread holding the same connection, or for idle use.
   */
  cancel(): void {
    native(() => this.native.cancelSync())
  }

  /** Closes the connection; an open transaction is rolled back by the server. */
  close(): void {
    this.native.closeSync()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
