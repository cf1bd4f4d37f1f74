// W3's floor: pgbench, PostgreSQL's C client, running W3's 5-column select (prepared, one
// client, one after the other, as W3 does), its rows read by libpq and thrown away: about what
// the server itself needs per select. The report sets each library's W3 5-column rows/s beside
// it: a library near 100% waits on the server, not on its own decoding.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { findPgbench, runPgbench } from './pgbench.mjs'
import { ROWS, WIDE_SQL } from './w3-rows.mjs'

const CACHE = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'node_modules', '.cache', 'pgtide-bench')
const SCRIPT = path.join(CACHE, 'w3-wide.sql')

export default {
  id: 'W3floor',
  title: "pgbench running W3's 5-column select, one client",
  peers: ['pgbench'],
  metrics: [{ key: 'wide', label: "pgbench, W3's 5-column select", unit: 'rows/s', better: 'higher' }],

  async prepare() {
    this.pgbench = findPgbench()
    if (!this.pgbench) return 'pgbench was not found (PostgreSQL client binaries)'
    fs.mkdirSync(CACHE, { recursive: true })
    // One line, one statement: pgbench's script syntax.
    fs.writeFileSync(SCRIPT, `${WIDE_SQL.replace(/\s+/g, ' ').trim()};\n`)
    return null
  },

  async measure(_subject, { url, timing }) {
    const seconds = String(Math.max(1, Math.round((timing.warmup + timing.duration) / 1000)))
    const out = await runPgbench(this.pgbench, ['-n', '-M', 'prepared', '-c', '1', '-T', seconds, '-f', SCRIPT, url])
    const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(out)
    if (!match) throw new Error(`no tps in pgbench's output: ${out.trim().split('\n').slice(-3).join(' | ')}`)
    return { wide: Number(match[1]) * ROWS }
  },
}
