// From the rounds to the table: the median and spread of every metric per library, pgtide's
// ratio to its reference (the best peer, or the one a target names), and the markdown.

import { machineLine } from './machine.mjs'
import { median, spread } from './stats.mjs'
import { PEERS } from './peers.mjs'

/** The libraries pgtide is compared with (the table's other columns). */
const RIVALS = PEERS.map((p) => p.id).filter((id) => !id.startsWith('pgtide'))

function stat(series) {
  return {
    median: median(series),
    spread: spread(series),
    min: Math.min(...series),
    max: Math.max(...series),
    rounds: series,
  }
}

const isBetter = (better, a, b) => (better === 'higher' ? a > b : a < b)

/** The reference of a metric's ratio: the peer a target names, else the best peer measured. */
function referenceOf(metric, values) {
  const named = metric.target?.against
  if (named) return values[named] ? named : null
  let best = null
  for (const id of RIVALS) {
    const value = values[id]?.median
    if (Number.isFinite(value) && (best === null || isBetter(metric.better, value, values[best].median))) best = id
  }
  return best
}

function verdict(metric, subject, ratio) {
  const target = metric.target
  if (!target || !subject) return null
  if (target.max !== undefined) return subject.max <= target.max
  if (!Number.isFinite(ratio)) return null
  return metric.better === 'higher' ? ratio >= target.ratio : ratio <= target.ratio
}

function metricRow(workload, metric, result) {
  const values = {}
  for (const [id, rounds] of Object.entries(result.rounds)) {
    const series = rounds.map((v) => v[metric.key]).filter((v) => typeof v === 'number')
    if (series.length) values[id] = stat(series)
  }
  const subjectId = metric.subject ?? 'pgtide'
  const reference = referenceOf(metric, values)
  const ratio = reference ? values[subjectId]?.median / values[reference].median : NaN
  return {
    workload: workload.id,
    key: metric.key,
    label: metric.label,
    unit: metric.unit,
    better: metric.better,
    target: metric.target ?? null,
    subject: subjectId,
    values,
    reference,
    ratio,
    meets: verdict(metric, values[subjectId], ratio),
  }
}

/** Each library's W2 throughput as a share of pgbench's (as many clients as W2's pool), when both ran. */
function ceilingRow(rows, facts) {
  const w2 = rows.find((r) => r.workload === 'W2' && r.key === 'ops')
  const pgbench = rows.find((r) => r.workload === 'ceiling')?.values.pgbench
  if (!w2 || !pgbench) return null
  const clients = facts.ceiling?.clients
  const who = clients ? `, ${clients} clients as W2's pool has connections,` : ''
  return sideRow('ceiling', 'share', w2, (ops) => (100 * ops) / pgbench.median, {
    label: `W2 beside pgbench -S -M prepared${who} at ${formatValue(pgbench.median, 'tps')} tps`,
    unit: '%',
    better: 'higher',
  })
}

/** Each library's W4 cold start as a multiple of libpq's (the same connections at once), when both ran. */
function floorRow(rows, facts) {
  const w4 = rows.find((r) => r.workload === 'W4' && r.key === 'ms')
  const libpq = rows.find((r) => r.workload === 'floor')?.values.libpq
  if (!w4 || !libpq) return null
  return sideRow('floor', 'ratio', w4, (ms) => ms / libpq.median, {
    label: `W4 ÷ the floor, libpq opening its ${facts.floor?.connections ?? '?'} connections at once in ${formatValue(libpq.median, 'ms')} ms`,
    unit: '×',
    better: 'lower',
  })
}

/** A row of each library's values of `row` set against a C client's figure by `measure`. */
function sideRow(workload, key, row, measure, { label, unit, better }) {
  const values = {}
  for (const [id, value] of Object.entries(row.values)) values[id] = stat(value.rounds.map(measure))
  return { workload, key, label, unit, better, target: null, subject: 'pgtide', values, reference: null, ratio: NaN, meets: null }
}

