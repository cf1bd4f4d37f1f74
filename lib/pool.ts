// The pools users hold. Each is a thin face over one NativePool: the engine owns every
// algorithm (queueing, growth, returns, reconnection, stats); these classes convert options,
// wrap connections and run the user's `connection()` callback.

import { AsyncConnection } from './connection'
import { nativeAsync, native } from './errors'
import { binding, type NativeConnection, type NativeStats } from './native'
import { connectionOptionsFrom, type ConnectionOptions } from './options'
import {
  poolOptionsFrom,
  type AsyncPoolOptions,
  type Conninfo,
  type LogLevel,
  type NormalisedPoolOptions,
  type PoolLogger,
} from './pool-options'

/** All 15 keys, always present (psycopg's names in camelCase). */
export type PoolStats = NativeStats

type NativePool = InstanceType<typeof binding.NativePool>

interface NativeConnectParams {
  conninfo: string
  autocommit: boolean
}

const LOG_METHOD = { debug: 'debug', info: 'info', warning: 'warn' } as const

/** Builds the engine's pool from normalised options; shared by every pool class. */
function createNativePool<C, P>(
  options: NormalisedPoolOptions<C, P>,
  wrap: (native: NativeConnection) => C,
  self: () => P,
): NativePool {
  const log = (level: string, message: string) => {
    const method = LOG_METHOD[level as LogLevel]
    options.logger[method]?.call(options.logger, { pool: options.name }, message)
  }
  const hook = (fn: ((conn: C) => unknown) | undefined) =>
    fn && ((conn: NativeConnection) => Promise.resolve().then(async () => { await fn(wrap(conn)) }) as Promise<undefined>)
  const reconnectFailed =
    options.reconnectFailed &&
    (async (): Promise<undefined> => {
      try {
        await options.reconnectFailed!(self())
      } catch (error) {
        log('warning', `reconnectFailed callback failed: ${String(error)}`)
      }
      return undefined
    })
  return new binding.NativePool(
    {
      null: options.null,
      name: options.name,
      minSize: options.minSize,
      maxSize: options.maxSize,
      numWorkers: options.numWorkers,
      closeReturns: options.closeReturns,
      timeout: options.timeout,
      maxWaiting: options.maxWaiting,
      maxLifetime: options.maxLifetime,
      maxIdle: options.maxIdle,
      reconnectTimeout: options.reconnectTimeout,
      logLevel: options.logLevel,
    },
    connectParams(options.conninfo, options.connectionOptions),
    hook(options.configure),
    hook(options.check),
    hook(options.reset),
    reconnectFailed,
    log,
  )
}

/** Fixed parameters, or a function the engine calls at every connection attempt. */
function connectParams(
  conninfo: Conninfo,
  connectionOptions: NormalisedPoolOptions<unknown, unknown>['connectionOptions'],
): NativeConnectParams | (() => Promise<NativeConnectParams>) {
  if (typeof conninfo === 'string' && typeof connectionOptions !== 'function') {
    return { conninfo, autocommit: connectionOptions.autocommit }
  }
  return async () => {
    const resolved = typeof conninfo === 'function' ? await conninfo() : conninfo
    if (typeof resolved !== 'string') {
      throw new TypeError(`the conninfo function must return a string, not ${typeof resolved}`)
    }
    const extra = typeof connectionOptions === 'function' ? connectionOptionsFrom(await connectionOptions()) : connectionOptions
    return { conninfo: resolved, autocommit: extra.autocommit }
  }
}

/** A pool of `AsyncConnection`s with psycopg_pool's behaviour; every method returns a Promise. */
export class AsyncConnectionPool {
  readonly #native: NativePool

  /** `conninfo`: a libpq URL or `key=value` string, or a function returning one (called per attempt). */
  constructor(conninfo?: Conninfo, options?: AsyncPoolOptions<AsyncConnectionPool>) {
    const normalised = poolOptionsFrom('regular', conninfo, options)
    this.#native = native(() => createNativePool(normalised, (c) => new AsyncConnection(c), () => this))
    if (normalised.open) this.#native.open()
  }

  get name(): string {
    return this.#native.name
  }

  get minSize(): number {
    return this.#native.minSize
  }

  get maxSize(): number {
    return this.#native.maxSize
  }

  /** True before `open()` and after `close()`. */
  get closed(): boolean {
    return this.#native.closed
  }

  /** Starts filling the pool; with `wait`, resolves once `minSize` connections are ready. */
  async open({ wait = false, timeout = 30 }: { wait?: boolean; timeout?: number } = {}): Promise<void> {
    native(() => this.#native.open())
    if (wait) await this.wait(timeout)
  }

  /** Resolves once `minSize` connections are ready; on timeout closes the pool and throws PoolTimeout. */
  async wait(timeout = 30): Promise<void> {
    await nativeAsync(this.#native.wait(timeout))
  }

  /** Closes the pool: waiting clients get PoolClosed, checked-out connections close when returned. */
  async close(timeout = 5): Promise<void> {
    await this.#native.close(timeout)
  }

  /**
   * Runs `fn` with a connection: commits if it returns, rolls back if it throws, and always
   * returns the connection to the pool.
   */
  async connection<T>(fn: (conn: AsyncConnection) => Promise<T> | T, { timeout }: { timeout?: number } = {}): Promise<T> {
    const conn = await this.getconn(timeout)
    let succeeded = false
    try {
      const result = await fn(conn)
      succeeded = true
      return result
    } finally {
      const finished = this.#native.finishUse(conn.native, succeeded)
      // A failed commit is the block's error; after a throw, the block's own error wins.
      if (succeeded) await nativeAsync(finished)
      else await finished.catch(() => {})
    }
  }

  /** Takes a connection; give it back with `putconn()`. `timeout` in seconds (default: the pool's). */
  async getconn(timeout?: number): Promise<AsyncConnection> {
    return new AsyncConnection(await nativeAsync(this.#native.getconn(timeout)))
  }

  /** Gives a connection back: it is rolled back if needed and reused, or replaced. */
  async putconn(conn: AsyncConnection): Promise<void> {
    if (!(conn instanceof AsyncConnection)) throw new TypeError('putconn() takes a connection from getconn()')
    await nativeAsync(native(() => this.#native.putconn(conn.native)))
  }

  /** Changes the sizes; growth starts at once, shrinking happens over `maxIdle` periods. */
  resize(minSize: number, maxSize?: number): void {
    native(() => this.#native.resize(minSize, maxSize))
  }

  /** Tests every idle connection, replacing the broken and the expired ones. */
  async check(): Promise<void> {
    await this.#native.check()
  }

  /** Replaces every connection: idle ones now, checked-out ones when they come back. */
  async drain(): Promise<void> {
    await this.#native.drain()
  }

  getStats(): PoolStats {
    return this.#native.getStats()
  }

  /** The stats, then resets the counters. */
  popStats(): PoolStats {
    return this.#native.popStats()
  }

  /** psycopg's `check_connection`: an empty query; throws if the connection is broken. */
  static async checkConnection(conn: AsyncConnection): Promise<void> {
    await nativeAsync(conn.native.checkConnection())
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

export type { AsyncPoolOptions, Conninfo, LogLevel, PoolLogger, ConnectionOptions }

