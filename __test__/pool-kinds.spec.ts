// The four pool classes on one engine: the common scenarios of spec §10.2 parametrised over
// them, the null-pool scenarios of §10.4, and what only the sync pools must prove (hooks run
// inline on the JS thread, blocking getconn, worker threads).

import path from 'node:path'
import { Worker } from 'node:worker_threads'

import { afterEach, describe, expect, it } from 'vitest'

import {
  AsyncConnection,
  AsyncConnectionPool,
  AsyncNullConnectionPool,
  ConnectionPool,
  NullConnectionPool,
  PoolClosed,
  PoolTimeout,
  type AsyncPoolOptions,
  type SyncPoolOptions,
} from '../dist/index.js'
import { databaseUrl, eventually, recordingLogger, sleep, untilBackendGone } from './helpers'

type AnyPool = AsyncConnectionPool | ConnectionPool
type AnyConnection = { backendPid: number; query(sql: string, params?: unknown[]): unknown; closed: boolean }
type Options = AsyncPoolOptions<never> & SyncPoolOptions<never>

interface Kind {
  name: string
  isNull: boolean
  make(options?: Options): AnyPool
}

const KINDS: Kind[] = [
  { name: 'AsyncConnectionPool', isNull: false, make: (o) => new AsyncConnectionPool(databaseUrl(), o as never) },
  { name: 'AsyncNullConnectionPool', isNull: true, make: (o) => new AsyncNullConnectionPool(databaseUrl(), o as never) },
  { name: 'ConnectionPool', isNull: false, make: (o) => new ConnectionPool(databaseUrl(), o as never) },
  { name: 'NullConnectionPool', isNull: true, make: (o) => new NullConnectionPool(databaseUrl(), o as never) },
]

const pools: AnyPool[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()))
})

function track<P extends AnyPool>(pool: P): P {
  pools.push(pool)
  return pool
}

/** The same call on either face: sync results are awaited as plain values. */
async function use<T>(pool: AnyPool, fn: (conn: AnyConnection) => T, timeout?: number): Promise<Awaited<T>> {
  return (await (pool as ConnectionPool).connection(fn as never, { timeout })) as Awaited<T>
}

/** The shared server's URL with an application_name, to find its backends later. */
function withAppName(name: string): string {
  const url = databaseUrl()
  return `${url}${url.includes('?') ? '&' : '?'}application_name=${name}`
}

// vitest runs from the repository root.
const DIST = path.resolve('dist/index.js')

const minSize = (kind: Kind, n = 1) => (kind.isNull ? 0 : n)