/** Each library's W3 5-column rows/s as a share of pgbench running the same select, when both ran. */
function w3FloorRow(rows) {
  const w3 = rows.find((r) => r.workload === 'W3' && r.key === 'wide')
  const pgbench = rows.find((r) => r.workload === 'W3floor')?.values.pgbench
  if (!w3 || !pgbench) return null
  return sideRow('W3floor', 'share', w3, (rate) => (100 * rate) / pgbench.median, {
    label: `W3 5 columns beside pgbench running the same select at ${formatValue(pgbench.median, 'rows/s')} rows/s`,
    unit: '%',
    better: 'higher',
  })
}

/** The C clients' own rows: in the notes and in the rows set against them, not in the table. */
const C_CLIENTS = ['ceiling', 'floor', 'W3floor']

export function summarise(workloads, results) {
  const rows = []
  const notes = { errors: {}, skipped: {}, facts: {} }
  for (const workload of workloads) {
    const result = results[workload.id]
    if (!result) continue
    for (const metric of workload.metrics) rows.push(metricRow(workload, metric, result))
    if (Object.keys(result.errors).length) notes.errors[workload.id] = result.errors
    if (Object.keys(result.skipped).length) notes.skipped[workload.id] = result.skipped
    if (result.facts) notes.facts[workload.id] = result.facts
  }
  const table = rows.filter((r) => !C_CLIENTS.includes(r.workload))
  const ceiling = ceilingRow(rows, notes.facts)
  if (ceiling) table.splice(table.findLastIndex((r) => r.workload === 'W2') + 1, 0, ceiling)
  const w3Floor = w3FloorRow(rows)
  if (w3Floor) table.splice(table.findLastIndex((r) => r.workload === 'W3') + 1, 0, w3Floor)
  const floor = floorRow(rows, notes.facts)
  if (floor) table.splice(table.findLastIndex((r) => r.workload === 'W4') + 1, 0, floor)
  return {
    rows: table,
    pgbench: rows.find((r) => r.workload === 'ceiling') ?? null,
    libpq: rows.find((r) => r.workload === 'floor') ?? null,
    w3Floor: rows.find((r) => r.workload === 'W3floor') ?? null,
    notes,
  }
}

// ---- markdown ----

export function formatValue(value, unit) {
  if (!Number.isFinite(value)) return '—'
  if (unit === 'ms') {
    const digits = value < 1 ? 3 : value < 10 ? 2 : value < 100 ? 1 : 0
    return value.toFixed(digits)
  }
  if (unit === 'MB') return value.toFixed(1)
  if (unit === '×') return `${value.toFixed(2)}×`
  if (unit === 'requests') return Number.isInteger(value) ? String(value) : value.toFixed(1)
  return Math.round(value).toLocaleString('en-US')
}

function cell(row, id) {
  const value = row.values[id]
  if (!value) return ''
  const spreadText = value.rounds.length > 1 && value.spread > 0.005 ? ` ±${Math.round((value.spread * 100) / 2)}%` : ''
  const text = `${formatValue(value.median, row.unit)}${spreadText}`
  return bestOf(row) === id ? `**${text}**` : text
}

function bestOf(row) {
  let best = null
  for (const [id, value] of Object.entries(row.values)) {
    if (!PEERS.some((p) => p.id === id) || !Number.isFinite(value.median)) continue
    if (best === null || isBetter(row.better, value.median, row.values[best].median)) best = id
  }
  return best
}

const labelOf = (id) => PEERS.find((p) => p.id === id)?.label ?? id

function ratioCell(row) {
  if (!Number.isFinite(row.ratio) || !row.reference) return ''
  const who = row.subject === 'pgtide' ? '' : `${labelOf(row.subject)}: `
  return `${who}${row.ratio.toFixed(2)}× ${labelOf(row.reference)}`
}

function targetCell(row) {
  const target = row.target
  if (!target || row.meets === null) return ''
  const mark = row.meets ? '✓' : '✗'
  if (target.max !== undefined) return `${target.max} in every round ${mark}`
  return `${row.better === 'higher' ? '≥' : '≤'} ${target.ratio}× ${mark}`
}

const UNIT_SUFFIX = { '%': '% of it', '×': 'ratio' }

