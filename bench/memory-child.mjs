// Run by workloads/memory.mjs in a fresh process: opens a pool of 10 with one library (or
// nothing, for `node`), uses each connection, collects garbage and prints the RSS as JSON.
//
//   node --expose-gc bench/memory-child.mjs PEER URL

import { sleep } from './measure.mjs'
import { peerById } from './peers.mjs'

const [id, url] = process.argv.slice(2)

async function settledRss() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.()
    await sleep(100)
  }
  return process.memoryUsage().rss
}

if (id === 'node') {
  console.log(JSON.stringify({ rss: await settledRss() }))
} else {
  const pool = await peerById(id).pool({ url, size: 10, appName: `bench-memory-${id}` })
  await pool.ready()
  for (let i = 0; i < 50; i++) await Promise.all(Array.from({ length: 10 }, () => pool.query('SELECT $1::int', [i])))
  console.log(JSON.stringify({ rss: await settledRss() }))
  await pool.close()
}
process.exit(0)
