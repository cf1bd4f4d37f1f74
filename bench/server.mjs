// The server every library is measured against: DATABASE_URL when it is set, otherwise a
// throwaway PostgreSQL started like the tests' (scripts/pg-server.mjs) and removed at exit.
// Also an admin connection (autocommit) for what the workloads ask of the server itself.
//
// Every library connects the same way: without TLS unless the URL names an sslmode. pg and
// postgres.js do not ask for TLS unless told to, while libpq (pg-native) and pgtide ask first
// by default (sslmode=prefer): a round trip per connection (2–4 ms of a cold start of ten) or a
// TLS session, which would measure the negotiation instead of the pool.

import { ensureDatabase } from '../scripts/pg-server.mjs'

export async function openServer({ log }) {
  const database = await ensureDatabase({ log: (message) => log(`server: ${message}`) })
  const url = withoutTls(database.url)
  const { AsyncConnection } = await import('../dist/index.mjs')
  const admin = await AsyncConnection.connect(url, { autocommit: true })
  const { rows } = await admin.query(
    `SELECT current_setting('server_version') AS version, current_setting('max_connections')::int AS "maxConnections"`,
  )
  return {
    url,
    owned: database.owned,
    admin,
    info: { version: rows[0].version, maxConnections: rows[0].maxConnections, throwaway: database.owned },
    async close() {
      await admin.close()
      await database.stop()
    },
  }
}

/** `url` with sslmode=disable, unless it names an sslmode of its own. */
function withoutTls(url) {
  const parsed = new URL(url)
  if (!parsed.searchParams.has('sslmode')) parsed.searchParams.set('sslmode', 'disable')
  return parsed.href
}