describe.each(KINDS)('$name', (kind) => {
  const make = (options: Options = {}) => track(kind.make({ minSize: minSize(kind), maxSize: 2, ...options }))

  it('runs queries through connection()', async () => {
    const pool = make()
    const rows = await use(pool, (c) => c.query('SELECT 1 + 1 AS two'))
    expect((rows as { rows: unknown[] }).rows).toEqual([{ two: 2 }])
    expect(pool.closed).toBe(false)
  })

  it('applies connectionOptions to every connection', async () => {
    const pool = make({ connectionOptions: { autocommit: true } })
    await use(pool, (c) => c.query('SELECT 1'))
    const autocommit = await use(pool, (c) => (c as AsyncConnection).autocommit)
    expect(autocommit).toBe(true)
  })

  it('has the sizes of its kind', () => {
    const pool = track(kind.make({ open: false }))
    expect([pool.minSize, pool.maxSize]).toEqual(kind.isNull ? [0, 0] : [4, 4])
    if (kind.isNull) {
      expect(() => kind.make({ minSize: 1, open: false })).toThrow(/null pools must have minSize = 0/)
      expect(() => kind.make({ maxSize: -2, open: false })).toThrow(RangeError)
    } else {
      expect(() => kind.make({ minSize: 0, open: false })).toThrow(RangeError)
    }
  })

  it('raises PoolClosed before open and after close', async () => {
    const pool = track(kind.make({ open: false, minSize: minSize(kind) }))
    await expect(async () => pool.getconn()).rejects.toThrow(/is not open yet/)
    await pool.open()
    await use(pool, (c) => c.query('SELECT 1'))
    await pool.close()
    await expect(async () => pool.getconn()).rejects.toThrow(PoolClosed)
    await expect(async () => pool.open()).rejects.toThrow(/cannot be reused/)
  })

  it('times getconn out when no connection can be had', async () => {
    const pool = make({ maxSize: 1 })
    const held = await pool.getconn()
    const started = performance.now()
    await expect(async () => pool.getconn(0.2)).rejects.toThrow(PoolTimeout)
    const elapsed = (performance.now() - started) / 1000
    expect(elapsed).toBeGreaterThanOrEqual(0.19)
    expect(elapsed).toBeLessThan(1)
    await pool.putconn(held as never)
  })

  it('replaces a connection closed by its user', async () => {
    const pool = make({ maxSize: 1 })
    // A sync close() is done when it returns; an async one is awaited before the block ends.
    const first = await use(pool, (c) =>
      Promise.resolve((c as unknown as { close(): unknown }).close()).then(() => c.backendPid),
    )
    expect(await use(pool, (c) => c.backendPid)).not.toBe(first)
  })

  it('drains: connections out at drain time are not reused', async () => {
    const pool = make()
    const a = await pool.getconn()
    await pool.drain()
    await pool.putconn(a as never)
    await pool.wait()
    expect(await use(pool, (c) => c.backendPid)).not.toBe(a.backendPid)
  })

  it("keeps all 17 stats keys (psycopg's 15, connectionsLeaked and requestsPipelined)", async () => {
    const pool = make()
    await use(pool, (c) => c.query('SELECT 1'))
    const stats = pool.getStats()
    expect(Object.keys(stats)).toHaveLength(17)
    expect(stats).toMatchObject({ requestsNum: 1, poolMin: minSize(kind), poolMax: 2 })
  })

  it('query() runs one statement on a pooled connection and commits it', async () => {
    const pool = make()
    // Filled first: a request that found the pool still filling would grow it (psycopg's rule).
    await pool.wait()
    const table = `pool_query_${kind.name.toLowerCase()}`
    const admin = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    try {
      await admin.exec(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (n int)`)
      const result = await pool.query<{ n: number }>(`INSERT INTO ${table} VALUES ($1), ($2) RETURNING n`, [1, 2])
      expect(result).toMatchObject({ command: 'INSERT', rowCount: 2, rows: [{ n: 1 }, { n: 2 }] })
      expect(result.fields.map((f) => [f.name, f.dataTypeID])).toEqual([['n', 23]])
      // Committed: another session sees the rows; the connection went back idle.
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${table}`)).rows).toEqual([{ n: 2 }])
      expect(await use(pool, (c) => (c as AsyncConnection).transactionStatus)).toBe('idle')
      expect(pool.getStats()).toMatchObject({ requestsNum: 2, poolSize: kind.isNull ? 0 : 1 })
    } finally {
      await admin.exec(`DROP TABLE IF EXISTS ${table}`)
      await admin.close()
    }
  })

  it('query() rolls back a failed statement, gives the connection back and throws its typed error', async () => {
    const pool = make({ maxSize: 1 })
    await expect(async () => pool.query('SELECT 1 / 0')).rejects.toThrow(/division by zero/)
    await expect(async () => pool.query('SELECT $1::int', ['not a number'])).rejects.toThrow(/invalid input syntax/)
    await expect(async () => pool.query('SELECT $1::int', [Symbol('x')])).rejects.toThrow(TypeError)
    await expect(async () => pool.query(42 as never)).rejects.toThrow(/query text must be a string/)
    // The one connection is back and usable: nothing was left checked out or in a transaction.
    expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
    expect(pool.getStats()).toMatchObject({ poolAvailable: kind.isNull ? 0 : 1 })
  })

  it('query() waits for a connection as getconn does, and times out with PoolTimeout', async () => {
    const pool = make({ maxSize: 1 })
    const held = await pool.getconn()
    await expect(async () => pool.query('SELECT 1', [], { timeout: 0.2 })).rejects.toThrow(PoolTimeout)
    await pool.putconn(held as never)
    expect((await pool.query('SELECT 3 AS n', [], { timeout: 1 })).rows).toEqual([{ n: 3 }])
  })

  it('query() delivers notices to connectionOptions.onNotice', async () => {
    const notices: string[] = []
    const pool = make({ connectionOptions: { onNotice: (n: { message: string }) => notices.push(n.message) } as never })
    await pool.query(`DO $$ BEGIN RAISE NOTICE 'from the pool'; END $$`)
    await eventually(() => notices.length > 0)
    expect(notices).toEqual(['from the pool'])
  })

  it('checkConnection leaves a good connection idle and throws on a dead one', async () => {
    const pool = make()
    const Class = pool.constructor as typeof AsyncConnectionPool
    const conn = await pool.getconn()
    await Class.checkConnection(conn as never)
    expect((conn as AsyncConnection).transactionStatus).toBe('idle')
    const killer = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    await killer.query('SELECT pg_terminate_backend($1)', [conn.backendPid])
    await untilBackendGone(killer, conn.backendPid)
    await killer.close()
    await expect(async () => Class.checkConnection(conn as never)).rejects.toThrow(/lost|closed|terminat/)
    await pool.putconn(conn as never)
  })
})

