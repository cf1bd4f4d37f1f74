// OpenTelemetry spans for pgtide's queries, from its `pgtide:query` tracing channel: no
// patching, nothing to load before pgtide. Attributes follow OpenTelemetry's database semantic
// conventions. Tested by __test__/tracing.spec.ts; described in docs/observability.md.
//
//   import { trace } from '@opentelemetry/api'
//   import { traceQueries } from './opentelemetry.mjs'
//   const stop = traceQueries(trace.getTracer('pgtide'))

import diagnosticsChannel from 'node:diagnostics_channel'

import { SpanKind, SpanStatusCode } from '@opentelemetry/api'

/** The statement's first keyword (`SELECT`, `INSERT`...): `db.operation.name`. */
function operationOf(sql) {
  return /^\s*([a-z]+)/i.exec(sql)?.[1]?.toUpperCase()
}

/** Starts a span per query; returns a function that stops tracing. */
export function traceQueries(tracer) {
  const spans = new WeakMap()
  const finish = (message) => {
    const span = spans.get(message)
    if (span === undefined) return
    spans.delete(message)
    if (message.error !== undefined) {
      const error = message.error
      if (error?.sqlstate) span.setAttribute('db.response.status_code', error.sqlstate)
      span.setAttribute('error.type', error?.sqlstate ?? error?.name ?? 'Error')
      span.recordException(error)
      span.setStatus({ code: SpanStatusCode.ERROR, message: error?.message })
    }
    span.end()
  }
  const handlers = {
    start(message) {
      const operation = operationOf(message.sql)
      const attributes = { 'db.system.name': 'postgresql', 'db.query.text': message.sql }
      if (operation) attributes['db.operation.name'] = operation
      if (message.server) {
        attributes['server.address'] = message.server.address
        attributes['server.port'] = message.server.port
      }
      if (message.pool) attributes['db.client.connection.pool.name'] = message.pool
      spans.set(message, tracer.startSpan(operation ?? 'postgresql', { kind: SpanKind.CLIENT, attributes }))
    },
    // A sync call ends here with its result or error; an async one ends at asyncEnd.
    end(message) {
      if ('result' in message || 'error' in message) finish(message)
    },
    asyncEnd: finish,
  }
  const channel = diagnosticsChannel.tracingChannel('pgtide:query')
  channel.subscribe(handlers)
  return () => channel.unsubscribe(handlers)
}
