// Misuse that must never end the process or reach another client's connection: each case was
// a reproduction first (durations and sizes past any sense, async hooks on a sync pool, a logger
// that throws, a connection used after it went back, an attached async pool, closed sockets).
// Cases that used to crash run in a child process, so a crash fails the test instead of vitest.

import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'

import { afterEach, describe, expect, it } from 'vitest'

import {
  AsyncConnection,
  AsyncConnectionPool,
  Connection,
  ConnectionPool,
  InterfaceError,
  NullConnectionPool,
} from '../dist/index.js'
import { databaseUrl } from './helpers'

const DIST = path.resolve('dist/index.js')

interface ChildOutcome {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs `body` (CommonJS, with `pgtide` and `url` in scope) in a fresh Node process. */
function runChild(body: string, seconds = 30): Promise<ChildOutcome> {
  const script = `const pgtide = require(${JSON.stringify(DIST)}); const url = ${JSON.stringify(databaseUrl())};
process.on('unhandledRejection', (e) => { console.error('UNHANDLED REJECTION', e); process.exitCode = 3 });
(async () => { ${body} })().then(() => console.log('done'), (e) => { console.error('FAILED', e); process.exitCode = 4 })`
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

function expectClean(outcome: ChildOutcome): void {
  expect(outcome.stderr).not.toMatch(/panicked|UNHANDLED REJECTION|FAILED |Uncaught|Aborted|SIGABRT/)
  expect({ code: outcome.code, signal: outcome.signal }).toEqual({ code: 0, signal: null })
  expect(outcome.stdout).toContain('done')
}

const pools: { close(): unknown }[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()))
})

describe('durations', () => {
  it('Infinity means no limit and huge values are capped, in every pool kind, without a crash', async () => {
    const outcome = await runChild(`
      const { AsyncConnectionPool, ConnectionPool } = pgtide
      const pool = new AsyncConnectionPool(url, { minSize: 1, timeout: Infinity, maxLifetime: Infinity, maxIdle: 1e300, reconnectTimeout: Infinity })
      await pool.wait(Infinity)
      console.log('async query', (await pool.query('SELECT 1 AS one')).rows[0].one)
      const conn = await pool.getconn(1e20)
      await pool.putconn(conn)
      await pool.connection(async (c) => c.query('SELECT 1'), { timeout: Infinity })
      await pool.close(Infinity)
      const sync = new ConnectionPool(url, { minSize: 1, timeout: Infinity, maxLifetime: Infinity })
      sync.wait(1e20)
      sync.putconn(sync.getconn(Infinity))
      console.log('sync query', sync.query('SELECT 2 AS two', [], { timeout: 1e20 }).rows[0].two)
      sync.close(Infinity)
    `)
    expectClean(outcome)
    expect(outcome.stdout).toContain('async query 1')
    expect(outcome.stdout).toContain('sync query 2')
  })

  it.each([Number.NaN, -1, -Infinity])('refuses a timeout of %s with a RangeError naming the argument', async (value) => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1 })
    pools.push(pool)
    await expect(pool.getconn(value)).rejects.toThrow(RangeError)
    await expect(pool.getconn(value)).rejects.toThrow(/getconn\(\) timeout/)
    await expect(pool.query('SELECT 1', [], { timeout: value })).rejects.toThrow(/query\(\) timeout/)
    await expect(pool.wait(value)).rejects.toThrow(/wait\(\) timeout/)
    expect(() => new AsyncConnectionPool(databaseUrl(), { timeout: value, open: false })).toThrow(/pool option 'timeout'/)
    const sync = new ConnectionPool(databaseUrl(), { minSize: 1 })
    pools.push(sync)
    expect(() => sync.getconn(value)).toThrow(RangeError)
    expect(() => sync.close(value)).toThrow(/close\(\) timeout/)
  })
})