describe.each(KINDS.filter((k) => k.isNull))('$name (null pool)', (kind) => {
  const make = (options: Options = {}) => track(kind.make(options))

  it('is no pool at all: every client gets a new connection', async () => {
    const pool = make({ maxSize: 2 })
    const pids = [await use(pool, (c) => c.backendPid), await use(pool, (c) => c.backendPid)]
    expect(pids[0]).not.toBe(pids[1])
    expect(pool.getStats()).toMatchObject({ poolSize: 0, poolAvailable: 0 })
  })

  it('configures every connection', async () => {
    let configured = 0
    const pool = make({
      configure: () => {
        configured += 1
      },
    })
    for (let i = 0; i < 3; i++) await use(pool, (c) => c.query('SELECT 1'))
    expect(configured).toBe(3)
  })

  it('closes a returned connection when nobody waits', async () => {
    const pool = make()
    const conn = await pool.getconn()
    await pool.putconn(conn as never)
    expect(conn.closed).toBe(true)
  })

  it('wait() proves it can connect; check() does nothing', async () => {
    const pool = make()
    await pool.wait(5)
    await pool.check()
    expect(pool.getStats().poolSize).toBe(0)
  })

  it('ignores closeReturns: close() really closes', async () => {
    const pool = make({ closeReturns: true })
    const conn = (await pool.getconn()) as unknown as { close(): unknown; closed: boolean }
    await conn.close()
    expect(conn.closed).toBe(true)
  })
})

