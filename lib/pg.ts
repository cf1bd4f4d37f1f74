// `pgtide/pg`: node-postgres's Pool surface over an AsyncConnectionPool, for the libraries that
// take a pg pool (Kysely's PostgresDialect, ...). Shape only: every pooling decision is the
// engine's. pg clients commit each statement by itself, so the connections are in autocommit.

import { EventEmitter } from 'node:events'

import { AsyncConnectionPool } from './async-pool'
import type { AsyncConnection, QueryResult, Row } from './connection'
import type { ConnectionOptions } from './options'
import type { AsyncPoolOptions } from './pool-options'

/** pg's pool settings that pgtide understands; anything else pg accepts is ignored. */
export interface PoolConfig {
  /** A libpq URL or `key=value` string; when set, the host/port/user/... fields are ignored. */
  connectionString?: string
  host?: string
  port?: number | string
  user?: string
  password?: string
  database?: string
  application_name?: string
  /** Any truthy value asks for TLS (`sslmode=require`). */
  ssl?: unknown
  /** Connections at most (pg's default: 10). */
  max?: number
  /** Connections kept open (pg's default: 0). */
  min?: number
  /** An idle connection above `min` is closed after this long (default: pgtide's `maxIdle`). */
  idleTimeoutMillis?: number
  /** How long `connect()` waits for a connection; 0 or unset: pgtide's `timeout` (30 s), never forever. */
  connectionTimeoutMillis?: number
  /** Connections are replaced after this many seconds (default: pgtide's `maxLifetime`). */
  maxLifetimeSeconds?: number
  /** Options for the pgtide pool underneath (`name`, `maxWaiting`, `logger`...); autocommit is always on. */
  pgtide?: AsyncPoolOptions<AsyncConnectionPool>
}

/** pg's query config object. */
export interface QueryConfig {
  text: string
  values?: readonly unknown[]
  /** `'array'`: each row is an array of values in column order. */
  rowMode?: 'array'
  /** pg's prepared statement name: accepted and ignored (pgtide keeps its own statement cache). */
  name?: string
}

export interface QueryArrayConfig extends QueryConfig {
  rowMode: 'array'
}

export type QueryCallback<R> = (err: Error | null, result?: QueryResult<R>) => void

type Values = readonly unknown[] | undefined

/** Splits pg's optional (values, callback) arguments. */
function valuesAndCallback<R>(values: unknown, callback: unknown): [Values, QueryCallback<R> | undefined] {
  if (typeof values === 'function') return [undefined, values as QueryCallback<R>]
  return [values as Values, callback as QueryCallback<R> | undefined]
}

/** pg's callback style: settle the callback instead of returning the Promise. */
function settle<T>(
  promise: Promise<T>,
  callback: ((err: Error | null, value?: T) => void) | undefined,
): Promise<T> | undefined {
  if (!callback) return promise
  promise.then(
    (value) => callback(null, value),
    (err: Error) => callback(err),
  )
  return undefined
}

/** What pg's `query()` also takes: an object that drives the protocol itself (pg-cursor, pg-query-stream). */
export interface Submittable {
  submit(...args: unknown[]): void
}

const describe = (value: unknown) => (value === null ? 'null' : typeof value)

/** The query as a config object, checked before anything runs (throws synchronously, as pg does). */
function queryConfigOf(textOrConfig: string | QueryConfig | Submittable): QueryConfig {
  if (typeof textOrConfig === 'string') return { text: textOrConfig }
  if (typeof textOrConfig !== 'object' || textOrConfig === null) {
    throw new TypeError(`query() takes a string or a { text, values } config, not ${describe(textOrConfig)}`)
  }
  if (typeof (textOrConfig as { submit?: unknown }).submit === 'function') {
    throw new TypeError('pgtide/pg does not support query objects such as pg-cursor or pg-query-stream')
  }
  if ((textOrConfig as { types?: unknown }).types !== undefined) {
    throw new TypeError("pgtide/pg does not support per-query 'types' (custom type parsers)")
  }
  return textOrConfig as QueryConfig
}

/** Rows as arrays in column order: what pg's `rowMode: 'array'` gives. */
function withArrayRows(result: QueryResult<Row>): QueryResult<unknown[]> {
  const names = result.fields.map((field) => field.name)
  const repeated = names.filter((name, i) => names.indexOf(name) !== i)
  if (repeated.length > 0) {
    // Rows are decoded into objects, where a repeated name keeps only one value: refuse, never guess.
    throw new TypeError(
      `rowMode 'array' with repeated column names (${[...new Set(repeated)].join(', ')}) is not supported yet: ` +
        'give the columns distinct aliases',
    )
  }
  return { ...result, rows: result.rows.map((row) => names.map((name) => row[name])) }
}

