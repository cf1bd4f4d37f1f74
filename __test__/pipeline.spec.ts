// pipeline(): statements sent without waiting for each answer, results in order, an error
// aborting the statements after it up to the next sync point (and, outside a transaction
// block, rolling back the ones before it since the last sync point), the connection usable
// after; autocommit off runs the pipeline in a transaction; sync connection; pools.

import { describe, expect, it, afterEach } from 'vitest'

import { AsyncConnectionPool, ConnectionPool, DatabaseError, OperationalError } from '../dist/index.js'
import { databaseUrl } from './helpers'
import { caught, openAsync, openSync } from './open'

const pools: { close(): unknown }[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()))
})

describe('AsyncConnection.pipeline', () => {
  it('runs 1,000 statements with an error in the middle: the ones before its sync point roll back, the rest are aborted', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec('CREATE TEMP TABLE p (id int4 PRIMARY KEY)')
    const settled: PromiseSettledResult<unknown>[] = []
    const error = await caught(() =>
      conn.pipeline(async (p) => {
        const results = []
        for (let i = 0; i < 1000; i++) {
          // 400 to 599 are one unit between sync points; 500 is inserted twice.
          results.push(p.query('INSERT INTO p VALUES ($1) RETURNING id', [i === 501 ? 500 : i]))
          if (i === 399 || i === 599) p.sync()
        }
        settled.push(...(await Promise.allSettled(results)))
      }),
    )
    expect(error).toBeInstanceOf(DatabaseError)
    expect((error as DatabaseError).code).toBe('23505')
    expect(settled.slice(0, 501).every((s) => s.status === 'fulfilled')).toBe(true)
    expect(settled[0]).toMatchObject({ value: { command: 'INSERT', rowCount: 1, rows: [{ id: 0 }] } })
    expect((settled[501] as PromiseRejectedResult).reason).toBe(error)
    for (const s of settled.slice(502, 600)) {
      expect(s.status).toBe('rejected')
      expect((s as PromiseRejectedResult).reason).toBeInstanceOf(OperationalError)
      expect((s as PromiseRejectedResult).reason.message).toMatch(/pipeline aborted/)
    }
    expect(settled.slice(600).every((s) => s.status === 'fulfilled')).toBe(true)
    // 0..399 and 600..999 committed; the unit 400..599 rolled back with its error.
    const { rows } = await conn.query('SELECT count(*)::int4 AS n, min(id) AS lo, max(id) AS hi FROM p WHERE id BETWEEN 400 AND 599')
    expect(rows[0]).toEqual({ n: 0, lo: null, hi: null })
    expect((await conn.query('SELECT count(*)::int4 AS n FROM p')).rows).toEqual([{ n: 800 }])
    expect(conn.transactionStatus).toBe('idle')
  })

  it("gives results in order, as query() gives them, also for statements the cache knows", async () => {
    const conn = await openAsync({ autocommit: true })
    const sql = "SELECT $1::int4 AS n, 'x' || $1 AS t, now()::date AS d, ARRAY[$1::int4] AS a, $2::jsonb AS j"
    const direct = (await conn.query(sql, [7, { k: 1 }])).rows
    const [first, second, empty] = await conn.pipeline(async (p) => {
      const a = p.query(sql, [7, { k: 1 }]) // cached by the query above
      const b = p.query('SELECT $1::int4 + 1 AS m, $2::text AS s, $3::bytea AS b', [41, 'two', Buffer.from([1, 2])])
      const c = p.query('')
      return Promise.all([a, b, c])
    })
    expect(first.rows).toEqual(direct)
    expect(second.rows).toEqual([{ m: 42, s: 'two', b: Buffer.from([1, 2]) }])
    expect(empty.rows).toEqual([])
  })

  it('sends statements queued after an await, after the ones before it', async () => {
    const conn = await openAsync({ autocommit: true })
    const got = await conn.pipeline(async (p) => {
      const one = await p.query('SELECT 1 AS v')
      const two = p.query('SELECT 2 AS v')
      const three = p.query('SELECT 3 AS v')
      return [one.rows[0], (await two).rows[0], (await three).rows[0]]
    })
    expect(got).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }])
  })

  it('with autocommit off runs in a transaction: an error leaves it failed, to roll back', async () => {
    const conn = await openAsync()
    await conn.exec('CREATE TEMP TABLE q (id int4)')
    await conn.commit()
    await caught(() =>
      conn.pipeline((p) => {
        p.query('INSERT INTO q VALUES (1)')
        p.sync()
        p.query('SELECT 1 / 0')
        p.sync()
        p.query('INSERT INTO q VALUES (2)')
      }),
    )
    expect(conn.transactionStatus).toBe('inerror')
    await conn.rollback()
    expect((await conn.query('SELECT count(*)::int4 AS n FROM q')).rows).toEqual([{ n: 0 }])
    await conn.pipeline((p) => {
      p.query('INSERT INTO q VALUES (3)')
      p.query('INSERT INTO q VALUES (4)')
    })
    expect(conn.transactionStatus).toBe('intrans')
    await conn.commit()
    expect((await conn.query('SELECT count(*)::int4 AS n FROM q')).rows).toEqual([{ n: 2 }])
  })

  it('runs inside transaction(), and explicit BEGIN/COMMIT statements work in it', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec('CREATE TEMP TABLE r (id int4)')
    await caught(() =>
      conn.transaction(async () => {
        await conn.pipeline((p) => {
          p.query('INSERT INTO r VALUES (1)')
          p.query('INSERT INTO r VALUES (2)')
        })
        expect(conn.transactionStatus).toBe('intrans')
        throw new Error('undo')
      }),
    )
    expect((await conn.query('SELECT count(*)::int4 AS n FROM r')).rows).toEqual([{ n: 0 }])
    // An explicit block inside the pipeline commits by itself; the failure after it changes nothing in it.
    await caught(() =>
      conn.pipeline((p) => {
        p.query('BEGIN')
        p.query('INSERT INTO r VALUES (3)')
        p.query('COMMIT')
        p.query('SELECT 1 / 0')
      }),
    )
    expect((await conn.query('SELECT array_agg(id)::int4[] AS ids FROM r')).rows).toEqual([{ ids: [3] }])
    expect(conn.transactionStatus).toBe('idle')
  })

  it("rethrows the callback's error after the queued statements settle; the connection stays usable", async () => {
    const conn = await openAsync({ autocommit: true })
    let queued: Promise<unknown> | undefined
    const error = await caught(() =>
      conn.pipeline((p) => {
        queued = p.query('SELECT 1 AS v')
        throw new Error('callback failed')
      }),
    )
    expect((error as Error).message).toBe('callback failed')
    expect(await queued).toMatchObject({ rows: [{ v: 1 }] })
    expect(await caught(() => conn.pipeline((p) => p.query(42 as never)))).toBeInstanceOf(TypeError)
    expect(await caught(() => conn.pipeline((p) => p.query('SELECT $1::int4', ['nope'])))).toMatchObject({ code: '22P02' })
    expect((await conn.query('SELECT 5 AS v')).rows).toEqual([{ v: 5 }])
  })
})

