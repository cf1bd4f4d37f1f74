// W2: 100 concurrent callers on a pool of 10, `SELECT $1::int`: queueing, hand-off and
// throughput under contention. Latency includes the wait for a connection.

import { concurrent } from '../measure.mjs'

/** The pool's size: also pgbench's client count (pgbench.mjs), so the two compare. */
export const POOL_SIZE = 10

export default {
  id: 'W2',
  title: `100 concurrent workers, pool of ${POOL_SIZE}, SELECT $1::int`,
  peers: ['pgtide', 'pgtide-unpipelined', 'pgtide-pg', 'pg', 'pg-native', 'postgres'],
  metrics: [
    { key: 'ops', label: 'W2 100 workers, SELECT $1::int', unit: 'ops/s', better: 'higher', target: { ratio: 1.3 } },
    { key: 'p50', label: 'W2 p50', unit: 'ms', better: 'lower' },
    { key: 'p99', label: 'W2 p99', unit: 'ms', better: 'lower' },
  ],

  async measure(peer, { url, timing }) {
    const pool = await peer.pool({ url, size: POOL_SIZE, appName: `bench-w2-${peer.id}` })
    try {
      await pool.ready()
      const op = (worker, i) => pool.query('SELECT $1::int', [worker * 1000 + (i % 1000)])
      return await concurrent({ op, workers: 100, warmup: timing.warmup, duration: timing.duration })
    } finally {
      await pool.close()
    }
  },
}
