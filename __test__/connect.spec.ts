// Connecting for real deployments, against throwaway servers of this file's own: TLS and
// libpq's sslmode, password / md5 / SCRAM authentication and channel binding, several hosts
// with target_session_attrs and connect_timeout, Unix sockets, session settings, libpq's
// environment variables, malformed connection strings, and passwords that never show.

import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import { AsyncConnection, Connection, OperationalError, ProgrammingError } from '../dist/index.js'
import { makeCertificates, type Certificates } from './tls-certs'
import { startServer, type ThrowawayServer } from './throwaway-server'


const PASSWORDS = { scram: 'scram-Secret-41', md5: 'md5-Secret-42', cleartext: 'clear-Secret-43' }

const HBA = `
hostssl all tls_only 127.0.0.1/32 trust
hostnossl all tls_only 127.0.0.1/32 reject
hostnossl all plain_only 127.0.0.1/32 trust
hostssl all plain_only 127.0.0.1/32 reject
hostssl all cert_user 127.0.0.1/32 cert
host all scram_user 127.0.0.1/32 scram-sha-256
host all md5_user 127.0.0.1/32 md5
host all password_user 127.0.0.1/32 password
host all all 127.0.0.1/32 trust
local all all trust
`

let workDir: string
let certs: Certificates
/** TLS on (SHA-256 certificate), a role for each pg_hba.conf method above. */
let tlsServer: ThrowawayServer
/** Read-only by default (default_transaction_read_only in database postgres), TLS on with a SHA-384 certificate. */
let readOnlyServer: ThrowawayServer
/** No TLS at all. */
let plainServer: ThrowawayServer
/** Accepts TCP connections and never answers. */
let silentHost: net.Server
const silentSockets: net.Socket[] = []
let silentPort: number
/** A port nobody listens on. */
let deadPort: number
const savedHome = process.env.HOME

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgtide-connect-'))
  // A home of our own: libpq's ~/.postgresql/root.crt and postgresql.crt must not come from the machine.
  process.env.HOME = path.join(workDir, 'home')
  fs.mkdirSync(process.env.HOME)
  certs = makeCertificates(workDir)
  const tlsFiles = (server: { cert: string, key: string }) => ({ 'server.crt': server.cert, 'server.key': server.key })
  ;[tlsServer, readOnlyServer, plainServer] = await Promise.all([
    startServer({
      settings: { ssl: 'on', ssl_ca_file: 'root.crt' },
      files: { ...tlsFiles(certs.server), 'root.crt': certs.ca },
      hba: HBA,
    }),
    startServer({
      settings: { ssl: 'on' },
      files: tlsFiles(certs.serverSha384),
      hba: 'host all scram_user 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust',
    }),
    startServer({}),
  ])
  await setUp(tlsServer, `
    CREATE ROLE tls_only LOGIN;
    CREATE ROLE plain_only LOGIN;
    CREATE ROLE cert_user LOGIN;
    CREATE ROLE scram_user LOGIN PASSWORD '${PASSWORDS.scram}';
    CREATE ROLE password_user LOGIN PASSWORD '${PASSWORDS.cleartext}';
    SET password_encryption = 'md5';
    CREATE ROLE md5_user LOGIN PASSWORD '${PASSWORDS.md5}';
  `)
  // Per database rather than server-wide, so the helper's own set-up could still create one.
  await setUp(readOnlyServer, `
    CREATE ROLE scram_user LOGIN PASSWORD '${PASSWORDS.scram}';
    ALTER DATABASE postgres SET default_transaction_read_only = on;
  `)
  silentHost = net.createServer((socket) => silentSockets.push(socket))
  silentPort = await listen(silentHost)
  const probe = net.createServer()
  deadPort = await listen(probe)
  await new Promise((resolve) => probe.close(resolve))
}, 120_000)

afterAll(async () => {
  process.env.HOME = savedHome
  silentSockets.forEach((socket) => socket.destroy())
  silentHost?.close()
  await Promise.all([tlsServer, readOnlyServer, plainServer].map((server) => server?.stop()))
  fs.rmSync(workDir, { recursive: true, force: true })
})