/** The result in the row mode the query asked for. */
function shaped(result: QueryResult<Row>, config: QueryConfig): QueryResult<unknown> {
  return (config.rowMode === 'array' ? withArrayRows(result) : result) as QueryResult<unknown>
}

async function runQuery(conn: AsyncConnection, config: QueryConfig, values: Values): Promise<QueryResult<unknown>> {
  return shaped(await conn.query(config.text, values ?? config.values), config)
}

type GiveBack = (client: PoolClient, conn: AsyncConnection, err: Error | boolean | undefined) => void

/** A checked-out connection, as pg's `PoolClient`: give it back with `release()`. */
export class PoolClient extends EventEmitter {
  #conn: AsyncConnection | null
  readonly #giveBack: GiveBack | null
  readonly #pending = new Set<Promise<unknown>>()

  /** @internal Made by `Pool.connect()`; without `giveBack`, a client that cannot be released. */
  constructor(conn: AsyncConnection, giveBack: GiveBack | null) {
    super()
    this.#conn = conn
    this.#giveBack = giveBack
  }

  /** The server process serving this client, as pg's undocumented `processID`. */
  get processID(): number | undefined {
    return this.#conn?.backendPid
  }

  /** pg-cursor and pg-query-stream objects: not supported, throws a TypeError. */
  query<T extends Submittable>(submittable: T): never
  query<R extends unknown[] = unknown[]>(config: QueryArrayConfig, values?: readonly unknown[]): Promise<QueryResult<R>>
  query<R = Row>(textOrConfig: string | QueryConfig, values?: readonly unknown[]): Promise<QueryResult<R>>
  query<R = Row>(textOrConfig: string | QueryConfig, callback: QueryCallback<R>): void
  query<R = Row>(
    textOrConfig: string | QueryConfig,
    values: readonly unknown[] | undefined,
    callback: QueryCallback<R>,
  ): void
  query(
    textOrConfig: string | QueryConfig | Submittable,
    valuesOrCallback?: unknown,
    maybeCallback?: unknown,
  ): Promise<QueryResult<unknown>> | void {
    const config = queryConfigOf(textOrConfig)
    const [values, callback] = valuesAndCallback<unknown>(valuesOrCallback, maybeCallback)
    const conn = this.#conn
    const result = conn
      ? runQuery(conn, config, values)
      : Promise.reject(new Error('Client was released to the pool: query() after release()'))
    // Tracked so that a 'connect' listener's queries finish before the connection is handed out.
    this.#pending.add(result)
    const untrack = () => this.#pending.delete(result)
    result.then(untrack, untrack)
    return settle(result, callback)
  }

  /** Gives the connection back; with an error (or `true`) it is closed and replaced instead. */
  release(err?: Error | boolean): void {
    const conn = this.#conn
    if (conn === null || this.#giveBack === null) {
      throw new Error('Release called on client which has already been released to the pool.')
    }
    this.#conn = null
    this.#giveBack(this, conn, err)
  }

  /** @internal Resolves once every query started so far has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#pending])
  }
}

/** libpq's `key='value'` quoting. */
const quoted = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

function conninfoFrom(config: PoolConfig): string {
  if (config.connectionString) return config.connectionString
  const parts: [string, unknown][] = [
    ['host', config.host],
    ['port', config.port],
    ['user', config.user],
    ['password', config.password],
    ['dbname', config.database],
    ['application_name', config.application_name],
    ['sslmode', config.ssl ? 'require' : undefined],
  ]
  return parts
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([key, value]) => `${key}=${quoted(String(value))}`)
    .join(' ')
}

function autocommitOn(options: AsyncPoolOptions<AsyncConnectionPool>['connectionOptions']) {
  if (typeof options === 'function') {
    return async (): Promise<ConnectionOptions> => ({ ...(await options()), autocommit: true })
  }
  return { ...options, autocommit: true }
}

/**
 * The config with `password` and `connectionString` (which may hold one) kept but not
 * enumerable, as pg's own Pool and Client keep the password: still read by `options.password`,
 * left out of `util.inspect`, `console.log`, `JSON.stringify` and `{ ...options }`.
 */
function withSecretsHidden(options: PoolConfig): PoolConfig {
  for (const key of ['password', 'connectionString'] as const) {
    if (key in options) {
      Object.defineProperty(options, key, { value: options[key], enumerable: false, writable: true, configurable: true })
    }
  }
  return options
}

/** A number of milliseconds as seconds, or undefined to keep pgtide's default. */
const secondsOf = (millis: number | undefined) => (millis ? millis / 1000 : undefined)

/**
 * node-postgres's `Pool` over a pgtide `AsyncConnectionPool` (`pool.pgtide`): `connect()`,
 * `query()`, `end()`, the counts and the events libraries listen to.
 */
