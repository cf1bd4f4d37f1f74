// Option normalisation: one place, with errors that name the option.

import { ENGINE_FACTS } from './engine-facts'
import type { Notice, Notification } from './notifications'
import { DEFAULT_TYPE_SETTINGS, type Int8Mode, type TypeSettings } from './types'

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
  /** How values of some types are decoded (docs/types.md). */
  types?: TypeOptions
  /** TLS certificates and key as PEM text, in place of the conninfo's sslrootcert/sslcert/sslkey files. */
  tls?: TlsOptions
  /**
   * Seconds a statement may run before the server cancels it (PostgreSQL's `statement_timeout`,
   * set at connection start); 0 or Infinity: no limit. Unset: the server's setting.
   */
  statementTimeout?: number
}

/** PEM text (a string or a Buffer holding it), as Node's `tls.connect` takes it. */
export type Pem = string | Buffer

/** TLS material given in memory (docs/api.md, `tls`); how much is checked stays `sslmode`'s. */
export interface TlsOptions {
  /** The certificate authorities to trust, in place of `sslrootcert`. */
  ca?: Pem | Pem[]
  /** The client certificate (chain), in place of `sslcert`; needs `key`. */
  cert?: Pem
  /** Its private key (PKCS#8, PKCS#1 or SEC1, not encrypted), in place of `sslkey`. */
  key?: Pem
  /** The name to send in SNI and to check the certificate against, in place of the host. */
  servername?: string
}

/** `TlsOptions` as the engine takes them: text only, the CAs concatenated; `key` not enumerable. */
export interface NormalisedTls {
  ca?: string
  cert?: string
  key?: string
  servername?: string
}

/** Choices of decoding, by type; more keys may come. */
export interface TypeOptions {
  /** int8 values: `'string'` (default, exact), `'number'` (inexact past 2^53) or `'bigint'`. */
  int8?: Int8Mode
}

export interface NormalisedConnectionOptions {
  autocommit: boolean
  statementCacheSize: number
  onNotice?: (notice: Notice) => unknown
  onNotification?: (notification: Notification) => unknown
  types: TypeSettings
  tls?: NormalisedTls
  /** As given: the engine checks the value (`crates/core/src/statement_timeout.rs`). */
  statementTimeout?: number
}

const CONNECTION_OPTION_NAMES = new Set([
  'autocommit',
  'statementCacheSize',
  'onNotice',
  'onNotification',
  'types',
  'tls',
  'statementTimeout',
])

/** The statement cache's default size and bound are the engine's (`crates/core/src/statement_cache.rs`). */
const { statementCacheSize: DEFAULT_STATEMENT_CACHE_SIZE, maxStatementCacheSize: MAX_STATEMENT_CACHE_SIZE } = ENGINE_FACTS

export function connectionOptionsFrom(options: ConnectionOptions | undefined): NormalisedConnectionOptions {
  if (options === undefined || options === null) {
    return { autocommit: false, statementCacheSize: DEFAULT_STATEMENT_CACHE_SIZE, types: DEFAULT_TYPE_SETTINGS }
  }
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
    types: typeSettingsFrom(options.types),
    tls: tlsFrom(options.tls),
    statementTimeout: statementTimeoutFrom(options.statementTimeout),
  }
}

function statementTimeoutFrom(timeout: unknown): number | undefined {
  if (timeout === undefined || timeout === null) return undefined
  if (typeof timeout !== 'number') {
    throw new TypeError(`connection option 'statementTimeout' must be a number of seconds, not ${typeof timeout}`)
  }
  return timeout
}

const TLS_OPTION_NAMES = ['ca', 'cert', 'key', 'servername']

/**
 * The TLS material, checked for shape (the engine reads the PEM and names what is malformed).
 * The key is kept off enumeration, so it stays out of `util.inspect`, `JSON.stringify` and spreads.
 * `name` is the setting's name in errors (pgtide/pg passes `ssl`, as its users call it).
 */
export function tlsFrom(tls: TlsOptions | undefined, name = 'tls', what = 'connection option'): NormalisedTls | undefined {
  if (tls === undefined || tls === null) return undefined
  if (typeof tls !== 'object') throw new TypeError(`${what} '${name}' must be an object, not ${typeof tls}`)
  for (const key of Object.keys(tls)) {
    if (!TLS_OPTION_NAMES.includes(key)) throw new TypeError(`unknown ${what} '${name}.${key}'`)
  }
  const pemFrom = (key: string, value: unknown): string | undefined => {
    if (value === undefined || value === null) return undefined
    if (typeof value === 'string') return value
    if (Buffer.isBuffer(value)) return value.toString('utf8')
    throw new TypeError(`${what} '${name}.${key}' must be PEM text (a string or a Buffer), not ${typeof value}`)
  }
  const cas = Array.isArray(tls.ca) ? tls.ca : tls.ca === undefined || tls.ca === null ? [] : [tls.ca]
  const ca = cas.map((one) => pemFrom('ca', one)).filter((one) => one !== undefined)
  const servername = tls.servername ?? undefined
  if (servername !== undefined && typeof servername !== 'string') {
    throw new TypeError(`${what} '${name}.servername' must be a string, not ${typeof servername}`)
  }
  const normalised: NormalisedTls = {}
  if (tls.ca !== undefined && tls.ca !== null) normalised.ca = ca.join('\n')
  const cert = pemFrom('cert', tls.cert)
  if (cert !== undefined) normalised.cert = cert
  const key = pemFrom('key', tls.key)
  if (key !== undefined) Object.defineProperty(normalised, 'key', { value: key, enumerable: false })
  if (servername !== undefined && servername !== '') normalised.servername = servername
  return Object.freeze(normalised)
}

function statementCacheSizeFrom(size: unknown): number {
  if (size === undefined) return DEFAULT_STATEMENT_CACHE_SIZE
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

const INT8_MODES: readonly Int8Mode[] = ['string', 'number', 'bigint']

function typeSettingsFrom(types: TypeOptions | undefined): TypeSettings {
  if (types === undefined) return DEFAULT_TYPE_SETTINGS
  if (typeof types !== 'object' || types === null) {
    throw new TypeError(`connection option 'types' must be an object, not ${types === null ? 'null' : typeof types}`)
  }
  for (const name of Object.keys(types)) {
    if (!(name in DEFAULT_TYPE_SETTINGS)) throw new TypeError(`unknown connection option 'types.${name}'`)
  }
  const int8 = types.int8 ?? DEFAULT_TYPE_SETTINGS.int8
  if (typeof int8 !== 'string') {
    throw new TypeError(`connection option 'types.int8' must be 'string', 'number' or 'bigint', not ${typeof int8}`)
  }
  if (!INT8_MODES.includes(int8)) {
    throw new RangeError(`connection option 'types.int8' must be 'string', 'number' or 'bigint', not '${int8}'`)
  }
  return { int8 }
}
