// pgtide's demo: a pool serving concurrent work, the same through a blocking pool, and what the
// pool reports. Run it with `npm run demo` (it sets DATABASE_URL, starting a throwaway server if needed).
import { AsyncConnectionPool, ConnectionPool, DatabaseError, PoolTimeout } from 'pgtide'

const url = process.env.DATABASE_URL ?? ''
// A table of this run's own, so that demos sharing a server don't meet.
const table = `tide_${process.pid}`

async function asyncTour() {
  console.log('== AsyncConnectionPool: every call returns a Promise')
  // (In TypeScript, or a Node with explicit resource management: `await using pool = ...`.)
  const pool = new AsyncConnectionPool(url, { minSize: 2, maxSize: 4, name: 'demo' })
  try {
    await servePool(pool)
  } finally {
    await pool.close()
  }
}

async function servePool(pool) {
  await pool.wait()
  console.log(`pool '${pool.name}' is ready with ${pool.getStats().poolAvailable} idle connections`)

  await pool.connection(async (conn) => {
    await conn.exec(`CREATE TABLE ${table} (port text PRIMARY KEY, height_m float8, high bool)`)
    const readings = [
      ['Brest', 7.1, true],
      ['Saint-Malo', 12.3, true],
      ['Dover', 0.9, false],
      ['Cádiz', null, false],
    ]
    for (const reading of readings) await conn.query(`INSERT INTO ${table} VALUES ($1, $2, $3)`, reading)
  }) // returned: committed

  // Ten clients at once on a pool of at most four: they queue, the pool grows, all are served.
  const started = Date.now()
  const pids = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      pool.connection(async (conn) => {
        await conn.query('SELECT pg_sleep(0.05), $1::int4 AS client', [i])
        return conn.backendPid
      }),
    ),
  )
  console.log(`10 clients served in ${Date.now() - started} ms by ${new Set(pids).size} connections`)

  const result = await pool.connection((conn) =>
    conn.query(`SELECT port, height_m, high FROM ${table} WHERE height_m > $1 OR height_m IS NULL ORDER BY port`, [1]),
  )
  console.log(`${result.command} returned ${result.rowCount} rows:`)
  console.table(result.rows)

  try {
    await pool.connection((conn) => conn.query('SELEC oops'))
  } catch (error) {
    if (!(error instanceof DatabaseError)) throw error
    console.log(`a typo is a ${error.name} with sqlstate ${error.sqlstate}: ${error.message}`)
  }

  const held = await Promise.all([1, 2, 3, 4].map(() => pool.getconn()))
  try {
    await pool.getconn(0.2)
  } catch (error) {
    if (!(error instanceof PoolTimeout)) throw error
    console.log(`with all four connections out, the next client gets ${error.name}: ${error.message}`)
  }
  await Promise.all(held.map((conn) => pool.putconn(conn)))

  const { requestsNum, requestsQueued, requestsWaitMs, connectionsNum, poolSize } = pool.getStats()
  console.log('stats:', { requestsNum, requestsQueued, requestsWaitMs, connectionsNum, poolSize })
}

function syncTour() {
  console.log('\n== ConnectionPool: every call blocks until the server answers')
  const pool = new ConnectionPool(url, {
    minSize: 1,
    // Hooks of a sync pool are plain functions, run on this thread.
    configure: (conn) => {
      conn.exec("SET application_name = 'pgtide-demo'")
      conn.commit()
    },
  })
  const started = Date.now()
  const rows = pool.connection((conn) =>
    conn.query(
      `SELECT current_setting('application_name') AS application, count(*)::int4 AS tide_rows,
              split_part(version(), ' ', 2) AS server_version
         FROM ${table}`,
    ).rows,
  )
  console.table(rows)
  console.log(`answered in ${Date.now() - started} ms, without a single await`)
  pool.connection((conn) => conn.exec(`DROP TABLE ${table}`))
  pool.close()
}

await asyncTour()
syncTour()
