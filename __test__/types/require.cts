// pgtide as a CommonJS consumer sees it (the `require` condition of the exports map).
// Checked by types.spec.ts under moduleResolution node16; never run.

import pgtide = require('pgtide')
import pg = require('pgtide/pg')
import metrics = require('pgtide/metrics')

export async function usage(): Promise<string> {
  const pool = new pgtide.AsyncConnectionPool('postgres://app@127.0.0.1/shop', { minSize: 1 })
  const id = await pool.connection(async (conn) => (await conn.query<{ id: number }>('SELECT 1 AS id')).rows[0]?.id)
  const failure: unknown = await pool.getconn(0).catch((e: unknown) => e)
  const timedOut: boolean = failure instanceof pgtide.PoolTimeout
  // @ts-expect-error rows have the generic's shape
  await pool.connection(async (conn) => (await conn.query<{ id: number }>('SELECT 1 AS id')).rows[0]?.name)
  const compat = new pg.Pool({ max: 2 })
  await compat.end()
  await pool.close()
  return `${id} ${timedOut} ${metrics.prometheusMetrics([pool])}`
}
