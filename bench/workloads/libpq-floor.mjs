// W4's floor: libpq, PostgreSQL's C client, opening W4's 10 connections at once (a small C
// program, bench/libpq-floor.c, non-blocking PQconnectStart/PQconnectPoll), the time until all
// are ready: what the server itself needs for a cold start. The report sets each library's W4
// beside it. The program is built with gcc against libpq on first use, into
// bench/node_modules/.cache/; without gcc or libpq's headers the row is skipped with the reason.
//
// C rather than pg-native (libpq from Node): pg-native adds a Node.js addon, its event loop
// and its own per-connection work, which is what the floor is meant to leave out.

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { median } from '../stats.mjs'
import { POOL_SIZE } from './w4-cold-start.mjs'

const BENCH = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const SOURCE = path.join(BENCH, 'libpq-floor.c')
const CACHE = path.join(BENCH, 'node_modules', '.cache', 'pgtide-bench')
const BINARY = path.join(CACHE, 'libpq-floor')

const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0)

/** Builds the program unless a build newer than its source is cached; returns why not, or null. */
function build(log) {
  if (mtime(BINARY) > mtime(SOURCE)) return null
  const pgConfig = spawnSync('pg_config', ['--includedir'], { encoding: 'utf8' })
  const include = pgConfig.status === 0 ? pgConfig.stdout.trim() : '/usr/include/postgresql'
  const libdir = spawnSync('pg_config', ['--libdir'], { encoding: 'utf8' })
  const libs = libdir.status === 0 ? [`-L${libdir.stdout.trim()}`] : []
  fs.mkdirSync(CACHE, { recursive: true })
  log(`building ${path.relative(BENCH, SOURCE)} (gcc, libpq)`)
  const args = ['-O2', '-o', BINARY, SOURCE, `-I${include}`, ...libs, '-lpq']
  const result = spawnSync('gcc', args, { encoding: 'utf8' })
  if (result.error) return `gcc could not run (${result.error.code ?? result.error.message})`
  if (result.status !== 0) {
    const first = (result.stderr || '').trim().split('\n')[0]
    return `libpq-floor.c did not build (needs gcc and libpq-dev): ${first}`
  }
  return null
}

function run(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (err += chunk))
    child.on('error', reject)
    child.on('close', (status) => {
      if (status === 0) resolve(out)
      else reject(new Error(`libpq-floor exited with ${status}: ${err.trim().split('\n').slice(-2).join(' | ')}`))
    })
  })
}

/** The URL as libpq takes it, without GSSAPI encryption (no library here asks for it). */
function conninfo(url) {
  const parsed = new URL(url)
  parsed.searchParams.set('gssencmode', 'disable')
  return parsed.href
}

export default {
  id: 'floor',
  title: `libpq opening ${POOL_SIZE} connections at once (W4's floor)`,
  peers: ['libpq'],
  metrics: [{ key: 'ms', label: `libpq, ${POOL_SIZE} connections at once`, unit: 'ms', better: 'lower' }],

  /** For the report: how many connections it opened. */
  facts: () => ({ connections: POOL_SIZE }),

  async prepare({ log }) {
    return build(log)
  },

  async measure(_subject, { url, timing }) {
    const out = await run([conninfo(url), String(POOL_SIZE), String(timing.reps), '100'])
    const times = out.trim().split('\n').map(Number).filter(Number.isFinite)
    if (times.length === 0) throw new Error(`no times in libpq-floor's output: ${out.trim()}`)
    return { ms: median(times) }
  },
}
