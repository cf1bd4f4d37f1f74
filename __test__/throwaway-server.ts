// scripts/pg-server.mjs's throwaway servers, typed for the suites that start one of their own
// (a server with passwords, TLS or settings the shared test server does not have).

export interface ThrowawayServer {
  port: number
  socketDir: string
  user: string
  stop(): Promise<void>
}

export interface ServerSetup {
  settings?: Record<string, string>
  files?: Record<string, string>
  hba?: string
}

export async function startServer(setup: ServerSetup): Promise<ThrowawayServer> {
  const helper = (await import('../scripts/pg-server.mjs' as string)) as {
    startServer(setup: ServerSetup): Promise<ThrowawayServer>
  }
  return helper.startServer(setup)
}
