// Leak detection (`leakDetectionThreshold`): the stack of the call that took a connection, for
// the engine's warning if the checkout outlives the threshold. Captured only when the option is
// on, at the call (before any await, while the caller's frames are on the stack); the timer and
// the count are the engine's.

import type { NativeConnection } from './native'
import type { NativePool } from './pool-native'

/** The stack of the caller of `takenBy` (`getconn`, `connection`), without pgtide's frames. */
export function leakOrigin(takenBy: Function): string {
  const holder: { stack?: string } = {}
  Error.captureStackTrace(holder, takenBy)
  return (holder.stack ?? '').replace(/^Error\n/, '')
}

/** Starts the engine's leak timer for `conn`, just handed out by `pool`. */
export function watchForLeak(pool: NativePool, conn: NativeConnection, origin: string | undefined): void {
  if (origin !== undefined) pool.watchForLeak(conn, origin)
}
