// `stream()`: a query's rows as an iterator, read from a portal `batchSize` rows at a time as
// the consumer takes them (the engine's cursor), so a result of any size streams through
// bounded memory. The rows come in pgtide's formats, decoded as `query()` decodes them.
//
// The algorithm is here once, in two shapes: an async generator (AsyncConnection, async pools)
// and a sync one (Connection, sync pools). A generator's `finally` runs on every way out
// (the end, `break`, `return()`, a throw in the loop body, which `for` turns into `return()`,
// an error, an abort), so that is where the portal is closed and a pool's connection given back.

import type { ResultDecoder } from './decode'
import { native, nativeAsync } from './errors'
import type { NativeConnection, NativeCursor, NativeResult } from './native'
import { encodeParams } from './params'
import { numberArgument } from './pool-options'
import { abortError, signalOption } from './signal'

/** `stream()`'s options. */
export interface StreamOptions {
  /** Rows asked of the server at a time (default 1000): the most the stream holds at once. */
  batchSize?: number
  /** Aborting it stops the stream with an AbortError (a running read is cancelled on the server). */
  signal?: AbortSignal
}

/** A pool's `stream()` options: also the wait for a connection's `timeout`, in seconds. */
export interface PoolStreamOptions extends StreamOptions {
  timeout?: number
}

/** @internal A stream's arguments, checked when `stream()` is called (not at the first row). */
export interface StreamRequest {
  sql: string
  encoded: Buffer
  batchSize: number
  signal: AbortSignal | undefined
  timeout: number | undefined
}

const DEFAULT_BATCH_SIZE = 1000
/** The engine's limit on one Execute's rows. */
const MAX_BATCH_SIZE = 0x7fffffff
const ABORTED = 'the stream was aborted'

/** @internal Checks `stream()`'s arguments; `method` names the culprit in the errors. */
export function streamRequest(sql: unknown, params: readonly unknown[] | undefined, options: unknown, method: string): StreamRequest {
  if (typeof sql !== 'string') throw new TypeError(`${method}: query text must be a string, not ${typeof sql}`)
  const encoded = encodeParams(params)
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError(`${method} options must be an object, not ${options === null ? 'null' : typeof options}`)
  }
  const { batchSize, signal, timeout } = (options ?? {}) as Record<string, unknown>
  const size = numberArgument(batchSize, `${method} option 'batchSize'`, true) ?? DEFAULT_BATCH_SIZE
  if (!Number.isInteger(size) || size < 1 || size > MAX_BATCH_SIZE) {
    throw new RangeError(`${method} option 'batchSize' must be an integer from 1 to ${MAX_BATCH_SIZE}, not ${size}`)
  }
  return {
    sql,
    encoded,
    batchSize: size,
    signal: signalOption(signal, `${method} option 'signal'`),
    timeout: numberArgument(timeout, `${method} option 'timeout'`, true),
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal, ABORTED)
}

/** One batch's rows; the cursor is done once a batch reached the end. */
function decodeBatch<R>(decoder: ResultDecoder, batch: unknown[]): R[] {
  const [, , fields, rows, rowsLength] = batch as NativeResult
  return decoder.rows<R>(fields, rows, rowsLength)
}

/**
 * Runs one engine call of an async stream; an abort meanwhile cancels the statement on the
 * server, and the call's failure is then reported as the abort.
 */
