// pgtide/pg: node-postgres's Pool surface over a pgtide pool, on a real server, and Kysely's
// PostgresDialect (the real package) running migrations, joins and transactions through it.

import { Kysely, Migrator, PostgresDialect, sql, type Generated, type Migration } from 'kysely'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import { AsyncConnection, DatabaseError } from '../dist/index.js'
import { Pool, type PoolClient, type PoolConfig } from '../dist/pg.js'
import { databaseUrl, eventually } from './helpers'

const pools: Pool[] = []

afterEach(async () => {
  await Promise.all(
    pools
      .splice(0)
      .filter((p) => !p.ending)
      .map((p) => p.end()),
  )
})

function makePool(config: PoolConfig = {}): Pool {
  const pool = new Pool({ connectionString: databaseUrl(), ...config, pgtide: { logger: {}, ...config.pgtide } })
  pools.push(pool)
  return pool
}

async function backendAlive(pid: number): Promise<boolean> {
  const conn = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
  try {
    const { rows } = await conn.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid])
    return rows[0]!.n === 1
  } finally {
    await conn.close()
  }
}

describe('pgtide/pg Pool', () => {
  it('connect() gives a client whose query(text, values) returns pg-shaped results', async () => {
    const pool = makePool({ max: 2 })
    const client = await pool.connect()
    const result = await client.query<{ n: number; word: string }>('SELECT $1::int4 AS n, $2::text AS word', [
      7,
      'seven',
    ])
    expect(result.rows).toEqual([{ n: 7, word: 'seven' }])
    expect(result.rowCount).toBe(1)
    expect(result.command).toBe('SELECT')
    expect(result.fields.map((f) => f.name)).toEqual(['n', 'word'])
    const { rows } = await client.query('SELECT pg_backend_pid() AS pid')
    expect(client.processID).toBe(rows[0]!.pid)
    client.release()
    expect(() => client.release()).toThrow(/already been released/)
    await expect(client.query('SELECT 1')).rejects.toThrow(/released/)
  })

  it('accepts the { text, values, rowMode: "array" } config form', async () => {
    const pool = makePool()
    const client = await pool.connect()
    try {
      const arrays = await client.query({
        text: 'SELECT $1::int4 AS a, $2::text AS b UNION ALL SELECT 2, $3',
        values: [1, 'x', 'y'],
        rowMode: 'array',
      })
      expect(arrays.rows).toEqual([
        [1, 'x'],
        [2, 'y'],
      ])
      const objects = await client.query({ text: 'SELECT $1::int4 AS a', values: [5] })
      expect(objects.rows).toEqual([{ a: 5 }])
      // Every column is kept in array mode, repeated names too (a join's two `id`s); objects keep the last.
      expect((await client.query({ text: 'SELECT 1 AS a, 2 AS a', rowMode: 'array' })).rows).toEqual([[1, 2]])
      expect((await client.query('SELECT 1 AS a, 2 AS a')).rows).toEqual([{ a: 2 }])
    } finally {
      client.release()
    }
  })

  it('runs in autocommit, as pg clients do: each statement commits, BEGIN/COMMIT are plain SQL', async () => {
    const pool = makePool({ max: 2 })
    const table = `pgtide_pg_autocommit_${process.pid}`
    await pool.query(`CREATE TABLE ${table} (n int)`)
    try {
      const writer = await pool.connect()
      await writer.query(`INSERT INTO ${table} VALUES (1)`)
      // Another connection sees it at once: nothing was left open.
      expect((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]).toEqual({ n: 1 })
      await writer.query('BEGIN')
      await writer.query(`INSERT INTO ${table} VALUES (2)`)
      expect((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]).toEqual({ n: 1 })
      await writer.query('ROLLBACK')
      expect((await writer.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]).toEqual({ n: 1 })
      writer.release()
    } finally {
      await pool.query(`DROP TABLE ${table}`)
    }
  })

  it('release(err) closes the connection instead of reusing it', async () => {
    const pool = makePool({ max: 1 })
    const first = await pool.connect()
    const pid = first.processID!
    first.release()
    const again = await pool.connect()
    expect(again.processID).toBe(pid) // a plain release reuses it
    again.release(new Error('the caller saw this connection misbehave'))
    const replaced = await pool.connect()
    expect(replaced.processID).not.toBe(pid)
    replaced.release()
    await eventually(async () => !(await backendAlive(pid)))
  })

  it('pool.query() runs on a pooled connection; server errors keep pg’s code', async () => {
    const pool = makePool({ max: 1 })
    expect((await pool.query('SELECT $1::text AS t', ['hi'])).rows).toEqual([{ t: 'hi' }])
    const error = await pool.query('SELECT 1/0').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect((error as DatabaseError).code).toBe('22012')
    expect((await pool.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }])
  })

  it('counts connections, idle ones and waiting clients', async () => {
    const pool = makePool({ max: 1 })
    expect(pool.totalCount).toBe(0) // pg's default min is 0: nothing opened up front
    const held = await pool.connect()
    expect(pool.totalCount).toBe(1)
    expect(pool.idleCount).toBe(0)
    const waiting = pool.connect()
    await eventually(() => pool.waitingCount === 1)
    held.release()
    const next = await waiting
    expect(pool.waitingCount).toBe(0)
    next.release()
    await eventually(() => pool.idleCount === 1)
    expect(pool.totalCount).toBe(1)
  })

  it("runs 'connect' listeners' queries on each new connection before its first use", async () => {
    const pool = makePool({ max: 2 })
    const connected: PoolClient[] = []
    const acquired: PoolClient[] = []
    const released: PoolClient[] = []
    pool.on('connect', (client: PoolClient) => {
      connected.push(client)
      void client.query("SET application_name = 'pgtide-pg-connect'")
    })
    pool.on('acquire', (client: PoolClient) => acquired.push(client))
    pool.on('release', (_err: Error | undefined, client: PoolClient) => released.push(client))
    const client = await pool.connect()
    const { rows } = await client.query("SELECT current_setting('application_name') AS name")
    expect(rows[0]).toEqual({ name: 'pgtide-pg-connect' })
    client.release()
    expect(connected).toHaveLength(1)
    expect(acquired).toEqual([client])
    expect(released).toEqual([client])
  })

  it('supports the callback forms of connect(), query() and end()', async () => {
    const pool = makePool({ max: 1 })
    const viaQuery = await new Promise((resolve, reject) => {
      pool.query('SELECT $1::int4 AS n', [3], (err, result) => (err ? reject(err) : resolve(result!.rows)))
    })
    expect(viaQuery).toEqual([{ n: 3 }])
    const viaClient = await new Promise((resolve, reject) => {
      pool.connect((err, client, done) => {
        if (err) return reject(err)
        client!.query('SELECT 4 AS n', (queryErr, result) => {
          done!()
          return queryErr ? reject(queryErr) : resolve(result!.rows)
        })
      })
    })
    expect(viaClient).toEqual([{ n: 4 }])
    await new Promise<void>((resolve, reject) => pool.end((err) => (err ? reject(err) : resolve())))
    expect(pool.ended).toBe(true)
  })

  it('end() closes the pool once; later use is refused', async () => {
    const pool = makePool({ max: 1 })
    const client = await pool.connect()
    client.release()
    await pool.end()
    expect(pool.ending).toBe(true)
    expect(pool.ended).toBe(true)
    expect(pool.pgtide.closed).toBe(true)
    await expect(pool.end()).rejects.toThrow(/more than once/)
    await expect(pool.query('SELECT 1')).rejects.toThrow(/after calling end/)
    await expect(pool.connect()).rejects.toThrow(/after calling end/)
  })
})

