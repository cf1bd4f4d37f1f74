// What every pool class shares: the engine pool, its getters, resize and stats. The classes
// differ only in being async or blocking, and in the kind of pool they ask the engine for.

import { ResultDecoder } from './decode'
import { native } from './errors'
import { binding, type NativeStats } from './native'
import type { NormalisedConnectionOptions } from './options'
import type { NativePool } from './pool-native'
import { numberArgument, type NormalisedPoolOptions } from './pool-options'
import { serverOf, type TracedServer } from './tracing'

/** psycopg's 15 keys in camelCase, and pgtide's `connectionsLeaked` and `requestsPipelined`; always all present. */
export type PoolStats = NativeStats

/** One duration histogram: observations per bucket (not cumulative; the last is `+Inf`). */
export interface DurationHistogram {
  counts: number[]
  /** Seconds. */
  sum: number
  count: number
}

/** The pool's duration histograms, over the same buckets (`bounds`, upper bounds in seconds). */
export interface PoolHistograms {
  bounds: number[]
  /** Waits of the requests that queued (the time behind `requestsWaitMs`). */
  requestsWait: DurationHistogram
  /** Checkouts, from hand-out to return (behind `usageMs`). */
  usage: DurationHistogram
  /** Successful connection attempts (behind `connectionsMs`). */
  connections: DurationHistogram
}

/**
 * The options (types, onNotice, onNotification) pooled connection wrappers take, when they are a
 * fixed object (a `connectionOptions` function only reaches the engine, per connection attempt).
 */
export function connectionOptionsOf(options: NormalisedPoolOptions<never, never>): NormalisedConnectionOptions | undefined {
  return typeof options.connectionOptions === 'function' ? undefined : options.connectionOptions
}

export abstract class BasePool {
  /** @internal */
  protected readonly native: NativePool
  /** @internal Options for the wrappers of the connections this pool hands out. */
  protected readonly connectionOptions: NormalisedConnectionOptions | undefined
  /** @internal `leakDetectionThreshold` is on: checkouts capture their caller's stack. */
  protected readonly detectsLeaks: boolean
  /**
   * @internal The server a traced `query()` names, looked up the first time one is traced. A
   * closure, so that the conninfo (and its password) never shows in `util.inspect(pool)`.
   */
  private readonly lookUpServer: () => { server?: TracedServer }
  private traced?: { server?: TracedServer }

  /** @internal */
  protected constructor(
    nativePool: NativePool,
    connectionOptions: NormalisedConnectionOptions | undefined,
    conninfo?: unknown,
  ) {
    this.native = nativePool
    this.connectionOptions = connectionOptions
    this.detectsLeaks = nativePool.detectsLeaks
    this.lookUpServer = () => serverOf(conninfo)
  }

  /** @internal The server the pool's conninfo names, for tracing (none for a conninfo function). */
  tracedServer(): TracedServer | undefined {
    this.traced ??= this.lookUpServer?.() ?? {}
    return this.traced.server
  }

  /**
   * @internal The decoder for results `query()` takes straight from the engine; undefined when
   * a connection callback (onNotice, onNotification) needs the statement to run on a wrapped
   * connection instead.
   */
  protected directQueries(): ResultDecoder | undefined {
    const options = this.connectionOptions
    if (options?.onNotice !== undefined || options?.onNotification !== undefined) return undefined
    return ResultDecoder.for(options?.types)
  }

  /**
   * @internal A face of a pool another thread `share()`d, built without the constructor: so
   * the pool classes keep no `#private` members, which such an object would lack.
   */
  protected static attachTo<P extends BasePool>(prototype: P, handle: number): P {
    if (typeof handle !== 'number') throw new TypeError(`attach() takes the number share() returned, not ${typeof handle}`)
    const pool = Object.create(prototype) as P
    const nativePool = native(() => binding.NativePool.attach(handle))
    Object.assign(pool, { native: nativePool, connectionOptions: undefined, detectsLeaks: nativePool.detectsLeaks })
    return pool
  }

  /**
   * A number another worker thread can pass to `attach()` to use this same pool (its
   * connections, queue and stats). Not for a sync pool with hooks or a conninfo function: they
   * are functions of this thread. Closing the pool ends the sharing.
   */
  share(): number {
    return native(() => this.native.share())
  }

  get name(): string {
    return this.native.name
  }

  get minSize(): number {
    return this.native.minSize
  }

  get maxSize(): number {
    return this.native.maxSize
  }

  /** True before `open()` and after `close()`. */
  get closed(): boolean {
    return this.native.closed
  }

  /** Changes the sizes; growth starts at once, shrinking happens over `maxIdle` periods. */
  resize(minSize: number, maxSize?: number): void {
    const max = maxSize === null ? undefined : numberArgument(maxSize, 'resize() maxSize', true)
    native(() => this.native.resize(numberArgument(minSize, 'resize() minSize'), max))
  }

  getStats(): PoolStats {
    return this.native.getStats()
  }

  /** The stats, then resets the counters. */
  popStats(): PoolStats {
    return this.native.popStats()
  }

  /** The wait, usage and connect durations by bucket (reset with the counters by `popStats()`). */
  getHistograms(): PoolHistograms {
    return this.native.getHistograms()
  }
}
