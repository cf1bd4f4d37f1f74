// The binding's text-result and simple-protocol methods, called directly: the shapes JavaScript
// sees (`NativeResult`: [command, rowCount, fields, rows, rowsLength]) and that lib's decoder
// reads them.
import { afterAll, describe, expect, it } from 'vitest'

import { AsyncConnectionPool } from '../dist/index.js'
import { toQueryResult } from '../lib/connection'
import { ResultDecoder } from '../lib/decode'
import { binding, type NativeConnection, type NativeResult } from '../lib/native'
import type { NativePool } from '../lib/pool-native'
import { encodeParams } from '../lib/params'
import { databaseUrl } from './helpers'

const NO_PARAMS = Buffer.alloc(0)

/** The values of a result's rows as strings (all columns text), NULL as null. */
function textValues(result: unknown[]): (string | null)[][] {
  const [, , fields, rows, rowsLength] = result as NativeResult
  const out: (string | null)[][] = []
  let at = 0
  for (let r = 0; r < rowsLength; r++) {
    const row: (string | null)[] = []
    for (let c = 0; c < fields.length; c++) {
      const length = rows.readInt32BE(at)
      at += 4
      row.push(length < 0 ? null : rows.toString('utf8', at, at + length))
      if (length > 0) at += length
    }
    out.push(row)
  }
  return out
}

const opened: NativeConnection[] = []
async function connect(autocommit = true): Promise<NativeConnection> {
  const conn = await binding.connect(databaseUrl(), { autocommit, statementCacheSize: 100 })
  opened.push(conn)
  return conn
}

afterAll(async () => {
  await Promise.all(opened.map((conn) => conn.close()))
})

describe('textResults', () => {
  const sql = "SELECT 42::int4 AS i, true AS b, '\\x01ff'::bytea AS y, ARRAY[1,2] AS a, NULL::int8 AS n"

  it('asks for every column in text; without it the defaults stay', async () => {
    const conn = await connect()
    const text = await conn.query(sql, NO_PARAMS, undefined, true)
    const [command, rowCount, fields, , rowsLength] = text as NativeResult
    expect([command, rowCount, rowsLength]).toEqual(['SELECT', 1, 1])
    expect(fields.map((f) => f.format)).toEqual(['text', 'text', 'text', 'text', 'text'])
    expect(fields.map((f) => f.dataTypeID)).toEqual([23, 16, 17, 1007, 20])
    expect(textValues(text)).toEqual([['42', 't', '\\x01ff', '{1,2}', null]])

    const preferred = (await conn.query(sql, NO_PARAMS)) as NativeResult
    expect(preferred[2].map((f) => f.format)).toEqual(['binary', 'binary', 'binary', 'binary', 'binary'])
    // One statement, two column arrays, each shared by its format's results.
    const again = (await conn.query(sql, NO_PARAMS, undefined, true)) as NativeResult
    expect(again[2]).toBe(fields)
    expect(again[2]).not.toBe(preferred[2])
  })

  it('runs sync and through a request too', async () => {
    const conn = await connect()
    expect(textValues(conn.querySync(sql, NO_PARAMS, true))).toEqual([['42', 't', '\\x01ff', '{1,2}', null]])
    const request = conn.request()
    expect(textValues(await request.query('SELECT 1.5::float8', NO_PARAMS, true))).toEqual([['1.5']])
  })

  it('reaches the pool query methods', async () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, maxSize: 1 })
    const native = (pool as unknown as { native: NativePool }).native
    try {
      expect(textValues(await native.query('SELECT 7::int2', NO_PARAMS, undefined, undefined, true))).toEqual([['7']])
      expect(textValues(native.querySync('SELECT false', NO_PARAMS, undefined, true))).toEqual([['f']])
      const preferred = (await native.query('SELECT 7::int2', NO_PARAMS)) as NativeResult
      expect(preferred[2][0]?.format).toBe('binary')
    } finally {
      await pool.close()
    }
  })
})

