// node-postgres's configuration keys, each either honoured (turned into libpq conninfo keys or
// pgtide pool options) or refused with a TypeError naming it: none is silently ignored.

import { isIP } from 'node:net'

import type { AsyncConnectionPool } from '../async-pool'
import { tlsFrom, type ConnectionOptions, type NormalisedTls } from '../options'
import type { AsyncPoolOptions } from '../pool-options'
import type { PoolClient } from './client'

type Secret = string | (() => string | Promise<string>)

/** pg's TLS settings: Node's `tls.connect` options, of which pgtide honours these. */
export interface SslConfig {
  /** false: encrypt without checking the server's certificate (pg's opt-out). Default true. */
  rejectUnauthorized?: boolean
  /** The certificate authorities to trust, as PEM text (default: the system's). */
  ca?: string | Buffer | (string | Buffer)[]
  /** A client certificate and its key, as PEM text. */
  cert?: string | Buffer
  key?: string | Buffer
  /** The name to verify the certificate against (default: the host). */
  servername?: string
}

/** A standalone `Client`'s settings (and the connection settings of a `Pool`). */
export interface ClientConfig {
  /** A libpq URL or `key=value` string; the fields below override what it says, as in pg. */
  connectionString?: string
  host?: string
  port?: number | string
  user?: string
  /** Or a function returning it (or a Promise of it), called for every new connection. */
  password?: Secret
  database?: string
  application_name?: string
  fallback_application_name?: string
  /** `-c name=value` settings sent at connection start. */
  options?: string
  /** TLS: `true` verifies the server (system CAs), an object tunes it, false/unset: no TLS. */
  ssl?: boolean | SslConfig | 'require' | 'prefer' | 'verify-ca' | 'verify-full' | 'no-verify'
  /** Server-side limits, in milliseconds, set at connection start (false or 0: none). */
  statement_timeout?: number | false
  lock_timeout?: number | false
  idle_in_transaction_session_timeout?: number | false
  /** Client-side limit on each query, in milliseconds: past it the query is cancelled and rejects. */
  query_timeout?: number | false
  /** How long to wait for a connection (a Pool's checkout or a Client's connect), in ms; 0: no limit. */
  connectionTimeoutMillis?: number
  keepAlive?: boolean
  keepAliveInitialDelayMillis?: number
  /** Only UTF8 is spoken. */
  client_encoding?: string
  /** Type parsers for this client's (or pool's) results; see `types`. */
  types?: TypeParserSource
}

/** What a `types` setting must provide (pg's `types` module or a `TypeOverrides`). */
export interface TypeParserSource {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown
}

export interface PoolConfig extends ClientConfig {
  /** Connections at most (default 10). */
  max?: number
  /** Connections kept open (default 0). */
  min?: number
  /** An idle connection above `min` is closed after this long (default 10000; 0: never). */
  idleTimeoutMillis?: number
  /** A connection is replaced after this many checkouts (default: never). */
  maxUses?: number
  /** A connection is replaced after this many seconds (default 0: never). */
  maxLifetimeSeconds?: number
  /** Always true in pgtide: an idle pool never keeps Node running. */
  allowExitOnIdle?: boolean
  /** Runs on each new connection before its first use; a rejection fails that `connect()`. */
  onConnect?: (client: PoolClient) => unknown
  /** pg-pool's debug log function. */
  log?: (...messages: unknown[]) => void
  /** Options for the pgtide pool underneath (`name`, `maxWaiting`, `logger`...). */
  pgtide?: AsyncPoolOptions<AsyncConnectionPool>
}

const CLIENT_KEYS = [
  'connectionString',
  'host',
  'port',
  'user',
  'password',
  'database',
  'application_name',
  'fallback_application_name',
  'options',
  'ssl',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'query_timeout',
  'connectionTimeoutMillis',
  'keepAlive',
  'keepAliveInitialDelayMillis',
  'client_encoding',
  'types',
] as const

