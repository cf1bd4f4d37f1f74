// `pipeline()`: statements sent without waiting for each answer (the engine's
// connection/pipeline.rs). `p.query()` queues a statement; the queue goes to the engine in one
// batch when the callback lets go of the thread (a microtask later: an `await`, or its end),
// or, on a sync connection, when a result is first looked at. Batches never add sync points:
// only `p.sync()` and the pipeline's end do, so an error aborts the same statements however
// they were batched.

import { fromNative, native, nativeAsync } from './errors'
import type { NativePipeline } from '../index'
import type { QueryResult } from './connection'
import type { NativeConnection, NativeResult } from './native'
import { encodeParams } from './params'

/**
 * Turns a native result into `query()`'s shape (the connection's decoder). Exported from this
 * module only (not from the package) so that the .d.ts, where the pipelines' protected members
 * name it, declares it.
 */
export type Decode = (result: NativeResult) => unknown

interface NativeStep {
  sql?: string
  params?: Buffer
}

interface Entry {
  step: NativeStep
  settle?: (outcome: unknown[] | string | Error) => void
}

/** A native outcome: a result, or an error record as a string. */
function outcomeOf(outcome: unknown[] | string | Error, decode: Decode): { value?: unknown; error?: unknown } {
  if (outcome instanceof Error) return { error: outcome }
  if (typeof outcome === 'string') return { error: fromNative(new Error(outcome)) }
  try {
    return { value: decode(outcome as NativeResult) }
  } catch (error) {
    // A type parser that throws fails this statement, never the others' settling.
    return { error }
  }
}

function checkFunction(fn: unknown): void {
  if (typeof fn !== 'function') throw new TypeError(`pipeline() needs a function, not ${typeof fn}`)
}

function checkStatement(sql: unknown): string {
  if (typeof sql !== 'string') throw new TypeError(`pipeline query(): query text must be a string, not ${typeof sql}`)
  return sql
}

/** What both pipeline shapes share: the queue, and the first failure of the pipeline. */
abstract class BasePipeline {
  protected queue: Entry[] = []
  protected ended = false
  /** The first statement error, reported by `pipeline()` if the callback did not throw. */
  firstError: unknown

  protected constructor(
    protected readonly native: NativePipeline,
    protected readonly decode: Decode,
  ) {}

  /** Marks a sync point: an error aborts the statements after it only up to here. */
  sync(): void {
    this.refuseEnded()
    this.queue.push({ step: {} })
    this.queued()
  }

  protected refuseEnded(): void {
    if (this.ended) throw new TypeError('the pipeline has ended: queue statements inside the pipeline() callback')
  }

  protected queued(): void {}

  protected take(): Entry[] {
    const batch = this.queue
    this.queue = []
    return batch
  }

  /** Hands each statement its outcome, in order. */
  protected settleBatch(batch: Entry[], outcomes: (unknown[] | string)[] | Error): void {
    let next = 0
    for (const entry of batch) {
      if (entry.settle === undefined) continue
      const outcome = outcomes instanceof Error ? outcomes : outcomes[next++]!
      entry.settle(outcome)
    }
  }

  protected failed(error: unknown): void {
    if (this.firstError === undefined) this.firstError = error
  }
}

/** The pipeline an AsyncConnection's `pipeline()` callback gets. */
export class AsyncPipeline extends BasePipeline {
  private scheduled = false
  private sending: Promise<void> = Promise.resolve()

  /** @internal */
  constructor(native: NativePipeline, decode: Decode) {
    super(native, decode)
  }

  /** Queues a statement; resolves to its result once the server answered it. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    let step: NativeStep
    try {
      this.refuseEnded()
      step = { sql: checkStatement(sql), params: encodeParams(params) }
    } catch (error) {
      return Promise.reject(fromNative(error))
    }
    const result = new Promise<QueryResult<R>>((resolve, reject) => {
      this.queue.push({
        step,
        settle: (outcome) => {
          const { value, error } = outcomeOf(outcome, this.decode)
          if (error === undefined) resolve(value as QueryResult<R>)
          else {
            this.failed(error)
            reject(error)
          }
        },
      })
    })
    // pipeline() reports the first failure: one the callback did not await is not unhandled.
    result.catch(() => {})
    this.queued()
    return result
  }

  protected override queued(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.flush()
    })
  }

  /** Sends what is queued, after the batches before it. */
  flush(): Promise<void> {
    const batch = this.take()
    if (batch.length > 0) {
      this.sending = this.sending.then(async () => {
        let outcomes: (unknown[] | string)[] | Error
        try {
          outcomes = await nativeAsync(this.native.run(batch.map((e) => e.step)))
        } catch (error) {
          outcomes = error instanceof Error ? error : new Error(String(error))
        }
        this.settleBatch(batch, outcomes)
      })
    }
    return this.sending
  }

