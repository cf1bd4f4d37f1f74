// pgtide/pg's type parsers (lib/pg/types.ts) against node-postgres itself: the same SELECT on
// the installed `pg`, once parsed by pg and once as the raw text PostgreSQL sent, which our
// parsers must turn into the same values. Then setTypeParser, TypeOverrides, and the text row
// decoder (lib/pg/text-rows.ts) on hand-built DataRow buffers.

import pg from 'pg'
import pgTypes from 'pg-types'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { textRowsDecoder, type TextField } from '../lib/pg/text-rows'
import {
  arrayOf,
  builtins,
  getTypeParser,
  noParse,
  parseDate,
  PostgresInterval,
  setTypeParser,
  TypeOverrides,
  types,
} from '../lib/pg/types'
import { databaseUrl } from './helpers'

/** pg's `types` answering the text itself for every type: what PostgreSQL sent. */
const RAW_TEXT = { getTypeParser: () => (text: string) => text }

let client: pg.Client

beforeAll(async () => {
  client = new pg.Client({ connectionString: databaseUrl() })
  await client.connect()
})

afterAll(async () => {
  await client.end()
})

/** Values comparable with toEqual: Dates by time, Buffers by bytes, intervals by own fields. */
function comparable(value: unknown): unknown {
  if (value instanceof Date) return { date: value.getTime() }
  if (Buffer.isBuffer(value)) return { buffer: value.toString('hex') }
  if (Array.isArray(value)) return value.map(comparable)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value)) out[key] = comparable((value as Record<string, unknown>)[key])
    const kind = value.constructor?.name === 'PostgresInterval' ? 'interval' : 'object'
    return { [kind]: out }
  }
  return value
}

interface Compared {
  oid: number
  text: string | null
  ours: unknown
  theirs: unknown
}

async function compare(expression: string): Promise<Compared> {
  const sql = `SELECT ${expression} AS v`
  const parsed = await client.query(sql)
  const raw = await client.query({ text: sql, types: RAW_TEXT })
  const oid = parsed.fields[0]!.dataTypeID
  const text = raw.rows[0].v as string | null
  // pg never calls a parser for NULL.
  const ours = text === null ? null : getTypeParser(oid)(text)
  return { oid, text, ours, theirs: parsed.rows[0].v }
}

async function expectSameAsPg(expression: string): Promise<Compared> {
  const result = await compare(expression)
  expect(comparable(result.ours), `${expression} (oid ${result.oid}, text ${result.text})`).toEqual(
    comparable(result.theirs),
  )
  return result
}

