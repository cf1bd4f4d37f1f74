// Issue 14, item 1: every request settles, whatever the network does. A proxy that keeps every
// open socket open but forwards nothing (TcpProxy.hang()) stands between the pools and the
// server; each request must end by its own bound (the pool's timeout for a checkout, an
// AbortSignal for a query, close()'s own limits), the pool must serve again once new
// connections work, and close() must return.
//
// What this proxy cannot show: TCP keepalive and tcp_user_timeout. The proxy's kernel acknowledges
// every byte and every probe, so to the pool's sockets it is a server that stopped answering, not
// a lost peer; those socket options are checked by cargo tests (connect/socket_options.rs), and
// at work against a real black hole by black-hole-kernel.spec.ts (a network namespace whose veth
// drops every packet). Here, where a real partition would be ended by them, resume() stands in: it
// resets the connections that lost bytes, as a NAT or firewall that forgot the flow does, and as
// the kernel's verdict would.
//
// Bounds are wide enough for a loaded 2-core machine; every await is bounded.

import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'

import { AbortError, AsyncConnectionPool, ConnectionPool, OperationalError } from '../dist/index.js'
import { databaseUrl, eventually, settleWithin, withShortKeepalive } from './helpers'
import { TcpProxy } from './tcp-proxy'

const DIST = path.resolve('dist/index.js')
const now = () => performance.now() / 1000

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await settleWithin(cleanup(), 15)
})

async function startProxy(): Promise<TcpProxy> {
  const proxy = TcpProxy.to(databaseUrl())
  await proxy.start()
  cleanups.push(() => proxy.close())
  return proxy
}

describe('a black hole under an AsyncConnectionPool', () => {
  it('settles every request within its bound, serves again, and closes in time', { timeout: 90_000 }, async () => {
    const proxy = await startProxy()
    const silentUrl = withShortKeepalive(proxy.url(databaseUrl()))
    // New connections go around the proxy once it is silent: they would work, as in the issue.
    let target = silentUrl
    const pool = new AsyncConnectionPool(() => target, { minSize: 10, maxSize: 10, timeout: 3 })
    cleanups.push(() => pool.close(2))
    await pool.wait(20)
    const stuck = await pool.getconn() // a connection that will be closed while a query hangs on it

    proxy.hang()
    target = withShortKeepalive(databaseUrl())
    const started = now()
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, async () => {
        try {
          await pool.connection((conn) => conn.query('SELECT 1 AS one', [], { signal: AbortSignal.timeout(2000) }))
          return { kind: 'served', at: now() - started }
        } catch (error) {
          return { kind: (error as Error).constructor.name, at: now() - started, error }
        }
      }).map((client) => settleWithin(client, 15)),
    )
    expect(outcomes.filter((o) => o === 'pending')).toEqual([])
    const settled = outcomes as { kind: string; at: number; error?: unknown }[]
    // The 9 idle connections were silent: their queries are aborted at 2 s and give up on them
    // 1 s later (no answer to the cancel); the clients queued behind wait at most the pool's 3 s.
    const aborted = settled.filter((o) => o.kind === 'AbortError')
    expect(aborted.length).toBe(9)
    for (const outcome of settled) {
      expect(['served', 'AbortError', 'PoolTimeout']).toContain(outcome.kind)
      expect(outcome.at).toBeLessThan(9)
    }

    // A query with no signal on a silent connection is ended by close(): it cuts the socket
    // off after its short wait, and both settle.
    const hanging = settleWithin(stuck.query('SELECT 1'), 15)
    const closeStarted = now()
    expect(await settleWithin(stuck.close(), 10)).toBeUndefined()
    expect(now() - closeStarted).toBeLessThan(6)
    expect(await hanging).toBeInstanceOf(OperationalError)
    await pool.putconn(stuck)

    // The dead connections were replaced by working ones: the pool serves again.
    await eventually(() => pool.getStats().poolAvailable === 10, 20)
    for (let i = 0; i < 20; i++) {
      const { rows } = await pool.connection((conn) => conn.query<{ one: number }>('SELECT 1 AS one'), { timeout: 5 })
      expect(rows).toEqual([{ one: 1 }])
    }
    const closing = now()
    expect(await settleWithin(pool.close(2), 10)).toBeUndefined()
    expect(now() - closing).toBeLessThan(5)
  })

  it('close(timeout) returns in time while checked-out connections hang on silent queries', { timeout: 60_000 }, async () => {
    const proxy = await startProxy()
    const pool = new AsyncConnectionPool(withShortKeepalive(proxy.url(databaseUrl())), { minSize: 4, maxSize: 4 })
    cleanups.push(() => pool.close(2))
    await pool.wait(20)
    const held = await Promise.all([pool.getconn(), pool.getconn()])
    proxy.hang()
    const hanging = held.map((conn) => settleWithin(conn.query('SELECT 1'), 30))
    const started = now()
    expect(await settleWithin(pool.close(2), 10)).toBeUndefined()
    expect(now() - started).toBeLessThan(5)
    // Their own close() ends the requests stuck on them.
    for (const conn of held) expect(await settleWithin(conn.close(), 10)).toBeUndefined()
    for (const outcome of await Promise.all(hanging)) expect(outcome).toBeInstanceOf(OperationalError)
  })
})

