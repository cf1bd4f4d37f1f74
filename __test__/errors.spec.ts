import { describe, expect, it } from 'vitest'

import {
  AsyncConnectionPool,
  DatabaseError,
  DataError,
  IntegrityError,
  InterfaceError,
  InternalError,
  OperationalError,
  type AsyncConnection,
  type ServerErrorFields,
} from '../dist/index.js'
import { binding } from '../dist/native.js'
import { databaseUrl, eventually, recordingLogger } from './helpers'
import { caught, openAsync, openSync } from './open'

async function terminate(conn: { backendPid: number }): Promise<void> {
  const killer = await openAsync({ autocommit: true })
  await killer.query('SELECT pg_terminate_backend($1)', [conn.backendPid])
}

describe('a lost connection', () => {
  it('gives OperationalError, then broken and status unknown (async)', async () => {
    const conn = await openAsync()
    await conn.query('SELECT 1')
    await terminate(conn)
    const error = await caught(() => conn.query('SELECT 1'))
    expect(error).toBeInstanceOf(OperationalError)
    expect(conn.broken).toBe(true)
    expect(conn.closed).toBe(false)
    expect(conn.transactionStatus).toBe('unknown')
    await expect(conn.query('SELECT 1')).rejects.toBeInstanceOf(OperationalError)
    await expect(conn.commit()).rejects.toBeInstanceOf(OperationalError)
  })

  it('gives OperationalError, then broken and status unknown (sync)', async () => {
    const conn = openSync({ autocommit: true })
    await terminate(conn)
    expect(() => conn.query('SELECT 1')).toThrow(OperationalError)
    expect(conn.broken).toBe(true)
    expect(conn.transactionStatus).toBe('unknown')
  })

  it('breaks a transaction() block: the body error is rethrown, nothing hangs', async () => {
    const conn = await openAsync({ autocommit: true })
    const error = await caught(() =>
      conn.transaction(async () => {
        await terminate(conn)
        await conn.query('SELECT 1')
      }),
    )
    expect(error).toBeInstanceOf(OperationalError)
    expect(conn.broken).toBe(true)
  })
})

describe('a closed connection', () => {
  it('refuses every operation with InterfaceError (async)', async () => {
    const conn = await openAsync()
    await conn.close()
    expect(conn.closed).toBe(true)
    expect(conn.broken).toBe(false)
    expect(conn.transactionStatus).toBe('unknown')
    for (const operation of [
      () => conn.query('SELECT 1'),
      () => conn.exec('SELECT 1'),
      () => conn.commit(),
      () => conn.rollback(),
      () => conn.transaction(async () => {}),
    ]) {
      expect(await caught(operation)).toBeInstanceOf(InterfaceError)
    }
    expect(() => {
      conn.autocommit = true
    }).toThrow(InterfaceError)
    await conn.close() // closing twice is fine
  })

  it('refuses every operation with InterfaceError (sync)', () => {
    const conn = openSync()
    conn.close()
    expect(() => conn.query('SELECT 1')).toThrow(InterfaceError)
    expect(() => conn.exec('SELECT 1')).toThrow(InterfaceError)
    expect(() => conn.transaction(() => {})).toThrow(InterfaceError)
  })
})

