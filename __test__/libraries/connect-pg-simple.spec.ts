// connect-pg-simple, express-session's store, on the application's pool: `createTableIfMissing`
// creates its table (a file of several statements, sent as one query), then a session is set,
// read back, touched and destroyed through the store's callback API (what express-session calls).

import { promisify } from 'node:util'

import connectPgSimple from 'connect-pg-simple'
import session from 'express-session'
import { afterAll, describe, expect } from 'vitest'

import { faces, Pools, test, uniqueName } from './faces'

const PgStore = connectPgSimple(session)

describe.each(faces)('connect-pg-simple on $name', (face) => {
  const pools = new Pools(face)
  afterAll(() => pools.endAll(), 10_000)

  test('createTableIfMissing, then set, get, touch and destroy a session', async () => {
    const pool = pools.make()
    const schemaName = uniqueName('sessions')
    await pool.query(`CREATE SCHEMA "${schemaName}"`)
    const errors: unknown[] = []
    const store = new PgStore({
      pool,
      schemaName,
      tableName: 'session',
      createTableIfMissing: true,
      pruneSessionInterval: false,
      errorLog: (...args: unknown[]) => errors.push(args),
    })
    const set = promisify(store.set.bind(store))
    const get = promisify(store.get.bind(store))
    const touch = promisify(store.touch.bind(store))
    const destroy = promisify(store.destroy.bind(store))
    try {
      const expires = new Date(Date.now() + 60_000)
      const sess = { cookie: { originalMaxAge: 60_000, expires: expires.toISOString() }, user: { id: 7, name: 'Ada' } }
      await set('sid-1', sess)
      expect(await get('sid-1')).toEqual(sess)
      expect(await get('no-such-sid')).toBeUndefined()

      const later = new Date(Date.now() + 120_000)
      await touch('sid-1', { ...sess, cookie: { ...sess.cookie, expires: later.toISOString() } })
      const { rows } = await pool.query(`SELECT expire FROM "${schemaName}".session WHERE sid = $1`, ['sid-1'])
      expect(Math.abs(rows[0].expire.getTime() - later.getTime())).toBeLessThan(1_000)

      await destroy('sid-1')
      expect(await get('sid-1')).toBeUndefined()
      expect(errors).toEqual([])
    } finally {
      await store.close() // the pool is the application's: close() leaves it open
      await pool.query(`DROP SCHEMA IF EXISTS "${schemaName}" CASCADE`)
    }
  })
})
