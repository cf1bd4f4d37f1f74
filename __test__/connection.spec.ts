import { createHash } from 'node:crypto'
import path from 'node:path'
import { Worker } from 'node:worker_threads'

import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnection, Connection, DatabaseError, OperationalError, ProgrammingError } from '../dist/index.js'
import { databaseUrl } from './helpers'

const opened: { close(): unknown }[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()))
})

async function connectAsync(options = {}): Promise<AsyncConnection> {
  const conn = await AsyncConnection.connect(databaseUrl(), options)
  opened.push(conn)
  return conn
}

function connectSync(options = {}): Connection {
  const conn = Connection.connect(databaseUrl(), options)
  opened.push(conn)
  return conn
}

const PARAMS_SQL = 'SELECT $1::int4 AS n, $2::text AS t, $3::int4 AS missing, $4::bool AS b, $5::float8 AS f'
const EXPECTED_ROW = { n: 42, t: 'héllo', missing: null, b: true, f: 2.5 }

describe('AsyncConnection', () => {
  it('runs a query with parameters and NULLs', async () => {
    const conn = await connectAsync()
    const result = await conn.query(PARAMS_SQL, [42, 'héllo', null, true, 2.5])
    expect(result.rows).toEqual([EXPECTED_ROW])
    expect(result.rowCount).toBe(1)
    expect(result.command).toBe('SELECT')
    expect(result.fields.map((f) => [f.name, f.dataTypeID])).toEqual([
      ['n', 23],
      ['t', 25],
      ['missing', 23],
      ['b', 16],
      ['f', 701],
    ])
  })

  it('decodes the slice of value types, NULL included', async () => {
    const conn = await connectAsync()
    const { rows } = await conn.query(
      `SELECT true AS yes, 7::int2 AS small, -8::int4 AS mid, 9007199254740993::int8 AS big,
              -3::int8 AS negative, 0.25::float8 AS real, 'text'::text AS word, NULL::text AS nothing`,
    )
    expect(rows).toEqual([
      { yes: true, small: 7, mid: -8, big: '9007199254740993', negative: '-3', real: 0.25, word: 'text', nothing: null },
    ])
  })

  it('sends a numeric string for an int4 parameter, as pg does', async () => {
    const conn = await connectAsync()
    expect((await conn.query('SELECT $1::int4 + 1 AS n', ['41'])).rows).toEqual([{ n: 42 }])
  })

  it('reports a syntax error with sqlstate 42601 and stays usable', async () => {
    const conn = await connectAsync({ autocommit: true })
    const error = await conn.query('SELEC 1').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ProgrammingError)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error).toMatchObject({ sqlstate: '42601', code: '42601', severity: 'ERROR', position: '1' })
    expect((await conn.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('opens a transaction on the first statement when autocommit is off', async () => {
    const conn = await connectAsync()
    expect(conn.autocommit).toBe(false)
    expect(conn.transactionStatus).toBe('idle')
    await conn.query('SELECT 1')
    expect(conn.transactionStatus).toBe('intrans')
    await conn.query('SELECT 1/0').catch(() => {})
    expect(conn.transactionStatus).toBe('inerror')
    await conn.rollback()
    expect(conn.transactionStatus).toBe('idle')
  })

  it('throws a TypeError naming the parameter that does not fit, and stays usable', async () => {
    const conn = await connectAsync()
    const error = await conn.query('SELECT $1::int4, $2::int2', [1, 40000]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ position: 2, pgType: 'int2' })
    expect((error as Error).message).toMatch(/\$2 \(int2\)/)
    expect((await conn.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
  })

  it('knows its backend and its closed state', async () => {
    const conn = await AsyncConnection.connect(databaseUrl())
    const { rows } = await conn.query('SELECT pg_backend_pid() AS pid')
    expect(conn.backendPid).toBe(rows[0]!.pid)
    expect(conn.closed).toBe(false)
    await conn.close()
    expect(conn.closed).toBe(true)
    expect(conn.transactionStatus).toBe('unknown')
    await expect(conn.query('SELECT 1')).rejects.toThrow(/closed/)
  })

  it('returns a large result whole and in order, its rows decoded in chunks while it arrives', async () => {
    const conn = await connectAsync({ autocommit: true })
    // Several row chunks (src/rows.rs), interleaved with small queries on other connections.
    const other = await connectAsync({ autocommit: true })
    const [big, small] = await Promise.all([
      conn.query<{ g: number; m: string }>('SELECT g, md5(g::text) AS m FROM generate_series(1, 60000) g'),
      other.query<{ n: number }>('SELECT 7 AS n'),
    ])
    expect(small.rows).toEqual([{ n: 7 }])
    expect(big.rowCount).toBe(60000)
    expect(big.rows).toHaveLength(60000)
    expect(big.rows.every((row, i) => row.g === i + 1)).toBe(true)
    expect(big.rows[59999]).toEqual({ g: 60000, m: createHash('md5').update('60000').digest('hex') })
    // A failure after some chunks went over: the query throws, and the next result has no stray rows.
    await expect(conn.query('SELECT g, 1 / (g - 50000) FROM generate_series(1, 60000) g')).rejects.toThrow(/division by zero/)
    expect((await conn.query('SELECT g FROM generate_series(1, 3) g')).rows).toEqual([{ g: 1 }, { g: 2 }, { g: 3 }])
  })

  it('rejects a query whose backend is terminated while it waits, and the process stays up', async () => {
    // One query at a time waits on Node's own event loop (src/event_loop.rs): its socket's end
    // must reach it there as an error, not a hang or a crash.
    const conn = await connectAsync({ autocommit: true })
    const killer = await connectAsync({ autocommit: true })
    // Its rejection is heard from the start: it may come while the killer's own query runs.
    const running = conn.query('SELECT pg_sleep(5)').catch((error: unknown) => error)
    await new Promise((resolve) => setTimeout(resolve, 200))
    await killer.query('SELECT pg_terminate_backend($1)', [conn.backendPid])
    expect(String(await running)).toMatch(/terminat|closed|lost/)
    expect(conn.broken).toBe(true)
    const again = await connectAsync({ autocommit: true })
    expect((await again.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('survives a worker thread that is terminated while its queries wait', async () => {
    const script = `
      const { workerData, parentPort } = require('node:worker_threads')
      const { AsyncConnection } = require(${JSON.stringify(path.resolve('dist/index.js'))})
      AsyncConnection.connect(workerData.url, { autocommit: true }).then((conn) => {
        conn.query('SELECT pg_sleep(0.5)')
        conn.query('SELECT 1')
        parentPort.postMessage('waiting')
      })
    `
    const worker = new Worker(script, { eval: true, workerData: { url: databaseUrl() } })
    await new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await worker.terminate()).toBe(1)
    // The queries finish after the worker's environment is gone: nothing may reach it then.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    // This thread's own queries still run.
    const conn = await connectAsync({ autocommit: true })
    expect((await conn.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
  })

  it('runs 100 concurrent queries on 100 separate connections, all correct', async () => {
    const url = await serverWithHeadroom(100)
    const conns = await Promise.all(Array.from({ length: 100 }, () => AsyncConnection.connect(url.url, { autocommit: true })))
    try {
      expect(new Set(conns.map((c) => c.backendPid)).size).toBe(100)
      const results = await Promise.all(
        conns.map((c, i) => c.query('SELECT $1::int4 * 2 AS doubled, pg_backend_pid() AS pid, pg_sleep(0.05)', [i])),
      )
      results.forEach((result, i) => {
        expect(result.rows[0]).toMatchObject({ doubled: i * 2, pid: conns[i]!.backendPid })
      })
    } finally {
      await Promise.all(conns.map((c) => c.close()))
      await url.stop()
    }
  })
})

describe('Connection (sync)', () => {
  it('runs a query with parameters and NULLs', () => {
    const conn = connectSync()
    const result = conn.query(PARAMS_SQL, [42, 'héllo', null, true, 2.5])
    expect(result.rows).toEqual([EXPECTED_ROW])
    expect(result.rowCount).toBe(1)
    expect(result.command).toBe('SELECT')
  })

  it('reports a syntax error with sqlstate 42601 and stays usable', () => {
    const conn = connectSync({ autocommit: true })
    expect(() => conn.query('SELECT FROM WHERE')).toThrow(expect.objectContaining({ sqlstate: '42601' }))
    expect(conn.query('SELECT 3 AS three').rows).toEqual([{ three: 3 }])
  })

  it('commits and rolls back', () => {
    const conn = connectSync()
    conn.exec('CREATE TEMP TABLE t (x int4)')
    conn.commit()
    conn.query('INSERT INTO t VALUES ($1)', [1])
    conn.rollback()
    const inserted = conn.query('INSERT INTO t VALUES ($1), ($2)', [2, 3])
    expect(inserted).toMatchObject({ command: 'INSERT', rowCount: 2 })
    conn.commit()
    expect(conn.query('SELECT x FROM t ORDER BY x').rows).toEqual([{ x: 2 }, { x: 3 }])
  })

  it('blocks the event loop: a timer scheduled before the query fires only after it returns', async () => {
    const conn = connectSync()
    const events: string[] = []
    setTimeout(() => events.push('timer'), 0)
    setImmediate(() => events.push('immediate'))
    conn.query('SELECT pg_sleep(0.3)')
    events.push('query returned')
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(events[0]).toBe('query returned')
    expect(events).toContain('timer')
  })
})

describe('refused connections', () => {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  const refused = 'postgres://someone:s3cr3t-pw@127.0.0.1:1/nowhere'

  it('fail with an OperationalError naming host and port, never the password (async)', async () => {
    const error = await AsyncConnection.connect(refused).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OperationalError)
    expect((error as Error).message).toContain('127.0.0.1:1')
    expect((error as Error).message).not.toContain('s3cr3t-pw')
  })

  it('fail with an OperationalError naming host and port, never the password (sync)', () => {
    let error: unknown
    try {
      Connection.connect(refused)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(OperationalError)
    expect((error as Error).message).toContain('127.0.0.1:1')
    expect((error as Error).message).not.toContain('s3cr3t-pw')
  })

  it('names the bad key of a malformed conninfo', async () => {
    await expect(AsyncConnection.connect('host=127.0.0.1 colour=blue')).rejects.toThrow(/option number 2/)
  })
})

/**
 * The shared server when it has room for `connections` more clients, else a throwaway server of
 * this test's own (a machine's server may allow only 100 connections in all).
 */
async function serverWithHeadroom(connections: number): Promise<{ url: string; stop(): Promise<void> }> {
  const probe = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
  const { rows } = await probe.query<{ free: number }>(
    `SELECT current_setting('max_connections')::int4
            - current_setting('superuser_reserved_connections')::int4
            - (SELECT count(*) FROM pg_stat_activity)::int4 AS free`,
  )
  await probe.close()
  if (rows[0]!.free >= connections + 20) return { url: databaseUrl(), stop: async () => {} }
  // @ts-expect-error: a JavaScript module without type declarations
  const { startServer } = await import('../scripts/pg-server.mjs')
  return startServer()
}

describe('cancel', () => {
  it('cancels a running statement on the server; the connection stays usable', async () => {
    const conn = await connectAsync({ autocommit: true })
    const running = conn.query('SELECT pg_sleep(30)').catch((e: unknown) => e)
    // Give the statement time to reach the server before cancelling it.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(conn.transactionStatus).toBe('active')
    await conn.cancel()
    const error = await running
    expect(error).toBeInstanceOf(OperationalError)
    expect(error).toMatchObject({ sqlstate: '57014' })
    expect((await conn.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })
})
