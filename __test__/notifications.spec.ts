import { spawn } from 'node:child_process'
import path from 'node:path'

import { describe, expect, it, vi } from 'vitest'

import { OperationalError, type Notice, type Notification } from '../dist/index.js'
import { databaseUrl, eventually } from './helpers'
import { caught, openAsync, openSync, sleep } from './open'

const RAISE = "DO $$ BEGIN RAISE NOTICE 'careful' USING DETAIL = 'the detail', HINT = 'the hint'; END $$"

/**
 * Process warnings emitted while `fn` runs, and in the 50 ms after it: the window in which a
 * warning that should not come would have come. A test that expects one waits for it in `fn`.
 */
async function warningsDuring(fn: () => Promise<void>, warnings: Error[] = []): Promise<Error[]> {
  const collect = (warning: Error) => warnings.push(warning)
  process.on('warning', collect)
  try {
    await fn()
    await sleep(50)
  } finally {
    process.off('warning', collect)
  }
  return warnings
}

describe('notices', () => {
  it('reach onNotice with message, severity, sqlstate and the other fields', async () => {
    const notices: Notice[] = []
    const conn = await openAsync({ onNotice: (n) => notices.push(n) })
    await conn.exec(RAISE)
    await vi.waitFor(() => expect(notices).toHaveLength(1))
    expect(notices[0]).toMatchObject({
      message: 'careful',
      severity: 'NOTICE',
      sqlstate: '00000',
      code: '00000',
      detail: 'the detail',
      hint: 'the hint',
    })
    expect(notices[0]!.where).toMatch(/PL\/pgSQL/)
  })

  it('also reach onNotice from a sync connection, once the thread is free', async () => {
    const notices: Notice[] = []
    const conn = openSync({ autocommit: true, onNotice: (n) => notices.push(n) })
    conn.exec(RAISE)
    conn.query('DROP TABLE IF EXISTS surely_not_here')
    expect(notices).toHaveLength(0) // the thread has not been free yet
    await vi.waitFor(() =>
      expect(notices.map((n) => n.message)).toEqual(['careful', 'table "surely_not_here" does not exist, skipping']),
    )
  })

  it('are dropped silently without onNotice', async () => {
    const conn = await openAsync()
    const warnings = await warningsDuring(() => conn.exec(RAISE))
    expect(warnings).toEqual([])
  })

  it('a callback that throws becomes a process warning, not a crash', async () => {
    const conn = await openAsync({
      onNotice: () => {
        throw new Error('callback bug')
      },
    })
    const warnings: Error[] = []
    await warningsDuring(async () => {
      await conn.exec(RAISE)
      await vi.waitFor(() => expect(warnings.length).toBeGreaterThan(0))
    }, warnings)
    expect(warnings.map((w) => w.message).join()).toMatch(/onNotice callback threw: Error: callback bug/)
    expect(warnings[0]!.name).toBe('PgtideCallbackWarning')
    expect((await conn.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })
})

describe('notifications', () => {
  it('reach onNotification while the connection is idle', async () => {
    const received: Notification[] = []
    const listener = await openAsync({ autocommit: true, onNotification: (n) => received.push(n) })
    const sender = await openAsync({ autocommit: true })
    await listener.exec('LISTEN pgtide_test')
    await sender.exec("NOTIFY pgtide_test, 'hello'")
    // The listener runs nothing from here on.
    await vi.waitFor(() =>
      expect(received).toEqual([{ channel: 'pgtide_test', payload: 'hello', processId: sender.backendPid }]),
    )
    expect(listener.transactionStatus).toBe('idle')
  })

  it('reach a notifications() iterator, also while idle, until it breaks', async () => {
    const listener = await openAsync({ autocommit: true })
    const sender = await openAsync({ autocommit: true })
    await listener.exec('LISTEN pgtide_iter')
    const payloads: string[] = []
    const reading = (async () => {
      for await (const n of listener.notifications()) {
        payloads.push(n.payload)
        if (payloads.length === 3) break
      }
    })()
    // The iterator registered synchronously above: notifications sent now are its.
    for (const payload of ['one', 'two', 'three']) {
      await sender.query('SELECT pg_notify($1, $2)', ['pgtide_iter', payload])
    }
    await reading
    expect(payloads).toEqual(['one', 'two', 'three'])
    // The connection still works, with nobody listening any more.
    expect((await listener.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('a query on a listening connection never waits for the idle reader', async () => {
    const received: string[] = []
    const conn = await openAsync({ autocommit: true, onNotification: (n) => received.push(n.payload) })
    const sender = await openAsync({ autocommit: true })
    await conn.exec('LISTEN pgtide_busy')
    for (let i = 0; i < 20; i++) {
      // The reader is at work on the idle socket: it delivers a notification with no query running.
      await sender.query("SELECT pg_notify('pgtide_busy', $1)", [String(i)])
      await eventually(() => received.length === i + 1)
      // A query takes the socket from it at once; one that waited for the reader's next message
      // would wait for ever, since nothing more is sent.
      const started = performance.now()
      expect((await conn.query('SELECT $1::int4 AS i', [i])).rows).toEqual([{ i }])
      expect(performance.now() - started).toBeLessThan(2000)
    }
    expect(received).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
  })

  it('a sync connection delivers what arrived during a call once the thread is free', async () => {
    const received: string[] = []
    const conn = openSync({ autocommit: true, onNotification: (n) => received.push(n.payload) })
    conn.exec('LISTEN pgtide_sync')
    conn.exec("NOTIFY pgtide_sync, 'during'")
    expect(received).toEqual([])
    await vi.waitFor(() => expect(received).toEqual(['during']))
  })

  it('a throwing onNotification becomes a warning; iterators still get theirs', async () => {
    const conn = await openAsync({
      autocommit: true,
      onNotification: () => {
        throw new Error('listener bug')
      },
    })
    await conn.exec('LISTEN pgtide_throw')
    const iterator = conn.notifications()
    const warnings: Error[] = []
    await warningsDuring(async () => {
      await conn.exec("NOTIFY pgtide_throw, 'x'")
      expect((await iterator.next()).value).toMatchObject({ payload: 'x' })
      await vi.waitFor(() => expect(warnings.length).toBeGreaterThan(0))
    }, warnings)
    expect(warnings.map((w) => w.message).join()).toMatch(/onNotification callback threw: Error: listener bug/)
    await iterator.return!()
  })

  it('close() finishes open iterators', async () => {
    const conn = await openAsync({ autocommit: true })
    const iterator = conn.notifications()
    const next = iterator.next()
    await conn.close()
    expect(await next).toEqual({ value: undefined, done: true })
    expect(await conn.notifications().next()).toEqual({ value: undefined, done: true })
  })

  it('a lost connection makes a waiting iterator throw OperationalError', async () => {
    const conn = await openAsync({ autocommit: true })
    const killer = await openAsync({ autocommit: true })
    await conn.exec('LISTEN pgtide_lost')
    const next = caught(() => conn.notifications().next())
    await killer.query('SELECT pg_terminate_backend($1)', [conn.backendPid])
    expect(await next).toBeInstanceOf(OperationalError)
    expect(conn.broken).toBe(true)
  })
})

describe('process lifetime', () => {
  const root = path.resolve(__dirname, '..')

  /** Runs a script in a fresh Node; resolves with its exit code, or 'hung' after `limitMs`. */
  function runNode(script: string, limitMs = 15_000): Promise<number | 'hung'> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['-e', script], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: databaseUrl() },
        stdio: ['ignore', 'inherit', 'inherit'],
      })
      const timer = setTimeout(() => {
        child.kill()
        resolve('hung')
      }, limitMs)
      child.on('exit', (code) => {
        clearTimeout(timer)
        resolve(code ?? -1)
      })
    })
  }

  it('an idle connection without a listener, but with onNotice, does not keep Node alive', async () => {
    const script = `
      const { AsyncConnection, Connection } = require('./dist/index.js')
      AsyncConnection.connect(process.env.DATABASE_URL, { onNotice: () => {} })
        .then((c) => c.exec("DO $$ BEGIN RAISE NOTICE 'x'; END $$"))
      Connection.connect(process.env.DATABASE_URL).query('SELECT 1')`
    expect(await runNode(script)).toBe(0)
  })

  it('a listening connection keeps Node alive until it is closed', async () => {
    const script = `
      const { AsyncConnection } = require('./dist/index.js')
      const options = { autocommit: true, onNotification: () => {} }
      AsyncConnection.connect(process.env.DATABASE_URL, options).then(async (c) => {
        await c.exec('LISTEN pgtide_alive')
        setTimeout(() => c.close(), 300)
      })`
    expect(await runNode(script)).toBe(0)
    const forgotten = `
      const { AsyncConnection } = require('./dist/index.js')
      AsyncConnection.connect(process.env.DATABASE_URL, { onNotification: () => {} })`
    expect(await runNode(forgotten, 2_000)).toBe('hung')
  })

  it('an iterator keeps Node alive while open, not after it breaks', async () => {
    const script = `
      const { AsyncConnection } = require('./dist/index.js')
      AsyncConnection.connect(process.env.DATABASE_URL, { autocommit: true }).then(async (c) => {
        await c.exec('LISTEN pgtide_iter_alive')
        setTimeout(() => c.exec("NOTIFY pgtide_iter_alive, 'go'"), 300)
        for await (const n of c.notifications()) break
      })`
    expect(await runNode(script)).toBe(0)
  })
})
