// The two faces every library suite runs on: node-postgres itself (the control: a test that fails
// there is a wrong test) and pgtide's node-postgres face (the subject). Plus the list of tests
// that do not pass on pgtide/pg yet, each with the error it gives today: they are skipped on that
// face only, with the reason printed in the test name. Flip one on by deleting its entry, or run
// them all with PGTIDE_RUN_PENDING=1.

import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import path from 'node:path'

import { it } from 'vitest'

import { databaseUrl } from '../helpers'

// vitest runs from the repository root (as every suite here assumes).
const require = createRequire(path.resolve('__test__/libraries/faces.ts'))

/** What a library gets when it does `require('pg')`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PgModule = any

export interface Face {
  name: 'pg' | 'pgtide/pg'
  module: PgModule
  /** pg-cursor's class for this face (pgtide/pg: its own `Cursor`, when it has one). */
  Cursor: PgModule
  /** pg-query-stream's class for this face (pgtide/pg: its own `QueryStream`, when it has one). */
  QueryStream: PgModule
}

const pgtidePg = require('../../dist/pg.js')

export const faces: Face[] = [
  { name: 'pg', module: require('pg'), Cursor: require('pg-cursor'), QueryStream: require('pg-query-stream') },
  { name: 'pgtide/pg', module: pgtidePg, Cursor: pgtidePg.Cursor, QueryStream: pgtidePg.QueryStream },
]

/**
 * Tests that fail on pgtide/pg today, by `library` or `library: test`, with the error they give.
 * Delete an entry once the face makes it pass.
 */
export const PENDING_ON_PGTIDE: Record<string, string> = {
  // Several statements in one parameterless query (pg sends these with the simple protocol).
  'connect-pg-simple': 'ProgrammingError: cannot insert multiple commands into a prepared statement',
  'graphile-worker': 'ProgrammingError: cannot insert multiple commands into a prepared statement',
  'node-pg-migrate': 'ProgrammingError: cannot insert multiple commands into a prepared statement',
  'pg-boss': 'ProgrammingError: cannot insert multiple commands into a prepared statement',
  // drizzle selects in rowMode 'array' with per-query types; two columns named "id" in a join.
  'drizzle: migrate(), then inserts and a join through the query builder':
    "TypeError: rowMode 'array' with repeated column names needs the text results path",
  // Knex streams by submitting its own pg-query-stream object to client.query().
  "knex: .stream() yields the rows one by one (Knex opening connections with the face's Client)":
    "Test timed out in 15000ms: pgtide/pg's Client.query(new QueryStream(...)) throws 'TypeError: con.parse is not a function' (submit() gets no pg Connection)",
  'kysely: .stream() through the dialect cursor yields the rows in chunks':
    "pgtide/pg has no Cursor class for PostgresDialect's cursor option (no pg-cursor-like export)",
  // @prisma/adapter-pg reads pg.types (builtins, getTypeParser) when it loads.
  prisma: "TypeError: Cannot destructure property 'builtins' of 'types' as it is undefined (pgtide/pg exports no `types`)",
}

const runPending = process.env.PGTIDE_RUN_PENDING === '1'

/** Why `key` is skipped on `face`, or undefined when it runs. */
export function pendingReason(face: Face, key: string): string | undefined {
  if (face.name !== 'pgtide/pg' || runPending) return undefined
  return PENDING_ON_PGTIDE[key] ?? PENDING_ON_PGTIDE[key.split(':')[0]!]
}

/** Every test is bounded: a hang fails. */
export const TEST_TIMEOUT = 15_000

/**
 * `it` for one library test on one face: `key` is `library: test`. A pending test is skipped
 * with `[pending on pgtide/pg: <error>]` in its name.
 */
export function testOn(face: Face, library: string) {
  return (name: string, fn: () => Promise<void>, timeout = TEST_TIMEOUT) => {
    const reason = pendingReason(face, `${library}: ${name}`)
    const title = reason ? `${name} [pending on pgtide/pg: ${reason}]` : name
    it.skipIf(reason !== undefined)(title, fn, timeout)
  }
}

/** A fresh lowercase identifier: `prefix_` and 8 random hex digits. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`
}

/** The pools a suite made, ended in its afterAll (bounded: a pool that will not end fails the hook). */
export class Pools {
  readonly #pools: Array<{ end(): Promise<void>; ending?: boolean; ended?: boolean }> = []

  constructor(readonly face: Face) {}

  /** A pool of this face on the test server. */
  make(config: Record<string, unknown> = {}): PgModule {
    const extra = this.face.name === 'pgtide/pg' ? { pgtide: { logger: {} } } : {}
    const pool = new this.face.module.Pool({
      connectionString: databaseUrl(),
      max: 4,
      connectionTimeoutMillis: 5_000,
      ...extra,
      ...config,
    })
    pool.on('error', () => {}) // an idle client's error must not crash the run
    this.#pools.push(pool)
    return pool
  }

  async endAll(): Promise<void> {
    const ending = this.#pools.splice(0).filter((p) => !p.ending && !p.ended)
    await Promise.all(ending.map((p) => p.end()))
  }
}
