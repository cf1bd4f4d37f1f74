// W3: big results, one after the other: the cost of turning 10,000 rows into JavaScript
// objects. Two queries: three columns (int4, text, timestamptz), and the five-column select of
// the connections issue (int4, text, timestamptz, numeric, jsonb).

import { sequential } from '../measure.mjs'

export const ROWS = 10_000

export const MD5_SQL = `SELECT g, md5(g::text), now() FROM generate_series(1, ${ROWS}) g`

export const WIDE_SQL = `SELECT g AS id, 'name ' || g AS name, now() - g * interval '1 second' AS at,
  (g * 1.25)::numeric(12, 2) AS amount, jsonb_build_object('id', g, 'tags', jsonb_build_array('a', 'b')) AS doc
  FROM generate_series(1, ${ROWS}) g`

function rowsOf(result) {
  return (result.rows ?? result).length
}

async function rowsPerSecond(pool, sql, timing) {
  const first = await pool.query(sql, [])
  if (rowsOf(first) !== ROWS) throw new Error(`expected ${ROWS} rows, got ${rowsOf(first)}`)
  const { ops } = await sequential({ op: () => pool.query(sql, []), warmup: timing.warmup, duration: timing.duration })
  return ops * ROWS
}

export default {
  id: 'W3',
  title: '10,000-row selects, one after the other',
  peers: ['pgtide', 'pgtide-pg', 'pg', 'pg-native', 'postgres'],
  metrics: [
    {
      key: 'md5',
      label: 'W3 10,000 rows × (int4, text, timestamptz)',
      unit: 'rows/s',
      better: 'higher',
      target: { ratio: 1.5, against: 'pg' },
    },
    { key: 'wide', label: 'W3 10,000 rows × 5 columns (+numeric, jsonb)', unit: 'rows/s', better: 'higher' },
  ],

  async measure(peer, { url, timing }) {
    const pool = await peer.pool({ url, size: 10, appName: `bench-w3-${peer.id}` })
    try {
      await pool.ready()
      return {
        md5: await rowsPerSecond(pool, MD5_SQL, timing),
        wide: await rowsPerSecond(pool, WIDE_SQL, timing),
      }
    } finally {
      await pool.close()
    }
  },
}
