// pg's `ssl` setting on node-postgres and on pgtide/pg, against a throwaway TLS server of this
// file's own: PEM text in memory (ca, cert, key), servername, rejectUnauthorized, and keys that
// never show. Then pgtide's own `connectionOptions.tls`, which pgtide/pg's `ssl` becomes.

import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import util from 'node:util'

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import * as pg from 'pg'

import { AsyncConnection, AsyncConnectionPool, ProgrammingError } from '../dist/index.js'
import * as tide from '../dist/pg.js'
import { makeCertificates, type Certificates } from './tls-certs'
import { startServer, type ThrowawayServer } from './throwaway-server'


let workDir: string
let certs: Certificates
let otherCa: string
let clientCert: string
let clientKey: string
/** The client key in SEC1 form (`BEGIN EC PRIVATE KEY`) rather than PKCS#8. */
let clientKeySec1: string
/** TLS on, with a certificate for DNS name `localhost` only, from the test CA; `cert_user` must show a client certificate. */
let server: ThrowawayServer
const savedHome = process.env.HOME

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgtide-pg-ssl-'))
  // A home of our own: libpq's ~/.postgresql files must not come from the machine.
  process.env.HOME = path.join(workDir, 'home')
  fs.mkdirSync(process.env.HOME)
  certs = makeCertificates(workDir)
  otherCa = fs.readFileSync(certs.otherCaFile, 'utf8')
  clientCert = fs.readFileSync(certs.clientCertFile, 'utf8')
  clientKey = fs.readFileSync(certs.clientKeyFile, 'utf8')
  clientKeySec1 = execFileSync('openssl', ['ec', '-in', certs.clientKeyFile], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()
  server = await startServer({
    settings: { ssl: 'on', ssl_ca_file: 'root.crt' },
    files: { 'server.crt': certs.server.cert, 'server.key': certs.server.key, 'root.crt': certs.ca },
    hba: 'hostssl all cert_user 127.0.0.1/32 cert\nhostnossl all all 127.0.0.1/32 reject\nhostssl all all 127.0.0.1/32 trust',
  })
  const setUp = await AsyncConnection.connect(`host=127.0.0.1 port=${server.port} user=${server.user} dbname=postgres sslmode=require`, {
    autocommit: true,
  })
  await setUp.exec('CREATE ROLE cert_user LOGIN')
  await setUp.close()
}, 120_000)

afterAll(async () => {
  process.env.HOME = savedHome
  await server?.stop()
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true })
})

type Face = { name: string; Pool: typeof pg.Pool; Client: typeof pg.Client }
const faces: Face[] = [
  { name: 'pg', Pool: pg.Pool, Client: pg.Client },
  { name: 'pgtide/pg', Pool: tide.Pool as unknown as typeof pg.Pool, Client: tide.Client as unknown as typeof pg.Client },
]

const ends: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await Promise.all(ends.splice(0).map((end) => end().catch(() => undefined)))
})

const USES_TLS = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'

