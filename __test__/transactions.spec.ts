import { describe, expect, it } from 'vitest'

import { ProgrammingError } from '../dist/index.js'
import { untilRunning } from './helpers'
import { caught, openAsync, openSync } from './open'

describe('AsyncConnection.transaction', () => {
  it('commits when the function resolves and returns its value', async () => {
    const conn = await openAsync()
    await conn.exec('CREATE TEMP TABLE t (x int4)')
    await conn.commit()
    const value = await conn.transaction(async (tx) => {
      expect(tx).toBe(conn)
      await conn.query('INSERT INTO t VALUES (1)')
      expect(conn.transactionStatus).toBe('intrans')
      return 'done'
    })
    expect(value).toBe('done')
    expect(conn.transactionStatus).toBe('idle')
    await conn.rollback() // nothing to undo: the block committed
    expect((await conn.query('SELECT x FROM t')).rows).toEqual([{ x: 1 }])
  })

  it('rolls back and rethrows when the function throws', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec('CREATE TEMP TABLE t (x int4)')
    const failure = new Error('boom')
    const error = await caught(() =>
      conn.transaction(async () => {
        await conn.query('INSERT INTO t VALUES (1)')
        throw failure
      }),
    )
    expect(error).toBe(failure)
    expect(conn.transactionStatus).toBe('idle')
    expect((await conn.query('SELECT count(*)::int4 AS n FROM t')).rows).toEqual([{ n: 0 }])
  })

  it('nests with savepoints: an inner failure undoes the inner block only', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec('CREATE TEMP TABLE t (x int4)')
    await conn.transaction(async () => {
      await conn.query('INSERT INTO t VALUES (1)')
      const inner = await caught(() =>
        conn.transaction(async () => {
          await conn.query('INSERT INTO t VALUES (2)')
          await conn.query('SELECT 1/0')
        }),
      )
      expect(inner).toMatchObject({ sqlstate: '22012' })
      expect(conn.transactionStatus).toBe('intrans')
      await conn.transaction(async () => {
        await conn.query('INSERT INTO t VALUES (3)')
      })
    })
    expect((await conn.query('SELECT x FROM t ORDER BY x')).rows).toEqual([{ x: 1 }, { x: 3 }])
  })

  it('opens its own transaction in autocommit mode', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec('CREATE TEMP TABLE t (x int4)')
    await caught(() =>
      conn.transaction(async () => {
        await conn.query('INSERT INTO t VALUES (1)')
        await conn.query('INSERT INTO t VALUES (2)')
        throw new Error('undo both')
      }),
    )
    expect((await conn.query('SELECT count(*)::int4 AS n FROM t')).rows).toEqual([{ n: 0 }])
  })

  it('is a savepoint when a transaction is already open, which stays open', async () => {
    const conn = await openAsync()
    await conn.exec('CREATE TEMP TABLE t (x int4)')
    await conn.query('INSERT INTO t VALUES (1)')
    expect(conn.transactionStatus).toBe('intrans')
    await caught(() =>
      conn.transaction(async () => {
        await conn.query('INSERT INTO t VALUES (2)')
        throw new Error('undo 2 only')
      }),
    )
    expect(conn.transactionStatus).toBe('intrans')
    await conn.transaction(async () => {
      await conn.query('INSERT INTO t VALUES (3)')
    })
    expect(conn.transactionStatus).toBe('intrans') // the outer transaction is the caller's to end
    await conn.commit()
    expect((await conn.query('SELECT x FROM t ORDER BY x')).rows).toEqual([{ x: 1 }, { x: 3 }])
  })

  it('refuses commit(), rollback() and autocommit changes inside a block', async () => {
    const conn = await openAsync()
    await conn.transaction(async () => {
      await expect(conn.commit()).rejects.toBeInstanceOf(ProgrammingError)
      await expect(conn.rollback()).rejects.toBeInstanceOf(ProgrammingError)
      expect(() => {
        conn.autocommit = true
      }).toThrow(ProgrammingError)
    })
    conn.autocommit = true
    expect(conn.autocommit).toBe(true)
  })

  it('a COMMIT that fails (deferred constraint) rejects, and the transaction is over', async () => {
    const conn = await openAsync({ autocommit: true })
    await conn.exec(`CREATE TEMP TABLE parent (id int4 PRIMARY KEY);
      CREATE TEMP TABLE child (parent int4 REFERENCES parent DEFERRABLE INITIALLY DEFERRED)`)
    const error = await caught(() =>
      conn.transaction(async () => {
        await conn.query('INSERT INTO child VALUES (1)') // checked only at COMMIT
      }),
    )
    expect(error).toMatchObject({ sqlstate: '23503' })
    expect(conn.transactionStatus).toBe('idle')
    expect((await conn.query('SELECT count(*)::int4 AS n FROM child')).rows).toEqual([{ n: 0 }])
  })

  it('rejects a non-function with a TypeError', async () => {
    const conn = await openAsync()
    // @ts-expect-error: deliberately wrong
    await expect(conn.transaction('nope')).rejects.toBeInstanceOf(TypeError)
    expect(conn.transactionStatus).toBe('idle')
  })
})