const POOL_KEYS = [
  ...CLIENT_KEYS,
  'max',
  'min',
  'idleTimeoutMillis',
  'maxUses',
  'maxLifetimeSeconds',
  'allowExitOnIdle',
  'onConnect',
  'log',
  'pgtide',
  'poolSize',
] as const

/** pg keys pgtide cannot honour, with what to do instead. */
const REFUSED: Record<string, string> = {
  binary: 'results always arrive in text form, parsed by `types`',
  stream: 'pgtide opens its own sockets',
  lookup: 'pgtide resolves host names itself',
  replication: 'replication connections are not supported',
  parseInputDatesAsUTC: 'Date parameters are always sent with their time zone, which is exact',
  Client: 'the pool makes its own clients',
  Promise: "pgtide returns the platform's Promise",
  enableChannelBinding: 'use channel_binding in the connection string',
  sslnegotiation: 'use sslnegotiation in the connection string',
  rows: 'use a Cursor to read a result in parts',
}

function checkKeys(config: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(config)) {
    if (allowed.includes(key)) continue
    const refusal = REFUSED[key]
    if (refusal !== undefined) {
      // `binary: false` and the like ask for what pgtide does anyway.
      const value = (config as Record<string, unknown>)[key]
      if (value === undefined || value === false || (key === 'Promise' && value === Promise)) continue
      throw new TypeError(`pgtide/pg does not support the ${what} option '${key}': ${refusal}`)
    }
    throw new TypeError(`unknown ${what} option '${key}'`)
  }
}

/** libpq's `key='value'` quoting. */
const quoted = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

function milliseconds(config: Record<string, unknown>, key: string): number | undefined {
  const value = config[key]
  if (value === undefined || value === null || value === false) return undefined
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new TypeError(`option '${key}' must be a number of milliseconds ≥ 0, not ${String(value)}`)
  }
  return value
}

/** The `-c` settings pg sends as startup parameters, in libpq's `options` form. */
function serverSettings(config: ClientConfig): string | undefined {
  const settings: string[] = []
  for (const key of ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout'] as const) {
    const millis = milliseconds(config as Record<string, unknown>, key)
    if (millis) settings.push(`-c ${key}=${Math.floor(millis)}`)
  }
  if (config.options !== undefined && config.options !== null) {
    if (typeof config.options !== 'string') throw new TypeError(`option 'options' must be a string`)
    settings.unshift(config.options)
  }
  return settings.length > 0 ? settings.join(' ') : undefined
}

/** pg's `ssl` as libpq's `sslmode`: verify-full unless `rejectUnauthorized: false` (or 'no-verify'). */
function sslMode(ssl: ClientConfig['ssl']): string | undefined {
  if (ssl === undefined || ssl === null || ssl === false) return undefined
  if (ssl === true) return 'verify-full'
  if (typeof ssl === 'string') {
    if (ssl === 'no-verify') return 'require'
    if (['require', 'prefer', 'verify-ca', 'verify-full'].includes(ssl)) return ssl
    throw new TypeError(`option 'ssl' must be a boolean, an object or an sslmode, not '${ssl}'`)
  }
  if (typeof ssl !== 'object') throw new TypeError(`option 'ssl' must be a boolean or an object, not ${typeof ssl}`)
  for (const key of Object.keys(ssl)) {
    if (!['rejectUnauthorized', 'ca', 'cert', 'key', 'servername'].includes(key)) {
      throw new TypeError(`pgtide/pg does not support the ssl option '${key}'`)
    }
  }
  return ssl.rejectUnauthorized === false ? 'require' : 'verify-full'
}

/**
 * pg's `ssl` as the TLS material the engine takes in memory (`connectionOptions.tls`), as Node's
 * `tls.connect` reads it: PEM text, never the `~/.postgresql` files libpq would look for. With
 * `rejectUnauthorized: false` nothing is verified, so a `ca` given is not used (as in Node).
 */
