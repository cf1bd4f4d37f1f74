// Timed loops: run an operation for a while after a warm-up, counting completions and keeping
// each one's latency. The clock is performance.now() (milliseconds, sub-microsecond resolution).

import { performance } from 'node:perf_hooks'

import { Samples } from './stats.mjs'

const now = () => performance.now()

function summary(samples, ops, ms) {
  return { ops: ops / (ms / 1000), p50: samples.percentile(50), p99: samples.percentile(99), count: ops }
}

/** One caller, one operation at a time (awaited). */
export async function sequential({ op, warmup, duration }) {
  const warmEnd = now() + warmup
  while (now() < warmEnd) await op()
  const samples = new Samples()
  const start = now()
  const end = start + duration
  let t = start
  while (t < end) {
    await op()
    const done = now()
    samples.add(done - t)
    t = done
  }
  return summary(samples, samples.count, t - start)
}

/** The same for a blocking operation: a plain loop, nothing awaited. */
export function sequentialSync({ op, warmup, duration }) {
  const warmEnd = now() + warmup
  while (now() < warmEnd) op()
  const samples = new Samples()
  const start = now()
  const end = start + duration
  let t = start
  while (t < end) {
    op()
    const done = now()
    samples.add(done - t)
    t = done
  }
  return summary(samples, samples.count, t - start)
}

/**
 * `workers` callers in a loop each, sharing one pool: after the warm-up, the completions and
 * latencies of the next `duration` ms are kept. `op(worker, i)` gets the worker's number and a
 * counter, for parameters.
 */
export async function concurrent({ op, workers, warmup, duration }) {
  const samples = new Samples()
  let phase = 'warmup'
  let ops = 0
  const worker = async (w) => {
    for (let i = 0; phase !== 'stop'; i++) {
      const t = now()
      await op(w, i)
      if (phase === 'measure') {
        samples.add(now() - t)
        ops++
      }
    }
  }
  const running = Array.from({ length: workers }, (_, w) => worker(w))
  await sleep(warmup)
  phase = 'measure'
  const start = now()
  await sleep(duration)
  phase = 'stop'
  const ms = now() - start
  await Promise.all(running)
  return summary(samples, ops, ms)
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export { now }
