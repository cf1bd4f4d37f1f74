// pgtide/pg against node-postgres itself: each behaviour libraries rely on runs on both faces,
// so a test proves pgtide matches pg rather than itself.

import { afterEach, describe, expect, it } from 'vitest'

import * as pg from 'pg'
// @ts-expect-error: pg-cursor ships no types (the pg-query-stream package's describe its Cursor)
import PgCursor from 'pg-cursor'
import PgQueryStream from 'pg-query-stream'

import * as tide from '../dist/pg.js'
import { databaseUrl } from './helpers'

type Face = { name: string; Pool: typeof pg.Pool; Client: typeof pg.Client }
const faces: Face[] = [
  { name: 'pg', Pool: pg.Pool, Client: pg.Client },
  { name: 'pgtide/pg', Pool: tide.Pool as unknown as typeof pg.Pool, Client: tide.Client as unknown as typeof pg.Client },
]

/** pg's undocumented `processID`, which libraries read. */
const processID = (client: unknown) => (client as { processID: number }).processID

const ends: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await Promise.all(ends.splice(0).map((end) => end().catch(() => undefined)))
})

describe.each(faces)('$name', ({ name, Pool, Client }) => {
  function pool(config: pg.PoolConfig = {}): pg.Pool {
    const p = new Pool({ connectionString: databaseUrl(), max: 2, ...config })
    ends.push(() => (p.ending ? Promise.resolve() : p.end()))
    return p
  }

  it('a standalone Client connects, queries, escapes and ends with an end event', async () => {
    const client = new Client({ connectionString: databaseUrl() })
    const ended = new Promise((resolve) => client.once('end', resolve))
    await client.connect()
    expect(typeof processID(client)).toBe('number')
    const literal = client.escapeLiteral("it's a \\ test")
    const ident = client.escapeIdentifier('we"ird')
    const { rows } = await client.query(`SELECT ${literal} AS ${ident}`)
    expect(rows).toEqual([{ 'we"ird': "it's a \\ test" }])
    expect(client.getTransactionStatus()).toBe('I')
    await client.query('BEGIN')
    expect(client.getTransactionStatus()).toBe('T')
    await client.query('SELECT 1/0').catch(() => undefined)
    // pg settles the failed query before it reads the status that follows: 'E' only for pgtide.
    if (name === 'pgtide/pg') expect(client.getTransactionStatus()).toBe('E')
    await client.query('ROLLBACK')
    await client.end()
    await ended
    await expect(client.query('SELECT 1')).rejects.toThrow(/not queryable/)
  })

  it("emits 'notification' and 'notice' to a client's listeners", async () => {
    const p = pool()
    const client = await p.connect()
    const notifications: { channel: string; payload: string }[] = []
    const notices: { message: string }[] = []
    client.on('notification', (n) => notifications.push({ channel: n.channel, payload: n.payload ?? '' }))
    client.on('notice', (n) => notices.push({ message: n.message ?? '' }))
    await client.query('LISTEN pgface')
    await p.query("SELECT pg_notify('pgface', 'hello')")
    await client.query("DO $$ BEGIN RAISE NOTICE 'careful'; END $$")
    await expect.poll(() => notifications, { timeout: 5000 }).toEqual([{ channel: 'pgface', payload: 'hello' }])
    await expect.poll(() => notices.map((n) => n.message), { timeout: 5000 }).toEqual(['careful'])
    await client.query('UNLISTEN pgface')
    client.release()
  })

  it("calls callbacks as pg does: null error from a client's query, undefined from the pool's", async () => {
    const p = pool()
    const queried = await new Promise<unknown[]>((resolve) => p.query('SELECT 1 AS one', (...args: unknown[]) => resolve(args)))
    expect(queried[0]).toBeUndefined()
    expect((queried[1] as pg.QueryResult).rows).toEqual([{ one: 1 }])
    const connected = await new Promise<unknown[]>((resolve) => p.connect((...args: unknown[]) => resolve(args)))
    expect(connected[0]).toBeUndefined()
    expect(typeof connected[2]).toBe('function')
    const client = connected[1] as pg.PoolClient
    const onClient = await new Promise<unknown[]>((resolve) => client.query('SELECT 2 AS two', (...args: unknown[]) => resolve(args)))
    expect(onClient[0]).toBeNull()
    expect((onClient[1] as pg.QueryResult).rows).toEqual([{ two: 2 }])
    ;(connected[2] as () => void)()
    const failed = await new Promise<unknown[]>((resolve) => p.query('SELECT nope', (...args: unknown[]) => resolve(args)))
    expect((failed[0] as { code: string }).code).toBe('42703')
  })

  it('hands out one client object per connection, for its whole life', async () => {
    const p = pool({ max: 1 })
    const first = await p.connect()
    const pid = processID(first)
    first.release()
    const second = await p.connect()
    expect(processID(second)).toBe(pid)
    expect(second).toBe(first)
    second.release()
    expect(() => second.release()).toThrow(/already been released/)
  })

  it("emits 'acquire' and 'release' for pool.query() too", async () => {
    const p = pool()
    const events: string[] = []
    p.on('acquire', () => events.push('acquire'))
    p.on('release', () => events.push('release'))
    await p.query('SELECT 1')
    expect(events).toEqual(['acquire', 'release'])
  })

  it('end() lets queries already running finish', async () => {
    const p = pool({ max: 5 })
    const running = [1, 2, 3, 4, 5].map((i) => p.query('SELECT pg_sleep(0.2), $1::int AS i', [i]))
    await new Promise((resolve) => setTimeout(resolve, 50))
    await p.end()
    const settled = await Promise.allSettled(running)
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'])
    await expect(p.query('SELECT 1')).rejects.toThrow(/Cannot use a pool after calling end on the pool/)
  })

  it('replaces a connection after maxUses checkouts', async () => {
    const p = pool({ max: 1, maxUses: 2 })
    const pids: number[] = []
    for (let i = 0; i < 3; i++) {
      const client = await p.connect()
      pids.push((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid)
      client.release()
    }
    expect(pids[0]).toBe(pids[1])
    expect(pids[2]).not.toBe(pids[0])
  })

  it('sets statement_timeout at connection start, and takes the password from a function', async () => {
    const p = pool({ statement_timeout: 150, password: async () => 'unused-with-trust-auth' })
    const { rows } = await p.query('SHOW statement_timeout')
    expect(rows[0].statement_timeout).toBe('150ms')
    await expect(p.query('SELECT pg_sleep(2)')).rejects.toMatchObject({ code: '57014' })
  })

  it("runs 'connect' listeners and onConnect before a new connection's first use", async () => {
    const onConnect = async (client: pg.PoolClient) => void (await client.query("SET application_name = 'from-onconnect'"))
    const p = pool({ onConnect } as unknown as pg.PoolConfig)
    p.on('connect', (client) => void client.query('SET search_path TO pg_catalog, public'))
    const { rows } = await p.query('SELECT current_setting($1) AS name, current_setting($2) AS path', ['application_name', 'search_path'])
    expect(rows).toEqual([{ name: 'from-onconnect', path: 'pg_catalog, public' }])
  })

  it('fails a query past query_timeout with pg’s message', async () => {
    const p = pool()
    const client = await p.connect()
    await expect(client.query({ text: 'SELECT pg_sleep(3)', query_timeout: 100 } as pg.QueryConfig)).rejects.toThrow('Query read timeout')
    client.release(name === 'pg') // pg leaves the connection busy: give it back broken
  })
})

describe('pgtide/pg only', () => {
  it('refuses configuration keys it cannot honour, naming them', () => {
    expect(() => new tide.Pool({ binary: true } as never)).toThrow(/option 'binary'/)
    expect(() => new tide.Pool({ colour: 'blue' } as never)).toThrow(/unknown Pool option 'colour'/)
    expect(() => new tide.Pool({ client_encoding: 'LATIN1' })).toThrow(/UTF8 only/)
    expect(() => new tide.Pool({ binary: false, keepAlive: true, allowExitOnIdle: true } as never).end()).not.toThrow()
  })

  it('exports escapeIdentifier and escapeLiteral as pg does', () => {
    for (const value of ['plain', "it's", 'back\\slash', 'both \\ and \'', '']) {
      expect(tide.escapeLiteral(value)).toBe(pg.escapeLiteral(value))
      expect(tide.escapeIdentifier(value)).toBe(pg.escapeIdentifier(value))
    }
  })
})

describe.each(faces)('$name: queries in pg’s terms', ({ name, Pool }) => {
  function pool(config: pg.PoolConfig = {}): pg.Pool {
    const p = new Pool({ connectionString: databaseUrl(), max: 2, ...config })
    ends.push(() => (p.ending ? Promise.resolve() : p.end()))
    return p
  }

  it('runs a script of several statements without parameters, one result each', async () => {
    const p = pool()
    const results = (await p.query('SELECT 1 AS a; SELECT 2 AS b, 3 AS c; CREATE TEMP TABLE t_script (x int)')) as unknown as pg.QueryResult[]
    expect(results.map((r) => [r.command, r.rows])).toEqual([
      ['SELECT', [{ a: 1 }]],
      ['SELECT', [{ b: 2, c: 3 }]],
      ['CREATE', []],
    ])
    const client = await p.connect()
    await client.query('BEGIN; CREATE TEMP TABLE t_tx (x int); INSERT INTO t_tx VALUES (1), (2); COMMIT')
    expect((await client.query('SELECT count(*)::int AS n FROM t_tx')).rows).toEqual([{ n: 2 }])
    client.release()
  })

  it('keeps every column in rowMode array, repeated names too', async () => {
    const p = pool()
    const result = await p.query({ text: 'SELECT 1 AS id, 2 AS id, $1::text AS name', values: ['x'], rowMode: 'array' })
    expect(result.rows).toEqual([[1, 2, 'x']])
    expect(result.fields.map((f) => f.name)).toEqual(['id', 'id', 'name'])
  })

  it('applies per-query, pool and global type parsers to text values', async () => {
    const asText = { getTypeParser: () => (value: string) => value }
    const p = pool()
    const perQuery = await p.query({ text: "SELECT 5::int4 AS n, '2024-01-02'::date AS d, now() AS t", types: asText } as pg.QueryConfig)
    expect(typeof perQuery.rows[0].n).toBe('string')
    expect(perQuery.rows[0].d).toBe('2024-01-02')
    const bigints = { getTypeParser: (oid: number) => (oid === 20 ? BigInt : pg.types.getTypeParser(oid)) }
    const poolLevel = pool({ types: bigints } as pg.PoolConfig)
    expect((await poolLevel.query('SELECT 9007199254740993::int8 AS big, 1::int4 AS small')).rows).toEqual([{ big: 9007199254740993n, small: 1 }])
  })

  it('decodes values as pg does by default', async () => {
    const p = pool()
    const { rows } = await p.query(
      "SELECT true AS b, 1.5::float8 AS f, 12345678901234::int8 AS i8, 1.10::numeric AS n, '{1,NULL,3}'::int[] AS arr, '{\"a\":1}'::jsonb AS j, '\\x0102'::bytea AS bytes, NULL::text AS nothing",
    )
    expect(rows).toEqual([{ b: true, f: 1.5, i8: '12345678901234', n: '1.10', arr: [1, null, 3], j: { a: 1 }, bytes: Buffer.from([1, 2]), nothing: null }])
  })

  it('reads a large result a batch at a time through pg-cursor and pg-query-stream from npm', async () => {
    const p = pool()
    const client = await p.connect()
    const cursor = client.query(new PgCursor('SELECT g AS n FROM generate_series(1, 2500) AS g WHERE g > $1', [0]))
    let total = 0
    for (let batch = await cursor.read(1000); batch.length > 0; batch = await cursor.read(1000)) total += batch.length
    await cursor.close()
    expect(total).toBe(2500)
    const stream = client.query(new PgQueryStream('SELECT g AS n FROM generate_series(1, 1234) AS g', [], { batchSize: 100 }))
    let streamed = 0
    for await (const row of stream) streamed += (row as { n: number }).n > 0 ? 1 : 0
    expect(streamed).toBe(1234)
    expect((await client.query('SELECT 1 AS after')).rows).toEqual([{ after: 1 }]) // the connection is free again
    client.release()
  })

  it('delivers a cursor’s server error to the cursor, and the client goes on', async () => {
    const p = pool()
    const client = await p.connect()
    const cursor = client.query(new PgCursor('SELECT 1/0'))
    await expect(cursor.read(10)).rejects.toMatchObject({ code: '22012' })
    expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
    client.release()
    if (name === 'pgtide/pg') expect(p.totalCount).toBeGreaterThan(0)
  })
})

describe('pgtide/pg Cursor and QueryStream', () => {
  it('reads in batches, stops early on close, and streams with backpressure', async () => {
    const p = new tide.Pool({ connectionString: databaseUrl(), max: 1 })
    ends.push(() => p.end())
    const client = await p.connect()
    const cursor = client.query(new tide.Cursor('SELECT g AS n, g::text AS s FROM generate_series(1, 10000) AS g', [], { rowMode: 'array' }))
    expect(await cursor.read(3)).toEqual([
      [1, '1'],
      [2, '2'],
      [3, '3'],
    ])
    await cursor.close()
    const stream = client.query(new tide.QueryStream('SELECT g AS n FROM generate_series(1, 5000) AS g', [], { batchSize: 500 }))
    let count = 0
    for await (const row of stream) {
      count += 1
      if (count === 1200) break // destroys the stream: its cursor closes
    }
    expect(count).toBe(1200)
    expect((await client.query('SELECT 7 AS seven')).rows).toEqual([{ seven: 7 }])
    client.release()
  })
})

describe.each(faces)('$name: a pool client’s end()', ({ Pool }) => {
  it('closes its connection and the pool opens another', async () => {
    const p = new Pool({ connectionString: databaseUrl(), max: 1 })
    ends.push(() => p.end())
    const client = await p.connect()
    const pid = processID(client)
    await (client as unknown as { end(): Promise<void> }).end()
    client.release() // still checked out until released, in pg as here
    const next = await p.connect()
    expect(processID(next)).not.toBe(pid)
    next.release()
  })
})

describe('pgtide/pg: a throwing connect listener', () => {
  it('is reported, and the connection still serves', async () => {
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    const p = new tide.Pool({ connectionString: databaseUrl(), max: 1 })
    ends.push(() => p.end())
    p.on('connect', () => {
      throw new Error('listener bug')
    })
    expect((await p.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await expect.poll(() => warnings.map((w) => w.message).join()).toMatch(/'connect' listener .* threw: Error: listener bug/)
    process.off('warning', onWarning)
  })
})