describe('AsyncNullConnectionPool hand-off', () => {
  it('hands a returned connection to a waiting client, after rollback and reset', async () => {
    const log = recordingLogger()
    let resets = 0
    const pool = track(
      new AsyncNullConnectionPool(databaseUrl(), {
        maxSize: 1,
        logger: log.logger,
        reset: async () => {
          resets += 1
        },
      }),
    )
    const first = await pool.getconn()
    await first.query('SELECT 1')
    const waiter = pool.connection((c) => c.backendPid)
    await eventually(() => pool.getStats().requestsWaiting === 1)
    await pool.putconn(first)
    expect(await waiter).toBe(first.backendPid)
    await eventually(() => log.warnings().length === 1)
    expect(log.warnings()[0]).toContain('[INTRANS]')
    expect(resets).toBe(1)
  })

  it('replaces a broken connection for the client waiting on it', async () => {
    const pool = track(new AsyncNullConnectionPool(databaseUrl(), { maxSize: 1 }))
    const first = await pool.getconn()
    const waiter = pool.connection((c) => c.backendPid, { timeout: 5 })
    await eventually(() => pool.getStats().requestsWaiting === 1)
    await first.close()
    await pool.putconn(first)
    const pid = await waiter
    expect(pid).not.toBe(first.backendPid)
    expect(pool.getStats()).toMatchObject({ poolSize: 0, returnsBad: 1 })
  })

  it('wait() fails with PoolTimeout when the server cannot be reached', async () => {
    const pool = track(new AsyncNullConnectionPool('postgres://nobody@127.0.0.1:1/x'))
    await expect(pool.wait(0.5)).rejects.toThrow('pool initialization incomplete after 0.5 sec')
    expect(pool.closed).toBe(true)
  })

  it('bounds concurrent connections with maxSize and queues the rest', async () => {
    const pool = track(new AsyncNullConnectionPool(databaseUrl(), { maxSize: 2 }))
    let open = 0
    let most = 0
    await Promise.all(
      Array.from({ length: 6 }, () =>
        pool.connection(async () => {
          open += 1
          most = Math.max(most, open)
          await sleep(100)
          open -= 1
        }),
      ),
    )
    expect(most).toBe(2)
  })

  it('connects clients in parallel (connects do not serialise)', async () => {
    const pool = track(new AsyncNullConnectionPool(databaseUrl()))
    const started = performance.now()
    await Promise.all(Array.from({ length: 10 }, () => pool.connection((c) => c.query('SELECT pg_sleep(0.2)'))))
    // Ten 0.2 s holds one after the other would take 2 s.
    expect((performance.now() - started) / 1000).toBeLessThan(1.2)
  })
})

