// Pool options: psycopg's names in camelCase, checked at construction with errors that name the
// option. This side checks JavaScript types; the values of numbers (ranges, whole numbers,
// Infinity as no limit) and their defaults are the engine's rules, in one place.

import type { AsyncConnection, Connection } from './connection'
import { connectionOptionsFrom, type ConnectionOptions, type NormalisedConnectionOptions } from './options'
import { signalOption } from './signal'

/** pino-compatible: `logger.warn(obj, msg)`; any method may be missing. */
export interface PoolLogger {
  debug?(obj: object, msg: string): void
  info?(obj: object, msg: string): void
  warn?(obj: object, msg: string): void
  /** pino's level name, used to skip records the logger would drop anyway. */
  level?: string
}

export type LogLevel = 'debug' | 'info' | 'warning'

type MaybePromise<T> = T | Promise<T>

export interface PoolOptions<C, P> {
  /** Connections kept open (default 4; null pools 0, and must be 0). */
  minSize?: number
  /** Upper bound when clients wait (default: minSize; null pools 0 = unlimited). */
  maxSize?: number | null
  /** Open in the constructor, filling in the background (default true). */
  open?: boolean
  /** Runs on each new connection before it is used; must leave it idle. */
  configure?: (conn: C) => MaybePromise<void>
  /** Runs before each hand-out; a throw discards the connection and another is tried. */
  check?: (conn: C) => MaybePromise<void>
  /** Runs on each returned connection, after any rollback; must leave it idle. */
  reset?: (conn: C) => MaybePromise<void>
  /** Default `pool-N`. */
  name?: string
  /** `close()` on a checked-out connection returns it to the pool (default false). */
  closeReturns?: boolean
  /** Seconds `getconn()`/`connection()` wait by default (default 30). */
  timeout?: number
  /** Clients allowed to wait at once; 0 = unlimited (default 0). */
  maxWaiting?: number
  /** Seconds after which a connection is replaced, with 5% jitter (default 3600). */
  maxLifetime?: number
  /** Seconds an idle connection above minSize may stay unused (default 600). */
  maxIdle?: number
  /** Seconds of reconnection attempts before giving up (default 300). */
  reconnectTimeout?: number
  /**
   * Seconds a connection may stay checked out (getconn, connection) before a warning with the
   * stack of the call that took it is logged and `connectionsLeaked` counts it (HikariCP's
   * option); 0 = off (default).
   */
  leakDetectionThreshold?: number
  /**
   * Concurrent `query()` calls that would wait for a connection may share the round trip of
   * one that has a connection instead, each statement still its own implicit transaction (only
   * in autocommit, only for SELECT, INSERT, UPDATE, DELETE, MERGE, WITH, VALUES and TABLE, and
   * not with a `reset` hook). `true` (default): up to 4 statements per round trip; a number sets
   * that depth; `false` (or 1) gives every statement a connection to itself.
   */
  pipelining?: boolean | number
  /**
   * Which idle connection a request takes: `'fifo'` (default, psycopg's), the one idle longest,
   * so every connection is used in turn; `'lifo'`, the one returned last, so under a light load
   * a few backends do the work with warm caches (faster one-after-another work on a large
   * pool) while the others stay idle (closed after `maxIdle` above `minSize`).
   */
  idleOrder?: 'fifo' | 'lifo'
  /** Called when reconnection gives up. */
  reconnectFailed?: (pool: P) => MaybePromise<void>
  /** Background workers that open connections (default 3). */
  numWorkers?: number
  /** Options for each connection, or a function called at every connection attempt. */
  connectionOptions?: ConnectionOptions | (() => MaybePromise<ConnectionOptions>)
  /** Where log records go (default: warnings to the console). */
  logger?: PoolLogger
  /** The least severe record sent to the logger (default: from `logger.level`, else 'info'). */
  logLevel?: LogLevel
}

export type AsyncPoolOptions<P> = PoolOptions<AsyncConnection, P>
export type SyncPoolOptions<P> = PoolOptions<Connection, P>

