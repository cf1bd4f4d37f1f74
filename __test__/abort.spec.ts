import { describe, expect, it } from 'vitest'

import { AbortError } from '../dist/index.js'
import { untilRunning } from './helpers'
import { caught, openAsync, openSync } from './open'

describe('query(sql, params, { signal })', () => {
  it('aborting cancels the query on the server and rejects with an AbortError carrying the reason', async () => {
    const conn = await openAsync()
    const watcher = await openAsync({ autocommit: true })
    const controller = new AbortController()
    const started = Date.now()
    const running = caught(() => conn.query('SELECT pg_sleep(10)', [], { signal: controller.signal }))
    await untilRunning(watcher, conn.backendPid)
    expect(conn.transactionStatus).toBe('active')
    const reason = new Error('user gave up')
    const abortedAt = Date.now()
    controller.abort(reason)
    const error = await running
    expect(Date.now() - abortedAt).toBeLessThan(1000) // the server stopped the sleep, within a second
    expect(error).toBeInstanceOf(AbortError)
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' })
    expect((error as Error).cause).toBe(reason)
    expect(Date.now() - started).toBeLessThan(15_000)
    // As psycopg after a cancel: the transaction is in error until rolled back.
    expect(conn.transactionStatus).toBe('inerror')
    await conn.rollback()
    expect((await conn.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('the cancelled statement really stopped on the server', async () => {
    const conn = await openAsync({ autocommit: true })
    const watcher = await openAsync({ autocommit: true })
    const controller = new AbortController()
    const running = caught(() => conn.query('SELECT pg_sleep(30)', [], { signal: controller.signal }))
    await untilRunning(watcher, conn.backendPid)
    controller.abort()
    expect(await running).toBeInstanceOf(AbortError)
    const { rows } = await watcher.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [
      conn.backendPid,
    ])
    expect(rows).toEqual([{ state: 'idle' }])
  })

  it('an already-aborted signal rejects at once and sends nothing', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec('CREATE TEMP TABLE a (x int4)')
    const controller = new AbortController()
    controller.abort('too late')
    const error = await caught(() => conn.query('INSERT INTO a VALUES (1)', [], { signal: controller.signal }))
    expect(error).toBeInstanceOf(AbortError)
    expect((error as Error).cause).toBe('too late')
    expect((await conn.query('SELECT count(*)::int4 AS n FROM a')).rows).toEqual([{ n: 0 }])
  })

  it('a query queued behind another is dropped before it starts', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec('CREATE TEMP TABLE a (x int4)')
    const first = conn.query('SELECT pg_sleep(0.3)')
    const controller = new AbortController()
    const queued = caught(() => conn.query('INSERT INTO a VALUES (1)', [], { signal: controller.signal }))
    controller.abort()
    await first
    expect(await queued).toBeInstanceOf(AbortError)
    expect((await conn.query('SELECT count(*)::int4 AS n FROM a')).rows).toEqual([{ n: 0 }])
  })

  it('an abort after the query finished changes nothing, and never hits the next statement', async () => {
    const conn = await openAsync({ autocommit: true })
    for (let round = 0; round < 20; round++) {
      const controller = new AbortController()
      const query = conn.query('SELECT pg_sleep(0.005)', [], { signal: controller.signal })
      setTimeout(() => controller.abort(), round % 10)
      await query.catch((e: unknown) => expect(e).toBeInstanceOf(AbortError))
      // The next statement runs to completion whatever the abort above did.
      expect((await conn.query('SELECT pg_sleep(0.01), 1 AS one')).rows[0]).toMatchObject({ one: 1 })
    }
  })

  it('a query that completes before an abort resolves normally', async () => {
    const conn = await openAsync()
    const controller = new AbortController()
    const result = await conn.query('SELECT 1 AS one', [], { signal: controller.signal })
    controller.abort()
    expect(result.rows).toEqual([{ one: 1 }])
    expect(conn.transactionStatus).toBe('intrans')
  })

  it('checks the options', async () => {
    const conn = await openAsync()
    // @ts-expect-error: deliberately wrong
    await expect(conn.query('SELECT 1', [], { signal: 'stop' })).rejects.toThrow(/'signal' must be an AbortSignal/)
    // @ts-expect-error: deliberately wrong
    await expect(conn.query('SELECT 1', [], 5)).rejects.toThrow(TypeError)
  })
})

describe('Connection.query with a signal (sync)', () => {
  it('an aborted signal throws an AbortError before anything is sent; otherwise it runs', () => {
    const conn = openSync()
    const controller = new AbortController()
    expect(conn.query('SELECT 1 AS one', [], { signal: controller.signal }).rows).toEqual([{ one: 1 }])
    controller.abort()
    expect(() => conn.query('SELECT 1', [], { signal: controller.signal })).toThrow(AbortError)
    expect(conn.transactionStatus).toBe('intrans')
  })
})
