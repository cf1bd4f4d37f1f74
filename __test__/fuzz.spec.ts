// A fuzz test of the public API: seeded cases (fuzz/cases.mjs) of conninfo strings, pool
// options and calls, query text and parameters, and exit paths, run in child processes
// (fuzz/child.mjs), a batch per child, so that a crash is caught and named. Every case must end
// in a result or a typed error (TypeError, RangeError, AbortError, a PgError), never a crash, a
// hang, an unhandled rejection or a connection left out, and no output may hold the password.
//
//   PGTIDE_FUZZ_SEED=<n>         another run (default: a fixed seed, so `npm test` is repeatable)
//   PGTIDE_FUZZ_CASES=<n>        how many cases (default 240)
//   PGTIDE_FUZZ_ONLY=<i>,<j>     only those cases of the seed, each in a child of its own
//   PGTIDE_FUZZ_SECONDS=<n>      stop starting batches after this long (default 75)

import { spawn } from 'node:child_process'
import path from 'node:path'

import { describe, expect, it } from 'vitest'

import { databaseUrl } from './helpers'

interface Plan {
  id: number
  kind: string
  [key: string]: unknown
}

const fuzzDir = path.resolve('__test__/fuzz')
interface Cases {
  makeCase(seed: number, index: number, port: number): Plan
  describeCase(plan: Plan, secret?: string): string
  secretFor(seed: number): string
}

const SEED = Number(process.env.PGTIDE_FUZZ_SEED ?? 20_240_612) >>> 0
const CASES = Number(process.env.PGTIDE_FUZZ_CASES ?? 240)
const ONLY = process.env.PGTIDE_FUZZ_ONLY?.split(',').map(Number)
const SECONDS = Number(process.env.PGTIDE_FUZZ_SECONDS ?? 75)
const BATCH = 12
const PARALLEL = 2
/** A child's time bound: a batch's cases each end within the child's own 5 s limit. */
const CHILD_MS = 30_000
const SOLO_MS = 15_000

type Category = 'crash' | 'hang' | 'leak' | 'secret' | 'error'

interface Failure {
  id: number
  category: Category
  detail: string
}

interface Problem {
  type: string
  step: string
  detail: string
}

interface ChildRun {
  ids: number[]
  started: number[]
  ended: Map<number, Problem[]>
  orphans: { id: number | null; detail: string; leaked: boolean }[]
  done: boolean
  code: number | null
  signal: NodeJS.Signals | null
  killed: boolean
  output: string
  ms: number
}

function runChild(url: string, ids: number[], boundMs: number): Promise<ChildRun> {
  return new Promise((resolve) => {
    const began = Date.now()
    const child = spawn(process.execPath, [path.join(fuzzDir, 'child.mjs'), String(SEED), ids.join(',')], {
      cwd: path.dirname(fuzzDir),
      env: { ...process.env, PGTIDE_FUZZ_URL: url },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    })
    const run: ChildRun = {
      ids,
      started: [],
      ended: new Map(),
      orphans: [],
      done: false,
      code: null,
      signal: null,
      killed: false,
      output: '',
      ms: 0,
    }
    let events = ''
    const onEvents = (chunk: Buffer) => {
      events += chunk.toString()
      let newline
      while ((newline = events.indexOf('\n')) >= 0) {
        const line = events.slice(0, newline)
        events = events.slice(newline + 1)
        const event = JSON.parse(line) as { type: string; id: number; problems: Problem[]; detail: string; leaked: boolean }
        if (event.type === 'start') run.started.push(event.id)
        else if (event.type === 'end') run.ended.set(event.id, event.problems)
        else if (event.type === 'orphan') run.orphans.push(event)
        else if (event.type === 'done') run.done = true
      }
    }
    ;(child.stdio[3] as NodeJS.ReadableStream).on('data', onEvents)
    child.stdout!.on('data', (chunk: Buffer) => (run.output += chunk.toString()))
    child.stderr!.on('data', (chunk: Buffer) => (run.output += chunk.toString()))
    const timer = setTimeout(() => {
      run.killed = true
      child.kill('SIGKILL')
    }, boundMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      run.code = code
      run.signal = signal
      run.ms = Date.now() - began
      resolve(run)
    })
  })
}

