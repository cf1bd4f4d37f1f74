// What operators see: pgtide/metrics' Prometheus text (parsed here by the exposition format's
// rules), and the pool's log records reaching a real pino logger, silent by default but warnings.

import { Writable } from 'node:stream'

// @ts-expect-error: the parser ships no type declarations
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import pino from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'

import { AsyncConnectionPool } from '../dist/index.js'
import { PROMETHEUS_CONTENT_TYPE, prometheusMetrics } from '../dist/metrics.js'
import { databaseUrl, eventually } from './helpers'

const pools: AsyncConnectionPool[] = []

afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(pools.splice(0).map((p) => p.close()))
})

function makePool(options: ConstructorParameters<typeof AsyncConnectionPool>[1] = {}): AsyncConnectionPool {
  const pool = new AsyncConnectionPool(databaseUrl(), { logger: {}, ...options })
  pools.push(pool)
  return pool
}

interface Family {
  help: string
  type: string
  samples: Map<string, number>
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/** Parses Prometheus text exposition (0.0.4), failing on anything the format does not allow. */
function parseExposition(text: string): Map<string, Family> {
  expect(text.endsWith('\n')).toBe(true)
  const families = new Map<string, Family>()
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line)
    if (comment) {
      const [, kind, name, rest] = comment
      expect(name).toMatch(METRIC_NAME)
      const family = families.get(name!) ?? { help: '', type: '', samples: new Map() }
      families.set(name!, family)
      if (kind === 'HELP') family.help = rest!
      else {
        expect(['counter', 'gauge', 'histogram']).toContain(rest)
        expect(family.samples.size).toBe(0) // TYPE comes before the samples
        family.type = rest!
      }
      continue
    }
    const sample = /^(\S+?)\{pool="((?:[^"\\]|\\["\\n])*)"(?:,le="([^"]+)")?\} (\S+)$/.exec(line)
    expect(sample, `not a sample line: ${line}`).not.toBeNull()
    const [, sampleName, rawPool, le, value] = sample!
    // A histogram's samples (_bucket, _sum, _count) belong to its family.
    const name = families.has(sampleName!) ? sampleName : sampleName!.replace(/_(bucket|sum|count)$/, '')
    const family = families.get(name!)
    expect(family, `sample before its TYPE: ${line}`).toBeDefined()
    const unescaped = rawPool!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c))
    const pool = family!.type === 'histogram' ? `${unescaped} ${sampleName} ${le ?? ''}` : unescaped
    expect(family!.samples.has(pool)).toBe(false)
    expect(Number.isFinite(Number(value))).toBe(true)
    family!.samples.set(pool, Number(value))
  }
  return families
}

describe('prometheusMetrics', () => {
  it('exposes every stat as a gauge or a _total counter, one sample per pool', async () => {
    const orders = makePool({ name: 'orders', minSize: 2 })
    const odd = makePool({ name: 'quote " back\\slash\nnewline', minSize: 1 })
    await orders.wait()
    await odd.wait()
    for (let i = 0; i < 3; i++) await orders.connection((conn) => conn.query('SELECT 1'))

    const text = prometheusMetrics([orders, odd])
    const families = parseExposition(text)
    expect(families.size).toBe(17 + 3) // one per stat, and the three histograms
    for (const [name, family] of families) {
      expect(name.startsWith('pgtide_pool_')).toBe(true)
      if (family.type === 'histogram') continue
      expect(family.help.length).toBeGreaterThan(0)
      expect(name.endsWith('_total')).toBe(family.type === 'counter')
      expect([...family.samples.keys()].sort()).toEqual(['orders', 'quote " back\\slash\nnewline'])
    }
    const value = (name: string, pool = 'orders') => families.get(`pgtide_pool_${name}`)!.samples.get(pool)
    const stats = orders.getStats()
    expect(value('connections')).toBe(2)
    expect(value('idle_connections')).toBe(stats.poolAvailable)
    expect(value('min_size')).toBe(2)
    expect(value('requests_total')).toBe(3)
    expect(value('connection_attempts_total')).toBe(2)
    expect(value('usage_seconds_total')).toBeCloseTo(stats.usageMs / 1000, 6)
    expect(value('connections', 'quote " back\\slash\nnewline')).toBe(1)
    expect(PROMETHEUS_CONTENT_TYPE).toMatch(/^text\/plain; version=0\.0\.4/)
  })

  it('reads getStats, never popStats: counters keep growing', async () => {
    const pool = makePool({ name: 'steady', minSize: 1 })
    await pool.connection((conn) => conn.query('SELECT 1'))
    const count = () =>
      parseExposition(prometheusMetrics([pool]))
        .get('pgtide_pool_requests_total')!
        .samples.get('steady')
    expect(count()).toBe(1)
    expect(count()).toBe(1)
    await pool.connection((conn) => conn.query('SELECT 1'))
    expect(count()).toBe(2)
  })

  it('takes any iterable, a prefix, and refuses two pools of one name', () => {
    const a = makePool({ name: 'same', open: false })
    const b = makePool({ name: 'same', open: false })
    function* both() {
      yield a
    }
    expect(parseExposition(prometheusMetrics(both(), { prefix: 'app_db_' })).has('app_db_requests_total')).toBe(true)
    expect(() => prometheusMetrics([a, b])).toThrow(/two pools are named 'same'/)
  })
})

