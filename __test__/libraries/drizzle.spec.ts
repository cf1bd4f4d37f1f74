// drizzle-orm's node-postgres driver as its users run it: a migration folder applied by its
// migrator, typed inserts/selects with a join, a transaction that rolls back, raw sql.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { eq, sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import { integer, pgSchema, serial, text, timestamp } from 'drizzle-orm/pg-core'
import { afterAll, describe, expect } from 'vitest'

import { faces, Pools, test, uniqueName } from './faces'

/** The tables of one test, in a schema of its own. */
function tablesIn(schemaName: string) {
  const schema = pgSchema(schemaName)
  const authors = schema.table('authors', {
    id: serial('id').primaryKey(),
    name: text('name').notNull(),
  })
  const books = schema.table('books', {
    id: serial('id').primaryKey(),
    authorId: integer('author_id')
      .notNull()
      .references(() => authors.id),
    title: text('title').notNull(),
    publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }),
  })
  return { authors, books }
}

/** A drizzle-kit-shaped migrations folder (journal + one .sql file with statement breakpoints). */
function migrationsFolder(schemaName: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgtide-drizzle-'))
  mkdirSync(path.join(dir, 'meta'))
  const entries = [{ idx: 0, version: '7', when: 1_700_000_000_000, tag: '0000_init', breakpoints: true }]
  const journal = { version: '7', dialect: 'postgresql', entries }
  writeFileSync(path.join(dir, 'meta', '_journal.json'), JSON.stringify(journal))
  writeFileSync(
    path.join(dir, '0000_init.sql'),
    [
      `CREATE SCHEMA IF NOT EXISTS "${schemaName}";`,
      `CREATE TABLE "${schemaName}"."authors" ("id" serial PRIMARY KEY, "name" text NOT NULL);`,
      `CREATE TABLE "${schemaName}"."books" ("id" serial PRIMARY KEY, ` +
        `"author_id" integer NOT NULL REFERENCES "${schemaName}"."authors"("id"), ` +
        `"title" text NOT NULL, "published_at" timestamp with time zone);`,
    ].join('\n--> statement-breakpoint\n'),
  )
  return dir
}

describe.each(faces)('drizzle-orm (node-postgres) on $name', (face) => {
  const pools = new Pools(face)
  afterAll(() => pools.endAll(), 10_000)

  async function withMigratedSchema(run: (db: ReturnType<typeof drizzle>, schemaName: string) => Promise<void>) {
    const pool = pools.make()
    const db = drizzle({ client: pool })
    const schemaName = uniqueName('drizzle')
    const folder = migrationsFolder(schemaName)
    try {
      await migrate(db, { migrationsFolder: folder, migrationsSchema: schemaName, migrationsTable: 'migrations' })
      await run(db, schemaName)
    } finally {
      rmSync(folder, { recursive: true, force: true })
      await pool.query(`DROP SCHEMA IF EXISTS "${schemaName}" CASCADE`)
    }
  }

  test('migrate(), then inserts and a join through the query builder', async () => {
    await withMigratedSchema(async (db, schemaName) => {
      const { authors, books } = tablesIn(schemaName)
      const [ada] = await db.insert(authors).values({ name: 'Ada' }).returning()
      const when = new Date('2024-05-06T07:08:09.123Z')
      await db.insert(books).values([
        { authorId: ada!.id, title: 'Notes', publishedAt: when },
        { authorId: ada!.id, title: 'Sketches', publishedAt: null },
      ])
      const rows = await db
        .select({ author: authors.name, title: books.title, publishedAt: books.publishedAt })
        .from(books)
        .innerJoin(authors, eq(books.authorId, authors.id))
        .orderBy(books.title)
      expect(rows).toEqual([
        { author: 'Ada', title: 'Notes', publishedAt: when },
        { author: 'Ada', title: 'Sketches', publishedAt: null },
      ])
      // Both ids are named "id": drizzle reads rows in array mode, by position.
      const ids = await db
        .select({ authorId: authors.id, bookId: books.id })
        .from(books)
        .innerJoin(authors, eq(books.authorId, authors.id))
        .orderBy(books.id)
      expect(ids).toEqual([
        { authorId: ada!.id, bookId: 1 },
        { authorId: ada!.id, bookId: 2 },
      ])
      const migrations = await db.execute(sql`SELECT count(*)::int AS n FROM ${sql.identifier(schemaName)}.migrations`)
      expect(migrations.rows).toEqual([{ n: 1 }])
    })
  })

  test('a transaction commits, and one that throws rolls back', async () => {
    await withMigratedSchema(async (db, schemaName) => {
      const { authors } = tablesIn(schemaName)
      await db.transaction(async (tx) => {
        await tx.insert(authors).values({ name: 'kept' })
      })
      await expect(
        db.transaction(async (tx) => {
          await tx.insert(authors).values({ name: 'dropped' })
          const seen = await tx.select().from(authors).where(eq(authors.name, 'dropped'))
          expect(seen).toHaveLength(1)
          throw new Error('undo')
        }),
      ).rejects.toThrow('undo')
      const names = await db.select({ name: authors.name }).from(authors)
      expect(names).toEqual([{ name: 'kept' }])
    })
  })

  test('raw sql with parameters', async () => {
    const pool = pools.make()
    const db = drizzle({ client: pool })
    const result = await db.execute(sql`SELECT ${7}::int AS n, ${'x'}::text AS word`)
    expect(result.rows).toEqual([{ n: 7, word: 'x' }])
  })
})
