// Running one pg-style query on a pgtide connection or pool, and shaping what comes back as pg
// does: rows as objects or arrays, the command, the row count, the fields.

import type { AsyncConnectionPool } from '../async-pool'
import type { AsyncConnection, QueryResult as PgtideResult } from '../connection'
import type { TypeParserSource } from './config'
import { oidOf, type NormalQuery, type QueryResult } from './query'

/** pg's message for a query past its `query_timeout`. */
const READ_TIMEOUT = 'Query read timeout'

function shaped(result: PgtideResult<Record<string, unknown>>, query: NormalQuery): QueryResult<unknown> {
  const fields = [...result.fields]
  const rows = query.rowMode === 'array' ? arrayRows(result) : result.rows
  return { command: result.command, rowCount: result.rowCount, oid: oidOf(result.command), rows, fields, rowAsArray: query.rowMode === 'array' }
}

function arrayRows(result: PgtideResult<Record<string, unknown>>): unknown[][] {
  const names = result.fields.map((field) => field.name)
  if (new Set(names).size !== names.length) {
    throw new TypeError("rowMode 'array' with repeated column names needs the text results path")
  }
  return result.rows.map((row) => names.map((name) => row[name]))
}

/** Runs `query` on `conn`; past `timeoutMillis` it is cancelled and rejects with pg's message. */
export async function runQuery(
  conn: AsyncConnection,
  query: NormalQuery,
  _clientTypes: TypeParserSource | undefined,
  timeoutMillis: number | undefined,
): Promise<QueryResult<unknown>> {
  if (timeoutMillis === undefined) return shaped(await conn.query(query.text, query.values), query)
  const signal = AbortSignal.timeout(timeoutMillis)
  try {
    return shaped(await conn.query(query.text, query.values, { signal }), query)
  } catch (error) {
    if (signal.aborted) throw new Error(READ_TIMEOUT, { cause: error })
    throw error
  }
}

/** Runs `query` on a connection of `pool`, taken and given back by the engine in one call. */
export async function runPoolQuery(
  pool: AsyncConnectionPool,
  query: NormalQuery,
  _poolTypes: TypeParserSource | undefined,
): Promise<QueryResult<unknown>> {
  return shaped(await pool.query(query.text, query.values), query)
}