const CATEGORY_OF: Record<string, Category> = {
  untyped: 'error',
  expectation: 'error',
  secret: 'secret',
  unhandled: 'crash',
  hang: 'hang',
  leak: 'leak',
}

/** The failures a child's run shows, per case; `abnormal`: the child itself died or hung. */
function failuresOf(run: ChildRun, secret: string, plans: Map<number, Plan>): { failures: Failure[]; abnormal: string | null } {
  const failures: Failure[] = []
  for (const [id, problems] of run.ended) {
    for (const problem of problems) {
      failures.push({ id, category: CATEGORY_OF[problem.type] ?? 'error', detail: `${problem.type} at ${problem.step}: ${problem.detail}` })
    }
  }
  for (const orphan of run.orphans) {
    const id = orphan.id ?? run.ids[0]!
    failures.push({ id, category: 'crash', detail: `unhandled after the case ended: ${orphan.detail}` })
    if (orphan.leaked) failures.push({ id, category: 'secret', detail: `in an unhandled error: ${orphan.detail}` })
  }
  if (run.output.includes(secret)) {
    const at = run.output.indexOf(secret)
    // The case whose mark (written by the child as each case starts) comes last before it.
    const marks = [...run.output.slice(0, at).matchAll(/--- fuzz case (\d+)/g)]
    failures.push({
      id: marks.length > 0 ? Number(marks.at(-1)![1]) : (run.started.at(-1) ?? run.ids[0]!),
      category: 'secret',
      detail: `in the child's output: ...${run.output
        .slice(Math.max(0, at - 150), at + 50)
        .replace(/--- fuzz case \d+\n/g, '')
        .replaceAll(secret, '<SECRET>')}`,
    })
  }
  const only = run.ids.length === 1 ? plans.get(run.ids[0]!) : undefined
  const expectedCode = only?.kind === 'exit' ? (only.expectCode as number) : 0
  let abnormal: string | null = null
  const tail = run.output
    .trim()
    .split('\n')
    .filter((line) => !line.startsWith('--- fuzz case '))
    .slice(-3)
    .join(' | ').replaceAll(secret, '<SECRET>').slice(0, 400)
  if (run.killed) {
    abnormal = run.done || (only?.kind === 'exit' && run.started.length > 0)
      ? `the process did not end by itself within ${run.ms} ms`
      : `hung: killed after ${run.ms} ms`
  } else if (run.signal !== null) {
    abnormal = `killed by ${run.signal}: ${tail}`
  } else if (run.code !== expectedCode) {
    abnormal = `exit code ${run.code} (expected ${expectedCode}): ${tail}`
  } else if (only?.kind !== 'exit' && !run.done) {
    abnormal = `ended without finishing its cases (code ${run.code}): ${tail}`
  } else if (only?.kind === 'exit' && /panicked|fatal|Assertion|FATAL ERROR/i.test(run.output)) {
    abnormal = `exited ${run.code} but printed a crash: ${tail}`
  }
  return { failures, abnormal }
}

function groupKey(failure: Failure): string {
  return `${failure.category}: ${failure.detail
    .replace(/call \d+/g, 'call N')
    .replace(/query \d+/g, 'query N')
    .replace(/\d+(\.\d+)?(e[+-]?\d+)?/g, 'N')
    .replace(/\n\s+at .*$/s, '')
    .slice(0, 160)}`
}

