// COPY: copyFrom() from a Readable, an async generator, an iterable and copyRows(); a source
// or server failure aborts the COPY (no rows) and leaves the connection usable; copyTo() reads
// only as the consumer takes (the backend waits in ClientWrite meanwhile), in text, csv and
// binary; the sync connection and the pools.

import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnectionPool, ConnectionPool, DatabaseError, ProgrammingError, copyRows } from '../dist/index.js'
import { databaseUrl, eventually } from './helpers'
import { caught, openAsync, openSync } from './open'

const MILLION = 1_000_000
const TABLE = 'CREATE TEMP TABLE t (id int4, name text, at timestamptz)'

const pools: { close(): unknown }[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()))
})

/** `count` lines of COPY text, in chunks of `per` lines. */
function* textLines(count: number, per = 1000, throwAt = -1): Generator<string> {
  for (let i = 0; i < count; i += per) {
    if (throwAt >= 0 && i >= throwAt) throw new Error('the source broke')
    let chunk = ''
    for (let j = i; j < Math.min(count, i + per); j++) chunk += `${j}\tname ${j}\t2024-01-01 00:00:00+00\n`
    yield chunk
  }
}

async function* asyncLines(count: number, throwAt = -1): AsyncGenerator<Buffer> {
  for (const chunk of textLines(count, 1000, throwAt)) {
    await Promise.resolve()
    yield Buffer.from(chunk)
  }
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = []
  for await (const item of items) all.push(item)
  return all
}

async function countRows(conn: { query(sql: string): Promise<{ rows: { n: number }[] }> }): Promise<number> {
  return (await conn.query('SELECT count(*)::int4 AS n FROM t')).rows[0]!.n
}