describe('ConnectionPool (sync) specifics', () => {
  it('runs configure and reset queries inline, in a tight synchronous loop', () => {
    let configured = 0
    let resets = 0
    const pool = track(
      new ConnectionPool(databaseUrl(), {
        minSize: 2,
        configure: (conn) => {
          configured += 1
          conn.exec("SET application_name = 'configured'")
          conn.commit()
        },
        reset: (conn) => {
          resets += 1
          conn.exec("SET application_name = 'configured'")
          conn.commit()
        },
      }),
    )
    for (let i = 0; i < 300; i++) {
      const name = pool.connection((conn) => conn.query("SELECT current_setting('application_name') AS name").rows[0])
      expect(name).toEqual({ name: 'configured' })
    }
    expect(configured).toBe(2)
    expect(resets).toBe(300)
  })

  it('rejects async hooks with a clear error', async () => {
    const log = recordingLogger()
    const pool = track(
      new ConnectionPool(databaseUrl(), { minSize: 1, logger: log.logger, configure: (async () => {}) as never }),
    )
    expect(() => pool.getconn(0.5)).toThrow(PoolTimeout)
    await eventually(() => log.warnings().length > 0)
    expect(log.warnings()[0]).toMatch(/configure must be a plain function; it returned a Promise/)
  })

  it('refills after pg_terminate_backend while the JS thread sleeps in Atomics.wait', async () => {
    const pool = track(new ConnectionPool(databaseUrl(), { minSize: 2, check: ConnectionPool.checkConnection }))
    pool.wait()
    const killer = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    const pids = (await killer.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND datname = current_database()",
    )).rows.map((r) => r.pid)
    const mine = [pool.connection((c) => c.backendPid)]
    await killer.query('SELECT pg_terminate_backend($1)', [mine[0]])
    await killer.close()
    expect(pids).toContain(mine[0])
    // Block this thread entirely: only the runtime's threads can notice and refill.
    pool.check()
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500)
    expect(pool.getStats()).toMatchObject({ poolSize: 2, poolAvailable: 2 })
    expect(pool.connection((c) => c.backendPid)).not.toBe(mine[0])
  })

  it('blocks in getconn while another worker thread holds the only connection, until it is returned', async () => {
    const pool = track(new ConnectionPool(databaseUrl(), { minSize: 1 }))
    pool.wait()
    const script = `
      const { workerData, parentPort } = require('node:worker_threads')
      const { ConnectionPool } = require(${JSON.stringify(DIST)})
      const pool = ConnectionPool.attach(workerData.handle)
      const conn = pool.getconn()
      parentPort.postMessage(conn.backendPid)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500) // hold it for 0.5 s
      pool.putconn(conn)
    `
    const worker = new Worker(script, { eval: true, workerData: { handle: pool.share() } })
    const exited = new Promise((resolve) => worker.once('exit', resolve))
    const held = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    expect(pool.getStats().poolAvailable).toBe(0)
    const started = performance.now()
    const conn = pool.getconn(10) // blocks this thread until the worker gives the connection back
    const waited = (performance.now() - started) / 1000
    expect(conn.backendPid).toBe(held)
    expect(waited).toBeGreaterThan(0.2)
    expect(waited).toBeLessThan(5)
    pool.putconn(conn)
    expect(await exited).toBe(0)
  })

  it('refuses to share a pool whose hooks belong to this thread', () => {
    const pool = track(new ConnectionPool(databaseUrl(), { minSize: 1, configure: () => {} }))
    expect(() => pool.share()).toThrow(/cannot be shared with other threads/)
    expect(() => ConnectionPool.attach(987654)).toThrow(/no shared pool has handle 987654/)
  })

  it('8 worker threads with their own pools run 1,000 queries each and leave no backends', async () => {
    const script = `
      const { workerData, parentPort } = require('node:worker_threads')
      const { ConnectionPool } = require(${JSON.stringify(DIST)})
      const pool = new ConnectionPool(workerData.url, { minSize: 2, connectionOptions: { autocommit: true } })
      let sum = 0
      for (let q = 0; q < 1000; q++) sum += pool.connection((c) => c.query('SELECT $1::int4 AS n', [q]).rows[0].n)
      pool.close()
      parentPort.postMessage(sum)
    `
    const sums = await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) =>
          new Promise<number>((resolve, reject) => {
            const worker = new Worker(script, { eval: true, workerData: { url: withAppName(`pgtide-worker-${i}`) } })
            worker.once('message', resolve)
            worker.once('error', reject)
          }),
      ),
    )
    expect(sums).toEqual(Array(8).fill((999 * 1000) / 2))
    const probe = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    await eventually(async () => {
      const { rows } = await probe.query<{ n: number }>(
        "SELECT count(*)::int4 AS n FROM pg_stat_activity WHERE application_name LIKE 'pgtide-worker-%'",
      )
      return rows[0]!.n === 0
    }, 10)
    await probe.close()
  })

  it('closes cleanly when a worker thread exits without closing its pool', async () => {
    const script = `
      const { workerData, parentPort } = require('node:worker_threads')
      const { ConnectionPool } = require(${JSON.stringify(DIST)})
      const pool = new ConnectionPool(workerData.url, { minSize: 3 })
      pool.wait()
      parentPort.postMessage(pool.connection((c) => c.backendPid))
    `
    const probe = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    const worker = new Worker(script, { eval: true, workerData: { url: databaseUrl() } })
    // Listening for 'exit' from the start: a worker that ends right after posting has its
    // message delivered and its 'exit' emitted in one go, before an await could add a listener.
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
    const pid = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    const exitCode = await exited
    expect(exitCode).toBe(0)
    await eventually(async () => {
      const { rows } = await probe.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])
      return rows.length === 0
    }, 10)
    await probe.close()
  })
})
