// W6: blocking queries, one after the other on one held connection: `SELECT 1` through
// pgtide's sync pool beside pg-native's querySync (libpq's blocking PQexec underneath).

import { sequentialSync } from '../measure.mjs'

export default {
  id: 'W6',
  title: 'sync: sequential SELECT 1 on one held connection',
  peers: ['pgtide-sync', 'pg-native'],
  metrics: [
    {
      key: 'ops',
      label: 'W6 sync SELECT 1',
      unit: 'ops/s',
      better: 'higher',
      subject: 'pgtide-sync',
      target: { ratio: 1.3, against: 'pg-native' },
    },
    { key: 'p50', label: 'W6 p50', unit: 'ms', better: 'lower', subject: 'pgtide-sync' },
    { key: 'p99', label: 'W6 p99', unit: 'ms', better: 'lower', subject: 'pgtide-sync' },
  ],

  async measure(peer, { url, timing }) {
    const session = await peer.session({ url, appName: `bench-w6-${peer.id}` })
    try {
      return sequentialSync({ op: () => session.query('SELECT 1'), warmup: timing.warmup, duration: timing.duration })
    } finally {
      session.close()
    }
  },
}