describe('AsyncConnection.copyFrom', () => {
  it('copies 1,000,000 rows from a Readable', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec(TABLE)
    const copied = await conn.copyFrom('COPY t FROM STDIN', Readable.from(textLines(MILLION)))
    expect(copied).toBe(MILLION)
    expect(await countRows(conn)).toBe(MILLION)
  }, 60_000)

  it('copies 1,000,000 rows from an async generator', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec(TABLE)
    expect(await conn.copyFrom('COPY t FROM STDIN', asyncLines(MILLION))).toBe(MILLION)
    expect(await countRows(conn)).toBe(MILLION)
    const { rows } = await conn.query('SELECT max(id) AS top, min(name) AS first FROM t')
    expect(rows[0]).toEqual({ top: MILLION - 1, first: 'name 0' })
  }, 60_000)

  it('copies 1,000,000 rows encoded by copyRows()', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec(TABLE)
    const at = new Date('2024-05-06T07:08:09.123Z')
    function* rows() {
      for (let i = 0; i < MILLION; i++) yield [i, `name ${i}`, at]
    }
    expect(await conn.copyFrom('COPY t FROM STDIN', copyRows(rows()))).toBe(MILLION)
    expect(await countRows(conn)).toBe(MILLION)
    const { rows: check } = await conn.query('SELECT count(DISTINCT at)::int4 AS n, min(at) AS at FROM t')
    expect(check[0]).toEqual({ n: 1, at })
  }, 60_000)

  it('copyRows() writes what PostgreSQL reads back as the same values', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec(
      'CREATE TEMP TABLE v (s text, n float8, big int8, b bool, d timestamptz, bytes bytea, arr text[], ints int4[], doc jsonb)',
    )
    const rows = [
      ['tab\there, new\nline, back\\slash, cr\r', 1.5, 1234567890123456789n, true, new Date(0), Buffer.from([0, 1, 255]),
        ['a', 'b c', 'q"uote', 'back\\slash', null, '', 'NULL', 'multi\nline'], [1, null, 3], { k: ['v', 1] }],
      [null, Number.NaN, null, false, null, null, [], null, { list: [1, 'two'] }],
      ['', -Infinity, -1n, null, new Date('2024-02-29T12:00:00Z'), Buffer.alloc(0), null, [[1, 2], [3, 4]], '"string"'],
    ]
    async function* source() {
      yield* rows
    }
    expect(await conn.copyFrom('COPY v FROM STDIN', copyRows(source()))).toBe(3)
    const { rows: back } = await conn.query('SELECT * FROM v')
    expect(back[0]).toEqual({
      s: rows[0]![0], n: 1.5, big: '1234567890123456789', b: true, d: new Date(0), bytes: Buffer.from([0, 1, 255]),
      arr: rows[0]![6], ints: [1, null, 3], doc: { k: ['v', 1] },
    })
    expect(back[1]).toMatchObject({ s: null, n: Number.NaN, big: null, b: false, arr: [], doc: { list: [1, 'two'] } })
    expect(back[2]).toMatchObject({ s: '', n: -Infinity, big: '-1', b: null, bytes: Buffer.alloc(0), ints: [[1, 2], [3, 4]], doc: 'string' })
    expect(() => [...copyRows([[Symbol('x')]])]).toThrow(/row 0, column 1/)
    expect(() => [...copyRows([{} as never])]).toThrow(/row 0 must be an array/)
  })

  it('copyRows() binary text columns: ASCII, accents, emoji at the start, middle and end, short and long', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec('CREATE TEMP TABLE words (n int4, w text)')
    const words = ['plain', 'é', '😀 first', 'last 😀', 'a☃b', '', 'x'.repeat(63) + 'é', 'é' + 'y'.repeat(100), '😀'.repeat(40)]
    const rows = words.map((w, n) => [n, w])
    const copied = await conn.copyFrom('COPY words FROM STDIN (FORMAT binary)', copyRows(rows, { format: 'binary', types: ['int4', 'text'] }))
    expect(copied).toBe(words.length)
    const { rows: back } = await conn.query<{ w: string }>('SELECT w FROM words ORDER BY n')
    expect(back.map((r) => r.w)).toEqual(words)
  })

  it("copyRows() in the binary format, given the columns' types, reads back as the same values", async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec(`CREATE TEMP TABLE bin (b bool, s int2, i int4, l int8, f float4, d float8, t text, v varchar(10),
      by bytea, j json, jb jsonb, u uuid, day date, ts timestamp, tz timestamptz)`)
    const types = ['bool', 'int2', 'int4', 'int8', 'float4', 'float8', 'text', 'varchar', 'bytea', 'json', 'jsonb', 'uuid',
      'date', 'timestamp', 'timestamptz'] as const
    const at = new Date('2024-02-29T12:34:56.789Z')
    const rows = [
      [true, -32768, 2147483647, 9007199254740993n, 1.5, Math.PI, 'tab\there ☃', 'short', Buffer.from([0, 255]), { a: [1] },
        { b: 'x' }, '0e2ab1c4-3f5d-4e1a-9b1c-2d3e4f5a6b7c', '2024-02-29', at, at],
      [false, null, -1, '-5', -0.25, Number.NEGATIVE_INFINITY, '', null, Buffer.alloc(0), '"text"', [1, 2], null, at, null, null],
    ]
    async function* source() {
      yield* rows
    }
    expect(await conn.copyFrom('COPY bin FROM STDIN (FORMAT binary)', copyRows(source(), { format: 'binary', types }))).toBe(2)
    const { rows: back } = await conn.query('SELECT * FROM bin')
    expect(back[0]).toEqual({
      b: true, s: -32768, i: 2147483647, l: '9007199254740993', f: 1.5, d: Math.PI, t: 'tab\there ☃', v: 'short',
      by: Buffer.from([0, 255]), j: { a: [1] }, jb: { b: 'x' }, u: '0e2ab1c4-3f5d-4e1a-9b1c-2d3e4f5a6b7c',
      day: expect.anything(), ts: expect.anything(), tz: at,
    })
    expect(back[1]).toMatchObject({ b: false, s: null, i: -1, l: '-5', f: -0.25, d: Number.NEGATIVE_INFINITY, t: '', by: Buffer.alloc(0), j: 'text', jb: [1, 2] })
    const { rows: days } = await conn.query("SELECT day::text AS day, ts::text AS ts FROM bin")
    expect(days).toEqual([{ day: '2024-02-29', ts: '2024-02-29 12:34:56.789' }, { day: '2024-02-29', ts: null }])
    // Bad values and types are named before anything is sent.
    expect(() => [...copyRows([[1]], { format: 'binary', types: ['int4', 'text'] as never })]).toThrow(/1 values for 2 column types/)
    expect(() => [...copyRows([['x']], { format: 'binary', types: ['int4'] })]).toThrow(/row 0, column 1: expected a 32-bit integer/)
    expect(() => copyRows([], { format: 'binary', types: ['numeric' as never] })).toThrow(/column 1's type "numeric"/)
    expect(() => copyRows([], { format: 'binary' })).toThrow(/needs 'types'/)
  })

  it('a source that throws midway leaves no rows and a usable connection', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec(TABLE)
    const error = await caught(() => conn.copyFrom('COPY t FROM STDIN', asyncLines(MILLION, 500_000)))
    expect((error as Error).message).toBe('the source broke')
    expect(conn.transactionStatus).toBe('idle')
    expect(await countRows(conn)).toBe(0)
    // Sync iterables and Readables that fail are aborted the same way.
    expect(await caught(() => conn.copyFrom('COPY t FROM STDIN', textLines(MILLION, 1000, 300_000)))).toMatchObject({
      message: 'the source broke',
    })
    const broken = new Readable({ read() {} })
    broken.push('1\ta\t2024-01-01\n')
    setImmediate(() => broken.destroy(new Error('the stream broke')))
    expect(await caught(() => conn.copyFrom('COPY t FROM STDIN', broken))).toMatchObject({ message: 'the stream broke' })
    expect(await countRows(conn)).toBe(0)
  }, 60_000)

  it('inside a transaction, a failed COPY leaves it failed for ROLLBACK, nothing written', async () => {
    const conn = await openAsync()
    await conn.exec(TABLE)
    await conn.commit()
    await conn.copyFrom('COPY t FROM STDIN', ['1\ta\t2024-01-01\n'])
    await caught(() => conn.copyFrom('COPY t FROM STDIN', asyncLines(10_000, 5000)))
    expect(conn.transactionStatus).toBe('inerror')
    await conn.rollback()
    expect(await countRows(conn)).toBe(0)
  })

  it("reports the server's error on bad data, early, and the connection stays usable", async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec(TABLE)
    let sent = 0
    function* data() {
      yield '1\tok\t2024-01-01\nnot a number\tbad\t2024-01-01\n'
      for (let i = 0; i < 2000; i++) {
        sent++
        yield Buffer.alloc(64 * 1024, '2\tfiller\t2024-01-01\n')
      }
    }
    const error = await caught(() => conn.copyFrom('COPY t FROM STDIN', data()))
    expect(error).toBeInstanceOf(DatabaseError)
    expect((error as DatabaseError).code).toBe('22P02')
    // Seen before the whole source was sent.
    expect(sent).toBeLessThan(2000)
    expect(await countRows(conn)).toBe(0)
  })

  it('refuses what is not a COPY FROM STDIN, and bad sources, by name', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec(TABLE)
    expect(await caught(() => conn.copyFrom('SELECT 1', []))).toBeInstanceOf(ProgrammingError)
    expect(await caught(() => conn.copyFrom('COPY t TO STDOUT', []))).toBeInstanceOf(ProgrammingError)
    expect(await caught(() => conn.copyFrom('COPY nowhere FROM STDIN', []))).toMatchObject({ code: '42P01' })
    await expect(conn.copyFrom('COPY t FROM STDIN', 'text' as never)).rejects.toThrow(/wrap it in an array/)
    await expect(conn.copyFrom('COPY t FROM STDIN', [42] as never)).rejects.toThrow(/Buffer or a string, not number/)
    expect((await conn.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    expect(await countRows(conn)).toBe(0)
  })
})

