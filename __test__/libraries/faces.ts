// The two faces every library suite runs on: node-postgres itself (the control: a test that fails
// there is a wrong test) and pgtide's node-postgres face (the subject).

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

/** Every test is bounded: a hang fails. */
export const TEST_TIMEOUT = 15_000

/** `it` for a library test, bounded by `TEST_TIMEOUT`. */
export function test(name: string, fn: () => Promise<void>, timeout = TEST_TIMEOUT): void {
  it(name, fn, timeout)
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
