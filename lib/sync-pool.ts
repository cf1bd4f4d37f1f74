// The blocking pools: every method returns when the work is done. They share the engine with
// the async pools; their hooks are plain functions run on this thread, inside the calls.

import { checkSql, Connection, toQueryResult, type QueryResult, type Row } from './connection'
import { native } from './errors'
import { leakOrigin, watchForLeak } from './leaks'
import { BasePool, connectionOptionsOf } from './pool-base'
import { createSyncNativePool } from './pool-native'
import { encodeParams } from './params'
import {
  callOptions,
  numberArgument,
  poolOptionsFrom,
  type CallOptions,
  type Conninfo,
  type SyncPoolOptions,
} from './pool-options'
import { abortError } from './signal'
import { streamRequest, syncLeasedRows, type PoolStreamOptions } from './stream'
import { copyToArgument, type CopyChunk } from './copy'
import type { SyncPipeline } from './pipeline'
import { PoolListener, type ListenHandler, type Unlisten } from './listen'
import { checkoutChannel, queryChannel } from './tracing'

/**
 * A sync call blocks its thread, so no event can fire during it: a signal can only stop it if
 * it is aborted before the call.
 */
function refuseAborted({ signal }: CallOptions, message: string): void {
  if (signal?.aborted) throw abortError(signal, message)
}

/** A pool of blocking `Connection`s with psycopg_pool's behaviour. */
export class ConnectionPool extends BasePool {
  /** @internal The engine's kind of pool for this class. */
  protected static readonly kind: 'regular' | 'null' = 'regular'

  /** `conninfo`: a libpq URL or `key=value` string, or a function returning one. */
  constructor(conninfo?: Conninfo, options?: SyncPoolOptions<ConnectionPool>) {
    const normalised = poolOptionsFrom(new.target.kind, conninfo, options)
    const connectionOptions = connectionOptionsOf(normalised)
    super(
      native(() => createSyncNativePool(normalised, (c) => new Connection(c, connectionOptions), () => this)),
      connectionOptions,
      normalised.conninfo,
    )
    if (normalised.open) native(() => this.native.open())
  }

  /** Starts filling the pool; with `wait`, returns once it is ready. */
  open({ wait = false, timeout = 30 }: { wait?: boolean; timeout?: number } = {}): void {
    numberArgument(timeout, "open() option 'timeout'")
    native(() => this.native.open())
    if (wait) this.wait(timeout)
  }

  /** Returns once `minSize` connections are ready; on timeout closes the pool and throws PoolTimeout. */
  wait(timeout = 30): void {
    native(() => this.native.waitSync(numberArgument(timeout, 'wait() timeout')))
  }

  /** Closes the pool: waiting clients get PoolClosed, checked-out connections close when returned. */
  close(timeout = 5): void {
    this.listener?.closeNow()
    native(() => this.native.closeSync(numberArgument(timeout, 'close() timeout')))
  }

  /**
   * Runs one statement on a connection of the pool: `connection((conn) => conn.query(sql,
   * params))` in one call, the connection taken, committed (or rolled back) and returned by the
   * engine. `timeout` in seconds, for the wait for a connection (default: the pool's). The
   * thread blocks meanwhile, so `signal` only stops a call it was aborted before.
   */
  query<R = Row>(sql: string, params?: readonly unknown[], options?: CallOptions): QueryResult<R> {
    const call = callOptions(options, 'query()')
    refuseAborted(call, 'the query was aborted')
    const decoder = this.directQueries()
    if (decoder === undefined) return this.connection((conn) => conn.query<R>(sql, params), options)
    const encoded = encodeParams(params)
    checkSql(sql)
    const run = () => toQueryResult<R>(native(() => this.native.querySync(sql, encoded, call.timeout)), decoder)
    if (!queryChannel.hasSubscribers) return run()
    return queryChannel.traceSync(run, { sql, params, pool: this.name, server: this.tracedServer() })
  }

  /**
   * Runs `fn` with a connection: commits if it returns, rolls back if it throws, and always
   * returns the connection to the pool.
   */
  connection<T>(fn: (conn: Connection) => T, options?: CallOptions): T {
    if (typeof fn !== 'function') throw new TypeError(`connection() needs a function, not ${typeof fn}`)
    const origin = this.detectsLeaks ? leakOrigin(this.connection) : undefined
    const conn = this.take(callOptions(options, 'connection()'), origin)
    let succeeded = false
    try {
      const result = fn(conn)
      succeeded = true
      return result
    } finally {
      this.finishUse(conn, succeeded)
    }
  }

  /** Commit or rollback, then return. A failed commit is the block's error; after a throw, the block's own error wins. */
  private finishUse(conn: Connection, succeeded: boolean): void {
    if (succeeded) native(() => this.native.finishUseSync(conn.native, true))
    else {
      try {
        this.native.finishUseSync(conn.native, false)
      } catch {
        // the block's own error wins
      }
    }
  }

