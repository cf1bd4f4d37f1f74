// The public error classes, with psycopg's hierarchy. Which class an engine error becomes is
// the engine's choice; `native-errors.ts` makes it.

import { ENGINE_FACTS } from './engine-facts'

/** Base of every error pgtide raises. */
export class PgError extends Error {
  override name = 'PgError'
}

/** The API was used wrongly (a closed connection, a foreign connection given back to a pool). */
export class InterfaceError extends PgError {
  override name = 'InterfaceError'
}

/**
 * Fields the server sends with an error report; present when the server sent them. The engine's
 * list of them is `crates/core/src/error.rs`'s SERVER_FIELDS (errors.spec.ts holds the two equal).
 */
export interface ServerErrorFields {
  sqlstate?: string
  severity?: string
  detail?: string
  hint?: string
  position?: string
  internalPosition?: string
  internalQuery?: string
  where?: string
  schema?: string
  table?: string
  column?: string
  dataType?: string
  constraint?: string
  file?: string
  line?: string
  routine?: string
}

/** An error reported by (or about) the database. Server errors carry its fields. */
export class DatabaseError extends PgError {
  override name = 'DatabaseError'
  /** The SQLSTATE again, under the name pg uses. */
  code?: string

  constructor(message: string, fields: ServerErrorFields = {}) {
    super(message)
    // Every field is an own property, undefined unless the server sent it.
    const self = this as Record<string, unknown>
    for (const name of ['sqlstate', 'code', 'severity', ...ENGINE_FACTS.serverErrorFields]) self[name] = undefined
    Object.assign(this, fields)
    if (fields.sqlstate !== undefined) this.code = fields.sqlstate
  }
}
// The server's fields, declared once (in ServerErrorFields) and merged into the class's type.
export interface DatabaseError extends ServerErrorFields {}

/** The database is unreachable, the connection was lost, or a pool could not serve in time. */
export class OperationalError extends DatabaseError {
  override name = 'OperationalError'
}

/** The SQL or its use is wrong: syntax errors, missing tables, misuse of the API's state. */
export class ProgrammingError extends DatabaseError {
  override name = 'ProgrammingError'
}

/** A constraint was violated (SQLSTATE class 23). */
export class IntegrityError extends DatabaseError {
  override name = 'IntegrityError'
}

/** A value was invalid for its type or out of range (SQLSTATE class 22). */
export class DataError extends DatabaseError {
  override name = 'DataError'
}

/** The server hit an internal error (SQLSTATE classes XX and 40, among others). */
export class InternalError extends DatabaseError {
  override name = 'InternalError'
}

/** The server does not support what was asked (SQLSTATE class 0A). */
export class NotSupportedError extends DatabaseError {
  override name = 'NotSupportedError'
}

/** No connection could be had from the pool within the timeout. */
export class PoolTimeout extends OperationalError {
  override name = 'PoolTimeout'
}

/** The pool is closed (or not yet open). */
export class PoolClosed extends OperationalError {
  override name = 'PoolClosed'
}

/** The pool's waiting queue is full (`maxWaiting`). */
export class TooManyRequests extends OperationalError {
  override name = 'TooManyRequests'
}

/**
 * A query stopped by its AbortSignal (the `{ signal }` option), shaped as Node's own AbortError:
 * `name` 'AbortError', `code` 'ABORT_ERR', and the signal's `reason` as `cause`.
 */
export class AbortError extends Error {
  override name = 'AbortError'
  readonly code = 'ABORT_ERR'

  constructor(message = 'the query was aborted', options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** A parameter value that cannot be sent as its parameter's type. */
export interface ParameterTypeError extends TypeError {
  /** 1-based, as in `$1`. */
  position: number
  /** The PostgreSQL type the parameter has. */
  pgType: string
}

// The transport from the native binding, re-exported so its callers keep one import. Last, so
// that the classes above exist when native-errors.ts reads them.
export { fromNative, native, nativeAsync } from './native-errors'
