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

/** @internal The rows of `request` on `conn`, read as they are taken. */
export async function* asyncRows<R>(conn: NativeConnection, decoder: ResultDecoder, request: StreamRequest): AsyncGenerator<R, void, undefined> {
  const { sql, encoded, batchSize, signal } = request
  const cursor = await abortable(conn, signal, () => conn.openCursor(sql, encoded, false))
  try {
    do {
      const batch = await abortable(conn, signal, () => cursor.read(batchSize))
      for (const row of decodeBatch<R>(decoder, batch)) {
        throwIfAborted(signal)
        yield row
      }
    } while (!cursor.done)
    throwIfAborted(signal)
  } finally {
    await closeEarly(cursor)
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