interface Database {
  authors: { id: Generated<number>; name: string }
  books: { id: Generated<number>; author_id: number; title: string; year: number }
}

const migrations: Record<string, Migration> = {
  '001_authors': {
    async up(db) {
      await db.schema
        .createTable('authors')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .execute()
    },
    async down(db) {
      await db.schema.dropTable('authors').execute()
    },
  },
  '002_books': {
    async up(db) {
      await db.schema
        .createTable('books')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('author_id', 'integer', (c) => c.notNull().references('authors.id'))
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('year', 'integer', (c) => c.notNull())
        .execute()
    },
    async down(db) {
      await db.schema.dropTable('books').execute()
    },
  },
}

describe('Kysely over pgtide/pg', () => {
  // A schema of its own: other suites (and other runs) share the database.
  const schema = `pgtide_kysely_${process.pid}_${Date.now()}`
  let db: Kysely<Database>
  let pool: Pool

  beforeAll(async () => {
    const admin = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    await admin.query(`CREATE SCHEMA ${schema}`)
    await admin.close()
    pool = new Pool({ connectionString: databaseUrl(), max: 4, pgtide: { logger: {} } })
    pool.on('connect', (client: PoolClient) => void client.query(`SET search_path TO ${schema}`))
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  })

  afterAll(async () => {
    await db?.destroy() // ends the pgtide pool (Kysely calls pool.end())
    const admin = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.close()
  })

  it('migrates with Migrator and an in-memory provider', async () => {
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } })
    const { error, results } = await migrator.migrateToLatest()
    expect(error).toBeUndefined()
    expect(results?.map((r) => [r.migrationName, r.status])).toEqual([
      ['001_authors', 'Success'],
      ['002_books', 'Success'],
    ])
    const tables = await db.introspection.getTables()
    expect(tables.map((t) => t.name).sort()).toEqual(['authors', 'books'])
    expect(tables.every((t) => t.schema === schema)).toBe(true)
    expect((await migrator.migrateToLatest()).results).toEqual([]) // nothing left to run
  })

  it('inserts and selects with a join', async () => {
    const [ursula, terry] = await db
      .insertInto('authors')
      .values([{ name: 'Ursula K. Le Guin' }, { name: 'Terry Pratchett' }])
      .returning(['id', 'name'])
      .execute()
    const inserted = await db
      .insertInto('books')
      .values([
        { author_id: ursula!.id, title: 'The Dispossessed', year: 1974 },
        { author_id: ursula!.id, title: 'The Left Hand of Darkness', year: 1969 },
        { author_id: terry!.id, title: 'Small Gods', year: 1992 },
      ])
      .executeTakeFirst()
    expect(inserted.numInsertedOrUpdatedRows).toBe(3n)

    const rows = await db
      .selectFrom('books')
      .innerJoin('authors', 'authors.id', 'books.author_id')
      .select(['authors.name as author', 'books.title', 'books.year'])
      .where('books.year', '<', 1990)
      .orderBy('books.year')
      .execute()
    expect(rows).toEqual([
      { author: 'Ursula K. Le Guin', title: 'The Left Hand of Darkness', year: 1969 },
      { author: 'Ursula K. Le Guin', title: 'The Dispossessed', year: 1974 },
    ])

    const counts = await db
      .selectFrom('authors')
      .leftJoin('books', 'books.author_id', 'authors.id')
      .select(['authors.name', sql<number>`count(books.id)::int`.as('books')])
      .groupBy('authors.name')
      .orderBy('authors.name')
      .execute()
    expect(counts).toEqual([
      { name: 'Terry Pratchett', books: 1 },
      { name: 'Ursula K. Le Guin', books: 2 },
    ])
    const updated = await db
      .updateTable('books')
      .set({ year: 1993 })
      .where('title', '=', 'Small Gods')
      .executeTakeFirst()
    expect(updated.numUpdatedRows).toBe(1n)
  })

  it('commits a transaction', async () => {
    const title = await db.transaction().execute(async (trx) => {
      const author = await trx
        .insertInto('authors')
        .values({ name: 'N. K. Jemisin' })
        .returning('id')
        .executeTakeFirstOrThrow()
      await trx.insertInto('books').values({ author_id: author.id, title: 'The Fifth Season', year: 2015 }).execute()
      return 'The Fifth Season'
    })
    const book = await db
      .selectFrom('books')
      .innerJoin('authors', 'authors.id', 'books.author_id')
      .select(['authors.name'])
      .where('books.title', '=', title)
      .executeTakeFirst()
    expect(book).toEqual({ name: 'N. K. Jemisin' })
  })

  it('rolls a transaction back when its callback throws, and after a server error', async () => {
    const thrown = await db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('authors').values({ name: 'Nobody Kept' }).execute()
        throw new Error('changed my mind')
      })
      .catch((e: Error) => e)
    expect((thrown as Error).message).toBe('changed my mind')

    const duplicate = await db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('authors').values({ name: 'Also Not Kept' }).execute()
        await trx.insertInto('authors').values({ name: 'Terry Pratchett' }).execute() // unique violation
      })
      .catch((e: unknown) => e)
    expect(duplicate).toBeInstanceOf(DatabaseError)
    expect((duplicate as DatabaseError).code).toBe('23505')

    const names = await db
      .selectFrom('authors')
      .select('name')
      .where('name', 'in', ['Nobody Kept', 'Also Not Kept'])
      .execute()
    expect(names).toEqual([])
    // The connections went back clean: the pool still serves every query.
    expect(
      await db
        .selectFrom('authors')
        .select(sql<number>`count(*)::int`.as('n'))
        .executeTakeFirst(),
    ).toEqual({ n: 3 })
    expect(pool.waitingCount).toBe(0)
  })

  it('migrates down through the same pool', async () => {
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } })
    const { error, results } = await migrator.migrateDown()
    expect(error).toBeUndefined()
    expect(results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual([['002_books', 'Down', 'Success']])
    expect((await db.introspection.getTables()).map((t) => t.name)).toEqual(['authors'])
  })
})
