// A PostgreSQL server behind a real network path that a test can turn into a black hole.
//
// The server runs in a network namespace of the test's own, reached over a veth pair whose two
// ends have the addresses of a private /30 (10.213.x.y, which exist only on this pair). The test
// process stays in the root namespace and connects over the veth, so its sockets are real TCP
// sockets to a remote peer: its own kernel sends the keepalive probes and retransmissions.
//
// The black hole is the kernel's `blackhole` qdisc on the egress of both veth ends: every packet,
// either way, is dropped without a trace (no RST, no FIN, no ICMP), and the sender's stack is
// told it was sent. (netem's `loss 100%` would do the same where sch_netem is built; the
// blackhole qdisc is always in the kernel.) Deleting the qdiscs restores the path.
//
// Everything created here carries the process id in its name (namespace pgtide-bh-PID, veth
// pgtd-hPID / pgtd-nPID), so leftovers of a crashed run are recognised and removed by the next
// one; this process removes its own on teardown() and, synchronously, at exit.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const NS_PREFIX = 'pgtide-bh-'
const HOST_IF_PREFIX = 'pgtd-h'
const NS_IF_PREFIX = 'pgtd-n'

/** What this file uses of scripts/pg-server.mjs (which has no type declarations). */
interface PgServerModule {
  findBinDir(): string | null
  startServer(options: {
    host?: string
    commandPrefix?: string[]
    hba?: string
    settings?: Record<string, string>
  }): Promise<{ url: string; host: string; port: number; dataDir: string; stop(): Promise<void> }>
}

function run(cmd: string, args: string[], timeout = 10_000): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, stdio: 'pipe' })
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr || r.error?.message || '').trim() }
}

function must(cmd: string, args: string[]): string {
  const r = run(cmd, args)
  if (!r.ok) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.err}`)
  return r.out
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Why this machine cannot run the packet-level tests, or null if it can: Linux, root, ip and tc,
 * a namespace with a veth pair and a blackhole qdisc actually created (and removed at once), and
 * the machine's PostgreSQL binaries.
 */
export function netnsUnavailable(findBinDir: () => string | null): string | null {
  if (process.platform !== 'linux') return `${process.platform} has no network namespaces`
  if (process.getuid?.() !== 0) return 'not root: ip netns and tc need CAP_NET_ADMIN'
  for (const tool of ['ip', 'tc', 'runuser']) {
    if (run('sh', ['-c', `command -v ${tool}`]).out.trim() === '') return `${tool} not installed`
  }
  if (/^(1|true|yes)$/i.test(process.env.PGTIDE_EMBEDDED_POSTGRES || '')) {
    return "PGTIDE_EMBEDDED_POSTGRES is set: the server must run inside the namespace, from the machine's binaries"
  }
  let binDir: string | null = null
  try {
    binDir = findBinDir()
  } catch {}
  if (!binDir) return "no PostgreSQL server binaries on this machine (the server must run inside the namespace)"
  const name = `${NS_PREFIX}probe${process.pid}`
  const hostIf = `pgtd-p${process.pid}`
  try {
    const steps: [string, string[]][] = [
      ['ip', ['netns', 'add', name]],
      ['ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', `pgtd-q${process.pid}`, 'netns', name]],
      ['tc', ['qdisc', 'add', 'dev', hostIf, 'root', 'blackhole']],
      ['ip', ['netns', 'exec', name, 'true']],
    ]
    for (const [cmd, args] of steps) {
      const r = run(cmd, args)
      if (!r.ok) return `\`${cmd} ${args.join(' ')}\` failed: ${r.err.split('\n')[0]}`
    }
    return null
  } finally {
    run('ip', ['link', 'del', hostIf])
    run('ip', ['netns', 'del', name])
  }
}

/**
 * Removes what crashed earlier runs left: namespaces and veths named after a process that is
 * gone, with the PostgreSQL processes still inside such a namespace (only ours ever run there)
 * and their data folders.
 */
export function sweepLeftovers(): string[] {
  const removed: string[] = []
  const dead = (name: string, prefix: string) => {
    const match = new RegExp(`^${prefix}(?:probe)?(\\d+)$`).exec(name)
    return match !== null && Number(match[1]) !== process.pid && !alive(Number(match[1]))
  }
  const listed = run('ip', ['netns', 'list']).out.split('\n')
  const namespaces = listed.map((line) => line.split(' ')[0] ?? '').filter(Boolean)
  for (const name of namespaces.filter((n) => dead(n, NS_PREFIX))) {
    const pids = run('ip', ['netns', 'pids', name]).out.split('\n').filter(Boolean).map(Number)
    const folders = new Set<string>()
    for (const pid of pids) {
      try {
        const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
        const dataDir = argv[argv.indexOf('-D') + 1] ?? ''
        if (argv.includes('-D') && /\/pgtide-pg-[^/]+\/data$/.test(dataDir)) folders.add(path.dirname(dataDir))
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
    for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true })
    run('ip', ['netns', 'del', name])
    removed.push(`namespace ${name} (${pids.length} processes)`)
  }
  const links = run('ip', ['-o', 'link', 'show']).out.split('\n')
  for (const line of links) {
    const name = /^\d+: ([^:@]+)[@:]/.exec(line)?.[1]
    if (name && (dead(name, HOST_IF_PREFIX) || dead(name, 'pgtd-p'))) {
      run('ip', ['link', 'del', name])
      removed.push(`veth ${name}`)
    }
  }
  return removed
}