export function tlsOf(config: ClientConfig): NormalisedTls | undefined {
  const { ssl } = config
  if (ssl === true || ssl === 'no-verify') return {}
  if (typeof ssl !== 'object' || ssl === null) return undefined
  sslMode(ssl)
  const verify = ssl.rejectUnauthorized !== false
  if (ssl.servername !== undefined && ssl.servername !== null && typeof ssl.servername !== 'string') {
    throw new TypeError(`option 'ssl.servername' must be a string, not ${typeof ssl.servername}`)
  }
  // pg sets `servername` to the host when the host is a name: `ssl.servername` counts for IP addresses only.
  const servername = isIP(hostOf(config)) === 0 ? undefined : ssl.servername
  // `key` is read by name: withSecretsHidden makes it non-enumerable.
  const material = { ca: verify ? ssl.ca : undefined, cert: ssl.cert, key: ssl.key, servername }
  return tlsFrom(material, 'ssl', 'option')
}

/** The host pg connects to: `host`, else the connection string's, else PGHOST, else localhost. */
function hostOf(config: ClientConfig): string {
  if (typeof config.host === 'string' && config.host !== '') return config.host
  const base = config.connectionString ?? ''
  let host: string | undefined
  if (/^postgres(ql)?:\/\//i.test(base)) {
    try {
      host = decodeURIComponent(new URL(base).hostname).replace(/^\[(.*)\]$/, '$1')
    } catch {
      host = undefined
    }
  } else {
    host = /(?:^|\s)host\s*=\s*'?([^\s']+)/.exec(base)?.[1]
  }
  return host || process.env.PGHOST || 'localhost'
}

/** The conninfo for `config`: its connection string, then its fields, which win as in pg. */
export function conninfoOf(config: ClientConfig, password?: string): string {
  if (config.client_encoding !== undefined && !/^utf-?8$/i.test(config.client_encoding)) {
    throw new TypeError(`pgtide/pg speaks UTF8 only, not client_encoding '${config.client_encoding}'`)
  }
  const keepAliveIdle = milliseconds(config as Record<string, unknown>, 'keepAliveInitialDelayMillis')
  const connectTimeout = milliseconds(config as Record<string, unknown>, 'connectionTimeoutMillis')
  const fields: [string, unknown][] = [
    ['host', config.host],
    ['port', config.port],
    ['user', config.user],
    ['password', password],
    ['dbname', config.database],
    ['application_name', config.application_name],
    ['fallback_application_name', config.fallback_application_name],
    ['options', serverSettings(config)],
    ['sslmode', sslMode(config.ssl)],
    ['connect_timeout', connectTimeout ? Math.max(1, Math.ceil(connectTimeout / 1000)) : undefined],
    ['keepalives', config.keepAlive === undefined ? undefined : config.keepAlive ? 1 : 0],
    ['keepalives_idle', keepAliveIdle ? Math.max(1, Math.floor(keepAliveIdle / 1000)) : undefined],
  ]
  const overrides = fields
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([key, value]) => `${key}=${quoted(String(value))}`)
  const base = config.connectionString ?? ''
  if (overrides.length === 0) return base
  if (base === '') return overrides.join(' ')
  // A URL cannot take key=value words after it: libpq reads the pair as separate settings.
  return /^postgres(ql)?:\/\//i.test(base) ? withUrlParameters(base, fields) : `${base} ${overrides.join(' ')}`
}