describe.each(faces)('$name', ({ name, Pool, Client }) => {
  const settings = (config: pg.ClientConfig): pg.ClientConfig => ({
    host: 'localhost',
    port: server.port,
    user: server.user,
    database: 'postgres',
    ...config,
  })

  /** Whether the session runs over TLS, through a standalone Client and through a Pool (both must agree). */
  async function tlsOn(config: pg.ClientConfig): Promise<boolean> {
    const client = new Client(settings(config))
    ends.push(() => client.end())
    await client.connect()
    const viaClient = (await client.query(USES_TLS)).rows[0].ssl as boolean
    const pool = new Pool({ ...settings(config), max: 1 })
    ends.push(() => pool.end())
    const viaPool = (await pool.query(USES_TLS)).rows[0].ssl as boolean
    expect(viaPool).toBe(viaClient)
    return viaClient
  }

  /**
   * The errors connecting with `config` fails with: a Client's, and what a Pool's connection
   * attempts report (pg's pool rejects with the error itself; pgtide's pool keeps trying until
   * its timeout and logs each failed attempt, so there the log lines are the report).
   */
  async function refusals(config: pg.ClientConfig): Promise<string[]> {
    const client = new Client(settings(config))
    ends.push(() => client.end())
    const viaClient = await client.connect().then(
      () => 'the Client connected',
      (error: Error) => error.message,
    )
    const pgtide = name === 'pgtide/pg' ? { pgtide: { logger: {} } } : {}
    const pool = new Pool({ ...settings(config), max: 1, connectionTimeoutMillis: 2_000, ...pgtide })
    ends.push(() => pool.end())
    // A rejected certificate is a failure no retry fixes: pgtide's pool fails the query with it
    // at once (pg's pool gives the connect error too).
    const viaPool = await pool.query('SELECT 1').then(
      () => 'the Pool connected',
      (error: Error) => error.message,
    )
    for (const message of [viaClient, viaPool]) expect(message).not.toMatch(/connected$/)
    return [viaClient, viaPool]
  }

  it('ssl: true verifies against the system store, so a certificate from an unknown CA is refused', async () => {
    const errors = await refusals({ ssl: true })
    if (name === 'pgtide/pg') {
      for (const error of errors) expect(error).toContain('not signed by a trusted certificate authority')
    }
  })

  it('ssl.ca trusts the given CA (a string, a Buffer, or an array of them)', async () => {
    expect(await tlsOn({ ssl: { ca: certs.ca } })).toBe(true)
    expect(await tlsOn({ ssl: { ca: Buffer.from(certs.ca) } })).toBe(true)
    expect(await tlsOn({ ssl: { ca: [otherCa, Buffer.from(certs.ca)] } })).toBe(true)
    const errors = await refusals({ ssl: { ca: otherCa } })
    if (name === 'pgtide/pg') for (const error of errors) expect(error).toContain('(trusted: the given ca)')
  })

  it('the host name is checked: a certificate for another name is refused, and accepted under servername', async () => {
    // The certificate names `localhost` only, not 127.0.0.1.
    const errors = await refusals({ host: '127.0.0.1', ssl: { ca: certs.ca } })
    if (name === 'pgtide/pg') {
      for (const error of errors) expect(error).toContain('does not match the host name "127.0.0.1"')
    }
    expect(await tlsOn({ host: '127.0.0.1', ssl: { ca: certs.ca, servername: 'localhost' } })).toBe(true)
    const url = `postgres://${server.user}@127.0.0.1:${server.port}/postgres`
    expect(await tlsOn({ host: undefined, connectionString: url, ssl: { ca: certs.ca, servername: 'localhost' } })).toBe(true)
    const wrongName = await refusals({ host: '127.0.0.1', ssl: { ca: certs.ca, servername: 'db.example.com' } })
    if (name === 'pgtide/pg') {
      for (const error of wrongName) expect(error).toContain('does not match the host name "db.example.com"')
    }
  })

  it('as in pg, servername counts only when the host is an IP address: a host name is checked as itself', async () => {
    expect(await tlsOn({ ssl: { ca: certs.ca, servername: 'db.example.com' } })).toBe(true)
  })

  it('rejectUnauthorized: false encrypts without verifying, even with a ca that does not fit', async () => {
    expect(await tlsOn({ ssl: { rejectUnauthorized: false } })).toBe(true)
    expect(await tlsOn({ host: '127.0.0.1', ssl: { rejectUnauthorized: false, ca: otherCa } })).toBe(true)
  })

  it('sends a client certificate and key (PKCS#8 or SEC1) when the server asks for one (cert authentication)', async () => {
    const ssl = { ca: certs.ca, cert: clientCert, key: clientKey }
    expect(await tlsOn({ user: 'cert_user', ssl })).toBe(true)
    expect(await tlsOn({ user: 'cert_user', ssl: { ...ssl, key: Buffer.from(clientKeySec1), cert: Buffer.from(clientCert) } })).toBe(true)
    const errors = await refusals({ user: 'cert_user', ssl: { ca: certs.ca } })
    for (const error of errors) expect(error).toMatch(/certificate/)
  })

  it('never shows ssl.key in util.inspect or JSON', async () => {
    const keyText = clientKey.split('\n')[1]!
    const config = settings({ user: 'cert_user', ssl: { ca: certs.ca, cert: clientCert, key: clientKey } })
    const pool = new Pool(config)
    ends.push(() => pool.end())
    const client = await pool.connect()
    client.release()
    const standalone = new Client(config)
    ends.push(() => standalone.end())
    await standalone.connect()
    const shown = [
      util.inspect(pool.options, { depth: Infinity }),
      JSON.stringify(pool.options),
      util.inspect((standalone as unknown as { connectionParameters: unknown }).connectionParameters),
      JSON.stringify((standalone as unknown as { connectionParameters: unknown }).connectionParameters),
    ]
    // pg's clients hold the key in their TLS sockets' options; pgtide's objects never show it.
    if (name === 'pgtide/pg') shown.push(util.inspect(pool, { depth: 8 }), util.inspect(standalone, { depth: 8 }))
    for (const text of shown) {
      expect(text).not.toContain(keyText)
      expect(text).not.toContain('PRIVATE KEY')
    }
    // Still there for whoever asks by name, as in pg.
    expect((pool.options.ssl as { key: string }).key).toBe(clientKey)
  })

  it('malformed PEM is refused', async () => {
    const errors = [
      ...(await refusals({ ssl: { ca: 'not a certificate' } })),
      ...(await refusals({ ssl: { ca: certs.ca, cert: clientCert, key: 'no key here' } })),
    ]
    expect(errors).toHaveLength(4)
  })
})

