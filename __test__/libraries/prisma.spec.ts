// @prisma/adapter-pg, through its driver-adapter interface (what Prisma's generated client calls:
// its query engine needs downloads this machine cannot make): executeScript, executeRaw with
// typed arguments, queryRaw (array rows, repeated column names, Prisma's text parsers), a
// committed and a rolled-back transaction, a unique violation mapped to Prisma's error kind.
//
// The adapter tells a pool from a config with `instanceof pg.Pool` against its own `pg` import:
// handed pgtide's Pool it would quietly open a node-postgres pool of its own. So on pgtide/pg the
// scenario runs the way an application would deploy it: __test__/fixtures/pg-alias is a small
// project whose `pg` is a package re-exporting pgtide/pg, forced onto every dependency with an
// npm `overrides` entry; the test installs it in a temporary folder and runs the scenario there.

import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'

import { afterAll, describe, expect } from 'vitest'

import { databaseUrl } from '../helpers'
import { faces, test, uniqueName, type Face } from './faces'

const fixture = path.resolve('__test__/fixtures/pg-alias') // vitest runs from the repository root
const require = createRequire(path.join(fixture, 'package.json'))
const { prismaScenario } = require(path.join(fixture, 'scenario.cjs'))

/** The fixture project, installed in a temporary folder, with this working copy as its `pgtide`. */
function installAliasFixture(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgtide-pg-alias-'))
  cpSync(fixture, dir, { recursive: true })
  const args = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error']
  const npm = spawnSync('npm', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 })
  if (npm.status !== 0) throw new Error(`npm install in the pg-alias fixture failed: ${npm.error ?? npm.stderr}`)
  symlinkSync(path.resolve('.'), path.join(dir, 'node_modules', 'pgtide'), 'dir')
  return dir
}

async function runScenario(face: Face, table: string, dirs: string[]): Promise<Record<string, unknown>> {
  if (face.name === 'pg') {
    const { PrismaPg } = require('@prisma/adapter-pg')
    return { ...(await prismaScenario({ pg: face.module, PrismaPg, url: databaseUrl(), table })), pgIsPgtide: false }
  }
  const dir = installAliasFixture()
  dirs.push(dir)
  const run = spawnSync(process.execPath, ['scenario.cjs', databaseUrl(), table], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 20_000,
  })
  if (run.status !== 0) throw new Error(`the scenario failed under the pg alias:\n${run.error ?? run.stderr}`)
  return JSON.parse(run.stdout.trim().split('\n').pop()!)
}

describe.each(faces)('@prisma/adapter-pg on $name', (face) => {
  const dirs: string[] = []
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

  const how = face.name === 'pg' ? 'its own pg pool' : "pgtide/pg mapped to `pg` by npm overrides (fixtures/pg-alias)"
  test(
    `queryRaw, executeRaw and transactions, with ${how}`,
    async () => {
      const out = await runScenario(face, uniqueName('prisma'), dirs)
      expect(out.pgIsPgtide).toBe(face.name === 'pgtide/pg')
      expect(out.adapterUsesThePool).toBe(true)
      expect(out.inserted).toBe(2)
      expect(out.selected).toEqual({
        columnNames: ['id', 'name', 'born', 'amount', 'data', 'tags', 'id'],
        // Prisma's ColumnType codes: Int32, Text, DateTime, Numeric, Json, TextArray, Int32.
        columnTypes: [0, 7, 10, 4, 11, 71, 0],
        rows: [
          [1, 'one', '2024-01-02T03:04:05.678+00:00', '12.50', '{"a": 1}', ['x', 'y'], 1],
          [2, 'two', null, null, null, null, 2],
        ],
      })
      expect(out.insideRollback).toEqual([[0]])
      expect(out.afterTransactions).toEqual([
        [1, 'uno'],
        [2, 'two'],
      ])
      expect(out.duplicate).toEqual({ name: 'DriverAdapterError', kind: 'UniqueConstraintViolation', code: '23505' })
    },
    60_000,
  )
})
