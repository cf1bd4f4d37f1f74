// AsyncConnectionPool against a real server: the scenarios of psycopg_pool's test suite
// (spec §10.2, §10.3) that apply, with tolerances sized for a loaded 2-core machine.

import { spawnSync } from 'node:child_process'

import { afterEach, describe, expect, it } from 'vitest'

import {
  AsyncConnection,
  AsyncConnectionPool,
  InterfaceError,
  OperationalError,
  PoolClosed,
  PoolTimeout,
  TooManyRequests,
  type AsyncPoolOptions,
} from '../dist/index.js'
import { databaseUrl, eventually, recordingLogger, sleep, untilBackendGone } from './helpers'

const pools: AsyncConnectionPool[] = []
const standalone: AsyncConnection[] = []

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()))
  await Promise.all(standalone.splice(0).map((c) => c.close()))
})

function makePool(options: AsyncPoolOptions<AsyncConnectionPool> = {}): AsyncConnectionPool {
  const pool = new AsyncConnectionPool(databaseUrl(), options)
  pools.push(pool)
  return pool
}

async function admin(): Promise<AsyncConnection> {
  const conn = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
  standalone.push(conn)
  return conn
}

/** Log records cross from the engine's threads asynchronously: wait for `count`, then a beat more. */
async function settledLog(log: ReturnType<typeof recordingLogger>, count: number): Promise<void> {
  await eventually(() => log.warnings().length >= count)
  await sleep(50)
}

async function pidOf(pool: AsyncConnectionPool, hold = 0): Promise<number> {
  return pool.connection(async (conn) => {
    if (hold > 0) await sleep(hold * 1000)
    return conn.backendPid
  })
}

describe('construction', () => {
  it('has psycopg defaults', async () => {
    const pool = makePool({ open: false })
    expect(pool.minSize).toBe(4)
    expect(pool.maxSize).toBe(4)
    expect(pool.closed).toBe(true)
    expect(pool.name).toMatch(/^pool-\d+$/)
    const named = makePool({ open: false, name: 'orders' })
    expect(named.name).toBe('orders')
  })

  it.each([
    [{ minSize: 0, maxSize: 0 }, /if minSize is 0 maxSize must be greater than 0/],
    [{ minSize: 0 }, /if minSize is 0/],
    [{ minSize: -1 }, /minSize cannot be negative/],
    [{ minSize: 4, maxSize: 2 }, /maxSize must be greater or equal than minSize/],
  ])('rejects bad sizes %j with a RangeError', (options, message) => {
    expect(() => makePool({ ...options, open: false })).toThrow(RangeError)
    expect(() => makePool({ ...options, open: false })).toThrow(message)
  })

  it('names the culprit of a bad option', () => {
    expect(() => makePool({ timeout: 'soon' as never })).toThrow(/'timeout'/)
    expect(() => makePool({ timeout: -1 })).toThrow(RangeError)
    expect(() => makePool({ numWorkers: 0 })).toThrow(/numWorkers must be at least 1/)
    expect(() => makePool({ minSize: 1.5 })).toThrow(/'minSize' must be an integer/)
    expect(() => makePool({ configure: 'yes' as never })).toThrow(/'configure' must be a function/)
    expect(() => makePool({ colour: 'blue' } as never)).toThrow(/unknown pool option 'colour'/)
  })

  it('reports a malformed conninfo at construction, naming the key', () => {
    // A word that is no libpq keyword may be part of a password: named by its place, not quoted.
    expect(() => new AsyncConnectionPool('host=x colour=blue', { open: false })).toThrow(/option number 2/)
    expect(() => new AsyncConnectionPool('host=x dbnmae=shop', { open: false })).toThrow(/"dbnmae"/)
  })
})

