// W5: every backend of the pool is terminated (pg_terminate_backend) while 100 workers keep
// it busy with `SELECT pg_backend_pid(), $1::int`. Counted from the kill: requests that fail,
// requests that never settle within a bound, the time to the first success served by a new
// backend (the answering pid says which: backends finish dying one by one, so answers from
// the old ones still arrive for a moment), and the throughput once the pool has recovered.
// Only the pool's own backends are killed, found by their application_name.

import { now, sleep } from '../measure.mjs'

const KILL_SQL = `SELECT pid, pg_terminate_backend(pid) AS killed FROM pg_stat_activity
  WHERE application_name = $1 AND pid <> pg_backend_pid()`

const QUERY = 'SELECT pg_backend_pid() AS pid, $1::int AS n'

const WORKERS = 100

/** Resolves once `pending` is empty or `ms` have passed. */
async function settle(pending, ms) {
  const end = now() + ms
  while (pending.size > 0 && now() < end) await sleep(20)
}

function withTimeout(promise, ms) {
  return Promise.race([promise.catch(() => {}), sleep(ms)])
}

export default {
  id: 'W5',
  title: 'all backends terminated under load (100 workers, pool of 10)',
  peers: ['pgtide', 'pg', 'pg-native', 'postgres'],
  metrics: [
    { key: 'errors', label: 'W5 errored requests per kill', unit: 'requests', better: 'lower' },
    { key: 'neverSettled', label: 'W5 never-settled requests per kill', unit: 'requests', better: 'lower', target: { max: 0 } },
    { key: 'firstSuccessMs', label: 'W5 kill to first success', unit: 'ms', better: 'lower', target: { ratio: 1 } },
    { key: 'recoveredOps', label: 'W5 throughput after recovery', unit: 'ops/s', better: 'higher' },
  ],

  async measure(peer, { url, timing, admin }) {
    const appName = `bench-w5-${peer.id}`
    const pool = await peer.pool({ url, size: 10, appName })
    const pending = new Set()
    const successes = [] // completion times, ms after the kill
    let killed = new Set()
    let killAt = Infinity
    let stop = false
    let errors = 0
    let errorsBeforeKill = 0
    let firstErrorMs = NaN
    let firstSuccessMs = NaN

    const worker = async (w) => {
      while (!stop) {
        const request = { issued: now() }
        pending.add(request)
        try {
          const result = await pool.query(QUERY, [w])
          const done = now()
          if (done >= killAt) {
            successes.push(done - killAt)
            const { pid } = (result.rows ?? result)[0]
            if (Number.isNaN(firstSuccessMs) && killed.size && !killed.has(pid)) firstSuccessMs = done - killAt
          }
        } catch {
          const failed = now()
          if (failed < killAt) errorsBeforeKill++
          else if (errors++ === 0) firstErrorMs = failed - killAt
          await new Promise(setImmediate) // a pool that fails at once must not starve the timers
        } finally {
          pending.delete(request)
        }
      }
    }

    try {
      await pool.ready()
      Array.from({ length: WORKERS }, (_, w) => worker(w))
      await sleep(timing.warmup)
      killAt = now()
      const { rows } = await admin.query(KILL_SQL, [appName])
      if (rows.length === 0) throw new Error(`no backend with application_name ${appName} to kill`)
      killed = new Set(rows.map((row) => row.pid))
      await sleep(timing.observe)
      stop = true
      await settle(pending, timing.bound)
      const window = timing.recoveryWindow
      const recovered = successes.filter((t) => t > timing.observe - window && t <= timing.observe).length
      return {
        errors,
        neverSettled: pending.size,
        firstSuccessMs,
        firstErrorMs,
        recoveredOps: recovered / (window / 1000),
        killed: rows.length,
        errorsBeforeKill,
      }
    } finally {
      stop = true
      // A pool with requests that never settle may never finish closing: give up after a while.
      await withTimeout(Promise.resolve().then(() => pool.close()), 3000)
    }
  },
}
