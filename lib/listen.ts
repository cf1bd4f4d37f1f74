// `pool.listen(channel, handler)`: one connection of the pool, checked out for as long as
// someone listens, receives the notifications of every channel the pool listens on. When that
// connection is lost, another is taken, every channel is LISTENed again, and each handler is
// told with a `reconnected` event: notifications sent meanwhile may have been missed.
// The listening connection runs in autocommit (a notification waits for the end of the
// listener's own transaction), and goes back to the pool when the last channel is unlistened
// or the pool closes.

import type { Notification } from './notifications'
import { callSafely } from './user-code'

/** What a `pool.listen()` handler receives. */
export type ListenEvent =
  | ({ type: 'notification' } & Notification)
  /** Listening again on a new connection: notifications sent while there was none may have been missed. */
  | { type: 'reconnected'; channel: string }

export type ListenHandler = (event: ListenEvent) => unknown

/** Stops the handler it was returned for (the channel is UNLISTENed once it has no handler left). */
export type Unlisten = () => Promise<void>

/** Retry waits after a failed attempt to get a listening connection, in ms (doubling). */
const FIRST_RETRY = 100
const LAST_RETRY = 5000

/** A channel name as an SQL identifier, exactly as given (`NOTIFY Chan` lowercases it; `pg_notify('Chan', ...)` does not). */
function identifier(channel: string): string {
  return '"' + channel.replaceAll('"', '""') + '"'
}

function checkChannel(channel: unknown, method: string): string {
  if (typeof channel !== 'string' || channel === '' || channel.includes('\0')) {
    const what = typeof channel === 'string' ? JSON.stringify(channel) : typeof channel
    throw new TypeError(`${method}: the channel must be a non-empty string without NUL, not ${what}`)
  }
  return channel
}

/** What the listener needs of a connection: an AsyncConnection's, or a sync Connection's. */
export interface ListeningConnection {
  exec(sql: string): unknown
  rollback(): unknown
  autocommit: boolean
  readonly broken: boolean
  notifications(): AsyncIterableIterator<Notification>
}

/** @internal The listening side of a pool (async, or sync: its calls then block briefly). */
export class PoolListener<C extends ListeningConnection> {
  private readonly handlers = new Map<string, Set<ListenHandler>>()
  /** The connection listening now, once its LISTENs are done. */
  private current: Promise<C> | undefined
  /** The connection held now, to give back at once when a sync pool closes, and its notifications. */
  private held: C | undefined
  private heldStream: AsyncIterableIterator<Notification> | undefined
  private stopping: (() => void) | undefined
  private loop: Promise<void> | undefined
  private closed = false

  constructor(
    private readonly getconn: () => C | Promise<C>,
    private readonly putconn: (conn: C) => unknown,
  ) {}

  async listen(channel: string, handler: ListenHandler): Promise<Unlisten> {
    checkChannel(channel, 'listen()')
    if (typeof handler !== 'function') throw new TypeError(`listen() needs a handler function, not ${typeof handler}`)
    if (this.closed) throw new TypeError('listen(): the pool is closed')
    let set = this.handlers.get(channel)
    const fresh = set === undefined
    if (set === undefined) this.handlers.set(channel, (set = new Set()))
    set.add(handler)
    let conn: C | undefined
    try {
      conn = await this.connection()
      // A connection taken after the channel was added LISTENed it already; LISTEN again is harmless.
      if (fresh) await conn.exec(`LISTEN ${identifier(channel)}`)
    } catch (error) {
      // Lost under the LISTEN: the next connection LISTENs every channel, this one included.
      if (conn?.broken && !this.closed) return () => this.unlisten(channel, handler)
      await this.unlisten(channel, handler)
      throw error
    }
    return () => this.unlisten(channel, handler)
  }

  /** Removes `handler` (all of the channel's without it); the last channel gone gives the connection back. */
  async unlisten(channel: string, handler?: ListenHandler): Promise<void> {
    checkChannel(channel, 'unlisten()')
    const set = this.handlers.get(channel)
    if (set === undefined) return
    if (handler !== undefined) set.delete(handler)
    if (handler !== undefined && set.size > 0) return
    this.handlers.delete(channel)
    if (this.handlers.size === 0) return this.stop()
    const conn = await this.current?.catch(() => undefined)
    // A lost connection forgets its LISTENs anyway.
    await this.quietly(() => conn?.exec(`UNLISTEN ${identifier(channel)}`))
  }

