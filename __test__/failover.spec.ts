// Writer failover across a real primary and its streaming standby: a pool on both hosts with
// target_session_attrs=read-write, under load, while the primary is killed (`-m immediate`) and
// the standby promoted. Measured and printed: errors by kind, time from the promotion to the
// first successful write. docs/scaling.md quotes these figures.
import { setTimeout as delay } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnectionPool, ConnectionPool, OperationalError, PoolTimeout } from '../dist/index.js'
import { eventually, settleWithin } from './helpers'
import { hostsConninfo, replicated, sessionsOn, standbysPossible } from './replication'
import type { ThrowawayServer } from './throwaway-server'

const standbys = standbysPossible()
const DIST = path.resolve(__dirname, '../dist/index.js')
const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanUp of cleanups.splice(0).reverse()) await cleanUp()
})

const report = (line: string) => process.stdout.write(`[failover] ${line}\n`)

/** What one write did: when it ended, and how (ok, or the error's class and SQLSTATE). */
interface Outcome {
  at: number
  ok: boolean
  kind?: string
  code?: string
  message?: string
}

/** A primary and its standby, removed after the test. */
async function replicatedPair(): Promise<{ primary: ThrowawayServer; standby: ThrowawayServer }> {
  const servers = await replicated(1)
  cleanups.push(() => servers.stop())
  return { primary: servers.primary, standby: servers.standbys[0]! }
}

/** Both servers, the primary first, for writers only. */
const writerConninfo = (primary: ThrowawayServer, standby: ThrowawayServer, app: string) =>
  hostsConninfo([primary, standby], `application_name=${app} target_session_attrs=read-write connect_timeout=2`)

function describeError(error: unknown): Omit<Outcome, 'at' | 'ok'> {
  const e = error as { name?: string; code?: string; message?: string }
  const kind = error instanceof PoolTimeout ? 'PoolTimeout' : error instanceof OperationalError ? 'OperationalError' : `foreign ${e.name}`
  return { kind, code: e.code, message: e.message }
}

/**
 * Kills the primary, waits `outageSeconds`, promotes the standby, and returns the times (ms,
 * Date.now()) of the kill and of the end of the promotion.
 */
async function failOver(primary: ThrowawayServer, standby: ThrowawayServer, outageSeconds: number) {
  const killedAt = Date.now()
  await primary.kill()
  await delay(outageSeconds * 1000)
  await standby.promote()
  return { killedAt, promotedAt: Date.now() }
}

/** Checks and prints what the writers saw around a failover; returns the recovery time (s). */
function judge(label: string, outcomes: Outcome[], clients: number, killedAt: number, promotedAt: number): number {
  const after = outcomes.filter((o) => o.at > killedAt)
  const failures = after.filter((o) => !o.ok)
  const byKind = new Map<string, number>()
  for (const f of failures) byKind.set(f.kind!, (byKind.get(f.kind!) ?? 0) + 1)
  const firstWrite = after.find((o) => o.ok && o.at >= promotedAt)
  const recovery = firstWrite ? (firstWrite.at - promotedAt) / 1000 : Infinity
  report(
    `${label}: outage ${((promotedAt - killedAt) / 1000).toFixed(1)} s; errors ${JSON.stringify(Object.fromEntries(byKind))}; ` +
      `first write ${recovery.toFixed(2)} s after the promotion; ${after.filter((o) => o.ok).length} writes after the kill`,
  )
  // Never a session handed out on a server in recovery, never an error that is not the pool's.
  expect(failures.filter((f) => f.code === '25006')).toEqual([])
  expect(failures.filter((f) => f.kind!.startsWith('foreign'))).toEqual([])
  // Only the statements in flight at the kill fail as lost; the rest wait and time out.
  expect(failures.filter((f) => f.kind === 'OperationalError').length).toBeLessThanOrEqual(clients)
  // Between the kill and the promotion, a waiting client is told why.
  for (const timeout of failures.filter((f) => f.kind === 'PoolTimeout' && f.at < promotedAt)) {
    expect(timeout.message).toMatch(/last connection error: .*(refused|closed|terminat|timeout|read-only|recovery)/is)
  }
  // Clients wait in the queue while the pool attempts every 250 ms: the first write follows
  // the promotion within a second, however long the outage was.
  expect(recovery).toBeLessThan(1)
  return recovery
}