describe('sizes and argument types', () => {
  it.each([
    [{ minSize: 2 ** 31 }, /'minSize' must be an integer from 0 to 262143/],
    [{ maxSize: 2 ** 32 }, /'maxSize' must be an integer/],
    [{ numWorkers: 2 ** 31 }, /'numWorkers' must be an integer from 0 to 1024/],
    [{ maxWaiting: -1 }, /'maxWaiting'/],
    [{ maxWaiting: 0.5 }, /'maxWaiting'/],
    [{ minSize: Number.NaN }, /'minSize'/],
  ])('refuses %j with a RangeError naming the option', (options, message) => {
    expect(() => new AsyncConnectionPool(databaseUrl(), { ...options, open: false })).toThrow(RangeError)
    expect(() => new ConnectionPool(databaseUrl(), { ...options, open: false })).toThrow(message)
  })

  it('refuses resize() past the bound, with a RangeError, and keeps the sizes', () => {
    const pool = new ConnectionPool(databaseUrl(), { minSize: 1, open: false })
    expect(() => pool.resize(2 ** 31)).toThrow(RangeError)
    expect(() => pool.resize(1, 2 ** 32)).toThrow(/maxSize/)
    expect(() => pool.resize(1.5)).toThrow(/minSize/)
    expect([pool.minSize, pool.maxSize]).toEqual([1, 1])
  })

  it('refuses arguments of the wrong type with a TypeError naming them', async () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, open: false })
    await expect(pool.getconn('5' as never)).rejects.toThrow(TypeError)
    await expect(pool.getconn('5' as never)).rejects.toThrow(/getconn\(\) timeout must be a number, not the string "5"/)
    await expect(pool.wait(null as never)).rejects.toThrow(/wait\(\) timeout must be a number/)
    await expect(pool.query('SELECT 1', [], 5 as never)).rejects.toThrow(/query\(\) options must be an object/)
    await expect(pool.connection('fn' as never)).rejects.toThrow(/connection\(\) needs a function/)
    expect(() => pool.resize('2' as never)).toThrow(/resize\(\) minSize must be a number/)
    expect(() => new ConnectionPool(databaseUrl(), { minSize: '4' as never })).toThrow(/pool option 'minSize' must be a number/)
    expect(() => AsyncConnectionPool.attach(2 ** 32 + 1)).toThrow(RangeError)
  })
})

