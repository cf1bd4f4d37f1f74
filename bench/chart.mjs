// The table as a picture: one small bar chart per headline metric, bars scaled to the row's
// largest value, pgtide in colour and the peers in greys. Plain SVG text, no dependencies.

import { machineLine } from './machine.mjs'
import { PEERS } from './peers.mjs'
import { formatValue } from './report.mjs'

/** The panels, in order: row (workload and key) and title. */
const PANELS = [
  ['W1 ops', 'W1 checkout + SELECT 1 + return, ops/s'],
  ['W1 p99', 'W1 p99 latency, ms'],
  ['W2 ops', 'W2 100 workers on 10 connections, ops/s'],
  ['W2 p99', 'W2 p99 latency, ms'],
  ['ceiling share', 'W2 as % of pgbench -S -M prepared'],
  ['W3 md5', 'W3 10,000 rows × 3 columns, rows/s'],
  ['W3 wide', 'W3 10,000 rows × 5 columns, rows/s'],
  ['W4 ms', 'W4 cold start to 10 connections, ms'],
  ['floor ratio', 'W4 ÷ libpq opening 10 connections at once'],
  ['W5 neverSettled', 'W5 backends killed: requests never settled'],
  ['W5 firstSuccessMs', 'W5 backends killed: ms to first success'],
  ['W5 recoveredOps', 'W5 backends killed: ops/s after recovery'],
  ['W6 ops', 'W6 sync SELECT 1 on one connection, ops/s'],
  ['memory rssMb', 'RSS with an open pool of 10, MB'],
]

const COLOURS = {
  pgtide: '#0f766e',
  'pgtide-sync': '#5eada5',
  'pgtide-pg': '#99d3c8',
  pg: '#9ca3af',
  'pg-native': '#b8ad97',
  postgres: '#8b9bb8',
}

const WIDTH = 980
const COLUMN = 470
const LABEL = 92
const BAR = 270
const BAR_HEIGHT = 15
const GAP = 4
const TITLE = 24
const PADDING = 18
const HEADER = 80

const escape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function text(x, y, content, attributes = '') {
  return `<text x="${x}" y="${y}" ${attributes}>${escape(content)}</text>`
}

function panel(row, title, x, y) {
  const bars = PEERS.filter((p) => Number.isFinite(row.values[p.id]?.median))
  const largest = Math.max(...bars.map((p) => row.values[p.id].median), 0)
  const direction = row.better === 'lower' ? 'lower is better' : 'higher is better'
  const parts = [text(x, y + 14, title, 'class="title"'), text(x + COLUMN - 10, y + 14, direction, 'class="hint" text-anchor="end"')]
  bars.forEach((peer, i) => {
    const top = y + TITLE + i * (BAR_HEIGHT + GAP)
    const value = row.values[peer.id].median
    const width = largest > 0 ? Math.max(1, (value / largest) * BAR) : 1
    parts.push(text(x + LABEL - 6, top + 11.5, peer.label, 'class="label" text-anchor="end"'))
    parts.push(`<rect x="${x + LABEL}" y="${top}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" rx="2" fill="${COLOURS[peer.id]}"/>`)
    const bold = peer.id.startsWith('pgtide') ? ' font-weight="600"' : ''
    parts.push(text(x + LABEL + width + 5, top + 11.5, formatValue(value, row.unit), `class="value"${bold}`))
  })
  return { svg: parts.join('\n'), height: TITLE + bars.length * (BAR_HEIGHT + GAP) + PADDING }
}

function subtitle(run) {
  const rounds = run.quick ? 'one --quick round (a smoke run, not a measurement)' : `medians of ${run.timing.rounds} rounds`
  const server = `PostgreSQL ${run.server.version.split(' ')[0]} on the same machine`
  return [`${run.date.slice(0, 10)}, commit ${run.machine.commit}, ${server}, ${rounds}`, machineLine(run.machine)]
}

export function chartSvg(run, summary) {
  const panels = PANELS.map(([id, title]) => [summary.rows.find((r) => `${r.workload} ${r.key}` === id), title])
    .filter(([row]) => row)
  const columns = [[], []]
  const heights = [HEADER, HEADER]
  const half = Math.ceil(panels.length / 2)
  panels.forEach(([row, title], i) => {
    const c = i < half ? 0 : 1
    const { svg, height } = panel(row, title, 16 + c * (COLUMN + 24), heights[c])
    columns[c].push(svg)
    heights[c] += height
  })
  const height = Math.max(...heights) + 8
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">
<style>
.heading { font-size: 17px; font-weight: 600; fill: #111827 }
.sub { font-size: 11.5px; fill: #4b5563 }
.title { font-size: 12.5px; font-weight: 600; fill: #1f2937 }
.hint { font-size: 10.5px; fill: #6b7280 }
.label { font-size: 11.5px; fill: #374151 }
.value { font-size: 11px; fill: #111827 }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
${text(16, 26, 'pgtide beside pg, pg-native and postgres.js', 'class="heading"')}
${subtitle(run).map((line, i) => text(16, 46 + i * 16, line, 'class="sub"')).join('\n')}
${columns.flat().join('\n')}
</svg>
`
}
