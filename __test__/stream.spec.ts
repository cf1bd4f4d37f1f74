// stream(): a query's rows read from a portal as the loop takes them. Checked here: the rows
// are query()'s rows; the server is asked for one batch at a time (a sequence the query
// advances shows how far it ran); memory stays bounded over 10,000,000 rows; every way of
// stopping (break, return(), a throw in the loop, an AbortSignal) leaves the connection
// usable and a pool's connection returned; sync and async; in and out of a transaction.

import { afterEach, describe, expect, it } from 'vitest'

import { AbortError, AsyncConnectionPool, ConnectionPool, DatabaseError } from '../dist/index.js'
import { databaseUrl, eventually } from './helpers'
import { caught, openAsync, openSync } from './open'

const MIXED_TYPES = `
  SELECT g AS i4, g::int8 * 10000000000 AS i8, g::float8 / 3 AS f8, (g / 7.0)::numeric(20, 6) AS num,
         'row ' || g AS txt, g % 2 = 0 AS bool, NULL::int4 AS nothing,
         timestamptz '2024-01-02 03:04:05.678+00' + g * interval '1 hour' AS ts,
         date '2024-02-29' + g AS day, interval '1 day 2 hours' * g AS span,
         ('{"n": ' || g || '}')::jsonb AS doc, json_build_object('g', g) AS js,
         decode(lpad(to_hex(g), 8, '0'), 'hex') AS bytes, ARRAY[g, g + 1, NULL] AS arr,
         ARRAY['a', 'b c'] AS texts, md5(g::text)::uuid AS id, point(g, -g) AS pt
  FROM generate_series(1, $1::int4) g`

const pools: { close(): unknown }[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()))
})

async function asyncPool(): Promise<AsyncConnectionPool> {
  const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, maxSize: 1 })
  pools.push(pool)
  await pool.wait()
  return pool
}

function syncPool(): ConnectionPool {
  const pool = new ConnectionPool(databaseUrl(), { minSize: 1, maxSize: 1 })
  pools.push(pool)
  pool.wait()
  return pool
}

