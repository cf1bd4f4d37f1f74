// The fuzz test's cases: a seeded generator of plans, plain JSON that `child.mjs` carries out.
// A plan is made from (seed, index) alone, so any case can be re-run by itself:
//   PGTIDE_FUZZ_SEED=<seed> PGTIDE_FUZZ_ONLY=<index>[,<index>...] npx vitest run __test__/fuzz.spec.ts
//
// Values that JSON cannot hold (NaN, functions, bigints, circular objects...) are tagged
// objects `{ $: tag, ... }`, decoded in the child. Every plan holds the run's secret password
// (`fuzz-secret-...`) somewhere a password goes; no output may ever show it.

/** A small, fast PRNG (a 32-bit counter through an integer hash); `next()` in [0, 1). */
export function prng(seed) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 15), z | 1)
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61)
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296
  }
  const random = {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (p) => next() < p,
    /** `n` items made by `make`. */
    times: (n, make) => Array.from({ length: n }, () => make()),
  }
  return random
}

/** The seed of case `index` of a run: cases do not depend on one another. */
function caseSeed(seed, index) {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0
  return (h ^ (h >>> 13)) >>> 0
}

/** The run's secret password. */
export function secretFor(seed) {
  const random = prng(seed ^ 0x5eed)
  return `fuzz-secret-${random.times(10, () => 'abcdefghjkmnpqrstuvwxyz23456789'[random.int(31)]).join('')}`
}

// ---------------------------------------------------------------------------------------------
// Tagged values

const num = (n) => ({ $: 'num', v: Object.is(n, -0) ? '-0' : String(n) })
const str = (v) => ({ $: 'str', v })
const fn = (kind) => ({ $: 'fn', kind })
const undef = { $: 'undef' }

/** Numbers the API should refuse or take, and none that would ask the server for thousands
 * of connections (a valid size is at most a few). */
const WEIRD_NUMBERS = [
  -1, -0, 0, 0.5, 1.5, 2.000001, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1e-9, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2,
  2 ** 64, 1e308, Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, -(2 ** 31), 1e-300, 262_144, 262_145,
]
const SMALL_NUMBERS = [0, 1, 2, 3]

/** A value of any kind, weighted towards the odd ones. */
function anyValue(random, depth = 0) {
  const kinds = [
    () => num(random.pick(WEIRD_NUMBERS)),
    () => num(random.pick(SMALL_NUMBERS)),
    () => str(random.pick(['', '1', '2.5', 'abc', 'Infinity', 'NaN', '-1', ' 1 ', '0x10', '1e3', '\u0000', '\ud800', 'é'])),
    () => ({ $: 'bool', v: random.chance(0.5) }),
    () => ({ $: 'null' }),
    () => undef,
    () => ({ $: 'bigint', v: random.pick(['0', '1', '-1', '9007199254740993', '340282366920938463463374607431768211456']) }),
    () => ({ $: 'symbol' }),
    () => fn(random.pick(['ok', 'throws', 'rejects', 'returnsNumber'])),
    () => ({ $: 'date', v: random.pick([0, 1e15, 'invalid', -8.64e15]) }),
    () => ({ $: 'buffer', v: random.times(random.int(5), () => random.int(256)) }),
    () => ({ $: 'circular' }),
    () => ({ $: 'throwingProxy' }),
    () => ({ $: 'map' }),
    () => ({ $: 'typedArray' }),
    () => ({ $: 'promise' }),
    () => ({ $: 'error' }),
    () => ({ $: 'longString', n: random.pick([1000, 100_000]) }),
    () => ({ $: 'throwingToString' }),
    () => ({ $: 'sparseArray' }),
  ]
  if (depth < 2) {
    kinds.push(() => ({ $: 'array', v: random.times(random.int(4), () => anyValue(random, depth + 1)) }))
    kinds.push(() => ({
      $: 'object',
      v: Object.fromEntries(random.times(random.int(3), () => [random.pick(['a', 'timeout', 'wait', 'valueOf', 'then', 'toJSON']), anyValue(random, depth + 1)])),
    }))
  }
  return random.pick(kinds)()
}

