// A pool that cannot connect says why, and soon (issue 14): a wrong password or an unknown
// database fails getconn at once with the server's SQLSTATE as `code`, while the pool keeps
// reconnecting; a refused port times out with PoolTimeout naming the pool's state, the last
// connection error as its `cause`. Standalone connects carry the same codes. Against a
// throwaway server of this file's own, with password authentication.

import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import {
  AsyncConnection,
  AsyncConnectionPool,
  AsyncNullConnectionPool,
  Connection,
  ConnectionPool,
  OperationalError,
  PoolTimeout,
} from '../dist/index.js'
import { sleep } from './helpers'
import { makeCertificates, type Certificates } from './tls-certs'
import { startServer, type ThrowawayServer } from './throwaway-server'


const RIGHT = 'right-Secret-7'
const WRONG = 'wrong-Secret-8'
const ROLES = ['async_app', 'sync_app', 'null_app', 'conn_app']

let server: ThrowawayServer
let deadPort: number
let workDir: string
let certs: Certificates

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgtide-fail-fast-'))
  certs = makeCertificates(workDir)
  server = await startServer({
    settings: { ssl: 'on' },
    files: { 'server.crt': certs.server.cert, 'server.key': certs.server.key },
    hba: `${ROLES.map((role) => `host all ${role} 127.0.0.1/32 scram-sha-256`).join('\n')}
host all all 127.0.0.1/32 trust
local all all trust`,
  })
  await admin(ROLES.map((role) => `CREATE ROLE ${role} LOGIN PASSWORD '${RIGHT}';`).join('\n'))
  const probe = net.createServer()
  deadPort = await new Promise<number>((resolve) =>
    probe.listen(0, '127.0.0.1', () => resolve((probe.address() as net.AddressInfo).port)),
  )
  await new Promise((resolve) => probe.close(resolve))
}, 120_000)

afterAll(async () => {
  await server?.stop()
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true })
})

const closers: (() => unknown)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

/** Runs `sql` as the server's superuser (trusted). */
async function admin(sql: string) {
  const conn = await AsyncConnection.connect(`${on()} sslmode=disable`, { autocommit: true })
  try {
    await conn.exec(sql)
  } finally {
    await conn.close()
  }
}

function on(extra = '') {
  return `host=127.0.0.1 port=${server.port} user=${server.user} dbname=postgres ${extra}`
}

function as(role: string, password: string, dbname = 'postgres') {
  return `host=127.0.0.1 port=${server.port} user=${role} password=${password} dbname=${dbname} sslmode=disable`
}


/** The error `call` throws or rejects with, and how long it took (ms). */
async function failure(call: () => unknown): Promise<{ error: Error; ms: number }> {
  const started = performance.now()
  try {
    await call()
  } catch (error) {
    return { error: error as Error, ms: performance.now() - started }
  }
  throw new Error('it succeeded, but a failure was expected')
}

/** Retries `call` until it succeeds, for up to `seconds`. */
async function eventually<T>(call: () => T | Promise<T>, seconds = 15): Promise<T> {
  const until = performance.now() + seconds * 1000
  for (;;) {
    try {
      return await call()
    } catch (error) {
      if (performance.now() > until) throw error
      await sleep(100)
    }
  }
}

function expectRefusal(error: Error, code: string) {
  expect(error).toBeInstanceOf(OperationalError)
  expect(error).not.toBeInstanceOf(PoolTimeout)
  expect((error as OperationalError).code).toBe(code)
  expect((error as OperationalError).sqlstate).toBe(code)
  expect(error.message).not.toContain(WRONG)
  expect(error.message).not.toContain(RIGHT)
}

