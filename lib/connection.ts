// The connections users hold: `AsyncConnection` (Promises) and `Connection` (blocking), two
// faces of one native connection. Everything here is shape; the behaviour is in the engine.

import { ResultDecoder, type FieldDef } from './decode'
import { AbortError, fromNative, native, nativeAsync } from './errors'
import { binding, type NativeConnection, type NativeConnectOptions, type NativeResult } from './native'
import { deliverNotices, NotificationFanOut, type Notification } from './notifications'
import { encodeParams } from './params'
import { dropRows, joinRows, streamRows } from './row-stream'
import { asyncRows, streamRequest, syncRows, type StreamOptions, type StreamRequest } from './stream'
import {
  copyFromArguments,
  copyFromAsync,
  copyFromSync,
  copyToArgument,
  copyToAsync,
  copyToSync,
  type CopyChunk,
  type CopySource,
} from './copy'
import { asyncPipeline, syncPipeline, type AsyncPipeline, type SyncPipeline } from './pipeline'
import { connectionOptionsFrom, type ConnectionOptions, type NormalisedConnectionOptions } from './options'
import { connectChannel, queryChannel, serverOf, serverOfConnection, type QueryMessage } from './tracing'

export type Row = Record<string, unknown>

/** What `query()` returns, in pg's shape. */
export interface QueryResult<R = Row> {
  rows: R[]
  /** The row count the command reports (rows selected, inserted, updated, copied...), or null. */
  rowCount: number | null
  /** The command's verb: `SELECT`, `INSERT`, `UPDATE`, `CREATE`, `COPY`... ('' for an empty query). */
  command: string
  /** The columns, shared by every result of the statement (frozen). */
  fields: readonly FieldDef[]
}

/** Per-query options. */
export interface QueryOptions {
  /** Aborting it stops the query: cancelled on the server if it runs; the query rejects with an AbortError. */
  signal?: AbortSignal
}

export type TransactionStatus = 'idle' | 'active' | 'intrans' | 'inerror' | 'unknown'

/** @internal A native result as `query()` returns it (after the early rows of `streamId`'s query). */
export function toQueryResult<R>(result: unknown[], decoder: ResultDecoder, streamId?: number): QueryResult<R> {
  const [command, rowCount, fields, rows, rowsLength] = result as NativeResult
  const last = decoder.rows<R>(fields, rows, rowsLength)
  return { rows: streamId === undefined ? last : joinRows(streamId, last), rowCount, command, fields }
}

/**
 * @internal An async query whose arguments are checked: `send` starts it under a number for its
 * early rows, and the result comes with them. It chains on the native Promise directly (no
 * async frames of its own); a send that throws forgets the number.
 */
export function streamedQuery<R>(decoder: ResultDecoder, send: (streamId: number) => Promise<unknown[]>): Promise<QueryResult<R>> {
  const streamId = streamRows(decoder)
  let pending: Promise<unknown[]>
  try {
    pending = send(streamId)
  } catch (error) {
    dropRows(streamId)
    return Promise.reject(fromNative(error))
  }
  return pending.then(
    (result) => toQueryResult<R>(result, decoder, streamId),
    (error: unknown) => {
      dropRows(streamId)
      throw fromNative(error)
    },
  )
}

/** @internal */
export function checkSql(sql: unknown): string {
  if (typeof sql !== 'string') throw new TypeError(`query text must be a string, not ${typeof sql}`)
  return sql
}

/** The options the engine needs (the callbacks stay on this side). */
function nativeOptionsFrom(options: NormalisedConnectionOptions): NativeConnectOptions {
  return {
    autocommit: options.autocommit,
    statementCacheSize: options.statementCacheSize,
    tls: options.tls,
    statementTimeout: options.statementTimeout,
  }
}

function checkConninfo(conninfo: unknown): string {
  if (typeof conninfo !== 'string') throw new TypeError(`conninfo must be a string, not ${typeof conninfo}`)
  return conninfo
}

