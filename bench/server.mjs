// The server every library is measured against: DATABASE_URL when it is set, otherwise a
// throwaway PostgreSQL started like the tests' (scripts/pg-server.mjs) and removed at exit.
// Also an admin connection (autocommit) for what the workloads ask of the server itself.

import { ensureDatabase } from '../scripts/pg-server.mjs'

export async function openServer({ log }) {
  const database = await ensureDatabase({ log: (message) => log(`server: ${message}`) })
  const { AsyncConnection } = await import('../dist/index.mjs')
  const admin = await AsyncConnection.connect(database.url, { autocommit: true })
  const { rows } = await admin.query(
    `SELECT current_setting('server_version') AS version, current_setting('max_connections')::int AS "maxConnections"`,
  )
  return {
    url: database.url,
    owned: database.owned,
    admin,
    info: { version: rows[0].version, maxConnections: rows[0].maxConnections, throwaway: database.owned },
    async close() {
      await admin.close()
      await database.stop()
    },
  }
}