describe('Connection.pipeline (sync)', () => {
  it('sends the queue when a result is looked at, and at the end', () => {
    const conn = openSync({ autocommit: true })
    let last: { result: { rows: unknown[] } } | undefined
    // The pipeline throws its first statement error once all is answered.
    expect(() =>
      conn.pipeline((p) => {
        const a = p.query('SELECT 1 AS v')
        const b = p.query('SELECT 1 / 0 AS v')
        const c = p.query('SELECT 3 AS v')
        p.sync()
        last = p.query('SELECT 4 AS v')
        expect(a.result.rows).toEqual([{ v: 1 }])
        expect(() => b.result).toThrow(/division by zero/)
        expect(() => c.result).toThrow(/pipeline aborted/)
      }),
    ).toThrow(/division by zero/)
    expect(last!.result.rows).toEqual([{ v: 4 }])
    expect(conn.pipeline((p) => p.query('SELECT 5 AS v')).result.rows).toEqual([{ v: 5 }])
    expect(() =>
      conn.pipeline((p) => {
        p.query('SELECT 1 / 0')
      }),
    ).toThrow(/division by zero/)
    expect(conn.query('SELECT 6 AS v').rows).toEqual([{ v: 6 }])
  })
})

describe('pools', () => {
  it('pool.pipeline() holds a connection for the pipeline only', async () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, maxSize: 1 })
    pools.push(pool)
    const rows = await pool.pipeline(async (p) => {
      const all = await Promise.all([p.query('SELECT 1 AS v'), p.query('SELECT 2 AS v')])
      return all.map((r) => r.rows[0])
    })
    expect(rows).toEqual([{ v: 1 }, { v: 2 }])
    expect(pool.getStats().poolAvailable).toBe(1)
    const sync = new ConnectionPool(databaseUrl(), { minSize: 1, maxSize: 1 })
    pools.push(sync)
    expect(sync.pipeline((p) => p.query('SELECT 3 AS v').result.rows)).toEqual([{ v: 3 }])
    expect(sync.getStats().poolAvailable).toBe(1)
  })
})