// ---------------------------------------------------------------------------------------------
// Connection strings

/** A conninfo string from fragments, the secret in the password's place (or where a mistake put
 * the password). Hosts are all local: a connection attempt ends at once. */
function conninfoString(random, port) {
  const P = '<pw>'
  if (random.chance(0.55)) {
    const scheme = random.pick([
      'postgres', 'postgres', 'postgresql', 'postgress', 'postgre', 'pg', 'POSTGRES', 'Postgres', 'postgresql+psycopg', 'jdbc:postgresql', 'psql', 'http', '',
    ])
    const separator = random.pick(['://', '://', '://', ':/', ':', '//', ':///', ''])
    const userinfo = random.pick([
      `root:${P}@`, `root:${P}@`, `:${P}@`, `root:${P}`, `root:two/${P}@`, `root:${P}?x@`, `root:${P}%zz@`, `root:${P}%41@`,
      `root:${P}@@`, `root:${P}:x@`, `root:pre/${P}@`, `root:${P}#x@`, `root:${P} x@`, `root:${P}[@`,
    ])
    const host = random.pick([
      '127.0.0.1', `127.0.0.1:${port}`, `127.0.0.1:${port}`, '127.0.0.1:1', '[::1]:1', '[::1', '127.0.0.1:port', '127.0.0.1:99999',
      '127.0.0.1:-1', '', `localhost:${port}`, `127.0.0.1:${port},127.0.0.1:1`, '127.0.0.1,', ',',
    ])
    const path = random.pick(['/test', '/test', '', '/', '/te%zzst', '/a@b', '/postgresql://x', '//test'])
    const query = random.times(random.int(3), () =>
      random.pick([
        'sslmode=disable', 'sslmode=bogus', 'connect_timeout=2', 'connect_timeout=x', 'x', 'a=b', 'application_name=%zz', '',
        `password=${P}`, 'port=99999', 'target_session_attrs=any', 'channel_binding=require', 'sslmode=require', `${P}=1`, P,
      ]),
    )
    const text = `${scheme}${separator}${userinfo}${host}${path}${query.length ? `?${query.join(random.pick(['&', '&&', ';']))}` : ''}`
    return random.chance(0.2) ? `  ${text}\t` : text
  }
  const pairs = random.times(1 + random.int(5), () =>
    random.pick([
      'host=127.0.0.1', 'host=127.0.0.1', `port=${port}`, `port=${port}`, 'port=1', 'port=abc', 'port=99999', `port=${port},1`,
      'dbname=test', 'user=root', `password=${P}`, `password='${P}'`, `password='two ${P}'`, `password=two ${P}`,
      `password='${P}`, `password=${P}'`, `password=\\'${P}`, `password = ${P}`, `password ${P}`, `${P}`, `${P}=1`, `'${P}'`,
      'sslmode=disable', 'sslmode=bogus', 'bogus=1', 'dbnmae=test', 'connect_timeout=2', 'connect_timeout=x', '=', "'", '\\',
      'host=', 'host=/tmp', `host=postgres://root:${P}@127.0.0.1`, `dbname=postgresql://root:${P}@127.0.0.1/test`,
      'target_session_attrs=read-write', 'sslrootcert=system', 'options=-c', "options='-c statement_timeout=1'", 'sslsni=2',
    ]),
  )
  return pairs.join(random.pick([' ', ' ', '  ', '\n', '\t']))
}

/** The test server's URL, with the secret as its password (trust authentication ignores it). */
function goodUrl() {
  return { $: 'goodUrl' }
}

// ---------------------------------------------------------------------------------------------
// Plans

const POOL_KINDS = ['async', 'sync', 'asyncNull', 'syncNull']
const SAFE_TIMEOUTS = [0, 0.2, 0.5, 1, -1, NaN, -Infinity, '1', {}, true, 1n]
const LARGE_TIMEOUTS = [Infinity, 1e308, Number.MAX_VALUE, 2 ** 31, 2 ** 32, 2 ** 53, 1e10, 3.2e9, 18446744073709551616]

