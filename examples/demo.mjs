// pgtide's demo: the same work through an async and a sync connection.
// Run it with `npm run demo` (it sets DATABASE_URL, starting a throwaway server if needed).
import { AsyncConnection, Connection, DatabaseError } from 'pgtide'

const url = process.env.DATABASE_URL ?? ''

async function asyncTour() {
  console.log('== AsyncConnection: every call returns a Promise')
  const conn = await AsyncConnection.connect(url)
  console.log(`connected to backend ${conn.backendPid}; transaction status: ${conn.transactionStatus}`)

  await conn.exec('CREATE TEMP TABLE tide (port text, height_m float8, high bool)')
  const readings = [
    ['Brest', 7.1, true],
    ['Saint-Malo', 12.3, true],
    ['Dover', 0.9, false],
    ['Cádiz', null, false],
  ]
  for (const reading of readings) {
    await conn.query('INSERT INTO tide VALUES ($1, $2, $3)', reading)
  }
  // Autocommit is off (as in psycopg): the first statement opened a transaction.
  console.log(`after the inserts the transaction status is '${conn.transactionStatus}'; committing`)
  await conn.commit()

  const result = await conn.query('SELECT port, height_m, high FROM tide WHERE height_m > $1 OR height_m IS NULL ORDER BY port', [1])
  console.log(`${result.command} returned ${result.rowCount} rows:`)
  console.table(result.rows)

  try {
    await conn.query('SELEC oops')
  } catch (error) {
    if (!(error instanceof DatabaseError)) throw error
    console.log(`a typo is a ${error.name} with sqlstate ${error.sqlstate}: ${error.message}`)
  }
  await conn.rollback()
  console.log(`the connection is still usable: ${(await conn.query('SELECT 6 * 7 AS answer')).rows[0].answer}`)
  await conn.close()
}

function syncTour() {
  console.log('\n== Connection: every call blocks until the server answers')
  const conn = Connection.connect(url, { autocommit: true })
  const started = Date.now()
  const { rows } = conn.query(
    `SELECT count(*)::int4 AS connections, current_database() AS database,
            split_part(version(), ' ', 2) AS server_version
       FROM pg_stat_activity`,
  )
  console.table(rows)
  console.log(`answered in ${Date.now() - started} ms, without a single await`)
  conn.close()
}

await asyncTour()
syncTour()
