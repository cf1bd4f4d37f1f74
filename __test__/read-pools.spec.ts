// Read pools on hot standbys: target_session_attrs=standby and prefer-standby route where they
// should, fail clearly or fall back when the standbys go away, and come back to them (prefer-
// standby after drain()). Real servers: a throwaway primary and its streaming standbys.
import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnectionPool, PoolTimeout } from '../dist/index.js'
import { eventually } from './helpers'
import { hostsConninfo, replicated, sessionsOn } from './replication'

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

describe('read pools on a standby', () => {
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
    expect(await sessionsOn(servers.primary, app)).toBe(0)

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
