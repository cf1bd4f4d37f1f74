// A child process of fuzz.spec.ts: `node child.mjs SEED INDEX[,INDEX...]` carries out those
// cases of the run (plans from cases.mjs) one after the other and reports each on fd 3, one JSON
// line per event, written synchronously so that the report survives a crash:
//   {"type":"start","id":N}  {"type":"end","id":N,"problems":[...]}  {"type":"done"}
// A problem is { type, step, detail }: type 'untyped' (an error that is not TypeError,
// RangeError, AbortError or a PgError), 'expectation' (a call that should have failed did not),
// 'secret' (the password in an error, a log record or an inspection), 'unhandled' (an
// unhandled rejection or uncaught exception), 'hang' (a case that did not settle in time) or
// 'leak' (a pool with connections still out after everything was given back, or not closed).
// An exit case (kind 'exit') runs alone, installs no handlers and ends the process itself.
import fs from 'node:fs'
import util from 'node:util'

import {
  AbortError,
  AsyncConnection,
  AsyncConnectionPool,
  AsyncNullConnectionPool,
  Connection,
  ConnectionPool,
  NullConnectionPool,
  PgError,
} from 'pgtide'
import { Pool as PgPool } from 'pgtide/pg'

import { makeCase, secretFor } from './cases.mjs'

const CASE_MS = Number(process.env.PGTIDE_FUZZ_CASE_MS ?? 5000)
const CASE_MARK = '--- fuzz case '
const [seedText, idsText] = process.argv.slice(2)
const seed = Number(seedText)
const ids = idsText.split(',').map(Number)
const baseUrl = new URL(process.env.PGTIDE_FUZZ_URL)
const port = Number(baseUrl.port || 5432)
const secret = secretFor(seed)
const goodUrl = (() => {
  const url = new URL(baseUrl)
  url.password = secret
  return url.toString()
})()

function report(event) {
  try {
    fs.writeSync(3, `${JSON.stringify(event)}\n`)
  } catch {
    // No report pipe (run by hand): print instead.
    process.stdout.write(`${JSON.stringify(event)}\n`)
  }
}

/** The user's own errors (from hooks, callbacks, proxies): passing them through is right. */
class FuzzUserError extends Error {
  name = 'FuzzUserError'
}
const USER_STRING = 'fuzz-user-string'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const isThenable = (value) => value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function'