describe('simpleQuery', () => {
  it('returns one NativeResult-shaped array per statement', async () => {
    const conn = await connect()
    const results = await conn.simpleQuery(
      'CREATE TEMP TABLE t (n int4); SELECT g AS n FROM generate_series(1, 3) g; INSERT INTO t VALUES (1), (2)',
    )
    expect(results).toHaveLength(3)
    const [create, select, insert] = results as [NativeResult, NativeResult, NativeResult]
    expect([create[0], create[1], create[2], create[4]]).toEqual(['CREATE', null, [], 0])
    expect([select[0], select[1], select[4]]).toEqual(['SELECT', 3, 3])
    expect(select[2]).toEqual([
      { name: 'n', tableID: 0, columnID: 0, dataTypeID: 23, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' },
    ])
    expect(textValues(select)).toEqual([['1'], ['2'], ['3']])
    expect([insert[0], insert[1]]).toEqual(['INSERT', 2])
  })

  it("is read by lib's decoder (types lib reads as text)", async () => {
    const conn = await connect()
    const [result] = (await conn.simpleQuery("SELECT 1.50::numeric AS d, '00000000-0000-0000-0000-000000000001'::uuid AS u")) as [NativeResult]
    expect(toQueryResult(result, ResultDecoder.for()).rows).toEqual([{ d: '1.50', u: '00000000-0000-0000-0000-000000000001' }])
  })

  it('gives one empty result for an empty query, and rejects with the server error', async () => {
    const conn = await connect()
    const empty = (await conn.simpleQuery('')) as NativeResult[]
    expect(empty).toHaveLength(1)
    const [only] = empty as [NativeResult]
    expect([only[0], only[1], only[2], only[4]]).toEqual(['', null, [], 0])
    await expect(conn.simpleQuery('SELECT 1; SELECT 1/0')).rejects.toMatchObject({ message: expect.stringContaining('division by zero') })
    expect((await conn.simpleQuery('SELECT 2')).map(textValues)).toEqual([[['2']]])
  })

  it('tracks the transaction status, sync too', async () => {
    const conn = await connect()
    const results = conn.simpleQuerySync('BEGIN; SELECT 1')
    expect(results.map((r) => (r as NativeResult)[0])).toEqual(['BEGIN', 'SELECT'])
    expect(conn.transactionStatus).toBe('intrans')
    conn.simpleQuerySync('ROLLBACK')
    expect(conn.transactionStatus).toBe('idle')
  })

  it('runs on the pool, committing what it ran', async () => {
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, maxSize: 1 })
    const native = (pool as unknown as { native: NativePool }).native
    try {
      const results = await native.simpleQuery("SELECT 'a'; SELECT 'b'")
      expect(results.map(textValues)).toEqual([[['a']], [['b']]])
      expect(native.simpleQuerySync('SELECT 1', 5).map(textValues)).toEqual([[['1']]])
      await pool.connection(async (conn) => expect(conn.transactionStatus).toBe('idle'))
    } finally {
      await pool.close()
    }
  })

  it('is abortable through a request', async () => {
    const conn = await connect()
    const request = conn.request()
    const running = expect(request.simpleQuery('SELECT pg_sleep(30)')).rejects.toMatchObject({
      message: expect.stringContaining('57014'),
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    await request.abort()
    await running
  })
})

describe('NativeCursor', () => {
  it('reads a large result in batches of text rows, then frees the connection', async () => {
    const conn = await connect()
    const cursor = await conn.openCursor(
      'SELECT g AS n FROM generate_series(1, $1::int4) g',
      encodeParams([100_000]),
    )
    let total = 0
    let last = 0
    let batch = (await cursor.read(1000)) as NativeResult
    expect(batch[2].map((f) => [f.name, f.format])).toEqual([['n', 'text']])
    while (batch[4] > 0) {
      const values = textValues(batch)
      expect(Number(values[0]?.[0])).toBe(last + 1)
      last = Number(values[values.length - 1]?.[0])
      total += batch[4]
      batch = (await cursor.read(1000)) as NativeResult
    }
    expect(total).toBe(100_000)
    expect([batch[0], batch[1]]).toEqual(['SELECT', 0])
    expect(cursor.done).toBe(true)
    expect(conn.transactionStatus).toBe('idle')
    expect(textValues(conn.querySync('SELECT 1::int4', NO_PARAMS, true))).toEqual([['1']])
  })

  it('closes early (sync too), and a query on the connection waits for the cursor', async () => {
    const conn = await connect()
    const cursor = conn.openCursorSync('SELECT generate_series(1, 1000)', NO_PARAMS)
    expect((cursor.readSync(10) as NativeResult)[4]).toBe(10)
    let answered = false
    const waiting = conn.query("SELECT 'after'::text", NO_PARAMS, undefined, true).then((result) => {
      answered = true
      return result
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(answered).toBe(false)
    await cursor.close()
    expect(cursor.done).toBe(true)
    expect(textValues(await waiting)).toEqual([['after']])
    cursor.closeSync()
  })

  it('rejects with the server error midway, the connection usable', async () => {
    const conn = await connect()
    const cursor = await conn.openCursor('SELECT 10 / (3 - g) FROM generate_series(1, 5) g', NO_PARAMS)
    expect(textValues(await cursor.read(2))).toEqual([['5'], ['10']])
    await expect(cursor.read(2)).rejects.toMatchObject({ message: expect.stringContaining('22012') })
    expect(cursor.done).toBe(true)
    await expect(conn.openCursor('SELEC 1', NO_PARAMS)).rejects.toMatchObject({
      message: expect.stringContaining('42601'),
    })
    expect((await conn.simpleQuery('SELECT 3')).map(textValues)).toEqual([[['3']]])
  })
})