  /** @internal Sends the rest, then the last Sync. */
  async end(): Promise<void> {
    await this.flush()
    this.ended = true
    await nativeAsync(this.native.close())
  }
}

/** A sync pipeline's statement: its result is fetched when first looked at. */
export class PipelineResult<R = Record<string, unknown>> {
  private outcome: { value?: unknown; error?: unknown } | undefined

  /** @internal */
  constructor(private readonly pipeline: SyncPipeline) {}

  /** @internal */
  settle(outcome: { value?: unknown; error?: unknown }): void {
    this.outcome = outcome
  }

  /** The statement's result (sends the queue and waits if it has not been answered yet); throws its error. */
  get result(): QueryResult<R> {
    if (this.outcome === undefined) this.pipeline.flush()
    const { value, error } = this.outcome!
    if (error !== undefined) throw error
    return value as QueryResult<R>
  }
}

/** The pipeline a Connection's `pipeline()` callback gets. */
export class SyncPipeline extends BasePipeline {
  /** @internal */
  constructor(native: NativePipeline, decode: Decode) {
    super(native, decode)
  }

  /** Queues a statement; its `result` is there once the queue was sent. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): PipelineResult<R> {
    this.refuseEnded()
    const step = { sql: checkStatement(sql), params: encodeParams(params) }
    const handle = new PipelineResult<R>(this)
    this.queue.push({
      step,
      settle: (outcome) => {
        const settled = outcomeOf(outcome, this.decode)
        if (settled.error !== undefined) this.failed(settled.error)
        handle.settle(settled)
      },
    })
    return handle
  }

  /** Sends what is queued and reads its answers (the thread blocks meanwhile). */
  flush(): void {
    const batch = this.take()
    if (batch.length === 0) return
    let outcomes: (unknown[] | string)[] | Error
    try {
      outcomes = native(() => this.native.runSync(batch.map((e) => e.step)))
    } catch (error) {
      outcomes = error instanceof Error ? error : new Error(String(error))
    }
    this.settleBatch(batch, outcomes)
  }

  /** @internal */
  end(): void {
    this.flush()
    this.ended = true
    native(() => this.native.closeSync())
  }
}

/**
 * @internal `AsyncConnection.pipeline()`: `fn`'s value, once every statement was answered; the
 * first statement error if `fn` returned but a statement failed.
 */
export async function asyncPipeline<T>(
  conn: NativeConnection,
  decode: Decode,
  fn: (p: AsyncPipeline) => T | Promise<T>,
): Promise<T> {
  checkFunction(fn)
  const pipeline = new AsyncPipeline(await nativeAsync(native(() => conn.openPipeline())), decode)
  let result: T
  try {
    result = await fn(pipeline)
  } catch (error) {
    // The callback's error is what the caller needs; the statements it queued still settle.
    await pipeline.end().catch(() => {})
    throw error
  }
  await pipeline.end()
  if (pipeline.firstError !== undefined) throw pipeline.firstError
  return result
}

/** @internal `Connection.pipeline()`. */
export function syncPipeline<T>(conn: NativeConnection, decode: Decode, fn: (p: SyncPipeline) => T): T {
  checkFunction(fn)
  const pipeline = new SyncPipeline(native(() => conn.openPipelineSync()), decode)
  let result: T
  try {
    result = fn(pipeline)
  } catch (error) {
    try {
      pipeline.end()
    } catch {
      // as asyncPipeline
    }
    throw error
  }
  pipeline.end()
  if (pipeline.firstError !== undefined) throw pipeline.firstError
  return result
}