describe('pgtide/pg only', () => {
  const config = (ssl: unknown) => ({ host: 'localhost', port: server.port, user: server.user, database: 'postgres', ssl }) as tide.ClientConfig

  async function failure(ssl: unknown): Promise<Error> {
    const client = new tide.Client(config(ssl))
    return client.connect().then(
      async () => {
        await client.end()
        return new Error('connected')
      },
      (error: Error) => error,
    )
  }

  it('names the malformed setting, and never quotes a key', async () => {
    const badCa = await failure({ ca: 'not a certificate' })
    expect(badCa).toBeInstanceOf(ProgrammingError)
    expect(badCa.message).toBe('invalid TLS ca: no PEM certificate (-----BEGIN CERTIFICATE-----) found')
    const secret = 'c2VjcmV0LWtleS1ib2R5'
    const badKey = await failure({ ca: certs.ca, cert: clientCert, key: `-----BEGIN PRIVATE KEY-----\n${secret}*\n-----END PRIVATE KEY-----\n` })
    expect(badKey.message).toBe('invalid TLS key: a PEM section is not valid base64')
    const noKey = await failure({ ca: certs.ca, cert: clientCert, key: secret })
    expect(noKey.message).toMatch(/^invalid TLS key: no PEM private key found/)
    expect(noKey.message).not.toContain(secret)
    expect((await failure({ ca: certs.ca, cert: 'junk', key: clientKey })).message).toMatch(/^invalid TLS cert: /)
    expect((await failure({ ca: certs.ca, cert: clientCert })).message).toBe('TLS cert is given without its key')
  })

  it("refuses tls.connect options it does not honour, and values that are not PEM text, by name", async () => {
    expect(() => new tide.Client(config({ passphrase: 'x' }))).not.toThrow() // checked when connecting, as pg
    expect((await failure({ passphrase: 'x' })).message).toBe("pgtide/pg does not support the ssl option 'passphrase'")
    expect(() => new tide.Pool(config({ minVersion: 'TLSv1.2' }))).toThrow("pgtide/pg does not support the ssl option 'minVersion'")
    expect(() => new tide.Pool(config({ ca: 42 }))).toThrow("option 'ssl.ca' must be PEM text (a string or a Buffer), not number")
    expect(() => new tide.Pool(config({ servername: 7 }))).toThrow("option 'ssl.servername' must be a string, not number")
  })
})

describe("pgtide's connectionOptions.tls", () => {
  const conninfo = (extra: string) => `host=localhost port=${server.port} user=${server.user} dbname=postgres ${extra}`

  it('takes the place of sslrootcert, sslcert and sslkey; sslmode still says how much is checked', async () => {
    const conn = await AsyncConnection.connect(conninfo('sslmode=verify-full'), { autocommit: true, tls: { ca: certs.ca } })
    expect((await conn.query(USES_TLS)).rows[0]!.ssl).toBe(true)
    await conn.close()
    await expect(AsyncConnection.connect(conninfo('sslmode=verify-full'), { tls: { ca: otherCa } })).rejects.toThrow(
      /not signed by a trusted certificate authority \(trusted: the given ca\)/,
    )
    // require: no check without a ca, as with files; verify-ca with servername skips the name anyway.
    const plainCheck = await AsyncConnection.connect(conninfo('host=127.0.0.1 sslmode=require'), { tls: {} })
    await plainCheck.close()
    const pool = new AsyncConnectionPool(conninfo('user=cert_user sslmode=verify-full'), {
      minSize: 0,
      maxSize: 1,
      connectionOptions: { tls: { ca: certs.ca, cert: clientCert, key: Buffer.from(clientKey) } },
    })
    ends.push(() => pool.close())
    expect((await pool.query('SELECT current_user AS who')).rows[0]).toEqual({ who: 'cert_user' })
  })

  it('is validated by name', async () => {
    await expect(AsyncConnection.connect(conninfo(''), { tls: { passphrase: 'x' } as never })).rejects.toThrow(
      "unknown connection option 'tls.passphrase'",
    )
    await expect(AsyncConnection.connect(conninfo(''), { tls: 'pem' as never })).rejects.toThrow(
      "connection option 'tls' must be an object, not string",
    )
    await expect(AsyncConnection.connect(conninfo(''), { tls: { key: 1 } as never })).rejects.toThrow(
      "connection option 'tls.key' must be PEM text (a string or a Buffer), not number",
    )
  })
})
