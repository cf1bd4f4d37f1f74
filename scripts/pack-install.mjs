// Installs pgtide the way users get it, on a machine without Rust: the root package and this
// platform's binary package are made as the napi-rs v3 CLI makes them for publishing
// (create-npm-dirs, artifacts, prepublish, in a staging copy), `npm pack`ed, installed from the
// two tarballs into an empty folder with cargo and rustc off PATH, and used there from
// CommonJS and from ESM against DATABASE_URL.
//
//   node scripts/pack-install.mjs [--binary path/to/pgtide.<platform>.node] [--keep]
//
// --binary: the addon to ship (default: the one `napi build --platform` left at the root, built
// in debug when missing). --keep: leave the staging folder. Progress goes to stderr; the last
// line of stdout is a JSON report (what __test__/pack-install.spec.ts checks).
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const requireFromRoot = createRequire(path.join(root, 'package.json'))
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const napiBin = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
const startedAt = performance.now()

const log = (message) => console.error(`[pack-install] ${message}`)
const args = process.argv.slice(2)
const option = (name) => {
  const at = args.indexOf(name)
  return at === -1 ? undefined : args[at + 1]
}

/** Runs a program, failing loudly with its output; returns its stdout. */
function run(file, argv, options = {}) {
  const result = spawnSync(file, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...options })
  if (result.error) throw result.error
  if (result.status !== 0) {
    throw new Error(
      `${path.basename(file)} ${argv.join(' ')} failed (exit ${result.status}):\n${result.stderr}${result.stdout}`,
    )
  }
  return result.stdout
}

/** This machine's platform-arch-abi, as the generated loader (index.js) picks it. */
function hostPlatformArchAbi() {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'win32') return `${base}-msvc`
  if (process.platform !== 'linux') return base
  const glibc = process.report?.getReport()?.header?.glibcVersionRuntime
  return `${base}-${glibc ? 'gnu' : 'musl'}`
}

/** The napi target (from package.json) that this machine runs. */
async function hostTarget() {
  const { parseTriple } = await import(requireFromRoot.resolve('@napi-rs/cli'))
  const host = hostPlatformArchAbi()
  const target = pkg.napi.targets.map(parseTriple).find((t) => t.platformArchABI === host)
  if (!target) throw new Error(`package.json napi.targets has no target for this machine (${host})`)
  return target
}

/** The addon to ship; built in debug (and the TypeScript with it) when there is none yet. */
function addonPath(target) {
  const given = option('--binary')
  if (given) return path.resolve(given)
  const built = path.join(root, `${pkg.napi.binaryName}.${target.platformArchABI}.node`)
  if (!fs.existsSync(built)) {
    log('no addon built yet: napi build --platform (debug)')
    run(process.execPath, [napiBin, 'build', '--platform'], { cwd: root, stdio: 'inherit' })
  }
  if (!fs.existsSync(path.join(root, 'dist', 'index.mjs')))
    run('npm', ['run', '--silent', 'build:ts'], { cwd: root, stdio: 'inherit' })
  return built
}

/**
 * The root package as published: its `files` and manifest, with napi.targets narrowed to the
 * targets whose binaries are at hand (CI's publish job has them all; here, this machine's).
 */
function stageRootPackage(stage, target) {
  const dir = path.join(stage, 'package')
  fs.mkdirSync(dir)
  for (const entry of [...pkg.files, 'README.md', 'LICENSE']) {
    const from = path.join(root, entry)
    if (fs.existsSync(from)) fs.cpSync(from, path.join(dir, entry), { recursive: true })
  }
  const manifest = { ...pkg, napi: { ...pkg.napi, targets: [target.triple] } }
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  return dir
}

/** The addon as a CI artifact: debug info stripped (as a release build is), else as it is. */
function stageArtifact(stage, binary, target) {
  const dir = path.join(stage, 'artifacts')
  fs.mkdirSync(dir)
  const artifact = path.join(dir, `${pkg.napi.binaryName}.${target.platformArchABI}.node`)
  const stripped =
    process.platform === 'linux' && spawnSync('strip', ['--strip-debug', '-o', artifact, binary]).status === 0
  if (!stripped) fs.copyFileSync(binary, artifact)
  return dir
}

/** `npm pack`; returns the tarball's path and the files it holds. */
function pack(dir, destination) {
  const [report] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', destination], { cwd: dir }))
  return { tarball: path.join(destination, report.filename), files: report.files.map((f) => f.path) }
}

/** PATH without any folder that holds cargo or rustc; node comes from a folder of its own. */
function pathWithoutRust(stage) {
  const exe = process.platform === 'win32' ? '.exe' : ''
  const hasRust = (dir) => ['cargo', 'rustc'].some((tool) => fs.existsSync(path.join(dir, tool + exe)))
  const bin = path.join(stage, 'bin')
  fs.mkdirSync(bin)
  fs.symlinkSync(process.execPath, path.join(bin, `node${exe}`))
  const kept = (process.env.PATH ?? '').split(path.delimiter).filter((dir) => dir && !hasRust(dir))
  return [bin, ...kept].join(path.delimiter)
}

