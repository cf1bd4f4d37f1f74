// Automatic pipelining of pool.query(): concurrent statements that would wait for a connection
// share the round trip of one that has a connection, each its own implicit transaction (an
// error fails that statement alone), only in autocommit, only for statements that neither
// control a transaction nor change the session, and never behind a statement seen running
// long; `pipelining: false` turns it off; a session the server ends midway fails only the
// statement it was running, and the ones written behind it run again.

import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnectionPool, DatabaseError, OperationalError, PoolTimeout, type AsyncPoolOptions } from '../dist/index.js'
import { databaseUrl, sleep } from './helpers'
import { TcpProxy } from './tcp-proxy'
import { openAsync } from './open'

const pools: AsyncConnectionPool[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()))
})

async function pool(options: AsyncPoolOptions<AsyncConnectionPool> = {}, url = databaseUrl()): Promise<AsyncConnectionPool> {
  const p = new AsyncConnectionPool(url, {
    minSize: 1,
    maxSize: 1,
    connectionOptions: { autocommit: true },
    ...options,
  })
  pools.push(p)
  await p.wait()
  return p
}

// A statement answered within its call (the engine polls briefly for the answer) returns its
// connection before the next call is made, so nothing queues: the statements that must queue
// make the server wait a millisecond (far below what counts as long).
const QUEUEING = 'SELECT pg_sleep(0.001), $1::int4 AS n'

