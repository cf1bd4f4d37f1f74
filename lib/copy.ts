// COPY: `copyFrom()` sends a source's data to a `COPY ... FROM STDIN`, `copyTo()` reads a
// `COPY ... TO STDOUT` as Buffers only as fast as the consumer takes them. Both hold the
// connection for the COPY's whole life (the engine's connection/copy.rs).
//
// The source's chunks are gathered into writes of about WRITE_SIZE bytes: one native call
// per row would cost more than the row. A source that fails (throws, emits 'error') ends the
// COPY with CopyFail, so the server writes none of it, and the connection stays usable.

import { native, nativeAsync } from './errors'
import type { NativeConnection } from './native'

/** What `copyFrom()` reads on an AsyncConnection: a Node Readable, an async iterable, or an iterable. */
export type CopySource = AsyncIterable<CopyChunk> | Iterable<CopyChunk>
/** One piece of COPY data: a Buffer (or any Uint8Array) as is, a string as UTF-8. */
export type CopyChunk = Uint8Array | string

/** About this much data goes to the engine in one call. */
const WRITE_SIZE = 256 * 1024
/** `copyTo()` asks for about this much at a time. */
const READ_SIZE = 256 * 1024

/** @internal Checks `copyFrom()`'s arguments. */
export function copyFromArguments(sql: unknown, source: unknown, sync: boolean): void {
  if (typeof sql !== 'string') throw new TypeError(`copyFrom(): the COPY statement must be a string, not ${typeof sql}`)
  const iterable =
    source !== null &&
    (typeof source === 'object' || typeof source === 'string') &&
    (typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function' ||
      (!sync && typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'))
  if (!iterable || typeof source === 'string') {
    const kinds = sync
      ? 'an iterable of Buffers or strings'
      : 'a Readable, an async iterable or an iterable of Buffers or strings'
    throw new TypeError(`copyFrom(): the data source must be ${kinds}, not ${describe(source)}`)
  }
}

/** @internal Checks `copyTo()`'s statement. */
export function copyToArgument(sql: unknown): string {
  if (typeof sql !== 'string') throw new TypeError(`copyTo(): the COPY statement must be a string, not ${typeof sql}`)
  return sql
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return 'a string (wrap it in an array)'
  return typeof value
}

function chunkBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8')
  throw new TypeError(`copyFrom(): each chunk of COPY data must be a Buffer or a string, not ${describe(chunk)}`)
}

/** Gathers chunks into writes of about WRITE_SIZE. */
class Gather {
  private chunks: Uint8Array[] = []
  private size = 0

  add(chunk: unknown): Buffer | undefined {
    const bytes = chunkBytes(chunk)
    if (bytes.length >= WRITE_SIZE && this.size === 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
    this.chunks.push(bytes)
    this.size += bytes.length
    return this.size >= WRITE_SIZE ? this.take() : undefined
  }

  take(): Buffer | undefined {
    if (this.size === 0) return undefined
    const data = Buffer.concat(this.chunks, this.size)
    this.chunks = []
    this.size = 0
    return data
  }
}

/** What the server is told when the source fails. */
function failReason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return `the COPY's data source failed: ${text}`.replaceAll('\0', '')
}

/** @internal `AsyncConnection.copyFrom()`: the rows copied. */
export async function copyFromAsync(conn: NativeConnection, sql: string, source: CopySource): Promise<number> {
  // A Readable that fails before the loop reads it would have no 'error' listener (an
  // uncaught exception); its error still ends the loop below.
  const emitter = source as Partial<NodeJS.EventEmitter>
  const onError = () => {}
  if (typeof emitter.on === 'function') emitter.on('error', onError)
  try {
    return await copyAll(conn, sql, source)
  } finally {
    if (typeof emitter.off === 'function') emitter.off('error', onError)
  }
}

async function copyAll(conn: NativeConnection, sql: string, source: CopySource): Promise<number> {
  const copy = await nativeAsync(native(() => conn.copyIn(sql)))
  const gather = new Gather()
  let serverFailed = false
  try {
    // `for await` takes sync iterables too, and a Readable is an async iterable that waits
    // for its data (and is destroyed when the loop ends early).
    for await (const chunk of source as AsyncIterable<unknown>) {
      const data = gather.add(chunk)
      if (data !== undefined) {
        serverFailed = true
        await nativeAsync(copy.write(data))
        serverFailed = false
      }
    }
    const rest = gather.take()
    serverFailed = true
    if (rest !== undefined) await nativeAsync(copy.write(rest))
    return await nativeAsync(copy.finish())
  } catch (error) {
    // A server error ended the COPY already; a source error ends it here.
    if (!serverFailed) await copy.fail(failReason(error)).catch(() => {})
    throw error
  }
}

/** @internal `Connection.copyFrom()`: the thread blocks during each write. */
export function copyFromSync(conn: NativeConnection, sql: string, source: Iterable<CopyChunk>): number {
  const copy = native(() => conn.copyInSync(sql))
  const gather = new Gather()
  let serverFailed = false
  try {
    for (const chunk of source as Iterable<unknown>) {
      const data = gather.add(chunk)
      if (data !== undefined) {
        serverFailed = true
        native(() => copy.writeSync(data))
        serverFailed = false
      }
    }
    const rest = gather.take()
    serverFailed = true
    if (rest !== undefined) native(() => copy.writeSync(rest))
    return native(() => copy.finishSync())
  } catch (error) {
    if (!serverFailed) {
      try {
        copy.failSync(failReason(error))
      } catch {
        // the source's error is what the caller needs
      }
    }
    throw error
  }
}

/** @internal `AsyncConnection.copyTo()`: the COPY's data, read as it is taken. */
export async function* copyToAsync(conn: NativeConnection, sql: string): AsyncGenerator<Buffer, void, undefined> {
  const copy = await nativeAsync(native(() => conn.copyOut(sql)))
  try {
    for (;;) {
      const data = await nativeAsync(copy.read(READ_SIZE))
      if (data === null) return
      yield data
    }
  } finally {
    // Stopped early: cancel the COPY on the server and read out what it still sends.
    if (!copy.done) await copy.close().catch(() => {})
  }
}

/** @internal `Connection.copyTo()`. */
export function* copyToSync(conn: NativeConnection, sql: string): Generator<Buffer, void, undefined> {
  const copy = native(() => conn.copyOutSync(sql))
  try {
    for (;;) {
      const data = native(() => copy.readSync(READ_SIZE))
      if (data === null) return
      yield data
    }
  } finally {
    try {
      if (!copy.done) copy.closeSync()
    } catch {
      // why the loop stopped is what the caller needs
    }
  }
}

