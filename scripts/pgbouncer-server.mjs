// Throwaway PgBouncers for pgtide's tests (node builtins only): a config of their own in a
// temporary folder, a free loopback port, trust authentication, run as an unprivileged user
// (PgBouncer refuses root, as PostgreSQL does) and stopped by their own process id.
//
//   import { findPgBouncer, startPgBouncer } from './scripts/pgbouncer-server.mjs'
//   const bouncer = await startPgBouncer({ upstream: process.env.DATABASE_URL, poolMode: 'transaction' })
//   ... bouncer.url ... await bouncer.stop()
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

import { freePort, handOver, osUserIds, serverOsUser } from './pg-server.mjs'

const HOST = '127.0.0.1'
const IS_ROOT = process.getuid?.() === 0

/** The pgbouncer binary and its version ({ bin, version: '1.18.0' }), or null when not installed. */
export function findPgBouncer() {
  // Debian installs it in /usr/sbin, which a non-root PATH may lack.
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'].filter((d) =>
    path.isAbsolute(d),
  )
  const bin = dirs.map((d) => path.join(d, 'pgbouncer')).find((file) => fs.existsSync(file))
  if (!bin) return null
  const result = spawnSync(bin, ['--version'], { encoding: 'utf8' })
  const version = /PgBouncer (\d+\.\d+(?:\.\d+)?)/.exec(result.stdout ?? '')?.[1]
  return version ? { bin, version } : null
}

/** True when `version` (e.g. '1.18.0') is at least `wanted` (e.g. '1.21'). */
export function versionAtLeast(version, wanted) {
  const [a, b] = [version, wanted].map((v) => v.split('.').map(Number))
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return true
}

function waitForPort(port, child, output, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`pgbouncer exited (${child.exitCode}):\n${output()}`))
      const socket = net.connect(port, HOST)
      socket.once('connect', () => {
        socket.destroy()
        resolve()
      })
      socket.once('error', () => {
        socket.destroy()
        if (Date.now() > deadline) reject(new Error(`pgbouncer did not listen on ${port}:\n${output()}`))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })
}

/**
 * Starts a PgBouncer in front of `upstream` (a postgres:// URL); returns { url, port, user,
 * version, output, stop, restart }, where `url` is `upstream` through the bouncer and `user` its
 * admin (the console is its database `pgbouncer`). `settings` are added to the [pgbouncer]
 * section (e.g. { max_prepared_statements: 100 }). `restart({ downSeconds })` stops the process
 * (immediate shutdown) and starts a new one on the same port.
 */
export async function startPgBouncer({ upstream, poolMode = 'transaction', defaultPoolSize = 2, settings = {} }) {
  const found = findPgBouncer()
  if (!found) throw new Error('pgbouncer is not installed (Debian: apt-get install pgbouncer)')
  const target = new URL(upstream)
  const user = decodeURIComponent(target.username) || os.userInfo().username
  const port = await freePort()
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'pgtide-pgbouncer-'))
  const runAs = IS_ROOT ? serverOsUser() : undefined
  const config = {
    listen_addr: HOST,
    listen_port: port,
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: path.join(folder, 'userlist.txt'),
    pool_mode: poolMode,
    default_pool_size: defaultPoolSize,
    max_client_conn: 200,
    pidfile: path.join(folder, 'pgbouncer.pid'),
    admin_users: user,
    ...settings,
  }
  const ini = [
    '[databases]',
    `* = host=${target.hostname} port=${target.port || 5432}`,
    '[pgbouncer]',
    ...Object.entries(config).map(([key, value]) => `${key} = ${value}`),
    '',
  ].join('\n')
  fs.writeFileSync(path.join(folder, 'pgbouncer.ini'), ini)
  // trust still wants each user listed; the password field is unused.
  fs.writeFileSync(config.auth_file, `"${user}" ""\n`)
  if (runAs) handOver(folder, runAs)
  const ids = runAs ? osUserIds(runAs) : {}
  let log = ''
  let child
  const kill = () => child.exitCode === null && child.kill('SIGTERM')
  process.on('exit', kill)
  const launch = async () => {
    child = spawn(found.bin, [path.join(folder, 'pgbouncer.ini')], { ...ids, cwd: folder, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', (chunk) => (log += chunk))
    child.stderr.on('data', (chunk) => (log += chunk))
    await waitForPort(port, child, () => log)
  }
  const halt = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM') // PgBouncer: immediate shutdown, every client connection dropped
      await exited
    }
  }
  const stop = async () => {
    process.off('exit', kill)
    await halt()
    fs.rmSync(folder, { recursive: true, force: true })
  }
  // A restart as an operator's: the process ends, and a new one takes the same port and config.
  const restart = async ({ downSeconds = 0 } = {}) => {
    await halt()
    await new Promise((resolve) => setTimeout(resolve, downSeconds * 1000))
    await launch()
  }
  try {
    await launch()
  } catch (error) {
    await stop()
    throw error
  }
  const url = new URL(upstream)
  url.hostname = HOST
  url.port = String(port)
  return { url: url.href, port, user, version: found.version, output: () => log, stop, restart }
}
