import { describe, expect, it } from 'vitest'

import { AsyncConnection, Connection } from '../dist/index.js'
import { databaseUrl } from './helpers'

describe('connectionOptions', () => {
  const bad: [unknown, ErrorConstructor, RegExp][] = [
    [{ autocommit: 'yes' }, TypeError, /'autocommit' must be a boolean/],
    [{ statementCacheSize: '10' }, TypeError, /'statementCacheSize' must be a number/],
    [{ statementCacheSize: -1 }, RangeError, /'statementCacheSize' must be an integer from 0/],
    [{ statementCacheSize: 2.5 }, RangeError, /'statementCacheSize'/],
    [{ statementCacheSize: Number.NaN }, RangeError, /'statementCacheSize'/],
    [{ onNotice: 'log' }, TypeError, /'onNotice' must be a function/],
    [{ onNotification: {} }, TypeError, /'onNotification' must be a function/],
    [{ colour: 'blue' }, TypeError, /unknown connection option 'colour'/],
    ['autocommit', TypeError, /connection options must be an object/],
  ]

  it.each(bad)('%j is refused, naming the option (async)', async (options, Class, message) => {
    // @ts-expect-error: deliberately wrong
    const error = await AsyncConnection.connect(databaseUrl(), options).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Class)
    expect((error as Error).message).toMatch(message)
  })

  it.each(bad)('%j is refused, naming the option (sync)', (options, Class, message) => {
    // @ts-expect-error: deliberately wrong
    expect(() => Connection.connect(databaseUrl(), options)).toThrow(Class)
    // @ts-expect-error: deliberately wrong
    expect(() => Connection.connect(databaseUrl(), options)).toThrow(message)
  })

  it('accepts the documented values', async () => {
    const conn = await AsyncConnection.connect(databaseUrl(), {
      autocommit: true,
      statementCacheSize: 0,
      onNotice: () => {},
      onNotification: () => {},
    })
    expect(conn.autocommit).toBe(true)
    await conn.close()
  })
})