describe('open and close', () => {
  it('refuses connections before open and after close, and cannot reopen', async () => {
    const pool = makePool({ open: false, minSize: 1 })
    await expect(pool.getconn()).rejects.toThrow(PoolClosed)
    await expect(pool.getconn()).rejects.toThrow(/is not open yet/)
    await pool.open({ wait: true })
    await pool.open() // a second open is harmless
    expect(pool.closed).toBe(false)
    expect(await pidOf(pool)).toBeGreaterThan(0)
    await pool.close()
    expect(pool.closed).toBe(true)
    await expect(pool.getconn()).rejects.toThrow(/is already closed/)
    await expect(pool.wait()).rejects.toThrow(PoolClosed)
    await expect(pool.open()).rejects.toThrow(/cannot be reused/)
  })

  it('closes with await using', async () => {
    let escaped: AsyncConnectionPool
    {
      await using pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1 })
      escaped = pool
      await pool.wait()
      expect(pool.closed).toBe(false)
    }
    expect(escaped.closed).toBe(true)
  })

  it('fails queued clients with PoolClosed and closes checked-out connections when returned', async () => {
    const pool = makePool({ minSize: 1 })
    await pool.wait()
    const held = await pool.getconn()
    const queued = pool.getconn(10).catch((e: unknown) => e)
    await eventually(() => pool.getStats().requestsWaiting === 1)
    await pool.close()
    const error = await queued
    expect(error).toBeInstanceOf(PoolClosed)
    expect((error as Error).message).toMatch(/the pool 'pool-\d+' is closed/)
    expect(held.closed).toBe(false)
    await pool.putconn(held)
    expect(held.closed).toBe(true)
  })

  it('closes a connection returned by connection() after the pool closed inside the block', async () => {
    const pool = makePool({ minSize: 1 })
    let inside: AsyncConnection | undefined
    await pool.connection(async (conn) => {
      inside = conn
      await pool.close()
    })
    expect(inside!.closed).toBe(true)
  })

  it('wait() times out, closes the pool and says why', async () => {
    const pool = new AsyncConnectionPool('postgres://nobody@127.0.0.1:1/x', { minSize: 1, reconnectTimeout: 30 })
    pools.push(pool)
    const error = await pool.wait(0.3).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PoolTimeout)
    expect((error as Error).message).toMatch(
      /^pool initialization incomplete after 0\.3 sec \(pool '[^']+': size 1, idle 0, in use 0, waiting 0\); last connection error: .*refused/s,
    )
    expect((error as Error).cause).toMatchObject({ name: 'OperationalError', code: 'ECONNREFUSED' })
    expect(pool.closed).toBe(true)
  })
})