export class Pool extends EventEmitter {
  /** The pgtide pool underneath: stats, `resize()`, `check()`, metrics. */
  readonly pgtide: AsyncConnectionPool
  /** The config given, as pg keeps it (Kysely reads it). */
  readonly options: PoolConfig
  #ending = false
  #ended = false
  readonly #releases = new Set<Promise<void>>()

  constructor(config: PoolConfig = {}) {
    super()
    this.options = withSecretsHidden({ max: 10, min: 0, ...config })
    const { pgtide = {} } = config
    const configure = pgtide.configure
    this.pgtide = new AsyncConnectionPool(conninfoFrom(config), {
      minSize: this.options.min,
      maxSize: this.options.max,
      timeout: secondsOf(config.connectionTimeoutMillis),
      maxIdle: secondsOf(config.idleTimeoutMillis),
      maxLifetime: config.maxLifetimeSeconds || undefined,
      ...pgtide,
      connectionOptions: autocommitOn(pgtide.connectionOptions),
      configure: async (conn) => {
        await configure?.(conn)
        if (this.listenerCount('connect') === 0) return
        // pg's `pool.on('connect', (client) => client.query('SET ...'))`: done before first use.
        const client = new PoolClient(conn, null)
        this.emit('connect', client)
        await client.settled()
      },
    })
  }

  /** Connections open, idle or checked out. */
  get totalCount(): number {
    return this.pgtide.getStats().poolSize
  }

  /** Connections idle in the pool. */
  get idleCount(): number {
    return this.pgtide.getStats().poolAvailable
  }

  /** Clients waiting for a connection. */
  get waitingCount(): number {
    return this.pgtide.getStats().requestsWaiting
  }

  get ending(): boolean {
    return this.#ending
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Checks out a client; give it back with `client.release()`. */
  connect(): Promise<PoolClient>
  connect(callback: (err: Error | null, client?: PoolClient, done?: (err?: Error | boolean) => void) => void): void
  connect(
    callback?: (err: Error | null, client?: PoolClient, done?: (err?: Error | boolean) => void) => void,
  ): Promise<PoolClient> | void {
    const client = this.#checkout()
    if (!callback) return client
    client.then(
      (c) => callback(null, c, (err) => c.release(err)),
      (err: Error) => callback(err),
    )
  }

  /** Runs one statement on a connection of the pool. */
  /** pg-cursor and pg-query-stream objects: not supported, throws a TypeError. */
  query<T extends Submittable>(submittable: T): never
  query<R extends unknown[] = unknown[]>(config: QueryArrayConfig, values?: readonly unknown[]): Promise<QueryResult<R>>
  query<R = Row>(textOrConfig: string | QueryConfig, values?: readonly unknown[]): Promise<QueryResult<R>>
  query<R = Row>(textOrConfig: string | QueryConfig, callback: QueryCallback<R>): void
  query<R = Row>(
    textOrConfig: string | QueryConfig,
    values: readonly unknown[] | undefined,
    callback: QueryCallback<R>,
  ): void
  query(
    textOrConfig: string | QueryConfig | Submittable,
    valuesOrCallback?: unknown,
    maybeCallback?: unknown,
  ): Promise<QueryResult<unknown>> | void {
    const config = queryConfigOf(textOrConfig)
    const [values, callback] = valuesAndCallback<unknown>(valuesOrCallback, maybeCallback)
    const result = this.#ending
      ? Promise.reject(new Error('Cannot use a pool after calling end on the pool'))
      : this.pgtide.query(config.text, values ?? config.values).then((result) => shaped(result, config))
    return settle(result, callback)
  }

  /** Closes the pool once the clients being released are back. */
  end(): Promise<void>
  end(callback: (err?: Error | null) => void): void
  end(callback?: (err?: Error | null) => void): Promise<void> | void {
    return settle(this.#end(), callback && ((err) => callback(err)))
  }

  async #end(): Promise<void> {
    if (this.#ending) throw new Error('Called end on pool more than once')
    this.#ending = true
    await Promise.all(this.#releases)
    await this.pgtide.close()
    this.#ended = true
    this.emit('end')
  }

  async #checkout(): Promise<PoolClient> {
    if (this.#ending) throw new Error('Cannot use a pool after calling end on the pool')
    const conn = await this.pgtide.getconn()
    const client = new PoolClient(conn, (c, returned, err) => this.#release(c, returned, err))
    this.emit('acquire', client)
    return client
  }

  #release(client: PoolClient, conn: AsyncConnection, err: Error | boolean | undefined): void {
    const done = (async () => {
      // A closed connection comes back as a bad return: the pool discards it and opens another.
      if (err) await conn.close()
      await this.pgtide.putconn(conn)
    })()
      .catch((err: Error) => {
        if (this.listenerCount('error') > 0) this.emit('error', err, client)
      })
      .finally(() => this.#releases.delete(done))
    this.#releases.add(done)
    this.emit('release', err instanceof Error ? err : undefined, client)
  }
}