const SCALARS = [
  // bool
  'true',
  'false',
  'NULL::bool',
  // integers, oid
  '1::int2',
  '(-32768)::int2',
  '2147483647',
  '(-2147483648)::int4',
  '9223372036854775807::int8',
  '(-9223372036854775808)::int8',
  '0::int8',
  '4294967295::oid',
  // floats
  '1.5::float4',
  '0.1::float4',
  '1e300::float8',
  '(-0.0)::float8',
  "'NaN'::float8",
  "'Infinity'::float8",
  "'-Infinity'::float4",
  // numeric (a string)
  '1.23::numeric',
  '123456789012345678901234567890.123456789::numeric',
  "'NaN'::numeric",
  "'Infinity'::numeric",
  '(-0.5)::numeric(10,4)',
  // text-like
  "'héllo wörld ✓'::text",
  "'x'::varchar(5)",
  "'ab'::char(4)",
  "'n'::name",
  `'a'::"char"`,
  "''::text",
  'NULL::text',
  // json
  `'{"a":[1,2,{"b":null}],"c":"é"}'::json`,
  `'"str"'::jsonb`,
  "'null'::jsonb",
  "'12.5'::json",
  // bytea (hex)
  "'\\x00ff10'::bytea",
  "''::bytea",
  "convert_to('héllo', 'UTF8')",
  // dates
  "'2024-03-15'::date",
  "'0001-01-01'::date",
  "'0044-03-15 BC'::date",
  "'0001-01-01 BC'::date",
  "'0099-12-31'::date",
  "'0100-01-01'::date",
  "'10000-01-01'::date",
  "'infinity'::date",
  "'-infinity'::date",
  'NULL::date',
  // timestamp without time zone (local time)
  "'2024-03-15 12:34:56.789123'::timestamp",
  "'2024-03-15 12:34:56'::timestamp",
  "'1999-12-31 23:59:59.999999'::timestamp",
  "'0050-06-01 08:00:00'::timestamp",
  "'0044-03-15 12:00:00 BC'::timestamp",
  "'infinity'::timestamp",
  "'-infinity'::timestamp",
  // timestamptz
  "'2024-03-15 12:34:56.5+02'::timestamptz",
  "'2000-01-01 00:00:00.000001+00'::timestamptz",
  "'0044-03-15 12:00:00+00 BC'::timestamptz",
  "'0010-01-01 00:00:00+00'::timestamptz",
  "'infinity'::timestamptz",
  "'-infinity'::timestamptz",
  // time, timetz (strings)
  "'12:34:56.789'::time",
  "'12:34:56+05:30'::timetz",
  // interval
  "'1 year 2 months 3 days 04:05:06.789'::interval",
  "'-1 year -2 mons +3 days -04:05:06'::interval",
  "'0'::interval",
  "'-00:00:00.5'::interval",
  "'100 hours'::interval",
  "'1 day -00:00:01'::interval",
  "'3 mons'::interval",
  "'0.000001 seconds'::interval",
  "'-2 years'::interval",
  "'1 day 00:00:00.123456'::interval",
  // geometry
  "'(1.5,-2)'::point",
  "'(1e-5,3e10)'::point",
  "'<(1,2),3.5>'::circle",
  "'((1,1),(0,0))'::box",
  "'[(0,0),(1,1)]'::lseg",
  "'((0,0),(1,1),(1,0))'::polygon",
  // network, uuid, money
  "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
  "'192.168.0.1/24'::inet",
  "'::1'::inet",
  "'10.0.0.0/8'::cidr",
  "'08:00:2b:01:02:03'::macaddr",
  "'08:00:2b:01:02:03:04:05'::macaddr8",
  "'12.34'::money",
  // types pg-types has no parser for: the text unchanged
  "'a fat cat'::tsvector",
  "'[1,5)'::int4range",
  "'<a>x</a>'::xml",
  "B'1011'",
  "'16/B374D848'::pg_lsn",
  "'pg_class'::regclass",
]

const ARRAYS = [
  'ARRAY[true, false, NULL]',
  'ARRAY[1, 2, NULL]::int2[]',
  'ARRAY[1, -2147483648, NULL]::int4[]',
  'ARRAY[9223372036854775807, NULL, -1]::int8[]',
  'ARRAY[1, 4294967295]::oid[]',
  "ARRAY[1.5, 'NaN', 'Infinity', NULL]::float4[]",
  "ARRAY[1e300, '-Infinity', 0.1]::float8[]",
  "ARRAY[1.5, 'NaN', NULL, 123456789012345678901234567890]::numeric[]",
  `ARRAY['a', 'b c', NULL, 'NULL', '', 'with "quote"', E'back\\\\slash', '{braces}', 'comma,here', 'é ✓', ' lead', E'tab\\there']`,
  "ARRAY['x', NULL]::varchar[]",
  "ARRAY['ab', NULL]::char(3)[]",
  "ARRAY['n1', 'n 2']::name[]",
  "'{{1,2},{3,NULL}}'::int[]",
  `'{{NULL,"x"},{"y z",NULL}}'::text[]`,
  "'{{{1}},{{2}}}'::int[]",
  "'[0:1]={1,2}'::int[]",
  "'[-1:0][2:3]={{1,2},{3,4}}'::int[]",
  "'{}'::int[]",
  "'{}'::text[]",
  'NULL::int[]',
  "'{2024-01-01,infinity,-infinity,NULL,\"0044-03-15 BC\"}'::date[]",
  `ARRAY['2024-03-15 12:34:56.789', 'infinity', NULL]::timestamp[]`,
  `ARRAY['2024-03-15 12:34:56.789+03', '-infinity']::timestamptz[]`,
  `ARRAY['1 year 2 days 03:04:05', '-00:00:01', NULL]::interval[]`,
  `ARRAY['{"a":1}', '[1,"x"]', NULL]::json[]`,
  `ARRAY['{"a":"b\\"c"}', 'null']::jsonb[]`,
  "ARRAY['\\x00ff'::bytea, NULL, ''::bytea]",
  "ARRAY['(1,2)'::point, NULL, '(-1.5,0)']",
  "ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, NULL]",
  "ARRAY['192.168.0.1'::inet, '::1/128']",
  "ARRAY['10.0.0.0/8'::cidr]",
  "ARRAY['08:00:2b:01:02:03'::macaddr]",
  "ARRAY['1.50'::money, NULL]",
  "ARRAY['12:00'::time, '13:14:15.5']",
  "ARRAY['12:00+01'::timetz]",
  "ARRAY['[1,2)'::numrange, 'empty']",
  "ARRAY['((1,1),(0,0))'::box, '((2,2),(1,1))']",
  "ARRAY['now'::regproc]",
  "ARRAY['<(1,2),3>'::circle]",
]

