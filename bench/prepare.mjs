// Gets a checkout ready to measure: the npm dependencies (the project's and the peers' in
// bench/), a release build of the addon that matches the sources, and the TypeScript build.
// Like scripts/bootstrap.mjs, each step runs only when its output is missing or stale.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { addonPath } from './workloads/memory.mjs'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.dirname(BENCH)

function mustRun(file, args, cwd, log) {
  log(`${file} ${args.join(' ')}${cwd === ROOT ? '' : ` (in ${path.relative(ROOT, cwd)})`}`)
  const result = spawnSync(file, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${result.status})`)
}

const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0)

/** The newest modification time of the files under `paths` (folders are walked). */
function newest(paths) {
  let latest = 0
  for (const entry of paths) {
    if (!fs.existsSync(entry)) continue
    if (!fs.statSync(entry).isDirectory()) {
      latest = Math.max(latest, mtime(entry))
      continue
    }
    for (const name of fs.readdirSync(entry, { recursive: true })) {
      const file = path.join(entry, name)
      if (fs.statSync(file).isFile()) latest = Math.max(latest, mtime(file))
    }
  }
  return latest
}

/** npm ci in `dir` unless its node_modules matches its lock file. */
function installIn(dir, log) {
  const marker = path.join(dir, 'node_modules', '.package-lock.json')
  if (mtime(marker) >= mtime(path.join(dir, 'package-lock.json'))) return
  mustRun('npm', ['ci', '--no-audit', '--no-fund'], dir, log)
}

const NATIVE_SOURCES = ['src', 'crates/core/src', 'crates/core/Cargo.toml', 'Cargo.toml', 'Cargo.lock', 'build.rs']

/** The cdylib cargo built in release mode (napi build copies it to the root as the .node). */
function releaseLibrary() {
  const names = ['libpgtide.so', 'libpgtide.dylib', 'pgtide.dll']
  const target = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target')
  const dirs = [path.join(target, 'release')]
  if (fs.existsSync(target)) dirs.push(...fs.readdirSync(target).map((triple) => path.join(target, triple, 'release')))
  const found = dirs.flatMap((dir) => names.map((name) => path.join(dir, name))).filter((file) => fs.existsSync(file))
  return found.sort((a, b) => mtime(b) - mtime(a))[0] ?? null
}

function sameBytes(a, b) {
  return fs.statSync(a).size === fs.statSync(b).size && fs.readFileSync(a).equals(fs.readFileSync(b))
}

/** True when the loaded addon is the release build of the current sources. */
function releaseIsCurrent() {
  const addon = addonPath()
  const library = releaseLibrary()
  if (!addon || !library) return false
  return mtime(library) >= newest(NATIVE_SOURCES.map((p) => path.join(ROOT, p))) && sameBytes(addon, library)
}

/** With `build` off, the checkout is used as it is: nothing installed, nothing built. */
export function prepare({ build = true, log }) {
  if (!build) return
  installIn(ROOT, log)
  installIn(BENCH, log)
  let nativeBuilt = false
  if (!releaseIsCurrent()) {
    mustRun('npx', ['napi', 'build', '--platform', '--release'], ROOT, log)
    nativeBuilt = true
  }
  const dist = path.join(ROOT, 'dist', 'index.mjs')
  const tsInputs = ['lib', 'index.d.ts', 'tsconfig.build.json'].map((p) => path.join(ROOT, p))
  if (nativeBuilt || mtime(dist) < newest(tsInputs)) mustRun('npm', ['run', '--silent', 'build:ts'], ROOT, log)
}
