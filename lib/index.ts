// pgtide's public API. The names here are a contract.

export { AsyncConnection, Connection } from './connection'
export type { QueryOptions, QueryResult, Row, TransactionStatus } from './connection'
export type { Notice, Notification } from './notifications'
export type { FieldDef } from './decode'
export type { StreamOptions, PoolStreamOptions } from './stream'
export { copyRows } from './copy-rows'
export type { CopyRow, CopyRowsOptions } from './copy-rows'
export type { CopyBinaryType } from './copy-binary'
export type { CopyChunk, CopySource } from './copy'
export type { AsyncPipeline, SyncPipeline, PipelineResult } from './pipeline'
export type { ListenEvent, ListenHandler, Unlisten } from './listen'
export type { ConnectionOptions, Pem, TlsOptions, TypeOptions } from './options'
export { AsyncConnectionPool, AsyncNullConnectionPool } from './async-pool'
export { ConnectionPool, NullConnectionPool } from './sync-pool'
export type { PoolStats } from './pool-base'
export type { AsyncPoolOptions, SyncPoolOptions, PoolOptions, PoolLogger, LogLevel, Conninfo } from './pool-options'
export {
  PgError,
  InterfaceError,
  DatabaseError,
  OperationalError,
  ProgrammingError,
  IntegrityError,
  DataError,
  InternalError,
  NotSupportedError,
  PoolTimeout,
  PoolClosed,
  TooManyRequests,
  AbortError,
} from './errors'
export type { ServerErrorFields, ParameterTypeError } from './errors'
