// The package as users install it: scripts/pack-install.mjs packs the root package and this
// platform's binary package (napi-rs v3 layout), installs both tarballs into an empty folder
// with no Rust on PATH, and queries from require() and import there.

import { spawn } from 'node:child_process'
import path from 'node:path'

import { describe, expect, it } from 'vitest'

import { databaseUrl } from './helpers'

interface Report {
  target: string
  platformPackage: string
  version: string
  packedOptionalDependencies: Record<string, string>
  rootTarballAddons: string[]
  platformTarballFiles: string[]
  installed: string[]
  toolchainOnPath: string[]
  cjs: { rows: unknown[]; viaPg: number; metrics: boolean; addons: string[] }
  esm: { rows: unknown[]; sameClasses: boolean; errorClass: string; subpaths: boolean }
  seconds: number
}

function packAndInstall(): Promise<Report> {
  const script = path.resolve('scripts/pack-install.mjs') // vitest runs from the repository root
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env: { ...process.env, DATABASE_URL: databaseUrl() } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (status) => {
      if (status !== 0) return reject(new Error(`pack-install.mjs exited ${status}:\n${stderr}`))
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Report)
    })
  })
}

describe('the packed tarballs, installed where there is no Rust', () => {
  it('install and run a query from require() and import', { timeout: 180_000 }, async () => {
    const report = await packAndInstall()

    // napi-rs v3 layout: the root package names its platform package at its exact version.
    expect(report.platformPackage).toMatch(/^pgtide-/)
    expect(report.packedOptionalDependencies[report.platformPackage]).toBe(report.version)
    expect(report.rootTarballAddons).toEqual([])
    expect(report.platformTarballFiles).toContain(`pgtide.${report.platformPackage.slice('pgtide-'.length)}.node`)
    expect(report.installed.sort()).toEqual(['pgtide', report.platformPackage])
    expect(report.toolchainOnPath).toEqual([])

    // The loader found the addon in the platform package, not beside itself.
    expect(report.cjs.addons).toHaveLength(1)
    expect(report.cjs.addons[0]).toContain(path.join('node_modules', report.platformPackage) + path.sep)
    expect(report.cjs.rows).toEqual([{ via: 'require' }])
    expect(report.cjs.viaPg).toBe(2)
    expect(report.cjs.metrics).toBe(true)

    expect(report.esm.rows).toEqual([{ via: 'import' }])
    expect(report.esm.sameClasses).toBe(true)
    expect(report.esm.errorClass).toBe('22012')
    expect(report.esm.subpaths).toBe(true)
  })
})
