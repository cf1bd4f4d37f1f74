// The ceiling: pgbench, PostgreSQL's C client, running `-S -M prepared` (one prepared
// primary-key SELECT per transaction) with as many clients as W2's pool has connections
// (POOL_SIZE, imported, so the two cannot drift apart), against the same server.
// The report sets each library's W2 throughput beside it. pgbench runs in a database of its
// own (pgtide_bench, scale 1), created and initialised once.

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import { AsyncConnection } from '../../dist/index.mjs'
import { POOL_SIZE } from './w2-concurrent.mjs'

const DATABASE = 'pgtide_bench'
const CLIENTS = POOL_SIZE
const THREADS = 2

/** pgbench from PG_BINDIR, pg_config, the newest /usr/lib/postgresql/N/bin, or PATH. */
export function findPgbench() {
  const dirs = []
  if (process.env.PG_BINDIR) dirs.push(process.env.PG_BINDIR)
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' })
  if (pgConfig.status === 0) dirs.push(pgConfig.stdout.trim())
  const debian = '/usr/lib/postgresql'
  if (fs.existsSync(debian)) {
    const majors = fs.readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => b - a)
    dirs.push(...majors.map((v) => path.join(debian, v, 'bin')))
  }
  dirs.push(...(process.env.PATH || '').split(path.delimiter).filter(Boolean))
  return dirs.map((dir) => path.join(dir, 'pgbench')).find((file) => fs.existsSync(file)) ?? null
}

/** Runs pgbench with `args`; resolves to its output. */
export function runPgbench(file, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (out += chunk))
    child.on('error', reject)
    child.on('close', (status) => {
      if (status === 0) resolve(out)
      else reject(new Error(`pgbench exited with ${status}: ${out.trim().split('\n').slice(-3).join(' | ')}`))
    })
  })
}

function databaseUrl(url, database) {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  parsed.search = ''
  return parsed.href
}

export default {
  id: 'ceiling',
  title: `pgbench -S -M prepared, ${CLIENTS} clients`,
  peers: ['pgbench'],
  metrics: [{ key: 'tps', label: `pgbench -S -M prepared, ${CLIENTS} clients`, unit: 'tps', better: 'higher' }],

  /** For the report: the client count it ran with (W2's pool size). */
  facts: () => ({ clients: CLIENTS, threads: THREADS }),

  /** Finds pgbench and initialises its database once; returns false (skipped) without pgbench. */
  async prepare({ url, admin, log }) {
    this.pgbench = findPgbench()
    if (!this.pgbench) return 'pgbench was not found (PostgreSQL client binaries)'
    const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE])
    if (rows.length === 0) await admin.exec(`CREATE DATABASE ${DATABASE}`)
    this.url = databaseUrl(url, DATABASE)
    const conn = await AsyncConnection.connect(this.url, { autocommit: true })
    try {
      const { rows: tables } = await conn.query(`SELECT to_regclass('pgbench_accounts') IS NOT NULL AS ready`)
      if (!tables[0].ready) {
        log(`initialising ${DATABASE} (pgbench -i -s 1)`)
        await runPgbench(this.pgbench, ['-i', '-s', '1', '-q', this.url])
      }
    } finally {
      await conn.close()
    }
    return null
  },

  async measure(_subject, { timing }) {
    const seconds = String(timing.pgbenchSeconds)
    const args = ['-S', '-M', 'prepared', '-n', '-c', String(CLIENTS), '-j', String(THREADS), '-T', seconds, this.url]
    const out = await runPgbench(this.pgbench, args)
    const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(out)
    if (!match) throw new Error(`no tps in pgbench's output: ${out.trim().split('\n').slice(-3).join(' | ')}`)
    return { tps: Number(match[1]) }
  },
}
