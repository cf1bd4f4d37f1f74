// The libraries under test, each behind one small adapter, so that every workload does the
// same work with each of them. A pool adapter has:
//
//   ready()            opens `size` connections (each runs one query) and returns them idle
//   checkout(sql)      takes a connection, runs `sql`, gives it back (W1)
//   query(sql, params) runs one statement on any connection of the pool (W2, W3, W5)
//   close()
//
// Sync adapters (`sync: true`) do the same with plain return values; a `session` is one
// blocking connection held for W6. The peers are installed in
// bench/node_modules (bench/package.json); one that fails to load is skipped with its reason.
// pgtide pools run with autocommit on, so every library does the same work: one statement, no
// transaction (psycopg's default would add a COMMIT round trip to each checkout); and lend the
// connection returned last (`idleOrder: 'lifo'`), as pg-pool does (psycopg's default, the one
// idle longest, spreads one-after-another work over every backend, each with colder caches).

const PGTIDE = new URL('../dist/index.mjs', import.meta.url).href
const PGTIDE_PG = new URL('../dist/pg.mjs', import.meta.url).href

/** The URL with `application_name` set, so W5 can find each pool's backends. */
export function withAppName(url, appName) {
  const parsed = new URL(url)
  parsed.searchParams.set('application_name', appName)
  return parsed.href
}

async function pgtideAsync({ url, size, appName }, pipelining = true) {
  const { AsyncConnectionPool } = await import(PGTIDE)
  const pool = new AsyncConnectionPool(withAppName(url, appName), {
    minSize: size,
    name: appName,
    connectionOptions: { autocommit: true },
    idleOrder: 'lifo',
    pipelining,
  })
  return {
    ready: () => pool.wait(),
    checkout: (sql) => pool.connection((conn) => conn.query(sql)),
    query: (sql, params) => pool.query(sql, params),
    close: () => pool.close(),
  }
}

async function pgtideSync({ url, size, appName }) {
  const { ConnectionPool } = await import(PGTIDE)
  const pool = new ConnectionPool(withAppName(url, appName), {
    minSize: size,
    name: appName,
    connectionOptions: { autocommit: true },
    idleOrder: 'lifo',
  })
  return {
    sync: true,
    ready: () => pool.wait(),
    checkout: (sql) => pool.connection((conn) => conn.query(sql)),
    query: (sql, params) => pool.query(sql, params),
    close: () => pool.close(),
  }
}

/** W6: one connection of a sync pool, held; `close` gives it back and closes the pool. */
async function pgtideSession({ url, appName }) {
  const { ConnectionPool } = await import(PGTIDE)
  const pool = new ConnectionPool(withAppName(url, appName), { minSize: 1, connectionOptions: { autocommit: true } })
  const conn = pool.getconn()
  return {
    query: (sql) => conn.query(sql),
    close: () => {
      pool.putconn(conn)
      pool.close()
    },
  }
}

/** pg-pool over pg's JavaScript client or over its native (libpq) client. */
function pgPool(Pool, { url, size, appName }) {
  const pool = new Pool({ connectionString: url, max: size, application_name: appName })
  // pg-pool re-emits an idle client's error (a killed backend) on the pool: unheard, it
  // would crash the process.
  pool.on('error', () => {})
  return {
    ready: async () => {
      const clients = await Promise.all(Array.from({ length: size }, () => pool.connect()))
      await Promise.all(clients.map((client) => client.query('SELECT 1')))
      clients.forEach((client) => client.release())
    },
    checkout: async (sql) => {
      const client = await pool.connect()
      try {
        return await client.query(sql)
      } finally {
        client.release()
      }
    },
    query: (sql, params) => pool.query(sql, params),
    close: () => pool.end(),
  }
}

async function pgJs(options) {
  const { default: pg } = await import('pg')
  return pgPool(pg.Pool, options)
}