describe('getting and returning', () => {
  it('is really a pool: connections are reused, round-robin', async () => {
    const pool = makePool({ minSize: 4 })
    await pool.wait()
    const pids: number[] = []
    for (let i = 0; i < 8; i++) pids.push(await pidOf(pool))
    const counts = new Map<number, number>()
    for (const pid of pids) counts.set(pid, (counts.get(pid) ?? 0) + 1)
    expect([...counts.values()]).toEqual([2, 2, 2, 2])
  })

  it("lends the connection returned last with idleOrder: 'lifo'", async () => {
    const pool = makePool({ minSize: 4, idleOrder: 'lifo' })
    await pool.wait()
    const pids: number[] = []
    for (let i = 0; i < 8; i++) pids.push(await pidOf(pool))
    expect(new Set(pids).size).toBe(1)
    const [a, b] = [await pool.getconn(), await pool.getconn()]
    const [pidA, pidB] = [a.backendPid, b.backendPid]
    await pool.putconn(a)
    await pool.putconn(b)
    expect(await pidOf(pool)).toBe(pidB)
    expect(pidA).not.toBe(pidB)
  })

  it('commits when the block returns and rolls back when it throws', async () => {
    const pool = makePool({ minSize: 1 })
    await pool.connection((c) => c.exec('DROP TABLE IF EXISTS pool_commit; CREATE TABLE pool_commit (x int4)'))
    await pool.connection((c) => c.query('INSERT INTO pool_commit VALUES (1)'))
    const boom = new Error('boom')
    await expect(
      pool.connection(async (c) => {
        await c.query('INSERT INTO pool_commit VALUES (2)')
        throw boom
      }),
    ).rejects.toBe(boom)
    const { rows } = await pool.connection((c) => c.query('SELECT x FROM pool_commit ORDER BY x'))
    expect(rows).toEqual([{ x: 1 }])
    await pool.connection((c) => c.exec('DROP TABLE pool_commit'))
  })

  it('keeps the connection after an error in the block (connection not lost)', async () => {
    const pool = makePool({ minSize: 1 })
    const first = await pidOf(pool)
    await expect(pool.connection(() => Promise.reject(new RangeError('x')))).rejects.toThrow(RangeError)
    expect(await pidOf(pool)).toBe(first)
  })

  it('serves waiting clients in FIFO order by hand-off', async () => {
    const pool = makePool({ minSize: 2 })
    await pool.wait()
    const started = performance.now()
    const finished: number[] = []
    const pids = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const pid = await pool.connection(async (conn) => {
          await conn.query('SELECT pg_sleep(0.2)')
          return conn.backendPid
        })
        finished.push((performance.now() - started) / 1000)
        return pid
      }),
    )
    expect(new Set(pids).size).toBe(2)
    finished.sort((a, b) => a - b)
    // Pairs finish at about 0.2, 0.4 and 0.6 s.
    for (const [i, want] of [0.2, 0.2, 0.4, 0.4, 0.6, 0.6].entries()) {
      expect(finished[i]).toBeGreaterThanOrEqual(want - 0.02)
      expect(finished[i]).toBeLessThan(want + 0.6)
    }
  })

  it('throws TooManyRequests when maxWaiting clients already wait', async () => {
    const pool = makePool({ minSize: 1, maxWaiting: 3 })
    await pool.wait()
    const holder = pidOf(pool, 0.4)
    await eventually(() => pool.getStats().poolAvailable === 0)
    const waiting = Array.from({ length: 4 }, () => pidOf(pool, 0.05).then(() => 'ok', (e: unknown) => e))
    const outcomes = await Promise.all([holder, ...waiting])
    const rejected = outcomes.filter((o) => o instanceof TooManyRequests) as Error[]
    expect(rejected).toHaveLength(1)
    expect(rejected[0]!.message).toContain(pool.name)
    expect(rejected[0]!.message).toContain('3')
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(3)
    expect(pool.getStats().requestsErrors).toBe(1)
  })

  it('times queued clients out with PoolTimeout at their timeout', async () => {
    const pool = makePool({ minSize: 2, timeout: 0.1 })
    await pool.wait()
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const started = performance.now()
        try {
          await pidOf(pool, 0.3)
          return 'ok'
        } catch (error) {
          return { error, elapsed: (performance.now() - started) / 1000 }
        }
      }),
    )
    const failures = outcomes.filter((o) => o !== 'ok') as { error: Error; elapsed: number }[]
    expect(failures).toHaveLength(2)
    for (const { error, elapsed } of failures) {
      expect(error).toBeInstanceOf(PoolTimeout)
      // psycopg's message, then the pool's state (the other timed-out client may still wait).
      expect(error.message).toMatch(/^couldn't get a connection after 0\.10 sec \(pool '[^']+': size 2, idle 0, in use 2, waiting [01]\)$/)
      expect(elapsed).toBeGreaterThanOrEqual(0.09)
      expect(elapsed).toBeLessThan(0.5)
    }
  })

  it('loses no connection to a client that timed out (dead client)', async () => {
    const pool = makePool({ minSize: 2 })
    await pool.wait()
    const outcomes = await Promise.all(
      [0.8, 0.8, 0.1, 0.8, 0.8].map((timeout) =>
        pool.connection(() => sleep(300), { timeout }).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      ),
    )
    expect(outcomes[2]).toBeInstanceOf(PoolTimeout)
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(4)
    // The last returns finish on the engine's side after their clients resolved.
    await eventually(() => pool.getStats().poolAvailable === 2)
    expect(pool.getStats()).toMatchObject({ poolAvailable: 2, requestsWaiting: 0 })
  })

  it('takes an idle connection with getconn(0) and fails at once when none is idle', async () => {
    const pool = makePool({ minSize: 1 })
    await pool.wait()
    const conn = await pool.getconn(0)
    await expect(pool.getconn(0)).rejects.toThrow("couldn't get a connection after 0.00 sec")
    await pool.putconn(conn)
  })

  it('refuses a connection that is not its own, or returned twice', async () => {
    const pool = makePool({ minSize: 1 })
    const other = makePool({ minSize: 1, name: 'other' })
    const outsider = await admin()
    await expect(pool.putconn(outsider)).rejects.toThrow(/doesn't come from any pool/)
    const foreign = await other.getconn()
    const error = await pool.putconn(foreign).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InterfaceError)
    expect((error as Error).message).toMatch(/it comes from pool 'other'/)
    await other.putconn(foreign)
    await expect(other.putconn(foreign)).rejects.toThrow(InterfaceError)
  })

  it('returns the connection on close() with closeReturns', async () => {
    const pool = makePool({ minSize: 2, closeReturns: true })
    await pool.wait()
    const conn = await pool.getconn()
    expect(pool.getStats().poolAvailable).toBe(1)
    await conn.close()
    expect(conn.closed).toBe(false)
    expect(pool.getStats().poolAvailable).toBe(2)
    await pool.close()
    expect(conn.closed).toBe(true)
  })

  it('takes back a checked-out connection whose object was garbage-collected', async () => {
    const log = recordingLogger()
    const pool = makePool({ minSize: 1, logger: log.logger })
    await pool.wait()
    await (async () => {
      await pool.getconn() // and forget it
    })()
    expect(pool.getStats().poolAvailable).toBe(0)
    const gc = (globalThis as { gc?: () => void }).gc
    expect(gc, 'vitest runs with --expose-gc').toBeTypeOf('function')
    await eventually(async () => {
      gc!()
      await sleep(50)
      return pool.getStats().poolAvailable === 1
    }, 10)
    await settledLog(log, 1)
    expect(log.warnings()[0]).toMatch(/dropped without being returned/)
  })

  it('never reclaims a connection from its current holder when an older wrapper is collected', async () => {
    const pool = makePool({ minSize: 1 })
    for (let i = 0; i < 20; i++) await pidOf(pool)
    const held = await pool.getconn()
    const gc = (globalThis as { gc?: () => void }).gc!
    for (let i = 0; i < 5; i++) {
      gc()
      await sleep(20)
    }
    expect(pool.getStats().poolAvailable).toBe(0)
    await held.query('SELECT 1')
    await pool.putconn(held)
    expect(pool.getStats().poolAvailable).toBe(1)
  })

  it('lets the process exit cleanly while connections are still checked out', () => {
    const child = spawnSync(process.execPath, ['__test__/fixtures/exit-holding.mjs', databaseUrl()], {
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(child.stdout).toContain('exiting while holding connections')
    expect(child.stderr).not.toMatch(/panic/i)
    expect(child.status).toBe(0)
  })

  it('replaces a connection the client closed', async () => {
    const pool = makePool({ minSize: 1 })
    const first = await pool.connection(async (conn) => {
      await conn.close()
      return conn.backendPid
    })
    expect(await pidOf(pool)).not.toBe(first)
    expect(pool.getStats().returnsBad).toBe(1)
  })
})