  /**
   * The rows of one statement on a connection of the pool, read `batchSize` at a time as the
   * loop takes them (the thread blocks during a read). The connection is taken at the first
   * row and given back when the iteration ends, however it ends: committed when read to the
   * end, rolled back when stopped early (`break`, a throw, `return()`, `signal`) or failed.
   */
  stream<R = Row>(sql: string, params?: readonly unknown[], options?: PoolStreamOptions): IterableIterator<R> {
    const request = streamRequest(sql, params, options, 'stream()')
    const origin = this.detectsLeaks ? leakOrigin(this.stream) : undefined
    return syncLeasedRows(
      () => this.take({ timeout: request.timeout, signal: request.signal }, origin),
      (conn, completed) => this.finishUse(conn, completed),
      (conn) => conn.streamRequested<R>(request),
    )
  }

  /** `copyFrom()` on a connection of the pool, held for the COPY only (committed, or rolled back when it fails). */
  copyFrom(sql: string, source: Iterable<CopyChunk>, options?: CallOptions): number {
    return this.connection((conn) => conn.copyFrom(sql, source), options)
  }

  /** `copyTo()` on a connection of the pool, taken at the first Buffer and given back when the loop ends. */
  copyTo(sql: string, options?: CallOptions): IterableIterator<Buffer> {
    copyToArgument(sql)
    const call = callOptions(options, 'copyTo()')
    const origin = this.detectsLeaks ? leakOrigin(this.copyTo) : undefined
    return syncLeasedRows(
      () => this.take(call, origin),
      (conn, completed) => this.finishUse(conn, completed),
      (conn) => conn.copyTo(sql),
    )
  }

  /** `pipeline()` on a connection of the pool, held for the pipeline only (committed, or rolled back when it fails). */
  pipeline<T>(fn: (p: SyncPipeline) => T, options?: CallOptions): T {
    return this.connection((conn) => conn.pipeline(fn), options)
  }

  private listener: PoolListener<Connection> | undefined

  /**
   * `AsyncConnectionPool.listen()` for a sync pool: the handler runs on the event loop (between
   * blocking calls), and taking or re-taking the listening connection blocks briefly.
   */
  listen(channel: string, handler: ListenHandler): Promise<Unlisten> {
    this.listener ??= new PoolListener<Connection>(
      // Held for as long as anyone listens, on purpose: never reported as a leak.
      () => this.take({}, undefined),
      (conn) => this.putconn(conn),
    )
    return this.listener.listen(channel, handler)
  }

  /** Stops `handler` on `channel` (every handler of it, without one); the last channel gives the connection back. */
  async unlisten(channel: string, handler?: ListenHandler): Promise<void> {
    await this.listener?.unlisten(channel, handler)
  }

  /**
   * Takes a connection, blocking until one is ready; give it back with `putconn()`. `timeout`
   * in seconds, given alone or as `{ timeout, signal }`.
   */
  getconn(options?: number | CallOptions): Connection {
    const origin = this.detectsLeaks ? leakOrigin(this.getconn) : undefined
    const call =
      typeof options === 'object' ? callOptions(options, 'getconn()') : { timeout: numberArgument(options, 'getconn() timeout', true) }
    return this.take(call, origin)
  }

  private take(call: CallOptions, origin: string | undefined): Connection {
    refuseAborted(call, 'the request for a connection was aborted')
    const checkout = () => {
      const conn = native(() => this.native.getconnSync(call.timeout))
      if (origin !== undefined) watchForLeak(this.native, conn, origin)
      return new Connection(conn, this.connectionOptions)
    }
    if (!checkoutChannel.hasSubscribers) return checkout()
    return checkoutChannel.traceSync(checkout, { pool: this.name, timeout: call.timeout })
  }

  /** Gives a connection back: it is rolled back if needed and reused, or replaced. */
  putconn(conn: Connection): void {
    if (!(conn instanceof Connection)) throw new TypeError('putconn() takes a connection from getconn()')
    native(() => this.native.putconnSync(conn.native))
  }

  /** Tests every idle connection, replacing the broken and the expired ones. */
  check(): void {
    this.native.checkSync()
  }

  /** Replaces every connection: idle ones now, checked-out ones when they come back. */
  drain(): void {
    this.native.drainSync()
  }

  /** This thread's face of a pool another thread `share()`d. */
  static attach(handle: number): ConnectionPool {
    return BasePool.attachTo(this.prototype, handle)
  }

  /** psycopg's `check_connection`: an empty query; throws if the connection is broken. */
  static checkConnection(conn: Connection): void {
    native(() => conn.native.checkConnectionSync())
  }

  [Symbol.dispose](): void {
    this.close()
  }
}

/**
 * A blocking pool that keeps no idle connection: each client gets a new connection, or one
 * handed over by a client that returns it while others wait.
 */
export class NullConnectionPool extends ConnectionPool {
  /** @internal */
  protected static override readonly kind = 'null' as const

  constructor(conninfo?: Conninfo, options?: SyncPoolOptions<NullConnectionPool>) {
    super(conninfo, options as SyncPoolOptions<ConnectionPool>)
  }
}
