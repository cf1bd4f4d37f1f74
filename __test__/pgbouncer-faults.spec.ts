// pgtide through a real PgBouncer (transaction pooling) while an operator works on it, under
// load: RECONNECT, PAUSE/RESUME and a restart, issued on its admin console or to its process.
// What must hold: every request settles, the only errors are the pool's own (a lost connection,
// a PoolTimeout while the bouncer is down), and service comes back on its own. The figures are
// printed; docs/scaling.md quotes them. Skipped by name without pgbouncer installed.
import { setTimeout as delay } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { AsyncConnectionPool, OperationalError, PoolTimeout } from '../dist/index.js'
import { Client } from '../dist/pg.js'
// @ts-expect-error a plain .mjs helper without type declarations
import { findPgBouncer, startPgBouncer } from '../scripts/pgbouncer-server.mjs'
import { databaseUrl, eventually, settleWithin } from './helpers'

interface Bouncer {
  url: string
  port: number
  user: string
  version: string
  stop(): Promise<void>
  restart(options?: { downSeconds?: number }): Promise<void>
}

const installed = findPgBouncer() as { version: string } | null
const suiteTitle = installed
  ? `PgBouncer ${installed.version} under faults, with 20 clients looping`
  : 'PgBouncer under faults (skipped: pgbouncer is not installed)'
const report = (line: string) => process.stdout.write(`[pgbouncer-faults] ${line}\n`)

interface Outcome {
  at: number
  ok: boolean
  kind?: string
  message?: string
}

/** 20 clients looping `SELECT $1` through `pool`, each outcome kept, until `stop()`. */
function load(pool: AsyncConnectionPool, clients = 20) {
  const outcomes: Outcome[] = []
  let running = true
  const client = async (i: number) => {
    while (running) {
      try {
        const { rows } = await pool.query<{ i: number }>('SELECT $1::int AS i', [i])
        if (rows[0]!.i !== i) throw new Error(`client ${i} was answered ${rows[0]!.i}`)
        outcomes.push({ at: Date.now(), ok: true })
      } catch (error) {
        const kind =
          error instanceof PoolTimeout ? 'PoolTimeout' : error instanceof OperationalError ? 'OperationalError' : `foreign ${(error as Error).name}`
        outcomes.push({ at: Date.now(), ok: false, kind, message: (error as Error).message })
        await delay(20)
      }
    }
  }
  const loops = Array.from({ length: clients }, (_, i) => client(i))
  return {
    outcomes,
    okSince: (t: number) => outcomes.filter((o) => o.ok && o.at > t).length,
    stop: async () => {
      running = false
      return settleWithin(Promise.all(loops), 15)
    },
  }
}

/** Errors by kind among `outcomes` after `since`, as { kind: count }. */
function errorsSince(outcomes: Outcome[], since: number): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const o of outcomes) if (!o.ok && o.at > since) counts[o.kind!] = (counts[o.kind!] ?? 0) + 1
  return counts
}

describe.skipIf(!installed)(suiteTitle, () => {
  let bouncer: Bouncer
  let pool: AsyncConnectionPool
  let console: Client

  beforeAll(async () => {
    bouncer = (await startPgBouncer({ upstream: databaseUrl(), poolMode: 'transaction', defaultPoolSize: 4 })) as Bouncer
    // Transaction pooling: no named statements; autocommit, so every statement is its own transaction.
    pool = new AsyncConnectionPool(bouncer.url, {
      minSize: 6,
      timeout: 2,
      connectionOptions: { statementCacheSize: 0, autocommit: true },
      logger: {},
    })
    await pool.wait(10)
  })

  afterAll(async () => {
    await console?.end().catch(() => {})
    await pool?.close(5)
    await bouncer?.stop()
  })

  /**
   * A command on the admin console, which speaks only the simple protocol: the `;` sends it
   * that way (pgtide/pg runs a lone statement without parameters through the statement cache).
   */
  async function admin(command: string): Promise<void> {
    if (!console) {
      const url = new URL(bouncer.url)
      url.pathname = '/pgbouncer'
      console = new Client({ connectionString: url.href })
      await console.connect()
    }
    await console.query(`${command};`)
  }

  it('RECONNECT: server connections renewed, clients see nothing', { timeout: 60_000 }, async () => {
    const work = load(pool)
    await eventually(() => work.okSince(0) > 200, 10)
    const issued = Date.now()
    await admin('RECONNECT')
    await eventually(() => work.okSince(issued) > 500, 10)
    await delay(500)
    expect(await work.stop()).not.toBe('pending')
    const errors = errorsSince(work.outcomes, issued)
    report(`RECONNECT: errors ${JSON.stringify(errors)}, ${work.okSince(issued)} queries after it`)
    expect(errors).toEqual({})
  })

  it('PAUSE then RESUME: queries wait out the pause, none fails', { timeout: 60_000 }, async () => {
    const work = load(pool)
    await eventually(() => work.okSince(0) > 200, 10)
    const paused = Date.now()
    await admin('PAUSE')
    await delay(1500)
    const duringPause = work.okSince(paused + 200)
    await admin('RESUME')
    const resumed = Date.now()
    await eventually(() => work.okSince(resumed) > 200, 10)
    expect(await work.stop()).not.toBe('pending')
    const errors = errorsSince(work.outcomes, paused)
    const firstAfter = work.outcomes.find((o) => o.ok && o.at >= resumed)!.at - resumed
    report(`PAUSE 1.5 s: ${duringPause} queries during the pause, errors ${JSON.stringify(errors)}, first answer ${firstAfter} ms after RESUME`)
    expect(duringPause).toBe(0)
    // A query held by the bouncer waits for the resume; only a getconn may time out meanwhile.
    expect(Object.keys(errors).filter((kind) => kind !== 'PoolTimeout')).toEqual([])
  })

  it('a restart (immediate shutdown, down 1 s): only the pool\'s errors, service back on its own', { timeout: 60_000 }, async () => {
    const work = load(pool)
    await eventually(() => work.okSince(0) > 200, 10)
    const stopped = Date.now()
    await bouncer.restart({ downSeconds: 1 })
    const back = Date.now()
    await eventually(() => work.okSince(back) > 0, 10)
    const firstAfter = work.outcomes.find((o) => o.ok && o.at >= back)!.at - back
    await eventually(() => work.okSince(back) > 200, 10)
    expect(await work.stop()).not.toBe('pending')
    const errors = errorsSince(work.outcomes, stopped)
    report(`restart, down ${((back - stopped) / 1000).toFixed(1)} s: errors ${JSON.stringify(errors)}, first answer ${firstAfter} ms after it listened again`)
    expect(Object.keys(errors).filter((kind) => kind.startsWith('foreign'))).toEqual([])
    // Clients were waiting: the pool attempts every 250 ms, not at its backoff's next step.
    expect(firstAfter).toBeLessThan(1000)
    // Lost connections in flight: at most one per pool connection.
    expect(errors.OperationalError ?? 0).toBeLessThanOrEqual(pool.getStats().poolMax ?? 20)
    await eventually(() => pool.getStats().poolSize >= 6, 10)
  })
})
