// Values both ways (DESIGN §4, docs/types.md): every type decoded, every kind of JavaScript
// value encoded, arrays, NULLs, edge cases, the int8 modes and the TypeErrors.

import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnection, Connection } from '../dist/index.js'
import { databaseUrl } from './helpers'

const opened: { close(): unknown }[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()))
})

async function connectAsync(options = {}): Promise<AsyncConnection> {
  const conn = await AsyncConnection.connect(databaseUrl(), { autocommit: true, ...options })
  opened.push(conn)
  return conn
}

function connectSync(options = {}): Connection {
  const conn = Connection.connect(databaseUrl(), { autocommit: true, ...options })
  opened.push(conn)
  return conn
}

async function one(conn: AsyncConnection, sql: string, params?: unknown[]): Promise<unknown> {
  const { rows } = await conn.query<{ v: unknown }>(sql, params)
  return rows[0]!.v
}

async function typeError(conn: AsyncConnection, sql: string, params: unknown[]): Promise<TypeError> {
  const error = await conn.query(sql, params).catch((e: unknown) => e)
  expect(error).toBeInstanceOf(TypeError)
  return error as TypeError
}

const utc = (iso: string): Date => new Date(iso)

/** A literal of each type and the value it decodes to, by default. */
const SCALARS: [string, unknown][] = [
  ['true', true],
  ['false', false],
  ['(-32768)::int2', -32768],
  ['2147483647::int4', 2147483647],
  ['(-2147483648)::int4', -2147483648],
  ['4294967295::oid', 4294967295],
  ['1.5::float4', 1.5],
  ['0.1::float8', 0.1],
  ['9223372036854775807::int8', '9223372036854775807'],
  ['(-9223372036854775808)::int8', '-9223372036854775808'],
  ['(-3)::int8', '-3'],
  ['123456789012345678901234567890.000100::numeric', '123456789012345678901234567890.000100'],
  ["'héllo ☃'::text", 'héllo ☃'],
  ["'v'::varchar(3)", 'v'],
  ["'ab'::char(4)", 'ab  '],
  ["'pg_class'::name", 'pg_class'],
  ["'\\x00ff10'::bytea", Buffer.from([0x00, 0xff, 0x10])],
  ["''::bytea", Buffer.alloc(0)],
  [`'{"a": [1, "x", null], "b": {"c": true}}'::json`, { a: [1, 'x', null], b: { c: true } }],
  [`'{"a": [1, "x", null], "b": {"c": true}}'::jsonb`, { a: [1, 'x', null], b: { c: true } }],
  [`'"just a string"'::jsonb`, 'just a string'],
  ["'null'::json", null],
  ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid", 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  ["'2024-02-29'::date", '2024-02-29'],
  ["'2024-03-15 10:00:00.123+02'::timestamptz", utc('2024-03-15T08:00:00.123Z')],
  ["'2024-03-15 10:00:00.123'::timestamp", utc('2024-03-15T10:00:00.123Z')],
  ["'10:00:00.5'::time", '10:00:00.5'],
  ["'10:00+05:30'::timetz", '10:00:00+05:30'],
  ["'1 year 2 mons 3 days 04:05:06.7'::interval", '1 year 2 mons 3 days 04:05:06.7'],
  ["'192.168.0.1/24'::inet", '192.168.0.1/24'],
  ["'::ffff:1.2.3.4'::inet", '::ffff:1.2.3.4'],
  ["'10.0.0.0/8'::cidr", '10.0.0.0/8'],
  ["'08-00-2B-01-02-03'::macaddr", '08:00:2b:01:02:03'],
  ["'08:00:2b:01:02:03:04:05'::macaddr8", '08:00:2b:01:02:03:04:05'],
]

/** Types of SCALARS, for the NULL and array checks. */
const TYPES = [
  'bool',
  'int2',
  'int4',
  'oid',
  'float4',
  'float8',
  'int8',
  'numeric',
  'text',
  'varchar',
  'bpchar',
  'name',
  'bytea',
  'json',
  'jsonb',
  'uuid',
  'date',
  'timestamptz',
  'timestamp',
  'time',
  'timetz',
  'interval',
  'inet',
  'cidr',
  'macaddr',
  'macaddr8',
]