function timeoutValue(random, safe) {
  const value = random.chance(0.5) || !safe ? random.pick(SAFE_TIMEOUTS) : random.pick(LARGE_TIMEOUTS)
  return typeof value === 'bigint' ? { $: 'bigint', v: String(value) } : typeof value === 'number' ? num(value) : typeof value === 'string' ? str(value) : value === true ? { $: 'bool', v: true } : { $: 'object', v: {} }
}

const SQL = [
  'SELECT 1 AS one', 'SELECT $1 AS v', 'SELECT $1::int AS v', 'SELECT $1::text AS v', 'SELECT $1::bigint AS v', 'SELECT $1::numeric AS v',
  'SELECT $1::bytea AS v', 'SELECT $1::jsonb AS v', 'SELECT $1::timestamptz AS v', 'SELECT $1::int[] AS v', 'SELECT $1::bool AS v',
  'SELECT $1, $2', 'SELECT $2 AS v', 'SELECT $0', 'SELECT $99999', 'SELECT 1/0', 'SELEC 1', '', ' ', ';', 'SELECT 1; SELECT 2',
  "SELECT '", 'SELECT 1 -- comment', 'SELECT pg_sleep(0.01)', 'BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT s', 'LISTEN fuzz',
  "NOTIFY fuzz, 'x'", 'SET statement_timeout = 50', 'SELECT pg_sleep(0.2)', 'COPY (SELECT 1) TO STDOUT', 'COPY pg_temp.nothing FROM STDIN',
  'SELECT generate_series(1, 3000) AS n', 'SELECT NULL', "SELECT 'NaN'::float8, 'Infinity'::float8, '-0'::float8",
  "SELECT '\u0000'", 'SELECT \ud800', 'SELECT 1 AS a, 2 AS a', 'DO $$ BEGIN RAISE NOTICE $n$hi$n$; END $$',
  "DO $$ BEGIN RAISE EXCEPTION 'boom'; END $$", 'SELECT repeat($1::text, 3)', 'VALUES ($1), ($2)', 'SELECT pg_backend_pid() AS pid',
]

function sqlText(random) {
  if (random.chance(0.08)) return { $: 'longString', n: random.pick([1000, 200_000]) }
  if (random.chance(0.06)) return anyValue(random)
  return str(random.pick(SQL))
}

/** Parameters for `sql`: mostly as many as its placeholders, of any kind. */
function params(random, sql) {
  if (random.chance(0.15)) return random.chance(0.3) ? undef : anyValue(random)
  const wanted = sql?.$ === 'str' ? Math.max(0, ...[...sql.v.matchAll(/\$(\d+)/g)].map((m) => Math.min(Number(m[1]), 3))) : 0
  const count = random.chance(0.7) ? wanted : random.int(4)
  return { $: 'array', v: random.times(count, () => anyValue(random)) }
}

/** What a hook does. `safe` ones leave the pool able to serve. */
const SAFE_HOOKS = ['ok', 'queries']
const ASYNC_SAFE_HOOKS = ['okAsync', 'slow', 'queries']
const BAD_HOOKS = ['throws', 'rejects', 'throwsString', 'returnsNumber', 'returnsPromise', 'okAsync', 'slow', 'exitsTransaction', 'closesConn']