describe('return processing', () => {
  it('rolls back a connection returned in a transaction, with one warning', async () => {
    const log = recordingLogger()
    const pool = makePool({ minSize: 1, logger: log.logger })
    const conn = await pool.getconn()
    await conn.exec('CREATE TABLE returned_intrans (x int4)')
    expect(conn.transactionStatus).toBe('intrans')
    await pool.putconn(conn)
    await settledLog(log, 1)
    expect(log.warnings()).toEqual([expect.stringContaining('[INTRANS]')])
    const again = await pool.getconn()
    expect(again.backendPid).toBe(conn.backendPid)
    expect(again.transactionStatus).toBe('idle')
    expect((await again.query("SELECT to_regclass('returned_intrans') AS t")).rows).toEqual([{ t: null }])
    await pool.putconn(again)
  })

  it('rolls back a connection returned in a failed transaction', async () => {
    const log = recordingLogger()
    const pool = makePool({ minSize: 1, logger: log.logger })
    const conn = await pool.getconn()
    await conn.query('SELECT 1/0').catch(() => {})
    expect(conn.transactionStatus).toBe('inerror')
    await pool.putconn(conn)
    await settledLog(log, 1)
    expect(log.warnings()).toEqual([expect.stringContaining('[INERROR]')])
    expect(await pidOf(pool)).toBe(conn.backendPid)
  })

  it('closes and replaces a connection returned mid-query', async () => {
    const log = recordingLogger()
    const pool = makePool({ minSize: 1, logger: log.logger })
    const conn = await pool.getconn()
    const running = conn.query('SELECT pg_sleep(0.3)')
    await eventually(() => conn.transactionStatus === 'active')
    await pool.putconn(conn)
    await running.catch(() => {})
    await settledLog(log, 2)
    expect(log.warnings()).toEqual([expect.stringContaining('[ACTIVE]'), expect.stringContaining('[BAD]')])
    await pool.wait()
    expect(await pidOf(pool)).not.toBe(conn.backendPid)
  })
})

