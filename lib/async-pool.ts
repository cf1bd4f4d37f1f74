// The async pools: every method returns a Promise. The engine owns every algorithm; these
// classes convert options, wrap connections and run the user's `connection()` callback.

import { AsyncConnection, checkSql, streamedQuery, type QueryResult, type Row } from './connection'
import type { ResultDecoder } from './decode'
import { fromNative, nativeAsync, native } from './errors'
import { BasePool, connectionOptionsOf } from './pool-base'
import { createAsyncNativePool, type NativePool } from './pool-native'
import { encodeParams } from './params'
import { numberArgument, poolOptionsFrom, timeoutOption, type AsyncPoolOptions, type Conninfo } from './pool-options'

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
    await nativeAsync(this.native.close(numberArgument(timeout, 'close() timeout')))
  }

  /**
   * Runs `fn` with a connection: commits if it returns, rolls back if it throws, and always
   * returns the connection to the pool.
   */
  async connection<T>(fn: (conn: AsyncConnection) => Promise<T> | T, options?: { timeout?: number }): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`connection() needs a function, not ${typeof fn}`)
    const taken = this.take(timeoutOption(options, 'connection()'))
    const conn = taken instanceof Promise ? await taken : taken
    let succeeded = false
    try {
      const result = await fn(conn)
      succeeded = true
      return result
    } finally {
      const returning = this.finishUse(conn, succeeded)
      if (returning) await returning
    }
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
   * engine. `timeout` in seconds, for the wait for a connection (default: the pool's).
   */
  query<R = Row>(sql: string, params?: readonly unknown[], options?: { timeout?: number }): Promise<QueryResult<R>> {
    let decoder: ResultDecoder | undefined
    let encoded: Buffer
    let timeout: number | undefined
    try {
      timeout = timeoutOption(options, 'query()')
      decoder = this.directQueries()
      if (decoder === undefined) return this.connection((conn) => conn.query<R>(sql, params), options)
      encoded = encodeParams(params)
      checkSql(sql)
    } catch (error) {
      return Promise.reject(fromNative(error))
    }
    return streamedQuery<R>(decoder, (streamId) => this.native.query(sql, encoded, timeout, streamId))
  }

  /** @internal The engine's pool, for `pgtide/pg`'s queries in pg's terms (text results, simple protocol). */
  get engine(): NativePool {
    return this.native
  }

  /** Takes a connection; give it back with `putconn()`. `timeout` in seconds (default: the pool's). */
  async getconn(timeout?: number): Promise<AsyncConnection> {
    return this.take(numberArgument(timeout, 'getconn() timeout', true))
  }

  /** A ready connection comes back directly, with no trip through the runtime. */
  private take(timeout: number | undefined): AsyncConnection | Promise<AsyncConnection> {
    const ready = native(() => this.native.getconn(timeout))
    if (!(ready instanceof Promise)) return new AsyncConnection(ready, this.connectionOptions)
    return nativeAsync(ready).then((conn) => new AsyncConnection(conn, this.connectionOptions))
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
