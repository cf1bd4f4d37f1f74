// Read pools on hot standbys: target_session_attrs=standby and prefer-standby route where they
// should, fail clearly or fall back when the standbys go away, and come back to them (prefer-
// standby after drain()); load_balance_hosts=random spreads a pool over two standbys; a host
// that accepts TCP and never answers delays a several-hosts connect by a bounded time. Real
// servers: a throwaway primary and its streaming standbys.
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnection, AsyncConnectionPool, PoolTimeout } from '../dist/index.js'
import { databaseUrl, eventually } from './helpers'
import { hostsConninfo, replicated, sessionsOn, standbysPossible } from './replication'

const standbys = standbysPossible()
const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanUp of cleanups.splice(0).reverse()) await cleanUp()
})

let counter = 0
const appName = () => `pgtide-read-${process.pid}-${++counter}`

function readPool(conninfo: string, minSize = 4): AsyncConnectionPool {
  const pool = new AsyncConnectionPool(conninfo, { minSize, timeout: 2, logger: {} })
  cleanups.push(() => pool.close(5))
  return pool
}

const inRecovery = async (pool: AsyncConnectionPool) =>
  (await pool.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r

describe.skipIf(!standbys.possible)(`read pools on a standby${standbys.skipped}`, () => {
  it('standby: every connection on the standby; none anywhere while it is down; back when it is', { timeout: 90_000 }, async () => {
    const servers = await replicated(1)
    cleanups.push(() => servers.stop())
    const [standby] = servers.standbys
    const app = appName()
    // The primary first, so routing is the attribute's doing, not the order's.
    const pool = readPool(hostsConninfo([servers.primary, standby!], `application_name=${app} target_session_attrs=standby`))
    await pool.wait(20)
    expect(await sessionsOn(standby!, app)).toBe(4)
    expect(await sessionsOn(servers.primary, app)).toBe(0)
    expect(await inRecovery(pool)).toBe(true)

    await standby!.kill()
    const refused = await pool.query('SELECT 1', [], { timeout: 1 }).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(PoolTimeout)
    // The primary was tried and refused for what it is; the standby for being down.
    expect((refused as Error).message).toMatch(/not in hot standby mode/)
    // The pool keeps trying, so a session it is about to refuse may show for an instant; none
    // stays (one the pool kept would never leave).
    await eventually(async () => (await sessionsOn(servers.primary, app)) === 0, 10)

    await standby!.restart()
    await eventually(async () => inRecovery(pool).catch(() => false), 30)
    await eventually(async () => (await sessionsOn(standby!, app)) >= 4, 30)
    expect(await sessionsOn(servers.primary, app)).toBe(0)
  })

  it('prefer-standby: the standby first, the primary while it is down, the standby again after drain()', { timeout: 90_000 }, async () => {
    const servers = await replicated(1)
    cleanups.push(() => servers.stop())
    const [standby] = servers.standbys
    const app = appName()
    const pool = readPool(hostsConninfo([servers.primary, standby!], `application_name=${app} target_session_attrs=prefer-standby`))
    await pool.wait(20)
    expect(await sessionsOn(standby!, app)).toBe(4)
    expect(await sessionsOn(servers.primary, app)).toBe(0)

    await standby!.kill()
    // Lost connections are replaced on the primary: reads go on.
    await eventually(async () => (await inRecovery(pool).catch(() => true)) === false, 30)
    await eventually(async () => (await sessionsOn(servers.primary, app)) >= 4, 30)

    await standby!.restart()
    expect(await inRecovery(pool)).toBe(false) // the pool keeps what it has...
    await pool.drain() // ...until told to renew it
    await eventually(async () => (await sessionsOn(standby!, app)) >= 4, 30)
    await eventually(async () => (await sessionsOn(servers.primary, app)) === 0, 30)
    expect(await inRecovery(pool)).toBe(true)
  })
})

describe.skipIf(!standbys.possible)(`load_balance_hosts over two standbys${standbys.skipped}`, () => {
  it('random spreads a pool over both, disable keeps the order; one gone, the other takes all; both again after drain()', { timeout: 120_000 }, async () => {
    const servers = await replicated(2)
    cleanups.push(() => servers.stop())
    const [first, second] = servers.standbys as [typeof servers.primary, typeof servers.primary]
    const SIZE = 20

    const ordered = appName()
    const inOrder = readPool(hostsConninfo([first, second], `application_name=${ordered} load_balance_hosts=disable`), SIZE)
    await inOrder.wait(20)
    expect([await sessionsOn(first, ordered), await sessionsOn(second, ordered)]).toEqual([SIZE, 0])
    await inOrder.close()

    const app = appName()
    const pool = readPool(hostsConninfo([first, second], `application_name=${app} load_balance_hosts=random`), SIZE)
    await pool.wait(20)
    const spread = [await sessionsOn(first, app), await sessionsOn(second, app)]
    process.stdout.write(`[read-pools] load_balance_hosts=random, ${SIZE} connections over two standbys: ${spread.join(' + ')}\n`)
    expect(spread[0]! + spread[1]!).toBe(SIZE)
    // Each host comes first half the time: both get some (all on one: 2 chances in a million).
    expect(Math.min(...spread)).toBeGreaterThan(0)

    await second.kill()
    await pool.check() // finds the idle connections that were on it lost...
    // ...and has them replaced on the standby that is left.
    await eventually(async () => (await sessionsOn(first, app)) === SIZE, 30)
    await second.restart()
    await pool.drain()
    await eventually(async () => (await sessionsOn(second, app)) > 0, 30)
    await eventually(async () => (await sessionsOn(first, app)) + (await sessionsOn(second, app)) === SIZE, 30)
  })
})

describe('a host that accepts TCP and never answers', () => {
  it('costs a several-hosts connect 10 s without connect_timeout, then the next host is tried', { timeout: 60_000 }, async () => {
    const silent = net.createServer(() => {}) // accepts, reads nothing, says nothing
    const sockets = new Set<net.Socket>()
    silent.on('connection', (socket) => sockets.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => silent.close(resolve))
    })
    const { port } = silent.address() as net.AddressInfo
    // The silent host first, then the test server.
    const server = new URL(databaseUrl())
    const conninfo = databaseUrl().replace(`@${server.host}/`, `@127.0.0.1:${port},${server.host}/`)
    expect(conninfo).toContain(',')
    const started = performance.now()
    const conn = await AsyncConnection.connect(conninfo)
    const seconds = (performance.now() - started) / 1000
    await conn.close()
    process.stdout.write(`[read-pools] a silent first host delayed the connection by ${seconds.toFixed(1)} s\n`)
    expect(seconds).toBeGreaterThan(9.5)
    expect(seconds).toBeLessThan(15)
  })
})