async function setUp(server: ThrowawayServer, script: string) {
  const conn = await AsyncConnection.connect(`${on(server)} sslmode=disable`, { autocommit: true })
  await conn.exec(script)
  await conn.close()
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)))
}

/** key=value settings for `server` as its superuser over TCP; `extra` is appended (later keys win). */
function on(server: ThrowawayServer, extra = '') {
  return `host=127.0.0.1 port=${server.port} user=${server.user} dbname=postgres ${extra}`
}

const opened: { close(): unknown }[] = []

afterEach(async () => {
  await Promise.all(opened.splice(0).map((conn) => conn.close()))
})

async function connect(conninfo: string): Promise<AsyncConnection> {
  const conn = await AsyncConnection.connect(conninfo, { autocommit: true })
  opened.push(conn)
  return conn
}

/** The error connecting with `conninfo` fails with (a failure if it connects). */
async function refusal(conninfo: string): Promise<Error> {
  let conn: AsyncConnection
  try {
    conn = await AsyncConnection.connect(conninfo)
  } catch (error) {
    return error as Error
  }
  await conn.close()
  throw new Error('connected, but a refusal was expected')
}

function blockingRefusal(conninfo: string): Error {
  let conn: Connection
  try {
    conn = Connection.connect(conninfo)
  } catch (error) {
    return error as Error
  }
  conn.close()
  throw new Error('connected, but a refusal was expected')
}

async function scalar(conn: AsyncConnection, sql: string): Promise<unknown> {
  const { rows } = await conn.query<Record<string, unknown>>(sql)
  return Object.values(rows[0]!)[0]
}