describe('user code that misbehaves never ends the process', () => {
  it('refuses async hooks and functions on a sync pool without an unhandled rejection', async () => {
    const outcome = await runChild(`
      const { ConnectionPool } = pgtide
      const failing = async () => { throw new Error('hook failed') }
      const attempts = [
        () => new ConnectionPool(async () => url, { minSize: 1 }),
        () => new ConnectionPool(url, { minSize: 1, connectionOptions: async () => ({}) }),
        () => { const p = new ConnectionPool(url, { minSize: 1, configure: failing }); try { p.getconn(1) } finally { p.close() } },
        () => { const p = new ConnectionPool(url, { minSize: 1, check: failing }); try { p.getconn(1) } finally { p.close() } },
        () => { const p = new ConnectionPool(url, { minSize: 1, reset: async () => {} }); try { p.putconn(p.getconn(5)) } finally { p.close() } },
      ]
      for (const attempt of attempts) {
        try { attempt() } catch (e) { console.log('refused:', e.name, e.message.slice(0, 60)) }
      }
      await new Promise((r) => setTimeout(r, 300))
    `)
    expectClean(outcome)
    expect(outcome.stdout).toMatch(/refused: TypeError a sync pool's conninfo function must not return a Promise/)
    expect(outcome.stdout).toMatch(/refused: TypeError a sync pool's connectionOptions function/)
  })

  it('reports a logger that throws and goes on', async () => {
    const outcome = await runChild(`
      const { AsyncConnectionPool, ConnectionPool } = pgtide
      const logger = { warn() { throw new Error('log transport down') }, info() { throw 'not even an Error' } }
      const pool = new AsyncConnectionPool('postgresql://nobody@127.0.0.1:1/none?connect_timeout=1', { minSize: 1, logger, reconnectTimeout: 0.5 })
      const sync = new ConnectionPool('postgresql://nobody@127.0.0.1:1/none?connect_timeout=1', { minSize: 1, logger, logLevel: 'info' })
      await pool.getconn(1).catch((e) => console.log('async:', e.name))
      try { sync.getconn(1) } catch (e) { console.log('sync:', e.name) }
      await new Promise((r) => setTimeout(r, 500))
      await pool.close(); sync.close()
    `)
    expectClean(outcome)
    expect(outcome.stdout).toContain('async: PoolTimeout')
    expect(outcome.stdout).toContain('sync: PoolTimeout')
    expect(outcome.stderr).toMatch(/PgtideCallbackWarning: pgtide: the logger of pool '[^']+' threw: Error: log transport down/)
  })
})

describe('a connection used after it went back to its pool', () => {
  it('refuses every operation and leaves the next client alone (async)', async () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1 })
    pools.push(pool)
    const stale = await pool.getconn()
    await pool.putconn(stale)
    const current = await pool.getconn()
    expect(current.backendPid).toBe(stale.backendPid) // the same server connection, now someone else's
    const operations: (() => Promise<unknown>)[] = [
      () => stale.query('SELECT 1'),
      () => stale.query('SELECT 1', [], { signal: new AbortController().signal }),
      () => stale.exec('BEGIN'),
      () => stale.commit(),
      () => stale.rollback(),
      () => stale.transaction(async () => {}),
      () => stale.cancel(),
      () => stale.close(),
      () => AsyncConnectionPool.checkConnection(stale),
    ]
    for (const operation of operations) {
      const error = await Promise.resolve().then(operation).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(InterfaceError)
      expect((error as Error).message).toMatch(/was returned to pool '[^']+'.*can no longer use it/)
    }
    expect(() => {
      stale.autocommit = true
    }).toThrow(InterfaceError)
    expect(current.closed).toBe(false)
    expect(current.transactionStatus).toBe('idle')
    expect((await current.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await pool.putconn(current)
  })

  it('refuses a connection kept past its connection() block (sync)', () => {
    const pool = new NullConnectionPool(databaseUrl(), { maxSize: 1 })
    pools.push(pool)
    let kept: Connection | undefined
    pool.connection((conn) => {
      kept = conn
    })
    expect(() => kept!.query('SELECT 1')).toThrow(InterfaceError)
    expect(() => kept!.exec('BEGIN')).toThrow(InterfaceError)
    expect(() => kept!.close()).toThrow(InterfaceError)
    expect(pool.query('SELECT 1 AS one').rows).toEqual([{ one: 1 }])
  })
})

describe('an attached async pool', () => {
  it('serves getconn(), connection() and query()', async () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1 })
    pools.push(pool)
    const attached = AsyncConnectionPool.attach(pool.share())
    const conn = await attached.getconn()
    expect((await conn.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await attached.putconn(conn)
    expect(await attached.connection(async (c) => (await c.query('SELECT 2 AS two')).rows[0])).toEqual({ two: 2 })
    expect((await attached.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }])
  })
})

describe('close()', () => {
  const openDescriptors = () => readdirSync('/proc/self/fd').length

  it('releases the socket at once, not at garbage collection', async () => {
    const kept: unknown[] = []
    const before = openDescriptors()
    for (let i = 0; i < 30; i++) {
      const conn = await AsyncConnection.connect(databaseUrl())
      await conn.close()
      kept.push(conn)
      const sync = Connection.connect(databaseUrl())
      sync.close()
      kept.push(sync)
    }
    expect(openDescriptors() - before).toBeLessThan(10)
    expect(kept).toHaveLength(60)
  })
})