/** A connection URL with the fields set as its query parameters (libpq's URL form of keys). */
function withUrlParameters(url: string, fields: [string, unknown][]): string {
  const [head, query = ''] = url.split('?', 2) as [string, string?]
  const set = fields.filter(([, value]) => value !== undefined && value !== null && value !== '')
  const kept = query.split('&').filter((pair) => pair !== '' && !set.some(([key]) => pair.split('=')[0] === key))
  // libpq percent-decodes a URL's parameters, and reads no '+' as a space.
  const added = set.map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`)
  return `${head}?${[...kept, ...added].join('&')}`
}

/** The password setting: a string, or a function to call for each connection. */
export function passwordSource(config: ClientConfig): Secret | undefined {
  const { password } = config
  if (password === undefined || password === null) return undefined
  if (typeof password !== 'string' && typeof password !== 'function') {
    throw new TypeError(`option 'password' must be a string or a function returning one, not ${typeof password}`)
  }
  return password
}

export async function resolvePassword(source: Secret | undefined): Promise<string | undefined> {
  if (typeof source !== 'function') return source
  const value = await source()
  if (typeof value !== 'string') throw new TypeError(`the password function must return a string, not ${typeof value}`)
  return value
}

export function checkClientConfig(config: ClientConfig): void {
  if (typeof config !== 'object' || config === null) throw new TypeError('a Client takes a config object or a connection string')
  // A pool's settings are accepted (and have no effect): `new pool.Client(pool.options)` is common.
  checkKeys(config, POOL_KEYS, 'Client')
  milliseconds(config as Record<string, unknown>, 'query_timeout')
}

/** A whole number of seconds from pg's milliseconds; 0 means never (`Infinity`). */
function secondsOrNever(millis: number | undefined): number | undefined {
  if (millis === undefined) return undefined
  return millis === 0 ? Infinity : millis / 1000
}

/** The pgtide pool options a pg PoolConfig asks for (the connection settings aside). */
export function poolOptionsOf(config: PoolConfig): AsyncPoolOptions<AsyncConnectionPool> {
  checkKeys(config, POOL_KEYS, 'Pool')
  milliseconds(config as Record<string, unknown>, 'query_timeout')
  const numbers = config as Record<string, unknown>
  const max = numbers.max ?? numbers.poolSize ?? 10
  const min = numbers.min ?? 0
  const idle = milliseconds(numbers, 'idleTimeoutMillis') ?? 10_000
  const lifetime = numbers.maxLifetimeSeconds ?? 0
  if (typeof lifetime !== 'number' || !(lifetime >= 0)) throw new TypeError(`option 'maxLifetimeSeconds' must be a number ≥ 0`)
  const { pgtide = {} } = config
  return {
    minSize: min as number,
    maxSize: max as number,
    // pg waits for ever when connectionTimeoutMillis is 0; unset, pgtide keeps its 30 s bound.
    timeout: secondsOrNever(milliseconds(numbers, 'connectionTimeoutMillis')),
    maxIdle: secondsOrNever(idle),
    maxLifetime: lifetime === 0 ? Infinity : lifetime,
    // pg-pool lends the client released last.
    idleOrder: 'lifo',
    ...pgtide,
    connectionOptions: autocommitOn(pgtide.connectionOptions, tlsOf(config)),
  }
}

/**
 * pg clients commit each statement by itself: the pool's connections are in autocommit. The TLS
 * material of `ssl`, when set, goes with them.
 */
function autocommitOn(options: AsyncPoolOptions<AsyncConnectionPool>['connectionOptions'], tls: NormalisedTls | undefined) {
  const ours = tls === undefined ? { autocommit: true } : { autocommit: true, tls }
  if (typeof options === 'function') {
    return async (): Promise<ConnectionOptions> => ({ ...(await options()), ...ours })
  }
  return { ...options, ...ours }
}

/**
 * The config as pg keeps it (`pool.options`, `client.connectionParameters`): `password`,
 * `connectionString` (which may hold one) and `ssl.key` kept but not enumerable, so they stay
 * out of `util.inspect`, `JSON.stringify` and spreads.
 */
export function withSecretsHidden<C extends ClientConfig>(config: C): C {
  for (const key of ['password', 'connectionString'] as const) {
    if (key in config) {
      Object.defineProperty(config, key, { value: config[key], enumerable: false, writable: true, configurable: true })
    }
  }
  const { ssl } = config
  if (typeof ssl === 'object' && ssl !== null && 'key' in ssl) {
    Object.defineProperty(ssl, 'key', { value: ssl.key, enumerable: false, writable: true, configurable: true })
  }
  return config
}
