// pgtide through a real PgBouncer in transaction pooling mode (a throwaway one per suite, from
// scripts/pgbouncer-server.mjs, in front of the test server). Without pgbouncer installed, or
// with one too old for a case, the tests are reported as skipped, with the reason in their name.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { AsyncConnection, AsyncConnectionPool, DatabaseError, type ConnectionOptions } from '../dist/index.js'
// @ts-expect-error a plain .mjs helper without type declarations
import { findPgBouncer, startPgBouncer, versionAtLeast } from '../scripts/pgbouncer-server.mjs'
import { databaseUrl } from './helpers'

interface Bouncer {
  url: string
  version: string
  stop(): Promise<void>
}

const installed = findPgBouncer() as { bin: string; version: string } | null
const version: string = installed?.version ?? ''
// Protocol-level prepared statements (max_prepared_statements) arrived in PgBouncer 1.21.
const preparedStatements = installed !== null && versionAtLeast(version, '1.21')
const suiteTitle = installed
  ? `through PgBouncer ${version} in transaction pooling mode`
  : 'through PgBouncer in transaction pooling mode (skipped: pgbouncer is not installed)'
const tooOld =
  installed && !preparedStatements ? ` (skipped: PgBouncer ${version} < 1.21 has no max_prepared_statements)` : ''

/** What transaction pooling needs from pgtide: transactions (autocommit off) and no named statements. */
const TRANSACTION_POOLING: ConnectionOptions = { autocommit: false, statementCacheSize: 0 }

const bouncers: Bouncer[] = []
const pools: AsyncConnectionPool[] = []

async function bouncer(settings: Record<string, string | number> = {}, defaultPoolSize = 2): Promise<Bouncer> {
  const started = (await startPgBouncer({
    upstream: databaseUrl(),
    poolMode: 'transaction',
    defaultPoolSize,
    settings,
  })) as Bouncer
  bouncers.push(started)
  return started
}

function pool(url: string, connectionOptions: ConnectionOptions, minSize = 6): AsyncConnectionPool {
  const made = new AsyncConnectionPool(url, { minSize, connectionOptions, logger: {} })
  pools.push(made)
  return made
}

/** `count` concurrent clients each running `statements` parameterised queries; what came back. */
async function workload(p: AsyncConnectionPool, count: number) {
  const pids = new Set<number>()
  const errors: string[] = []
  let mismatched = 0
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      p
        .connection(async (conn) => {
          const { rows } = await conn.query<{ pid: number; i: number }>(
            'SELECT pg_backend_pid() AS pid, $1::int4 AS i',
            [i],
          )
          pids.add(rows[0]!.pid)
          const echo = await conn.query<{ t: string }>('SELECT $1::text AS t', [`client ${i}`])
          if (rows[0]!.i !== i || echo.rows[0]!.t !== `client ${i}`) mismatched += 1
        })
        .catch((error: Error) => errors.push(error.message)),
    ),
  )
  return { pids, errors, mismatched }
}

afterAll(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()))
  await Promise.all(bouncers.splice(0).map((b) => b.stop()))
})

