// `pgtide/metrics`: pool stats in Prometheus's text exposition format (version 0.0.4), for a
// `/metrics` endpoint. Reads `getStats()` and `getHistograms()`, never `popStats()`: counters
// only ever grow.

import type { DurationHistogram, PoolHistograms, PoolStats } from './pool-base'

/** Anything with a name and stats: every pgtide pool (and `pgtide/pg`'s `pool.pgtide`). */
export interface StatsSource {
  readonly name: string
  getStats(): PoolStats
  /** The duration histograms, rendered when present. */
  getHistograms?(): PoolHistograms
}

export interface PrometheusOptions {
  /** Prepended to every metric name (default `pgtide_pool_`). */
  prefix?: string
}

interface Metric {
  stat: Stat
  name: string
  type: 'gauge' | 'counter'
  help: string
  /** Milliseconds are exposed in seconds, Prometheus's base unit. */
  millis?: boolean
}

type Stat = keyof PoolStats
const gauge = (stat: Stat, name: string, help: string): Metric => ({ stat, name, type: 'gauge', help })
const counter = (stat: Stat, name: string, help: string, millis = false): Metric => ({
  stat,
  name,
  type: 'counter',
  help,
  millis,
})

const METRICS: readonly Metric[] = [
  gauge('poolMin', 'min_size', 'Connections the pool keeps open (minSize).'),
  gauge('poolMax', 'max_size', 'Connections the pool may open (maxSize).'),
  gauge('poolSize', 'connections', 'Connections open: idle, in use or being prepared.'),
  gauge('poolAvailable', 'idle_connections', 'Connections idle in the pool.'),
  gauge('requestsWaiting', 'waiting_requests', 'Clients waiting for a connection.'),
  counter('requestsNum', 'requests_total', 'Connections asked of the pool.'),
  counter('requestsQueued', 'requests_queued_total', 'Requests that had to wait for a connection.'),
  counter('requestsWaitMs', 'requests_wait_seconds_total', 'Time clients spent waiting for a connection.', true),
  counter('requestsErrors', 'requests_errors_total', 'Requests that failed: timed out, refused or pool closed.'),
  counter('usageMs', 'usage_seconds_total', 'Time connections spent checked out by clients.', true),
  counter('returnsBad', 'returns_bad_total', 'Connections returned broken or closed.'),
  counter('connectionsNum', 'connection_attempts_total', 'Connection attempts made to the server.'),
  counter('connectionsMs', 'connection_attempts_seconds_total', 'Time spent opening connections.', true),
  counter('connectionsErrors', 'connection_errors_total', 'Failed connection attempts.'),
  counter('connectionsLost', 'connections_lost_total', 'Connections found broken by a check.'),
  counter('connectionsLeaked', 'connections_leaked_total', 'Checkouts held past leakDetectionThreshold.'),
  counter('requestsPipelined', 'requests_pipelined_total', "Statements run on another query's round trip (pipelining)."),
]

interface HistogramMetric {
  histogram: Exclude<keyof PoolHistograms, 'bounds'>
  name: string
  help: string
}

const HISTOGRAMS: readonly HistogramMetric[] = [
  { histogram: 'requestsWait', name: 'wait_seconds', help: 'Time requests that queued waited for a connection.' },
  { histogram: 'usage', name: 'usage_seconds', help: 'Time connections stayed checked out, per checkout.' },
  { histogram: 'connections', name: 'connect_seconds', help: 'Time successful connection attempts took.' },
]

/** A bucket bound as Prometheus writes it (`+Inf` for the last). */
const le = (bound: number) => (bound === Infinity ? '+Inf' : String(bound))

/** One pool's series of a histogram: cumulative `_bucket`s, then `_sum` and `_count`. */
function histogramLines(name: string, pool: string, bounds: readonly number[], histogram: DurationHistogram): string[] {
  const lines: string[] = []
  let cumulative = 0
  histogram.counts.forEach((count, i) => {
    cumulative += count
    lines.push(`${name}_bucket{pool="${pool}",le="${le(bounds[i] ?? Infinity)}"} ${cumulative}`)
  })
  lines.push(`${name}_sum{pool="${pool}"} ${histogram.sum}`, `${name}_count{pool="${pool}"} ${histogram.count}`)
  return lines
}

/** A label value in the exposition format: backslash, double quote and newline escaped. */
const labelValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/**
 * The stats of `pools` as Prometheus text: one HELP and TYPE per metric, one sample per pool
 * labelled `pool="<name>"`. Pool names must differ (each names one series).
 */
export function prometheusMetrics(
  pools: Iterable<StatsSource>,
  { prefix = 'pgtide_pool_' }: PrometheusOptions = {},
): string {
  const names = new Set<string>()
  const sampled = [...pools].map((pool) => {
    if (names.has(pool.name)) throw new RangeError(`two pools are named '${pool.name}': give each pool its own name`)
    names.add(pool.name)
    const label = labelValue(pool.name)
    return { pool: label, label: `{pool="${label}"}`, stats: pool.getStats(), histograms: pool.getHistograms?.() }
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
  for (const metric of HISTOGRAMS) {
    const withHistograms = sampled.filter((sample) => sample.histograms !== undefined)
    if (withHistograms.length === 0) continue
    const name = prefix + metric.name
    lines.push(`# HELP ${name} ${metric.help}`, `# TYPE ${name} histogram`)
    for (const { pool, histograms } of withHistograms) {
      lines.push(...histogramLines(name, pool, histograms!.bounds, histograms![metric.histogram]))
    }
  }
  return `${lines.join('\n')}\n`
}

/** The Content-Type of `prometheusMetrics()`'s output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