function poolPlan(random, port) {
  const kind = random.pick(POOL_KINDS)
  const isNull = kind.endsWith('Null')
  const isAsync = kind.startsWith('async')
  const options = {}
  let healthy = true
  const weird = (p) => {
    const yes = random.chance(p)
    if (yes) healthy = false
    return yes
  }
  const maybe = (name, p, benign, odd) => {
    if (!random.chance(p)) return
    options[name] = weird(0.2) ? odd() : benign()
  }
  maybe('minSize', 0.6, () => num(isNull ? 0 : random.pick([1, 2])), () => (random.chance(0.7) ? num(random.pick(WEIRD_NUMBERS)) : anyValue(random)))
  maybe('maxSize', 0.5, () => (isNull ? num(random.pick([0, 2])) : random.chance(0.5) ? { $: 'null' } : num(3)), () => (random.chance(0.7) ? num(random.pick(WEIRD_NUMBERS)) : anyValue(random)))
  maybe('open', 0.3, () => ({ $: 'bool', v: random.chance(0.8) }), () => anyValue(random))
  for (const hook of ['configure', 'check', 'reset']) {
    maybe(hook, 0.3, () => fn(random.pick(isAsync ? ASYNC_SAFE_HOOKS : SAFE_HOOKS)), () => (random.chance(0.8) ? fn(random.pick(BAD_HOOKS)) : anyValue(random)))
  }
  maybe('name', 0.2, () => str(random.pick(['fuzz', 'pool-é', ''])), () => anyValue(random))
  maybe('closeReturns', 0.2, () => ({ $: 'bool', v: random.chance(0.5) }), () => anyValue(random))
  maybe('timeout', 0.3, () => num(random.pick([1, 2])), () => (random.chance(0.5) ? num(random.pick(WEIRD_NUMBERS)) : anyValue(random)))
  for (const name of ['maxWaiting', 'maxLifetime', 'maxIdle', 'reconnectTimeout']) {
    maybe(name, 0.25, () => num(random.pick([0, 5, 60, 3600])), () => (random.chance(0.7) ? num(random.pick(WEIRD_NUMBERS)) : anyValue(random)))
  }
  if (options.maxWaiting?.v === '0') options.maxWaiting = num(5)
  maybe('reconnectFailed', 0.15, () => fn('ok'), () => fn(random.pick(BAD_HOOKS)))
  maybe('numWorkers', 0.25, () => num(random.pick([1, 2, 3])), () => (random.chance(0.7) ? num(random.pick(WEIRD_NUMBERS)) : anyValue(random)))
  maybe(
    'connectionOptions',
    0.3,
    () => ({ $: 'object', v: { autocommit: { $: 'bool', v: random.chance(0.5) } } }),
    () =>
      random.chance(0.5)
        ? { $: 'object', v: { autocommit: anyValue(random), statementCacheSize: random.chance(0.5) ? num(random.pick(WEIRD_NUMBERS)) : anyValue(random) } }
        : random.chance(0.5)
          ? { $: 'optionsFn', kind: random.pick(['ok', 'okAsync', 'throws', 'rejects', 'returnsNumber', 'returnsNull']) }
          : anyValue(random),
  )
  // The logger always records (its records are checked for the secret), unless it misbehaves.
  options.logger = random.chance(0.75) ? { $: 'logger', kind: 'recording' } : { $: 'logger', kind: random.pick(['throws', 'notFunctions', 'oddLevel', 'exitsNothing', 'number']) }
  if (random.chance(0.7)) options.logLevel = random.chance(0.8) ? str(random.pick(['debug', 'info', 'warning'])) : anyValue(random)
  let conninfo
  if (random.chance(0.75)) conninfo = goodUrl()
  else {
    healthy = false
    conninfo = random.chance(0.5)
      ? { $: 'conninfoFn', kind: random.pick(['ok', 'okAsync', 'throws', 'rejects', 'returnsNumber', 'returnsNull', 'returnsMalformed', 'returnsObject']) }
      : random.chance(0.5)
        ? str(conninfoString(random, port))
        : anyValue(random)
  }
  // Sizes the model knows, to keep long timeouts for when the pool can serve at once.
  const calls = []
  let held = 0
  let usable = healthy
  for (let i = 0, n = 1 + random.int(6); i < n; i++) {
    const safe = usable && held === 0
    const op = random.pick([
      'getconn', 'getconn', 'putconn', 'putconn', 'stale', 'resize', 'wait', 'open', 'check', 'stats', 'connection', 'connection',
      'query', 'query', 'close', 'drain', 'connQuery', 'connClose', 'share', 'asyncDispose',
    ])
    const call = { op }
    switch (op) {
      case 'getconn':
        call.timeout = random.chance(0.15) ? undef : timeoutValue(random, safe)
        if (call.timeout === undef && !usable) call.timeout = num(0.5)
        held++
        break
      case 'putconn':
        call.target = random.pick(['last', 'last', 'first', 'junk', 'again'])
        if (call.target === 'junk') call.junk = anyValue(random)
        if (held > 0 && call.target !== 'junk' && call.target !== 'again') held--
        break
      case 'stale':
        call.then = random.pick(['query', 'exec', 'putconn', 'close', 'transaction', 'cancel'])
        break
      case 'resize':
        call.args = random.times(1 + random.int(2), () => (random.chance(0.6) ? num(random.pick([...WEIRD_NUMBERS, 0, 1, 2, 3])) : anyValue(random)))
        usable = false
        break
      case 'wait':
        call.timeout = random.chance(0.2) ? undef : timeoutValue(random, usable && healthy)
        if (call.timeout === undef && !usable) call.timeout = num(0.3)
        break
      case 'open':
        call.options = random.chance(0.5) ? { $: 'object', v: { wait: { $: 'bool', v: random.chance(0.5) }, timeout: timeoutValue(random, usable && healthy) } } : anyValue(random)
        break
      case 'connection':
        call.body = random.pick(['query', 'throws', 'returns', 'rejects', 'notFunction', 'putconnInside', 'closesConn'])
        call.sql = sqlText(random)
        call.params = params(random, call.sql)
        call.options = random.chance(0.5) ? { $: 'object', v: { timeout: timeoutValue(random, safe) } } : usable ? undef : { $: 'object', v: { timeout: num(0.5) } }
        break
      case 'query':
        call.sql = sqlText(random)
        call.params = params(random, call.sql)
        call.options = random.chance(0.5) ? { $: 'object', v: { timeout: timeoutValue(random, safe) } } : usable ? undef : { $: 'object', v: { timeout: num(0.5) } }
        break
      case 'close':
        call.timeout = random.chance(0.3) ? undef : timeoutValue(random, true)
        usable = false
        break
      case 'connQuery':
        call.sql = sqlText(random)
        call.params = params(random, call.sql)
        break
      default:
        break
    }
    calls.push(call)
  }
  return { kind: 'pool', poolKind: kind, options, conninfo, calls, healthy }
}

