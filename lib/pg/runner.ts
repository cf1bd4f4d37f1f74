// Running one pg-style query on a pgtide connection or pool, as node-postgres runs it: every
// column comes back as text and is parsed by the query's, the client's or the global type
// parsers; a script without parameters goes through the simple protocol, so its statements run
// and give one result each.

import type { AsyncConnectionPool } from '../async-pool'
import type { AsyncConnection } from '../connection'
import { nativeAsync } from '../errors'
import type { NativeField, NativeResult } from '../native'
import { encodeParams } from '../params'
import type { TypeParserSource } from './config'
import { oidOf, type NormalQuery, type QueryResult } from './query'
import { textRowsDecoder } from './text-rows'
import { getTypeParser } from './types'
import { queryChannel, serverOfConnection } from '../tracing'

/** pg's message for a query past its `query_timeout`. */
const READ_TIMEOUT = 'Query read timeout'

/** What a query runs on: a checked-out connection, or the pool itself (one engine call). */
export type Target = { conn: AsyncConnection } | { pool: AsyncConnectionPool }

/** pg hands objects with a `toPostgres()` method over as what it returns. */
function pgValues(values: readonly unknown[] | undefined): readonly unknown[] | undefined {
  if (values === undefined || !values.some(hasToPostgres)) return values
  return values.map((value) => (hasToPostgres(value) ? value.toPostgres(prepareNested) : value))
}

function hasToPostgres(value: unknown): value is { toPostgres(prepare: (v: unknown) => unknown): unknown } {
  return typeof (value as { toPostgres?: unknown } | null)?.toPostgres === 'function'
}

function prepareNested(value: unknown): unknown {
  return hasToPostgres(value) ? value.toPostgres(prepareNested) : value
}

/** The parser lookup for a query: its own `types`, then the client's or pool's, then the global ones. */
function parsersFor(query: NormalQuery, defaults: TypeParserSource | undefined) {
  const source = query.types ?? defaults
  return source === undefined ? (oid: number) => getTypeParser(oid) : (oid: number) => source.getTypeParser(oid, 'text')
}

function shaped(result: NativeResult, query: NormalQuery, defaults: TypeParserSource | undefined): QueryResult<unknown> {
  const [command, rowCount, fields, rows, rowsLength] = result
  const mode = query.rowMode === 'array' ? 'array' : 'object'
  const decoded = rowsLength === 0 ? [] : textRowsDecoder(fields, parsersFor(query, defaults), mode)(rows, rowsLength)
  return {
    // pg reports an empty query's command as null.
    command: command === '' ? (null as unknown as string) : command,
    rowCount,
    oid: oidOf(command),
    rows: decoded,
    fields: fields as NativeField[],
    rowAsArray: mode === 'array',
  }
}

/** One result for one statement; an array of them for a script of several, as pg. */
function shapedAll(results: NativeResult[], query: NormalQuery, defaults: TypeParserSource | undefined) {
  const all = results.map((result) => shaped(result, query, defaults))
  return all.length === 1 ? all[0]! : all
}

/**
 * Text without parameters that may hold several statements (any `;`), or none, goes through the
 * simple protocol, as pg sends it. One statement goes through the statement cache like the
 * others: a repeated `SELECT 1` or `BEGIN` then costs the server no parse and plan each time.
 */
function isSimple(query: NormalQuery): boolean {
  if (query.values !== undefined && query.values.length > 0) return false
  return query.text.includes(';') || query.text.trim() === ''
}

type Outcome = Promise<QueryResult<unknown> | QueryResult<unknown>[]>

/**
 * Runs `query` on `target`; past `timeoutMillis` it is cancelled and rejects with pg's message.
 * Traced on `pgtide:query` while it has a subscriber, as pgtide's own queries are.
 */
export function runQuery(
  target: Target,
  query: NormalQuery,
  defaults: TypeParserSource | undefined,
  timeoutMillis?: number,
): Outcome {
  if (!queryChannel.hasSubscribers) return runUntraced(target, query, defaults, timeoutMillis)
  const message =
    'pool' in target
      ? { sql: query.text, params: query.values, pool: target.pool.name, server: target.pool.tracedServer() }
      : { sql: query.text, params: query.values, server: serverOfConnection(target.conn.native) }
  return queryChannel.tracePromise(() => runUntraced(target, query, defaults, timeoutMillis), message)
}

async function runUntraced(
  target: Target,
  query: NormalQuery,
  defaults: TypeParserSource | undefined,
  timeoutMillis?: number,
): Outcome {
  if ('pool' in target) {
    const engine = target.pool.engine
    const raw = isSimple(query)
      ? (engine.simpleQuery(query.text) as Promise<NativeResult[]>)
      : (engine.query(query.text, encodeParams(pgValues(query.values)), undefined, undefined, true) as Promise<NativeResult>).then(
          (one) => [one],
        )
    return shapedAll(await nativeAsync(raw), query, defaults)
  }
  const native = target.conn.native
  const params = isSimple(query) ? undefined : encodeParams(pgValues(query.values))
  if (timeoutMillis === undefined) {
    const raw = params === undefined
      ? (native.simpleQuery(query.text) as Promise<NativeResult[]>)
      : (native.query(query.text, params, undefined, true) as Promise<NativeResult>).then((one) => [one])
    return shapedAll(await nativeAsync(raw), query, defaults)
  }
  const request = native.request()
  const raw = params === undefined
    ? (request.simpleQuery(query.text) as Promise<NativeResult[]>)
    : (request.query(query.text, params, true) as Promise<NativeResult>).then((one) => [one])
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    request.abort().catch(() => undefined) // a cancel that cannot be delivered changes nothing here
  }, timeoutMillis)
  try {
    return shapedAll(await nativeAsync(raw), query, defaults)
  } catch (error) {
    if (timedOut) throw new Error(READ_TIMEOUT, { cause: error })
    throw error
  } finally {
    clearTimeout(timer)
  }
}
