// Pool and connection options are checked when a pool is made, before anything connects: these
// run with no server (vitest.offline.config.mts). Pools are made with `open: false` on a port
// nothing listens on, and each refusal is a typed error that names its option.

import { describe, expect, it } from 'vitest'

import {
  AsyncConnectionPool,
  AsyncNullConnectionPool,
  ConnectionPool,
  NullConnectionPool,
  ProgrammingError,
} from '../../dist/index.js'

/** Nothing listens on port 1: a pool that tried to connect would only collect errors. */
const NOWHERE = 'postgres://nobody@127.0.0.1:1/none?connect_timeout=1'

type AnyPool = AsyncConnectionPool | AsyncNullConnectionPool | ConnectionPool | NullConnectionPool
type Make = (options: Record<string, unknown>, conninfo?: string) => AnyPool

const kinds: [string, Make][] = [
  ['AsyncConnectionPool', (o, c = NOWHERE) => new AsyncConnectionPool(c, { open: false, ...o })],
  ['ConnectionPool', (o, c = NOWHERE) => new ConnectionPool(c, { open: false, ...o })],
  ['AsyncNullConnectionPool', (o, c = NOWHERE) => new AsyncNullConnectionPool(c, { open: false, ...o })],
  ['NullConnectionPool', (o, c = NOWHERE) => new NullConnectionPool(c, { open: false, ...o })],
]

/** The error `make` throws, or a failure if it makes a pool. */
function refusal(make: () => unknown): Error {
  try {
    make()
  } catch (error) {
    return error as Error
  }
  throw new Error('the options were accepted')
}

describe.each(kinds)('%s', (kind, make) => {
  const isNull = kind.includes('Null')

  it("takes the engine's defaults and connects to nothing", () => {
    const pool = make({})
    expect(pool.closed).toBe(true)
    expect([pool.minSize, pool.maxSize]).toEqual(isNull ? [0, 0] : [4, 4])
    expect(pool.getStats()).toMatchObject({ connectionsNum: 0, connectionsErrors: 0 })
  })

  it.each<[Record<string, unknown>, ErrorConstructor, RegExp]>([
    [{ timeout: 'soon' }, TypeError, /pool option 'timeout' must be a number/],
    [{ open: 'yes' }, TypeError, /pool option 'open' must be a boolean/],
    [{ configure: 'yes' }, TypeError, /pool option 'configure' must be a function/],
    [{ logLevel: 'loud' }, TypeError, /pool option 'logLevel'/],
    [{ colour: 'blue' }, TypeError, /unknown pool option 'colour'/],
    [{ timeout: -1 }, RangeError, /'timeout'/],
    [{ maxIdle: Number.NaN }, RangeError, /'maxIdle'/],
    [{ maxWaiting: 1.5 }, RangeError, /'maxWaiting' must be an integer/],
    [{ pipelining: 'yes' }, TypeError, /pool option 'pipelining' must be a boolean or a number/],
    [{ pipelining: 65 }, RangeError, /'pipelining' must be an integer from 0 to 64/],
    [{ pipelining: 2.5 }, RangeError, /'pipelining'/],
    [{ idleOrder: 3 }, TypeError, /pool option 'idleOrder' must be a string/],
    [{ idleOrder: 'random' }, RangeError, /pool option 'idleOrder' must be 'fifo' or 'lifo', not "random"/],
    [{ numWorkers: 0 }, RangeError, /numWorkers must be at least 1/],
    [{ numWorkers: 2 ** 31 }, RangeError, /'numWorkers'/],
    [{ maxSize: -1 }, RangeError, /maxSize cannot be negative/],
    [{ connectionOptions: { autocommit: 'yes' } }, TypeError, /'autocommit' must be a boolean/],
    [{ connectionOptions: { statementCacheSize: -1 } }, RangeError, /'statementCacheSize' must be an integer from 0 to 1000000/],
    [{ connectionOptions: { colour: 'blue' } }, TypeError, /unknown connection option 'colour'/],
  ])('refuses %j with a %o naming the option', (options, Class, message) => {
    const error = refusal(() => make(options))
    expect(error).toBeInstanceOf(Class)
    expect(error.message).toMatch(message)
  })

  it('applies the size rules of its kind', () => {
    if (isNull) {
      expect(refusal(() => make({ minSize: 1 })).message).toMatch(/null pools must have minSize = 0/)
      expect(make({ maxSize: 3 }).maxSize).toBe(3)
    } else {
      const error = refusal(() => make({ minSize: 4, maxSize: 2 }))
      expect(error).toBeInstanceOf(RangeError)
      expect(error.message).toMatch(/maxSize must be greater or equal than minSize/)
      expect(refusal(() => make({ minSize: 0 })).message).toMatch(/if minSize is 0 maxSize must be greater than 0/)
      expect(make({ minSize: 2 }).maxSize).toBe(2)
    }
  })

  it('reports a malformed conninfo as a ProgrammingError naming the key, never quoting a secret', () => {
    const misspelt = refusal(() => make({}, 'host=x dbnmae=shop'))
    expect(misspelt).toBeInstanceOf(ProgrammingError)
    expect(misspelt.message).toMatch(/"dbnmae"/)
    const secret = refusal(() => make({}, 'host=x password=two Zq7secretXw'))
    expect(secret).toBeInstanceOf(ProgrammingError)
    expect(secret.message).not.toContain('secret')
    const address = refusal(() => make({}, 'hostaddr=db.example'))
    expect(address.message).toMatch(/hostaddr/)
  })
})
