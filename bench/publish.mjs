// After a full run: redraws bench/chart.svg and puts the table between the
// `<!-- bench:table -->` and `<!-- /bench:table -->` markers of README.md and docs/benchmarks.md.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { chartSvg } from './chart.mjs'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.dirname(BENCH)
const START = '<!-- bench:table -->'
const END = '<!-- /bench:table -->'

function replaceBetweenMarkers(file, content, log) {
  if (!fs.existsSync(file)) return
  const text = fs.readFileSync(file, 'utf8')
  const start = text.indexOf(START)
  const end = text.indexOf(END)
  if (start < 0 || end < start) {
    log(`${path.relative(ROOT, file)} has no ${START} … ${END} markers: table not updated`)
    return
  }
  fs.writeFileSync(file, `${text.slice(0, start + START.length)}\n${content}\n${text.slice(end)}`)
  log(`updated the table in ${path.relative(ROOT, file)}`)
}

export function publish(run, summary, report, log) {
  fs.writeFileSync(path.join(BENCH, 'chart.svg'), chartSvg(run, summary))
  log('wrote bench/chart.svg')
  for (const file of ['README.md', 'docs/benchmarks.md']) replaceBetweenMarkers(path.join(ROOT, file), report, log)
}

// `node bench/publish.mjs bench/results/FILE.json [MORE.json...]`: publishes a saved run again;
// several files (the runs of one --node bench) as a table per Node, the chart from the first.
if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { markdownReport, perNodeReport } = await import('./report.mjs')
  const runs = process.argv.slice(2).map((file) => JSON.parse(fs.readFileSync(file, 'utf8')))
  const report = runs.length > 1 ? perNodeReport(runs) : markdownReport(runs[0].run, runs[0].summary)
  publish(runs[0].run, runs[0].summary, report, (message) => console.error(`[bench] ${message}`))
}