describe('default text parsers give what pg gives', () => {
  it.each(SCALARS)('%s', async (expression) => {
    await expectSameAsPg(expression)
  })

  it.each(ARRAYS)('%s', async (expression) => {
    await expectSameAsPg(expression)
  })

  it('text[] of random strings full of the array syntax, flat and nested', async () => {
    const alphabet = ['a', 'Z', ' ', '"', '\\', '{', '}', ',', ';', '[', ']', ':', '=', 'NULL', 'null', 'é', '✓', '\t', "'"]
    let seed = 7
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    }
    const strings = Array.from({ length: 300 }, () =>
      random(10) === 0 ? null : Array.from({ length: random(6) }, () => alphabet[random(alphabet.length)]).join(''),
    )
    const parsed = await client.query('SELECT $1::text[] AS flat, array_fill(NULL::text, ARRAY[0]) AS empty', [strings])
    const raw = await client.query({ text: 'SELECT $1::text[] AS flat', values: [strings], types: RAW_TEXT })
    expect(getTypeParser(1009)(raw.rows[0].flat)).toEqual(parsed.rows[0].flat)
    expect(parsed.rows[0].flat).toEqual(strings)

    const pairs = `SELECT ARRAY[[$1::text, $2], [$3, $4]] AS v`
    for (let i = 0; i + 4 <= strings.length; i += 4) {
      const values = strings.slice(i, i + 4)
      const nested = await client.query(pairs, values)
      const nestedRaw = await client.query({ text: pairs, values, types: RAW_TEXT })
      expect(getTypeParser(1009)(nestedRaw.rows[0].v)).toEqual(nested.rows[0].v)
    }
  })

  it('int8 and numeric are strings, numeric[] numbers; unknown types the text', async () => {
    expect((await compare('9223372036854775807::int8')).ours).toBe('9223372036854775807')
    expect((await compare('1.5::numeric')).ours).toBe('1.5')
    expect((await compare('ARRAY[1.5]::numeric[]')).ours).toEqual([1.5])
    expect((await compare("ARRAY['a']::name[]")).ours).toBe('{a}')
  })

  it('dates and timestamps without a zone are local time; infinity is ±Infinity', async () => {
    const date = (await compare("'2024-03-15'::date")).ours as Date
    expect([date.getFullYear(), date.getMonth(), date.getDate(), date.getHours()]).toEqual([2024, 2, 15, 0])
    const bc = (await compare("'0044-03-15 BC'::date")).ours as Date
    expect(bc.getFullYear()).toBe(-43)
    expect((await compare("'infinity'::timestamptz")).ours).toBe(Infinity)
    expect((await compare("'-infinity'::date")).ours).toBe(-Infinity)
    expect(parseDate('not a date')).toBeNull()
  })

  it('timestamptz in zones with minute and second offsets', async () => {
    await client.query("SET TIME ZONE 'Asia/Kolkata'")
    try {
      await expectSameAsPg("'2024-03-15 12:34:56.5+00'::timestamptz")
      await client.query("SET TIME ZONE 'Europe/Amsterdam'")
      const lmt = await expectSameAsPg("'1850-01-01 00:00:00+00'::timestamptz")
      expect(lmt.text).toMatch(/\+00:19:32$/)
      await client.query("SET TIME ZONE 'America/St_Johns'")
      await expectSameAsPg(`ARRAY['2024-07-01 00:00:00+00', '1900-01-01 00:00:00+00']::timestamptz[]`)
    } finally {
      await client.query('RESET TIME ZONE')
    }
  })

  it('bytea in escape format', async () => {
    await client.query('SET bytea_output = escape')
    try {
      const { text } = await expectSameAsPg("'\\x00015c7f80ff41'::bytea")
      expect(text).toContain('\\\\')
      await expectSameAsPg("ARRAY['\\x5c00'::bytea, 'abc']")
    } finally {
      await client.query('RESET bytea_output')
    }
  })

  it('intervals have the methods postgres-interval has', async () => {
    const cases = [
      "'1 year 2 months 3 days 04:05:06.789'::interval",
      "'-00:00:00.5'::interval",
      "'0'::interval",
      "'3 days'::interval",
      "'-1 days +02:00:00.000123'::interval",
    ]
    for (const expression of cases) {
      const { ours, theirs } = await compare(expression)
      expect(ours).toBeInstanceOf(PostgresInterval)
      const interval = ours as PostgresInterval
      const pgInterval = theirs as PostgresInterval
      expect(interval.toPostgres()).toBe(pgInterval.toPostgres())
      expect(interval.toISO()).toBe(pgInterval.toISO())
      expect(interval.toISOString()).toBe(pgInterval.toISOString())
    }
  })

  it('unknown OIDs and formats give the text unchanged', () => {
    expect(getTypeParser(999_999)('x y')).toBe('x y')
    expect(getTypeParser(23, 'nonsense' as 'text')).toBe(noParse)
    expect(pgTypes.getTypeParser(999_999 as pgTypes.TypeId)('x y')).toBe('x y')
  })

  it('the array grammar also reads box arrays (; delimited) when asked', () => {
    expect(arrayOf(undefined, ';')('{(1,1),(0,0);(2,2),(1,1)}')).toEqual(['(1,1),(0,0)', '(2,2),(1,1)'])
    expect(types.arrayParser.create('{1,"2",NULL}', Number).parse()).toEqual([1, 2, null])
  })
})