describe('results', () => {
  it('decodes a value of every type', async () => {
    const conn = await connectAsync()
    const sql = 'SELECT ' + SCALARS.map(([literal], i) => `${literal} AS c${i}`).join(', ')
    const { rows } = await conn.query(sql)
    SCALARS.forEach(([literal, expected], i) => {
      expect(rows[0]![`c${i}`], literal).toEqual(expected)
    })
  })

  it('decodes NULL of every type, and of every array type, as null', async () => {
    const conn = await connectAsync()
    const columns = TYPES.flatMap((t, i) => [`NULL::${t} AS s${i}`, `NULL::${t}[] AS a${i}`])
    const { rows } = await conn.query(`SELECT ${columns.join(', ')}`)
    expect(Object.values(rows[0]!)).toEqual(columns.map(() => null))
  })

  it('decodes arrays of every type, with NULL elements', async () => {
    const conn = await connectAsync()
    for (const [literal, expected] of SCALARS) {
      const v = await one(conn, `SELECT ARRAY[${literal}, NULL, ${literal}] AS v`)
      expect(v, literal).toEqual([expected, null, expected])
    }
  })

  it('decodes multi-dimensional, empty and offset arrays', async () => {
    const conn = await connectAsync()
    expect(await one(conn, `SELECT '{{1,2,3},{4,NULL,6}}'::int4[] AS v`)).toEqual([
      [1, 2, 3],
      [4, null, 6],
    ])
    expect(await one(conn, `SELECT '{{{1},{2}},{{3},{4}}}'::int8[] AS v`)).toEqual([[['1'], ['2']], [['3'], ['4']]])
    expect(await one(conn, `SELECT '{{1.5,NaN},{NULL,-2}}'::numeric[] AS v`)).toEqual([
      ['1.5', 'NaN'],
      [null, '-2'],
    ])
    expect(await one(conn, `SELECT '{}'::int4[] AS v`)).toEqual([])
    expect(await one(conn, `SELECT '{}'::uuid[] AS v`)).toEqual([])
    // Lower bounds are dropped: JavaScript arrays start at 0.
    expect(await one(conn, `SELECT '[0:2]={7,8,9}'::int4[] AS v`)).toEqual([7, 8, 9])
    expect(await one(conn, `SELECT '[-1:0][5:5]={{1.5},{2.5}}'::numeric[] AS v`)).toEqual([['1.5'], ['2.5']])
  })

  it('keeps array strings exact: quotes, backslashes, commas, braces, empty, the word NULL', async () => {
    const conn = await connectAsync()
    const tricky = ['a"b', 'c\\d', 'e,f', '{g}', '', 'NULL', 'null', ' padded ', 'tab\there', 'é☃']
    const literal = `ARRAY[${tricky.map((s) => `'${s.replace(/'/g, "''")}'`).join(', ')}, NULL]`
    expect(await one(conn, `SELECT ${literal}::text[] AS v`)).toEqual([...tricky, null])
    expect(await one(conn, `SELECT ${literal}::varchar[] AS v`)).toEqual([...tricky, null])
    // Text-form arrays (numeric, interval, inet...) are parsed from PostgreSQL's quoting.
    expect(await one(conn, `SELECT ARRAY['1 day', '-00:00:01', NULL]::interval[] AS v`)).toEqual([
      '1 day',
      '-00:00:01',
      null,
    ])
  })

  it('decodes floats at their edges: NaN, ±Infinity, -0', async () => {
    const conn = await connectAsync()
    const { rows } = await conn.query(
      `SELECT 'NaN'::float8 AS a, 'Infinity'::float8 AS b, '-Infinity'::float4 AS c, '-0'::float8 AS d,
              'NaN'::numeric AS e, 'Infinity'::numeric AS f, 3.4028235e38::float4 AS g`,
    )
    expect(rows[0]).toEqual({ a: NaN, b: Infinity, c: -Infinity, d: -0, e: 'NaN', f: 'Infinity', g: 3.4028234663852886e38 })
    expect(Object.is(rows[0]!.d, -0)).toBe(true)
  })

  it('decodes dates at their edges: infinity, BC, years past 9999', async () => {
    const conn = await connectAsync()
    const { rows } = await conn.query(
      `SELECT 'infinity'::date AS a, '-infinity'::date AS b, '0044-03-15 BC'::date AS c, '0001-01-01'::date AS d,
              '0001-12-31 BC'::date AS e, '4713-01-01 BC'::date AS f, '10000-01-01'::date AS g, '1900-02-28'::date AS h,
              '1969-12-31'::date AS i, '5874897-12-31'::date AS j`,
    )
    expect(rows[0]).toEqual({
      a: 'infinity',
      b: '-infinity',
      c: '0044-03-15 BC',
      d: '0001-01-01',
      e: '0001-12-31 BC',
      f: '4713-01-01 BC',
      g: '10000-01-01',
      h: '1900-02-28',
      i: '1969-12-31',
      j: '5874897-12-31',
    })
  })

  it('decodes timestamps at their edges: infinity, before 1970, BC, microseconds, beyond Date', async () => {
    const conn = await connectAsync()
    const { rows } = await conn.query(
      `SELECT 'infinity'::timestamptz AS a, '-infinity'::timestamp AS b,
              '1969-12-31 23:59:59.999999+00'::timestamptz AS c, '1900-01-01 00:00:00.0005'::timestamp AS d,
              '0044-03-15 12:00:00+00 BC'::timestamptz AS e, '2024-01-01 00:00:00.123999+00'::timestamptz AS f,
              '4713-01-01 00:00:00 BC'::timestamp AS g, '294276-12-31 23:59:59+00'::timestamptz AS h,
              '1970-01-01 00:00:00.000001+00'::timestamptz AS i`,
    )
    const row = rows[0]!
    expect(row.a).toBe(Infinity)
    expect(row.b).toBe(-Infinity)
    // Microseconds are dropped, rounding down: the Date is the millisecond the instant falls in.
    expect(row.c).toEqual(utc('1969-12-31T23:59:59.999Z'))
    expect(row.d).toEqual(utc('1900-01-01T00:00:00.000Z'))
    expect(row.f).toEqual(utc('2024-01-01T00:00:00.123Z'))
    expect(row.i).toEqual(utc('1970-01-01T00:00:00.000Z'))
    // 44 BC is year -43 in JavaScript's (and ISO 8601's) count.
    expect(row.e).toEqual(new Date(Date.UTC(-43, 2, 15, 12)))
    expect((row.g as Date).toISOString()).toBe('-004712-01-01T00:00:00.000Z')
    // Past 275760-09-13 a Date cannot hold the instant.
    expect(Number.isNaN((row.h as Date).getTime())).toBe(true)
  })

  it('hands types without a decoder over as their text form, arrays of them included', async () => {
    const conn = await connectAsync({ autocommit: false })
    await conn.exec(`CREATE TYPE pgtide_mood AS ENUM ('happy', 'sad')`)
    await conn.exec(`CREATE TEMP TABLE pgtide_pair (a int4, b text)`)
    await conn.exec(`CREATE EXTENSION IF NOT EXISTS citext`)
    const { rows } = await conn.query(
      `SELECT '(1,2)'::point AS point, 'a:1 b:2'::tsvector AS tsv, ROW(1, 'x y')::pgtide_pair AS pair,
              'happy'::pgtide_mood AS mood, ARRAY['happy', 'sad']::pgtide_mood[] AS moods,
              'MiXed'::citext AS ci, ARRAY['(0,0)'::point] AS points, 12.5::money AS cash, 'x'::"char" AS ch,
              '<a/>'::xml AS doc, B'101' AS bits`,
    )
    expect(rows[0]).toEqual({
      point: '(1,2)',
      tsv: "'a':1 'b':2",
      pair: '(1,"x y")',
      mood: 'happy',
      moods: '{happy,sad}',
      ci: 'MiXed',
      points: '{"(0,0)"}',
      cash: '$12.50',
      ch: 'x',
      doc: '<a/>',
      bits: '101',
    })
    await conn.rollback()
  })

  it('builds rows with odd column names: __proto__, quotes, duplicates (the later wins)', async () => {
    const conn = await connectAsync()
    const { rows } = await conn.query(`SELECT 1 AS "__proto__", 2 AS "a""b\nc", 3 AS x, 4 AS x, 5 AS "constructor"`)
    const row = rows[0]!
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype)
    expect(Object.keys(row)).toEqual(['__proto__', 'a"b\nc', 'x', 'constructor'])
    expect(Object.getOwnPropertyDescriptor(row, '__proto__')!.value).toBe(1)
    expect(row).toMatchObject({ 'a"b\nc': 2, x: 4, constructor: 5 })
  })

  it('decodes rows the same where code generation is disallowed', () => {
    const script = `
      const { Connection } = require('./dist/index.js')
      const conn = Connection.connect(process.env.DATABASE_URL, { autocommit: true })
      const { rows } = conn.query('SELECT 1 AS "__proto__", 2 AS a, 3 AS a, NULL::text AS n, $1::text[] AS t', [['x', null]])
      conn.close()
      process.stdout.write(JSON.stringify({ rows, plain: Object.getPrototypeOf(rows[0]) === Object.prototype }))`
    const child = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', script], {
      cwd: join(__dirname, '..'),
      env: { ...process.env, DATABASE_URL: databaseUrl() },
      encoding: 'utf8',
    })
    expect(child.stderr).toBe('')
    expect(JSON.parse(child.stdout)).toEqual({ rows: [{ ['__proto__']: 1, a: 3, n: null, t: ['x', null] }], plain: true })
  })

  it('decodes many rows, and results of different shapes from one statement text', async () => {
    const conn = await connectAsync()
    const { rows } = await conn.query<{ g: number; t: string; n: null | string }>(
      `SELECT g, repeat('é', g % 5) AS t, CASE WHEN g % 3 = 0 THEN NULL ELSE g::text END AS n
       FROM generate_series(1, 5000) g`,
    )
    expect(rows).toHaveLength(5000)
    rows.forEach((row, i) => {
      const g = i + 1
      expect(row).toEqual({ g, t: 'é'.repeat(g % 5), n: g % 3 === 0 ? null : String(g) })
    })
    await conn.exec('CREATE TEMP TABLE shape (a int4)')
    expect((await conn.query('SELECT * FROM shape')).rows).toEqual([])
    await conn.query('INSERT INTO shape VALUES (1)')
    expect((await conn.query('SELECT * FROM shape')).rows).toEqual([{ a: 1 }])
    await conn.exec(`ALTER TABLE shape ADD COLUMN b text DEFAULT 'x'`)
    expect((await conn.query('SELECT * FROM shape')).rows).toEqual([{ a: 1, b: 'x' }])
  })

  it('reports each column in its wire format', async () => {
    const conn = await connectAsync()
    const { fields } = await conn.query(`SELECT 1 AS a, 1.5::numeric AS b, '{}'::int4[] AS c, '{}'::uuid[] AS d`)
    expect(fields.map((f) => [f.dataTypeID, f.format])).toEqual([
      [23, 'binary'],
      [1700, 'text'],
      [1007, 'binary'],
      [2951, 'text'],
    ])
  })
})

