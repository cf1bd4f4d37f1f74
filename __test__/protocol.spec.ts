import { describe, expect, it } from 'vitest'

import { NotSupportedError, ProgrammingError, type AsyncConnection } from '../dist/index.js'
import { caught, openAsync, openSync } from './open'

describe('exec (scripts)', () => {
  it('runs every statement of a script', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec('CREATE TEMP TABLE s (x int4); INSERT INTO s VALUES (1); INSERT INTO s VALUES (2)')
    expect((await conn.query('SELECT count(*)::int4 AS n FROM s')).rows).toEqual([{ n: 2 }])
  })

  it('stops at an error mid-script; in autocommit mode the script was one implicit transaction', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec('CREATE TEMP TABLE s (x int4)')
    const error = await caught(() => conn.exec('INSERT INTO s VALUES (1); SELECT 1/0; INSERT INTO s VALUES (2)'))
    expect(error).toMatchObject({ sqlstate: '22012' })
    expect(conn.transactionStatus).toBe('idle')
    expect((await conn.query('SELECT count(*)::int4 AS n FROM s')).rows).toEqual([{ n: 0 }])
  })

  it('leaves the transaction in error when autocommit is off', async () => {
    const conn = await openAsync()
    const error = await caught(() => conn.exec('SELECT 1; SELECT 1/0; SELECT 2'))
    expect(error).toMatchObject({ sqlstate: '22012' })
    expect(conn.transactionStatus).toBe('inerror')
    await expect(conn.query('SELECT 1')).rejects.toMatchObject({ sqlstate: '25P02' })
    await conn.rollback()
    expect(conn.transactionStatus).toBe('idle')
  })

  it('a script that COMMITs midway keeps what it committed (sync)', () => {
    const conn = openSync({ autocommit: true })
    conn.exec('CREATE TEMP TABLE s (x int4)')
    expect(() => conn.exec('BEGIN; INSERT INTO s VALUES (1); COMMIT; INSERT INTO s VALUES (1/0)')).toThrow(
      expect.objectContaining({ sqlstate: '22012' }),
    )
    expect(conn.transactionStatus).toBe('idle')
    expect(conn.query('SELECT count(*)::int4 AS n FROM s').rows).toEqual([{ n: 1 }])
  })
})

