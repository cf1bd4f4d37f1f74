// Typical use of pgtide as an ES module consumer sees it: every line must type-check, and every
// `@ts-expect-error` must stay an error. Checked by types.spec.ts, strict and without
// skipLibCheck, under module nodenext, bundler, and commonjs (node10 resolution, which reads
// no `exports`), through the installed package (node_modules/pgtide); never run.

import { knex } from 'knex'
import { Kysely, PostgresDialect, type Generated } from 'kysely'
import pgtide, {
  AsyncConnection,
  AsyncConnectionPool,
  AsyncNullConnectionPool,
  Connection,
  ConnectionPool,
  DatabaseError,
  NullConnectionPool,
  OperationalError,
  PgError,
  PoolTimeout,
  type AsyncPoolOptions,
  type PoolLogger,
  type PoolStats,
  type QueryResult,
} from 'pgtide'
import { prometheusMetrics } from 'pgtide/metrics'
import pgFace, {
  Client,
  Cursor,
  Pool,
  QueryStream,
  types,
  type PoolClient,
  type QueryArrayResult,
  type QueryResult as PgQueryResult,
} from 'pgtide/pg'

const url = 'postgres://app@127.0.0.1/shop'

interface Customer {
  id: number
  name: string
}

export async function asyncPools(): Promise<number> {
  const logger: PoolLogger = { warn: (obj: object, msg: string) => console.warn(obj, msg) }
  const options: AsyncPoolOptions<AsyncConnectionPool> = {
    minSize: 1,
    maxSize: 4,
    timeout: 5,
    name: 'shop',
    logger,
    connectionOptions: { autocommit: false },
    configure: async (conn) => {
      await conn.exec("SET TIME ZONE 'UTC'")
    },
  }
  await using pool = new AsyncConnectionPool(url, options)
  await pool.wait(10)

  const names = await pool.connection(async (conn) => {
    const result: QueryResult<Customer> = await conn.query<Customer>(
      'SELECT id, name FROM customers WHERE id = $1',
      [42],
    )
    const count: number | null = result.rowCount
    // @ts-expect-error rows have the generic's shape: there is no such column
    result.rows[0]?.email
    return result.rows.map((row) => row.name.toUpperCase()).concat(String(count))
  })

  const conn: AsyncConnection = await pool.getconn(2)
  try {
    await conn.query('UPDATE customers SET name = $1 WHERE id = $2', ['Ada', 42])
    await conn.commit()
    const moved: number = await conn.transaction(async (tx) => (await tx.query('DELETE FROM carts')).rowCount ?? 0)
    console.log(moved)
  } finally {
    await pool.putconn(conn)
  }

  // @ts-expect-error an async pool's connection() hands out an AsyncConnection: query() is a Promise
  await pool.connection((c) => c.query('SELECT 1').rows)

  await using nullPool = new AsyncNullConnectionPool(url, { maxSize: 2 })
  const stats: PoolStats = nullPool.getStats()
  // @ts-expect-error stats keys are camelCase
  stats.requests_waiting
  return names.length + stats.requestsWaiting + pool.getStats().poolSize
}

export function syncPools(): number {
  using pool = new ConnectionPool(url, { minSize: 1, reset: (conn: Connection) => conn.exec('RESET ALL') })
  const n = pool.connection((conn) => conn.query<{ n: number }>('SELECT 1 AS n').rows[0]?.n ?? 0)
  using nullPool = new NullConnectionPool(url)
  // @ts-expect-error a sync pool's connection() gives a Connection: no Promise to await for rows
  nullPool.connection((conn) => conn.query('SELECT 1').then((r) => r.rows))
  return n
}

export async function errors(pool: AsyncConnectionPool): Promise<string> {
  try {
    await pool.connection((conn) => conn.query('SELECT 1/0'))
    return 'ok'
  } catch (error) {
    if (error instanceof PoolTimeout) {
      const operational: OperationalError = error
      return operational.message
    }
    if (error instanceof DatabaseError) return error.sqlstate ?? error.code ?? error.message
    if (error instanceof PgError) return error.name
    throw error
  }
}

export function optionMistakes(): void {
  // @ts-expect-error options are camelCase
  new AsyncConnectionPool(url, { min_size: 1 })
  // @ts-expect-error durations are numbers of seconds
  new AsyncConnectionPool(url, { timeout: '5s' })
  // @ts-expect-error conninfo is a string or a function returning one
  new AsyncConnectionPool(5432)
  // @ts-expect-error connection options are checked too
  new ConnectionPool(url, { connectionOptions: { autoCommit: true } })
}

