// Option normalisation: one place, with errors that name the option.

import type { Notice, Notification } from './notifications'

/** psycopg's connection keyword arguments, in camelCase. */
export interface ConnectionOptions {
  /** Commit every statement on its own (default false: the first statement opens a transaction). */
  autocommit?: boolean
  /**
   * How many prepared statements the connection keeps, least recently used out (default 100).
   * 0 sends no named statement at all (for PgBouncer in transaction mode).
   */
  statementCacheSize?: number
  /** Receives the notices the server sends (`RAISE NOTICE`, warnings); by default they are dropped. */
  onNotice?: (notice: Notice) => unknown
  /** Receives `LISTEN`/`NOTIFY` notifications, also while the connection is idle. */
  onNotification?: (notification: Notification) => unknown
}

export interface NormalisedConnectionOptions {
  autocommit: boolean
  statementCacheSize: number
  onNotice?: (notice: Notice) => unknown
  onNotification?: (notification: Notification) => unknown
}

const CONNECTION_OPTION_NAMES = new Set(['autocommit', 'statementCacheSize', 'onNotice', 'onNotification'])

/** The most prepared statements a connection may keep: far past any sane setting. */
const MAX_STATEMENT_CACHE_SIZE = 1_000_000

export function connectionOptionsFrom(options: ConnectionOptions | undefined): NormalisedConnectionOptions {
  if (options === undefined || options === null) return { autocommit: false, statementCacheSize: 100 }
  if (typeof options !== 'object') throw new TypeError(`connection options must be an object, not ${typeof options}`)
  for (const name of Object.keys(options)) {
    if (!CONNECTION_OPTION_NAMES.has(name)) throw new TypeError(`unknown connection option '${name}'`)
  }
  const autocommit = options.autocommit ?? false
  if (typeof autocommit !== 'boolean') {
    throw new TypeError(`connection option 'autocommit' must be a boolean, not ${typeof autocommit}`)
  }
  return {
    autocommit,
    statementCacheSize: statementCacheSizeFrom(options.statementCacheSize),
    onNotice: callbackFrom('onNotice', options.onNotice),
    onNotification: callbackFrom('onNotification', options.onNotification),
  }
}

function statementCacheSizeFrom(size: unknown): number {
  if (size === undefined) return 100
  if (typeof size !== 'number') {
    throw new TypeError(`connection option 'statementCacheSize' must be a number, not ${typeof size}`)
  }
  if (!Number.isInteger(size) || size < 0 || size > MAX_STATEMENT_CACHE_SIZE) {
    throw new RangeError(
      `connection option 'statementCacheSize' must be an integer from 0 to ${MAX_STATEMENT_CACHE_SIZE}, not ${size}`,
    )
  }
  return size
}

function callbackFrom<F>(name: string, callback: F | undefined): F | undefined {
  if (callback !== undefined && typeof callback !== 'function') {
    throw new TypeError(`connection option '${name}' must be a function, not ${typeof callback}`)
  }
  return callback
}
