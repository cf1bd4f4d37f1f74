// Exiting with work in flight (issue 12): `process.exit(0)` while queries run, with or without
// `await pool.close()` first, and a worker thread terminated mid-query. The process must exit
// with code 0 every time: thread-locals the waiting machinery keeps are not dropped while the
// exiting thread's thread-locals are destroyed (src/event_loop.rs), which used to abort the
// process in about one run in six.

import { spawn } from 'node:child_process'
import path from 'node:path'

import { describe, expect, it } from 'vitest'

import { databaseUrl } from './helpers'

const fixture = path.join(__dirname, 'fixtures', 'exit-in-flight.mjs')

interface Run {
  mode: string
  code: number | null
  signal: string | null
  stderr: string
}

/** One child process of the fixture in `mode`. */
function runChild(mode: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, databaseUrl(), mode], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, RUST_BACKTRACE: '1' },
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    // A child that never exits is killed (it is ours, by its pid) and reported as such.
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(killer)
      resolve({ mode, code, signal, stderr })
    })
  })
}

/** Runs every mode in `modes`, `parallel` children at a time. */
async function runAll(modes: string[], parallel: number): Promise<Run[]> {
  const runs: Run[] = []
  let next = 0
  const runner = async () => {
    while (next < modes.length) runs.push(await runChild(modes[next++]!))
  }
  await Promise.all(Array.from({ length: parallel }, runner))
  return runs
}

describe('exit with work in flight', () => {
  it('ends with exit code 0 in 200 runs: process.exit(0) mid-query, after close(), sync, worker', { timeout: 180_000 }, async () => {
    const modes = [
      ...Array<string>(70).fill('async'),
      ...Array<string>(50).fill('async-close'),
      ...Array<string>(40).fill('sync'),
      ...Array<string>(40).fill('worker'),
    ]
    const runs = await runAll(modes, 4)
    expect(runs).toHaveLength(200)
    const failed = runs.filter(
      (run) => run.code !== 0 || run.signal !== null || /panick|abort|Thread Local Storage/i.test(run.stderr),
    )
    const report = failed
      .slice(0, 3)
      .map((run) => `${run.mode}: code ${run.code}, signal ${run.signal}\n${run.stderr.slice(0, 2000)}`)
      .join('\n---\n')
    expect(failed.length, `${failed.length} of ${runs.length} runs failed; the first:\n${report}`).toBe(0)
  })
})
