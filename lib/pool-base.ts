// What every pool class shares: the engine pool, its getters, resize and stats. The classes
// differ only in being async or blocking, and in the kind of pool they ask the engine for.

import { native } from './errors'
import type { NativeStats } from './native'
import type { NormalisedConnectionOptions } from './options'
import type { NativePool } from './pool-native'
import type { NormalisedPoolOptions } from './pool-options'

/** All 15 keys, always present (psycopg's names in camelCase). */
export type PoolStats = NativeStats

/** The callbacks (onNotice, onNotification) a pooled connection's wrapper takes, when fixed. */
export function connectionOptionsOf(options: NormalisedPoolOptions<never, never>): NormalisedConnectionOptions | undefined {
  return typeof options.connectionOptions === 'function' ? undefined : options.connectionOptions
}

export abstract class BasePool {
  /** @internal */
  protected readonly native: NativePool

  /** @internal */
  protected constructor(nativePool: NativePool) {
    this.native = nativePool
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
    native(() => this.native.resize(minSize, maxSize))
  }

  getStats(): PoolStats {
    return this.native.getStats()
  }

  /** The stats, then resets the counters. */
  popStats(): PoolStats {
    return this.native.popStats()
  }
}