describe('int8 modes (connectionOptions.types.int8)', () => {
  const SQL = `SELECT 9007199254740993::int8 AS big, (-9223372036854775808)::int8 AS min, 42::int8 AS small,
                      '{1,NULL,-2}'::int8[] AS arr, count(*) AS n FROM (VALUES (1), (2)) v`

  it("defaults to 'string': exact", async () => {
    const conn = await connectAsync()
    expect((await conn.query(SQL)).rows[0]).toEqual({
      big: '9007199254740993',
      min: '-9223372036854775808',
      small: '42',
      arr: ['1', null, '-2'],
      n: '2',
    })
  })

  it("'number': exact within 2^53, the nearest double beyond", async () => {
    const conn = await connectAsync({ types: { int8: 'number' } })
    expect((await conn.query(SQL)).rows[0]).toEqual({
      big: 9007199254740992,
      min: -9223372036854775808,
      small: 42,
      arr: [1, null, -2],
      n: 2,
    })
  })

  it("'bigint': exact, as bigints", async () => {
    const conn = await connectAsync({ types: { int8: 'bigint' } })
    expect((await conn.query(SQL)).rows[0]).toEqual({
      big: 9007199254740993n,
      min: -9223372036854775808n,
      small: 42n,
      arr: [1n, null, -2n],
      n: 2n,
    })
  })

  it('is per connection', async () => {
    const [a, b] = await Promise.all([connectAsync({ types: { int8: 'bigint' } }), connectAsync()])
    expect(await one(a, 'SELECT 7::int8 AS v')).toBe(7n)
    expect(await one(b, 'SELECT 7::int8 AS v')).toBe('7')
  })

  it('is validated, naming the option', async () => {
    const url = databaseUrl()
    await expect(AsyncConnection.connect(url, { types: { int8: 'float' as never } })).rejects.toThrow(RangeError)
    await expect(AsyncConnection.connect(url, { types: { int8: 'float' as never } })).rejects.toThrow(/types\.int8/)
    await expect(AsyncConnection.connect(url, { types: { int8: 8 as never } })).rejects.toThrow(TypeError)
    await expect(AsyncConnection.connect(url, { types: { int8: 8 as never } })).rejects.toThrow(/types\.int8/)
    await expect(AsyncConnection.connect(url, { types: { int4: 'string' } as never })).rejects.toThrow(/types\.int4/)
    await expect(AsyncConnection.connect(url, { types: 'bigint' as never })).rejects.toThrow(/'types' must be an object/)
    expect(() => Connection.connect(url, { types: { int8: 'BigInt' as never } })).toThrow(RangeError)
    expect(() => Connection.connect(url, { types: null as never })).toThrow(TypeError)
  })
})

