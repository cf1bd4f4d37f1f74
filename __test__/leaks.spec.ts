// Leak detection (leakDetectionThreshold, HikariCP's option): a checkout held past the threshold
// is logged through the pool's logger with the stack of the call that took it, and counted in
// connectionsLeaked; one returned in time is not.

import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnectionPool, ConnectionPool } from '../dist/index.js'
import { databaseUrl, eventually, recordingLogger, sleep } from './helpers'

const pools: Array<{ close(): unknown }> = []
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close()
})

describe('leakDetectionThreshold', () => {
  it('warns with the stack of the getconn that took a connection held too long, and counts it', async () => {
    const { logger, warnings } = recordingLogger('warn')
    const pool = new AsyncConnectionPool(databaseUrl(), { name: 'leaky', minSize: 1, leakDetectionThreshold: 0.2, logger })
    pools.push(pool)
    await pool.wait()
    async function borrowAndForget() {
      return pool.getconn()
    }
    const conn = await borrowAndForget()
    await eventually(() => pool.getStats().connectionsLeaked === 1)
    const warning = warnings().find((w) => w.startsWith('connection leak detection'))!
    expect(warning).toMatch(/pool 'leaky' has been checked out for more than 0\.200 sec/)
    expect(warning).toMatch(/at borrowAndForget .*leaks\.spec\.ts/)
    expect(warning).not.toMatch(/async-pool/) // pgtide's own frames are cut off
    await pool.putconn(conn)
  })

  it('does not count a connection returned in time, nor blame its next client', async () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, leakDetectionThreshold: 0.3, logger: {} })
    pools.push(pool)
    await pool.wait()
    await pool.connection((conn) => conn.query('SELECT 1'))
    const next = await pool.getconn() // the same connection, under a new checkout
    await sleep(200)
    await pool.putconn(next)
    await sleep(300) // past the threshold: nothing may be counted now
    expect(pool.getStats().connectionsLeaked).toBe(0)
  })

  it('covers connection() blocks and sync pools', async () => {
    const { logger, warnings } = recordingLogger('warn')
    const pool = new ConnectionPool(databaseUrl(), { minSize: 1, leakDetectionThreshold: 0.05, logger })
    pools.push(pool)
    pool.wait()
    const conn = pool.getconn()
    await eventually(() => pool.getStats().connectionsLeaked === 1)
    expect(warnings().some((w) => w.includes('leaks.spec.ts'))).toBe(true)
    pool.putconn(conn)

    const slow = new AsyncConnectionPool(databaseUrl(), { minSize: 1, leakDetectionThreshold: 0.05, logger: {} })
    pools.push(slow)
    await slow.connection(() => sleep(200))
    expect(slow.getStats().connectionsLeaked).toBe(1)
  })

  it('is off by default, and validated by name', () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { open: false })
    pools.push(pool)
    expect(pool.getStats().connectionsLeaked).toBe(0)
    expect(() => new AsyncConnectionPool(databaseUrl(), { open: false, leakDetectionThreshold: -1 })).toThrow(
      /pool option 'leakDetectionThreshold' must be a number of seconds/,
    )
    expect(
      () => new AsyncConnectionPool(databaseUrl(), { open: false, leakDetectionThreshold: '5' as unknown as number }),
    ).toThrow(TypeError)
  })
})
