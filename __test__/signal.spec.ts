// `{ signal }` on getconn, connection and query: an abort in the queue leaves it and loses
// nothing; an abort while pool.query's statement runs cancels it on the server. And
// connectionOptions.statementTimeout: the server cancels long statements itself.

import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnection, AsyncConnectionPool, AsyncNullConnectionPool, ConnectionPool } from '../dist/index.js'
import { databaseUrl, eventually } from './helpers'

const closers: Array<() => unknown> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

function asyncPool(options: ConstructorParameters<typeof AsyncConnectionPool>[1] = {}) {
  const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, maxSize: 1, logger: {}, ...options })
  closers.push(() => pool.close())
  return pool
}

/** A connection of its own to watch the server with. */
async function observer() {
  const conn = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
  closers.push(() => conn.close())
  return async (marker: string) =>
    Number(
      (
        await conn.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()`,
          [`%${marker}%`],
        )
      ).rows[0]!.n,
    )
}

describe('an abort while queued', () => {
  it.each([
    ['getconn', (pool: AsyncConnectionPool, signal: AbortSignal) => pool.getconn({ signal })],
    ['connection', (pool: AsyncConnectionPool, signal: AbortSignal) => pool.connection(() => 1, { signal })],
    ['query', (pool: AsyncConnectionPool, signal: AbortSignal) => pool.query('SELECT 1', [], { signal })],
  ])('%s leaves the queue with an AbortError and loses no connection', async (_, call) => {
    const pool = asyncPool()
    await pool.wait()
    const held = await pool.getconn()
    const controller = new AbortController()
    const queued = call(pool, controller.signal)
    await eventually(() => pool.getStats().requestsWaiting === 1)
    controller.abort(new Error('user left'))
    await expect(queued).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: { message: 'user left' } })
    expect(pool.getStats().requestsWaiting).toBe(0)
    await pool.putconn(held)
    const again = await pool.getconn({ timeout: 2 })
    expect(pool.getStats()).toMatchObject({ poolSize: 1, requestsWaiting: 0 })
    await pool.putconn(again)
  })

  it('an already-aborted signal never asks the pool', async () => {
    const pool = asyncPool()
    const requests = pool.getStats().requestsNum
    await expect(pool.getconn({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
    expect(pool.getStats().requestsNum).toBe(requests)
  })

  it('a null pool gives its slot back', async () => {
    const pool = new AsyncNullConnectionPool(databaseUrl(), { maxSize: 1, logger: {} })
    closers.push(() => pool.close())
    const held = await pool.getconn()
    const controller = new AbortController()
    const queued = pool.getconn({ signal: controller.signal })
    await eventually(() => pool.getStats().requestsWaiting === 1)
    controller.abort()
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' })
    await pool.putconn(held)
    await pool.putconn(await pool.getconn({ timeout: 2 }))
  })
})

describe('an abort while the statement runs', () => {
  it('cancels pool.query on the server', async () => {
    const running = await observer()
    const pool = asyncPool()
    const controller = new AbortController()
    const query = pool.query("SELECT pg_sleep(30), 'abort-marker'", [], { signal: controller.signal })
    await eventually(async () => (await running('abort-marker')) === 1)
    controller.abort()
    await expect(query).rejects.toMatchObject({ name: 'AbortError' })
    await eventually(async () => (await running('abort-marker')) === 0)
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]) // the connection is fine
  })
})

describe('getconn options', () => {
  it('takes a timeout alone or in an object, and checks the object', async () => {
    const pool = asyncPool()
    await pool.putconn(await pool.getconn(5))
    await pool.putconn(await pool.getconn({ timeout: 5 }))
    await expect(pool.getconn({ timeout: 'x' as unknown as number })).rejects.toThrow(/getconn\(\) option 'timeout'/)
    await expect(pool.getconn({ signal: 'x' as unknown as AbortSignal })).rejects.toThrow(
      /getconn\(\) option 'signal' must be an AbortSignal/,
    )
  })

  it('sync pools: a signal aborted before the call stops it', () => {
    const pool = new ConnectionPool(databaseUrl(), { minSize: 1, logger: {} })
    closers.push(() => pool.close())
    const signal = AbortSignal.abort()
    expect(() => pool.getconn({ signal })).toThrow(expect.objectContaining({ name: 'AbortError' }))
    expect(() => pool.connection(() => 1, { signal })).toThrow(expect.objectContaining({ name: 'AbortError' }))
    expect(() => pool.query('SELECT 1', [], { signal })).toThrow(expect.objectContaining({ name: 'AbortError' }))
    const live = new AbortController().signal
    expect(pool.connection(() => 2, { signal: live, timeout: 5 })).toBe(2)
    expect(pool.query('SELECT 3 AS n', [], { signal: live }).rows).toEqual([{ n: 3 }])
  })
})

describe('connectionOptions.statementTimeout', () => {
  it('is set at connection start, and the server cancels a longer statement, leaving nothing running', async () => {
    const running = await observer()
    const pool = asyncPool({ connectionOptions: { statementTimeout: 0.25 } })
    expect((await pool.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '250ms' }])
    await expect(pool.query("SELECT pg_sleep(10), 'timeout-marker'")).rejects.toMatchObject({ sqlstate: '57014' })
    expect(await running('timeout-marker')).toBe(0)
    const conn = await AsyncConnection.connect(databaseUrl(), { statementTimeout: 1.5 })
    closers.push(() => conn.close())
    expect((await conn.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '1500ms' }])
  })

  it('is validated by name', async () => {
    await expect(AsyncConnection.connect(databaseUrl(), { statementTimeout: -1 })).rejects.toThrow(
      /connection option 'statementTimeout' must be a number of seconds/,
    )
    await expect(AsyncConnection.connect(databaseUrl(), { statementTimeout: '1' as unknown as number })).rejects.toThrow(
      TypeError,
    )
    expect(
      () => new AsyncConnectionPool(databaseUrl(), { open: false, connectionOptions: { statementTimeout: NaN } }),
    ).toThrow(/statementTimeout/)
  })
})
