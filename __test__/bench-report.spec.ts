// The bench report's rows against the C clients (no server needed): W2 as a share of pgbench at
// W2's pool size, W4 as a multiple of libpq's floor, W3 as a share of pgbench running the same
// select; each C client's own figure in the notes, not as a row of its own.

import { describe, expect, it } from 'vitest'

// @ts-expect-error: plain .mjs modules of the bench, untyped
import { markdownReport, summarise } from '../bench/report.mjs'
// @ts-expect-error: as above
import floor from '../bench/workloads/libpq-floor.mjs'
// @ts-expect-error: as above
import ceiling from '../bench/workloads/pgbench.mjs'
// @ts-expect-error: as above
import w2 from '../bench/workloads/w2-concurrent.mjs'
// @ts-expect-error: as above
import w3 from '../bench/workloads/w3-rows.mjs'
// @ts-expect-error: as above
import w3Floor from '../bench/workloads/w3-floor.mjs'
// @ts-expect-error: as above
import w4 from '../bench/workloads/w4-cold-start.mjs'

type Rounds = Record<string, Record<string, number>[]>
const result = (rounds: Rounds, facts?: unknown) => ({ rounds, errors: {}, skipped: {}, ...(facts ? { facts } : {}) })

describe('bench report against the C clients', () => {
  const workloads = [w2, w3, w3Floor, w4, ceiling, floor]
  const results = {
    W2: result({ pgtide: [{ ops: 30_000, p50: 3, p99: 9 }], pg: [{ ops: 20_000, p50: 4, p99: 12 }] }),
    W3: result({ pgtide: [{ md5: 500_000, wide: 240_000 }], pg: [{ md5: 300_000, wide: 200_000 }] }),
    W3floor: result({ pgbench: [{ wide: 300_000 }] }),
    W4: result({ pgtide: [{ ms: 15 }], pg: [{ ms: 30 }] }),
    ceiling: result({ pgbench: [{ tps: 40_000 }] }, ceiling.facts()),
    floor: result({ libpq: [{ ms: 12 }] }, floor.facts()),
  }
  const summary = summarise(workloads, results)
  const row = (workload: string) => summary.rows.find((r: { workload: string }) => r.workload === workload)

  it('sets W2 beside pgbench at as many clients as W2 has connections', () => {
    expect(ceiling.facts().clients).toBe(10)
    expect(row('ceiling').values.pgtide.median).toBe(75)
    expect(row('ceiling').label).toContain("10 clients as W2's pool has connections")
  })

  it('gives W4 as a multiple of the libpq floor, lower being better', () => {
    expect(row('floor').values.pgtide.median).toBe(1.25)
    expect(row('floor').values.pg.median).toBe(2.5)
    expect(row('floor').better).toBe('lower')
  })

  it('gives W3 as a share of pgbench running the same select', () => {
    expect(row('W3floor').values.pgtide.median).toBe(80)
  })

  it('puts each side row after its workload, and the C clients in the notes only', () => {
    const order = summary.rows.map((r: { workload: string; key: string }) => `${r.workload} ${r.key}`)
    expect(order.indexOf('ceiling share')).toBe(order.indexOf('W2 p99') + 1)
    expect(order.indexOf('W3floor share')).toBe(order.indexOf('W3 wide') + 1)
    expect(order.indexOf('floor ratio')).toBe(order.indexOf('W4 ms') + 1)
    const run = {
      date: '2026-12-07T06:00:00.000Z',
      quick: false,
      timing: { rounds: 1 },
      machine: { cores: 2, cpu: 'cpu', memoryGb: 1, os: 'os', node: 'v24.0.0', commit: 'abc' },
      server: { version: '15', throwaway: false },
      load: [],
      skippedPeers: {},
    }
    const text = markdownReport(run, summary)
    expect(text).toContain('Node 24.0.0')
    expect(text).toContain('1.25×')
    expect(text).toContain('libpq (bench/libpq-floor.c) opening 10 connections at once: 12.0 ms')
    expect(text).toContain('pgbench -S -M prepared, 10 clients')
  })
})
