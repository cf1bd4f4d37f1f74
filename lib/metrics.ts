// `pgtide/metrics`: pool stats in Prometheus's text exposition format (version 0.0.4), for a
// `/metrics` endpoint. Reads `getStats()`, never `popStats()`: counters only ever grow.

import type { PoolStats } from './pool-base'

/** Anything with a name and stats: every pgtide pool (and `pgtide/pg`'s `pool.pgtide`). */
export interface StatsSource {
  readonly name: string
  getStats(): PoolStats
}

export interface PrometheusOptions {
  /** Prepended to every metric name (default `pgtide_pool_`). */
  prefix?: string
}

interface Metric {
  stat: keyof PoolStats
  name: string
  type: 'gauge' | 'counter'
  help: string
  /** Milliseconds are exposed in seconds, Prometheus's base unit. */
  millis?: boolean
}

const METRICS: readonly Metric[] = [
  { stat: 'poolMin', name: 'min_size', type: 'gauge', help: 'Connections the pool keeps open (minSize).' },
  { stat: 'poolMax', name: 'max_size', type: 'gauge', help: 'Connections the pool may open (maxSize).' },
  { stat: 'poolSize', name: 'connections', type: 'gauge', help: 'Connections open: idle, in use or being prepared.' },
  { stat: 'poolAvailable', name: 'idle_connections', type: 'gauge', help: 'Connections idle in the pool.' },
  { stat: 'requestsWaiting', name: 'waiting_requests', type: 'gauge', help: 'Clients waiting for a connection.' },
  { stat: 'requestsNum', name: 'requests_total', type: 'counter', help: 'Connections asked of the pool.' },
  { stat: 'requestsQueued', name: 'requests_queued_total', type: 'counter', help: 'Requests that had to wait for a connection.' },
  { stat: 'requestsWaitMs', name: 'requests_wait_seconds_total', type: 'counter', help: 'Time clients spent waiting for a connection.', millis: true },
  { stat: 'requestsErrors', name: 'requests_errors_total', type: 'counter', help: 'Requests that failed: timed out, refused or pool closed.' },
  { stat: 'usageMs', name: 'usage_seconds_total', type: 'counter', help: 'Time connections spent checked out by clients.', millis: true },
  { stat: 'returnsBad', name: 'returns_bad_total', type: 'counter', help: 'Connections returned broken or closed.' },
  { stat: 'connectionsNum', name: 'connection_attempts_total', type: 'counter', help: 'Connection attempts made to the server.' },
  { stat: 'connectionsMs', name: 'connection_attempts_seconds_total', type: 'counter', help: 'Time spent opening connections.', millis: true },
  { stat: 'connectionsErrors', name: 'connection_errors_total', type: 'counter', help: 'Failed connection attempts.' },
  { stat: 'connectionsLost', name: 'connections_lost_total', type: 'counter', help: 'Connections found broken by a check.' },
]

/** A label value in the exposition format: backslash, double quote and newline escaped. */
const labelValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/**
 * The stats of `pools` as Prometheus text: one HELP and TYPE per metric, one sample per pool
 * labelled `pool="<name>"`. Pool names must differ (each names one series).
 */
export function prometheusMetrics(pools: Iterable<StatsSource>, { prefix = 'pgtide_pool_' }: PrometheusOptions = {}): string {
  const names = new Set<string>()
  const sampled = [...pools].map((pool) => {
    if (names.has(pool.name)) throw new RangeError(`two pools are named '${pool.name}': give each pool its own name`)
    names.add(pool.name)
    return { label: `{pool="${labelValue(pool.name)}"}`, stats: pool.getStats() }
  })
  const lines: string[] = []
  for (const metric of METRICS) {
    const name = prefix + metric.name
    lines.push(`# HELP ${name} ${metric.help}`, `# TYPE ${name} ${metric.type}`)
    for (const { label, stats } of sampled) {
      const value = stats[metric.stat]
      lines.push(`${name}${label} ${metric.millis ? value / 1000 : value}`)
    }
  }
  return `${lines.join('\n')}\n`
}

/** The Content-Type of `prometheusMetrics()`'s output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
