// Types as consumers see them: `tsc --noEmit` over typical usage (types/usage.mts as an ES
// module, types/require.cts as CommonJS), resolved through package.json's `exports` under
// moduleResolution node16 and bundler. `@ts-expect-error` lines check that misuse stays an error.

import { spawn } from 'node:child_process'
import path from 'node:path'

import { describe, expect, it } from 'vitest'

// vitest runs from the repository root.
const root = process.cwd()
const tsc = path.resolve('node_modules/typescript/bin/tsc')

/** Runs tsc on one of the type-test projects; resolves with its exit status and output. */
function typecheck(project: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', `__test__/types/tsconfig.${project}.json`, '--explainFiles'], {
      cwd: root,
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, output }))
  })
}

const errorsIn = (output: string) => output.split('\n').filter((line) => line.includes('error TS'))

describe('types through the exports map', () => {
  it('node16: import gets the .d.mts types, require the .d.ts ones, and both check', { timeout: 60_000 }, async () => {
    const { status, output } = await typecheck('node16')
    expect(errorsIn(output)).toEqual([])
    expect(status).toBe(0)
    for (const entry of ['index', 'pg', 'metrics']) {
      const specifier = entry === 'index' ? 'pgtide' : `pgtide/${entry}`
      expect(output).toContain(
        `Imported via '${specifier}' from file '__test__/types/usage.mts' with packageId 'pgtide/dist/${entry}.d.mts@`,
      )
      expect(output).toContain(
        `Imported via '${specifier}' from file '__test__/types/require.cts' with packageId 'pgtide/dist/${entry}.d.ts@`,
      )
    }
  })

  it('bundler: the same usage checks', { timeout: 60_000 }, async () => {
    const { status, output } = await typecheck('bundler')
    expect(errorsIn(output)).toEqual([])
    expect(status).toBe(0)
    expect(output).toContain(
      "Imported via 'pgtide' from file '__test__/types/usage.mts' with packageId 'pgtide/dist/index.d.mts@",
    )
  })
})
