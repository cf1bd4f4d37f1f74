// pg-boss (10: the last major that runs on Node 20) on the application's pool through its `db`
// option ({ executeSql }): start() installs its schema (several statements in one query, in a
// transaction under an advisory lock), a queue is created, a job sent and worked, then completed.

import PgBoss from 'pg-boss'
import { afterAll, describe, expect } from 'vitest'

import { eventually } from '../helpers'
import { faces, Pools, test, uniqueName } from './faces'

describe.each(faces)('pg-boss on $name', (face) => {
  const pools = new Pools(face)
  afterAll(() => pools.endAll(), 10_000)

  test('start with the db adapter, send, work, complete', async () => {
    const pool = pools.make()
    const schema = uniqueName('pgboss')
    const errors: Error[] = []
    const boss = new PgBoss({
      db: { executeSql: (text: string, values?: unknown[]) => pool.query(text, values) },
      schema,
      schedule: false,
    })
    boss.on('error', (err: Error) => errors.push(err))
    try {
      await boss.start()
      const queue = uniqueName('queue')
      await boss.createQueue(queue)
      const id = await boss.send(queue, { greeting: 'hello', n: 3 })
      expect(id).toMatch(/^[0-9a-f-]{36}$/)

      const seen: Array<{ id: string; data: unknown }> = []
      await boss.work(queue, { pollingIntervalSeconds: 0.5 }, async (jobs: Array<{ id: string; data: unknown }>) => {
        for (const job of jobs) seen.push({ id: job.id, data: job.data })
        return 'done'
      })
      await eventually(() => seen.length === 1, 8)
      expect(seen).toEqual([{ id, data: { greeting: 'hello', n: 3 } }])
      await eventually(async () => (await boss.getJobById(queue, id!))?.state === 'completed', 8)
      expect((await boss.getJobById(queue, id!))?.output).toEqual({ value: 'done' })
      expect(errors).toEqual([])
    } finally {
      await boss.stop({ graceful: false, close: false })
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    }
  })
})
