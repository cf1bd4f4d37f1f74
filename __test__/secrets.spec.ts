// The password never shows: not in the error a malformed connection string gives (whatever is
// wrong with it: a misspelt scheme, a key that is the password, a URI missing its '@'), not in
// String(error), util.inspect(error) or its JSON, and not when pgtide/pg's Pool is inspected.

import util from 'node:util'

import { describe, expect, it } from 'vitest'

import { AsyncConnection, Connection, ProgrammingError } from '../dist/index.js'
import { Pool } from '../dist/pg.js'

const SECRET = 'Vq9-sec-ret-Wk'

/** Malformed strings; `<pw>` stands for the password. */
const MALFORMED = [
  'postgress://u:<pw>@127.0.0.1/db',
  'postgre://u:<pw>@127.0.0.1/db',
  'pg://u:<pw>@127.0.0.1/db',
  'POSTGRES://u:<pw>@127.0.0.1/db',
  'PostgreSQL://u:<pw>@127.0.0.1/db',
  'postgres:/u:<pw>@127.0.0.1/db',
  'postgres:u:<pw>@127.0.0.1/db',
  'postgres//u:<pw>@127.0.0.1/db',
  '://u:<pw>@127.0.0.1/db',
  'u:<pw>@127.0.0.1/db',
  'jdbc:postgresql://127.0.0.1/db?user=u&password=<pw>',
  '<pw>',
  '<pw>=1',
  'host=127.0.0.1 <pw>',
  'host=127.0.0.1 <pw>=x',
  "host=127.0.0.1 <pw>='unterminated",
  'password <pw>',
  'password=two <pw>',
  'password=two <pw>=x',
  "password=<pw>' tail",
  'port=<pw>',
  'host=postgres://u:<pw>@127.0.0.1/db',
  'dbname=postgresql://u:<pw>@127.0.0.1/db',
  'host=u:<pw>@127.0.0.1',
  'postgres://u:<pw>',
  'postgres://u:<pw>/db',
  'postgres://u:two/<pw>@127.0.0.1/db',
  'postgres://u:two/x?<pw>@127.0.0.1',
  'postgres://u:two/x?<pw>=1@127.0.0.1',
  'postgres://[u:<pw>',
  'postgres://u:<pw>%zz@127.0.0.1/db',
  'postgres://u:<pw>%ff@127.0.0.1/db',
  'postgres://127.0.0.1/db?<pw>',
  'postgres://127.0.0.1/db?<pw>=x',
  'postgres://127.0.0.1/db?<pw>=%zz',
  'postgres://u:<pw>@127.0.0.1:port/db',
  'postgres://u:<pw>@[::1/db',
  'postgres://u:<pw>@127.0.0.1/db?x',
  'postgres://u:<pw>@127.0.0.1/db?sslmode=on',
]

const cases = MALFORMED.map((template) => template.replaceAll('<pw>', SECRET))

/** Every way an error is shown. */
function shown(error: unknown): string {
  const e = error as Error
  return [e.message, String(e), e.stack, util.inspect(e), JSON.stringify(e)].join('\n')
}

describe('a malformed connection string never shows the password', () => {
  it('the cases hold the password', () => {
    for (const conninfo of cases) expect(conninfo).toContain(SECRET)
  })

  for (const conninfo of cases) {
    it(conninfo.replace(SECRET, '<secret>'), async () => {
      let syncError: unknown
      try {
        Connection.connect(conninfo).close()
      } catch (error) {
        syncError = error
      }
      const asyncError = await AsyncConnection.connect(conninfo).then(
        (conn) => conn.close(),
        (error: unknown) => error,
      )
      for (const error of [syncError, asyncError]) {
        expect(error).toBeInstanceOf(ProgrammingError)
        expect(shown(error)).not.toContain(SECRET)
        expect(shown(error)).not.toContain('sec-ret')
      }
    })
  }

  it('a URI with a misspelt scheme says the scheme is wrong', () => {
    for (const [conninfo, scheme] of [
      [`postgress://u:${SECRET}@h/db`, 'postgress'],
      [`pg://u:${SECRET}@h/db`, 'pg'],
      [`POSTGRES://u:${SECRET}@h/db`, 'POSTGRES'],
    ]) {
      expect(() => Connection.connect(conninfo)).toThrow(
        `the scheme "${scheme}" is not postgres:// or postgresql://`,
      )
    }
    expect(() => Connection.connect(`postgres:/u:${SECRET}@h/db`)).toThrow(
      'does not start with postgres:// or postgresql://',
    )
  })
})

describe("pgtide/pg's Pool keeps the password out of sight", () => {
  it('options.password and options.connectionString are usable but not shown', async () => {
    const byFields = new Pool({ user: 'root', password: SECRET, host: '127.0.0.1', database: 'test', min: 0 })
    const url = `postgres://root:${SECRET}@127.0.0.1:5432/test`
    const byString = new Pool({ connectionString: url, min: 0 })
    try {
      expect(byFields.options.password).toBe(SECRET)
      expect(byString.options.connectionString).toBe(url)
      for (const pool of [byFields, byString]) {
        expect(util.inspect(pool, { depth: 10 })).not.toContain(SECRET)
        expect(util.inspect(pool.options)).not.toContain(SECRET)
        expect(JSON.stringify(pool.options)).not.toContain(SECRET)
        expect(JSON.stringify({ ...pool.options })).not.toContain(SECRET)
      }
      expect(byFields.options).toMatchObject({ user: 'root', host: '127.0.0.1', database: 'test', max: 10, min: 0 })
      // Writable, as in pg (a library may set it before connecting).
      byFields.options.password = 'other'
      expect(byFields.options.password).toBe('other')
    } finally {
      await Promise.all([byFields.end(), byString.end()])
    }
  })
})
