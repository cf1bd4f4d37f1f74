// Where an error from the native binding becomes one of pgtide's classes. The binding sends a
// JSON record naming the class (the engine's one table of it, `Error::class_name` in
// crates/core/src/error.rs) and what that class carries; nothing here decides a class.

import {
  AbortError,
  DataError,
  DatabaseError,
  IntegrityError,
  InterfaceError,
  InternalError,
  NotSupportedError,
  OperationalError,
  PgError,
  PoolClosed,
  PoolTimeout,
  ProgrammingError,
  TooManyRequests,
  type ServerErrorFields,
} from './errors'

interface NativeErrorRecord {
  /** The class to make, by name. */
  class: string
  message: string
  /** A server error's (or a server's refusal to connect): its SQLSTATE and severity. */
  sqlstate?: string
  severity?: string
  /** A server error's optional fields, by their JavaScript names. */
  fields?: Record<string, string>
  /** A parameter that cannot be sent: its 1-based position and its type. */
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

type ErrorClass = new (message: string) => Error

/** The classes a record may name. Built on first use: `errors.ts` re-exports this module. */
let classes: Map<string, ErrorClass> | undefined

function classNamed(name: string): ErrorClass | undefined {
  classes ??= new Map<string, ErrorClass>(
    Object.entries({
      PgError,
      InterfaceError,
      DatabaseError,
      OperationalError,
      ProgrammingError,
      IntegrityError,
      DataError,
      InternalError,
      NotSupportedError,
      PoolTimeout,
      PoolClosed,
      TooManyRequests,
      AbortError,
      TypeError,
      RangeError,
    }),
  )
  return classes.get(name)
}

const NATIVE_PREFIX = 'pgtide:'

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

/** The error a record describes, with its cause; undefined for a class this version doesn't know. */
function fromRecord(record: NativeErrorRecord): Error | undefined {
  const Class = classNamed(record.class)
  if (Class === undefined) return undefined
  const made =
    Class === DatabaseError || Class.prototype instanceof DatabaseError
      ? new (Class as typeof DatabaseError)(record.message, serverFields(record))
      : new Class(record.message)
  if (record.position !== undefined) Object.assign(made, { position: record.position, pgType: record.pgType })
  if (record.code !== undefined) Object.assign(made, { code: record.code })
  const cause = record.cause === undefined ? undefined : fromRecord(record.cause)
  // As `new Error(message, { cause })` has it: an own property that is not enumerable.
  if (cause !== undefined) Object.defineProperty(made, 'cause', { value: cause, writable: true, configurable: true })
  return made
}

/** The server's fields a record carries: none for errors of the client's own making. */
function serverFields(record: NativeErrorRecord): ServerErrorFields {
  const fields: ServerErrorFields = { ...record.fields }
  if (record.sqlstate !== undefined) fields.sqlstate = record.sqlstate
  if (record.severity !== undefined) fields.severity = record.severity
  return fields
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
