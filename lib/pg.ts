// `pgtide/pg`: node-postgres's module surface over pgtide, for the libraries that take a pg
// `Pool` or `Client` (Drizzle, Kysely, Knex, Prisma's adapter, job queues, migration tools...).
// Shape only: every pooling decision is the engine's. The pieces live in `lib/pg/`.

import { DatabaseError } from './errors'
import { Client, escapeIdentifier, escapeLiteral, PoolClient } from './pg/client'
import { Cursor, QueryStream } from './pg/cursor'
import { Pool } from './pg/pool'
import { TypeOverrides, types } from './pg/types'

export { Client, Cursor, DatabaseError, escapeIdentifier, escapeLiteral, Pool, PoolClient, QueryStream, TypeOverrides, types }
export type { ClientConfig, PoolConfig, SslConfig, TypeParserSource } from './pg/config'
export type { ClientBaseEvents, ClientEvents, PgNotice, PgNotification } from './pg/client'
export type { PoolEvents } from './pg/pool'
export type { CursorConfig, CursorResult, QueryStreamConfig } from './pg/cursor'
export type { QueryArrayConfig, QueryArrayResult, QueryCallback, QueryConfig, QueryResult, Submittable } from './pg/query'
export type { CustomTypesConfig, TypeFormat, TypeParser } from './pg/types'

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
export default {
  Pool,
  Client,
  PoolClient,
  Cursor,
  QueryStream,
  DatabaseError,
  TypeOverrides,
  types,
  escapeIdentifier,
  escapeLiteral,
  defaults,
}
