// `{ signal }` on pool calls (getconn, connection, query): the AbortSignal checked, and tied to
// the engine's abort of one call (NativeAbort) for as long as the call runs.

import { AbortError } from './errors'
import { binding } from './native'

export type NativeAbort = InstanceType<typeof binding.NativeAbort>

/** A `signal` option, checked; `what` names it in the error. */
export function signalOption(signal: unknown, what: string): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined
  if (typeof signal !== 'object' || typeof (signal as AbortSignal).addEventListener !== 'function') {
    throw new TypeError(`${what} must be an AbortSignal`)
  }
  return signal as AbortSignal
}

export function abortError(signal: AbortSignal, message: string): AbortError {
  return new AbortError(message, { cause: signal.reason })
}

/**
 * Runs `call` with an engine abort that `signal` fires. An aborted call rejects with an
 * AbortError; one that finished before the abort landed resolves: an abort never hides work done.
 */
export async function withSignal<T>(
  signal: AbortSignal,
  message: string,
  call: (abort: NativeAbort) => Promise<T>,
): Promise<T> {
  if (signal.aborted) throw abortError(signal, message)
  const abort = new binding.NativeAbort()
  const onAbort = () => {
    abort.abort().catch(() => {}) // a cancel that cannot be delivered changes nothing for the caller
  }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await call(abort)
  } catch (error) {
    throw signal.aborted ? abortError(signal, message) : error
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
