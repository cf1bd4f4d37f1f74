// `pgtide/pg`: node-postgres's module surface over pgtide, for the libraries that take a pg
// `Pool` or `Client` (Drizzle, Kysely, Knex, Prisma's adapter, job queues, migration tools...).
// Shape only: every pooling decision is the engine's. The pieces live in `lib/pg/`.

import { DatabaseError } from './errors'
import { Client, escapeIdentifier, escapeLiteral, PoolClient } from './pg/client'
import { Pool } from './pg/pool'

export { Client, escapeIdentifier, escapeLiteral, Pool, PoolClient }
export { DatabaseError }
export type { ClientConfig, PoolConfig, SslConfig, TypeParserSource } from './pg/config'
export type { QueryArrayConfig, QueryArrayResult, QueryCallback, QueryConfig, QueryResult, Submittable } from './pg/query'

/** pg's `defaults`: the values a Client or Pool takes when its config leaves them unset. */
export const defaults = {
  max: 10,
  min: 0,
  idleTimeoutMillis: 10_000,
  connectionTimeoutMillis: 0,
  query_timeout: false as const,
  statement_timeout: false as const,
}

/** pg's default export: the module as one object (`import pg from 'pg'; new pg.Pool()`). */
export default { Pool, Client, PoolClient, DatabaseError, escapeIdentifier, escapeLiteral, defaults }