const usesTls = (conn: AsyncConnection) => scalar(conn, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
const serverPort = (conn: AsyncConnection) => scalar(conn, 'SELECT inet_server_port()')

describe('TLS and sslmode', () => {
  it('verify-full connects with the right CA and host name, over TLS', async () => {
    const conn = await connect(on(tlsServer, `host=localhost sslmode=verify-full sslrootcert=${certs.caFile}`))
    expect(await usesTls(conn)).toBe(true)
  })

  it('verify-full refuses a host the certificate does not name, saying so', async () => {
    const error = await refusal(on(tlsServer, `sslmode=verify-full sslrootcert=${certs.caFile}`))
    expect(error).toBeInstanceOf(OperationalError)
    expect(error.message).toContain(`connection to server at 127.0.0.1:${tlsServer.port} failed`)
    expect(error.message).toContain('does not match the host name "127.0.0.1"')
  })

  it('verify-full and verify-ca refuse a certificate from an unknown CA, naming host, port and trusted file', async () => {
    for (const mode of ['verify-full', 'verify-ca']) {
      const error = await refusal(on(tlsServer, `host=localhost sslmode=${mode} sslrootcert=${certs.otherCaFile}`))
      expect(error).toBeInstanceOf(OperationalError)
      expect(error.message).toContain(`localhost:${tlsServer.port}`)
      expect(error.message).toContain('not signed by a trusted certificate authority')
      expect(error.message).toContain(certs.otherCaFile)
    }
  })

  it('verify-ca checks the chain but not the host name', async () => {
    const conn = await connect(on(tlsServer, `sslmode=verify-ca sslrootcert=${certs.caFile}`))
    expect(await usesTls(conn)).toBe(true)
  })

  it('require encrypts without checking the certificate, unless sslrootcert is given', async () => {
    const conn = await connect(on(tlsServer, 'sslmode=require'))
    expect(await usesTls(conn)).toBe(true)
    const error = await refusal(on(tlsServer, `sslmode=require sslrootcert=${certs.otherCaFile}`))
    expect(error.message).toContain('not signed by a trusted certificate authority')
  })

  it('require checks the chain against ~/.postgresql/root.crt when that file exists, as libpq does', async () => {
    const rootFile = path.join(process.env.HOME!, '.postgresql', 'root.crt')
    fs.mkdirSync(path.dirname(rootFile), { recursive: true })
    fs.copyFileSync(certs.otherCaFile, rootFile)
    try {
      const error = await refusal(on(tlsServer, 'sslmode=require'))
      expect(error.message).toContain(`not signed by a trusted certificate authority (trusted: "${rootFile}")`)
    } finally {
      fs.rmSync(rootFile)
    }
  })

  it('prefer uses TLS when the server offers it; disable does not', async () => {
    expect(await usesTls(await connect(on(tlsServer, 'sslmode=prefer')))).toBe(true)
    expect(await usesTls(await connect(on(tlsServer)))).toBe(true) // prefer is the default
    expect(await usesTls(await connect(on(tlsServer, 'sslmode=disable')))).toBe(false)
  })

  it('prefer goes plain on a server without TLS; require refuses it, clearly', async () => {
    expect(await usesTls(await connect(on(plainServer, 'sslmode=prefer')))).toBe(false)
    const error = await refusal(on(plainServer, 'sslmode=require'))
    expect(error).toBeInstanceOf(OperationalError)
    expect(error.message).toContain(`127.0.0.1:${plainServer.port}`)
    expect(error.message).toContain('the server does not support TLS, but sslmode=require requires it')
  })

  it('prefer tries again without TLS when the server refuses the TLS session (hostnossl)', async () => {
    const conn = await connect(on(tlsServer, 'user=plain_only sslmode=prefer'))
    expect(await usesTls(conn)).toBe(false)
    const error = await refusal(on(tlsServer, 'user=plain_only sslmode=require'))
    expect(error.message).toContain('pg_hba.conf rejects connection for host "127.0.0.1", user "plain_only", database "postgres", SSL encryption')
  })

  it('allow starts plain and moves to TLS when the server refuses plain (hostssl)', async () => {
    expect(await usesTls(await connect(on(tlsServer, 'sslmode=allow')))).toBe(false)
    expect(await usesTls(await connect(on(tlsServer, 'user=tls_only sslmode=allow')))).toBe(true)
    const error = await refusal(on(tlsServer, 'user=tls_only sslmode=disable'))
    expect(error.message).toContain('pg_hba.conf rejects connection for host "127.0.0.1", user "tls_only", database "postgres", no encryption')
  })

  it('sslrootcert=system means verify-full against the system store; weaker modes are refused', async () => {
    const error = await refusal(on(tlsServer, 'host=localhost sslrootcert=system'))
    expect(error.message).toContain("not signed by a trusted certificate authority (trusted: the system's root certificates)")
    const weak = await refusal(on(tlsServer, 'sslrootcert=system sslmode=require'))
    expect(weak).toBeInstanceOf(ProgrammingError)
    expect(weak.message).toBe('weak sslmode "require" may not be used with sslrootcert=system (use "verify-full")')
  })

  it('an unreadable sslrootcert is named', async () => {
    const missing = path.join(workDir, 'no-such-root.crt')
    const error = await refusal(on(tlsServer, `sslmode=verify-full sslrootcert=${missing}`))
    expect(error).toBeInstanceOf(OperationalError)
    expect(error.message).toContain(`could not read root certificate file "${missing}"`)
  })

  it('sends the client certificate of sslcert and sslkey (cert authentication)', async () => {
    const withCert = `user=cert_user sslmode=verify-ca sslrootcert=${certs.caFile}`
    const conn = await connect(on(tlsServer, `${withCert} sslcert=${certs.clientCertFile} sslkey=${certs.clientKeyFile}`))
    expect(await scalar(conn, 'SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toBe('/CN=cert_user')
    const error = await refusal(on(tlsServer, withCert))
    expect(error.message).toContain('connection requires a valid client certificate')
  })

  it('the blocking Connection speaks TLS too', () => {
    const conn = Connection.connect(on(tlsServer, `host=localhost sslmode=verify-full sslrootcert=${certs.caFile}`))
    try {
      const { rows } = conn.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
      expect(rows[0]!.ssl).toBe(true)
    } finally {
      conn.close()
    }
  })
})

describe('authentication', () => {
  const methods = [
    ['password', 'password_user', PASSWORDS.cleartext],
    ['md5', 'md5_user', PASSWORDS.md5],
    ['scram-sha-256', 'scram_user', PASSWORDS.scram],
  ] as const

  for (const [method, user, password] of methods) {
    it(`${method}: the right password connects, in both conninfo forms`, async () => {
      const keyValue = await connect(on(tlsServer, `user=${user} password=${password} sslmode=disable`))
      expect(await scalar(keyValue, 'SELECT current_user')).toBe(user)
      const url = `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${tlsServer.port}/postgres?sslmode=disable`
      expect(await scalar(await connect(url), 'SELECT current_user')).toBe(user)
    })

    it(`${method}: a wrong password is an OperationalError that never shows it`, async () => {
      const wrong = `${password}-Wrong`
      const errors = [
        await refusal(on(tlsServer, `user=${user} password=${wrong} sslmode=disable`)),
        await refusal(`postgresql://${user}:${encodeURIComponent(wrong)}@127.0.0.1:${tlsServer.port}/postgres`),
      ]
      for (const error of errors) {
        expect(error).toBeInstanceOf(OperationalError)
        expect(error.message).toContain(`password authentication failed for user "${user}"`)
        expect(error.message).not.toContain(password)
        expect(error.stack).not.toContain(password)
        expect(JSON.stringify(error)).not.toContain(password)
      }
    })
  }

  it('a missing password says which user needs one and where to put it', async () => {
    const error = await refusal(on(tlsServer, 'user=scram_user sslmode=disable'))
    expect(error).toBeInstanceOf(OperationalError)
    expect(error.message).toContain('the server asked for a password for user "scram_user", and none was given')
  })

  it('SCRAM binds to the TLS channel (tls-server-end-point) with SHA-256 and SHA-384 certificates', async () => {
    for (const server of [tlsServer, readOnlyServer]) {
      const conn = await connect(on(server, `user=scram_user password=${PASSWORDS.scram} sslmode=require channel_binding=require`))
      expect(await usesTls(conn)).toBe(true)
    }
  })

  it('channel_binding=require refuses whatever cannot bind', async () => {
    const cases = [
      ['user=scram_user sslmode=disable', 'the connection does not use TLS'],
      ['user=md5_user sslmode=require', 'the server asked for a plain password'],
      ['sslmode=require', 'the server authenticated the client without it'],
    ]
    for (const [settings, reason] of cases) {
      const error = await refusal(on(tlsServer, `${settings} password=${PASSWORDS.scram} channel_binding=require`))
      expect(error).toBeInstanceOf(OperationalError)
      expect(error.message).toContain(reason)
      expect(error.message).not.toContain(PASSWORDS.scram)
    }
  })

  it('channel_binding=disable still authenticates over TLS', async () => {
    const conn = await connect(on(tlsServer, `user=scram_user password=${PASSWORDS.scram} sslmode=require channel_binding=disable`))
    expect(await scalar(conn, 'SELECT current_user')).toBe('scram_user')
  })
})

describe('several hosts', () => {
  const hosts = (...ports: number[]) => `host=${ports.map(() => '127.0.0.1').join(',')} port=${ports.join(',')}`
  const superuser = () => `user=${tlsServer.user} dbname=postgres sslmode=disable`

  it('read-write passes over a dead host, a silent one (connect_timeout) and a read-only one', async () => {
    const started = performance.now()
    const conninfo = `${hosts(deadPort, silentPort, readOnlyServer.port, plainServer.port)} ${superuser()}`
    const conn = await connect(`${conninfo} target_session_attrs=read-write connect_timeout=2`)
    const seconds = (performance.now() - started) / 1000
    expect(await serverPort(conn)).toBe(plainServer.port)
    expect(seconds).toBeGreaterThanOrEqual(1.9)
    expect(seconds).toBeLessThan(8)
  })

  it('read-only picks the read-only server; any takes the first that answers', async () => {
    const conninfo = `${hosts(deadPort, plainServer.port, readOnlyServer.port)} ${superuser()}`
    expect(await serverPort(await connect(`${conninfo} target_session_attrs=read-only`))).toBe(readOnlyServer.port)
    expect(await serverPort(await connect(`${conninfo} target_session_attrs=any`))).toBe(plainServer.port)
    expect(await serverPort(await connect(conninfo))).toBe(plainServer.port)
  })

  it('primary, standby and prefer-standby judge hot standby, not read-only defaults', async () => {
    const conninfo = `${hosts(readOnlyServer.port, plainServer.port)} ${superuser()}`
    expect(await serverPort(await connect(`${conninfo} target_session_attrs=primary`))).toBe(readOnlyServer.port)
    expect(await serverPort(await connect(`${conninfo} target_session_attrs=prefer-standby`))).toBe(readOnlyServer.port)
    const error = await refusal(`${conninfo} target_session_attrs=standby`)
    expect(error.message).toContain(`127.0.0.1:${readOnlyServer.port} failed: server is not in hot standby mode`)
    expect(error.message).toContain(`127.0.0.1:${plainServer.port} failed: server is not in hot standby mode`)
  })

  it('when no host fits, the error names each host and why', async () => {
    const conninfo = `${hosts(deadPort, readOnlyServer.port)} ${superuser()} target_session_attrs=read-write`
    const error = await refusal(conninfo)
    expect(error).toBeInstanceOf(OperationalError)
    const lines = error.message.split('\n').filter((line) => line.startsWith('connection to server'))
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(new RegExp(`^connection to server at 127.0.0.1:${deadPort} failed: .*refused`, 'i'))
    expect(lines[1]).toBe(`connection to server at 127.0.0.1:${readOnlyServer.port} failed: session is read-only`)
  })

  it('connect_timeout bounds each host: a silent host fails after it', async () => {
    const started = performance.now()
    const error = await refusal(`${hosts(silentPort)} ${superuser()} connect_timeout=2`)
    const seconds = (performance.now() - started) / 1000
    expect(error.message).toBe(`connection to server at 127.0.0.1:${silentPort} failed: timeout expired after 2s`)
    expect(seconds).toBeGreaterThanOrEqual(1.9)
    expect(seconds).toBeLessThan(5)
  })

  it('the URL form lists hosts with their ports', async () => {
    const url = `postgres://${tlsServer.user}@127.0.0.1:${deadPort},127.0.0.1:${readOnlyServer.port},127.0.0.1:${plainServer.port}`
      + '/postgres?target_session_attrs=read-write&sslmode=disable'
    expect(await serverPort(await connect(url))).toBe(plainServer.port)
  })
})

describe('Unix sockets and session settings', () => {
  it('connects through a Unix socket folder given as host, in both forms', async () => {
    const keyValue = await connect(`host=${plainServer.socketDir} port=${plainServer.port} user=${plainServer.user} dbname=postgres`)
    expect(await scalar(keyValue, 'SELECT inet_server_addr() IS NULL')).toBe(true)
    expect(await scalar(keyValue, 'SELECT current_setting(\'port\')::int4')).toBe(plainServer.port)
    const url = `postgres://${plainServer.user}@${encodeURIComponent(plainServer.socketDir)}:${plainServer.port}/postgres`
    expect(await scalar(await connect(url), 'SELECT inet_server_addr() IS NULL')).toBe(true)
  })

  it('a Unix socket is never TLS, whatever sslmode says (it is local)', async () => {
    const conn = await connect(`host=${tlsServer.socketDir} port=${tlsServer.port} user=${tlsServer.user} dbname=postgres sslmode=require`)
    expect(await usesTls(conn)).toBe(false)
  })

  it('application_name, fallback_application_name and options reach the session', async () => {
    const named = await connect(on(plainServer, `application_name=billing options='-c search_path=audit,public'`))
    expect(await scalar(named, 'SHOW application_name')).toBe('billing')
    expect(await scalar(named, 'SHOW search_path')).toBe('audit,public')
    const fallback = await connect(on(plainServer, 'fallback_application_name=tool'))
    expect(await scalar(fallback, 'SHOW application_name')).toBe('tool')
    const both = await connect(on(plainServer, 'application_name=app fallback_application_name=tool'))
    expect(await scalar(both, 'SHOW application_name')).toBe('app')
  })
})

describe("libpq's environment variables", () => {
  const names = [
    'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGAPPNAME', 'PGSSLMODE', 'PGSSLROOTCERT',
    'PGCONNECT_TIMEOUT', 'PGTARGETSESSIONATTRS', 'PGOPTIONS', 'PGCHANNELBINDING',
  ]
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]))

  afterEach(() => {
    for (const name of names) {
      if (saved[name] === undefined) delete process.env[name]
      else process.env[name] = saved[name]
    }
  })

  it('fill what the connection string leaves out: host, port, user, password, database, TLS, application name', async () => {
    Object.assign(process.env, {
      PGHOST: 'localhost', PGPORT: String(tlsServer.port), PGUSER: 'scram_user', PGPASSWORD: PASSWORDS.scram,
      PGDATABASE: 'test', PGAPPNAME: 'from-env', PGSSLMODE: 'verify-full', PGSSLROOTCERT: certs.caFile,
    })
    const conn = await connect('')
    expect(await scalar(conn, 'SELECT current_user')).toBe('scram_user')
    expect(await scalar(conn, 'SELECT current_database()')).toBe('test')
    expect(await scalar(conn, 'SHOW application_name')).toBe('from-env')
    expect(await usesTls(conn)).toBe(true)
    // The connection string wins over the environment.
    const plain = await connect('sslmode=disable application_name=given')
    expect(await usesTls(plain)).toBe(false)
    expect(await scalar(plain, 'SHOW application_name')).toBe('given')
  })

  it('PGTARGETSESSIONATTRS and PGCONNECT_TIMEOUT apply to several hosts', async () => {
    Object.assign(process.env, {
      PGHOST: '127.0.0.1,127.0.0.1,127.0.0.1', PGPORT: `${silentPort},${plainServer.port},${readOnlyServer.port}`,
      PGUSER: plainServer.user, PGDATABASE: 'postgres', PGSSLMODE: 'disable',
      PGTARGETSESSIONATTRS: 'read-only', PGCONNECT_TIMEOUT: '2',
    })
    expect(await serverPort(await connect(''))).toBe(readOnlyServer.port)
  })

  it('a bad value in the environment is named like one in the string', async () => {
    process.env.PGSSLMODE = 'maybe'
    const error = await refusal(on(plainServer))
    expect(error).toBeInstanceOf(ProgrammingError)
    expect(error.message).toContain('invalid sslmode value: "maybe"')
  })
})