describe('DatabaseError fields', () => {
  async function withTable(): Promise<AsyncConnection> {
    const conn = await openAsync({ autocommit: true })
    await conn.exec(`
      CREATE TEMP TABLE account (
        id int4 PRIMARY KEY,
        email text NOT NULL CONSTRAINT account_email_key UNIQUE,
        balance int4 CONSTRAINT account_balance_check CHECK (balance >= 0)
      );
      INSERT INTO account VALUES (1, 'a@example.com', 10)`)
    return conn
  }

  it('a unique violation names the table and the constraint', async () => {
    const conn = await withTable()
    const error = await caught(() => conn.query("INSERT INTO account VALUES (2, 'a@example.com', 0)"))
    expect(error).toBeInstanceOf(IntegrityError)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error).toMatchObject({
      sqlstate: '23505',
      code: '23505',
      severity: 'ERROR',
      table: 'account',
      constraint: 'account_email_key',
      detail: 'Key (email)=(a@example.com) already exists.',
    })
    expect((error as DatabaseError).schema).toMatch(/^pg_temp/)
  })

  it('a not-null violation names the column', async () => {
    const conn = await withTable()
    const error = await caught(() => conn.query('INSERT INTO account (id, email) VALUES (2, NULL)'))
    expect(error).toMatchObject({ sqlstate: '23502', table: 'account', column: 'email' })
  })

  it('a check violation names the constraint', async () => {
    const conn = await withTable()
    const error = await caught(() => conn.query('UPDATE account SET balance = -1'))
    expect(error).toMatchObject({ sqlstate: '23514', table: 'account', constraint: 'account_balance_check' })
  })

  it('a syntax error has a position', async () => {
    const conn = await openAsync()
    const error = await caught(() => conn.query('SELECT 1 FROM WHERE'))
    expect(error).toMatchObject({ sqlstate: '42601', position: '15' })
  })

  it('RAISE carries message, detail, hint and sqlstate', async () => {
    const conn = await openAsync()
    const error = await caught(() =>
      conn.exec(`DO $$ BEGIN
        RAISE EXCEPTION 'custom failure' USING DETAIL = 'the detail', HINT = 'the hint', ERRCODE = 'P0001';
      END $$`),
    )
    expect(error).toBeInstanceOf(InternalError)
    expect(error).toMatchObject({
      message: 'custom failure',
      sqlstate: 'P0001',
      severity: 'ERROR',
      detail: 'the detail',
      hint: 'the hint',
    })
    expect((error as DatabaseError).where).toMatch(/PL\/pgSQL/)
  })
})

// The engine picks a server error's class from its SQLSTATE class (crates/core/src/error.rs,
// the one table); JavaScript makes that class, and the pool's log lines name the same one.
describe('one list of server error fields', () => {
  it("ServerErrorFields has exactly the engine's fields, and a DatabaseError holds each as its own", () => {
    // The compiler holds this object to ServerErrorFields' keys, no more and no fewer.
    const declared: Record<keyof ServerErrorFields, true> = {
      sqlstate: true,
      severity: true,
      detail: true,
      hint: true,
      position: true,
      internalPosition: true,
      internalQuery: true,
      where: true,
      schema: true,
      table: true,
      column: true,
      dataType: true,
      constraint: true,
      file: true,
      line: true,
      routine: true,
    }
    const engine = binding.engineFacts().serverErrorFields
    expect(['sqlstate', 'severity', ...engine].sort()).toEqual(Object.keys(declared).sort())
    const error = new DatabaseError('m', { detail: 'd' })
    for (const name of [...engine, 'sqlstate', 'severity', 'code']) expect(Object.hasOwn(error, name)).toBe(true)
    expect(error.detail).toBe('d')
  })
})

describe('the class of a server error, by SQLSTATE', () => {
  it('division by zero (22012) is a DataError', async () => {
    const conn = await openAsync()
    const error = await caught(() => conn.query('SELECT 1/0'))
    expect(error).toBeInstanceOf(DataError)
    expect(error).toMatchObject({ name: 'DataError', sqlstate: '22012', code: '22012' })
    expect(() => openSync().query('SELECT 1/0')).toThrow(DataError)
  })

  it('a backend terminated by an administrator (57P01) is an OperationalError', async () => {
    const conn = await openAsync({ autocommit: true })
    const error = await caught(() => conn.query('SELECT pg_terminate_backend(pg_backend_pid())'))
    expect(error).toBeInstanceOf(OperationalError)
    expect(error).toMatchObject({ name: 'OperationalError', sqlstate: '57P01' })
  })

  it("a failed rollback on return is logged with the class JavaScript gives (57P01: OperationalError)", async () => {
    const { logger, warnings } = recordingLogger('info')
    const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, logger, logLevel: 'info' })
    try {
      await pool.open()
      await pool.wait(10)
      const conn = await pool.getconn()
      await conn.query('SELECT 1')
      expect(conn.transactionStatus).toBe('intrans')
      const admin = await openAsync({ autocommit: true })
      await admin.query('SELECT pg_terminate_backend($1)', [conn.backendPid])
      // The server's FATAL report is waiting on the socket when the pool rolls back.
      await new Promise((resolve) => setTimeout(resolve, 200))
      await pool.putconn(conn)
      await eventually(() => warnings().some((w) => w.startsWith('rollback failed')))
      const line = warnings().find((w) => w.startsWith('rollback failed'))
      expect(line).toMatch(/^rollback failed: OperationalError: terminating connection due to administrator command/)
    } finally {
      await pool.close()
    }
  })
})
