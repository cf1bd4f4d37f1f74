// Building the engine's pool from normalised options: the one place where the user's hooks,
// conninfo function and logger become what the binding takes.

import type { AsyncConnection, Connection } from './connection'
import { binding, type NativeConnection } from './native'
import { connectionOptionsFrom, type NormalisedTls } from './options'
import { callSafely, isThenable, settleQuietly } from './user-code'
import type { LogLevel, NormalisedPoolOptions } from './pool-options'

export type NativePool = InstanceType<typeof binding.NativePool>

interface NativeConnectParams {
  conninfo: string
  autocommit: boolean
  statementCacheSize: number
  tls?: NormalisedTls
  statementTimeout?: number
}

const LOG_METHOD = { debug: 'debug', info: 'info', warning: 'warn' } as const

function nativeOptions(options: NormalisedPoolOptions<never, never>) {
  return {
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
    leakDetectionThreshold: options.leakDetectionThreshold,
    pipelining: options.pipelining,
    idleOrder: options.idleOrder,
    logLevel: options.logLevel,
  }
}

/** Log records to the user's logger; a logger that throws is reported, never crashes the process. */
function logTo(options: NormalisedPoolOptions<never, never>) {
  const { logger } = options
  return (level: string, message: string): void => {
    const method = logger[LOG_METHOD[level as LogLevel]]
    if (typeof method === 'function') callSafely(`the logger of pool '${options.name}'`, () => method.call(logger, { pool: options.name }, message))
  }
}

/** `reconnectFailed` never throws into the engine: a failure is logged. */
function reconnectFailedOf<P>(options: NormalisedPoolOptions<never, P>, pool: () => P) {
  const callback = options.reconnectFailed
  if (!callback) return undefined
  const log = logTo(options)
  return async (): Promise<undefined> => {
    try {
      await callback(pool())
    } catch (error) {
      log('warning', `reconnectFailed callback failed: ${String(error)}`)
    }
    return undefined
  }
}

function paramsFrom(conninfo: unknown, connectionOptions: unknown): NativeConnectParams {
  if (typeof conninfo !== 'string') {
    throw new TypeError(`the conninfo function must return a string, not ${typeof conninfo}`)
  }
  const { autocommit, statementCacheSize, tls, statementTimeout } = connectionOptionsFrom(connectionOptions as object)
  return { conninfo, autocommit, statementCacheSize, tls, statementTimeout }
}

export function createAsyncNativePool<P>(
  options: NormalisedPoolOptions<AsyncConnection, P>,
  wrap: (native: NativeConnection) => AsyncConnection,
  pool: () => P,
): NativePool {
  const { conninfo, connectionOptions } = options
  const connect =
    typeof conninfo === 'string' && typeof connectionOptions !== 'function'
      ? paramsFrom(conninfo, connectionOptions)
      : async () =>
          paramsFrom(
            typeof conninfo === 'function' ? await conninfo() : conninfo,
            typeof connectionOptions === 'function' ? await connectionOptions() : connectionOptions,
          )
  const hook = (fn: ((conn: AsyncConnection) => unknown) | undefined) =>
    fn &&
    (async (native: NativeConnection): Promise<undefined> => {
      await fn(wrap(native))
      return undefined
    })
  return new binding.NativePool(
    nativeOptions(options),
    connect,
    hook(options.configure),
    hook(options.check),
    hook(options.reset),
    reconnectFailedOf(options, pool),
    logTo(options),
  )
}

export function createSyncNativePool<P>(
  options: NormalisedPoolOptions<Connection, P>,
  wrap: (native: NativeConnection) => Connection,
  pool: () => P,
): NativePool {
  const { conninfo, connectionOptions } = options
  const resolve = <T>(value: T | (() => unknown), name: string): unknown => {
    if (typeof value !== 'function') return value
    const resolved = (value as () => unknown)()
    if (isThenable(resolved)) {
      settleQuietly(resolved, `the ${name} function`) // refused below; its outcome must not go unhandled
      throw new TypeError(`a sync pool's ${name} function must not return a Promise (use an async pool)`)
    }
    return resolved
  }
  const connect =
    typeof conninfo === 'string' && typeof connectionOptions !== 'function'
      ? paramsFrom(conninfo, connectionOptions)
      : () => paramsFrom(resolve(conninfo, 'conninfo'), resolve(connectionOptions, 'connectionOptions'))
  const hook = (fn: ((conn: Connection) => unknown) | undefined, name: string) =>
    fn &&
    ((native: NativeConnection): undefined => {
      const result = fn(wrap(native))
      if (isThenable(result)) {
        settleQuietly(result, `the ${name} hook`) // refused below; its outcome must not go unhandled
        throw new TypeError(`a sync pool's ${name} must be a plain function; it returned a Promise (use an async pool)`)
      }
      return undefined
    })
  return binding.NativePool.createSync(
    nativeOptions(options),
    connect,
    hook(options.configure, 'configure'),
    hook(options.check, 'check'),
    hook(options.reset, 'reset'),
    reconnectFailedOf(options, pool),
    logTo(options),
  )
}