describe('malformed connection strings and passwords', () => {
  it('names the bad key and value', async () => {
    const cases = [
      ['sslmode=sometimes', 'invalid sslmode value: "sometimes" (expected one of: disable, allow, prefer, require, verify-ca, verify-full)'],
      ['target_session_attrs=writable', 'invalid target_session_attrs value: "writable"'],
      ['channel_binding=maybe', 'invalid channel_binding value: "maybe"'],
      ['sslsni=yes', 'invalid sslsni value: "yes"'],
      ['connect_timeout=soon', 'invalid integer value "soon" for connection option "connect_timeout"'],
      ['sslcrl=/x.pem', 'invalid connection option "sslcrl"'],
    ]
    for (const [settings, message] of cases) {
      const error = await refusal(on(plainServer, settings))
      expect(error).toBeInstanceOf(ProgrammingError)
      expect(error.message).toContain(message)
    }
  })

  it('never shows a password, whatever fails, in either form', async () => {
    const secret = 'Pa55-never-shown'
    const failures = [
      `host=127.0.0.1 port=${deadPort} password=${secret}`,
      `postgres://u:${secret}@127.0.0.1:${deadPort}/db`,
      `${on(tlsServer, `password=${secret} sslmode=verify-full sslrootcert=${certs.otherCaFile}`)}`,
      `postgres://u:${secret}@localhost:${tlsServer.port}/db?sslmode=verify-full&sslrootcert=${certs.otherCaFile}`,
      `${on(tlsServer, `user=md5_user password=${secret}`)}`,
      `postgres://md5_user:${secret}@127.0.0.1:${tlsServer.port}/postgres?channel_binding=require`,
      `password=${secret} sslmode=sometimes`,
      `postgres://u:${secret}@h/db?target_session_attrs=writable`,
      // Malformed around the password: the parts that may be the password are not echoed.
      'password=two Pa55-never-shown',
      'password=two Pa55-never-shown=x',
      'postgres://u:two/Pa55-never-shown@h/db',
    ]
    for (const conninfo of failures) {
      const error = await refusal(conninfo)
      expect(error.message).not.toContain(secret)
      expect(error.message).not.toContain('never-shown')
      expect(error.stack).not.toContain('never-shown')
      expect(blockingRefusal(conninfo).message).not.toContain('never-shown')
    }
  })
})
