// node:diagnostics_channel tracing channels (pgtide:query, pgtide:connect, pgtide:checkout), and
// the OpenTelemetry recipe (examples/opentelemetry.mjs) producing spans with the database
// semantic conventions, caught by the SDK's in-memory exporter.

import diagnosticsChannel from 'node:diagnostics_channel'

import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterEach, describe, expect, it } from 'vitest'

import { AsyncConnection, AsyncConnectionPool, ConnectionPool } from '../dist/index.js'
import { Pool as PgPool } from '../dist/pg.js'
// @ts-expect-error: a plain .mjs example, untyped
import { traceQueries } from '../examples/opentelemetry.mjs'
import { databaseUrl } from './helpers'

const url = () => new URL(databaseUrl())
/** The server the suite's URL names, as the messages and spans name it. */
const server = () => ({ address: url().hostname, port: Number(url().port || 5432) })

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Every event of a tracing channel, in order, with the message as it was then. */
function record(name: string) {
  const events: Array<{ event: string; message: Record<string, unknown> }> = []
  const on = (event: string) => (message: unknown) => events.push({ event, message: { ...(message as object) } })
  const handlers = { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') }
  const channel = diagnosticsChannel.tracingChannel(name)
  channel.subscribe(handlers)
  cleanups.push(() => channel.unsubscribe(handlers))
  return events
}

function asyncPool(options = {}) {
  const pool = new AsyncConnectionPool(databaseUrl(), { minSize: 1, logger: {}, ...options })
  cleanups.push(() => pool.close())
  return pool
}

describe('tracing channels', () => {
  it('pgtide:query traces a pool query and a connection query, with the server and the result', async () => {
    const pool = asyncPool({ name: 'traced' })
    await pool.wait()
    const events = record('pgtide:query')
    await pool.query('SELECT $1::int AS n', [7])
    await pool.connection((conn) => conn.query('SELECT 2 AS n'))
    const starts = events.filter((e) => e.event === 'start').map((e) => e.message)
    expect(starts).toMatchObject([
      { sql: 'SELECT $1::int AS n', params: [7], pool: 'traced', server: server() },
      { sql: 'SELECT 2 AS n', server: server() },
    ])
    const ends = events.filter((e) => e.event === 'asyncEnd').map((e) => e.message)
    expect(ends).toHaveLength(2)
    expect((ends[0]!.result as { rows: unknown[] }).rows).toEqual([{ n: 7 }])
  })

  it('a failing query publishes error, with the server error as thrown', async () => {
    const pool = asyncPool()
    await pool.wait()
    const events = record('pgtide:query')
    await expect(pool.query('SELECT * FROM no_such_table')).rejects.toThrow()
    const error = events.find((e) => e.event === 'error')!.message.error as { sqlstate: string }
    expect(error.sqlstate).toBe('42P01')
  })

  it('pgtide:checkout traces getconn and connection(); pgtide:connect a standalone connect', async () => {
    const pool = asyncPool({ name: 'co' })
    await pool.wait()
    const checkouts = record('pgtide:checkout')
    const conn = await pool.getconn({ timeout: 5 })
    await pool.putconn(conn)
    await pool.connection(() => undefined)
    const done = checkouts.filter((e) => e.event === 'asyncEnd').map((e) => e.message)
    expect(done).toHaveLength(2)
    expect(done[0]).toMatchObject({ pool: 'co', timeout: 5 })
    expect(done[0]!.result).toBe(conn)

    const connects = record('pgtide:connect')
    const standalone = await AsyncConnection.connect(databaseUrl())
    cleanups.push(() => standalone.close())
    expect(connects.find((e) => e.event === 'asyncEnd')!.message).toMatchObject({
      server: server(),
      database: url().pathname.slice(1),
      result: standalone,
    })
  })

  it('sync pools publish through traceSync', () => {
    const pool = new ConnectionPool(databaseUrl(), { minSize: 1, logger: {} })
    cleanups.push(() => pool.close())
    pool.wait()
    const events = record('pgtide:query')
    pool.query('SELECT 1')
    expect(events.map((e) => e.event)).toEqual(['start', 'end'])
    expect(events[1]!.message.result).toBeDefined()
  })

  it("pgtide/pg's queries publish too", async () => {
    const pool = new PgPool({ connectionString: databaseUrl(), max: 1 })
    cleanups.push(() => pool.end())
    const events = record('pgtide:query')
    await pool.query('SELECT $1::text AS t', ['x'])
    expect(events.find((e) => e.event === 'start')?.message).toMatchObject({ sql: 'SELECT $1::text AS t', params: ['x'] })
    expect(events.some((e) => e.event === 'asyncEnd')).toBe(true)
  })
})

describe('the OpenTelemetry recipe', () => {
  it('produces client spans with the database semantic conventions', async () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    cleanups.push(() => provider.shutdown())
    cleanups.push(traceQueries(provider.getTracer('pgtide-test')))
    const pool = asyncPool({ name: 'otel' })
    await pool.wait()
    await pool.query('SELECT 1 AS one')
    await expect(pool.query('SELEC 1')).rejects.toThrow()

    const [ok, failed] = exporter.getFinishedSpans()
    expect(ok!.name).toBe('SELECT')
    expect(ok!.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.query.text': 'SELECT 1 AS one',
      'db.operation.name': 'SELECT',
      'server.address': server().address,
      'server.port': server().port,
    })
    expect(ok!.status.code).toBe(0) // unset: a success
    expect(failed!.attributes).toMatchObject({ 'db.response.status_code': '42601', 'error.type': '42601' })
    expect(failed!.status.code).toBe(2) // ERROR
  })
})
