// The async pools: every method returns a Promise. The engine owns every algorithm; these
// classes convert options, wrap connections and run the user's `connection()` callback.

import { AsyncConnection, checkSql, streamedQuery, type QueryResult, type Row } from './connection'
import type { ResultDecoder } from './decode'
import { fromNative, nativeAsync, native } from './errors'
import { leakOrigin, watchForLeak } from './leaks'
import type { NativeConnection } from './native'
import { BasePool, connectionOptionsOf } from './pool-base'
import { createAsyncNativePool, type NativePool } from './pool-native'
import { encodeParams } from './params'
import {
  callOptions,
  numberArgument,
  poolOptionsFrom,
  type AsyncPoolOptions,
  type CallOptions,
  type Conninfo,
} from './pool-options'
import { withSignal } from './signal'
import { asyncLeasedRows, streamRequest, type PoolStreamOptions } from './stream'
import { copyToArgument, type CopySource } from './copy'
import type { AsyncPipeline } from './pipeline'
import { PoolListener, type ListenHandler, type Unlisten } from './listen'
import { checkoutChannel, queryChannel } from './tracing'

const ABORTED_WAITING = 'the request for a connection was aborted'

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function'
}

/** A pool of `AsyncConnection`s with psycopg_pool's behaviour. */
export class AsyncConnectionPool extends BasePool {
  /** @internal The engine's kind of pool for this class. */
  protected static readonly kind: 'regular' | 'null' = 'regular'

  /** `conninfo`: a libpq URL or `key=value` string, or a function returning one (called per attempt). */
  constructor(conninfo?: Conninfo, options?: AsyncPoolOptions<AsyncConnectionPool>) {
    const normalised = poolOptionsFrom(new.target.kind, conninfo, options)
    const connectionOptions = connectionOptionsOf(normalised)
    super(
      native(() => createAsyncNativePool(normalised, (c) => new AsyncConnection(c, connectionOptions), () => this)),
      connectionOptions,
      normalised.conninfo,
    )
    if (normalised.open) native(() => this.native.open())
  }

  /** Starts filling the pool; with `wait`, resolves once it is ready. */
  async open({ wait = false, timeout = 30 }: { wait?: boolean; timeout?: number } = {}): Promise<void> {
    numberArgument(timeout, "open() option 'timeout'")
    native(() => this.native.open())
    if (wait) await this.wait(timeout)
  }

  /** Resolves once `minSize` connections are ready; on timeout closes the pool and throws PoolTimeout. */
  async wait(timeout = 30): Promise<void> {
    await nativeAsync(this.native.wait(numberArgument(timeout, 'wait() timeout')))
  }

  /** Closes the pool: waiting clients get PoolClosed, checked-out connections close when returned. */
  async close(timeout = 5): Promise<void> {
    await this.listener?.close()
    await nativeAsync(this.native.close(numberArgument(timeout, 'close() timeout')))
  }

  /**
   * Runs `fn` with a connection: commits if it returns, rolls back if it throws, and always
   * returns the connection to the pool.
   */
  connection<T>(fn: (conn: AsyncConnection) => Promise<T> | T, options?: CallOptions): Promise<T> {
    // Plain Promise chains, no async frames: a block costs the checkout's Promise (none when a
    // connection is idle), fn's, and the return's (none when it needs no I/O).
    let taken: AsyncConnection | Promise<AsyncConnection>
    try {
      if (typeof fn !== 'function') throw new TypeError(`connection() needs a function, not ${typeof fn}`)
      const origin = this.detectsLeaks ? leakOrigin(this.connection) : undefined
      taken = this.checkout(callOptions(options, 'connection()'), origin)
    } catch (error) {
      return Promise.reject(error)
    }
    if (taken instanceof Promise) return taken.then((conn) => this.runBlock(conn, fn))
    return this.runBlock(taken, fn)
  }

  /** `fn` on a connection taken for it, then the commit (or rollback) and the return. */
  private runBlock<T>(conn: AsyncConnection, fn: (conn: AsyncConnection) => Promise<T> | T): Promise<T> {
    let outcome: Promise<T> | T
    try {
      outcome = fn(conn)
    } catch (error) {
      return this.afterFailure(conn, error)
    }
    if (!isThenable(outcome)) return this.afterSuccess(conn, outcome)
    return Promise.resolve(outcome).then(
      (result) => this.afterSuccess(conn, result),
      (error: unknown) => this.afterFailure(conn, error),
    )
  }

  private afterSuccess<T>(conn: AsyncConnection, result: T): Promise<T> {
    let returning: Promise<void> | undefined
    try {
      returning = this.finishUse(conn, true)
    } catch (error) {
      return Promise.reject(error)
    }
    return returning ? returning.then(() => result) : Promise.resolve(result)
  }

