// W2c: W2's load (100 concurrent callers, pool of 10, `SELECT $1::int`) through
// `pool.connection(async (conn) => conn.query(...))`, psycopg's way, beside `pool.query` on the
// same pool in the same round (halves alternated from round to round, so drift hits both).
// pgtide only: the share says what a `connection(fn)` block costs over the one-call path.
// pool.query runs with pipelining off here: a block holds its connection to itself, so the
// like-for-like comparison is one statement per connection round trip on both sides (W2 shows
// what pipelining adds on top).

import { concurrent } from '../measure.mjs'
import { POOL_SIZE } from './w2-concurrent.mjs'

const PGTIDE = new URL('../../dist/index.mjs', import.meta.url).href
const SQL = 'SELECT $1::int'

let round = 0

export default {
  id: 'W2c',
  title: `W2 through connection(fn) beside pool.query, 100 workers, pool of ${POOL_SIZE}`,
  peers: ['pgtide'],
  metrics: [
    { key: 'ops', label: 'W2c connection(fn), SELECT $1::int', unit: 'ops/s', better: 'higher' },
    { key: 'p99', label: 'W2c connection(fn) p99', unit: 'ms', better: 'lower' },
    { key: 'queryOps', label: 'W2c pool.query beside it, pipelining off', unit: 'ops/s', better: 'higher' },
    { key: 'share', label: 'W2c connection(fn) against pool.query', unit: '%', better: 'higher' },
  ],

  async measure(_peer, { url, timing }) {
    const { AsyncConnectionPool } = await import(PGTIDE)
    const parsed = new URL(url)
    parsed.searchParams.set('application_name', 'bench-w2c')
    // Autocommit, as the pgtide peer runs: one statement and no transaction, like the peers.
    const pool = new AsyncConnectionPool(parsed.href, {
      minSize: POOL_SIZE,
      connectionOptions: { autocommit: true },
      pipelining: false,
    })
    try {
      await pool.wait()
      const param = (worker, i) => [worker * 1000 + (i % 1000)]
      const viaQuery = (worker, i) => pool.query(SQL, param(worker, i))
      const viaBlock = (worker, i) => pool.connection(async (conn) => conn.query(SQL, param(worker, i)))
      const run = (op) => concurrent({ op, workers: 100, warmup: timing.warmup, duration: timing.duration })
      let block
      let query
      if (round++ % 2 === 0) {
        block = await run(viaBlock)
        query = await run(viaQuery)
      } else {
        query = await run(viaQuery)
        block = await run(viaBlock)
      }
      return { ops: block.ops, p50: block.p50, p99: block.p99, queryOps: query.ops, queryP99: query.p99, share: (100 * block.ops) / query.ops }
    } finally {
      await pool.close()
    }
  },
}
