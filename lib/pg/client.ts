// node-postgres's clients over pgtide connections: `Client` (one connection of its own) and
// `PoolClient` (a pool's connection while checked out). Both are one object per connection,
// with pg's query forms, events ('notification', 'notice', 'error', 'end') and helpers.

import { EventEmitter } from 'node:events'

import { AsyncConnection } from '../connection'
import { fromNative } from '../errors'
import { deliverNotices, type Notice } from '../notifications'
import type { NativeConnection } from '../native'
import { checkClientConfig, conninfoOf, passwordSource, resolvePassword, tlsOf, withSecretsHidden, type ClientConfig, type TypeParserSource } from './config'
import { Cursor, QueryStream } from './cursor'
import { runForeignSubmittable, type ForeignSubmittable } from './foreign-cursor'
import { callUser, isSubmittable, normalQuery, settle, type QueryMethod, type Submittable } from './query'
import { runQuery } from './runner'

type Callback<T> = (err: Error | null, value?: T) => void

/** pg's identifier quoting: double quotes, inner ones doubled. */
export function escapeIdentifier(str: string): string {
  return `"${String(str).replace(/"/g, '""')}"`
}

/** pg's literal quoting: single quotes doubled; with a backslash, an E'' string with it doubled. */
export function escapeLiteral(str: string): string {
  if (typeof str !== 'string') return "''"
  const body = str.replace(/'/g, "''")
  return str.includes('\\') ? ` E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`
}

/** What both kinds of client share: a connection (while they have one), queries and events. */
export abstract class ClientBase extends EventEmitter {
  /** @internal The connection, while this client holds one. */
  protected conn: AsyncConnection | null = null
  /** @internal The client's default type parsers and query limit (from its config). */
  protected readonly config: ClientConfig
  #listening: AsyncIterator<unknown> | null = null
  #noticesOn = false
  /** Queries started and not yet settled. */
  readonly #pending = new Set<Promise<unknown>>()

  protected constructor(config: ClientConfig) {
    super()
    this.config = config
    // Listeners added before or after the connection: events start when someone listens.
    // (EventEmitter's own events: untyped `on`, as the typed one below knows only pg's events.)
    super.on('newListener', (event: string) => queueMicrotask(() => this.updateEvents(event)))
    super.on('removeListener', (event: string) => queueMicrotask(() => this.updateEvents(event)))
  }

  /** The server process serving this client, as pg's `processID`. */
  get processID(): number | null {
    return this.conn?.backendPid ?? null
  }

  /** pg's transaction status letter: 'I' idle, 'T' in a transaction, 'E' in a failed one. */
  getTransactionStatus(): 'I' | 'T' | 'E' | null {
    const status = this.conn?.transactionStatus
    return status === 'idle' ? 'I' : status === 'intrans' || status === 'active' ? 'T' : status === 'inerror' ? 'E' : null
  }

  escapeIdentifier(str: string): string {
    return escapeIdentifier(str)
  }

  escapeLiteral(str: string): string {
    return escapeLiteral(str)
  }

  /** Runs a statement, or a Cursor / QueryStream, on this client's connection (pg's forms). */
  declare query: QueryMethod<'run'>

  // The one implementation behind QueryMethod's forms, on the prototype as a method would be.
  static {
    this.prototype.query = function (this: ClientBase, config: unknown, values?: unknown, callback?: unknown): unknown {
      if (isSubmittable(config)) return this.submit(config, values, callback)
      const query = normalQuery(config, values, callback)
      const conn = this.conn
      const result = conn
        ? runQuery({ conn }, query, this.config.types, query.timeoutMillis ?? numberOr(this.config.query_timeout))
        : Promise.reject(this.notQueryable())
      this.#pending.add(result)
      const untrack = () => this.#pending.delete(result)
      result.then(untrack, untrack)
      return settle(result, query.callback)
    } as QueryMethod<'run'>
  }

  /** @internal Resolves once every query started so far has settled. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  /**
   * A Cursor or QueryStream runs itself on this client's connection; one from the pg-cursor or
   * pg-query-stream packages is played the protocol it expects (`foreign-cursor.ts`).
   */
  private submit(submittable: Submittable, values: unknown, callback: unknown): Submittable {
    const run = submittable as ForeignSubmittable & { callback?: unknown }
    if (run.callback === undefined && typeof (values ?? callback) === 'function') run.callback = values ?? callback
    const conn = this.conn
    try {
      if (conn === null) throw this.notQueryable()
      if (submittable instanceof Cursor || submittable instanceof QueryStream) submittable.submit(this)
      else runForeignSubmittable(conn.native, run)
    } catch (error) {
      // Delivered as pg delivers a query's errors: to the object, later (never thrown here).
      process.nextTick(() => (typeof run.handleError === 'function' ? run.handleError(error as Error) : this.emit('error', error)))
    }
    return submittable
  }

  /** @internal What a Cursor submitted here runs on: the connection and the client's type parsers. */
  cursorTarget(): { native: NativeConnection; types: TypeParserSource | undefined } {
    if (this.conn === null) throw this.notQueryable()
    return { native: this.conn.native, types: this.config.types }
  }

  protected abstract notQueryable(): Error

  /** Starts or stops the engine-side delivery an event needs, by whether anyone listens. */
  protected updateEvents(event?: string): void {
    const conn = this.conn
    if (event === undefined || event === 'notification') {
      const wanted = conn !== null && this.listenerCount('notification') > 0
      if (wanted && this.#listening === null) this.#listen(conn!)
      else if (!wanted && this.#listening !== null) {
        void this.#listening.return?.()
        this.#listening = null
      }
    }
    if (event === undefined || event === 'notice') {
      const wanted = conn !== null && this.listenerCount('notice') > 0
      if (wanted !== this.#noticesOn && conn !== null) {
        this.#noticesOn = wanted
        deliverNotices(conn.native, wanted ? (notice) => this.emit('notice', pgNotice(notice)) : undefined)
      }
      if (conn === null) this.#noticesOn = false
    }
  }

  #listen(conn: AsyncConnection): void {
    const iterator = conn.notifications()
    this.#listening = iterator
    void (async () => {
      try {
        for await (const n of iterator) {
          this.emit('notification', { name: 'notification', processId: n.processId, channel: n.channel, payload: n.payload })
        }
      } catch (error) {
        // The connection was lost while listening: pg reports it as the client's 'error'.
        if (this.#listening === iterator && this.listenerCount('error') > 0) this.emit('error', fromNative(error))
      } finally {
        if (this.#listening === iterator) this.#listening = null
      }
    })()
  }
}

/** A `NOTIFY`, as pg's 'notification' event hands it over. */
export interface PgNotification {
  name: 'notification'
  /** The backend that sent it. */
  processId: number
  channel: string
  payload: string
}

/** A server notice, as pg's 'notice' event hands it over: an Error with the server's fields. */
export type PgNotice = Error & Notice & { name: 'notice' }

/** The events every client emits, with their listeners (as @types/pg types them). */
export interface ClientBaseEvents {
  /** A `NOTIFY` on a channel this connection `LISTEN`s to. */
  notification: (message: PgNotification) => void
  notice: (notice: PgNotice) => void
  /** The connection was lost while idle (listening). */
  error: (err: Error) => void
}

/** A standalone Client's events: those of every client, and its connection opening and ending. */
export interface ClientEvents extends ClientBaseEvents {
  connect: () => void
  end: () => void
}

/** pg's notice: the server's fields, with the SQLSTATE also as `code`. */
function pgNotice(notice: Notice): PgNotice {
  return Object.assign(new Error(notice.message) as Error & Notice, notice, { name: 'notice' as const, code: notice.sqlstate })
}

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' && value > 0 ? value : undefined
}

/** A client of its own connection, as pg's `Client`: `connect()`, `query()`, `end()`. */
export class Client extends ClientBase {
  #connecting: Promise<void> | null = null
  #ended = false
  /** The connection settings, as pg keeps them (the password not enumerable). */
  readonly connectionParameters: ClientConfig

  constructor(config: ClientConfig | string = {}) {
    const settings: ClientConfig =
      typeof config === 'string' ? { connectionString: config } : { ...config, password: config.password, connectionString: config.connectionString }
    checkClientConfig(settings)
    super(settings)
    this.connectionParameters = withSecretsHidden(settings)
  }

  get host(): string | undefined {
    return this.config.host
  }

  get port(): number | string | undefined {
    return this.config.port
  }

  get user(): string | undefined {
    return this.config.user
  }

  get database(): string | undefined {
    return this.config.database
  }

  /** Opens the connection; once only, as in pg. */
  connect(): Promise<this>
  connect(callback: (err: Error | null) => void): void
  connect(callback?: (err: Error | null) => void): Promise<this> | void {
    if (this.#connecting !== null) {
      const error = new Error('Client has already been connected. You cannot reuse a client.')
      return settle(Promise.reject(error), callback, 'undefined')
    }
    this.#connecting = this.#open()
    // pg resolves with the client itself.
    return settle(this.#connecting.then(() => this), callback, 'undefined')
  }

  async #open(): Promise<void> {
    const password = await resolvePassword(passwordSource(this.config))
    this.conn = await AsyncConnection.connect(conninfoOf(this.config, password), { autocommit: true, tls: tlsOf(this.config) })
    this.updateEvents()
    this.emit('connect')
  }

  /** Closes the connection once queries already sent have finished; 'end' follows. */
  end(): Promise<void>
  end(callback: (err?: Error | null) => void): void
  end(callback?: (err?: Error | null) => void): Promise<void> | void {
    return settle(this.#end(), callback, 'undefined')
  }

  async #end(): Promise<void> {
    if (this.#ended) return
    this.#ended = true
    const conn = this.conn
    if (conn === null) {
      // Never connected (or still connecting): finish that first, then close.
      await this.#connecting?.catch(() => undefined)
    }
    const open = this.conn
    this.conn = null
    this.updateEvents()
    if (open !== null) await open.close()
    callUser(() => this.emit('end'))
  }

  protected notQueryable(): Error {
    return new Error(this.#ended ? 'Client was closed and is not queryable' : 'Client has not been connected yet')
  }
}

/** @internal How a pool takes its connection back: with an error (or true), it is closed and replaced instead. */
export type GiveBack = (client: PoolClient, err: Error | boolean | undefined) => Promise<void>

/** A pool's connection while checked out, as pg's `PoolClient`: give it back with `release()`. */
export class PoolClient extends ClientBase {
  /** @internal Checkouts so far (for `maxUses`). */
  uses = 0
  #giveBack: GiveBack | null = null

  /** @internal Made by the pool, once per connection. */
  constructor(config: ClientConfig) {
    super(config)
    this.release = this.release.bind(this)
  }

  /** @internal Binds this client to its connection for one checkout. */
  bind(conn: AsyncConnection, giveBack: GiveBack | null): void {
    this.conn = conn
    this.#giveBack = giveBack
    this.updateEvents()
  }

  /** @internal The connection this client holds, unbound from it. */
  unbind(): AsyncConnection | null {
    const conn = this.conn
    this.conn = null
    this.#giveBack = null
    this.updateEvents()
    return conn
  }

  /** Gives the connection back; with an error (or `true`) it is closed and replaced instead. */
  release(err?: Error | boolean): void {
    const giveBack = this.#giveBack
    if (giveBack === null) throw new Error('Release called on client which has already been released to the pool.')
    void giveBack(this, err)
  }

  /**
   * Closes the connection, as pg's `client.end()` on a pool's client: it stays checked out until
   * `release()`, which then has the pool replace it.
   */
  end(): Promise<void>
  end(callback: (err?: Error | null) => void): void
  end(callback?: (err?: Error | null) => void): Promise<void> | void {
    const conn = this.conn
    return settle(conn === null ? Promise.resolve() : conn.close(), callback, 'undefined')
  }

  protected notQueryable(): Error {
    return new Error('Client was released to the pool and is not queryable')
  }
}

// pg's events, typed: the listener methods take pg's event names and type their listeners.
export interface ClientBase {
  on<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  once<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  addListener<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  prependListener<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  prependOnceListener<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  off<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  removeListener<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
}

// pg's events, typed: the listener methods take pg's event names and type their listeners.
export interface Client {
  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this
  once<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this
  addListener<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this
  prependListener<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this
  prependOnceListener<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this
  off<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this
  removeListener<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this
}

// pg's events, typed: the listener methods take pg's event names and type their listeners.
export interface PoolClient {
  on<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  once<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  addListener<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  prependListener<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  prependOnceListener<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  off<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
  removeListener<E extends keyof ClientBaseEvents>(event: E, listener: ClientBaseEvents[E]): this
}
