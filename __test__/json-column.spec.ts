// A json or jsonb column is parsed whole, once per result (lib/json-column.ts): every value must
// come out exactly as its own JSON.parse of the server's text gives it, whatever the neighbours
// (NULLs, long and short documents, several JSON columns, non-ASCII text, `__proto__` keys),
// in results small and large (the large ones arrive in chunks), async and sync.

import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnection, Connection } from '../dist/index.js'
import { databaseUrl } from './helpers'

const opened: { close(): unknown }[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()))
})

// Row g: a jsonb and a json document of varied shape and length (some over 64 bytes, copied
// natively), NULL in one or the other now and then, and their texts to compare with.
const SQL = `
  WITH docs AS (
    SELECT g,
      CASE WHEN g % 7 = 0 THEN NULL
           WHEN g % 5 = 0 THEN jsonb_build_object('long', repeat('é∂ ', g % 40), 'n', g, 'nested', jsonb_build_array(g, 'x', NULL, true))
           WHEN g % 3 = 0 THEN to_jsonb(g * 1.5)
           WHEN g % 11 = 0 THEN '{"__proto__": {"polluted": 1}, "k": "\\u00e9 \\n and \\"quotes\\""}'::jsonb
           ELSE jsonb_build_object('id', g, 'tags', jsonb_build_array('a', 'b')) END AS b,
      CASE WHEN g % 4 = 0 THEN NULL
           WHEN g % 6 = 0 THEN '  [1, 2,  {"dup": 1, "dup": 2}]  '::json
           ELSE json_build_object('g', g, 'text', 'name ' || g) END AS j
    FROM generate_series(1, $1::int) g)
  SELECT g, b, j, b::text AS btext, j::text AS jtext FROM docs ORDER BY g`

interface Row {
  g: number
  b: unknown
  j: unknown
  btext: string | null
  jtext: string | null
}

function expectParsed(rows: Row[], count: number): void {
  expect(rows).toHaveLength(count)
  rows.forEach((row, i) => {
    expect(row.g).toBe(i + 1)
    expect(row.b).toStrictEqual(row.btext === null ? null : JSON.parse(row.btext))
    expect(row.j).toStrictEqual(row.jtext === null ? null : JSON.parse(row.jtext))
  })
}

describe('json and jsonb columns parsed whole', () => {
  it.each([1, 7, 100, 40_000])('async, %i rows', async (count) => {
    const conn = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    opened.push(conn)
    const { rows } = await conn.query<Row>(SQL, [count])
    expectParsed(rows, count)
  })

  it('sync, 5,000 rows', () => {
    const conn = Connection.connect(databaseUrl(), { autocommit: true })
    opened.push(conn)
    const { rows } = conn.query<Row>(SQL, [5_000])
    expectParsed(rows, 5_000)
  })

  it('a __proto__ key is an own property, as JSON.parse makes it', async () => {
    const conn = await AsyncConnection.connect(databaseUrl(), { autocommit: true })
    opened.push(conn)
    const { rows } = await conn.query<{ d: Record<string, unknown> }>(
      `SELECT '{"__proto__": {"x": 1}}'::jsonb AS d FROM generate_series(1, 3)`,
    )
    for (const { d } of rows) {
      expect(Object.keys(d)).toEqual(['__proto__'])
      expect(Object.getPrototypeOf(d)).toBe(Object.prototype)
    }
  })
})