function show(value) {
  try {
    return util.inspect(value, { depth: 3, breakLength: Infinity })
  } catch (error) {
    return `<uninspectable: ${String(error)}>`
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding plans

function hook(kind, ctx) {
  switch (kind) {
    case 'ok':
      return () => {}
    case 'okAsync':
      return async () => {}
    case 'slow':
      return () => sleep(30)
    case 'queries':
      // Leaves the connection idle, as hooks must: committed when not in autocommit.
      return (conn) => {
        const ran = conn.query('SELECT 1')
        if (!isThenable(ran)) return conn.autocommit ? undefined : conn.commit()
        return ran.then(() => (conn.autocommit ? undefined : conn.commit()))
      }
    case 'throws':
      return () => {
        throw new FuzzUserError('hook throws')
      }
    case 'rejects':
      return async () => {
        throw new FuzzUserError('hook rejects')
      }
    case 'throwsString':
      return () => {
        throw USER_STRING
      }
    case 'returnsNumber':
      return () => 42
    case 'returnsPromise':
      return () => Promise.resolve('x')
    case 'exitsTransaction':
      return (conn) => conn.query('BEGIN')
    case 'closesConn':
      return (conn) => conn.close()
    default:
      throw new Error(`fuzz: unknown hook kind ${kind} (${ctx.plan.id})`)
  }
}

function conninfoFunction(kind) {
  switch (kind) {
    case 'ok':
      return () => goodUrl
    case 'okAsync':
      return async () => goodUrl
    case 'throws':
      return () => {
        throw new FuzzUserError('conninfo throws')
      }
    case 'rejects':
      return async () => {
        throw new FuzzUserError('conninfo rejects')
      }
    case 'returnsNumber':
      return () => 5
    case 'returnsNull':
      return () => null
    case 'returnsMalformed':
      return () => `postgress://root:${secret}@127.0.0.1:${port}/test`
    case 'returnsObject':
      return () => ({ conninfo: goodUrl })
    default:
      throw new Error(`fuzz: unknown conninfo function ${kind}`)
  }
}

function optionsFunction(kind) {
  switch (kind) {
    case 'ok':
      return () => ({ autocommit: true })
    case 'okAsync':
      return async () => ({ autocommit: false })
    case 'throws':
      return () => {
        throw new FuzzUserError('connectionOptions throws')
      }
    case 'rejects':
      return async () => {
        throw new FuzzUserError('connectionOptions rejects')
      }
    case 'returnsNumber':
      return () => 7
    case 'returnsNull':
      return () => null
    default:
      throw new Error(`fuzz: unknown connectionOptions function ${kind}`)
  }
}

function logger(kind, ctx) {
  const keep = (level) => (obj, message) => {
    ctx.logs.push(`${level} ${show(message)} ${show(obj)}`)
  }
  switch (kind) {
    case 'recording':
      return { level: 'debug', debug: keep('debug'), info: keep('info'), warn: keep('warn') }
    case 'throws': {
      const thrower = () => {
        throw new FuzzUserError('logger throws')
      }
      return { level: 'debug', debug: thrower, info: thrower, warn: thrower }
    }
    case 'notFunctions':
      return { level: 'info', warn: 5, info: 'x', debug: {} }
    case 'oddLevel':
      return { level: 'verbose', warn: keep('warn'), info: keep('info') }
    case 'exitsNothing':
      return {}
    case 'number':
      return 42
    default:
      throw new Error(`fuzz: unknown logger ${kind}`)
  }
}

function decode(value, ctx) {
  if (value === undefined) return undefined
  switch (value.$) {
    case 'num':
      return Number(value.v)
    case 'str':
      return value.v.replaceAll('<pw>', secret)
    case 'bool':
      return value.v
    case 'null':
      return null
    case 'undef':
      return undefined
    case 'bigint':
      return BigInt(value.v)
    case 'symbol':
      return Symbol('fuzz')
    case 'fn':
      return hook(value.kind, ctx)
    case 'date':
      return new Date(value.v === 'invalid' ? NaN : value.v)
    case 'buffer':
      return Buffer.from(value.v)
    case 'circular': {
      const object = { a: 1 }
      object.self = object
      return object
    }
    case 'throwingProxy':
      return new Proxy(
        {},
        {
          get() {
            throw new FuzzUserError('proxy get')
          },
          ownKeys() {
            throw new FuzzUserError('proxy ownKeys')
          },
        },
      )
    case 'map':
      return new Map([[1, 2]])
    case 'typedArray':
      return new Float64Array([1.5, NaN, -0])
    case 'promise':
      return Promise.resolve(1)
    case 'error':
      return new Error('a value that is an Error')
    case 'longString':
      return 'x'.repeat(value.n)
    case 'throwingToString':
      return {
        toString() {
          throw new FuzzUserError('toString throws')
        },
        valueOf() {
          throw new FuzzUserError('valueOf throws')
        },
      }
    case 'sparseArray':
      // eslint-disable-next-line no-sparse-arrays
      return [1, , 3]
    case 'array':
      return value.v.map((item) => decode(item, ctx))
    case 'object':
      return Object.fromEntries(Object.entries(value.v).map(([key, item]) => [key, decode(item, ctx)]))
    case 'goodUrl':
      return goodUrl
    case 'conninfoFn':
      return conninfoFunction(value.kind)
    case 'optionsFn':
      return optionsFunction(value.kind)
    case 'logger':
      return logger(value.kind, ctx)
    case 'signal':
      return {
        signal:
          value.kind === 'aborted' ? AbortSignal.abort() : value.kind === 'soon' ? AbortSignal.timeout(5) : new AbortController().signal,
      }
    default:
      throw new Error(`fuzz: unknown value tag ${value.$}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Checking outcomes

function typed(error) {
  return (
    error instanceof PgError ||
    error instanceof TypeError ||
    error instanceof RangeError ||
    error instanceof AbortError ||
    error instanceof FuzzUserError ||
    error === USER_STRING
  )
}

/** The secret, anywhere in `text`: a problem. */
function checkSecret(ctx, step, what, text) {
  if (typeof text === 'string' && text.includes(secret)) {
    ctx.problems.push({ type: 'secret', step, detail: `${what}: ${text.replaceAll(secret, '<SECRET>').slice(0, 300)}` })
  }
}

function checkError(ctx, step, error) {
  if (!typed(error)) {
    const name = error instanceof Error ? `${error.constructor?.name ?? 'Error'} (name ${error.name})` : `non-Error ${typeof error}`
    const message = error instanceof Error ? error.message : show(error)
    ctx.problems.push({ type: 'untyped', step, detail: `${name}: ${String(message).replaceAll(secret, '<SECRET>').slice(0, 300)}` })
  }
  if (error instanceof Error) {
    checkSecret(ctx, step, 'error message', error.message)
    checkSecret(ctx, step, 'String(error)', String(error))
    checkSecret(ctx, step, 'util.inspect(error)', show(error))
  } else {
    checkSecret(ctx, step, 'thrown value', show(error))
  }
}

/**
 * Runs one call of the API, sync or async: its result, or its error checked. `expect: 'error'`
 * when only an error is right.
 */
const TRACE = process.env.PGTIDE_FUZZ_TRACE === '1'

async function attempt(ctx, step, thunk, expect) {
  ctx.step = step
  try {
    let value = thunk()
    if (isThenable(value)) value = await value
    if (TRACE) process.stderr.write(`trace ${ctx.plan.id} ${step}: ok\n`)
    if (expect === 'error') {
      ctx.problems.push({ type: 'expectation', step, detail: `succeeded (${show(value).slice(0, 120)}); an error was expected` })
    }
    return { value }
  } catch (error) {
    if (TRACE) process.stderr.write(`trace ${ctx.plan.id} ${step}: ${error?.constructor?.name}: ${String(error?.message ?? error).slice(0, 100)}\n`)
    checkError(ctx, step, error)
    return { error }
  }
}

// ---------------------------------------------------------------------------------------------
// The cases

const POOL_CLASSES = {
  async: AsyncConnectionPool,
  sync: ConnectionPool,
  asyncNull: AsyncNullConnectionPool,
  syncNull: NullConnectionPool,
}

/** Connections checked out and not yet given back (pool size minus idle). */
function inUse(pool) {
  const stats = pool.getStats()
  return stats.poolSize - stats.poolAvailable
}

/**
 * Gives back what the case holds, checks that nothing is left out, closes the pool. `strict`:
 * the pool can connect, so its size less its idle connections is what clients hold (in a pool
 * that cannot connect, the size also counts the attempts still being retried).
 */
async function finishPool(ctx, pool, held, strict) {
  for (const conn of held.splice(0)) await attempt(ctx, 'epilogue: putconn', () => pool.putconn(conn))
  if (strict && !pool.closed) {
    const deadline = Date.now() + 2000
    let out = inUse(pool)
    while (out > 0 && Date.now() < deadline) {
      await sleep(20)
      out = inUse(pool)
    }
    if (out > 0) {
      ctx.problems.push({ type: 'leak', step: 'epilogue', detail: `${out} connection(s) still checked out after all were given back: ${show(pool.getStats())}` })
    }
  }
  const closing = await attempt(ctx, 'epilogue: close(5)', () => pool.close(5))
  if (!closing.error && !pool.closed) ctx.problems.push({ type: 'leak', step: 'epilogue', detail: 'pool.closed is false after close()' })
  checkSecret(ctx, 'epilogue', 'util.inspect(pool)', show(pool))
}

async function runPool(plan, ctx) {
  const Class = POOL_CLASSES[plan.poolKind]
  const options = Object.fromEntries(Object.entries(plan.options).map(([key, value]) => [key, decode(value, ctx)]))
  const conninfo = decode(plan.conninfo, ctx)
  const made = await attempt(ctx, 'constructor', () => new Class(conninfo, options))
  if (made.error) return
  const pool = made.value
  const held = []
  const returned = []
  // Strict when the plan's pool can serve and no call changed its sizes.
  const strict = plan.healthy && !plan.calls.some((call) => call.op === 'resize')
  ctx.cleanups.push(() => finishPool(ctx, pool, held, strict))
  const takeOne = async (step) => {
    if (held.length > 0) return held.pop()
    const taken = await attempt(ctx, `${step} (getconn(0.5))`, () => pool.getconn(0.5))
    return taken.error ? undefined : taken.value
  }
  for (const [i, call] of plan.calls.entries()) {
    const step = `call ${i}: ${call.op}`
    switch (call.op) {
      case 'getconn': {
        const taken = await attempt(ctx, step, () => pool.getconn(decode(call.timeout, ctx)))
        if (!taken.error) held.push(taken.value)
        break
      }
      case 'putconn': {
        if (call.target === 'junk') {
          await attempt(ctx, step, () => pool.putconn(decode(call.junk, ctx)), 'error')
          break
        }
        const conn = call.target === 'again' ? returned.at(-1) : call.target === 'first' ? held.shift() : held.pop()
        if (conn === undefined) break
        await attempt(ctx, step, () => pool.putconn(conn))
        returned.push(conn)
        break
      }
      case 'stale': {
        const conn = await takeOne(step)
        if (conn === undefined) break
        const back = await attempt(ctx, `${step} (putconn)`, () => pool.putconn(conn))
        if (back.error) break
        returned.push(conn)
        // The wrapper of a returned connection must refuse to run anything (another client may
        // have the connection now).
        const mustFail = ['query', 'exec', 'transaction'].includes(call.then)
        const thunk = {
          query: () => conn.query('SELECT 1'),
          exec: () => conn.exec('SELECT 1'),
          transaction: () => conn.transaction(() => conn.query('SELECT 1')),
          putconn: () => pool.putconn(conn),
          close: () => conn.close(),
          cancel: () => conn.cancel(),
        }[call.then]
        await attempt(ctx, `${step} then ${call.then}`, thunk, mustFail ? 'error' : undefined)
        break
      }
      case 'resize':
        await attempt(ctx, step, () => pool.resize(...call.args.map((arg) => decode(arg, ctx))))
        break
      case 'wait':
        await attempt(ctx, step, () => pool.wait(decode(call.timeout, ctx)))
        break
      case 'open':
        await attempt(ctx, step, () => pool.open(decode(call.options, ctx)))
        break
      case 'check':
        await attempt(ctx, step, () => pool.check())
        break
      case 'stats':
        await attempt(ctx, step, () => [pool.getStats(), pool.popStats(), pool.name, pool.minSize, pool.maxSize, pool.closed])
        break
      case 'connection': {
        const sql = decode(call.sql, ctx)
        const params = decode(call.params, ctx)
        const body = {
          query: (conn) => conn.query(sql, params),
          throws: () => {
            throw new FuzzUserError('connection() body throws')
          },
          returns: () => 42,
          rejects: async () => {
            throw new FuzzUserError('connection() body rejects')
          },
          notFunction: 'not a function',
          putconnInside: (conn) => pool.putconn(conn),
          closesConn: (conn) => conn.close(),
        }[call.body]
        const mustFail = ['throws', 'rejects', 'notFunction'].includes(call.body)
        await attempt(ctx, `${step} (${call.body})`, () => pool.connection(body, decode(call.options, ctx)), mustFail ? 'error' : undefined)
        break
      }
      case 'query':
        await attempt(ctx, step, () => pool.query(decode(call.sql, ctx), decode(call.params, ctx), decode(call.options, ctx)))
        break
      case 'close':
        await attempt(ctx, step, () => pool.close(decode(call.timeout, ctx)))
        break
      case 'drain':
        await attempt(ctx, step, () => pool.drain())
        break
      case 'connQuery': {
        const conn = held.at(-1)
        if (conn) await attempt(ctx, step, () => conn.query(decode(call.sql, ctx), decode(call.params, ctx)))
        break
      }
      case 'connClose': {
        const conn = held.at(-1)
        if (conn) await attempt(ctx, step, () => conn.close())
        break
      }
      case 'share':
        await attempt(ctx, step, () => pool.share())
        break
      case 'asyncDispose': {
        const dispose = pool[Symbol.asyncDispose] ?? pool[Symbol.dispose]
        if (typeof dispose === 'function') await attempt(ctx, step, () => dispose.call(pool))
        break
      }
      default:
        throw new Error(`fuzz: unknown call ${call.op}`)
    }
  }
}

async function runConninfo(plan, ctx) {
  const conninfo = decode(plan.conninfo, ctx)
  const log = logger('recording', ctx)
  switch (plan.via) {
    case 'connect': {
      const made = await attempt(ctx, 'AsyncConnection.connect', () => AsyncConnection.connect(conninfo))
      if (!made.error) {
        await attempt(ctx, 'query', () => made.value.query('SELECT 1'))
        await attempt(ctx, 'close', () => made.value.close())
      }
      break
    }
    case 'connectSync': {
      const made = await attempt(ctx, 'Connection.connect', () => Connection.connect(conninfo))
      if (!made.error) await attempt(ctx, 'close', () => made.value.close())
      break
    }
    case 'pool':
    case 'syncPool': {
      const Class = plan.via === 'pool' ? AsyncConnectionPool : ConnectionPool
      const made = await attempt(ctx, 'constructor', () => new Class(conninfo, { minSize: 1, timeout: 1, logger: log, reconnectTimeout: 2 }))
      if (made.error) break
      const pool = made.value
      const held = []
      ctx.cleanups.push(() => finishPool(ctx, pool, held, false))
      const taken = await attempt(ctx, 'getconn(1)', () => pool.getconn(1))
      if (!taken.error) held.push(taken.value)
      break
    }
    case 'pg': {
      const made = await attempt(ctx, 'pg Pool', () => new PgPool({ connectionString: conninfo, connectionTimeoutMillis: 1000, pgtide: { logger: log } }))
      if (made.error) break
      const pool = made.value
      await attempt(ctx, 'pg query', () => pool.query('SELECT 1'))
      checkSecret(ctx, 'pg Pool', 'util.inspect(pool)', show(pool))
      checkSecret(ctx, 'pg Pool', 'JSON.stringify(pool.options)', JSON.stringify(pool.options))
      await attempt(ctx, 'pg end', () => pool.end())
      break
    }
    default:
      throw new Error(`fuzz: unknown via ${plan.via}`)
  }
}

async function runQueries(plan, ctx) {
  const log = logger('recording', ctx)
  const connectionOptions = { autocommit: plan.autocommit }
  let target
  let sync = false
  switch (plan.via) {
    case 'conn':
    case 'transaction': {
      const made = await attempt(ctx, 'connect', () => AsyncConnection.connect(goodUrl, connectionOptions))
      if (made.error) return
      target = made.value
      ctx.cleanups.push(() => attempt(ctx, 'epilogue: close', () => target.close()))
      break
    }
    case 'connSync': {
      const made = await attempt(ctx, 'connect', () => Connection.connect(goodUrl, connectionOptions))
      if (made.error) return
      target = made.value
      sync = true
      ctx.cleanups.push(() => attempt(ctx, 'epilogue: close', () => target.close()))
      break
    }
    case 'pool':
    case 'syncPool':
    case 'nullPool': {
      const Class = { pool: AsyncConnectionPool, syncPool: ConnectionPool, nullPool: AsyncNullConnectionPool }[plan.via]
      const made = await attempt(ctx, 'pool', () => new Class(goodUrl, { minSize: plan.via === 'nullPool' ? 0 : 1, logger: log, connectionOptions }))
      if (made.error) return
      target = made.value
      sync = plan.via === 'syncPool'
      const held = []
      ctx.cleanups.push(() => finishPool(ctx, target, held, true))
      break
    }
    case 'pg': {
      const made = await attempt(ctx, 'pg Pool', () => new PgPool({ connectionString: goodUrl, max: 2, pgtide: { logger: log } }))
      if (made.error) return
      target = made.value
      ctx.cleanups.push(() => attempt(ctx, 'epilogue: end', () => target.end()))
      break
    }
    default:
      throw new Error(`fuzz: unknown via ${plan.via}`)
  }
  const run = async (on) => {
    for (const [i, query] of plan.queries.entries()) {
      const sql = decode(query.sql, ctx)
      const params = decode(query.params, ctx)
      const options = decode(query.options, ctx)
      const step = `query ${i} (${query.method})`
      if (query.method === 'exec' && typeof on.exec === 'function') await attempt(ctx, step, () => on.exec(sql))
      // pg's third argument is a callback: pg's own rules, not pgtide's, for anything else.
      // (A function in the values' place is pg's callback: the user's, which may throw.)
      else if (plan.via === 'pg') await attempt(ctx, step, () => on.query(sql, typeof params === 'function' ? [] : params))
      else await attempt(ctx, step, () => on.query(sql, params, options))
    }
  }
  if (plan.via === 'transaction') {
    await attempt(ctx, 'transaction', () => target.transaction(() => run(target)))
  } else {
    await run(target)
  }
  void sync
}

/** The exit paths: the process must end with the expected code, never crash or hang. */
async function runExit(plan) {
  const log = { level: 'warn', warn() {} }
  const inFlight = (pool) => {
    for (let i = 0; i < 4; i++) {
      const loop = async () => {
        for (;;) await pool.query(i % 2 ? 'SELECT pg_sleep(0.01)' : 'SELECT generate_series(1, 500) AS n')
      }
      loop().catch(() => {})
    }
  }
  const later = (ms, fn) => setTimeout(fn, ms)
  switch (plan.mode) {
    case 'exitMidQueryAsync': {
      const pool = new AsyncConnectionPool(goodUrl, { minSize: 2, logger: log })
      await pool.wait(10)
      inFlight(pool)
      later(plan.delayMs, () => process.exit(0))
      break
    }
    case 'exitMidQuerySync': {
      const pool = new ConnectionPool(goodUrl, { minSize: 1, logger: log })
      pool.wait(10)
      const conn = await AsyncConnection.connect(goodUrl, { autocommit: true })
      conn.query('SELECT pg_sleep(0.05)').catch(() => {})
      for (let i = 0; i < 3; i++) pool.query('SELECT 1')
      later(plan.delayMs, () => {
        pool.query('SELECT 1')
        process.exit(0)
      })
      break
    }
    case 'exitWhileOpening': {
      new AsyncConnectionPool(goodUrl, { minSize: 4, logger: log })
      new ConnectionPool(goodUrl, { minSize: 2, logger: log })
      later(plan.delayMs, () => process.exit(0))
      break
    }
    case 'exitInConfigure': {
      new AsyncConnectionPool(goodUrl, { minSize: 1, logger: log, configure: () => process.exit(0) })
      break
    }
    case 'uncaughtMidQuery': {
      const pool = new AsyncConnectionPool(goodUrl, { minSize: 2, logger: log })
      await pool.wait(10)
      inFlight(pool)
      later(plan.delayMs, () => {
        throw new Error('fuzz: an uncaught error while queries run')
      })
      break
    }
    case 'endAfterClose': {
      const pool = new AsyncConnectionPool(goodUrl, { minSize: 2, logger: log })
      const syncPool = new ConnectionPool(goodUrl, { minSize: 1, logger: log })
      const conn = await AsyncConnection.connect(goodUrl)
      await Promise.all([pool.query('SELECT 1'), conn.query('SELECT 1')])
      syncPool.query('SELECT 1')
      await pool.close()
      syncPool.close()
      await conn.close()
      // Nothing left open: the process ends by itself.
      break
    }
    case 'exitInLogger': {
      const pool = new AsyncConnectionPool(goodUrl, {
        minSize: 1,
        logger: { level: 'warn', warn: () => process.exit(0) },
      })
      const conn = await pool.getconn(10)
      await conn.query('SELECT 1')
      // Returned inside a transaction: the pool warns that it rolls back.
      await pool.putconn(conn)
      break
    }
    case 'exitInConnectionBody': {
      const pool = new AsyncConnectionPool(goodUrl, { minSize: 1, logger: log })
      await pool.connection(async (conn) => {
        await conn.query('SELECT 1')
        later(plan.delayMs, () => process.exit(0))
        await conn.query('SELECT pg_sleep(1)')
      })
      break
    }
    default:
      throw new Error(`fuzz: unknown exit mode ${plan.mode}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Main

let current = null

async function runCase(plan) {
  current = plan
  report({ type: 'start', id: plan.id })
  // Marks the case in the child's output, so that a secret printed there is put on its case.
  fs.writeSync(1, `${CASE_MARK}${plan.id}\n`)
  fs.writeSync(2, `${CASE_MARK}${plan.id}\n`)
  const started = Date.now()
  const ctx = { plan, problems: [], logs: [], cleanups: [], step: 'start' }
  plan.ctx = ctx
  // A check of the harness itself: PGTIDE_FUZZ_SELFTEST=crash:<id>, hang:<id> or secret:<id>.
  const selftest = process.env.PGTIDE_FUZZ_SELFTEST
  if (selftest === `crash:${plan.id}`) process.abort()
  if (selftest === `hang:${plan.id}`) for (;;);
  if (selftest === `secret:${plan.id}`) console.error(`selftest ${secret}`)
  const body = plan.kind === 'pool' ? runPool : plan.kind === 'conninfo' ? runConninfo : runQueries
  let timer
  const timedOut = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CASE_MS)
  })
  const outcome = await Promise.race([
    body(plan, ctx).then(
      () => 'done',
      (error) => {
        checkError(ctx, ctx.step, error)
        return 'done'
      },
    ),
    timedOut,
  ])
  if (outcome === 'timeout') ctx.problems.push({ type: 'hang', step: ctx.step, detail: `the case did not settle within ${CASE_MS} ms` })
  for (const cleanup of ctx.cleanups.reverse()) {
    const finished = await Promise.race([cleanup().then(() => true), sleep(CASE_MS).then(() => false)])
    if (!finished) ctx.problems.push({ type: 'hang', step: 'epilogue', detail: `cleanup did not finish within ${CASE_MS} ms` })
  }
  clearTimeout(timer)
  // Late rejections and exceptions of this case surface within a few turns.
  await sleep(30)
  for (const record of ctx.logs) checkSecret(ctx, 'logger', 'log record', record)
  report({ type: 'end', id: plan.id, problems: ctx.problems, ms: Date.now() - started })
  plan.ended = true
}

const plans = ids.map((id) => makeCase(seed, id, port))

if (plans.length === 1 && plans[0].kind === 'exit') {
  report({ type: 'start', id: plans[0].id })
  await runExit(plans[0])
} else {
  const late = (type) => (reason) => {
    const detail = `${type}: ${show(reason).replaceAll(secret, '<SECRET>').slice(0, 300)}`
    const leaked = show(reason).includes(secret)
    if (current && !current.ended) {
      const { ctx } = current
      ctx.problems.push({ type: 'unhandled', step: ctx.step, detail })
      if (leaked) ctx.problems.push({ type: 'secret', step: ctx.step, detail })
    } else {
      // After its case ended (or before any): reported against the last case to run.
      report({ type: 'orphan', id: current?.id ?? null, detail, leaked })
    }
  }
  process.on('unhandledRejection', late('unhandledRejection'))
  process.on('uncaughtException', late('uncaughtException'))
  for (const plan of plans) await runCase(plan)
  report({ type: 'done' })
}
