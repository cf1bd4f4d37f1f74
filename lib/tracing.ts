// node:diagnostics_channel tracing channels (docs/observability.md): an APM subscribes to
// `pgtide:query`, `pgtide:connect` and `pgtide:checkout` without patching anything. A call is
// traced only while its channel has a subscriber; otherwise it costs one property read.

import diagnosticsChannel from 'node:diagnostics_channel'

import { binding } from './native'

/** Where a traced call went (OpenTelemetry's `server.address` and `server.port`). */
export interface TracedServer {
  address: string
  port: number
}

/** `pgtide:query`: one statement, from a connection or a pool's `query()`. */
export interface QueryMessage {
  /** The statement as given (with `$n` placeholders). */
  sql: string
  params: readonly unknown[] | undefined
  /** The pool's name, for a pool's `query()`. */
  pool?: string
  server?: TracedServer
  /** Set by the channel on success: the QueryResult. */
  result?: unknown
  /** Set by the channel on failure: what the call threw. */
  error?: unknown
}

/** `pgtide:connect`: a connection opened by `AsyncConnection.connect()` / `Connection.connect()`. */
export interface ConnectMessage {
  server?: TracedServer
  database?: string
  result?: unknown
  error?: unknown
}

/** `pgtide:checkout`: a wait for a pool's connection (`getconn()`, `connection()`). */
export interface CheckoutMessage {
  pool: string
  /** The call's own timeout in seconds, if it gave one. */
  timeout?: number
  /** The connection handed out. */
  result?: unknown
  error?: unknown
}

export const queryChannel = diagnosticsChannel.tracingChannel<QueryMessage, QueryMessage>('pgtide:query')
export const connectChannel = diagnosticsChannel.tracingChannel<ConnectMessage, ConnectMessage>('pgtide:connect')
export const checkoutChannel = diagnosticsChannel.tracingChannel<CheckoutMessage, CheckoutMessage>('pgtide:checkout')

/** The server a connection reached; none if it cannot say (closed). */
export function serverOfConnection(conn: { readonly server: TracedServer }): TracedServer | undefined {
  try {
    const { address, port } = conn.server
    return { address, port }
  } catch {
    return undefined
  }
}

/** The server a conninfo string names first (a unix socket's directory as its address). */
export function serverOf(conninfo: unknown): { server?: TracedServer; database?: string } {
  if (typeof conninfo !== 'string') return {}
  try {
    const { address, port, database } = binding.conninfoServer(conninfo)
    return { server: { address, port }, database }
  } catch {
    return {} // a malformed conninfo fails the call itself, with its own error
  }
}
