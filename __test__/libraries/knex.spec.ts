// Knex on pgtide/pg, the two ways Knex takes a driver it did not `require('pg')` itself:
// - `client: 'pg'` with `connectionPool: pool` (Knex >= 3.3): a native pg.Pool the application
//   made; Knex checks clients out of it. Migrations (from an in-memory migration source), a join,
//   a transaction that commits and one that rolls back.
// - `client: <a Client_PG subclass>` whose `_driver()` returns the pg module: Knex opens its own
//   connections with that module's Client, in its own pool. `.stream()` runs this way: streamed
//   over a `connectionPool`, Knex 3.3.0 releases the pool client twice when the stream closes
//   (pg-pool: "Release called on client which has already been released to the pool."), on pg too.
// Knex streams by submitting its own pg-query-stream object to the client's query().

import { createRequire } from 'node:module'
import path from 'node:path'

import { Knex, knex } from 'knex'
import { afterAll, describe, expect } from 'vitest'

import { databaseUrl } from '../helpers'
import { faces, Pools, test, uniqueName, type Face } from './faces'

const require = createRequire(path.resolve('package.json')) // vitest runs from the repository root
const ClientPG: typeof Knex.Client = require('knex/lib/dialects/postgres')

/** Knex's pg dialect with this face as its driver. */
function clientFor(face: Face) {
  return class FaceClient extends ClientPG {
    _driver() {
      return face.module
    }
  }
}

/** Two migrations, as a `migrationSource` (Knex's documented alternative to a directory). */
function migrationSource(schema: string): Knex.MigrationSource<string> {
  const migrations: Record<string, Knex.Migration> = {
    '001_authors': {
      up: (k) =>
        k.schema.withSchema(schema).createTable('authors', (t) => {
          t.increments('id')
          t.text('name').notNullable()
        }),
      down: (k) => k.schema.withSchema(schema).dropTable('authors'),
    },
    '002_books': {
      up: (k) =>
        k.schema.withSchema(schema).createTable('books', (t) => {
          t.increments('id')
          t.integer('author_id').notNullable().references('id').inTable(`${schema}.authors`)
          t.text('title').notNullable()
          t.jsonb('meta')
        }),
      down: (k) => k.schema.withSchema(schema).dropTable('books'),
    },
  }
  return {
    getMigrations: async () => Object.keys(migrations),
    getMigrationName: (name) => name,
    getMigration: async (name) => migrations[name]!,
  }
}

describe.each(faces)('knex on $name', (face) => {
  const pools = new Pools(face)
  const instances: Knex[] = []
  afterAll(async () => {
    await Promise.all(instances.splice(0).map((k) => k.destroy()))
    await pools.endAll()
  }, 10_000)

  async function withSchema(run: (db: Knex, schema: string) => Promise<void>, ownPool = false) {
    const db = ownPool
      ? knex({ client: clientFor(face), connection: { connectionString: databaseUrl() }, pool: { min: 0, max: 2 } })
      : knex({ client: 'pg', connectionPool: pools.make() })
    instances.push(db)
    const schema = uniqueName('knex')
    await db.raw('CREATE SCHEMA ??', [schema])
    try {
      const [, applied] = await db.migrate.latest({
        migrationSource: migrationSource(schema),
        schemaName: schema,
        tableName: 'knex_migrations',
      })
      expect(applied).toEqual(['001_authors', '002_books'])
      await run(db, schema)
    } finally {
      await db.raw('DROP SCHEMA ?? CASCADE', [schema])
    }
  }

  test('migrations, inserts with returning, and a join', async () => {
    await withSchema(async (db, schema) => {
      const [ada] = await db.withSchema(schema).table('authors').insert({ name: 'Ada' }).returning('*')
      expect(ada).toEqual({ id: 1, name: 'Ada' })
      await db
        .withSchema(schema)
        .table('books')
        .insert([
          { author_id: ada.id, title: 'Notes', meta: JSON.stringify({ pages: 10 }) },
          { author_id: ada.id, title: 'Sketches', meta: null },
        ])
      const rows = await db
        .withSchema(schema)
        .select('a.name', 'b.title', 'b.meta')
        .from('books as b')
        .join('authors as a', 'a.id', 'b.author_id')
        .orderBy('b.title')
      expect(rows).toEqual([
        { name: 'Ada', title: 'Notes', meta: { pages: 10 } },
        { name: 'Ada', title: 'Sketches', meta: null },
      ])
      const [{ count }] = await db.withSchema(schema).table('knex_migrations').count({ count: '*' })
      expect(Number(count)).toBe(2)
    })
  })

  test('a transaction commits, and one that throws rolls back', async () => {
    await withSchema(async (db, schema) => {
      await db.transaction(async (trx) => {
        await trx.withSchema(schema).table('authors').insert({ name: 'kept' })
      })
      await expect(
        db.transaction(async (trx) => {
          await trx.withSchema(schema).table('authors').insert({ name: 'dropped' })
          const seen = await trx.withSchema(schema).table('authors').where({ name: 'dropped' })
          expect(seen).toHaveLength(1)
          throw new Error('undo')
        }),
      ).rejects.toThrow('undo')
      expect(await db.withSchema(schema).table('authors').select('name')).toEqual([{ name: 'kept' }])
    })
  })

  test('.stream() yields the rows one by one (Knex opening connections with the face\'s Client)', async () => {
    await withSchema(async (db, schema) => {
      await db
        .withSchema(schema)
        .table('authors')
        .insert(Array.from({ length: 250 }, (_, i) => ({ name: `author ${i}` })))
      const names: string[] = []
      for await (const row of db.withSchema(schema).table('authors').select('name').orderBy('id').stream()) {
        names.push((row as { name: string }).name)
      }
      expect(names).toHaveLength(250)
      expect(names[249]).toBe('author 249')
    }, true)
  })
})
