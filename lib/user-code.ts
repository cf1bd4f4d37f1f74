// Calling the user's code from places that have no caller to throw to (a log record, a notice,
// a Promise a sync pool must refuse): whatever it throws or rejects with is reported, never
// left to crash the process as an uncaught exception or an unhandled rejection.

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

/** Reports a failure of user code as a process warning (stderr by default), as Node does its own. */
export function reportCallbackFailure(what: string, error: unknown): void {
  const detail = error instanceof Error ? (error.stack ?? String(error)) : String(error)
  process.emitWarning(`pgtide: ${what} threw: ${detail}`, { type: 'PgtideCallbackWarning' })
}

/** A Promise the caller will not await: its rejection is reported rather than left unhandled. */
export function settleQuietly(value: unknown, what: string): void {
  if (!isThenable(value)) return
  try {
    value.then(undefined, (error: unknown) => reportCallbackFailure(what, error))
  } catch (error) {
    reportCallbackFailure(what, error) // a thenable whose `then` itself throws
  }
}

/** Calls a user callback whose result nobody waits for; a throw or a rejection is reported. */
export function callSafely<A extends unknown[]>(what: string, callback: (...args: A) => unknown, ...args: A): void {
  try {
    settleQuietly(callback(...args), what)
  } catch (error) {
    reportCallbackFailure(what, error)
  }
}
