// What the numbers were measured on: CPU, memory, OS, Node, and the commit.

import { spawnSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)))

function git(args) {
  const result = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : null
}

export function machineInfo() {
  const cpus = os.cpus()
  const commit = git(['rev-parse', '--short', 'HEAD'])
  const dirty = git(['status', '--porcelain', '--untracked-files=no', '--', 'src', 'crates', 'lib'])
  return {
    cpu: cpus[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    commit: commit && (dirty ? `${commit}+changes` : commit),
  }
}

/** One line for the table's caption. */
export function machineLine(machine) {
  return `${machine.cores} × ${machine.cpu}, ${machine.memoryGb} GiB, ${machine.os}, Node ${machine.node.slice(1)}`
}
