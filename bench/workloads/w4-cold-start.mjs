// W4: cold start, the time from creating a pool of 10 to 10 ready connections. pgtide:
// the constructor opens the pool and wait() returns once it holds minSize connections; the
// peers: 10 concurrent checkouts, each running its first query.

import { median } from '../stats.mjs'
import { now, sleep } from '../measure.mjs'

/** The pool's size: also the connection count of the libpq floor (libpq-floor.mjs). */
export const POOL_SIZE = 10

export default {
  id: 'W4',
  title: `cold start: a new pool of ${POOL_SIZE} to ${POOL_SIZE} ready connections`,
  peers: ['pgtide', 'pg', 'pg-native', 'postgres'],
  metrics: [{ key: 'ms', label: 'W4 cold start to 10 connections', unit: 'ms', better: 'lower', target: { ratio: 0.6 } }],

  async measure(peer, { url, timing }) {
    const times = []
    for (let rep = 0; rep < timing.reps; rep++) {
      const start = now()
      const pool = await peer.pool({ url, size: POOL_SIZE, appName: `bench-w4-${peer.id}` })
      try {
        await pool.ready()
        times.push(now() - start)
      } finally {
        await pool.close()
      }
      await sleep(100) // lets the server reap the closed backends
    }
    return { ms: median(times) }
  },
}
