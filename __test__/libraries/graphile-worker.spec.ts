// graphile-worker (0.17: 0.18 needs Node 22.18) on the application's pool (`pgPool`): its
// migrations, addJob through WorkerUtils, and a runner that polls only once a minute, so the job
// must be picked up because the runner's LISTEN connection was notified of the insert.

import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from 'graphile-worker'
import { afterAll, describe, expect } from 'vitest'

import { eventually } from '../helpers'
import { faces, Pools, test, uniqueName } from './faces'

const quiet = new Logger(() => () => {})

describe.each(faces)('graphile-worker on $name', (face) => {
  const pools = new Pools(face)
  afterAll(() => pools.endAll(), 10_000)

  test('migrate, addJob, and a runner woken by LISTEN/NOTIFY runs it', async () => {
    const pgPool = pools.make({ max: 6 })
    const schema = uniqueName('graphile_worker')
    let utils: WorkerUtils | undefined
    let runner: Runner | undefined
    try {
      utils = await makeWorkerUtils({ pgPool, schema, logger: quiet })
      await utils.migrate()
      const { rows } = await pgPool.query(
        'SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1',
        [schema],
      )
      expect(rows[0].n).toBeGreaterThan(0)

      const done: unknown[] = []
      runner = await run({
        pgPool,
        schema,
        logger: quiet,
        concurrency: 1,
        noHandleSignals: true,
        pollInterval: 60_000,
        taskList: {
          greet: async (payload) => {
            done.push(payload)
          },
        },
      })
      const listening = new Promise<void>((resolve) => runner!.events.once('pool:listen:success', () => resolve()))
      await listening
      // The runner's first poll found nothing; the next is a minute away: only NOTIFY can wake it.
      const job = await utils.addJob('greet', { to: 'world' })
      expect(job.task_identifier).toBe('greet')
      await eventually(() => done.length === 1, 8)
      expect(done).toEqual([{ to: 'world' }])
    } finally {
      await runner?.stop()
      await utils?.release()
      await pgPool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    }
  })
})