describe('fuzz', () => {
  it('no case crashes, hangs, leaks or shows the password', { timeout: 240_000 }, async () => {
    const cases = (await import(path.join(fuzzDir, 'cases.mjs'))) as Cases
    const url = databaseUrl()
    const port = Number(new URL(url).port || 5432)
    const secret = cases.secretFor(SEED)
    const ids = ONLY ?? Array.from({ length: CASES }, (_, i) => i)
    const plans = new Map(ids.map((id) => [id, cases.makeCase(SEED, id, port)]))
    console.log(`fuzz: seed ${SEED} (PGTIDE_FUZZ_SEED), ${ids.length} cases, secret password ${secret}`)

    // Exit cases, and every case under PGTIDE_FUZZ_ONLY, run alone; the others in batches.
    const solo = ids.filter((id) => ONLY !== undefined || plans.get(id)!.kind === 'exit')
    const batched = ids.filter((id) => !solo.includes(id))
    const jobs: { ids: number[]; bound: number }[] = solo.map((id) => ({ ids: [id], bound: SOLO_MS }))
    for (let i = 0; i < batched.length; i += BATCH) jobs.push({ ids: batched.slice(i, i + BATCH), bound: CHILD_MS })

    const failures: Failure[] = []
    const ran = new Set<number>()
    const deadline = Date.now() + SECONDS * 1000
    let soloBudget = 12

    /** A batch whose child died or hung: its cases again, one per child, to name the one. */
    async function isolate(run: ChildRun, abnormal: string): Promise<void> {
      const suspects = run.started.length > 0 ? [run.started.at(-1)!, ...run.started.slice(0, -1).reverse()] : run.ids
      for (const id of suspects) {
        if (soloBudget <= 0 || Date.now() > deadline) break
        soloBudget--
        const alone = await runChild(url, [id], SOLO_MS)
        const result = failuresOf(alone, secret, plans)
        if (result.abnormal) {
          failures.push({ id, category: alone.killed ? 'hang' : 'crash', detail: result.abnormal })
          return
        }
      }
      failures.push({
        id: run.started.at(-1) ?? run.ids[0]!,
        category: run.killed ? 'hang' : 'crash',
        detail: `${abnormal} (batch ${run.ids.join(',')}; not reproduced by a case alone)`,
      })
    }

    const queue = [...jobs]
    const worker = async () => {
      for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
        if (Date.now() > deadline) return
        const run = await runChild(url, job.ids, job.bound)
        for (const id of run.started) ran.add(id)
        const { failures: found, abnormal } = failuresOf(run, secret, plans)
        failures.push(...found)
        if (abnormal) {
          if (job.ids.length === 1) failures.push({ id: job.ids[0]!, category: run.killed ? 'hang' : 'crash', detail: abnormal })
          else await isolate(run, abnormal)
          // The batch's cases that never started run in a child of their own.
          const rest = job.ids.filter((id) => !run.started.includes(id))
          if (rest.length > 0) queue.unshift({ ids: rest, bound: CHILD_MS })
        }
      }
    }
    await Promise.all(Array.from({ length: PARALLEL }, worker))

    const count = (category: Category) => new Set(failures.filter((f) => f.category === category).map((f) => f.id)).size
    const groups = new Map<string, number[]>()
    for (const failure of failures) {
      const key = groupKey(failure)
      const list = groups.get(key) ?? []
      if (!list.includes(failure.id)) list.push(failure.id)
      groups.set(key, list)
    }
    const lines: string[] = []
    for (const [key, list] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
      const example = list[0]!
      lines.push(`  ${list.length} case(s): ${key}`)
      lines.push(`    e.g. case ${example}: ${cases.describeCase(plans.get(example)!, secret)}`)
      lines.push(`    cases: ${list.slice(0, 20).join(',')}${list.length > 20 ? ',...' : ''}`)
    }
    if (lines.length > 0) {
      console.log(
        `fuzz failures, by cause (re-run one: PGTIDE_FUZZ_SEED=${SEED} PGTIDE_FUZZ_ONLY=<case> npx vitest run __test__/fuzz.spec.ts):\n${lines.join('\n')}`,
      )
    }
    const notRun = ids.length - ran.size
    const summary =
      `fuzz: ${ran.size} cases, crashes ${count('crash')}, hangs ${count('hang')}, leaks ${count('leak')}, ` +
      `secrets ${count('secret')}, wrong errors ${count('error')}` +
      (notRun > 0 ? ` (${notRun} not run: the ${SECONDS} s bound)` : '') +
      ` (seed ${SEED})`
    console.log(summary)
    expect(failures.length, summary).toBe(0)
  })
})