  private afterFailure<T>(conn: AsyncConnection, error: unknown): Promise<T> {
    const returning = this.finishUse(conn, false)
    return returning ? returning.then(() => Promise.reject(error)) : Promise.reject(error)
  }

  /**
   * Commit or rollback, then return: nothing to wait for when the engine did it at once. A
   * failed commit is the block's error; after a throw, the block's own error wins.
   */
  private finishUse(conn: AsyncConnection, succeeded: boolean): Promise<void> | undefined {
    let pending: Promise<void> | undefined | null
    try {
      pending = this.native.finishUse(conn.native, succeeded)
    } catch (error) {
      if (succeeded) throw fromNative(error)
      return undefined
    }
    if (!pending) return undefined
    return pending.then(undefined, (error: unknown) => {
      if (succeeded) throw fromNative(error)
    })
  }

  /**
   * Runs one statement on a connection of the pool: `connection((conn) => conn.query(sql,
   * params))` in one call, the connection taken, committed (or rolled back) and returned by the
   * engine. `timeout` in seconds, for the wait for a connection (default: the pool's); `signal`
   * aborts the wait, or cancels the statement on the server.
   */
  query<R = Row>(sql: string, params?: readonly unknown[], options?: CallOptions): Promise<QueryResult<R>> {
    let decoder: ResultDecoder | undefined
    let encoded: Buffer
    let call: CallOptions
    try {
      call = callOptions(options, 'query()')
      decoder = this.directQueries()
      if (decoder === undefined) {
        const signal = call.signal
        return this.connection((conn) => conn.query<R>(sql, params, signal && { signal }), options)
      }
      encoded = encodeParams(params)
      checkSql(sql)
    } catch (error) {
      return Promise.reject(fromNative(error))
    }
    if (!queryChannel.hasSubscribers) return this.directQuery<R>(decoder, sql, encoded, call)
    const message = { sql, params, pool: this.name, server: this.tracedServer() }
    return queryChannel.tracePromise(() => this.directQuery<R>(decoder, sql, encoded, call), message)
  }

  private directQuery<R>(decoder: ResultDecoder, sql: string, encoded: Buffer, { timeout, signal }: CallOptions) {
    if (signal === undefined) {
      return streamedQuery<R>(decoder, (streamId) => this.native.query(sql, encoded, timeout, streamId))
    }
    return withSignal(signal, 'the query was aborted', (abort) =>
      streamedQuery<R>(decoder, (streamId) =>
        this.native.queryAbortable(sql, encoded, timeout, streamId, undefined, abort),
      ),
    )
  }

  /**
   * The rows of one statement on a connection of the pool, read `batchSize` at a time as the
   * loop takes them. The connection is taken at the first row and given back when the
   * iteration ends, however it ends: committed when read to the end, rolled back when stopped
   * early (`break`, a throw, `return()`, `signal`) or failed, as `connection()` does.
   */
  stream<R = Row>(sql: string, params?: readonly unknown[], options?: PoolStreamOptions): AsyncIterableIterator<R> {
    const request = streamRequest(sql, params, options, 'stream()')
    const origin = this.detectsLeaks ? leakOrigin(this.stream) : undefined
    return asyncLeasedRows(
      () => this.checkout({ timeout: request.timeout, signal: request.signal }, origin),
      (conn, completed) => this.finishUse(conn, completed),
      (conn) => conn.streamRequested<R>(request),
    )
  }

  /**
   * `copyFrom()` on a connection of the pool, held for the COPY only: committed when the COPY
   * succeeds, rolled back when it fails, as `connection()` does.
   */
  copyFrom(sql: string, source: CopySource, options?: CallOptions): Promise<number> {
    return this.connection((conn) => conn.copyFrom(sql, source), options)
  }

  /**
   * `copyTo()` on a connection of the pool, taken at the first Buffer and given back when the
   * loop ends (committed when read to the end, rolled back when stopped early or failed).
   */
  copyTo(sql: string, options?: CallOptions): AsyncIterableIterator<Buffer> {
    copyToArgument(sql)
    const call = callOptions(options, 'copyTo()')
    const origin = this.detectsLeaks ? leakOrigin(this.copyTo) : undefined
    return asyncLeasedRows(
      () => this.checkout(call, origin),
      (conn, completed) => this.finishUse(conn, completed),
      (conn) => conn.copyTo(sql),
    )
  }

  /** `pipeline()` on a connection of the pool, held for the pipeline only (committed, or rolled back when it fails). */
  pipeline<T>(fn: (p: AsyncPipeline) => T | Promise<T>, options?: CallOptions): Promise<T> {
    return this.connection((conn) => conn.pipeline(fn), options)
  }