describe.skipIf(!installed)(suiteTitle, () => {
  let front: Bouncer
  const table = `pgtide_bouncer_${process.pid}`

  beforeAll(async () => {
    front = await bouncer()
    const admin = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    await admin.query(`CREATE TABLE ${table} (client int, note text)`)
    await admin.close()
  })

  afterAll(async () => {
    const admin = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    await admin.query(`DROP TABLE IF EXISTS ${table}`)
    await admin.close()
  })

  it('serves 6 pooled connections over 2 server connections (autocommit off, statementCacheSize 0)', async () => {
    const p = pool(front.url, TRANSACTION_POOLING)
    await p.wait(10)
    const pids = new Set<number>()
    await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        p.connection(async (conn) => {
          await conn.query(`INSERT INTO ${table} VALUES ($1, $2)`, [i, `note ${i}`])
          const { rows } = await conn.query<{ n: number; pid: number }>(
            `SELECT count(*)::int AS n, pg_backend_pid() AS pid FROM ${table} WHERE client = $1`,
            [i],
          )
          expect(rows[0]!.n).toBe(1) // its own insert, in its own transaction
          pids.add(rows[0]!.pid)
        }),
      ),
    )
    expect(pids.size).toBeGreaterThan(0)
    expect(pids.size).toBeLessThanOrEqual(2) // default_pool_size
    const { rows } = await p.connection((conn) => conn.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))
    expect(rows[0]!.n).toBe(120)
    expect(p.getStats().returnsBad).toBe(0)
  })

  it('keeps a transaction on one server connection while other clients take turns', async () => {
    const p = pool(front.url, TRANSACTION_POOLING, 4)
    const busy = workload(p, 40)
    await p.connection(async (conn) => {
      await conn.query("SET LOCAL application_name = 'pgtide-in-transaction'")
      const first = await conn.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      await new Promise((resolve) => setTimeout(resolve, 100))
      const second = await conn.query<{ pid: number; name: string }>(
        "SELECT pg_backend_pid() AS pid, current_setting('application_name') AS name",
      )
      expect(second.rows[0]).toEqual({ pid: first.rows[0]!.pid, name: 'pgtide-in-transaction' })
    })
    const { errors, mismatched } = await busy
    expect(errors).toEqual([])
    expect(mismatched).toBe(0)
  })

  it('rolls back a failed block; the server error keeps its SQLSTATE and the pool goes on', async () => {
    const p = pool(front.url, TRANSACTION_POOLING, 2)
    const failure = await p
      .connection(async (conn) => {
        await conn.query(`INSERT INTO ${table} VALUES (-1, 'rolled back')`)
        await conn.query('SELECT 1/0')
      })
      .catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(DatabaseError)
    expect((failure as DatabaseError).sqlstate).toBe('22012')
    const { rows } = await p.connection((conn) =>
      conn.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE client = -1`),
    )
    expect(rows[0]!.n).toBe(0)
    await p.check() // the empty-query probe passes through the bouncer too
    expect(p.getStats().connectionsLost).toBe(0)
  })

  it('without max_prepared_statements, the statement cache breaks (why statementCacheSize: 0)', async () => {
    // One server connection shared by two clients: the second prepares a name the first left there.
    const single = await bouncer(preparedStatements ? { max_prepared_statements: 0 } : {}, 1)
    const p = pool(single.url, { autocommit: false }, 2)
    const { errors } = await workload(p, 4)
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.join('\n')).toMatch(/prepared statement "_pgtide_\d+" (already exists|does not exist)/)
  })

  // The engine parses and describes a statement, then binds it. Were that first exchange ended
  // with a Sync, PgBouncer could move an autocommit client to another server connection before
  // the Bind, which would then run another client's unnamed statement with these parameters.
  // The engine ends it with a Flush, so Parse to Sync stays on one server connection.
  it('autocommit with statementCacheSize 0 runs clean through transaction pooling', async () => {
    const p = pool(front.url, { autocommit: true, statementCacheSize: 0 })
    await p.wait(10)
    const { errors, mismatched } = await workload(p, 120)
    expect(errors).toEqual([])
    expect(mismatched).toBe(0)
  })

  it.skipIf(!preparedStatements)(`statement cache on against max_prepared_statements = 200${tooOld}`, async () => {
    const caching = await bouncer({ max_prepared_statements: 200 })
    for (const autocommit of [false, true]) {
      const p = pool(caching.url, { autocommit, statementCacheSize: 100 })
      await p.wait(10)
      const { pids, errors, mismatched } = await workload(p, 120)
      expect(errors).toEqual([])
      expect(mismatched).toBe(0)
      expect(pids.size).toBeLessThanOrEqual(2)
    }
  })
})
