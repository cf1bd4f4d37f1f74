// pgtide's public API (DESIGN §3). The names here are a contract.

export { AsyncConnection, Connection } from './connection'
export type { QueryResult, Row, TransactionStatus } from './connection'
export type { FieldDef } from './decode'
export type { ConnectionOptions, TypeOptions } from './options'
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
} from './errors'
export type { ServerErrorFields, ParameterTypeError } from './errors'