describe('hooks', () => {
  it('configures every new connection once', async () => {
    let configured = 0
    const pool = makePool({
      minSize: 1,
      configure: async (conn) => {
        configured += 1
        await conn.exec("SET SESSION timezone = 'Asia/Tokyo'")
        await conn.commit()
      },
    })
    const zone = await pool.connection(async (c) => (await c.query('SHOW timezone')).rows[0])
    expect(zone).toEqual({ TimeZone: 'Asia/Tokyo' })
    await pidOf(pool)
    expect(configured).toBe(1)
    await pool.connection((c) => c.close())
    await pool.wait()
    await pidOf(pool)
    expect(configured).toBe(2)
  })

  it('discards a connection left in a transaction by configure', async () => {
    const log = recordingLogger()
    const pool = makePool({ minSize: 1, logger: log.logger, configure: (c) => c.query('SELECT 1').then(() => {}) })
    await expect(pool.wait(0.5)).rejects.toThrow(PoolTimeout)
    expect(log.warnings()[0]).toContain('INTRANS')
  })

  it('discards a connection whose configure throws, logging the error', async () => {
    const log = recordingLogger()
    const pool = makePool({ minSize: 1, logger: log.logger, configure: (c) => c.exec('WAT') })
    await expect(pool.wait(0.5)).rejects.toThrow(PoolTimeout)
    expect(log.warnings()[0]).toContain('WAT')
  })

  it('resets every returned connection', async () => {
    let resets = 0
    const pool = makePool({
      minSize: 1,
      reset: async (conn) => {
        resets += 1
        await conn.exec("SET timezone TO 'UTC'")
        await conn.commit()
      },
    })
    const pid = await pool.connection(async (c) => {
      await c.exec("SET timezone TO 'Asia/Tokyo'")
      return c.backendPid
    })
    await eventually(() => resets === 1)
    const [zone, samePid] = await pool.connection(async (c) => [(await c.query('SHOW timezone')).rows[0], c.backendPid])
    expect(samePid).toBe(pid)
    expect(zone).toEqual({ TimeZone: 'UTC' })
    await eventually(() => resets === 2)
  })

  it('replaces a connection that reset leaves in a transaction', async () => {
    const log = recordingLogger()
    const pool = makePool({ minSize: 1, logger: log.logger, reset: (c) => c.exec('RESET ALL') })
    const first = await pidOf(pool)
    await eventually(() => log.warnings().length > 0)
    expect(log.warnings()[0]).toContain('INTRANS')
    expect(await pidOf(pool)).not.toBe(first)
  })

  it('replaces a connection whose reset throws', async () => {
    const log = recordingLogger()
    const pool = makePool({ minSize: 1, logger: log.logger, reset: (c) => c.exec('WAT') })
    const first = await pidOf(pool)
    await eventually(() => log.warnings().length > 0)
    expect(log.warnings()[0]).toContain('WAT')
    expect(await pidOf(pool)).not.toBe(first)
  })

  it('checks connections before handing them out, replacing dead ones silently', async () => {
    const log = recordingLogger()
    const pool = makePool({ minSize: 2, logger: log.logger, check: AsyncConnectionPool.checkConnection })
    await pool.wait()
    const [a, b] = await Promise.all([pidOf(pool, 0.1), pidOf(pool, 0.1)])
    const conn = await admin()
    await conn.query('SELECT pg_terminate_backend($1)', [b])
    await untilBackendGone(conn, b)
    const pids = await Promise.all([pidOf(pool, 0.1), pidOf(pool, 0.1)])
    expect(pids).toContain(a)
    expect(pids).not.toContain(b)
    expect(log.warnings()).toEqual([])
    expect(pool.getStats().connectionsLost).toBe(1)
  })

  it('never serves a connection that died idle, even without a check: it is replaced at hand-out', async () => {
    const pool = makePool({ minSize: 1 })
    const pid = await pidOf(pool)
    const watcher = await admin()
    await watcher.query('SELECT pg_terminate_backend($1)', [pid])
    await eventually(async () => (await watcher.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rows.length === 0)
    const { rows } = await pool.connection((c) => c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))
    expect(rows[0]!.pid).not.toBe(pid)
    expect(pool.getStats().connectionsLost).toBe(1)
  })

  it('gives up when the check keeps failing', async () => {
    const pool = makePool({ minSize: 1, check: () => Promise.reject(new Error('nope')) })
    await pool.wait()
    const started = performance.now()
    await expect(pool.connection(() => {}, { timeout: 1 })).rejects.toThrow(PoolTimeout)
    expect((performance.now() - started) / 1000).toBeLessThan(2)
  })

  it('resolves conninfo and connectionOptions functions at every connection', async () => {
    let calls = 0
    const rotating = new AsyncConnectionPool(
      async () => {
        calls += 1
        return `${databaseUrl()}${databaseUrl().includes('?') ? '&' : '?'}application_name=app-${calls}`
      },
      { minSize: 2, connectionOptions: async () => ({ autocommit: true }) },
    )
    pools.push(rotating)
    await rotating.wait()
    expect(calls).toBe(2)
    const names = await Promise.all([0, 1].map(() => rotating.connection(async (c) => {
      const { rows } = await c.query("SELECT current_setting('application_name') AS name")
      await sleep(100)
      return [rows[0]!.name, c.autocommit]
    })))
    expect(names.map((n) => n[0]).sort()).toEqual(['app-1', 'app-2'])
    expect(names.every((n) => n[1] === true)).toBe(true)
  })
})

