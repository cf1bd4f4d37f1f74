// node-postgres's query forms and conventions: (text, values, callback) or a config object,
// results in pg's shape, callbacks called as pg calls them. What runs the query is `runner.ts`.

import type { FieldDef } from '../decode'
import type { TypeParserSource } from './config'

/** pg's query config object. */
export interface QueryConfig<V extends unknown[] = unknown[]> {
  text: string
  values?: V
  /** `'array'`: each row is an array of values in column order (repeated names all kept). */
  rowMode?: 'array'
  /** Type parsers for this query's results (Drizzle and Prisma pass `{ getTypeParser }`). */
  types?: TypeParserSource
  /** pg's prepared statement name: accepted; pgtide prepares and caches statements itself. */
  name?: string
  /** A limit on this query in milliseconds: past it the query is cancelled and rejects. */
  query_timeout?: number
}

export interface QueryArrayConfig<V extends unknown[] = unknown[]> extends QueryConfig<V> {
  rowMode: 'array'
}

/** A result in pg's shape. */
export interface QueryResult<R = Record<string, unknown>> {
  command: string
  rowCount: number | null
  /** The OID `INSERT` reports (always 0 since PostgreSQL 12), else null. */
  oid: number | null
  rows: R[]
  fields: FieldDef[]
  rowAsArray: boolean
}

export type QueryArrayResult<R extends unknown[] = unknown[]> = QueryResult<R>

export type QueryCallback<R> = (err: Error | null, result: QueryResult<R>) => void

type ResultCallback<T> = (err: Error | null, result: T) => void

/**
 * pg's `query()` forms, written once for Client, PoolClient and Pool: a promise without a
 * callback, nothing with one. `Submit` says what a Cursor or QueryStream gives: a client runs it
 * and returns it (`'run'`); a pool refuses it (`'refuse'`: the call throws).
 */
export interface QueryMethod<Submit extends 'run' | 'refuse'> {
  <T extends Submittable>(submittable: T): Submit extends 'run' ? T : never
  <R extends unknown[] = unknown[]>(config: QueryArrayConfig, values?: readonly unknown[]): Promise<QueryArrayResult<R>>
  <R extends unknown[] = unknown[]>(config: QueryArrayConfig, callback: ResultCallback<QueryArrayResult<R>>): void
  <R = Record<string, unknown>>(textOrConfig: string | QueryConfig, values?: readonly unknown[]): Promise<QueryResult<R>>
  <R = Record<string, unknown>>(textOrConfig: string | QueryConfig, callback: ResultCallback<QueryResult<R>>): void
  <R = Record<string, unknown>>(
    textOrConfig: string | QueryConfig,
    values: readonly unknown[] | undefined,
    callback: ResultCallback<QueryResult<R>>,
  ): void
}

/** What pg's `query()` also takes: an object that runs itself (a `Cursor`, a `QueryStream`). */
export interface Submittable {
  submit(client: unknown): void
}

/** A query, checked, with what pg's forms said about it. */
export interface NormalQuery {
  text: string
  values: readonly unknown[] | undefined
  rowMode: 'array' | undefined
  types: TypeParserSource | undefined
  timeoutMillis: number | undefined
  callback: ((err: Error | null, result?: unknown) => void) | undefined
}

/** A thrown error's message, as pg words it where libraries match on it. */
const NULL_QUERY = 'Client was passed a null or undefined query'

/**
 * pg's `query(config, values, callback)` arguments as one query; throws a TypeError at once
 * (synchronously, as pg does) for a form pg refuses.
 */
export function normalQuery(config: unknown, values: unknown, callback: unknown): NormalQuery {
  if (config === null || config === undefined) throw new TypeError(NULL_QUERY)
  if (typeof values === 'function') {
    callback = values
    values = undefined
  }
  if (callback !== undefined && typeof callback !== 'function') throw new TypeError('callback is not a function')
  const object = typeof config === 'object' ? (config as Partial<QueryConfig>) : undefined
  const text = object ? object.text : config
  if (typeof text !== 'string') throw new TypeError(`query text must be a string, not ${typeof text}`)
  const given = values ?? object?.values
  if (given !== undefined && given !== null && !Array.isArray(given)) {
    throw new TypeError(`query values must be an array, not ${typeof given}`)
  }
  const rowMode = object?.rowMode
  if (rowMode !== undefined && rowMode !== 'array') throw new TypeError(`rowMode must be 'array' or unset, not ${String(rowMode)}`)
  const types = object?.types
  if (types !== undefined && typeof types?.getTypeParser !== 'function') {
    throw new TypeError("a query's 'types' must have a getTypeParser(oid, format) method")
  }
  const timeout = object?.query_timeout
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) {
    throw new TypeError(`query_timeout must be a number of milliseconds, not ${String(timeout)}`)
  }
  return {
    text,
    values: given ?? undefined,
    rowMode,
    types,
    timeoutMillis: timeout || undefined,
    callback: callback as NormalQuery['callback'],
  }
}

export function isSubmittable(value: unknown): value is Submittable {
  return typeof (value as { submit?: unknown } | null)?.submit === 'function'
}

/**
 * pg's callback convention: `callback(err)` or `callback(noError, result)`, where `noError` is
 * null from a client's `query()` and undefined from the pool's methods (pg's own difference).
 * An exception the callback throws is not swallowed: it is rethrown on the next tick, as pg does.
 */
export function settle<T>(
  promise: Promise<T>,
  callback: ((err: Error | null, value?: T) => void) | undefined,
  noError: 'null' | 'undefined' = 'null',
): Promise<T> | undefined {
  if (callback === undefined) return promise
  const none = noError === 'null' ? null : undefined
  promise.then(
    (value) => callUser(() => callback(none as null, value)),
    (err: Error) => callUser(() => callback(err)),
  )
  return undefined
}

/** Runs user code outside our Promise chains: what it throws surfaces as pg's would. */
export function callUser(fn: () => void): void {
  try {
    fn()
  } catch (error) {
    process.nextTick(() => {
      throw error
    })
  }
}

/** The OID pg reports: an `INSERT`'s (always 0 since PostgreSQL 12), else null. */
export function oidOf(command: string): number | null {
  return command === 'INSERT' ? 0 : null
}