function checkTransactionFunction(fn: unknown): void {
  if (typeof fn !== 'function') throw new TypeError(`transaction() needs a function, not ${typeof fn}`)
}

/** The signal of a query's options, checked. */
function signalFrom(options: QueryOptions | undefined): AbortSignal | undefined {
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`query options must be an object, not ${options === null ? 'null' : typeof options}`)
  }
  const signal = options.signal
  if (signal === undefined) return undefined
  if (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function') {
    throw new TypeError(`query option 'signal' must be an AbortSignal`)
  }
  return signal
}

function abortError(signal: AbortSignal): AbortError {
  return new AbortError('the query was aborted', { cause: signal.reason })
}

/** What both connection faces share: state getters and server messages over the native connection. */
abstract class BaseConnection {
  /** @internal */
  readonly native: NativeConnection
  /** Decodes results by the connection's `types` option. */
  protected readonly decoder: ResultDecoder
  private readonly fanOut: NotificationFanOut

  /**
   * @internal Connections are made by `connect()` or handed out by a pool (whose connections
   * take their notice and notification callbacks from its `connectionOptions`).
   */
  constructor(nativeConnection: NativeConnection, options: NormalisedConnectionOptions = connectionOptionsFrom({})) {
    this.native = nativeConnection
    this.decoder = ResultDecoder.for(options.types)
    deliverNotices(nativeConnection, options.onNotice)
    this.fanOut = new NotificationFanOut(nativeConnection, options.onNotification)
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

  /**
   * The notifications (`LISTEN`/`NOTIFY`) that arrive from now on, also while the connection is
   * idle, until the loop breaks or the connection closes (a lost connection throws). While one
   * is open, the connection keeps the Node process alive.
   */
  notifications(): AsyncIterableIterator<Notification> {
    return this.fanOut.iterate()
  }

  protected closedNotifications(): void {
    this.fanOut.closed()
  }

  /** @internal The `pgtide:query` message of a statement on this connection. */
  protected queryMessage(sql: string, params: readonly unknown[] | undefined): QueryMessage {
    return { sql, params, server: serverOfConnection(this.native) }
  }
}

/** A connection whose operations return Promises. */
export class AsyncConnection extends BaseConnection {
  /** Opens a connection; `conninfo` is a libpq URL or `key=value` string (default: libpq's environment). */
  static async connect(conninfo: string = '', options: ConnectionOptions = {}): Promise<AsyncConnection> {
    const checked = connectionOptionsFrom(options)
    const open = async () => {
      const nativeConnection = await nativeAsync(binding.connect(checkConninfo(conninfo), nativeOptionsFrom(checked)))
      return new AsyncConnection(nativeConnection, checked)
    }
    if (!connectChannel.hasSubscribers) return open()
    return connectChannel.tracePromise(open, serverOf(conninfo))
  }

  /** Runs one statement with `$1..$n` placeholders; `signal` aborts it. */
  query<R = Row>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    let encoded: Buffer
    let signal: AbortSignal | undefined
    try {
      encoded = encodeParams(params)
      checkSql(sql)
      signal = signalFrom(options)
    } catch (error) {
      return Promise.reject(fromNative(error))
    }
    const run = () =>
      signal !== undefined
        ? this.abortableQuery<R>(sql, encoded, signal)
        : streamedQuery<R>(this.decoder, (streamId) => this.native.query(sql, encoded, streamId))
    if (!queryChannel.hasSubscribers) return run()
    return queryChannel.tracePromise(run, this.queryMessage(sql, params))
  }