  /** Stops listening and gives the connection back (the pool is closing). */
  async close(): Promise<void> {
    this.closed = true
    this.handlers.clear()
    await this.stop()
  }

  /**
   * A sync pool's close: the connection goes back now (the pool is about to close), and the
   * loop ends at its next turn.
   */
  closeNow(): void {
    this.closed = true
    this.handlers.clear()
    this.stopping?.()
    const conn = this.held
    this.held = undefined
    // Stop listening on it first: a connection back in the pool must not keep an idle reader.
    void this.heldStream?.return?.()
    if (conn !== undefined) {
      try {
        this.putconn(conn)
      } catch {
        // a connection the pool cannot take back is closed with it
      }
    }
  }

  /** A call whose failure changes nothing (sync or async). */
  private async quietly(call: () => unknown): Promise<void> {
    try {
      await call()
    } catch {
      // nothing to do
    }
  }

  /** The listening connection, starting the loop that keeps one if none runs. */
  private connection(): Promise<C> {
    if (this.loop === undefined) {
      let ready!: (conn: C) => void
      let failed!: (error: unknown) => void
      this.current = new Promise((resolve, reject) => ((ready = resolve), (failed = reject)))
      this.current.catch(() => {})
      this.loop = this.keepListening(ready, failed).finally(() => {
        this.loop = undefined
        this.current = undefined
      })
    }
    return this.current!
  }

  private async stop(): Promise<void> {
    this.stopping?.()
    await this.loop
  }

  /**
   * Takes a connection, LISTENs every channel, delivers until it is lost, and again. The
   * first attempt's failure is the first `listen()`'s; later ones are retried with backoff.
   */
  private async keepListening(ready: (conn: C) => void, failed: (error: unknown) => void): Promise<void> {
    let first = true
    let retry = FIRST_RETRY
    while (!this.closed && this.handlers.size > 0) {
      let conn: C
      try {
        conn = await this.getconn()
        this.held = conn
      } catch (error) {
        if (first) return failed(error)
        if (this.closed) return
        await new Promise((resolve) => setTimeout(resolve, retry))
        retry = Math.min(retry * 2, LAST_RETRY)
        continue
      }
      retry = FIRST_RETRY
      const stream = conn.notifications()
      this.heldStream = stream
      const stopped = new Promise<void>((resolve) => (this.stopping = resolve))
      try {
        if (!conn.autocommit) {
          await conn.rollback()
          conn.autocommit = true
        }
        for (const channel of this.handlers.keys()) await conn.exec(`LISTEN ${identifier(channel)}`)
        if (first) ready(conn)
        else {
          this.current = Promise.resolve(conn)
          for (const channel of this.handlers.keys()) this.dispatch({ type: 'reconnected', channel })
        }
        first = false
        if (!this.closed && this.handlers.size > 0) await Promise.race([stopped, this.deliver(stream)])
      } catch (error) {
        if (first) {
          await stream.return?.()
          await this.giveBack(conn)
          return failed(error)
        }
        // Lost while LISTENing: the next connection does it again.
      } finally {
        this.stopping = undefined
      }
      await stream.return?.()
      if (!conn.broken && this.held === conn) await this.quietly(() => conn.exec('UNLISTEN *'))
      await this.giveBack(conn)
    }
  }

  /** A lost connection goes back too: the pool replaces it. Not twice (`closeNow`). */
  private async giveBack(conn: C): Promise<void> {
    if (this.held !== conn) return
    this.held = undefined
    await this.quietly(() => this.putconn(conn))
  }

  /** Hands notifications over until the connection is lost (the stream throws) or stopped. */
  private async deliver(stream: AsyncIterableIterator<Notification>): Promise<void> {
    try {
      for await (const notification of stream) this.dispatch({ type: 'notification', ...notification })
    } catch {
      // Lost: the loop takes another connection.
    }
  }

  private dispatch(event: ListenEvent): void {
    const set = this.handlers.get(event.channel)
    if (set === undefined) return
    for (const handler of [...set]) callSafely('a pool.listen() handler', handler, event)
  }
}