export async function connections(): Promise<void> {
  await using conn = await AsyncConnection.connect(url, { autocommit: true })
  const { rows } = await conn.query<{ now: Date }>('SELECT now()')
  rows[0]?.now.getTime()
  using sync = Connection.connect(url)
  sync.commit()
  // @ts-expect-error a sync connection's commit() returns nothing to await on
  sync.commit().then(() => {})
}

interface Database {
  customers: { id: Generated<number>; name: string }
}

export async function pgCompat(): Promise<unknown[][]> {
  const pool = new Pool({ connectionString: url, max: 10, pgtide: { maxWaiting: 100 } })
  const client: PoolClient = await pool.connect()
  try {
    const { rows } = await client.query<Customer>('SELECT id, name FROM customers WHERE id = $1', [1])
    rows[0]?.name.toUpperCase()
    const arrays = await client.query({ text: 'SELECT id, name FROM customers', rowMode: 'array' })
    // @ts-expect-error release takes an error or a boolean
    client.release('done')
    return arrays.rows
  } finally {
    client.release()
    const counts: number = pool.totalCount + pool.idleCount + pool.waitingCount
    console.log(counts, prometheusMetrics([pool.pgtide]))
    // Kysely takes it where it takes a pg Pool.
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    await db.destroy()
  }
}

export async function pgStyle(): Promise<string> {
  const pool = new pgFace.Pool({ connectionString: url, max: 4 })
  pool.on('connect', (client) => {
    void client.query('SET search_path TO app')
    // @ts-expect-error the listener's client is a PoolClient, not any
    client.noSuchMethod()
  })
  pool.on('error', (err, client) => {
    console.error(err.message, client.processID)
    // @ts-expect-error the listener's error is an Error, not any
    err.noSuchField.length
  })
  pool.once('acquire', (client) => client.escapeIdentifier('x'))
  pool.on('release', (err: Error | undefined, client: PoolClient) => console.log(err?.message, client.processID))
  pool.on('remove', (client) => client.processID)
  pool.on('end', () => {})
  // @ts-expect-error 'connect' hands the listener a client, not an error first
  pool.on('connect', (err: Error, client: PoolClient) => console.log(err, client))

  const typed: PgQueryResult<Customer> = await pool.query<Customer>('SELECT id, name FROM customers WHERE id = $1', [1])
  typed.rows[0]?.name.toUpperCase()
  const arrays: QueryArrayResult<[number, string]> = await pool.query<[number, string]>({
    text: 'SELECT id, name FROM customers',
    rowMode: 'array',
  })
  arrays.rows[0]?.[1].toUpperCase()

  const client = new Client({ connectionString: url })
  await client.connect()
  client.on('notification', (msg) => console.log(msg.channel.toUpperCase(), msg.payload?.length, msg.processId))
  client.on('notice', (notice) => console.log(notice.message))
  client.on('error', (err) => console.log(err.message))
  client.on('end', () => {})
  // @ts-expect-error a notification's channel is a string
  client.on('notification', (msg) => msg.channel.toFixed())
  await client.query('LISTEN jobs')

  types.setTypeParser(types.builtins.INT8, (value) => BigInt(value))
  const checkedOut = await pool.connect()
  try {
    const cursor = checkedOut.query(new Cursor<Customer>('SELECT id, name FROM customers', []))
    const batch: Customer[] = await cursor.read(100)
    await cursor.close()
    const stream = checkedOut.query(new QueryStream('SELECT id FROM customers', [], { batchSize: 50 }))
    for await (const row of stream) console.log(row)
    console.log(batch.length)
  } finally {
    checkedOut.release()
  }

  // The libraries' own types, where they describe the pool they need (Drizzle: drizzle.mts).
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool, cursor: Cursor }) })
  await kysely.destroy()
  const viaKnex = knex({ client: 'pg', connectionPool: pool })
  await viaKnex.destroy()
  await client.end()
  await pool.end()
  return String(pool.totalCount)
}

export function metrics(pools: AsyncConnectionPool[]): string {
  // @ts-expect-error prometheusMetrics takes a list of pools
  prometheusMetrics(pools[0])
  return prometheusMetrics(pools, { prefix: 'shop_db_' })
}

// The default export is the whole API, as require('pgtide') gives it.
export const sameClass: boolean = pgtide.AsyncConnectionPool === AsyncConnectionPool