describe('builtins', () => {
  it('is pg-types’ OID enum', () => {
    expect({ ...builtins }).toEqual({ ...pgTypes.builtins })
    expect(types.builtins.INT8).toBe(20)
  })
})

describe('binary parsers', () => {
  const cases: [number, string, Buffer][] = [
    [builtins.BOOL, 'bool', Buffer.from([1])],
    [builtins.INT2, 'int2', Buffer.from([0xff, 0xfe])],
    [builtins.INT4, 'int4', Buffer.from([0x80, 0, 0, 1])],
    [builtins.INT8, 'int8', Buffer.from([0, 0, 0, 1, 0, 0, 0, 2])],
    [builtins.FLOAT4, 'float4', Buffer.from([0x3f, 0xc0, 0, 0])],
    [builtins.FLOAT8, 'float8', Buffer.from([0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18])],
    [builtins.TEXT, 'text', Buffer.from('héllo')],
    // numeric 12345.678: 2 + 3 digits: 1 2345 6780, weight 1, scale 3
    [builtins.NUMERIC, 'numeric', Buffer.from([0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c])],
    // timestamptz 2000-01-02: 86400e6 µs
    [builtins.TIMESTAMPTZ, 'timestamptz', Buffer.from([0, 0, 0, 0x14, 0x1d, 0xd7, 0x60, 0])],
    [builtins.TIMESTAMP, 'timestamp', Buffer.from([0, 0, 0, 0x14, 0x1d, 0xd7, 0x60, 0])],
  ]

  it.each(cases)('oid %i (%s) as pg-types', (oid, _name, value) => {
    const ours = getTypeParser(oid, 'binary')(value)
    const theirs = pgTypes.getTypeParser(oid, 'binary')(value)
    expect(comparable(ours)).toEqual(comparable(theirs))
  })

  it('arrays and numbers pg-types gets wrong', () => {
    // int4[] {1,NULL,-2}: 1 dimension, has nulls, element oid 23, length 3, lower bound 1
    const int4s = Buffer.from([
      0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 23, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0,
      0, 0, 4, 0xff, 0xff, 0xff, 0xfe,
    ])
    expect(getTypeParser(1007, 'binary')(int4s)).toEqual([1, null, -2])
    // numeric 0.05: 1 digit (500), weight -1, scale 2
    expect(getTypeParser(builtins.NUMERIC, 'binary')(Buffer.from([0, 1, 0xff, 0xff, 0, 0, 0, 2, 0x01, 0xf4]))).toBe(0.05)
    expect(getTypeParser(builtins.OID, 'binary')(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toBe(4294967295)
    // Types without a binary parser: as pg-types, String(buffer).
    expect(getTypeParser(builtins.UUID, 'binary')).toBe(noParse)
  })
})

describe('setTypeParser and TypeOverrides', () => {
  it('setTypeParser replaces a parser globally, with or without the format', () => {
    const int8 = getTypeParser(builtins.INT8)
    const numeric = getTypeParser(builtins.NUMERIC)
    try {
      setTypeParser(builtins.INT8, BigInt)
      setTypeParser(builtins.NUMERIC, 'text', parseFloat)
      expect(getTypeParser(20)('9223372036854775807')).toBe(9223372036854775807n)
      expect(getTypeParser(1700, 'text')('1.25')).toBe(1.25)
      expect(new TypeOverrides().getTypeParser(20)('1')).toBe(1n)
      setTypeParser(20, 'binary', (value: Buffer) => value.readBigInt64BE(0))
      expect(getTypeParser(20, 'binary')(Buffer.alloc(8))).toBe(0n)
      expect(() => setTypeParser(20, 'json' as 'text', String)).toThrow(TypeError)
    } finally {
      setTypeParser(builtins.INT8, int8)
      setTypeParser(builtins.NUMERIC, numeric)
      setTypeParser(builtins.INT8, 'binary', getTypeParser(builtins.INT8, 'binary'))
    }
    expect(getTypeParser(20)('1')).toBe('1')
    expect(getTypeParser(1700)('1.25')).toBe('1.25')
  })

  it('TypeOverrides falls back as pg’s does', () => {
    const upper = (text: string): string => text.toUpperCase()
    const ours = new TypeOverrides()
    // Both seen through one shape (@types/pg types its getTypeParser's parser oddly).
    const theirs = new pg.TypeOverrides() as unknown as TypeOverrides
    for (const overrides of [ours, theirs]) {
      overrides.setTypeParser(25, upper)
      overrides.setTypeParser(1043, 'text', upper)
      overrides.setTypeParser(23, 'binary', () => 'bin')
    }
    for (const overrides of [ours, theirs]) {
      expect(overrides.getTypeParser(25)('ab')).toBe('AB')
      expect(overrides.getTypeParser(1043, 'text')('ab')).toBe('AB')
      expect(overrides.getTypeParser(23, 'binary')(Buffer.alloc(4))).toBe('bin')
      // Not overridden: the global parser.
      expect(overrides.getTypeParser(23)('42')).toBe(42)
      expect(overrides.getTypeParser(999_999)('x')).toBe('x')
    }
    expect(ours.text[25]).toBe(upper)
    expect(Object.keys(ours.getOverrides('json'))).toEqual([])
    // The global registry is untouched.
    expect(getTypeParser(25)('ab')).toBe('ab')

    // Given another `types`, it falls back to that one.
    const chained = new TypeOverrides({ getTypeParser: (oid) => (oid === 23 ? () => 'custom' : noParse) })
    expect(chained.getTypeParser(23)('1')).toBe('custom')
    expect(chained.getTypeParser(16)('t')).toBe('t')
    const layered = new TypeOverrides(ours)
    expect(layered.getTypeParser(25)('ab')).toBe('AB')
  })

  it('pg’s Client uses our TypeOverrides as its types', async () => {
    const overrides = new TypeOverrides()
    overrides.setTypeParser(builtins.INT8, BigInt)
    const other = new pg.Client({ connectionString: databaseUrl(), types: overrides })
    await other.connect()
    try {
      const { rows } = await other.query('SELECT 9007199254740993::int8 AS n, 1.5::numeric AS d')
      expect(rows[0]).toEqual({ n: 9007199254740993n, d: '1.5' })
    } finally {
      await other.end()
    }
  })
})

/** DataRow bodies as the engine hands them over: per value int32 length (-1: NULL), bytes. */
function dataRows(rows: (string | null)[][]): Buffer {
  const parts: Buffer[] = []
  for (const row of rows) {
    for (const value of row) {
      const size = Buffer.alloc(4)
      if (value === null) {
        size.writeInt32BE(-1)
        parts.push(size)
      } else {
        const bytes = Buffer.from(value, 'utf8')
        size.writeInt32BE(bytes.length)
        parts.push(size, bytes)
      }
    }
  }
  return Buffer.concat(parts)
}

function fieldsOf(...columns: [string, number][]): TextField[] {
  return Object.freeze(columns.map(([name, dataTypeID]) => Object.freeze({ name, dataTypeID }))) as TextField[]
}

describe('text row decoder', () => {
  const lookup = (oid: number) => getTypeParser(oid)

  it('decodes objects, with NULLs and parsed values', () => {
    const fields = fieldsOf(['id', 23], ['name', 25], ['ok', 16], ['tags', 1009], ['at', 1082])
    const buf = dataRows([
      ['1', 'é ✓', 't', '{a,"b c",NULL}', '2024-03-15'],
      ['2', null, null, null, 'infinity'],
    ])
    const rows = textRowsDecoder(fields, lookup)(buf, 2) as Record<string, unknown>[]
    expect(comparable(rows)).toEqual(
      comparable([
        { id: 1, name: 'é ✓', ok: true, tags: ['a', 'b c', null], at: new Date(2024, 2, 15) },
        { id: 2, name: null, ok: null, tags: null, at: Infinity },
      ]),
    )
    expect(textRowsDecoder(fields, lookup)(Buffer.alloc(0), 0)).toEqual([])
  })

  it('decodes arrays in column order, repeated names kept', () => {
    const fields = fieldsOf(['a', 23], ['a', 25], ['b', 20])
    const buf = dataRows([
      ['1', 'x', '9223372036854775807'],
      [null, '', null],
    ])
    expect(textRowsDecoder(fields, lookup, 'array')(buf, 2)).toEqual([
      [1, 'x', '9223372036854775807'],
      [null, '', null],
    ])
    // Object mode: the later column wins the name, as pg.
    expect(textRowsDecoder(fields, lookup)(buf, 2)).toEqual([
      { a: 'x', b: '9223372036854775807' },
      { a: '', b: null },
    ])
  })

  it('keeps odd names as own properties', () => {
    const fields = fieldsOf(['__proto__', 23], ['"quoted"\n', 25], ['constructor', 25])
    const [row] = textRowsDecoder(fields, lookup)(dataRows([['5', 'q', 'c']]), 1) as Record<string, unknown>[]
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(row, '__proto__')?.value).toBe(5)
    expect(row!['"quoted"\n']).toBe('q')
    expect(row!.constructor).toBe('c')
  })

  it('zero columns give empty rows', () => {
    const fields = fieldsOf()
    expect(textRowsDecoder(fields, lookup)(Buffer.alloc(0), 2)).toEqual([{}, {}])
    expect(textRowsDecoder(fields, lookup, 'array')(Buffer.alloc(0), 1)).toEqual([[]])
  })

  it('caches per column array and parser set, and honours parsers set later or per query', () => {
    const fields = fieldsOf(['n', 20], ['t', 25])
    const buf = dataRows([['12', 'x']])
    const first = textRowsDecoder(fields, lookup)
    expect(textRowsDecoder(fields, lookup)).toBe(first)
    // A new lookup function with the same parsers (Drizzle's per-query `types`): the same decoder.
    expect(textRowsDecoder(fields, (oid) => types.getTypeParser(oid))).toBe(first)
    expect(textRowsDecoder(fields, lookup, 'array')).not.toBe(first)

    const overrides = new TypeOverrides()
    overrides.setTypeParser(20, BigInt)
    const perQuery = textRowsDecoder(fields, (oid) => overrides.getTypeParser(oid))
    expect(perQuery(buf, 1)).toEqual([{ n: 12n, t: 'x' }])
    expect(textRowsDecoder(fields, lookup)(buf, 1)).toEqual([{ n: '12', t: 'x' }])

    const int8 = getTypeParser(20)
    try {
      setTypeParser(20, Number)
      expect(textRowsDecoder(fields, lookup)(buf, 1)).toEqual([{ n: 12, t: 'x' }])
    } finally {
      setTypeParser(20, int8)
    }
    // A column array with the same shape and new parsers reuses the compiled shape.
    const again = fieldsOf(['n', 20], ['t', 25])
    expect(textRowsDecoder(again, (oid) => overrides.getTypeParser(oid))(buf, 1)).toEqual([{ n: 12n, t: 'x' }])
    // undefined from the lookup: the text unchanged.
    expect(textRowsDecoder(again, () => undefined)(buf, 1)).toEqual([{ n: '12', t: 'x' }])
  })

  it('gives pg’s rows for a real result rebuilt as DataRow bodies', async () => {
    const sql = `SELECT 1 AS a, 'x'::text AS b, NULL::int AS c, ARRAY[1,NULL] AS d, '2024-01-02 03:04:05+00'::timestamptz AS e,
      '{"k":[1]}'::jsonb AS f, '\\x0102'::bytea AS g, '1 day'::interval AS h, 2 AS a
      FROM generate_series(1, 3)`
    const parsed = await client.query(sql)
    const raw = await client.query({ text: sql, types: RAW_TEXT, rowMode: 'array' })
    const fields = parsed.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID }))
    const buf = dataRows(raw.rows as (string | null)[][])
    expect(comparable(textRowsDecoder(fields, lookup)(buf, 3))).toEqual(comparable(parsed.rows))
    const parsedArrays = await client.query({ text: sql, rowMode: 'array' })
    expect(comparable(textRowsDecoder(fields, lookup, 'array')(buf, 3))).toEqual(comparable(parsedArrays.rows))
  })
})