/** A free /30 in 10.213.0.0/16 (none of this machine's addresses in it), chosen from the pid. */
function pickSubnet(): { hostAddr: string; nsAddr: string; subnet: string } {
  const used = run('ip', ['-o', '-4', 'addr', 'show']).out
  for (let i = 0; i < 16384; i++) {
    const n = (process.pid + i) % 16384
    const base = `10.213.${n >> 6}.`
    const last = (n & 63) * 4
    const addrs = [0, 1, 2, 3].map((k) => `${base}${last + k}`) as [string, string, string, string]
    const [network, hostAddr, nsAddr, broadcast] = addrs
    if ([network, hostAddr, nsAddr, broadcast].some((a) => used.includes(`inet ${a}/`))) continue
    return { hostAddr, nsAddr, subnet: `${network}/30` }
  }
  throw new Error('no free /30 in 10.213.0.0/16')
}

export interface NetnsServer {
  /** postgres://…@NS_ADDRESS:PORT/test */
  url: string
  nsAddr: string
  port: number
  namespace: string
  hostIf: string
  /** Drops every packet both ways from now on. */
  openHole(): void
  /** Lets packets through again. */
  closeHole(): void
  /** Established TCP connections from this machine to the server (`ss`), -1 if unknown. */
  established(): number
  /** Closes the hole, stops the server, deletes the namespace and the veth pair. Idempotent. */
  teardown(): Promise<void>
}

/** Namespace, veth pair and a throwaway server listening inside on the namespace's address. */
export async function startNetnsServer(helper: PgServerModule): Promise<NetnsServer> {
  const namespace = `${NS_PREFIX}${process.pid}`
  const hostIf = `${HOST_IF_PREFIX}${process.pid}`
  const nsIf = `${NS_IF_PREFIX}${process.pid}`
  const { hostAddr, nsAddr, subnet } = pickSubnet()
  let server: Awaited<ReturnType<PgServerModule['startServer']>> | null = null

  const removeNetwork = () => {
    run('tc', ['qdisc', 'del', 'dev', hostIf, 'root'])
    run('ip', ['link', 'del', hostIf]) // takes its peer along
    run('ip', ['netns', 'del', namespace])
  }
  // At exit (a crash, a killed worker), synchronously: pg-server.mjs stops its server itself.
  process.on('exit', removeNetwork)

  let torn: Promise<void> | null = null
  const teardown = () =>
    (torn ??= (async () => {
      run('tc', ['qdisc', 'del', 'dev', hostIf, 'root'])
      run('ip', ['netns', 'exec', namespace, 'tc', 'qdisc', 'del', 'dev', nsIf, 'root'])
      try {
        await server?.stop()
      } finally {
        removeNetwork()
        process.removeListener('exit', removeNetwork)
      }
    })())

  try {
    must('ip', ['netns', 'add', namespace])
    must('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', namespace])
    must('ip', ['addr', 'add', `${hostAddr}/30`, 'dev', hostIf])
    must('ip', ['link', 'set', hostIf, 'up'])
    must('ip', ['-n', namespace, 'addr', 'add', `${nsAddr}/30`, 'dev', nsIf])
    must('ip', ['-n', namespace, 'link', 'set', nsIf, 'up'])
    must('ip', ['-n', namespace, 'link', 'set', 'lo', 'up'])
    server = await helper.startServer({
      host: nsAddr,
      commandPrefix: ['ip', 'netns', 'exec', namespace],
      hba: `host all all ${subnet} trust`,
    })
  } catch (error) {
    await teardown()
    throw error
  }
  const url = new URL(server.url)
  url.pathname = '/test'
  url.searchParams.set('sslmode', 'disable')

  const hole = (verb: 'replace' | 'del') => {
    const args = verb === 'replace' ? ['root', 'blackhole'] : ['root']
    const here = run('tc', ['qdisc', verb, 'dev', hostIf, ...args])
    const there = run('ip', ['netns', 'exec', namespace, 'tc', 'qdisc', verb, 'dev', nsIf, ...args])
    if (verb === 'replace' && !(here.ok && there.ok)) throw new Error(`tc failed: ${here.err} ${there.err}`)
  }
  return {
    url: url.href,
    nsAddr,
    port: server.port,
    namespace,
    hostIf,
    openHole: () => hole('replace'),
    closeHole: () => hole('del'),
    established: () => {
      const r = run('ss', ['-Htn', 'state', 'established', 'dst', `${nsAddr}:${server?.port}`])
      return r.ok ? r.out.split('\n').filter(Boolean).length : -1
    },
    teardown,
  }
}