/** `n` concurrent calls of `run(i)`, all settled. */
function concurrently<T>(n: number, run: (i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(Array.from({ length: n }, (_, i) => run(i)))
}

describe('pool.query() pipelining', () => {
  it('shares round trips among concurrent statements, every one answered with its own result', async () => {
    const p = await pool()
    await p.query(QUEUEING, [0]) // prepared on the connection
    const settled = await concurrently(200, (i) => p.query<{ n: number }>(QUEUEING, [i]))
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value.rows[0]!.n : s.reason))).toEqual(
      Array.from({ length: 200 }, (_, i) => i),
    )
    expect(p.getStats().requestsPipelined).toBeGreaterThan(0)
  })

  it('streams each rider its own large result', async () => {
    const p = await pool()
    const sql = 'SELECT g, pg_sleep(0) AS s FROM generate_series(1, 20000 + $1::int4) g'
    await p.query(sql, [0])
    const settled = await concurrently(12, (i) => p.query<{ g: number }>(sql, [i]))
    for (const [i, s] of settled.entries()) {
      expect(s.status).toBe('fulfilled')
      const { rows } = (s as PromiseFulfilledResult<{ rows: { g: number }[] }>).value
      expect(rows).toHaveLength(20000 + i)
      expect(rows[rows.length - 1]!.g).toBe(20000 + i)
    }
    expect(p.getStats().requestsPipelined).toBeGreaterThan(0)
  })

  it('fails a statement alone: its neighbours in the round trip commit', async () => {
    const p = await pool()
    await p.query('CREATE TABLE IF NOT EXISTS auto_pipelining_rows (id int4 PRIMARY KEY)')
    await p.query('TRUNCATE auto_pipelining_rows')
    const insert = 'INSERT INTO auto_pipelining_rows VALUES ($1) RETURNING 10 / ($1 % 7) AS q, pg_sleep(0.001)'
    await p.query(insert, [1])
    // Every 7th insert divides by zero: its own row is rolled back, no one else's.
    const settled = await concurrently(100, (i) => p.query(insert, [i + 2]))
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [i + 2] : []))
    expect(failed).toEqual(Array.from({ length: 101 }, (_, i) => i + 2).filter((id) => id % 7 === 0 && id <= 101))
    for (const s of settled) if (s.status === 'rejected') expect((s.reason as DatabaseError).code).toBe('22012')
    const { rows } = await p.query<{ n: number }>('SELECT count(*)::int4 AS n FROM auto_pipelining_rows')
    expect(rows[0]!.n).toBe(1 + 100 - failed.length)
    expect(p.getStats().requestsPipelined).toBeGreaterThan(0)
    await p.query('DROP TABLE auto_pipelining_rows')
  })

  it('is off with pipelining: false, with autocommit off, and for statements that change the session', async () => {
    const off = await pool({ pipelining: false })
    await concurrently(50, (i) => off.query(QUEUEING, [i]))
    expect(off.getStats().requestsQueued).toBeGreaterThan(0)
    expect(off.getStats().requestsPipelined).toBe(0)

    const transactional = await pool({ connectionOptions: { autocommit: false } })
    const results = await concurrently(50, (i) => transactional.query<{ n: number }>(QUEUEING, [i]))
    expect(results.every((r, i) => r.status === 'fulfilled' && r.value.rows[0]!.n === i)).toBe(true)
    expect(transactional.getStats().requestsQueued).toBeGreaterThan(0)
    expect(transactional.getStats().requestsPipelined).toBe(0)

    const p = await pool()
    await concurrently(50, (i) => p.query(`SET application_name = 'auto_pipelining_${i}'`))
    await concurrently(10, () => p.query('/* a comment */ BEGIN'))
    expect(p.getStats().requestsPipelined).toBe(0)
    // The same load as a SELECT does pipeline.
    await concurrently(50, (i) => p.query(QUEUEING, [i]))
    expect(p.getStats().requestsPipelined).toBeGreaterThan(0)
  })

  it('keeps a statement seen running long from holding up others, and still pipelines the quick ones', async () => {
    const p = await pool()
    const slow = 'SELECT pg_sleep(0.03), $1::int4 AS n'
    await p.query(slow, [0]) // seen taking 30 ms: it will run alone from now on
    await concurrently(10, (i) => p.query(slow, [i]))
    expect(p.getStats().requestsPipelined).toBe(0)
    await concurrently(50, (i) => p.query(QUEUEING, [i]))
    expect(p.getStats().requestsPipelined).toBeGreaterThan(0)
  })

  it('fails every unanswered statement when the connection is cut with no word from the server', async () => {
    const proxy = TcpProxy.to(databaseUrl())
    await proxy.start()
    try {
      const p = await pool({ timeout: 5 }, proxy.url(databaseUrl()))
      // Prepared, and seen quick (the last run decides, should a loaded machine slow one).
      for (let i = 0; i < 3; i++) await p.query('SELECT pg_sleep($1)', [0])
      await p.query('SELECT pg_sleep($1) AS blocker', [0])
      // The blocker holds the connection; the long statement and the quick ones queue behind it,
      // and the long one then carries the quick ones in one round trip.
      const blocker = p.query('SELECT pg_sleep($1) AS blocker', [0.1])
      const long = p.query('SELECT pg_sleep($1)', [1])
      const quick = Array.from({ length: 3 }, () => p.query('SELECT pg_sleep($1)', [0]))
      await blocker
      await sleep(200) // the long statement is on the server, the quick ones written behind it
      await proxy.stop()
      const settled = await Promise.allSettled([long, ...quick])
      // Whether the server ran them is unknown: none may be sent again.
      for (const s of settled) {
        expect(s.status).toBe('rejected')
        expect((s as PromiseRejectedResult).reason).toBeInstanceOf(OperationalError)
        expect((s as PromiseRejectedResult).reason).not.toBeInstanceOf(PoolTimeout) // not queued again
      }
      expect(p.getStats().requestsPipelined).toBe(3)
    } finally {
      await proxy.close()
    }
  })

  it('prepares again a statement the server dropped under the batch (result type changed)', async () => {
    const p = await pool()
    await p.query('CREATE TABLE IF NOT EXISTS auto_pipelining_alter (a int4)')
    await p.query('INSERT INTO auto_pipelining_alter VALUES (1)')
    await p.query('SELECT * FROM auto_pipelining_alter')
    const other = await openAsync({ autocommit: true })
    await other.query('ALTER TABLE auto_pipelining_alter ADD COLUMN b text DEFAULT $$x$$')
    const settled = await concurrently(20, () => p.query('SELECT * FROM auto_pipelining_alter'))
    for (const s of settled) expect(s).toMatchObject({ status: 'fulfilled', value: { rows: [{ a: 1, b: 'x' }] } })
    await other.query('DROP TABLE auto_pipelining_alter')
  })

  it('fails only the statement the server ended its session at; those behind it run again on another connection', async () => {
    const p = await pool()
    const sql = 'SELECT CASE WHEN $1::int4 = 10 THEN pg_terminate_backend(pg_backend_pid()) END AS killed, $1::int4 AS n, pg_sleep(0.001)'
    await p.query(sql, [0])
    const settled = await concurrently(40, (i) => p.query(sql, [i]))
    // The statement that ended its backend (or, if the end came a moment later, the next one):
    // the server read nothing after it, so the statements written behind it queue again.
    const lost = settled.filter((s) => s.status === 'rejected')
    expect(lost).toHaveLength(1)
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(OperationalError)
    expect((lost[0] as PromiseRejectedResult).reason.code).toBe('57P01')
    expect(p.getStats().requestsPipelined).toBeGreaterThan(0)
    for (const [i, s] of settled.entries()) if (s.status === 'fulfilled') expect(s.value.rows[0]!.n).toBe(i)
    expect((await p.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }])
  })
})