/** A sequence the streamed query advances once per row the server produced. */
async function rowCounter(name: string): Promise<{ sql: string; produced: () => Promise<number> }> {
  const admin = await openAsync({ autocommit: true })
  await admin.exec(`DROP SEQUENCE IF EXISTS ${name}; CREATE SEQUENCE ${name}`)
  return {
    sql: `SELECT nextval('${name}') AS n FROM generate_series(1, 100000)`,
    produced: async () => {
      const { rows } = await admin.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text, is_called FROM ${name}`,
      )
      return rows[0]!.is_called ? Number(rows[0]!.last_value) : 0
    },
  }
}

describe('AsyncConnection.stream', () => {
  it("gives query()'s rows, for a mix of types, across batches", async () => {
    const conn = await openAsync()
    const expected = (await conn.query(MIXED_TYPES, [25])).rows
    const streamed = []
    for await (const row of conn.stream(MIXED_TYPES, [25], { batchSize: 4 })) streamed.push(row)
    expect(streamed).toEqual(expected)
    expect(streamed[0]).toHaveProperty('bytes', Buffer.from('00000001', 'hex'))
  })

  it('asks the server for a batch only when the loop has taken the one before', async () => {
    const counter = await rowCounter('stream_produced')
    const conn = await openAsync({ autocommit: true })
    const seen: number[] = []
    for await (const row of conn.stream<{ n: string }>(counter.sql, [], { batchSize: 10 })) {
      seen.push(Number(row.n))
      if (seen.length === 1 || seen.length === 10) expect(await counter.produced()).toBe(10)
      if (seen.length === 11) expect(await counter.produced()).toBe(20)
      if (seen.length === 25) break
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
    expect(await counter.produced()).toBe(30)
  })

  it('streams 10,000,000 rows in bounded memory', { timeout: 120_000 }, async () => {
    const conn = await openAsync()
    global.gc?.()
    const startRss = process.memoryUsage.rss()
    let peakRss = startRss
    let count = 0
    let sum = 0
    const started = performance.now()
    for await (const row of conn.stream<{ g: number }>('SELECT g FROM generate_series(1, 10000000) g')) {
      count++
      sum += row.g
      if ((count & 0x3fff) === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss())
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    const growthMb = Math.round((peakRss - startRss) / 1e6)
    console.log(
      `stream: 10,000,000 rows in ${seconds} s; RSS ${Math.round(startRss / 1e6)} MB at the start, ` +
        `peak ${Math.round(peakRss / 1e6)} MB (+${growthMb} MB)`,
    )
    expect(count).toBe(10_000_000)
    expect(sum).toBe((10_000_000 * 10_000_001) / 2)
    // query() would hold all 10,000,000 rows at once (well over a gigabyte as objects).
    expect(growthMb).toBeLessThan(200)
    expect((await conn.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('stops on break, on return() and on a throw in the loop, the connection usable after each', async () => {
    const conn = await openAsync({ autocommit: true })
    const sql = 'SELECT g FROM generate_series(1, 100000) g'
    for await (const row of conn.stream<{ g: number }>(sql, [], { batchSize: 100 })) {
      if (row.g === 150) break
    }
    expect(conn.transactionStatus).toBe('idle')
    expect((await conn.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])

    const stream = conn.stream<{ g: number }>(sql, [], { batchSize: 100 })
    expect((await stream.next()).value).toEqual({ g: 1 })
    expect(await stream.return!()).toEqual({ done: true, value: undefined })
    expect(await stream.next()).toEqual({ done: true, value: undefined })
    expect((await conn.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }])

    const failure = new Error('the loop body failed')
    const error = await caught(async () => {
      for await (const row of conn.stream<{ g: number }>(sql, [], { batchSize: 100 })) {
        if (row.g === 42) throw failure
      }
    })
    expect(error).toBe(failure)
    expect((await conn.query('SELECT 4 AS four')).rows).toEqual([{ four: 4 }])
  })

  it('stops with an AbortError when its signal aborts, between rows or during a read', async () => {
    const conn = await openAsync({ autocommit: true })
    const between = new AbortController()
    const seen: number[] = []
    const error = await caught(async () => {
      for await (const row of conn.stream<{ g: number }>('SELECT g FROM generate_series(1, 100000) g', [], {
        batchSize: 100,
        signal: between.signal,
      })) {
        seen.push(row.g)
        if (row.g === 7) between.abort(new Error('enough'))
      }
    })
    expect(error).toBeInstanceOf(AbortError)
    expect((error as AbortError).cause).toEqual(new Error('enough'))
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect((await conn.query('SELECT 5 AS five')).rows).toEqual([{ five: 5 }])

    // A read the server is slow to answer: the abort cancels it there.
    const during = new AbortController()
    const slow = conn.stream('SELECT pg_sleep(30), g FROM generate_series(1, 2) g', [], { signal: during.signal })
    const pending = slow.next()
    const admin = await openAsync({ autocommit: true })
    await eventually(async () => {
      const { rows } = await admin.query(
        "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'",
        [conn.backendPid],
      )
      return rows.length === 1
    })
    const started = performance.now()
    during.abort()
    await expect(pending).rejects.toBeInstanceOf(AbortError)
    expect(performance.now() - started).toBeLessThan(10_000)
    expect((await conn.query('SELECT 6 AS six')).rows).toEqual([{ six: 6 }])

    const already = new AbortController()
    already.abort()
    await expect(conn.stream('SELECT 1', [], { signal: already.signal }).next()).rejects.toBeInstanceOf(AbortError)
  })

  it('runs inside a transaction, which it leaves open, and outside one', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.transaction(async () => {
      await conn.exec('CREATE TEMP TABLE inside (x int4); INSERT INTO inside SELECT generate_series(1, 50)')
      let total = 0
      for await (const row of conn.stream<{ x: number }>('SELECT x FROM inside', [], { batchSize: 7 })) total += row.x
      expect(total).toBe(1275)
      expect(conn.transactionStatus).toBe('intrans')
      for await (const row of conn.stream<{ x: number }>('SELECT x FROM inside ORDER BY x', [], { batchSize: 7 })) {
        if (row.x === 3) break
      }
      expect(conn.transactionStatus).toBe('intrans')
      expect((await conn.query('SELECT count(*)::int4 AS n FROM inside')).rows).toEqual([{ n: 50 }])
    })
    expect(conn.transactionStatus).toBe('idle')
    // With autocommit off, the stream opens the transaction, as a query does.
    const manual = await openAsync()
    let rows = 0
    for await (const _ of manual.stream('SELECT generate_series(1, 10)', [], { batchSize: 3 })) rows++
    expect(rows).toBe(10)
    expect(manual.transactionStatus).toBe('intrans')
  })

  it("reports the server's error mid-stream and stays usable", async () => {
    const conn = await openAsync({ autocommit: true })
    const seen: number[] = []
    const error = await caught(async () => {
      for await (const row of conn.stream<{ q: number }>('SELECT 10 / (50 - g) AS q FROM generate_series(1, 60) g', [], {
        batchSize: 10,
      })) {
        seen.push(row.q)
      }
    })
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error).toMatchObject({ sqlstate: '22012' })
    expect(seen).toHaveLength(40)
    expect((await conn.query('SELECT 7 AS seven')).rows).toEqual([{ seven: 7 }])
  })

  it('checks its arguments when called, naming the culprit', async () => {
    const conn = await openAsync()
    expect(() => conn.stream('SELECT 1', [], { batchSize: 0 })).toThrow(/stream\(\) option 'batchSize'/)
    expect(() => conn.stream('SELECT 1', [], { batchSize: 1.5 })).toThrow(RangeError)
    expect(() => conn.stream(42 as unknown as string)).toThrow(/query text must be a string/)
    expect(() => conn.stream('SELECT 1', [], { signal: 'no' as unknown as AbortSignal })).toThrow(/option 'signal'/)
  })
})

describe('Connection.stream (sync)', () => {
  it("gives query()'s rows and reads as the loop takes them", async () => {
    const conn = openSync()
    const expected = conn.query(MIXED_TYPES, [25]).rows
    expect([...conn.stream(MIXED_TYPES, [25], { batchSize: 3 })]).toEqual(expected)

    const counter = await rowCounter('stream_produced_sync')
    const auto = openSync({ autocommit: true })
    const stream = auto.stream<{ n: string }>(counter.sql, [], { batchSize: 10 })
    expect(stream.next().value).toEqual({ n: '1' })
    expect(await counter.produced()).toBe(10)
    stream.return!()
    expect(await counter.produced()).toBe(10)
    expect(auto.query('SELECT 1 AS one').rows).toEqual([{ one: 1 }])
  })

  it('stops on break, a throw and an abort, the connection usable after each; in and out of a transaction', () => {
    const conn = openSync({ autocommit: true })
    const sql = 'SELECT g FROM generate_series(1, 100000) g'
    for (const row of conn.stream<{ g: number }>(sql, [], { batchSize: 100 })) if (row.g === 150) break
    expect(conn.query('SELECT 2 AS two').rows).toEqual([{ two: 2 }])

    const failure = new Error('the loop body failed')
    expect(() => {
      for (const row of conn.stream<{ g: number }>(sql, [], { batchSize: 100 })) if (row.g === 42) throw failure
    }).toThrow(failure)
    expect(conn.query('SELECT 3 AS three').rows).toEqual([{ three: 3 }])

    const controller = new AbortController()
    const seen: number[] = []
    expect(() => {
      for (const row of conn.stream<{ g: number }>(sql, [], { batchSize: 100, signal: controller.signal })) {
        seen.push(row.g)
        if (row.g === 5) controller.abort()
      }
    }).toThrow(AbortError)
    expect(seen).toEqual([1, 2, 3, 4, 5])
    expect(conn.query('SELECT 4 AS four').rows).toEqual([{ four: 4 }])

    conn.transaction(() => {
      let total = 0
      for (const row of conn.stream<{ g: number }>('SELECT generate_series(1, 100) AS g', [], { batchSize: 9 })) total += row.g
      expect(total).toBe(5050)
      expect(conn.transactionStatus).toBe('intrans')
    })
    expect(conn.transactionStatus).toBe('idle')
  })
})

describe('AsyncConnectionPool.stream', () => {
  it('holds a connection only while the stream is iterated, and gives it back however it ends', async () => {
    const pool = await asyncPool()
    const sql = 'SELECT g FROM generate_series(1, 1000) g'
    const stream = pool.stream<{ g: number }>(sql, [], { batchSize: 50 })
    expect(pool.getStats().poolAvailable).toBe(1) // not taken before the first row
    let total = 0
    for await (const row of stream) {
      if (row.g === 1) expect(pool.getStats().poolAvailable).toBe(0)
      total += row.g
    }
    expect(total).toBe(500500)
    await eventually(() => pool.getStats().poolAvailable === 1)

    for await (const row of pool.stream<{ g: number }>(sql, [], { batchSize: 50 })) if (row.g === 60) break
    await eventually(() => pool.getStats().poolAvailable === 1)

    const failure = new Error('the loop body failed')
    expect(
      await caught(async () => {
        for await (const row of pool.stream<{ g: number }>(sql)) if (row.g === 2) throw failure
      }),
    ).toBe(failure)
    await eventually(() => pool.getStats().poolAvailable === 1)

    const controller = new AbortController()
    expect(
      await caught(async () => {
        for await (const row of pool.stream<{ g: number }>(sql, [], { signal: controller.signal })) if (row.g === 3) controller.abort()
      }),
    ).toBeInstanceOf(AbortError)
    await eventually(() => pool.getStats().poolAvailable === 1)

    expect(await caught(async () => {
      for await (const _ of pool.stream('SELECT 1 / 0')) void _
    })).toBeInstanceOf(DatabaseError)
    await eventually(() => pool.getStats().poolAvailable === 1)

    // The one connection is usable: a stream, then a query.
    expect((await pool.query('SELECT 8 AS eight')).rows).toEqual([{ eight: 8 }])
    expect(pool.getStats().returnsBad).toBe(0)
  })

  it('commits a stream read to its end and rolls back one stopped early', async () => {
    const admin = await openAsync({ autocommit: true })
    await admin.exec('DROP TABLE IF EXISTS stream_written; CREATE TABLE stream_written (x int4)')
    const pool = await asyncPool()
    const insert = 'INSERT INTO stream_written SELECT generate_series(1, 5) RETURNING x'
    let count = 0
    for await (const _ of pool.stream(insert)) count++
    expect(count).toBe(5)
    for await (const _ of pool.stream(insert)) break
    expect((await admin.query('SELECT count(*)::int4 AS n FROM stream_written')).rows).toEqual([{ n: 5 }])
    await admin.exec('DROP TABLE stream_written')
  })
})

describe('ConnectionPool.stream (sync)', () => {
  it('holds a connection only while iterating, gives it back however it ends', () => {
    const pool = syncPool()
    const sql = 'SELECT g FROM generate_series(1, 1000) g'
    const stream = pool.stream<{ g: number }>(sql, [], { batchSize: 50 })
    expect(pool.getStats().poolAvailable).toBe(1)
    let total = 0
    for (const row of stream) {
      if (row.g === 1) expect(pool.getStats().poolAvailable).toBe(0)
      total += row.g
    }
    expect(total).toBe(500500)
    expect(pool.getStats().poolAvailable).toBe(1)

    for (const row of pool.stream<{ g: number }>(sql, [], { batchSize: 50 })) if (row.g === 60) break
    expect(pool.getStats().poolAvailable).toBe(1)

    const failure = new Error('the loop body failed')
    expect(() => {
      for (const row of pool.stream<{ g: number }>(sql)) if (row.g === 2) throw failure
    }).toThrow(failure)
    expect(pool.getStats().poolAvailable).toBe(1)

    const controller = new AbortController()
    expect(() => {
      for (const row of pool.stream<{ g: number }>(sql, [], { signal: controller.signal })) if (row.g === 3) controller.abort()
    }).toThrow(AbortError)
    expect(pool.getStats().poolAvailable).toBe(1)
    expect(pool.query('SELECT 9 AS nine').rows).toEqual([{ nine: 9 }])
  })
})
