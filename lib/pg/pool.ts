// node-postgres's `Pool` over a pgtide `AsyncConnectionPool` (`pool.pgtide`): every pooling
// decision is the engine's; this class keeps pg's shape, events and conventions.

import { EventEmitter } from 'node:events'

import { AsyncConnectionPool } from '../async-pool'
import type { AsyncConnection } from '../connection'
import { Client, PoolClient } from './client'
import { conninfoOf, passwordSource, poolOptionsOf, resolvePassword, withSecretsHidden, type PoolConfig } from './config'
import { callUser, isSubmittable, normalQuery, settle, type QueryMethod, type QueryResult } from './query'
import { reportCallbackFailure } from '../user-code'
import { runQuery } from './runner'

type ConnectCallback = (err: Error | undefined, client: PoolClient | undefined, release: (err?: Error | boolean) => void) => void

const NOOP = () => {}

/** pg-pool's message for use after `end()`. */
const ENDED = 'Cannot use a pool after calling end on the pool'

export class Pool extends EventEmitter {
  /** The pgtide pool underneath: stats, `resize()`, `check()`, metrics. */
  readonly pgtide: AsyncConnectionPool
  /** The config given, as pg keeps it (the password not enumerable). */
  readonly options: PoolConfig & { max: number; min: number }
  /** The standalone client class, for a second connection (Kysely and Knex cancel through one). */
  readonly Client = Client
  #ending = false
  #ended = false
  /** One client object per connection for its whole life (by backend process id). */
  readonly #clients = new Map<number, PoolClient>()
  readonly #checkedOut = new Set<PoolClient>()
  /** Work `end()` waits for: running `query()` calls, checkouts, returns. */
  readonly #inFlight = new Set<Promise<unknown>>()
  #allReleased: (() => void) | null = null

  constructor(config: PoolConfig = {}) {
    super()
    const given = config ?? {}
    this.options = withSecretsHidden({ ...given, password: given.password, connectionString: given.connectionString, max: given.max ?? 10, min: given.min ?? 0 })
    for (const key of ['password', 'connectionString'] as const) if (this.options[key] === undefined) delete this.options[key]
    const pgtideOptions = poolOptionsOf(given)
    const password = passwordSource(given)
    const conninfo =
      typeof password === 'function' ? async () => conninfoOf(given, await resolvePassword(password)) : conninfoOf(given, password)
    const configure = pgtideOptions.configure
    this.pgtide = new AsyncConnectionPool(conninfo, {
      ...pgtideOptions,
      configure: async (conn) => {
        await configure?.(conn)
        await this.#prepare(conn)
      },
    })
  }

