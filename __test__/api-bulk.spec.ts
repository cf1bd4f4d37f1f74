// The ```js examples of docs/api.md's bulk-data sections (COPY, Pipeline mode, Listening through
// a pool) run, in order, as one module against the test server: each asserts what the text says.

import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

import { afterAll, describe, expect, it } from 'vitest'

import { databaseUrl } from './helpers'

const api = readFileSync('docs/api.md', 'utf8')
const section = api.slice(api.indexOf('\n### COPY\n'), api.indexOf('\n### Transactions\n'))
const examples = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!)
const folder = path.resolve('__test__/.api-bulk')

afterAll(() => rmSync(folder, { recursive: true, force: true }))

function program(): string {
  const entry = pathToFileURL(path.resolve('dist/index.mjs')).href
  return [
    "import assert from 'node:assert/strict'",
    "import { Readable, Writable } from 'node:stream'",
    "import { pipeline } from 'node:stream/promises'",
    `import { AsyncConnection, AsyncConnectionPool, copyRows } from '${entry}'`,
    'const conn = await AsyncConnection.connect(process.env.DATABASE_URL, { autocommit: true })',
    'const pool = new AsyncConnectionPool(process.env.DATABASE_URL, { minSize: 1, maxSize: 2 })',
    'await pool.wait()',
    'try {',
    // Each example in a block of its own: their names do not clash, their tables stay.
    ...examples.map((code) => `{\n${code}}`),
    '} finally {',
    '  await conn.close()',
    '  await pool.close()',
    '}',
  ].join('\n')
}

describe('docs/api.md bulk-data examples', () => {
  it('are there, for COPY, pipelines and pool.listen', () => {
    expect(examples.length).toBeGreaterThanOrEqual(6)
    expect(examples.some((e) => e.includes('copyFrom'))).toBe(true)
    expect(examples.some((e) => e.includes('copyTo'))).toBe(true)
    expect(examples.some((e) => e.includes('pipeline('))).toBe(true)
    expect(examples.some((e) => e.includes('pool.listen'))).toBe(true)
  })

  it('run, and their assertions hold', () => {
    mkdirSync(folder, { recursive: true })
    const file = path.join(folder, 'examples.mjs')
    writeFileSync(file, program())
    const run = spawnSync(process.execPath, [file], {
      env: { ...process.env, DATABASE_URL: databaseUrl() },
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
  }, 70_000)
})