describe.skipIf(!standbys.possible)(`writer failover: primary killed, standby promoted${standbys.skipped}`, () => {
  /** 20 writers on an async pool; the primary killed, the standby promoted `outage` s later. */
  async function asyncFailover(label: string, outageSeconds: number) {
    const { primary, standby } = await replicatedPair()
    const app = `pgtide-failover-async-${process.pid}-${outageSeconds}`
    const pool = new AsyncConnectionPool(writerConninfo(primary, standby, app), {
      minSize: 4,
      maxSize: 8,
      timeout: 1,
      logger: {},
    })
    cleanups.push(() => pool.close(5))
    await pool.open({ wait: true, timeout: 20 })

    const CLIENTS = 20
    const outcomes: Outcome[] = []
    let running = true
    const writer = async (client: number) => {
      while (running) {
        try {
          await pool.query('INSERT INTO writes (client) VALUES ($1)', [client])
          outcomes.push({ at: Date.now(), ok: true })
        } catch (error) {
          outcomes.push({ at: Date.now(), ok: false, ...describeError(error) })
          await delay(50)
        }
      }
    }
    const writers = Array.from({ length: CLIENTS }, (_, i) => writer(i))
    await eventually(() => outcomes.filter((o) => o.ok).length > 200, 20)

    const { killedAt, promotedAt } = await failOver(primary, standby, outageSeconds)
    await eventually(() => outcomes.some((o) => o.ok && o.at > promotedAt), 10)
    await delay(1000)
    running = false
    // Every request settles.
    expect(await settleWithin(Promise.all(writers), 10)).not.toBe('pending')
    judge(label, outcomes, CLIENTS, killedAt, promotedAt)

    // The pool refilled at once, every connection on the new primary (the old one is gone).
    expect(pool.getStats().poolSize).toBeGreaterThanOrEqual(4)
    await eventually(async () => (await sessionsOn(standby, app)) === pool.getStats().poolSize, 10)
  }

  it('AsyncConnectionPool under 20 writers, standby promoted 1.5 s after the crash', { timeout: 120_000 }, async () => {
    await asyncFailover('async pool, prompt promotion', 1.5)
  })

  it('AsyncConnectionPool under 20 writers, standby promoted 20 s after the crash', { timeout: 120_000 }, async () => {
    await asyncFailover('async pool, late promotion', 20)
  })

  it('ConnectionPool shared by 4 writer threads', { timeout: 120_000 }, async () => {
    const { primary, standby } = await replicatedPair()
    const app = `pgtide-failover-sync-${process.pid}`
    const pool = new ConnectionPool(writerConninfo(primary, standby, app), { minSize: 4, maxSize: 4, timeout: 1, logger: {} })
    cleanups.push(() => pool.close(5))
    pool.wait(20)
    const handle = pool.share()
    const stop = new Int32Array(new SharedArrayBuffer(4))
    const script = `
      const { workerData, parentPort } = require('node:worker_threads')
      const { ConnectionPool, PoolTimeout, OperationalError } = require(${JSON.stringify(DIST)})
      const pool = ConnectionPool.attach(workerData.handle)
      while (Atomics.load(workerData.stop, 0) === 0) {
        try {
          pool.query('INSERT INTO writes (client) VALUES ($1)', [workerData.client])
          parentPort.postMessage({ at: Date.now(), ok: true })
        } catch (e) {
          const kind = e instanceof PoolTimeout ? 'PoolTimeout' : e instanceof OperationalError ? 'OperationalError' : 'foreign ' + e.name
          parentPort.postMessage({ at: Date.now(), ok: false, kind, code: e.code, message: e.message })
          Atomics.wait(workerData.stop, 0, 0, 50)
        }
      }
    `
    const CLIENTS = 4
    const outcomes: Outcome[] = []
    const exits = Array.from({ length: CLIENTS }, (_, client) => {
      const worker = new Worker(script, { eval: true, workerData: { handle, stop, client } })
      cleanups.push(() => worker.terminate())
      worker.on('message', (outcome: Outcome) => outcomes.push(outcome))
      return new Promise((resolve, reject) => worker.once('exit', resolve).once('error', reject))
    })
    await eventually(() => outcomes.filter((o) => o.ok).length > 200, 20)

    const { killedAt, promotedAt } = await failOver(primary, standby, 1.5)
    await eventually(() => outcomes.some((o) => o.ok && o.at > promotedAt), 10)
    await delay(1000)
    Atomics.store(stop, 0, 1)
    Atomics.notify(stop, 0)
    // Every thread's last request settles and the thread ends.
    expect(await settleWithin(Promise.all(exits), 10)).not.toBe('pending')
    judge('sync pool, prompt promotion', outcomes, CLIENTS, killedAt, promotedAt)
    await eventually(async () => (await sessionsOn(standby, app)) === pool.getStats().poolSize, 10)
  })
})