async function abortable<T>(conn: NativeConnection, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
  if (signal === undefined) return nativeAsync(native(call))
  throwIfAborted(signal)
  const onAbort = () => {
    conn.cancel().catch(() => {}) // a cancel that cannot be delivered changes nothing for the caller
  }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await nativeAsync(native(call))
  } catch (error) {
    throw signal.aborted ? abortError(signal, ABORTED) : error
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * @internal The rows of `request` on `conn`, read as they are taken. An iterator written out
 * rather than an async generator: a generator's `yield` costs a few microtask turns per row
 * (170-210 ms per million rows, against 70 for this), and a batch's rows are at hand already.
 * The same ways out as a generator: the end, `return()` (a `break` or a throw in the loop body),
 * an error or an abort close the portal.
 */
export function asyncRows<R>(conn: NativeConnection, decoder: ResultDecoder, request: StreamRequest): AsyncIterableIterator<R> {
  return new AsyncRows<R>(conn, decoder, request)
}

const settled = (): void => {}

class AsyncRows<R> implements AsyncIterableIterator<R> {
  private cursor: NativeCursor | undefined
  private rows: R[] = []
  private index = 0
  private finished = false
  /** A read (or the open) under way: the next `next()` waits for it, as a generator's would. */
  private busy: Promise<unknown> | undefined

  constructor(
    private readonly conn: NativeConnection,
    private readonly decoder: ResultDecoder,
    private readonly request: StreamRequest,
  ) {}

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<R, undefined>> {
    if (this.busy !== undefined) return this.busy.then(() => this.next())
    return this.take()
  }

  private take(): Promise<IteratorResult<R, undefined>> {
    if (this.finished) return Promise.resolve({ done: true, value: undefined })
    if (this.index < this.rows.length) {
      if (this.request.signal?.aborted) return this.fail(abortError(this.request.signal, ABORTED))
      return Promise.resolve({ done: false, value: this.rows[this.index++]! })
    }
    const step = this.fill().then(
      () => this.take(),
      (error: unknown) => this.fail(error),
    )
    // Settles with the step, whatever its outcome (the caller of next() has that).
    const busy = step.then(settled, settled)
    this.busy = busy
    void busy.then(() => {
      if (this.busy === busy) this.busy = undefined
    })
    return step
  }

  /** The next batch; at the end of the result, the iterator finishes. */
  private async fill(): Promise<void> {
    const { sql, encoded, batchSize, signal } = this.request
    if (this.cursor === undefined) {
      this.cursor = await abortable(this.conn, signal, () => this.conn.openCursor(sql, encoded, false))
    } else if (this.cursor.done) {
      throwIfAborted(signal)
      this.finished = true
      return
    }
    const cursor = this.cursor
    const batch = await abortable(this.conn, signal, () => cursor.read(batchSize))
    this.rows = decodeBatch<R>(this.decoder, batch)
    this.index = 0
  }

  /** Stops early (a `break`, or a throw in the loop body): the portal is closed. */
  async return(): Promise<IteratorResult<R, undefined>> {
    await this.busy?.catch(() => {})
    await this.finish()
    return { done: true, value: undefined }
  }

  private async fail(error: unknown): Promise<never> {
    await this.finish()
    throw error
  }

  private async finish(): Promise<void> {
    if (this.finished) return
    this.finished = true
    this.rows = []
    if (this.cursor !== undefined) await closeEarly(this.cursor)
  }
}

/** @internal The rows of `request` on `conn`, read as they are taken; the thread blocks during a read. */
export function* syncRows<R>(conn: NativeConnection, decoder: ResultDecoder, request: StreamRequest): Generator<R, void, undefined> {
  const { sql, encoded, batchSize, signal } = request
  // A blocked thread sees no event: the signal is looked at between reads and rows.
  throwIfAborted(signal)
  const cursor = native(() => conn.openCursorSync(sql, encoded, false))
  try {
    do {
      throwIfAborted(signal)
      const batch = native(() => cursor.readSync(batchSize))
      for (const row of decodeBatch<R>(decoder, batch)) {
        throwIfAborted(signal)
        yield row
      }
    } while (!cursor.done)
    throwIfAborted(signal)
  } finally {
    closeEarlySync(cursor)
  }
}

/**
 * A stream stopped before its end closes its portal. A failed close (a lost connection, which
 * the engine marks broken) adds nothing to why the stream stopped, so it is not reported.
 */
async function closeEarly(cursor: NativeCursor): Promise<void> {
  if (!cursor.done) await cursor.close().catch(() => {})
}

function closeEarlySync(cursor: NativeCursor): void {
  try {
    if (!cursor.done) cursor.closeSync()
  } catch {
    // as closeEarly
  }
}

/**
 * @internal A pool's stream: a connection taken at the first row, given back with `completed`
 * (read to its end: commit; stopped or failed: rollback) however the iteration ends.
 */
export async function* asyncLeasedRows<C, R>(
  take: () => Promise<C> | C,
  giveBack: (conn: C, completed: boolean) => Promise<void> | undefined,
  rows: (conn: C) => AsyncIterator<R, void, undefined>,
): AsyncGenerator<R, void, undefined> {
  const conn = await take()
  let completed = false
  try {
    yield* { [Symbol.asyncIterator]: () => rows(conn) }
    completed = true
  } finally {
    await giveBack(conn, completed)
  }
}

/** @internal The sync shape of `asyncLeasedRows`. */
export function* syncLeasedRows<C, R>(
  take: () => C,
  giveBack: (conn: C, completed: boolean) => void,
  rows: (conn: C) => Iterator<R, void, undefined>,
): Generator<R, void, undefined> {
  const conn = take()
  let completed = false
  try {
    yield* { [Symbol.iterator]: () => rows(conn) }
    completed = true
  } finally {
    giveBack(conn, completed)
  }
}
