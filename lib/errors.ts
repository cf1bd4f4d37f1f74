// The public error classes, with psycopg's hierarchy, and the one place where an error
// from the native binding becomes one of them.

/** Base of every error pgtide raises. */
export class PgError extends Error {
  override name = 'PgError'
}

/** The API was used wrongly (a closed connection, a foreign connection given back to a pool). */
export class InterfaceError extends PgError {
  override name = 'InterfaceError'
}

/** Fields the server sends with an error report; present when the server sent them. */
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
export class DatabaseError extends PgError implements ServerErrorFields {
  override name = 'DatabaseError'
  sqlstate?: string
  /** The SQLSTATE again, under the name pg uses. */
  code?: string
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

  constructor(message: string, fields: ServerErrorFields = {}) {
    super(message)
    Object.assign(this, fields)
    if (fields.sqlstate !== undefined) this.code = fields.sqlstate
  }
}

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

type ServerErrorClass = new (message: string, fields?: ServerErrorFields) => DatabaseError

/**
 * The classes a server error may become. Which one, by SQLSTATE class, is the engine's choice
 * (psycopg's, in `crates/core/src/error.rs`: its log lines name the same class); the binding
 * sends its name with the error.
 */
const SERVER_ERROR_CLASSES = new Map<string, ServerErrorClass>(
  Object.entries({
    DatabaseError,
    OperationalError,
    ProgrammingError,
    IntegrityError,
    DataError,
    InternalError,
    NotSupportedError,
  }),
)

interface NativeErrorRecord {
  kind:
    | 'database'
    | 'operational'
    | 'interface'
    | 'programming'
    | 'config'
    | 'param'
    | 'range'
    | 'callback'
    | 'poolTimeout'
    | 'poolClosed'
    | 'tooManyRequests'
    | 'aborted'
  message: string
  /** For a server error: the name of its class, chosen by the engine from the SQLSTATE. */
  class?: string
  sqlstate?: string
  severity?: string
  fields?: Record<string, string>
  position?: number
  pgType?: string
  /**
   * For a failed connection attempt: the server's SQLSTATE (28P01, 3D000...), the socket's error
   * (ECONNREFUSED, ENOTFOUND, ETIMEDOUT...) or the rejected certificate's (as Node's TLS names it).
   */
  code?: string
  /** What caused this error (a pool time-out's last connection failure), as a record of its own. */
  cause?: NativeErrorRecord
}

const NATIVE_PREFIX = 'pgtide:'

/** A parameter value that cannot be sent as its parameter's type. */
export interface ParameterTypeError extends TypeError {
  /** 1-based, as in `$1`. */
  position: number
  /** The PostgreSQL type the parameter has. */
  pgType: string
}

/** Turns an error thrown by the native binding into pgtide's class for it. */
export function fromNative(error: unknown): unknown {
  if (!(error instanceof Error) || !error.message.startsWith(NATIVE_PREFIX)) return error
  let record: NativeErrorRecord
  try {
    record = JSON.parse(error.message.slice(NATIVE_PREFIX.length)) as NativeErrorRecord
  } catch {
    return error
  }
  return fromRecord(record) ?? error
}

/** The error a record describes, with its cause; undefined for a kind this version doesn't know. */
function fromRecord(record: NativeErrorRecord): Error | undefined {
  const made = ofKind(record)
  if (made === undefined) return undefined
  if (record.code !== undefined) Object.assign(made, { code: record.code })
  const cause = record.cause === undefined ? undefined : fromRecord(record.cause)
  // As `new Error(message, { cause })` has it: an own property that is not enumerable.
  if (cause !== undefined) Object.defineProperty(made, 'cause', { value: cause, writable: true, configurable: true })
  return made
}

function ofKind(record: NativeErrorRecord): Error | undefined {
  switch (record.kind) {
    case 'database': {
      const fields: ServerErrorFields = { ...record.fields, sqlstate: record.sqlstate, severity: record.severity }
      const Class = SERVER_ERROR_CLASSES.get(record.class ?? '') ?? DatabaseError
      return new Class(record.message, fields)
    }
    case 'operational':
      // A connection refused by the server has its SQLSTATE as sqlstate and code, as pg's.
      return new OperationalError(record.message, record.sqlstate === undefined ? {} : { sqlstate: record.sqlstate })
    case 'interface':
      return new InterfaceError(record.message)
    case 'programming':
    case 'config':
      return new ProgrammingError(record.message)
    case 'param':
      return Object.assign(new TypeError(record.message), { position: record.position, pgType: record.pgType })
    case 'range':
      return new RangeError(record.message)
    case 'callback':
      return new PgError(record.message)
    case 'poolTimeout':
      return new PoolTimeout(record.message)
    case 'poolClosed':
      return new PoolClosed(record.message)
    case 'tooManyRequests':
      return new TooManyRequests(record.message)
    case 'aborted':
      return new AbortError(record.message)
  }
  return undefined
}

/** Runs a native call and rethrows its error as pgtide's class. */
export function native<T>(call: () => T): T {
  try {
    return call()
  } catch (error) {
    throw fromNative(error)
  }
}

/** Awaits a native Promise and rethrows its error as pgtide's class. */
export async function nativeAsync<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise
  } catch (error) {
    throw fromNative(error)
  }
}