  private listener: PoolListener<AsyncConnection> | undefined

  /**
   * Calls `handler` with each notification on `channel`, received by one connection of the pool
   * kept for all its channels. If that connection is lost, another LISTENs again and the
   * handler gets a `reconnected` event (notifications may have been missed). Resolves once
   * listening, to a function that stops it.
   */
  listen(channel: string, handler: ListenHandler): Promise<Unlisten> {
    this.listener ??= new PoolListener(
      // Held for as long as anyone listens, on purpose: never reported as a leak.
      () => this.checkout({}, undefined),
      (conn) => this.putconn(conn),
    )
    return this.listener.listen(channel, handler)
  }

  /** Stops `handler` on `channel` (every handler of it, without one); the last channel gives the connection back. */
  async unlisten(channel: string, handler?: ListenHandler): Promise<void> {
    await this.listener?.unlisten(channel, handler)
  }

  /** @internal The engine's pool, for `pgtide/pg`'s queries in pg's terms (text results, simple protocol). */
  get engine(): NativePool {
    return this.native
  }

  /**
   * Takes a connection; give it back with `putconn()`. `timeout` in seconds (default: the
   * pool's), given alone or as `{ timeout, signal }`.
   */
  async getconn(options?: number | CallOptions): Promise<AsyncConnection> {
    const origin = this.detectsLeaks ? leakOrigin(this.getconn) : undefined
    const call =
      typeof options === 'object' ? callOptions(options, 'getconn()') : { timeout: numberArgument(options, 'getconn() timeout', true) }
    return this.checkout(call, origin)
  }

  /** A checkout, traced while `pgtide:checkout` has a subscriber. */
  private checkout(call: CallOptions, origin: string | undefined): AsyncConnection | Promise<AsyncConnection> {
    if (!checkoutChannel.hasSubscribers) return this.take(call, origin)
    const message = { pool: this.name, timeout: call.timeout }
    return checkoutChannel.tracePromise(async () => this.take(call, origin), message)
  }

  /** A ready connection comes back directly, with no trip through the runtime. */
  private take({ timeout, signal }: CallOptions, origin: string | undefined): AsyncConnection | Promise<AsyncConnection> {
    if (signal !== undefined) {
      return withSignal(signal, ABORTED_WAITING, (abort) => nativeAsync(this.native.getconnAbortable(timeout, abort))).then(
        (conn) => this.handedOut(conn, origin),
      )
    }
    const ready = native(() => this.native.getconn(timeout))
    if (!(ready instanceof Promise)) return this.handedOut(ready, origin)
    return ready.then(
      (conn) => this.handedOut(conn, origin),
      (error: unknown) => {
        throw fromNative(error)
      },
    )
  }

  private handedOut(conn: NativeConnection, origin: string | undefined): AsyncConnection {
    if (origin !== undefined) watchForLeak(this.native, conn, origin)
    return new AsyncConnection(conn, this.connectionOptions)
  }

  /** Gives a connection back: it is rolled back if needed and reused, or replaced. */
  async putconn(conn: AsyncConnection): Promise<void> {
    if (!(conn instanceof AsyncConnection)) throw new TypeError('putconn() takes a connection from getconn()')
    const pending = native(() => this.native.putconn(conn.native))
    if (pending) await nativeAsync(pending)
  }

  /** Tests every idle connection, replacing the broken and the expired ones. */
  async check(): Promise<void> {
    await this.native.check()
  }

  /** Replaces every connection: idle ones now, checked-out ones when they come back. */
  async drain(): Promise<void> {
    await this.native.drain()
  }

  /** This thread's face of a pool another thread `share()`d. */
  static attach(handle: number): AsyncConnectionPool {
    return BasePool.attachTo(this.prototype, handle)
  }

  /** psycopg's `check_connection`: an empty query; throws if the connection is broken. */
  static async checkConnection(conn: AsyncConnection): Promise<void> {
    await nativeAsync(conn.native.checkConnection())
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/**
 * An async pool that keeps no idle connection: each client gets a new connection, or one
 * handed over by a client that returns it while others wait. `maxSize` (0 = unlimited) bounds
 * the connections open at once.
 */
export class AsyncNullConnectionPool extends AsyncConnectionPool {
  /** @internal */
  protected static override readonly kind = 'null' as const

  constructor(conninfo?: Conninfo, options?: AsyncPoolOptions<AsyncNullConnectionPool>) {
    super(conninfo, options as AsyncPoolOptions<AsyncConnectionPool>)
  }
}