describe('a black hole under a ConnectionPool shared by worker threads', () => {
  // The proxy runs on this thread's event loop: this thread never blocks in a sync call while
  // the pool needs the proxy; the worker threads do the blocking.
  it('leaves no thread blocked: checkouts time out, stuck queries end when the flow is reset, the pool serves again', { timeout: 90_000 }, async () => {
    const proxy = await startProxy()
    const pool = new ConnectionPool(withShortKeepalive(proxy.url(databaseUrl())), { minSize: 4, maxSize: 4, timeout: 2 })
    cleanups.push(async () => pool.close(2))
    await eventually(() => pool.getStats().poolAvailable === 4, 20)
    const handle = pool.share()
    // Four threads take a connection each, run one query on it once the network is silent,
    // give it back and take one more; a fifth only tries to take one while all four are out.
    const go = new Int32Array(new SharedArrayBuffer(4))
    const script = `
      const { workerData, parentPort } = require('node:worker_threads')
      const { ConnectionPool } = require(${JSON.stringify(DIST)})
      const pool = ConnectionPool.attach(workerData.handle)
      const outcome = (fn) => { try { fn(); return 'ok' } catch (e) { return e.constructor.name } }
      if (workerData.role === 'checkout') {
        Atomics.wait(workerData.go, 0, 0, 30000)
        const started = performance.now()
        const checkout = outcome(() => pool.getconn(1))
        parentPort.postMessage({ step: 'done', checkout, seconds: (performance.now() - started) / 1000 })
      } else {
        const conn = pool.getconn()
        parentPort.postMessage({ step: 'holding' })
        Atomics.wait(workerData.go, 0, 0, 30000)
        const query = outcome(() => conn.query('SELECT 1'))
        pool.putconn(conn)
        const after = outcome(() => pool.connection((c) => c.query('SELECT 1')))
        parentPort.postMessage({ step: 'done', query, after })
      }
    `
    type Done = { query?: string; after?: string; checkout?: string; seconds?: number }
    let holding = 0
    const start = (role: string) => {
      const worker = new Worker(script, { eval: true, workerData: { handle, go, role } })
      cleanups.push(() => worker.terminate())
      return new Promise<Done>((resolve, reject) => {
        worker.on('message', (message: Done & { step: string }) => {
          if (message.step === 'holding') holding += 1
          if (message.step === 'done') resolve(message)
        })
        worker.once('error', reject)
      })
    }
    const holders = Array.from({ length: 4 }, () => start('holder'))
    await eventually(() => holding === 4, 20)
    const checkout = start('checkout')
    proxy.hang()
    Atomics.store(go, 0, 1)
    Atomics.notify(go, 0)

    // A checkout meanwhile ends at its timeout: nothing comes back, yet it does not block for good.
    const tried = (await settleWithin(checkout, 10)) as Done
    expect(tried.checkout).toBe('PoolTimeout')
    expect(tried.seconds).toBeLessThan(4)

    // The partition outlives the peers' patience: the flows that lost bytes are reset.
    proxy.resume()
    const outcomes = (await Promise.all(holders.map((r) => settleWithin(r, 30)))) as Done[]
    // Their queries were sent into the silence: each ends with its connection; then each
    // thread is served again by a new one.
    expect(outcomes.map((o) => o.query)).toEqual(Array(4).fill('OperationalError'))
    expect(outcomes.map((o) => o.after)).toEqual(Array(4).fill('ok'))
    await eventually(() => pool.getStats().poolAvailable === 4, 20)
    const closing = now()
    pool.close(2)
    expect(now() - closing).toBeLessThan(5)
  })
})

describe('an aborted query on a silent connection', () => {
  it('rejects with an AbortError soon after the abort, and the connection is replaced', { timeout: 60_000 }, async () => {
    const proxy = await startProxy()
    let target = proxy.url(databaseUrl())
    const pool = new AsyncConnectionPool(() => target, { minSize: 1, maxSize: 1 })
    cleanups.push(() => pool.close(2))
    await pool.wait(20)
    const before = await pool.connection((conn) => conn.backendPid)
    proxy.hang()
    target = databaseUrl()
    const controller = new AbortController()
    const running = settleWithin(
      pool.connection((conn) => conn.query('SELECT 1', [], { signal: controller.signal })),
      15,
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    const abortedAt = now()
    controller.abort()
    expect(await running).toBeInstanceOf(AbortError)
    expect(now() - abortedAt).toBeLessThan(4)
    const after = await pool.connection((conn) => conn.backendPid, { timeout: 10 })
    expect(after).not.toBe(before)
  })
})