describe('AsyncConnection.copyTo', () => {
  it('gives text, csv and binary data', async () => {
    const conn = await openAsync({ autocommit: true })
    const text = Buffer.concat(await collect(conn.copyTo("COPY (SELECT g, 'x' || g FROM generate_series(1, 3) g) TO STDOUT")))
    expect(text.toString()).toBe('1\tx1\n2\tx2\n3\tx3\n')
    const csv = Buffer.concat(await collect(conn.copyTo(`COPY (SELECT 1, 'a,b') TO STDOUT (FORMAT csv, HEADER)`)))
    expect(csv.toString()).toBe('?column?,?column?\n1,"a,b"\n')
    await conn.exec(TABLE + '; CREATE TEMP TABLE u (LIKE t)')
    await conn.copyFrom('COPY t FROM STDIN', textLines(10_000))
    const binary = Buffer.concat(await collect(conn.copyTo('COPY t TO STDOUT (FORMAT binary)')))
    expect(binary.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0')
    expect(await conn.copyFrom('COPY u FROM STDIN (FORMAT binary)', [binary])).toBe(10_000)
    expect((await conn.query('SELECT count(*)::int4 AS n FROM (SELECT * FROM t EXCEPT SELECT * FROM u) d')).rows).toEqual([{ n: 0 }])
    // query() still returns COPY TO as rows of one text column.
    expect((await conn.query("COPY (SELECT 1, 'a') TO STDOUT")).rows).toEqual([{ copy: '1\ta\n' }])
  })

  it('reads only as a slow Writable takes the data (the backend waits), and stops early cleanly', async () => {
    const conn = await openAsync({ autocommit: true })
    const admin = await openAsync({ autocommit: true })
    const sql = "COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 10000000) g) TO STDOUT"
    let taken = 0
    let release: () => void = () => {}
    const sink = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        taken += chunk.length
        if (taken < 4_000_000) setImmediate(done)
        else release = () => done(new Error('enough'))
      },
    })
    const piping = pipeline(Readable.from(conn.copyTo(sql)), sink)
    await eventually(() => taken >= 4_000_000, 30)
    // The backend is blocked on its full socket: nobody reads.
    await eventually(async () => {
      const { rows } = await admin.query('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [conn.backendPid])
      return rows[0]?.wait_event === 'ClientWrite'
    }, 15)
    const rss = process.memoryUsage.rss()
    release()
    await expect(piping).rejects.toThrow('enough')
    expect(taken).toBeLessThan(20_000_000)
    expect(process.memoryUsage.rss() - rss).toBeLessThan(200e6)
    await eventually(() => conn.transactionStatus === 'idle', 15)
    expect((await conn.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  }, 60_000)

  it('breaking out of the loop cancels the COPY; a server error rejects', async () => {
    const conn = await openAsync({ autocommit: true })
    for await (const data of conn.copyTo('COPY (SELECT g FROM generate_series(1, 50000000) g) TO STDOUT')) {
      expect(data.length).toBeGreaterThan(0)
      break
    }
    expect(conn.transactionStatus).toBe('idle')
    expect((await conn.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
    const failing = conn.copyTo('COPY (SELECT 1 / (g - 5000) FROM generate_series(1, 10000) g) TO STDOUT')
    expect(await caught(() => collect(failing))).toMatchObject({ code: '22012' })
    expect(await caught(() => collect(conn.copyTo('SELECT 1')))).toBeInstanceOf(ProgrammingError)
    expect((await conn.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }])
  }, 60_000)
})

describe('Connection (sync) COPY', () => {
  it('copies from an iterable and out as an iterator; a failing source leaves nothing', () => {
    const conn = openSync({ autocommit: true })
    conn.exec(TABLE)
    expect(conn.copyFrom('COPY t FROM STDIN', copyRows((function* () {
      for (let i = 0; i < 100_000; i++) yield [i, 'n', null]
    })()))).toBe(100_000)
    expect(() => conn.copyFrom('COPY t FROM STDIN', textLines(100_000, 1000, 50_000))).toThrow('the source broke')
    expect(conn.query('SELECT count(*)::int4 AS n FROM t').rows).toEqual([{ n: 100_000 }])
    let size = 0
    for (const data of conn.copyTo('COPY t TO STDOUT')) size += data.length
    // ids 0..99,999 take 488,890 digits; each line adds '\tn\t\\N\n'.
    expect(size).toBe(488_890 + 6 * 100_000)
    for (const _ of conn.copyTo('COPY t TO STDOUT')) break
    expect(conn.query('SELECT 1 AS one').rows).toEqual([{ one: 1 }])
  })
})

describe('pools', () => {
  it('AsyncConnectionPool holds a connection only for the COPY', async () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, maxSize: 1 })
    pools.push(pool)
    await pool.connection((conn) => conn.exec('CREATE TABLE IF NOT EXISTS copy_pool_t (id int4); TRUNCATE copy_pool_t'))
    expect(await pool.copyFrom('COPY copy_pool_t FROM STDIN', copyRows([[1], [2], [3]]))).toBe(3)
    expect(pool.getStats().poolAvailable).toBe(1)
    const chunks: Buffer[] = []
    for await (const data of pool.copyTo('COPY copy_pool_t TO STDOUT')) chunks.push(data)
    expect(Buffer.concat(chunks).toString()).toBe('1\n2\n3\n')
    expect(pool.getStats().poolAvailable).toBe(1)
    await expect(pool.copyFrom('COPY copy_pool_t FROM STDIN', asyncLines(10))).rejects.toThrow(DatabaseError)
    expect((await pool.query('SELECT count(*)::int4 AS n FROM copy_pool_t')).rows).toEqual([{ n: 3 }])
    await pool.query('DROP TABLE copy_pool_t')
  })

  it('ConnectionPool (sync) too', () => {
    const pool = new ConnectionPool(databaseUrl(), { minSize: 1, maxSize: 1 })
    pools.push(pool)
    pool.connection((conn) => conn.exec('CREATE TABLE IF NOT EXISTS copy_pool_s (id int4); TRUNCATE copy_pool_s'))
    expect(pool.copyFrom('COPY copy_pool_s FROM STDIN', ['1\n2\n'])).toBe(2)
    expect(Buffer.concat([...pool.copyTo('COPY copy_pool_s TO STDOUT')]).toString()).toBe('1\n2\n')
    expect(pool.getStats().poolAvailable).toBe(1)
    pool.query('DROP TABLE copy_pool_s')
  })
})