export type Conninfo = string | (() => MaybePromise<string>)

const OPTION_NAMES = new Set([
  'minSize',
  'maxSize',
  'open',
  'configure',
  'check',
  'reset',
  'name',
  'closeReturns',
  'timeout',
  'maxWaiting',
  'maxLifetime',
  'maxIdle',
  'reconnectTimeout',
  'leakDetectionThreshold',
  'pipelining',
  'idleOrder',
  'reconnectFailed',
  'numWorkers',
  'connectionOptions',
  'logger',
  'logLevel',
])

/** One counter for all four classes, as psycopg's `pool-N`. */
let poolCounter = 0

export interface NormalisedPoolOptions<C, P> {
  null: boolean
  name: string
  /** Numbers as given (the engine checks them); undefined takes the engine's default. */
  minSize: number | undefined
  maxSize: number | undefined
  open: boolean
  numWorkers: number | undefined
  closeReturns: boolean
  timeout: number | undefined
  maxWaiting: number | undefined
  maxLifetime: number | undefined
  maxIdle: number | undefined
  reconnectTimeout: number | undefined
  leakDetectionThreshold: number | undefined
  /** A depth (1: off); undefined takes the engine's default. */
  pipelining: number | undefined
  /** As given (the engine checks it); undefined is FIFO. */
  idleOrder: string | undefined
  configure?: (conn: C) => MaybePromise<void>
  check?: (conn: C) => MaybePromise<void>
  reset?: (conn: C) => MaybePromise<void>
  reconnectFailed?: (pool: P) => MaybePromise<void>
  conninfo: Conninfo
  connectionOptions: NormalisedConnectionOptions | (() => MaybePromise<ConnectionOptions>)
  logger: PoolLogger
  logLevel: LogLevel
}

/** What a pool call that takes a connection accepts (`getconn`, `connection`, `query`). */
export interface CallOptions {
  /** Seconds to wait for a connection (default: the pool's `timeout`). */
  timeout?: number
  /**
   * Aborting it stops the call with an AbortError: out of the queue while it waits for a
   * connection (nothing is lost), cancelled on the server while `query()`'s statement runs.
   */
  signal?: AbortSignal
}

const NO_OPTIONS: CallOptions = Object.freeze({})

/** A call's options object (`connection()`, `query()`), checked; `getconn()` also takes a bare timeout. */
export function callOptions(options: unknown, method: string): CallOptions {
  if (options === undefined) return NO_OPTIONS
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${method} options must be an object, not ${describe(options)}`)
  }
  const { timeout, signal } = options as { timeout?: unknown; signal?: unknown }
  return {
    timeout: numberArgument(timeout, `${method} option 'timeout'`, true),
    signal: signalOption(signal, `${method} option 'signal'`),
  }
}

/** A numeric option, or undefined (unset or null) for the engine's default. */
function number(options: Record<string, unknown>, name: string): number | undefined {
  const value = options[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number') throw new TypeError(`pool option '${name}' must be a number, not ${describe(value)}`)
  return value
}

/**
 * A method's numeric argument (a timeout, a size): a number, or undefined where it is optional.
 * Its value is checked by the engine, which names `what` too.
 */
export function numberArgument(value: unknown, what: string): number
export function numberArgument(value: unknown, what: string, optional: true): number | undefined
export function numberArgument(value: unknown, what: string, optional = false): number | undefined {
  if (value === undefined && optional) return undefined
  if (typeof value !== 'number') throw new TypeError(`${what} must be a number, not ${describe(value)}`)
  return value
}

function boolean(options: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = options[name] ?? fallback
  if (typeof value !== 'boolean') throw new TypeError(`pool option '${name}' must be a boolean, not ${describe(value)}`)
  return value
}

function string(options: Record<string, unknown>, name: string): string | undefined {
  const value = options[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw new TypeError(`pool option '${name}' must be a string, not ${describe(value)}`)
  return value
}

/** `pipelining` as the depth the engine takes: `false` is 1 (off), `true` its default. */
function pipeliningOf(options: Record<string, unknown>): number | undefined {
  const value = options.pipelining
  if (value === undefined || value === null || value === true) return undefined
  if (value === false) return 1
  if (typeof value !== 'number') throw new TypeError(`pool option 'pipelining' must be a boolean or a number, not ${describe(value)}`)
  return value
}

function callback<F>(options: Record<string, unknown>, name: string): F | undefined {
  const value = options[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'function') throw new TypeError(`pool option '${name}' must be a function, not ${describe(value)}`)
  return value as F
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value)
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`
}