describe('parameters', () => {
  it('round-trips a value of every type through a parameter and back', async () => {
    const conn = await connectAsync()
    const cases: [string, unknown, unknown?][] = [
      ['bool', true],
      ['int2', -32768],
      ['int4', 2147483647],
      ['oid', 4294967295],
      ['float4', 1.5],
      ['float8', 0.1],
      ['float8', -1e-300],
      ['int8', 9223372036854775807n, '9223372036854775807'],
      ['int8', -9007199254740991, '-9007199254740991'],
      ['numeric', '123456789012345678901234567890.000100'],
      ['numeric', 0.1, '0.1'],
      ['numeric', 1e21, '1000000000000000000000'],
      ['numeric', 1.5e-7, '0.00000015'],
      ['numeric', -123456789012345678901234567890n, '-123456789012345678901234567890'],
      ['text', 'héllo ☃ \u0001'],
      ['varchar', ''],
      ['bytea', Buffer.from([0, 1, 254, 255])],
      ['bytea', new Uint8Array([9, 8]), Buffer.from([9, 8])],
      ['json', { a: [1, 'x', null], b: { c: true } }],
      ['jsonb', { a: [1, 'x', null], b: { c: true } }],
      ['jsonb', [1, 'two', { three: 3 }, [4]]],
      ['json', [null, true, 2.5, 'x']],
      ['uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
      ['date', '2024-02-29'],
      ['timestamptz', utc('2024-03-15T08:00:00.123Z')],
      ['timestamp', utc('1969-07-20T20:17:40.000Z')],
      ['time', '10:00:00.5'],
      ['interval', '1 day 02:00:00'],
      ['inet', '::1'],
      ['macaddr', '08:00:2b:01:02:03'],
    ]
    for (const [type, value, expected = value] of cases) {
      expect(await one(conn, `SELECT $1::${type} AS v`, [value]), `${type} ${String(value)}`).toEqual(expected)
    }
  })

  it('sends null and undefined as NULL, whatever the type', async () => {
    const conn = await connectAsync()
    for (const type of TYPES) {
      expect(await one(conn, `SELECT $1::${type} AS v`, [null])).toBeNull()
      expect(await one(conn, `SELECT $1::${type}[] AS v`, [undefined])).toBeNull()
    }
  })

  it('sends strings as text for the server to parse, as pg does', async () => {
    const conn = await connectAsync()
    expect(await one(conn, 'SELECT $1::int4 + 1 AS v', ['41'])).toBe(42)
    expect(await one(conn, 'SELECT $1::bool AS v', ['yes'])).toBe(true)
    expect(await one(conn, 'SELECT $1::bytea AS v', ['\\x0102'])).toEqual(Buffer.from([1, 2]))
    expect(await one(conn, 'SELECT $1::int8[] AS v', ['{1,2}'])).toEqual(['1', '2'])
    expect(await one(conn, 'SELECT $1::jsonb AS v', ['{"raw": "json text"}'])).toEqual({ raw: 'json text' })
    expect(await one(conn, 'SELECT $1::timestamptz AS v', ['2024-01-01 00:00:00+00'])).toEqual(utc('2024-01-01T00:00:00Z'))
    expect(await one(conn, 'SELECT $1::int4[] AS v', [['1', '2']])).toEqual([1, 2])
  })

  it('writes numbers for numeric and text as JavaScript prints them', async () => {
    const conn = await connectAsync()
    const { rows } = await conn.query('SELECT $1::text AS a, $2::text AS b, $3::text AS c, $4::numeric::text AS d, $5::text AS e', [
      0.1 + 0.2,
      1e21,
      -1.5e-7,
      NaN,
      2 ** 53,
    ])
    expect(rows[0]).toEqual({ a: '0.30000000000000004', b: '1e+21', c: '-1.5e-7', d: 'NaN', e: '9007199254740992' })
  })

  it('sends Dates as instants for timestamptz, UTC wall-clock for timestamp, the UTC day for date', async () => {
    const conn = await connectAsync()
    await conn.exec(`SET TimeZone = 'America/New_York'`)
    // 23:30 in New York on January 2nd is 04:30 UTC on January 3rd.
    const late = new Date('2024-01-02T23:30:00.250-05:00')
    const { rows } = await conn.query(
      `SELECT $1::timestamptz AS tz, $2::timestamptz::text AS tz_text, $3::timestamp AS ts, $4::timestamp::text AS ts_text,
              $5::date AS d, $6::text AS t, $7::time AS tm`,
      // One parameter per type: a parameter used twice has one type, and the server converts.
      Array(7).fill(late),
    )
    expect(rows[0]).toEqual({
      tz: late,
      tz_text: '2024-01-02 23:30:00.25-05',
      ts: late,
      ts_text: '2024-01-03 04:30:00.25',
      d: '2024-01-03',
      t: '2024-01-03 04:30:00.250+00',
      tm: '04:30:00.25',
    })
  })

  it('sends Dates before 1970 and BC exactly', async () => {
    const conn = await connectAsync()
    const bc = new Date(Date.UTC(-43, 2, 15, 12, 0, 0, 1))
    const old = new Date('1900-01-01T00:00:00.999Z')
    expect(await one(conn, 'SELECT $1::timestamptz AS v', [bc])).toEqual(bc)
    expect(await one(conn, 'SELECT $1::date AS v', [bc])).toBe('0044-03-15 BC')
    expect(await one(conn, 'SELECT $1::timestamp::text AS v', [old])).toBe('1900-01-01 00:00:00.999')
    expect(await one(conn, 'SELECT $1::timestamptz[] AS v', [[bc, old, null]])).toEqual([bc, old, null])
    expect(await one(conn, 'SELECT $1::date[] AS v', [[bc, old]])).toEqual(['0044-03-15 BC', '1900-01-01'])
  })

  it('sends objects and arrays as JSON for json and jsonb', async () => {
    const conn = await connectAsync()
    const when = utc('2024-01-01T00:00:00Z')
    const value = { s: 'quote " backslash \\ newline \n', n: -0.5, list: [1, null], when, nested: { deep: [{}] } }
    expect(await one(conn, 'SELECT $1::jsonb AS v', [value])).toEqual(JSON.parse(JSON.stringify(value)))
    const list = ['a"b', 1.25, NaN, true, null, undefined, when, { k: 'v' }, [[]], Buffer.from([7])]
    expect(await one(conn, 'SELECT $1::json::text AS v', [list])).toBe(JSON.stringify(list))
    expect(await one(conn, 'SELECT $1::jsonb AS v', [42])).toBe(42)
    expect(await one(conn, 'SELECT $1::jsonb AS v', [true])).toBe(true)
    expect(await one(conn, 'SELECT $1::jsonb AS v', [when])).toBe('2024-01-01T00:00:00.000Z')
    expect(await one(conn, 'SELECT $1::jsonb[] AS v', [[{ a: 1 }, null, '{"b": 2}']])).toEqual([{ a: 1 }, null, { b: 2 }])
  })

  it('sends arrays with every string exact: quotes, backslashes, commas, braces, empty, NULL', async () => {
    const conn = await connectAsync()
    const tricky = ['a"b', 'c\\d', 'e,f', '{g}', '', 'NULL', 'null', ' padded ', 'tab\there', '\\"', 'é☃', null]
    expect(await one(conn, 'SELECT $1::text[] AS v', [tricky])).toEqual(tricky)
    expect(await one(conn, 'SELECT array_length($1::text[], 1) AS v', [tricky])).toBe(tricky.length)
    expect(await one(conn, 'SELECT ($1::text[])[6] IS NULL AS v', [tricky])).toBe(false)
    expect(await one(conn, 'SELECT ($1::text[])[12] IS NULL AS v', [tricky])).toBe(true)
    expect(await one(conn, 'SELECT $1::varchar[] AS v', [[]])).toEqual([])
  })

  it('sends nested arrays as multi-dimensional arrays, of any element type', async () => {
    const conn = await connectAsync()
    const grid = [
      [1, 2, 3],
      [4, null, 6],
    ]
    expect(await one(conn, 'SELECT $1::int4[] AS v', [grid])).toEqual(grid)
    expect(await one(conn, 'SELECT array_dims($1::int4[]) AS v', [grid])).toBe('[1:2][1:3]')
    expect(await one(conn, 'SELECT $1::int8[] AS v', [[[1n], [-2]]])).toEqual([['1'], ['-2']])
    expect(await one(conn, 'SELECT $1::numeric[] AS v', [[0.1, 2n, '3.50', NaN]])).toEqual(['0.1', '2', '3.50', 'NaN'])
    expect(await one(conn, 'SELECT $1::bool[] AS v', [[true, false, null]])).toEqual([true, false, null])
    expect(await one(conn, 'SELECT $1::float8[] AS v', [[0.1, -Infinity, NaN]])).toEqual([0.1, -Infinity, NaN])
    expect(await one(conn, 'SELECT $1::bytea[] AS v', [[Buffer.from('hi'), new Uint8Array([0])]])).toEqual([
      Buffer.from('hi'),
      Buffer.from([0]),
    ])
    expect(await one(conn, 'SELECT $1::uuid[] AS v', [['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']])).toEqual([
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    ])
    expect(await one(conn, 'SELECT $1::int4[] AS v', [[[], []]])).toEqual([])
    expect(await one(conn, 'SELECT 3 = ANY($1::int4[]) AS v', [[1, 2, 3]])).toBe(true)
  })

  it('sends arrays for user-defined array types as literals for the server to parse', async () => {
    const conn = await connectAsync({ autocommit: false })
    await conn.exec(`CREATE TYPE pgtide_mood AS ENUM ('happy', 'sad', 'so "so"')`)
    expect(await one(conn, 'SELECT $1::pgtide_mood[]::text[] AS v', [['happy', null, 'so "so"']])).toEqual([
      'happy',
      null,
      'so "so"',
    ])
    expect(await one(conn, 'SELECT $1::pgtide_mood::text AS v', ['sad'])).toBe('sad')
    await conn.rollback()
  })

  it('decodes domains as their base type; their parameters go as text for the server to check', async () => {
    const conn = await connectAsync({ autocommit: false })
    await conn.exec(`CREATE DOMAIN pgtide_positive AS int4 CHECK (VALUE > 0); CREATE DOMAIN pgtide_tags AS text[]`)
    const { rows } = await conn.query(`SELECT $1::pgtide_positive AS n, $2::pgtide_tags AS tags`, [7, ['a b', null]])
    expect(rows[0]).toEqual({ n: 7, tags: ['a b', null] })
    // The domain's check is the server's: a server error (check_violation), not a TypeError.
    await expect(conn.query('SELECT $1::pgtide_positive', [-1])).rejects.toMatchObject({ sqlstate: '23514' })
    await conn.rollback()
  })
})

describe('parameters that cannot fit their type', () => {
  const CASES: [string, unknown, string, RegExp][] = [
    ['int4', 1.5, 'int4', /expected an integer, got 1\.5/],
    ['int2', 40000, 'int2', /40000 is out of range/],
    ['int4', true, 'int4', /got a boolean/],
    ['int8', 2n ** 63n, 'int8', /9223372036854775808 is out of range/],
    ['int8', -(2n ** 63n) - 1n, 'int8', /out of range/],
    ['int8', 2 ** 53, 'int8', /beyond 2\^53.*bigint/],
    ['oid', -1, 'oid', /out of range/],
    ['float4', 1e300, 'float4', /out of range/],
    ['bool', 1, 'bool', /expected a boolean, got a number/],
    ['bytea', new String('abc'), 'bytea', /expected a Buffer or a Uint8Array, got an object/],
    ['bytea', 42, 'bytea', /got a number/],
    ['text', Buffer.from('x'), 'text', /got a Buffer/],
    ['text', { a: 1 }, 'text', /JSON\.stringify/],
    ['timestamptz', new Date(NaN), 'timestamptz', /invalid Date/],
    ['date', new Date(-8.64e15), 'date', /out of range/],
    ['timestamptz', 0, 'timestamptz', /expected a Date, got a number/],
    ['int4', [1], 'int4', /got an array/],
    ['int4[]', [1, 2.5], 'int4[]', /element \[1\]: expected an integer, got 2\.5/],
    ['int4[]', [[1, 2], [3]], 'int4[]', /rectangular/],
    ['int4[]', [[1], 2], 'int4[]', /rectangular/],
    ['int4[]', [[[[[[[1]]]]]]], 'int4[]', /at most 6 dimensions/],
    ['text[]', [[null, Buffer.from('x')]], 'text[]', /element \[0\]\[1\]: .*got a Buffer/],
    ['text', Symbol('s'), 'text', /a symbol cannot be sent/],
    ['text', () => 1, 'text', /a function cannot be sent/],
    ['jsonb', { big: 1n }, 'jsonb', /BigInt/],
    ['jsonb', 1n, 'jsonb', /a bigint has no JSON form/],
    ['json', [1, 2n], 'json', /a bigint has no JSON form/],
    ['jsonb', { toJSON: () => undefined }, 'jsonb', /JSON\.stringify gave nothing/],
  ]

  it.each(CASES)('$1::%s with %s throws a TypeError naming $1 and %s', async (type, value, pgType, message) => {
    const conn = await connectAsync()
    const error = await typeError(conn, `SELECT $1::${type} AS v`, [value])
    expect(error).toMatchObject({ position: 1, pgType })
    expect(error.message).toContain(`parameter $1 (${pgType})`)
    expect(error.message).toMatch(message)
  })

  it('names the position of the parameter at fault', async () => {
    const conn = await connectAsync()
    const error = await typeError(conn, 'SELECT $1::text, $2::int4, $3::int2', ['ok', 1, 1e6])
    expect(error).toMatchObject({ position: 3, pgType: 'int2' })
  })

  it('refuses arrays that contain themselves', async () => {
    const conn = await connectAsync()
    const loop: unknown[] = [1]
    loop.push(loop)
    const error = await typeError(conn, 'SELECT $1::jsonb AS v', [loop])
    expect(error.message).toMatch(/nested deeper than 100 levels/)
  })

  it('leaves the connection usable, in or out of a transaction', async () => {
    const conn = await connectAsync({ autocommit: false })
    await conn.query('SELECT 1')
    await typeError(conn, 'SELECT $1::int4 AS v', [0.5])
    expect(conn.transactionStatus).toBe('intrans')
    expect(await one(conn, 'SELECT $1::int4 AS v', [5])).toBe(5)
    await conn.commit()
    await typeError(conn, 'SELECT $1::bytea AS v', [{}])
    expect(await one(conn, 'SELECT 6 AS v')).toBe(6)
  })

  it('refuses parameters that are not an array', async () => {
    const conn = await connectAsync()
    await expect(conn.query('SELECT $1::int4', 5 as never)).rejects.toThrow(/must be an array/)
  })
})

describe('Connection (sync)', () => {
  it('decodes a value of every type, and arrays of them', () => {
    const conn = connectSync()
    const sql = 'SELECT ' + SCALARS.map(([literal], i) => `${literal} AS c${i}, ARRAY[${literal}, NULL] AS a${i}`).join(', ')
    const row = conn.query(sql).rows[0]!
    SCALARS.forEach(([literal, expected], i) => {
      expect(row[`c${i}`], literal).toEqual(expected)
      expect(row[`a${i}`], literal).toEqual([expected, null])
    })
  })

  it('honours the int8 mode', () => {
    const conn = connectSync({ types: { int8: 'bigint' } })
    expect(conn.query(`SELECT 9223372036854775807::int8 AS v, '{1}'::int8[] AS a`).rows[0]).toEqual({
      v: 9223372036854775807n,
      a: [1n],
    })
    const asNumber = connectSync({ types: { int8: 'number' } })
    expect(asNumber.query('SELECT 12::int8 AS v').rows[0]).toEqual({ v: 12 })
  })

  it('round-trips parameters of every kind', () => {
    const conn = connectSync()
    const params = [
      12n,
      0.1,
      Buffer.from([1, 2]),
      utc('1969-12-31T23:59:59.999Z'),
      utc('2024-06-30T23:59:59Z'),
      [['a"b', null], ['', 'NULL']],
      { a: [1, { b: null }] },
      'ünïcode',
    ]
    const { rows } = conn.query(
      'SELECT $1::int8 AS a, $2::numeric AS b, $3::bytea AS c, $4::timestamptz AS d, $5::date AS e, $6::text[] AS f, $7::jsonb AS g, $8::text AS h',
      params,
    )
    expect(rows[0]).toEqual({
      a: '12',
      b: '0.1',
      c: Buffer.from([1, 2]),
      d: utc('1969-12-31T23:59:59.999Z'),
      e: '2024-06-30',
      f: [
        ['a"b', null],
        ['', 'NULL'],
      ],
      g: { a: [1, { b: null }] },
      h: 'ünïcode',
    })
  })

  it('throws a TypeError naming the parameter, and stays usable', () => {
    const conn = connectSync()
    let error: unknown
    try {
      conn.query('SELECT $1::int4, $2::int8', [1, 2n ** 64n])
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ position: 2, pgType: 'int8' })
    expect(conn.query('SELECT $1::int4[] AS v', [[1, null]]).rows).toEqual([{ v: [1, null] }])
  })
})