/** pgtide's node-postgres face, driven exactly as pg is. */
async function pgtidePg(options) {
  const { Pool } = await import(PGTIDE_PG)
  return pgPool(Pool, options)
}

async function pgNative(options) {
  const { default: pg } = await import('pg')
  // pg.native is null when pg-native (an optional dependency) did not install or build.
  if (!pg.native) throw new Error('pg-native is not installed (it needs libpq-dev and a C toolchain)')
  return pgPool(pg.native.Pool, options)
}

/** W6: pg-native's own client, blocking (`connectSync`, `querySync`). */
async function pgNativeSession({ url, appName }) {
  const { default: Client } = await import('pg-native')
  const client = new Client()
  client.connectSync(withAppName(url, appName))
  return { query: (sql) => client.querySync(sql), close: () => client.end() }
}

async function postgresJs({ url, size, appName }) {
  const { default: postgres } = await import('postgres')
  const sql = postgres(url, {
    max: size,
    connection: { application_name: appName },
    onnotice: () => {},
  })
  return {
    ready: async () => {
      const reserved = await Promise.all(Array.from({ length: size }, () => sql.reserve()))
      await Promise.all(reserved.map((conn) => conn`SELECT 1`))
      reserved.forEach((conn) => conn.release())
    },
    checkout: async (text) => {
      const conn = await sql.reserve()
      try {
        return await conn.unsafe(text, [], { prepare: true })
      } finally {
        conn.release()
      }
    },
    // What a tagged template does: a prepared statement with $n parameters.
    query: (text, params) => sql.unsafe(text, params, { prepare: true }),
    close: () => sql.end({ timeout: 1 }),
  }
}

/** Every subject, in the order of the table's columns. */
export const PEERS = [
  { id: 'pgtide', label: 'pgtide', pool: pgtideAsync },
  { id: 'pgtide-sync', label: 'pgtide sync', pool: pgtideSync, session: pgtideSession },
  { id: 'pgtide-pg', label: 'pgtide/pg', pool: pgtidePg },
  { id: 'pg', label: 'pg', pool: pgJs },
  { id: 'pg-native', label: 'pg-native', pool: pgNative, session: pgNativeSession },
  { id: 'postgres', label: 'postgres.js', pool: postgresJs },
  // pgtide's pool with automatic pipelining off, last so the table keeps its columns: what
  // pipelining gains and costs (W2).
  { id: 'pgtide-unpipelined', label: 'pgtide, pipelining off', pool: (options) => pgtideAsync(options, false) },
]

export const PEER_IDS = PEERS.map((peer) => peer.id)

export function peerById(id) {
  const peer = PEERS.find((p) => p.id === id)
  if (!peer) throw new Error(`unknown peer '${id}' (known: ${PEER_IDS.join(', ')})`)
  return peer
}

/** The peers of `ids` that load here; the others come back in `skipped` with the reason. */
export async function availablePeers(ids) {
  const available = []
  const skipped = {}
  for (const id of ids) {
    const peer = peerById(id)
    try {
      await probe(id)
      available.push(peer)
    } catch (error) {
      skipped[id] = reasonOf(error)
    }
  }
  return { available, skipped }
}

/** Why a peer does not load, in one line; an addon built for another Node says so. */
function reasonOf(error) {
  const first = error.message.split('\n')[0]
  const abi = /undefined symbol: _ZN2v8|NODE_MODULE_VERSION/.test(error.message)
  return abi ? `its native addon was built for another Node.js than ${process.version} (${first})` : first
}

async function probe(id) {
  if (id === 'pgtide-pg') return import(PGTIDE_PG)
  if (id.startsWith('pgtide')) return import(PGTIDE)
  if (id === 'pg') return import('pg')
  if (id === 'postgres') return import('postgres')
  const { default: pg } = await import('pg')
  if (!pg.native) throw new Error('pg-native is not installed (it needs libpq-dev and a C toolchain)')
  return import('pg-native')
}
