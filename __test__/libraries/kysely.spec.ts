// Kysely's PostgresDialect as its users run it: migrations through its Migrator, a join, a
// transaction that commits and one that rolls back, and `.stream()`, which needs the dialect's
// `cursor` option (pg-cursor on pg; pgtide/pg's own Cursor on pgtide).

import { Kysely, Migrator, PostgresDialect, sql, type Generated, type Migration } from 'kysely'
import { afterAll, describe, expect } from 'vitest'

import { faces, Pools, test, uniqueName } from './faces'

interface Database {
  authors: { id: Generated<number>; name: string }
  books: { id: Generated<number>; author_id: number; title: string }
}

function migrations(schema: string): Record<string, Migration> {
  return {
    '001_authors': {
      up: (db) =>
        db.schema
          .withSchema(schema)
          .createTable('authors')
          .addColumn('id', 'serial', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .execute(),
    },
    '002_books': {
      up: (db) =>
        db.schema
          .withSchema(schema)
          .createTable('books')
          .addColumn('id', 'serial', (c) => c.primaryKey())
          .addColumn('author_id', 'integer', (c) => c.notNull().references(`${schema}.authors.id`))
          .addColumn('title', 'text', (c) => c.notNull())
          .execute(),
    },
  }
}

describe.each(faces)('kysely on $name', (face) => {
  const pools = new Pools(face)
  const instances: Kysely<Database>[] = []
  afterAll(async () => {
    // Kysely's destroy() ends the pool it was given.
    await Promise.all(instances.splice(0).map((db) => db.destroy()))
    await pools.endAll()
  }, 10_000)

  async function withSchema(run: (db: Kysely<Database>) => Promise<void>) {
    const pool = pools.make()
    const schema = uniqueName('kysely')
    const dialect = new PostgresDialect({ pool, ...(face.Cursor ? { cursor: face.Cursor } : {}) })
    const root = new Kysely<Database>({ dialect })
    instances.push(root)
    await sql`CREATE SCHEMA ${sql.id(schema)}`.execute(root)
    try {
      const migrator = new Migrator({
        db: root,
        provider: { getMigrations: async () => migrations(schema) },
        migrationTableSchema: schema,
      })
      const { error, results } = await migrator.migrateToLatest()
      expect(error).toBeUndefined()
      expect(results?.map((r) => [r.migrationName, r.status])).toEqual([
        ['001_authors', 'Success'],
        ['002_books', 'Success'],
      ])
      await run(root.withSchema(schema))
    } finally {
      await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(root)
    }
  }

  test('migrations, inserts with returning, and a join', async () => {
    await withSchema(async (db) => {
      const ada = await db.insertInto('authors').values({ name: 'Ada' }).returningAll().executeTakeFirstOrThrow()
      await db
        .insertInto('books')
        .values([
          { author_id: ada.id, title: 'Notes' },
          { author_id: ada.id, title: 'Sketches' },
        ])
        .execute()
      const rows = await db
        .selectFrom('books')
        .innerJoin('authors', 'authors.id', 'books.author_id')
        .select(['authors.name', 'books.title'])
        .orderBy('books.title')
        .execute()
      expect(rows).toEqual([
        { name: 'Ada', title: 'Notes' },
        { name: 'Ada', title: 'Sketches' },
      ])
    })
  })

  test('a transaction commits, and one that throws rolls back', async () => {
    await withSchema(async (db) => {
      await db.transaction().execute((trx) => trx.insertInto('authors').values({ name: 'kept' }).execute())
      await expect(
        db.transaction().execute(async (trx) => {
          await trx.insertInto('authors').values({ name: 'dropped' }).execute()
          expect(await trx.selectFrom('authors').where('name', '=', 'dropped').selectAll().execute()).toHaveLength(1)
          throw new Error('undo')
        }),
      ).rejects.toThrow('undo')
      expect(await db.selectFrom('authors').select('name').execute()).toEqual([{ name: 'kept' }])
    })
  })

  test('.stream() through the dialect cursor yields the rows in chunks', async () => {
    expect(face.Cursor, `${face.name} has no Cursor class for PostgresDialect's cursor option`).toBeTypeOf('function')
    await withSchema(async (db) => {
      await db
        .insertInto('authors')
        .values(Array.from({ length: 250 }, (_, i) => ({ name: `author ${i}` })))
        .execute()
      const names: string[] = []
      for await (const row of db.selectFrom('authors').select('name').orderBy('id').stream(40)) names.push(row.name)
      expect(names).toHaveLength(250)
      expect(names[249]).toBe('author 249')
    })
  })
})
