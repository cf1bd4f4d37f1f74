// node-pg-migrate's programmatic runner on a client the application checked out of its pool
// (`dbClient`): a .sql migration file with several statements (run as one query, inside the
// runner's transaction and advisory lock), a second one, then down again.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { runner } from 'node-pg-migrate'
import { afterAll, describe, expect } from 'vitest'

import { faces, Pools, test, uniqueName } from './faces'

function migrationsDir(schema: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgtide-npm-'))
  writeFileSync(
    path.join(dir, '1700000000000_init.sql'),
    `-- Up Migration
CREATE TABLE "${schema}".accounts (id serial PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE INDEX accounts_email_lower ON "${schema}".accounts (lower(email));
INSERT INTO "${schema}".accounts (email) VALUES ('a@example.com'), ('b@example.com');
-- Down Migration
DROP TABLE "${schema}".accounts;
`,
  )
  writeFileSync(
    path.join(dir, '1700000000001_flags.sql'),
    `-- Up Migration
ALTER TABLE "${schema}".accounts ADD COLUMN active boolean NOT NULL DEFAULT true;
UPDATE "${schema}".accounts SET active = false WHERE email = 'b@example.com';
-- Down Migration
ALTER TABLE "${schema}".accounts DROP COLUMN active;
`,
  )
  return dir
}

describe.each(faces)('node-pg-migrate on $name', (face) => {
  const pools = new Pools(face)
  afterAll(() => pools.endAll(), 10_000)

  test('runner({ dbClient }) applies multi-statement .sql migrations up, then down', async () => {
    const pool = pools.make()
    const schema = uniqueName('pgmigrate')
    const dir = migrationsDir(schema)
    const client = await pool.connect()
    const common = {
      dbClient: client,
      dir,
      migrationsTable: 'pgmigrations',
      migrationsSchema: schema,
      createMigrationsSchema: true,
      count: Infinity,
      log: () => {},
    }
    try {
      const up = await runner({ ...common, direction: 'up' })
      expect(up.map((m: { name: string }) => m.name)).toEqual(['1700000000000_init', '1700000000001_flags'])
      const { rows } = await client.query(`SELECT email, active FROM "${schema}".accounts ORDER BY id`)
      expect(rows).toEqual([
        { email: 'a@example.com', active: true },
        { email: 'b@example.com', active: false },
      ])
      const recorded = await client.query(`SELECT name FROM "${schema}".pgmigrations ORDER BY id`)
      expect(recorded.rows.map((r: { name: string }) => r.name)).toEqual(['1700000000000_init', '1700000000001_flags'])

      const down = await runner({ ...common, direction: 'down' })
      expect(down.map((m: { name: string }) => m.name)).toEqual(['1700000000001_flags', '1700000000000_init'])
      const left = await client.query('SELECT to_regclass($1)::text AS t', [`"${schema}".accounts`])
      expect(left.rows).toEqual([{ t: null }])
    } finally {
      rmSync(dir, { recursive: true, force: true })
      client.release(true) // a failed run may leave it inside an aborted transaction: discard it
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    }
  })
})
