// Bulk data in one run, pgtide beside its peers: COPY ingestion of ROWS rows × 3 columns
// (pgtide's copyFrom, pg-copy-streams, postgres.js's .writable(), all given the same COPY text;
// and pgtide's copyRows() encoding row arrays in COPY's binary format, which the server reads
// without parsing numbers: each library's own best way in) and streaming ROWS rows
// (pgtide's stream, pg-query-stream, postgres.js's .cursor()), each in a fresh process so its
// peak RSS is its own. The libraries' order rotates from round to round; the table gives the
// median time and the highest peak RSS.
//
//   node bench/bulk.mjs [--rounds N] [--rows N]       (DATABASE_URL, or the local server)

import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const PEERS = {
  copy: [
    ['pgtide', 'pgtide copyFrom (the same text)'],
    ['pgtide-binary', 'pgtide copyFrom(copyRows(rows, binary))'],
    ['pg', 'pg + pg-copy-streams'],
    ['postgres', 'postgres.js .writable()'],
  ],
  stream: [
    ['pgtide', 'pgtide stream'],
    ['pg', 'pg + pg-query-stream'],
    ['postgres', 'postgres.js .cursor()'],
  ],
}

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, rows: { type: 'string', default: '1000000' } } })
const rounds = Number(values.rounds)
const rows = Number(values.rows)
const url = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test?sslmode=disable'

function child(workload, peer) {
  return new Promise((resolve, reject) => {
    const args = [path.join(BENCH, 'bulk-child.mjs'), workload, peer, url, String(rows)]
    execFile(process.execPath, args, { timeout: 300_000, cwd: BENCH }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${workload} ${peer} failed: ${(stderr || error.message).trim()}`))
      else resolve(JSON.parse(stdout.trim().split('\n').pop()))
    })
  })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const lines = [`| workload | library | median s | rows/s | peak RSS MB |`, `| --- | --- | ---: | ---: | ---: |`]
const results = {}
for (const [workload, peers] of Object.entries(PEERS)) {
  const runs = Object.fromEntries(peers.map(([id]) => [id, []]))
  for (let round = 0; round < rounds; round++) {
    // Rotate the order so that drift hits every library alike.
    const order = peers.map((_, i) => peers[(i + round) % peers.length])
    for (const [id] of order) {
      const run = await child(workload, id)
      console.error(`[bulk] ${workload} ${id} round ${round + 1}: ${run.seconds.toFixed(3)} s, peak RSS ${run.peakRssMb.toFixed(1)} MB`)
      runs[id].push(run)
    }
  }
  for (const [id, label] of peers) {
    const seconds = median(runs[id].map((r) => r.seconds))
    const peak = Math.max(...runs[id].map((r) => r.peakRssMb))
    results[`${workload}/${id}`] = { seconds, peakRssMb: peak, runs: runs[id] }
    lines.push(`| ${workload} ${rows.toLocaleString('en')} rows | ${label} | ${seconds.toFixed(3)} | ${Math.round(rows / seconds).toLocaleString('en')} | ${peak.toFixed(1)} |`)
  }
}
console.log(lines.join('\n'))
console.error(JSON.stringify({ rows, rounds, node: process.version, results }))