/** npm's own entry script, to run npm with the node above whatever PATH holds. */
function npmCli() {
  const near = (...parts) => path.join(path.dirname(fs.realpathSync(process.execPath)), ...parts)
  const candidates = [
    process.env.npm_execpath,
    near('..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    near('node_modules', 'npm', 'bin', 'npm-cli.js'),
  ]
  const found = candidates.find((file) => file && file.endsWith('npm-cli.js') && fs.existsSync(file))
  if (!found) throw new Error('cannot find npm-cli.js next to this node')
  return found
}

const CJS_CONSUMER = `
const pgtide = require('pgtide')
const { Pool } = require('pgtide/pg')
const { prometheusMetrics } = require('pgtide/metrics')

async function main() {
  const pool = new pgtide.AsyncConnectionPool(process.env.DATABASE_URL, { minSize: 1, name: 'packed-cjs' })
  const { rows } = await pool.connection((conn) => conn.query('SELECT $1::text AS via', ['require']))
  const metrics = prometheusMetrics([pool]).includes('pgtide_pool_connections{pool="packed-cjs"} 1')
  await pool.close()
  const pg = new Pool({ connectionString: process.env.DATABASE_URL, max: 1 })
  const viaPg = (await pg.query('SELECT 2 AS two')).rows[0].two
  await pg.end()
  const addons = Object.keys(require.cache).filter((file) => file.endsWith('.node'))
  console.log(JSON.stringify({ rows, viaPg, metrics, addons }))
}
main().catch((error) => { console.error(error); process.exit(1) })
`

const ESM_CONSUMER = `
import { createRequire } from 'node:module'
import pgtideDefault, { AsyncConnectionPool, DatabaseError } from 'pgtide'
import { Pool } from 'pgtide/pg'
import { prometheusMetrics } from 'pgtide/metrics'

const required = createRequire(import.meta.url)('pgtide')
const pool = new AsyncConnectionPool(process.env.DATABASE_URL, { minSize: 1, name: 'packed-esm' })
const { rows } = await pool.connection((conn) => conn.query('SELECT $1::text AS via', ['import']))
const failure = await pool.connection((conn) => conn.query('SELECT 1/0')).catch((error) => error)
await pool.close()
console.log(JSON.stringify({
  rows,
  // import and require share one copy of each class: instanceof works across both.
  sameClasses: required.AsyncConnectionPool === AsyncConnectionPool && pgtideDefault.DatabaseError === DatabaseError,
  errorClass: failure instanceof required.DatabaseError ? failure.code : String(failure),
  subpaths: typeof Pool === 'function' && typeof prometheusMetrics === 'function',
}))
`

async function main() {
  if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL must name the server the installed package queries')
  const target = await hostTarget()
  const binary = addonPath(target)
  const platformPackage = `${pkg.name}-${target.platformArchABI}`
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'pgtide-pack-'))
  try {
    log(`staging in ${stage} (${target.triple}, addon ${path.relative(root, binary) || binary})`)
    const rootDir = stageRootPackage(stage, target)
    const artifacts = stageArtifact(stage, binary, target)
    const napi = (...argv) => run(process.execPath, [napiBin, ...argv, '--cwd', rootDir], { cwd: rootDir })
    napi('create-npm-dirs')
    napi('artifacts', '--output-dir', artifacts)
    // prepublish writes the exact-version optionalDependencies; publishing stays CI's job.
    napi('prepublish', '--tag-style', 'npm', '--skip-optional-publish', '--no-gh-release')

    const tarballs = path.join(stage, 'tarballs')
    fs.mkdirSync(tarballs)
    const rootPack = pack(rootDir, tarballs)
    const platformPack = pack(path.join(rootDir, 'npm', target.platformArchABI), tarballs)
    const packedManifest = JSON.parse(
      execFileSync('tar', ['-xzOf', rootPack.tarball, 'package/package.json'], { encoding: 'utf8' }),
    )
    log(`packed ${path.basename(rootPack.tarball)} and ${path.basename(platformPack.tarball)}`)

    // The consumer: an empty folder outside the repo, a PATH without Rust, no npm_* settings.
    const consumer = path.join(stage, 'consumer')
    fs.mkdirSync(consumer)
    fs.writeFileSync(
      path.join(consumer, 'package.json'),
      '{ "name": "pgtide-consumer", "version": "0.0.0", "private": true }\n',
    )
    const env = {
      PATH: pathWithoutRust(stage),
      HOME: process.env.HOME ?? os.homedir(),
      DATABASE_URL: process.env.DATABASE_URL,
    }
    for (const name of ['USERPROFILE', 'SystemRoot', 'TMPDIR', 'TEMP', 'LANG'])
      if (process.env[name]) env[name] = process.env[name]
    const toolchainOnPath = ['cargo', 'rustc'].filter(
      (tool) => spawnSync(tool, ['--version'], { env }).error === undefined,
    )

    const npmArgs = [
      npmCli(),
      'install',
      '--offline',
      '--no-audit',
      '--no-fund',
      rootPack.tarball,
      platformPack.tarball,
    ]
    run(process.execPath, npmArgs, { cwd: consumer, env })
    fs.writeFileSync(path.join(consumer, 'query.cjs'), CJS_CONSUMER)
    fs.writeFileSync(path.join(consumer, 'query.mjs'), ESM_CONSUMER)
    const consume = (file) => JSON.parse(run('node', [file], { cwd: consumer, env }).trim().split('\n').pop())
    const report = {
      target: target.triple,
      platformPackage,
      version: pkg.version,
      packedOptionalDependencies: packedManifest.optionalDependencies ?? {},
      rootTarballAddons: rootPack.files.filter((file) => file.endsWith('.node')),
      platformTarballFiles: platformPack.files,
      installed: fs.readdirSync(path.join(consumer, 'node_modules')).filter((name) => !name.startsWith('.')),
      toolchainOnPath,
      cjs: consume('query.cjs'),
      esm: consume('query.mjs'),
      seconds: Math.round((performance.now() - startedAt) / 100) / 10,
    }
    console.log(JSON.stringify(report))
  } finally {
    if (args.includes('--keep')) log(`kept ${stage}`)
    else fs.rmSync(stage, { recursive: true, force: true })
  }
}

main().catch((error) => {
  log(error.stack ?? String(error))
  process.exit(1)
})