describe('Connection.transaction (sync)', () => {
  it('commits, rolls back and nests like the async one', () => {
    const conn = openSync({ autocommit: true })
    conn.exec('CREATE TEMP TABLE t (x int4)')
    const value = conn.transaction(() => {
      conn.query('INSERT INTO t VALUES (1)')
      try {
        conn.transaction(() => {
          conn.query('INSERT INTO t VALUES (2)')
          throw new Error('inner')
        })
      } catch (error) {
        expect((error as Error).message).toBe('inner')
      }
      return 42
    })
    expect(value).toBe(42)
    expect(() =>
      conn.transaction(() => {
        conn.query('INSERT INTO t VALUES (3)')
        throw new Error('outer')
      }),
    ).toThrow('outer')
    expect(conn.query('SELECT x FROM t ORDER BY x').rows).toEqual([{ x: 1 }])
    expect(conn.transactionStatus).toBe('idle')
  })

  it('refuses an async function: rolled back, TypeError', () => {
    const conn = openSync({ autocommit: true })
    conn.exec('CREATE TEMP TABLE t (x int4)')
    expect(() =>
      conn.transaction(async () => {
        conn.query('INSERT INTO t VALUES (1)')
      }),
    ).toThrow(TypeError)
    expect(conn.query('SELECT count(*)::int4 AS n FROM t').rows).toEqual([{ n: 0 }])
  })

  it('setting autocommit inside a transaction throws ProgrammingError', () => {
    const conn = openSync()
    conn.query('SELECT 1')
    expect(conn.transactionStatus).toBe('intrans')
    expect(() => {
      conn.autocommit = true
    }).toThrow(ProgrammingError)
    conn.rollback()
    conn.autocommit = true
    expect(conn.autocommit).toBe(true)
  })
})

describe('transactionStatus', () => {
  it('follows BEGIN, SAVEPOINT, ROLLBACK TO and COMMIT sent as SQL', async () => {
    const conn = await openAsync({ autocommit: true })
    expect(conn.transactionStatus).toBe('idle')
    await conn.query('BEGIN')
    expect(conn.transactionStatus).toBe('intrans')
    await conn.query('SAVEPOINT s')
    await conn.query('SELECT 1/0').catch(() => {})
    expect(conn.transactionStatus).toBe('inerror')
    await conn.query('ROLLBACK TO SAVEPOINT s')
    expect(conn.transactionStatus).toBe('intrans')
    await conn.exec('COMMIT; BEGIN')
    expect(conn.transactionStatus).toBe('intrans')
    await conn.exec('ROLLBACK')
    expect(conn.transactionStatus).toBe('idle')
  })

  it("is 'active' while a statement runs", async () => {
    const conn = await openAsync()
    const watcher = await openAsync({ autocommit: true })
    const running = conn.query('SELECT pg_sleep(0.5)')
    await untilRunning(watcher, conn.backendPid)
    expect(conn.transactionStatus).toBe('active')
    await running
    expect(conn.transactionStatus).toBe('intrans')
  })
})