describe('maintenance', () => {
  it('fills in parallel with numWorkers workers and waits for minSize', async () => {
    const pool = makePool({ minSize: 5, numWorkers: 2 })
    await pool.wait(10)
    expect(pool.getStats()).toMatchObject({ poolSize: 5, poolAvailable: 5, connectionsNum: 5 })
  })

  /** The server URL through a function that makes every connect take `seconds` longer. */
  const slowConnect = (seconds: number) => async () => {
    await sleep(seconds * 1000)
    return databaseUrl()
  }

  it('fills with numWorkers connections at a time', async () => {
    const log = recordingLogger()
    const pool = new AsyncConnectionPool(slowConnect(0.1), { minSize: 5, numWorkers: 2, logger: log.logger, open: false })
    pools.push(pool)
    const started = performance.now()
    await pool.open({ wait: true })
    const added = log.records
      .filter((r) => r.message === 'adding new connection to the pool')
      .map((r) => (r.at - started) / 1000)
    // Two workers, 0.1 s per connect: in at about 0.1, 0.1, 0.2, 0.2, 0.3 s.
    expect(added).toHaveLength(5)
    for (const [i, want] of [0.1, 0.1, 0.2, 0.2, 0.3].entries()) {
      expect(added[i]).toBeGreaterThanOrEqual(want - 0.02)
      expect(added[i]).toBeLessThan(want + 0.2)
    }
  })

  it('grows one connection at a time while clients wait (psycopg test_grow)', async () => {
    const pool = new AsyncConnectionPool(slowConnect(0.1), { minSize: 2, maxSize: 4, numWorkers: 3 })
    pools.push(pool)
    await pool.wait()
    const started = performance.now()
    const done = await Promise.all(
      Array.from({ length: 8 }, async () => {
        await pool.connection(() => sleep(250))
        return (performance.now() - started) / 1000
      }),
    )
    done.sort((a, b) => a - b)
    for (const [i, want] of [0.25, 0.25, 0.35, 0.45, 0.5, 0.5, 0.6, 0.7].entries()) {
      expect(done[i]).toBeGreaterThanOrEqual(want - 0.03)
      expect(done[i]).toBeLessThan(want + 0.25)
    }
    expect(pool.getStats().poolSize).toBe(4)
  })

  it('grows while clients wait and shrinks back after maxIdle', async () => {
    const pool = makePool({ minSize: 2, maxSize: 4, maxIdle: 0.3 })
    await pool.wait()
    await Promise.all(Array.from({ length: 8 }, () => pidOf(pool, 0.2)))
    expect(pool.getStats().poolSize).toBe(4)
    // One connection per idle window goes, down to minSize.
    await eventually(() => pool.getStats().poolSize === 2, 5)
    await sleep(500) // and stays there
    expect(pool.getStats().poolSize).toBe(2)
  })

  it('never hands out a connection older than maxLifetime, idle or coming back', async () => {
    const pool = makePool({ minSize: 1, maxLifetime: 0.5 })
    await pool.wait()
    const first = await pidOf(pool)
    expect(await pidOf(pool)).toBe(first) // young: reused
    await sleep(600)
    // Expired while idle: replaced at hand-out (psycopg would hand it out once more).
    const second = await pidOf(pool)
    expect(second).not.toBe(first)
    // Expired while checked out: replaced when it comes back.
    const conn = await pool.getconn()
    await sleep(600)
    await pool.putconn(conn)
    expect(await pidOf(pool)).not.toBe(conn.backendPid)
  })

  it('check() replaces broken and expired idle connections', async () => {
    const log = recordingLogger()
    const pool = makePool({ minSize: 4, logger: log.logger })
    await pool.wait()
    const pids = await Promise.all(Array.from({ length: 4 }, () => pidOf(pool, 0.1)))
    const killer = await admin()
    await killer.query('SELECT pg_terminate_backend($1)', [pids[0]])
    await untilBackendGone(killer, pids[0]!)
    await pool.check()
    await settledLog(log, 1)
    expect(log.warnings()).toEqual([expect.stringContaining('discarding broken connection')])
    await pool.wait()
    const after = await Promise.all(Array.from({ length: 4 }, () => pidOf(pool, 0.1)))
    expect(after.filter((pid) => pids.includes(pid))).toHaveLength(3)
    expect(pool.getStats().connectionsLost).toBe(1)
  })

  it('drain() replaces every connection, checked-out ones when they return', async () => {
    const pool = makePool({ minSize: 2 })
    await pool.wait()
    const a = await pool.getconn()
    const b = await pool.getconn()
    await pool.drain()
    await pool.putconn(a)
    await pool.putconn(b)
    await pool.wait()
    const after = await Promise.all([pidOf(pool, 0.1), pidOf(pool, 0.1)])
    expect(after).not.toContain(a.backendPid)
    expect(after).not.toContain(b.backendPid)
    const again = await Promise.all([pidOf(pool, 0.1), pidOf(pool, 0.1)])
    expect(again.sort()).toEqual(after.sort())
  })

  it('resize() grows at once and shrinks over maxIdle windows', async () => {
    const pool = makePool({ minSize: 2, maxIdle: 0.2 })
    await pool.wait()
    pool.resize(4)
    expect([pool.minSize, pool.maxSize]).toEqual([4, 4])
    await pool.wait()
    expect(pool.getStats().poolSize).toBe(4)
    pool.resize(2)
    expect([pool.minSize, pool.maxSize]).toEqual([2, 2])
    await eventually(() => pool.getStats().poolSize === 2, 5)
    expect(() => pool.resize(4, 2)).toThrow(RangeError)
  })
})

