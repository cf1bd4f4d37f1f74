// pgtide/pg where a library's types ask for @types/pg's own classes (Drizzle's node-postgres
// driver: `pg.Pool | pg.PoolClient | pg.Client`). Checked by types.spec.ts under nodenext; never
// run. Drizzle's own declarations do not pass skipLibCheck: false (they need mysql2's types and
// the DOM's TextDecoder); types.spec.ts sets its errors aside, and only those.
//
// A pgtide/pg Pool is not an @types/pg Pool: @types/pg's clients have members pgtide/pg does
// not have and will not pretend to have: `connection` (pg's protocol object over its socket)
// and copyFrom/copyTo/pauseDrain/resumeDrain (declared by @types/pg, absent from pg itself).
// The `@ts-expect-error`s below say so; the day these lines compile, make them plain lines.

import { drizzle } from 'drizzle-orm/node-postgres'
import type * as nodePg from 'pg'
import { Pool } from 'pgtide/pg'

export async function withDrizzle(url: string): Promise<number> {
  const pool = new Pool({ connectionString: url })
  // @ts-expect-error not an @types/pg Pool (see above)
  const asPg: nodePg.Pool = pool
  // @ts-expect-error not an @types/pg Pool (see above)
  const db = drizzle(pool)
  await db.execute('SELECT 1')
  // What works today: Drizzle runs on it (__test__/libraries/drizzle.spec.ts), given as pg's type.
  const cast = drizzle({ client: pool as unknown as nodePg.Pool })
  await cast.execute('SELECT 1')
  await pool.end()
  return asPg.totalCount
}
