// The binding's Promises for checkout, return and query (src/eager.rs): settled on the JS
// thread when the work is done at once, through one shared threadsafe function otherwise.

import { spawnSync } from 'node:child_process'
import path from 'node:path'

import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnectionPool } from '../dist/index.js'
import { databaseUrl, eventually, settleWithin } from './helpers'

const fixture = path.join(__dirname, 'fixtures', 'hot-path.mjs')
const pools: AsyncConnectionPool[] = []

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()))
})

function runFixture(mode: string, nodeArgs: string[] = []) {
  return spawnSync(process.execPath, [...nodeArgs, fixture, databaseUrl(), mode], { encoding: 'utf8', timeout: 30_000 })
}

describe('hot-path Promises', () => {
  it('survive 100 callers churning through a pool of 10 while wrappers are collected', () => {
    const result = runFixture('churn', ['--max-semi-space-size=1'])
    expect({ status: result.status, signal: result.signal }, result.stdout + result.stderr).toEqual({ status: 0, signal: null })
    expect(result.stderr).not.toContain('dropped without being returned')
    expect(result.stdout).toMatch(/churn done: [1-9]\d*/)
  })

  it('keep Node alive while one is pending, and only then', () => {
    const result = runFixture('await')
    expect({ status: result.status, signal: result.signal }, result.stdout + result.stderr).toEqual({ status: 0, signal: null })
    expect(result.stdout).toContain('await done: 7')
  })

  it('hand a returned connection to a queued getconn on the spot', async () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, connectionOptions: { autocommit: true } })
    pools.push(pool)
    await pool.wait()
    const first = await pool.getconn()
    const queued = pool.getconn(5)
    await eventually(() => pool.getStats().requestsWaiting === 1)
    await pool.putconn(first)
    // Handed over by putconn itself: by the time it resolves the waiter has left the queue, and
    // the connection went to it, never to the idle deque (where a later pass would find it).
    expect(pool.getStats()).toMatchObject({ requestsWaiting: 0, poolAvailable: 0, poolSize: 1 })
    expect(await settleWithin(queued, 1), 'the queued getconn settles at once').not.toBe('pending')
    const second = await queued
    expect(second.backendPid).toBe(first.backendPid)
    expect((await second.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await pool.putconn(second)
  })

  it('reject with the engine error when the work fails at once or later', async () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, connectionOptions: { autocommit: true } })
    pools.push(pool)
    await pool.wait()
    await expect(pool.connection((conn) => conn.query('SELEC 1'))).rejects.toMatchObject({ sqlstate: '42601' })
    const held = await pool.getconn()
    await expect(pool.getconn(0.05)).rejects.toMatchObject({ name: 'PoolTimeout' })
    await pool.putconn(held)
  })
})
