// `npm run demo` runs examples/demo.mjs: it must keep working as the API changes.

import { spawnSync } from 'node:child_process'

import { expect, it } from 'vitest'

import { databaseUrl } from './helpers'

it('the demo runs and prints its results', () => {
  const run = spawnSync(process.execPath, ['examples/demo.mjs'], {
    env: { ...process.env, DATABASE_URL: databaseUrl() },
    encoding: 'utf8',
    timeout: 60_000,
  })
  expect(run.stderr).toBe('')
  expect(run.status).toBe(0)
  expect(run.stdout).toContain('SELECT returned 3 rows')
  expect(run.stdout).toContain("'Saint-Malo'")
  expect(run.stdout).toMatch(/10 clients served in \d+ ms by [1-4] connections/)
  expect(run.stdout).toContain('PoolTimeout')
  expect(run.stdout).toContain("'pgtide-demo'")
})