describe('Prometheus histograms', () => {
  interface ParsedFamily {
    name: string
    type: string
    metrics: Array<{ labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; sum?: string; count?: string }>
  }

  it('wait, usage and connect times are histograms a Prometheus parser accepts', async () => {
    const pool = makePool({ name: 'timed', minSize: 1, maxSize: 1 })
    await pool.wait()
    const held = await pool.getconn()
    const queued = pool.connection((conn) => conn.query('SELECT 1'))
    await eventually(() => pool.getStats().requestsWaiting === 1)
    await pool.putconn(held)
    await queued
    for (let i = 0; i < 5; i++) await pool.query('SELECT 1')

    // The parser accepts every line (it throws on one the format does not allow) and types the
    // families; it keeps a labelled histogram's buckets but not its _sum and _count, read below.
    expect(() => parsePrometheusTextFormat(prometheusMetrics([pool, makePool({ name: 'idle', open: false })]))).not.toThrow()
    const text = prometheusMetrics([pool])
    const parsed = parsePrometheusTextFormat(text) as ParsedFamily[]
    const family = (name: string) => parsed.find((f) => f.name === `pgtide_pool_${name}`)!
    const sample = (name: string) => Number(new RegExp(`^pgtide_pool_${name}\\{pool="timed"\\} (\\S+)$`, 'm').exec(text)![1])
    expect(family('connections_leaked_total').type).toBe('COUNTER')
    const stats = pool.getStats()
    const histograms = pool.getHistograms()
    for (const [name, counted, histogram] of [
      ['wait_seconds', stats.requestsQueued, histograms.requestsWait],
      ['usage_seconds', stats.requestsNum - 1, histograms.usage], // as usageMs: connection() and query(), not getconn()
      ['connect_seconds', stats.connectionsNum - stats.connectionsErrors, histograms.connections],
    ] as const) {
      expect(family(name).type).toBe('HISTOGRAM')
      expect(sample(`${name}_count`)).toBe(counted)
      expect(sample(`${name}_count`)).toBe(histogram.count)
      expect(sample(`${name}_sum`)).toBeCloseTo(histogram.sum, 6)
      // Sorted by bound: an object lists integer-like keys ('1', '10') first.
      const buckets = Object.entries(family(name).metrics[0]!.buckets!)
        .map(([le, n]) => [le, Number(n)] as const)
        .sort(([a], [b]) => Number(a.replace('+Inf', 'Infinity')) - Number(b.replace('+Inf', 'Infinity')))
      expect(buckets.map(([le]) => le)).toEqual([...histograms.bounds.map(String), '+Inf'])
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]![1]).toBeGreaterThanOrEqual(buckets[i - 1]![1])
      expect(buckets.at(-1)![1]).toBe(counted)
    }
    expect(histograms.usage.sum * 1000).toBeGreaterThanOrEqual(stats.usageMs)
    expect(text).toMatch(/^pgtide_pool_wait_seconds_bucket\{pool="timed",le="\+Inf"\} 1$/m)
  })
})

describe('log records', () => {
  function pinoLines(level: string) {
    const lines: Array<{ level: number; msg: string; pool?: string }> = []
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()))
        done()
      },
    })
    return { logger: pino({ level }, sink), lines }
  }

  it('reach a pino logger at its level, tagged with the pool name', async () => {
    const { logger, lines } = pinoLines('info')
    const pool = makePool({ name: 'logged', minSize: 1, logger })
    await pool.wait()
    const conn = await pool.getconn()
    await conn.query('SELECT 1') // autocommit is off: the connection goes back inside a transaction
    await pool.putconn(conn)
    await eventually(() => lines.some((l) => l.level === 40))
    expect(lines.find((l) => l.msg === "pool 'logged' is ready to use")).toMatchObject({ level: 30, pool: 'logged' })
    expect(lines.find((l) => l.level === 40)?.msg).toMatch(/^rolling back returned connection/)
  })

  it('below the logger level, records are not sent at all', async () => {
    const { logger, lines } = pinoLines('warn')
    const pool = makePool({ name: 'quiet', minSize: 1, logger: logger.child({ component: 'db' }) })
    await pool.wait()
    const conn = await pool.getconn()
    await conn.query('SELECT 1')
    await pool.putconn(conn)
    await eventually(() => lines.length > 0)
    expect(lines.map((l) => l.level)).toEqual([40])
    expect(lines[0]).toMatchObject({ component: 'db', pool: 'quiet' })
  })

  it('without a logger, only warnings are printed, on the console', async () => {
    const printed: string[] = []
    for (const method of ['log', 'info', 'debug', 'warn', 'error'] as const) {
      vi.spyOn(console, method).mockImplementation(
        (...args: unknown[]) => void printed.push(`${method}: ${args.join(' ')}`),
      )
    }
    const pool = new AsyncConnectionPool(databaseUrl(), { name: 'default-logger', minSize: 1 })
    pools.push(pool)
    await pool.wait()
    await pool.connection((conn) => conn.query('SELECT 1'))
    expect(printed).toEqual([])
    const conn = await pool.getconn()
    await conn.query('SELECT 1')
    await pool.putconn(conn)
    await eventually(() => printed.length > 0)
    expect(printed).toHaveLength(1)
    expect(printed[0]).toMatch(/^warn: \[pgtide default-logger\] rolling back returned connection/)
  })
})