describe('command and rowCount', () => {
  it('read as pg reports them', async () => {
    const conn = await openAsync({ autocommit: true })
    const run = async (sql: string) => {
      const { command, rowCount } = await conn.query(sql)
      return [command, rowCount]
    }
    expect(await run('CREATE TEMP TABLE m (k int4 PRIMARY KEY, v text)')).toEqual(['CREATE', null])
    expect(await run("INSERT INTO m VALUES (1, 'a'), (2, 'b'), (3, 'c')")).toEqual(['INSERT', 3])
    expect(await run("UPDATE m SET v = v || '!' WHERE k > 1")).toEqual(['UPDATE', 2])
    expect(await run('SELECT * FROM m')).toEqual(['SELECT', 3])
    expect(await run('SELECT * FROM m WHERE false')).toEqual(['SELECT', 0])
    expect(
      await run(`MERGE INTO m USING (VALUES (3), (4)) s(k) ON m.k = s.k
                 WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.k, 'new')`),
    ).toEqual(['MERGE', 2])
    expect(await run('COPY m TO STDOUT')).toEqual(['COPY', 3])
    expect(await run('DELETE FROM m')).toEqual(['DELETE', 3])
    expect(await run('ALTER TABLE m ADD COLUMN w int4')).toEqual(['ALTER', null])
    expect(await run('DROP TABLE m')).toEqual(['DROP', null])
  })

  it("an empty query has command '' and no rows", async () => {
    const conn = await openAsync()
    expect(await conn.query('')).toEqual({ rows: [], rowCount: null, command: '', fields: [] })
    expect(await conn.query('  ;  ')).toMatchObject({ command: '', rowCount: null })
    await conn.exec('')
    expect((await conn.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })
})

describe('bad input', () => {
  it('is refused with a clear error, and the connection stays in step', async () => {
    const conn = await openAsync({ autocommit: true })
    await expect(conn.query('SELECT 1\0')).rejects.toThrow(/NUL/)
    await expect(conn.exec('SELECT 1\0')).rejects.toThrow(/NUL/)
    await expect(conn.query('SELECT 1; SELECT 2')).rejects.toMatchObject({ sqlstate: '42601' })
    await expect(conn.query('SELECT $1::int4', [1, 2])).rejects.toThrow(/1 placeholders but 2 parameters/)
    // @ts-expect-error: deliberately wrong
    await expect(conn.query(42)).rejects.toBeInstanceOf(TypeError)
    expect((await conn.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })
})

describe('COPY through query()', () => {
  it('TO STDOUT returns one row per line, in a `copy` column, newline included', async () => {
    const conn = await openAsync({ autocommit: true })
    const result = await conn.query<{ copy: string }>(
      "COPY (SELECT g, 'a,b' AS t FROM generate_series(1, 3) g) TO STDOUT (FORMAT csv, HEADER)",
    )
    expect(result.command).toBe('COPY')
    expect(result.rowCount).toBe(3)
    expect(result.fields.map((f) => [f.name, f.dataTypeID])).toEqual([['copy', 25]])
    expect(result.rows.map((r) => r.copy).join('')).toBe('g,t\n1,"a,b"\n2,"a,b"\n3,"a,b"\n')
    expect((await conn.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
  })

  it('TO STDOUT in binary format is refused, and the connection stays in step', async () => {
    const conn = await openAsync({ autocommit: true })
    const error = await caught(() => conn.query('COPY (SELECT 1) TO STDOUT (FORMAT binary)'))
    expect(error).toBeInstanceOf(ProgrammingError)
    expect((error as Error).message).toMatch(/binary/)
    expect((await conn.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }])
  })

  it('FROM STDIN is answered with CopyFail: a clear ProgrammingError, connection usable', async () => {
    const conn = await openAsync()
    await conn.exec('CREATE TEMP TABLE c (x int4)')
    await conn.commit()
    const error = await caught(() => conn.query('COPY c FROM STDIN'))
    expect(error).toBeInstanceOf(ProgrammingError)
    expect((error as Error).message).toMatch(/COPY \.\.\. FROM STDIN cannot run through query\(\)/)
    expect(conn.transactionStatus).toBe('inerror') // the COPY failed inside the implicit transaction
    await conn.rollback()
    expect((await conn.query('SELECT count(*)::int4 AS n FROM c')).rows).toEqual([{ n: 0 }])
  })

  it('FROM STDIN in a script is refused the same way (sync)', () => {
    const conn = openSync({ autocommit: true })
    conn.exec('CREATE TEMP TABLE c (x int4)')
    expect(() => conn.exec('INSERT INTO c VALUES (1); COPY c FROM STDIN; INSERT INTO c VALUES (2)')).toThrow(
      ProgrammingError,
    )
    expect(conn.transactionStatus).toBe('idle')
    expect(conn.query('SELECT count(*)::int4 AS n FROM c').rows).toEqual([{ n: 0 }])
  })
})

describe('statement cache', () => {
  async function preparedCount(conn: AsyncConnection, statement?: string): Promise<number> {
    const { rows } = await conn.query<{ n: number }>(
      'SELECT count(*)::int4 AS n FROM pg_prepared_statements WHERE $1::text IS NULL OR statement = $1',
      [statement ?? null],
    )
    return rows[0]!.n
  }

  it('prepares a repeated statement once (default size 100)', async () => {
    const conn = await openAsync({ autocommit: true })
    const sql = 'SELECT $1::int4 * 2 AS doubled'
    for (let i = 0; i < 5; i++) expect((await conn.query(sql, [i])).rows).toEqual([{ doubled: i * 2 }])
    const { rows } = await conn.query<{ name: string; prepare_time: string }>(
      'SELECT name, prepare_time::text FROM pg_prepared_statements WHERE statement = $1',
      [sql],
    )
    expect(rows).toHaveLength(1)
    expect(rows[0]!.name).toMatch(/^_pgtide_\d+$/)
    await conn.query(sql, [9])
    const again = await conn.query('SELECT name, prepare_time::text FROM pg_prepared_statements WHERE statement = $1', [
      sql,
    ])
    expect(again.rows).toEqual(rows) // same statement, not prepared again
  })

  it('evicts the least recently used statement past statementCacheSize', async () => {
    const conn = await openAsync({ autocommit: true, statementCacheSize: 4 })
    for (let i = 0; i < 10; i++) await conn.query(`SELECT ${i} AS n`)
    await conn.query('SELECT 0 AS n') // evicted long ago: prepared again
    expect(await preparedCount(conn)).toBe(4)
    expect(await preparedCount(conn, 'SELECT 9 AS n')).toBe(1)
    expect(await preparedCount(conn, 'SELECT 0 AS n')).toBe(1)
    expect(await preparedCount(conn, 'SELECT 5 AS n')).toBe(0)
  })

  it('stays within its bound under 1,000 distinct statements', async () => {
    const conn = await openAsync({ autocommit: true })
    for (let i = 0; i < 1000; i++) await conn.query(`SELECT ${i}::int4 AS n`)
    // The default bound is 100; the counting query is one of them.
    expect(await preparedCount(conn)).toBe(100)
    expect(await preparedCount(conn, 'SELECT 999::int4 AS n')).toBe(1)
    expect(await preparedCount(conn, 'SELECT 0::int4 AS n')).toBe(0)
  })

  it('size 0 sends no named statement at all', async () => {
    const conn = await openAsync({ autocommit: true, statementCacheSize: 0 })
    for (let i = 0; i < 3; i++) await conn.query('SELECT $1::text AS t', ['x'])
    expect(await preparedCount(conn)).toBe(0)
  })

  it('re-prepares transparently after ALTER TABLE changes the result type', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec("CREATE TEMP TABLE inv (a int4); INSERT INTO inv VALUES (1)")
    expect((await conn.query('SELECT * FROM inv')).rows).toEqual([{ a: 1 }])
    await conn.exec('ALTER TABLE inv ADD COLUMN b text')
    expect((await conn.query('SELECT * FROM inv')).rows).toEqual([{ a: 1, b: null }])
  })

  it('re-prepares when autocommit is off and the query opens the transaction', async () => {
    const conn = await openAsync()
    await conn.exec("CREATE TEMP TABLE inv (a int4); INSERT INTO inv VALUES (1)")
    await conn.commit()
    await conn.query('SELECT * FROM inv')
    await conn.commit()
    await conn.exec('ALTER TABLE inv ADD COLUMN b text')
    await conn.commit()
    expect((await conn.query('SELECT * FROM inv')).rows).toEqual([{ a: 1, b: null }])
    expect(conn.transactionStatus).toBe('intrans')
  })

  it('inside a transaction that did work, raises (NotSupportedError) and evicts', async () => {
    const conn = await openAsync()
    await conn.exec("CREATE TEMP TABLE inv (a int4); INSERT INTO inv VALUES (1)")
    await conn.commit()
    const error = await caught(() =>
      conn.transaction(async () => {
        await conn.query('SELECT * FROM inv')
        await conn.exec('ALTER TABLE inv ADD COLUMN b text')
        await conn.query('SELECT * FROM inv')
      }),
    )
    expect(error).toBeInstanceOf(NotSupportedError)
    expect(error).toMatchObject({ sqlstate: '0A000' })
    expect(conn.transactionStatus).toBe('idle')
    await conn.exec('ALTER TABLE inv ADD COLUMN b text')
    expect((await conn.query('SELECT * FROM inv')).rows).toEqual([{ a: 1, b: null }])
  })

  it('survives DISCARD ALL and DEALLOCATE ALL sent as SQL', async () => {
    const conn = await openAsync({ autocommit: true })
    const sql = 'SELECT $1::int4 AS n'
    await conn.query(sql, [1])
    await conn.query('DISCARD ALL')
    expect((await conn.query(sql, [2])).rows).toEqual([{ n: 2 }])
    await conn.exec('DEALLOCATE ALL')
    expect((await conn.query(sql, [3])).rows).toEqual([{ n: 3 }])
    expect(await preparedCount(conn, sql)).toBe(1)
  })
})
