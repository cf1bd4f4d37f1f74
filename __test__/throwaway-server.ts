// scripts/pg-server.mjs's throwaway servers, typed for the suites that start one of their own
// (a server with passwords, TLS or settings the shared test server does not have, or a primary
// and a standby to fail over between).

export interface ThrowawayServer {
  url: string
  host: string
  port: number
  socketDir: string
  user: string
  stop(): Promise<void>
  /** `pg_ctl stop -m immediate`, as a crash: the data stays, `restart()` brings it back. */
  kill(): Promise<void>
  /** Starts a killed server again on the same port. */
  restart(): Promise<void>
  /** `pg_ctl promote`: a standby becomes a primary (resolves once it accepts writes). */
  promote(): Promise<void>
}

export interface ServerSetup {
  settings?: Record<string, string>
  files?: Record<string, string>
  hba?: string
}

interface PgServerModule {
  startServer(setup: ServerSetup): Promise<ThrowawayServer>
  startStandby(primary: ThrowawayServer, setup?: { settings?: Record<string, string> }): Promise<ThrowawayServer>
}

const pgServer = () => import('../scripts/pg-server.mjs' as string) as Promise<PgServerModule>

export async function startServer(setup: ServerSetup = {}): Promise<ThrowawayServer> {
  return (await pgServer()).startServer(setup)
}

/** A hot standby streaming from `primary` (a `pg_basebackup -R` of it) on a port of its own. */
export async function startStandby(primary: ThrowawayServer): Promise<ThrowawayServer> {
  return (await pgServer()).startStandby(primary)
}
