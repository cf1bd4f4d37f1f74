// Run by bench/bulk.mjs in a fresh process: one bulk workload with one library, timed, and the
// process's peak resident set. Prints one JSON line.
//
//   node bench/bulk-child.mjs copy|stream PEER URL ROWS

import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

const [workload, peer, url, rowsText] = process.argv.slice(2)
const ROWS = Number(rowsText)
const TABLE = `bench_bulk_${peer.replace(/\W/g, '_')}`
const STREAM_SQL = "SELECT g AS id, 'row ' || g AS name, g * 1.5::float8 AS value FROM generate_series(1, $1::int4) g"
const BATCH = 1000

/** The same COPY text for every library: 1000 rows a chunk, three columns. */
function* copyText() {
  for (let i = 0; i < ROWS; i += 1000) {
    let chunk = ''
    for (let j = i; j < Math.min(ROWS, i + 1000); j++) chunk += `${j}\tname ${j}\t${j * 1.5}\n`
    yield chunk
  }
}

/** The same rows as arrays of values, for copyRows(). */
function* rowArrays() {
  for (let j = 0; j < ROWS; j++) yield [j, `name ${j}`, j * 1.5]
}

/** Each library's way in: `setup` (untimed), `copy` and `stream` (timed), `count`, `close`. */
async function library() {
  if (peer === 'pgtide' || peer === 'pgtide-binary') {
    const { AsyncConnection, copyRows } = await import(new URL('../dist/index.mjs', import.meta.url).href)
    const conn = await AsyncConnection.connect(url, { autocommit: true })
    const types = ['int4', 'text', 'float8']
    return {
      run: (sql) => conn.exec(sql),
      copy: () =>
        peer === 'pgtide'
          ? conn.copyFrom(`COPY ${TABLE} FROM STDIN`, Readable.from(copyText()))
          : conn.copyFrom(`COPY ${TABLE} FROM STDIN (FORMAT binary)`, copyRows(rowArrays(), { format: 'binary', types })),
      async stream() {
        let n = 0
        for await (const row of conn.stream(STREAM_SQL, [ROWS], { batchSize: BATCH })) n += row.id > 0 ? 1 : 0
        return n
      },
      count: async () => (await conn.query(`SELECT count(*)::int4 AS n FROM ${TABLE}`)).rows[0].n,
      close: () => conn.close(),
    }
  }
  if (peer === 'pg') {
    const { default: pg } = await import('pg')
    const { from: copyFrom } = await import('pg-copy-streams')
    const { default: QueryStream } = await import('pg-query-stream')
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    return {
      run: (sql) => client.query(sql),
      copy: () => pipeline(Readable.from(copyText()), client.query(copyFrom(`COPY ${TABLE} FROM STDIN`))),
      async stream() {
        let n = 0
        const rows = client.query(new QueryStream(STREAM_SQL, [ROWS], { batchSize: BATCH }))
        for await (const row of rows) n += row.id > 0 ? 1 : 0
        return n
      },
      count: async () => (await client.query(`SELECT count(*)::int4 AS n FROM ${TABLE}`)).rows[0].n,
      close: () => client.end(),
    }
  }
  if (peer === 'postgres') {
    const { default: postgres } = await import('postgres')
    const sql = postgres(url, { max: 1, onnotice: () => {} })
    return {
      run: (text) => sql.unsafe(text),
      async copy() {
        const writable = await sql.unsafe(`COPY ${TABLE} FROM STDIN`).writable()
        await pipeline(Readable.from(copyText()), writable)
      },
      async stream() {
        let n = 0
        for await (const rows of sql.unsafe(STREAM_SQL, [ROWS]).cursor(BATCH)) {
          for (const row of rows) n += row.id > 0 ? 1 : 0
        }
        return n
      },
      count: async () => (await sql.unsafe(`SELECT count(*)::int4 AS n FROM ${TABLE}`))[0].n,
      close: () => sql.end(),
    }
  }
  throw new Error(`unknown peer ${peer}`)
}

const lib = await library()
let seconds
let rows
if (workload === 'copy') {
  await lib.run(`DROP TABLE IF EXISTS ${TABLE}`)
  await lib.run(`CREATE UNLOGGED TABLE ${TABLE} (id int4, name text, value float8)`)
  const start = process.hrtime.bigint()
  await lib.copy()
  seconds = Number(process.hrtime.bigint() - start) / 1e9
  rows = await lib.count()
  await lib.run(`DROP TABLE ${TABLE}`)
} else {
  const start = process.hrtime.bigint()
  rows = await lib.stream()
  seconds = Number(process.hrtime.bigint() - start) / 1e9
}
await lib.close()
if (rows !== ROWS) throw new Error(`${peer} ${workload}: ${rows} rows, not ${ROWS}`)
// maxRSS is in kilobytes.
console.log(JSON.stringify({ seconds, rows, peakRssMb: (process.resourceUsage().maxRSS * 1024) / (1024 * 1024) }))
process.exit(0)
