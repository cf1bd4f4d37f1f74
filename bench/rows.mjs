// Rows per second of one 10,000-row, 5-column select (int4, text, timestamptz, numeric, jsonb),
// pgtide's AsyncConnection against pg (node-postgres), same server, same process, alternating
// rounds. Both hand back the same values (number, string, Date, string, object), checked first.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node bench/rows.mjs [rounds] [queries] [connections]
//
// Each round runs `queries` selects one after another on each of `connections` connections
// (default 1: the latency of one select, mostly the server's; more: how many rows one Node.js
// thread can take in, where decoding cost shows). Besides rows/s it reports the client's CPU
// time per select (this process: the JS thread and pgtide's native threads, not the server),
// the cost a client library controls.
//
// Build pgtide in release mode first (`npm run build:release`): a debug build measures Rust's
// debug code, not pgtide.

import v8 from 'node:v8'
import vm from 'node:vm'

import pg from 'pg'

import { AsyncConnection } from '../dist/index.mjs'

const SQL = `SELECT g AS id, md5(g::text) AS hash, now() + g * interval '1 second' AS at, g::numeric / 7 AS ratio,
                    jsonb_build_object('g', g) AS doc
             FROM generate_series(1, 10000) g`
const ROWS = 10_000
const ROUNDS = Number(process.argv[2] ?? 10)
const QUERIES = Number(process.argv[3] ?? 10)
const CONNECTIONS = Number(process.argv[4] ?? 1)

// A full collection before each timed run, so neither pays for the other's garbage.
v8.setFlagsFromString('--expose-gc')
const collectGarbage = vm.runInNewContext('gc')

const url = process.env.DATABASE_URL
if (!url) {
  console.error('Set DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test')
  process.exit(2)
}

const tides = await Promise.all(
  Array.from({ length: CONNECTIONS }, () => AsyncConnection.connect(url, { autocommit: true })),
)
const clients = Array.from({ length: CONNECTIONS }, () => new pg.Client({ connectionString: url }))
await Promise.all(clients.map((client) => client.connect()))

/** Per contender: run the select on connection `i`, return its rows. */
const contenders = {
  pgtide: async (i) => (await tides[i].query(SQL)).rows,
  pg: async (i) => (await clients[i].query(SQL)).rows,
}

await sameValues()

const rates = { pgtide: [], pg: [] }
const cpuMs = { pgtide: [], pg: [] }
for (let round = 0; round < ROUNDS + 1; round++) {
  // Alternate who goes first, so neither always runs on a warmer (or more tired) machine.
  const order = round % 2 === 0 ? ['pgtide', 'pg'] : ['pg', 'pgtide']
  for (const name of order) {
    collectGarbage()
    const started = process.hrtime.bigint()
    const cpuBefore = process.cpuUsage()
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, i) => {
        for (let q = 0; q < QUERIES; q++) {
          const rows = await contenders[name](i)
          if (rows.length !== ROWS) throw new Error(`${name} returned ${rows.length} rows`)
        }
      }),
    )
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const cpu = process.cpuUsage(cpuBefore)
    // Round 0 warms both up (JIT, caches, the server's buffers) and is not counted.
    if (round > 0) {
      rates[name].push((ROWS * QUERIES * CONNECTIONS) / seconds)
      cpuMs[name].push((cpu.user + cpu.system) / 1000 / (QUERIES * CONNECTIONS))
    }
  }
}

await Promise.all([...tides.map((tide) => tide.close()), ...clients.map((client) => client.end())])

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
const format = (rate) => Math.round(rate).toLocaleString('en-US').padStart(12)

console.log(
  `${ROWS} rows × 5 columns, ${QUERIES} queries per round on each of ${CONNECTIONS} connection(s), ` +
    `median of ${ROUNDS} rounds (node ${process.version})`,
)
for (const name of Object.keys(rates)) {
  console.log(`${name.padEnd(8)} ${format(median(rates[name]))} rows/s   client CPU ${median(cpuMs[name]).toFixed(1)} ms/select`)
}
console.log(`ratio    ${(median(rates.pgtide) / median(rates.pg)).toFixed(2)}× pg rows/s, ` +
  `${(median(cpuMs.pg) / median(cpuMs.pgtide)).toFixed(2)}× less client CPU`)

/** Both libraries must decode the same rows, or the comparison means nothing. */
async function sameValues() {
  const ours = await contenders.pgtide(0)
  const theirs = await contenders.pg(0)
  for (const i of [0, ROWS - 1]) {
    // now() differs between the two statements; compare the rest, and the type of the Date.
    const strip = (row) => Object.values(row).map((v) => (v instanceof Date ? 'Date' : v))
    const [a, b] = [JSON.stringify(strip(ours[i])), JSON.stringify(strip(theirs[i]))]
    if (a !== b) throw new Error(`row ${i} differs:\n  pgtide ${a}\n  pg     ${b}`)
  }
}