export function markdownTable(summary) {
  const header = ['workload', ...PEERS.map((p) => p.label), 'pgtide ÷ reference', 'target']
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`]
  for (const row of summary.rows) {
    const unit = UNIT_SUFFIX[row.unit] ?? row.unit
    const direction = row.better === 'lower' ? ', lower is better' : ''
    const label = `${row.label} (${unit}${direction})`
    lines.push(`| ${[label, ...PEERS.map((p) => cell(row, p.id)), ratioCell(row), targetCell(row)].join(' | ')} |`)
  }
  return lines.join('\n')
}

function caption(run) {
  const mode = run.quick ? 'a --quick smoke run (one short round: not a measurement)' : `${run.timing.rounds} rounds`
  const server = `PostgreSQL ${run.server.version} (${run.server.throwaway ? 'a throwaway server' : 'DATABASE_URL'})`
  const loads = run.load.flatMap((l) => [l.before, l.after])
  const load = loads.length ? `load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : ''
  return [
    `Measured ${run.date.slice(0, 16).replace('T', ' ')} UTC on ${machineLine(run.machine)}; ${server}, same machine; ` +
      `commit ${run.machine.commit}; ${mode}, ${load}.`,
    'Cells: median over rounds ±half the range (max − min) as a share of it; **bold** is the best library in the row.',
  ].join('\n')
}

function notesText(run, summary) {
  const lines = []
  const { errors, skipped, facts } = summary.notes
  for (const [id, reason] of Object.entries(run.skippedPeers)) lines.push(`- ${labelOf(id)} was skipped: ${reason}`)
  for (const [workload, reasons] of Object.entries(skipped)) {
    for (const [id, reason] of Object.entries(reasons)) {
      if (!run.skippedPeers[id]) lines.push(`- ${workload}: ${labelOf(id)} skipped: ${reason}`)
    }
  }
  for (const [workload, failures] of Object.entries(errors)) {
    for (const [id, message] of Object.entries(failures)) lines.push(`- ${workload}: ${labelOf(id)} failed: ${message}`)
  }
  const baseline = summary.rows.find((r) => r.workload === 'memory')?.values.node
  if (baseline) lines.push(`- Memory: a bare \`node\` process settles at ${formatValue(baseline.median, 'MB')} MB.`)
  const addon = facts.memory
  if (addon?.addonMb) lines.push(`- The pgtide addon (\`${addon.addon}\`, release build) is ${addon.addonMb.toFixed(1)} MB.`)
  if (summary.pgbench) {
    const { median: tps } = summary.pgbench.values.pgbench
    const { clients = '?', threads = '?' } = facts.ceiling ?? {}
    lines.push(
      `- pgbench -S -M prepared, ${clients} clients (W2's pool size), ${threads} threads: ${formatValue(tps, 'tps')} tps ` +
        `(the C client's ceiling for W2).`,
    )
  }
  if (summary.w3Floor) {
    const { median: rate } = summary.w3Floor.values.pgbench ?? {}
    if (rate) {
      lines.push(
        `- pgbench running W3's 5-column select (prepared, one client): ${formatValue(rate, 'rows/s')} rows/s ` +
          `(the server's own pace for it: libpq reads the rows and drops them).`,
      )
    }
  }
  if (summary.libpq) {
    const { median: ms } = summary.libpq.values.libpq
    lines.push(
      `- libpq (bench/libpq-floor.c) opening ${facts.floor?.connections ?? '?'} connections at once: ${formatValue(ms, 'ms')} ms ` +
        `(the server's floor for W4's cold start).`,
    )
  }
  return lines.join('\n')
}

export function markdownReport(run, summary) {
  const notes = notesText(run, summary)
  return [caption(run), '', markdownTable(summary), ...(notes ? ['', notes] : [])].join('\n')
}

/** Runs of the same bench on several Nodes (--node): one table each, headed by its Node. */
export function perNodeReport(runs) {
  return runs.map(({ run, summary }) => `**Node ${run.machine.node.slice(1)}**\n\n${markdownReport(run, summary)}`).join('\n\n')
}