  /** A new connection: its client is made, 'connect' emitted and `onConnect` run before first use. */
  async #prepare(conn: AsyncConnection): Promise<void> {
    const client = this.#clientFor(conn)
    client.bind(conn, null)
    try {
      // pg's `pool.on('connect', (client) => client.query('SET ...'))`: those queries finish first.
      // A listener that throws is reported, and the connection is still used.
      try {
        this.emit('connect', client)
      } catch (error) {
        reportCallbackFailure("a 'connect' listener of a pgtide/pg Pool", error)
      }
      await client.settled()
      const { onConnect } = this.options
      if (onConnect !== undefined) await onConnect(client)
      await client.settled()
    } finally {
      client.unbind()
    }
  }

  #clientFor(conn: AsyncConnection): PoolClient {
    const pid = conn.backendPid
    let client = this.#clients.get(pid)
    if (client === undefined) {
      client = new PoolClient(this.options)
      this.#clients.set(pid, client)
      this.#forgetOldClients()
    }
    return client
  }

  /** Bounds the client map: the engine closes connections without telling, so forget the oldest idle. */
  #forgetOldClients(): void {
    const bound = this.options.max * 2 + 8
    for (const [pid, client] of this.#clients) {
      if (this.#clients.size <= bound) return
      if (!this.#checkedOut.has(client)) this.#clients.delete(pid)
    }
  }

  get totalCount(): number {
    return this.pgtide.getStats().poolSize
  }

  get idleCount(): number {
    return this.pgtide.getStats().poolAvailable
  }

  get waitingCount(): number {
    return this.pgtide.getStats().requestsWaiting
  }

  /** Connections past `maxLifetimeSeconds` not yet replaced: the engine replaces them as they come back. */
  get expiredCount(): number {
    return 0
  }

  get ending(): boolean {
    return this.#ending
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Checks out a client; give it back with `client.release()`. */
  connect(): Promise<PoolClient>
  connect(callback: ConnectCallback): void
  connect(callback?: ConnectCallback): Promise<PoolClient> | void {
    if (callback !== undefined && typeof callback !== 'function') throw new TypeError('callback is not a function')
    const checkout = this.#track(this.#checkout())
    if (callback === undefined) return checkout
    checkout.then(
      (client) => callUser(() => callback(undefined, client, client.release)),
      (err: Error) => callUser(() => callback(err, undefined, NOOP)),
    )
  }

  async #checkout(): Promise<PoolClient> {
    if (this.#ending) throw new Error(ENDED)
    const conn = await this.pgtide.getconn()
    const client = this.#clientFor(conn)
    this.#clients.delete(conn.backendPid)
    this.#clients.set(conn.backendPid, client) // most recently used last
    client.bind(conn, (c, err) => this.#release(c, err))
    this.#checkedOut.add(client)
    this.emit('acquire', client)
    return client
  }

  #release(client: PoolClient, err: Error | boolean | undefined): Promise<void> {
    const conn = client.unbind()
    this.#checkedOut.delete(client)
    if (this.#checkedOut.size === 0) this.#allReleased?.()
    if (conn === null) return Promise.resolve()
    client.uses += 1
    const maxUses = this.options.maxUses
    const remove = Boolean(err) || (maxUses !== undefined && client.uses >= maxUses)
    this.emit('release', err instanceof Error ? err : undefined, client)
    const returned = (async () => {
      // A closed connection comes back as a bad return: the engine discards it and opens another.
      if (remove) await conn.close()
      await this.pgtide.putconn(conn)
    })().then(
      () => {
        if (!remove) return
        this.#clients.delete(conn.backendPid)
        this.emit('remove', client)
      },
      (error: Error) => {
        if (this.listenerCount('error') > 0) this.emit('error', error, client)
      },
    )
    return this.#track(returned)
  }

  /** Runs one statement on a connection of the pool (pg's forms; a Cursor or QueryStream is refused). */
  declare query: QueryMethod<'refuse'>

  // The one implementation behind QueryMethod's forms, on the prototype as a method would be.
  static {
    this.prototype.query = function (this: Pool, config: unknown, values?: unknown, callback?: unknown): unknown {
      if (typeof config === 'function') throw new TypeError('Passing a function as the first parameter to pool.query is not supported')
      if (isSubmittable(config)) {
        throw new TypeError('pool.query() cannot run a Cursor or QueryStream: take a client with pool.connect() and run it there')
      }
      const query = normalQuery(config, values, callback)
      const result = this.#ending ? Promise.reject(new Error(ENDED)) : this.#track(this.#query(query))
      return settle(result, query.callback, 'undefined')
    } as QueryMethod<'refuse'>
  }

  async #query(query: ReturnType<typeof normalQuery>): Promise<QueryResult<unknown> | QueryResult<unknown>[]> {
    // Listeners of the checkout events, maxUses and a query limit need a client of their own;
    // otherwise the engine takes, runs and gives back in one call.
    const needsClient =
      this.listenerCount('acquire') > 0 ||
      this.listenerCount('release') > 0 ||
      this.options.maxUses !== undefined ||
      query.timeoutMillis !== undefined ||
      this.options.query_timeout
    if (!needsClient) return runQuery({ pool: this.pgtide }, query, this.options.types)
    const client = await this.#checkout()
    try {
      const result = (await client.query({ text: query.text, values: query.values as unknown[], rowMode: query.rowMode, types: query.types, query_timeout: query.timeoutMillis })) as QueryResult<unknown>
      client.release()
      return result
    } catch (error) {
      client.release(error instanceof Error && isConnectionError(error) ? error : undefined)
      throw error
    }
  }

  /** Closes the pool once running queries have finished and every client is back; 'end' follows. */
  end(): Promise<void>
  end(callback: (err?: Error | null) => void): void
  end(callback?: (err?: Error | null) => void): Promise<void> | void {
    return settle(this.#end(), callback, 'undefined')
  }

  async #end(): Promise<void> {
    if (this.#ending) throw new Error('Called end on pool more than once')
    this.#ending = true
    while (this.#inFlight.size > 0 || this.#checkedOut.size > 0) {
      if (this.#checkedOut.size > 0) await new Promise<void>((resolve) => (this.#allReleased = resolve))
      else await Promise.allSettled([...this.#inFlight])
    }
    await this.pgtide.close()
    this.#ended = true
    callUser(() => this.emit('end'))
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work)
    const untrack = () => this.#inFlight.delete(work)
    work.then(untrack, untrack)
    return work
  }
}

/** A Pool's events, with their listeners (as @types/pg types them; 'end' is pg-pool's too). */
export interface PoolEvents {
  /** A new connection, before its first use: its queries run first. */
  connect: (client: PoolClient) => void
  /** A client checked out. */
  acquire: (client: PoolClient) => void
  /** A client given back: `err` is the error `release()` was given, if any. */
  release: (err: Error | undefined, client: PoolClient) => void
  /** A client's connection closed and dropped from the pool. */
  remove: (client: PoolClient) => void
  /** A connection failed while the pool held it. */
  error: (err: Error, client: PoolClient) => void
  /** The pool has ended. */
  end: () => void
}

// pg's events, typed: the listener methods take pg's event names and type their listeners.
export interface Pool {
  on<E extends keyof PoolEvents>(event: E, listener: PoolEvents[E]): this
  once<E extends keyof PoolEvents>(event: E, listener: PoolEvents[E]): this
  addListener<E extends keyof PoolEvents>(event: E, listener: PoolEvents[E]): this
  prependListener<E extends keyof PoolEvents>(event: E, listener: PoolEvents[E]): this
  prependOnceListener<E extends keyof PoolEvents>(event: E, listener: PoolEvents[E]): this
  off<E extends keyof PoolEvents>(event: E, listener: PoolEvents[E]): this
  removeListener<E extends keyof PoolEvents>(event: E, listener: PoolEvents[E]): this
}

/** An error that means the connection itself is gone (not a statement's failure). */
function isConnectionError(error: Error): boolean {
  return (error as { name?: string }).name === 'OperationalError'
}
