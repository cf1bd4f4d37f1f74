// Memory: the resident set of a fresh Node process holding an open pool of 10 (every
// connection used), each library in a process of its own; `node` is the same process with no
// library loaded. And the size of the built pgtide addon.

import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const BENCH = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const ROOT = path.dirname(BENCH)
const MB = 1024 * 1024

/** The .node file index.js loads on this platform. */
export function addonPath() {
  // napi-rs's loader takes this one first when it is set (a private copy of a build).
  const chosen = process.env.NAPI_RS_NATIVE_LIBRARY_PATH
  if (chosen) return path.resolve(chosen)
  const platform = `${process.platform}-${process.arch}`
  const file = fs.readdirSync(ROOT).find((name) => name.startsWith(`pgtide.${platform}`) && name.endsWith('.node'))
  return file ? path.join(ROOT, file) : null
}

function childRss(id, url) {
  return new Promise((resolve, reject) => {
    const args = ['--expose-gc', path.join(BENCH, 'memory-child.mjs'), id, url]
    execFile(process.execPath, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`memory child for ${id} failed: ${(stderr || error.message).trim()}`))
      else resolve(JSON.parse(stdout.trim().split('\n').pop()).rss)
    })
  })
}

export default {
  id: 'memory',
  title: 'memory: RSS of a process holding an open pool of 10',
  peers: ['pgtide', 'pg', 'pg-native', 'postgres', 'node'],
  metrics: [{ key: 'rssMb', label: 'RSS with an open pool of 10', unit: 'MB', better: 'lower' }],

  async measure(subject, { url }) {
    return { rssMb: (await childRss(subject.id, url)) / MB }
  },

  /** Facts measured once, outside the rounds. */
  facts() {
    const addon = addonPath()
    return { addonMb: addon ? fs.statSync(addon).size / MB : null, addon: addon && path.basename(addon) }
  },
}
