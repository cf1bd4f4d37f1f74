import { inject } from 'vitest'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

/** The server every suite shares (see global-setup.mjs). */
export function databaseUrl(): string {
  return inject('databaseUrl')
}

export interface LogRecord {
  level: 'debug' | 'info' | 'warn'
  message: string
  at: number
}

/** A pino-shaped logger that keeps what it is given, with the time of each record. */
export function recordingLogger(level = 'info') {
  const records: LogRecord[] = []
  const keep = (l: LogRecord['level']) => (_obj: object, message: string) => {
    records.push({ level: l, message, at: performance.now() })
  }
  return {
    logger: { level, debug: keep('debug'), info: keep('info'), warn: keep('warn') },
    records,
    warnings: () => records.filter((r) => r.level === 'warn').map((r) => r.message),
  }
}

/**
 * Waits `ms` milliseconds: for time that is itself what a test checks (a hold, a lifetime, a
 * window with nothing in it), never to let something else happen first (poll for that).
 */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `predicate` until true or `seconds` pass. */
export async function eventually(predicate: () => boolean | Promise<boolean>, seconds = 5): Promise<void> {
  const deadline = performance.now() + seconds * 1000
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${seconds} s`)
    await sleep(20)
  }
}

/** The promise's outcome (value or error), or 'pending' if it has not settled in time. */
export async function settleWithin<T>(promise: Promise<T>, seconds: number): Promise<T | unknown | 'pending'> {
  let timer: NodeJS.Timeout | undefined
  const pending = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), seconds * 1000)
  })
  try {
    return await Promise.race([promise.catch((error: unknown) => error), pending])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * `url` with keepalive and user-timeout settings a silent peer trips in about 3 s (through a
 * local proxy they change nothing: its own kernel answers the probes).
 */
export function withShortKeepalive(url: string): string {
  const withKeys = new URL(url)
  for (const [key, value] of Object.entries({
    keepalives_idle: '1',
    keepalives_interval: '1',
    keepalives_count: '2',
    tcp_user_timeout: '3000',
    connect_timeout: '3',
  })) {
    withKeys.searchParams.set(key, value)
  }
  return withKeys.href
}

/** What the pg_stat_activity helpers query through: any connection of the suite's server. */
interface Queryable {
  query(sql: string, params: unknown[]): Promise<{ rows: unknown[] }>
}

/** Polls pg_stat_activity through `conn` until backend `pid` has gone (after pg_terminate_backend). */
export async function untilBackendGone(conn: Queryable, pid: number, seconds = 5): Promise<void> {
  await eventually(async () => {
    const { rows } = await conn.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])
    return rows.length === 0
  }, seconds)
}

/** Polls pg_stat_activity through `conn` until backend `pid` runs a statement (state 'active'). */
export async function untilRunning(conn: Queryable, pid: number, seconds = 5): Promise<void> {
  await eventually(async () => {
    const { rows } = await conn.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid])
    return rows.length === 1
  }, seconds)
}