function conninfoPlan(random, port) {
  const conninfo = random.chance(0.15) ? anyValue(random) : str(conninfoString(random, port))
  const via = random.pick(['connect', 'connectSync', 'pool', 'syncPool', 'pg'])
  return { kind: 'conninfo', conninfo, via }
}

function queryPlan(random) {
  const via = random.pick(['conn', 'connSync', 'pool', 'syncPool', 'nullPool', 'pg', 'transaction'])
  const queries = random.times(1 + random.int(4), () => {
    const sql = sqlText(random)
    return {
    sql,
    params: params(random, sql),
    options: random.chance(0.25) ? (random.chance(0.5) ? { $: 'signal', kind: random.pick(['aborted', 'soon', 'never']) } : anyValue(random)) : undef,
    method: random.pick(['query', 'query', 'query', 'exec']),
    }
  })
  return { kind: 'query', via, autocommit: random.chance(0.5), queries }
}

const EXIT_MODES = [
  'exitMidQueryAsync', 'exitMidQuerySync', 'exitWhileOpening', 'exitInConfigure', 'uncaughtMidQuery', 'endAfterClose', 'exitInLogger', 'exitInConnectionBody',
]

function exitPlan(random) {
  const mode = random.pick(EXIT_MODES)
  return { kind: 'exit', mode, delayMs: random.int(60), expectCode: mode === 'uncaughtMidQuery' ? 1 : 0 }
}

/** Case `index` of the run with this seed. `port`: the server's, for conninfo strings. */
export function makeCase(seed, index, port) {
  const random = prng(caseSeed(seed, index))
  const roll = random.next()
  const plan =
    roll < 0.03 ? exitPlan(random) : roll < 0.3 ? conninfoPlan(random, port) : roll < 0.65 ? poolPlan(random, port) : queryPlan(random)
  return { id: index, ...plan }
}

/** A line saying what a case does, for reports. */
export function describeCase(plan, secret) {
  const text = JSON.stringify(plan, (key, value) => (key === 'id' ? undefined : value))
  const shown = secret ? text.replaceAll(secret, '<secret>') : text
  return shown.length > 600 ? `${shown.slice(0, 600)}...` : shown
}
