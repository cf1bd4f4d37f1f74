// Every TypeScript example in README.md is compiled and run against the test server, so the
// README cannot drift from the API.

import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'

import { afterAll, describe, expect, it } from 'vitest'

import { databaseUrl } from './helpers'

// Inside the package, so `import 'pgtide'` resolves to this checkout (package self-reference).
const folder = path.resolve('__test__/.readme')
const examples = [...readFileSync('README.md', 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)

afterAll(() => rmSync(folder, { recursive: true, force: true }))

describe('README examples', () => {
  it('are there to test', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4)
  })

  it('compile under strict TypeScript', () => {
    rmSync(folder, { recursive: true, force: true })
    mkdirSync(folder, { recursive: true })
    examples.forEach((code, i) => writeFileSync(path.join(folder, `example-${i + 1}.mts`), `${code}\nexport {}\n`))
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022', 'ESNext.Disposable'],
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        skipLibCheck: true,
        types: ['node'],
        rootDir: '.',
        outDir: 'out',
      },
      include: ['*.mts'],
    }
    writeFileSync(path.join(folder, 'tsconfig.json'), JSON.stringify(tsconfig))
    const tsc = spawnSync(process.execPath, [path.resolve('node_modules/typescript/bin/tsc'), '-p', folder], {
      encoding: 'utf8',
    })
    expect(tsc.stdout + tsc.stderr).toBe('')
    expect(tsc.status).toBe(0)
  })

  it.each(examples.map((_, i) => i + 1))('example %i runs', (n) => {
    const run = spawnSync(process.execPath, [path.join(folder, 'out', `example-${n}.mjs`)], {
      env: { ...process.env, DATABASE_URL: databaseUrl() },
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
  })
})
