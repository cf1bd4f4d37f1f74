// Connections opened by a test and closed after it, whatever happens.

import { afterEach } from 'vitest'

import { AsyncConnection, Connection, type ConnectionOptions } from '../dist/index.js'
import { databaseUrl } from './helpers'

const opened: { close(): unknown }[] = []

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()))
})

export async function openAsync(options: ConnectionOptions = {}): Promise<AsyncConnection> {
  const conn = await AsyncConnection.connect(databaseUrl(), options)
  opened.push(conn)
  return conn
}

export function openSync(options: ConnectionOptions = {}): Connection {
  const conn = Connection.connect(databaseUrl(), options)
  opened.push(conn)
  return conn
}

/** The suite's one `sleep`, in milliseconds (helpers.ts), for the specs that import it from here. */
export { sleep } from './helpers'

/** The error `fn` throws (sync or async), or a failure if it does not throw. */
export async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn()
  } catch (error) {
    return error
  }
  throw new Error('expected an error, none was thrown')
}
