// The benchmark harness end to end, in its smallest form: one quick round of W1 for pgtide
// against the test server, nothing installed, built or published.

import { spawnSync } from 'node:child_process'
import path from 'node:path'

import { describe, expect, it } from 'vitest'

import { databaseUrl } from './helpers'

describe('npm run bench', () => {
  it('runs a --quick round of W1 and prints the table', () => {
    const script = path.join(__dirname, '..', 'bench', 'run.mjs')
    const args = [script, '--quick', '--only', 'W1', '--peers', 'pgtide,pgtide-sync', '--no-build', '--no-publish']
    const result = spawnSync(process.execPath, args, {
      env: { ...process.env, DATABASE_URL: databaseUrl() },
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(result.stderr).toContain('W1 round 1/1 pgtide')
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/\| W1 checkout \+ SELECT 1 \(ops\/s\) \| \**[\d,]+\** \| \**[\d,]+\** \|/)
  }, 30_000)
})
