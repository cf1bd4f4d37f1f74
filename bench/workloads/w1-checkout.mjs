// W1: one caller, sequential checkout + `SELECT 1` + return on a pool of 10. The cost of a
// pool round trip with nothing else going on: ops/s and latency. pgtide's sync pool too.

import { sequential, sequentialSync } from '../measure.mjs'

export default {
  id: 'W1',
  title: 'sequential checkout + SELECT 1 + return, pool of 10',
  peers: ['pgtide', 'pgtide-sync', 'pgtide-pg', 'pg', 'pg-native', 'postgres'],
  metrics: [
    { key: 'ops', label: 'W1 checkout + SELECT 1', unit: 'ops/s', better: 'higher', target: { ratio: 1.2 } },
    { key: 'p50', label: 'W1 p50', unit: 'ms', better: 'lower' },
    { key: 'p99', label: 'W1 p99', unit: 'ms', better: 'lower' },
  ],

  async measure(peer, { url, timing }) {
    const pool = await peer.pool({ url, size: 10, appName: `bench-w1-${peer.id}` })
    try {
      await pool.ready()
      const op = () => pool.checkout('SELECT 1')
      const loop = pool.sync ? sequentialSync : sequential
      return await loop({ op, warmup: timing.warmup, duration: timing.duration })
    } finally {
      await pool.close()
    }
  },
}