describe('stats', () => {
  it('counts requests, waits, errors and usage', async () => {
    const pool = makePool({ minSize: 3, timeout: 0.3 })
    await pool.wait()
    pool.popStats()
    const outcomes = await Promise.all(
      Array.from({ length: 7 }, () => pool.connection(() => sleep(200)).then(() => 'ok', (e: unknown) => e)),
    )
    expect(outcomes.filter((o) => o instanceof PoolTimeout)).toHaveLength(1)
    const stats = pool.getStats()
    expect(stats).toMatchObject({ requestsNum: 7, requestsQueued: 4, requestsErrors: 1, returnsBad: 0 })
    expect(stats.requestsWaitMs).toBeGreaterThanOrEqual(750)
    expect(stats.requestsWaitMs).toBeLessThan(1500)
    expect(stats.usageMs).toBeGreaterThanOrEqual(1150)
    expect(stats.usageMs).toBeLessThan(2000)
    await pool.connection((c) => c.close())
    const popped = pool.popStats()
    expect(popped).toMatchObject({ requestsNum: 8, returnsBad: 1 })
    expect(Object.keys(popped)).toHaveLength(17) // psycopg's 15, connectionsLeaked and requestsPipelined
    await pidOf(pool)
    expect(pool.getStats()).toMatchObject({ requestsNum: 1, returnsBad: 0, poolMin: 3, poolMax: 3 })
  })

  it('measures the pool at call time', async () => {
    const pool = makePool({ minSize: 2, maxSize: 4 })
    await pool.wait()
    expect(pool.getStats()).toMatchObject({ poolSize: 2, poolAvailable: 2, requestsWaiting: 0 })
    const busy = Array.from({ length: 7 }, () => pidOf(pool, 0.4))
    await eventually(() => pool.getStats().requestsWaiting >= 3)
    const stats = pool.getStats()
    expect(stats.poolSize).toBeGreaterThanOrEqual(3)
    expect(stats.poolAvailable).toBe(0)
    expect(stats.requestsWaiting).toBeGreaterThanOrEqual(3)
    await Promise.all(busy)
  })
})