const defaultLogger: PoolLogger = {
  warn: (obj, msg) => console.warn(`[pgtide ${(obj as { pool?: string }).pool ?? ''}] ${msg}`),
}

function logLevelOf(options: Record<string, unknown>, logger: PoolLogger | undefined): LogLevel {
  const explicit = options.logLevel
  if (explicit !== undefined) {
    if (explicit !== 'debug' && explicit !== 'info' && explicit !== 'warning') {
      throw new TypeError(`pool option 'logLevel' must be 'debug', 'info' or 'warning', not ${describe(explicit)}`)
    }
    return explicit
  }
  if (logger === undefined) return 'warning'
  switch (logger.level) {
    case 'trace':
    case 'debug':
      return 'debug'
    case 'warn':
    case 'error':
    case 'fatal':
    case 'silent':
      return 'warning'
    default:
      return 'info'
  }
}

export function poolOptionsFrom<C, P>(
  kind: 'regular' | 'null',
  conninfo: unknown,
  input: PoolOptions<C, P> | undefined,
): NormalisedPoolOptions<C, P> {
  if (input !== undefined && (typeof input !== 'object' || input === null)) {
    throw new TypeError(`pool options must be an object, not ${describe(input)}`)
  }
  const options = (input ?? {}) as Record<string, unknown>
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new TypeError(`unknown pool option '${name}'`)
  }
  if (conninfo !== undefined && typeof conninfo !== 'string' && typeof conninfo !== 'function') {
    throw new TypeError(`conninfo must be a string or a function returning one, not ${describe(conninfo)}`)
  }
  const rawName = options.name
  if (rawName !== undefined && typeof rawName !== 'string') {
    throw new TypeError(`pool option 'name' must be a string, not ${describe(rawName)}`)
  }
  // Counted before the numWorkers check, as psycopg does.
  poolCounter += 1
  const name = rawName || `pool-${poolCounter}`
  const logger = options.logger as PoolLogger | undefined
  if (logger !== undefined && (typeof logger !== 'object' || logger === null)) {
    throw new TypeError(`pool option 'logger' must be an object with debug/info/warn methods, not ${describe(logger)}`)
  }
  const connectionOptions = options.connectionOptions
  return {
    null: kind === 'null',
    name,
    minSize: number(options, 'minSize'),
    maxSize: number(options, 'maxSize'),
    open: boolean(options, 'open', true),
    numWorkers: number(options, 'numWorkers'),
    closeReturns: boolean(options, 'closeReturns', false),
    timeout: number(options, 'timeout'),
    maxWaiting: number(options, 'maxWaiting'),
    maxLifetime: number(options, 'maxLifetime'),
    maxIdle: number(options, 'maxIdle'),
    reconnectTimeout: number(options, 'reconnectTimeout'),
    leakDetectionThreshold: number(options, 'leakDetectionThreshold'),
    pipelining: pipeliningOf(options),
    idleOrder: string(options, 'idleOrder'),
    configure: callback(options, 'configure'),
    check: callback(options, 'check'),
    reset: callback(options, 'reset'),
    reconnectFailed: callback(options, 'reconnectFailed'),
    conninfo: (conninfo as Conninfo | undefined) ?? '',
    connectionOptions:
      typeof connectionOptions === 'function'
        ? (connectionOptions as () => MaybePromise<ConnectionOptions>)
        : connectionOptionsFrom(connectionOptions as ConnectionOptions | undefined),
    logger: logger ?? defaultLogger,
    logLevel: logLevelOf(options, logger),
  }
}