describe('a failure no retry fixes fails waiting clients at once', () => {
  it('wrong password: an async pool rejects getconn with 28P01, keeps retrying, and serves once fixed', async () => {
    const pool = new AsyncConnectionPool(as('async_app', WRONG), { minSize: 1 })
    closers.push(() => pool.close())
    // The first request may queue before the first attempt fails; the second comes after it.
    for (let i = 0; i < 2; i++) {
      const { error, ms } = await failure(() => pool.getconn(10))
      expect(ms).toBeLessThan(1000)
      expectRefusal(error, '28P01')
      expect(error.message).toContain('password authentication failed for user "async_app"')
    }
    // The pool goes on reconnecting with its backoff (about 1 s, then 2 s...).
    const errorsBefore = pool.getStats().connectionsErrors
    await eventually(() => expect(pool.getStats().connectionsErrors).toBeGreaterThan(errorsBefore), 5)
    await admin(`ALTER ROLE async_app PASSWORD '${WRONG}'`)
    const conn = await eventually(() => pool.getconn(1))
    expect((await conn.query<{ user: string }>('SELECT current_user AS user')).rows).toEqual([{ user: 'async_app' }])
    await pool.putconn(conn)
  }, 30_000)

  it('wrong password: a sync pool throws 28P01 from getconn at once, and serves once fixed', async () => {
    const pool = new ConnectionPool(as('sync_app', WRONG), { minSize: 1 })
    closers.push(() => pool.close())
    for (let i = 0; i < 2; i++) {
      const { error, ms } = await failure(() => pool.getconn(10))
      expect(ms).toBeLessThan(1000)
      expectRefusal(error, '28P01')
    }
    await admin(`ALTER ROLE sync_app PASSWORD '${WRONG}'`)
    const conn = await eventually(() => pool.getconn(1))
    expect(conn.query<{ user: string }>('SELECT current_user AS user').rows).toEqual([{ user: 'sync_app' }])
    pool.putconn(conn)
  }, 30_000)

  it('unknown database: async and sync pools reject getconn with 3D000 at once', async () => {
    const conninfo = on('dbname=pgtide_no_such_db sslmode=disable')
    const asyncPool = new AsyncConnectionPool(conninfo, { minSize: 1 })
    const syncPool = new ConnectionPool(conninfo, { minSize: 1 })
    closers.push(() => asyncPool.close(), () => syncPool.close())
    for (const getconn of [() => asyncPool.getconn(10), () => syncPool.getconn(10)]) {
      const { error, ms } = await failure(getconn)
      expect(ms).toBeLessThan(1000)
      expectRefusal(error, '3D000')
      expect(error.message).toContain('"pgtide_no_such_db" does not exist')
    }
  })

  it('a certificate sslmode rejects: the pool rejects getconn at once with its TLS code', async () => {
    const conninfo = on(`host=localhost sslmode=verify-full sslrootcert=${certs.otherCaFile}`)
    const pool = new AsyncConnectionPool(conninfo, { minSize: 1 })
    closers.push(() => pool.close())
    const { error, ms } = await failure(() => pool.getconn(10))
    expect(ms).toBeLessThan(1000)
    expect(error).toBeInstanceOf(OperationalError)
    expect((error as OperationalError).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE')
    expect(error.message).toContain('not signed by a trusted certificate authority')
  })

  it('a null pool, whose clients connect themselves, rejects with the refusal too', async () => {
    const pool = new AsyncNullConnectionPool(as('null_app', WRONG))
    closers.push(() => pool.close())
    const { error, ms } = await failure(() => pool.getconn(10))
    expect(ms).toBeLessThan(1000)
    expectRefusal(error, '28P01')
  })
})

describe('a failure a retry may fix waits until the timeout', () => {
  it('refused port: PoolTimeout names the pool state and has the last connection error as cause', async () => {
    const pool = new AsyncConnectionPool(`host=127.0.0.1 port=${deadPort} user=x dbname=x`, {
      minSize: 1,
      timeout: 1,
      name: 'refused',
    })
    closers.push(() => pool.close())
    const { error, ms } = await failure(() => pool.getconn())
    expect(ms).toBeGreaterThanOrEqual(950)
    expect(error).toBeInstanceOf(PoolTimeout)
    expect(error.message).toMatch(
      new RegExp(
        "^couldn't get a connection after 1\\.00 sec \\(pool 'refused': size 1, idle 0, in use 0, waiting 0\\); " +
          'last connection error: connection to server at 127\\.0\\.0\\.1:\\d+ failed: Connection refused',
      ),
    )
    expect(error.cause).toBeInstanceOf(OperationalError)
    expect((error.cause as OperationalError).code).toBe('ECONNREFUSED')
    expect((error.cause as OperationalError).sqlstate).toBeUndefined()
  })

  it('the sync pool times out the same way', () => {
    const conninfo = `host=127.0.0.1 port=${deadPort} user=x dbname=x`
    const pool = new ConnectionPool(conninfo, { minSize: 1, name: 'refused-sync' })
    closers.push(() => pool.close())
    let error: Error | undefined
    try {
      pool.getconn(0.5)
    } catch (e) {
      error = e as Error
    }
    expect(error).toBeInstanceOf(PoolTimeout)
    const state = "(pool 'refused-sync': size 1, idle 0, in use 0, waiting 0); last connection error: "
    expect(error!.message).toContain(state)
    expect((error!.cause as OperationalError).code).toBe('ECONNREFUSED')
  })

  it('wait() times out with the state and the cause', async () => {
    const conninfo = `host=127.0.0.1 port=${deadPort} user=x dbname=x`
    const pool = new AsyncConnectionPool(conninfo, { minSize: 1, name: 'refused-wait' })
    closers.push(() => pool.close())
    const error = (await pool.wait(0.5).catch((e: unknown) => e)) as Error
    expect(error).toBeInstanceOf(PoolTimeout)
    expect(error.message).toMatch(
      /^pool initialization incomplete after 0\.5 sec \(pool 'refused-wait': size 1, .*; last connection error: /s,
    )
    expect((error.cause as OperationalError).code).toBe('ECONNREFUSED')
  })
})

describe('a standalone connect error carries a code', () => {
  it('the SQLSTATE of a server refusal', async () => {
    expectRefusal((await failure(() => AsyncConnection.connect(as('conn_app', WRONG)))).error, '28P01')
    expectRefusal((await failure(() => Connection.connect(as('conn_app', WRONG)))).error, '28P01')
    const unknownDatabase = await failure(() => AsyncConnection.connect(as('conn_app', RIGHT, 'pgtide_no_such_db')))
    expectRefusal(unknownDatabase.error, '3D000')
  })

  it("a rejected certificate's TLS code", async () => {
    const tlsCode = async (conninfo: string) => {
      const { error } = await failure(() => AsyncConnection.connect(conninfo))
      expect(error).toBeInstanceOf(OperationalError)
      return (error as OperationalError).code
    }
    const wrongHost = on(`sslmode=verify-full sslrootcert=${certs.caFile}`)
    expect(await tlsCode(wrongHost)).toBe('ERR_TLS_CERT_ALTNAME_INVALID')
    expect(await tlsCode(on(`host=localhost sslmode=verify-ca sslrootcert=${certs.otherCaFile}`))).toBe(
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    )
  })

  it("the socket's error name, with no SQLSTATE", async () => {
    const socketCode = async (conninfo: string) => {
      const { error } = await failure(() => AsyncConnection.connect(conninfo))
      expect(error).toBeInstanceOf(OperationalError)
      expect((error as OperationalError).sqlstate).toBeUndefined()
      return (error as OperationalError).code
    }
    expect(await socketCode(`host=127.0.0.1 port=${deadPort} user=x dbname=x`)).toBe('ECONNREFUSED')
    expect(await socketCode('host=no-such-host.invalid user=x dbname=x')).toBe('ENOTFOUND')
    const silent = net.createServer(() => {})
    const sockets: net.Socket[] = []
    silent.on('connection', (socket) => sockets.push(socket))
    const port = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as net.AddressInfo).port)),
    )
    try {
      expect(await socketCode(`host=127.0.0.1 port=${port} user=x dbname=x connect_timeout=1`)).toBe('ETIMEDOUT')
    } finally {
      sockets.forEach((socket) => socket.destroy())
      silent.close()
    }
    const refused = `host=127.0.0.1 port=${deadPort} user=x dbname=x`
    const { error } = await failure(() => Connection.connect(refused))
    expect((error as OperationalError).code).toBe('ECONNREFUSED')
  })
})