  private async abortableQuery<R>(sql: string, encoded: Buffer, signal: AbortSignal): Promise<QueryResult<R>> {
    if (signal.aborted) throw abortError(signal)
    const request = native(() => this.native.request())
    const onAbort = () => {
      request.abort().catch(() => {}) // a cancel that cannot be delivered changes nothing for the caller
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      // A query that finished before the cancel landed resolves normally: an abort never hides work done.
      return toQueryResult<R>(await nativeAsync(request.query(sql, encoded)), this.decoder)
    } catch (error) {
      throw signal.aborted ? abortError(signal) : error
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * The rows of one statement, read from the server `batchSize` at a time as the loop takes
   * them, so memory stays bounded whatever the result's size. Ending the loop early (`break`,
   * a throw, `return()`) or aborting `signal` closes the portal; the connection stays usable.
   * While the stream is open the connection runs nothing else: other calls on it wait.
   */
  stream<R = Row>(sql: string, params?: readonly unknown[], options?: StreamOptions): AsyncIterableIterator<R> {
    return this.streamRequested<R>(streamRequest(sql, params, options, 'stream()'))
  }

  /** @internal A stream whose arguments are checked. */
  streamRequested<R>(request: StreamRequest): AsyncIterableIterator<R> {
    return asyncRows<R>(this.native, this.decoder, request)
  }

  /**
   * Runs a `COPY ... FROM STDIN` with the data of `source` (a Readable, an async iterable or an
   * iterable of Buffers or strings; `copyRows()` makes it from rows of values) and resolves to
   * the rows copied. If the source fails, the COPY is aborted (nothing of it is written) and
   * the source's error rethrown; the connection stays usable either way.
   */
  async copyFrom(sql: string, source: CopySource): Promise<number> {
    copyFromArguments(sql, source, false)
    return copyFromAsync(this.native, sql, source)
  }

  /**
   * The data of a `COPY ... TO STDOUT` (text, csv or binary) as Buffers, read from the server
   * only as the loop takes them; `Readable.from(conn.copyTo(sql))` makes it a Readable. Ending
   * the loop early cancels the COPY. While it runs the connection runs nothing else.
   */
  copyTo(sql: string): AsyncIterableIterator<Buffer> {
    return copyToAsync(this.native, copyToArgument(sql))
  }

  /**
   * Pipeline mode: the statements `fn` queues with `p.query()` go to the server without
   * waiting for each answer, and their Promises resolve in order. An error aborts the
   * statements after it up to the next `p.sync()` (or the end); resolves to `fn`'s value, or
   * rejects with the first statement error. The connection runs nothing else meanwhile.
   */
  pipeline<T>(fn: (p: AsyncPipeline) => T | Promise<T>): Promise<T> {
    return asyncPipeline(this.native, (result) => toQueryResult(result, this.decoder), fn)
  }

  /** Runs a script of one or more statements, with no parameters and no rows. */
  async exec(sql: string): Promise<void> {
    await nativeAsync(this.native.exec(checkSql(sql)))
  }

  /**
   * Runs `fn` in a transaction block: commits when it returns (or its Promise resolves), rolls
   * back and rethrows when it throws. Nested blocks are savepoints, so an inner failure undoes
   * the inner block only.
   */
  async transaction<T>(fn: (conn: this) => T | Promise<T>): Promise<T> {
    checkTransactionFunction(fn)
    await nativeAsync(this.native.enterTransaction())
    let result: T
    try {
      result = await fn(this)
    } catch (error) {
      // The body's error is what the caller needs; a failed rollback (a lost connection) adds nothing.
      await this.native.exitTransaction(false).catch(() => {})
      throw error
    }
    await nativeAsync(this.native.exitTransaction(true))
    return result
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
    await nativeAsync(this.native.close())
    this.closedNotifications()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** A connection whose operations block the calling thread until the server answers. */
export class Connection extends BaseConnection {
  /** Opens a connection; `conninfo` is a libpq URL or `key=value` string (default: libpq's environment). */
  static connect(conninfo: string = '', options: ConnectionOptions = {}): Connection {
    const checked = connectionOptionsFrom(options)
    const open = () => {
      const nativeConnection = native(() => binding.connectSync(checkConninfo(conninfo), nativeOptionsFrom(checked)))
      return new Connection(nativeConnection, checked)
    }
    if (!connectChannel.hasSubscribers) return open()
    return connectChannel.traceSync(open, serverOf(conninfo))
  }

  /**
   * Runs one statement with `$1..$n` placeholders. The thread blocks while it runs, so a signal
   * can only stop it before it starts (an already-aborted signal throws an AbortError).
   */
  query<R = Row>(sql: string, params?: readonly unknown[], options?: QueryOptions): QueryResult<R> {
    const encoded = encodeParams(params)
    checkSql(sql)
    const signal = signalFrom(options)
    if (signal?.aborted) throw abortError(signal)
    const run = () => toQueryResult<R>(native(() => this.native.querySync(sql, encoded)), this.decoder)
    if (!queryChannel.hasSubscribers) return run()
    return queryChannel.traceSync(run, this.queryMessage(sql, params))
  }

  /**
   * The rows of one statement, read from the server `batchSize` at a time as the loop takes
   * them (the thread blocks during a read). Ending the loop early (`break`, a throw,
   * `return()`) closes the portal; `signal` is looked at between rows, as a blocked thread
   * sees no event. While the stream is open the connection runs nothing else.
   */
  stream<R = Row>(sql: string, params?: readonly unknown[], options?: StreamOptions): IterableIterator<R> {
    return this.streamRequested<R>(streamRequest(sql, params, options, 'stream()'))
  }

  /** @internal A stream whose arguments are checked. */
  streamRequested<R>(request: StreamRequest): IterableIterator<R> {
    return syncRows<R>(this.native, this.decoder, request)
  }

  /**
   * Runs a `COPY ... FROM STDIN` with the data of `source` (an iterable of Buffers or strings;
   * `copyRows()` makes it from rows of values) and returns the rows copied. If the source
   * throws, the COPY is aborted (nothing of it is written) and the error rethrown.
   */
  copyFrom(sql: string, source: Iterable<CopyChunk>): number {
    copyFromArguments(sql, source, true)
    return copyFromSync(this.native, sql, source)
  }

  /** The data of a `COPY ... TO STDOUT` as Buffers, read as the loop takes them (the thread blocks during a read). */
  copyTo(sql: string): IterableIterator<Buffer> {
    return copyToSync(this.native, copyToArgument(sql))
  }

  /**
   * Pipeline mode: the statements `fn` queues with `p.query()` are sent in one go when a
   * result is first looked at (`.result`) or at the end; an error aborts the statements after
   * it up to the next `p.sync()`. Returns `fn`'s value, or throws the first statement error.
   */
  pipeline<T>(fn: (p: SyncPipeline) => T): T {
    return syncPipeline(this.native, (result) => toQueryResult(result, this.decoder), fn)
  }

  /** Runs a script of one or more statements, with no parameters and no rows. */
  exec(sql: string): void {
    native(() => this.native.execSync(checkSql(sql)))
  }

  /**
   * Runs `fn` in a transaction block: commits when it returns, rolls back and rethrows when it
   * throws. Nested blocks are savepoints. `fn` must be synchronous (use AsyncConnection for
   * async work): a returned Promise is rolled back and refused with a TypeError.
   */
  transaction<T>(fn: (conn: this) => T): T {
    checkTransactionFunction(fn)
    native(() => this.native.enterTransactionSync())
    let result: T
    try {
      result = fn(this)
      if (result instanceof Promise) {
        result.catch(() => {}) // its outcome no longer matters: the block is rolled back
        throw new TypeError(
          'the function given to Connection.transaction() returned a Promise; use AsyncConnection for async work',
        )
      }
    } catch (error) {
      try {
        this.native.exitTransactionSync(false)
      } catch {
        // The body's error is what the caller needs; a failed rollback (a lost connection) adds nothing.
      }
      throw error
    }
    native(() => this.native.exitTransactionSync(true))
    return result
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
    native(() => this.native.closeSync())
    this.closedNotifications()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
