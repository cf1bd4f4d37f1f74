// Types as consumers see them: `tsc --noEmit`, strict and with skipLibCheck false (pgtide's own
// declarations, index.d.ts included, are checked as a consumer's build checks them), over typical
// usage (types/usage.mts as an ES module, types/require.cts as CommonJS, types/drizzle.mts for a
// library typed against @types/pg), with pgtide installed as a package: node_modules/pgtide in
// __test__/types is a link to this repository, so every import goes through package.json
// (`exports` under nodenext and bundler, `types` and `typesVersions` under node10, which reads no
// `exports`). `@ts-expect-error` lines check that misuse stays an error.

import { spawn } from 'node:child_process'
import { lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import path from 'node:path'

import { beforeAll, describe, expect, it } from 'vitest'

// vitest runs from the repository root.
const root = process.cwd()
const tsc = path.resolve('node_modules/typescript/bin/tsc')
const installed = path.join(root, '__test__', 'types', 'node_modules', 'pgtide')

/** pgtide "installed" for the type tests: a link to the repository (made once, kept). */
function linkPackage(): void {
  let linked = false
  try {
    linked = lstatSync(installed).isSymbolicLink() && realpathSync(installed) === realpathSync(root)
  } catch {
    // not there yet
  }
  if (linked) return
  mkdirSync(path.dirname(installed), { recursive: true })
  rmSync(installed, { force: true })
  symlinkSync(path.relative(path.dirname(installed), root), installed, 'dir')
}

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

/**
 * Drizzle's own declarations fail skipLibCheck: false whatever the driver (they want mysql2's
 * types and the DOM's TextDecoder); those errors are Drizzle's, every other one counts.
 */
const isDrizzles = (line: string) => line.startsWith('node_modules/drizzle-orm/')
const errorsIn = (output: string) => output.split('\n').filter((line) => line.includes('error TS') && !isDrizzles(line))

describe.concurrent('types through the package, strict, skipLibCheck false', () => {
  beforeAll(linkPackage)

  it('nodenext: import gets the .d.mts types, require the .d.ts ones, and both check', { timeout: 90_000 }, async () => {
    const { status, output } = await typecheck('nodenext')
    expect(errorsIn(output)).toEqual([])
    expect(status === 0 || output.split('\n').some(isDrizzles)).toBe(true)
    for (const entry of ['index', 'pg', 'metrics']) {
      const specifier = entry === 'index' ? 'pgtide' : `pgtide/${entry}`
      expect(output).toContain(
        `Imported via '${specifier}' from file '__test__/types/usage.mts' with packageId 'pgtide/dist/${entry}.d.mts@`,
      )
      expect(output).toContain(
        `Imported via '${specifier}' from file '__test__/types/require.cts' with packageId 'pgtide/dist/${entry}.d.ts@`,
      )
    }
    // The binding's generated declarations are part of what consumers check.
    expect(output).toMatch(/^index\.d\.ts$/m)
  })

  it('commonjs (node10 resolution): the subpaths find their types too', { timeout: 90_000 }, async () => {
    const { status, output } = await typecheck('commonjs')
    expect(errorsIn(output)).toEqual([])
    expect(status).toBe(0)
    expect(output).toContain("Imported via 'pgtide' from file '__test__/types/usage.mts' with packageId 'pgtide/dist/index.d.ts@")
    for (const entry of ['pg', 'metrics']) {
      expect(output).toMatch(new RegExp(`^dist/${entry}\\.d\\.ts\\n  Imported via 'pgtide/${entry}' from file '__test__/types/usage\\.mts'`, 'm'))
    }
  })

  it('bundler: the same usage checks', { timeout: 90_000 }, async () => {
    const { status, output } = await typecheck('bundler')
    expect(errorsIn(output)).toEqual([])
    expect(status).toBe(0)
    expect(output).toContain(
      "Imported via 'pgtide' from file '__test__/types/usage.mts' with packageId 'pgtide/dist/index.d.mts@",
    )
  })

  it("no declaration of pgtide's changes a global or another module", () => {
    const declarations = ['index.d.ts']
    const walk = (dir: string): void => {
      for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const file = path.join(dir, entry.name)
        if (entry.isDirectory()) walk(file)
        else if (/\.d\.m?ts$/.test(entry.name)) declarations.push(file)
      }
    }
    walk('dist')
    const augmenting = declarations.filter((file) =>
      /^\s*declare\s+(global\b|module\s+['"])/m.test(readFileSync(path.join(root, file), 'utf8')),
    )
    expect(augmenting).toEqual([])
  })
})
