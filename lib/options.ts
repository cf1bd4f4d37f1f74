// Option normalisation: one place, with errors that name the option.

import { DEFAULT_TYPE_SETTINGS, type Int8Mode, type TypeSettings } from './types'

/** psycopg's connection keyword arguments, in camelCase. */
export interface ConnectionOptions {
  /** Commit every statement on its own (default false: the first statement opens a transaction). */
  autocommit?: boolean
  /** How values of some types are decoded (docs/types.md). */
  types?: TypeOptions
}

/** Choices of decoding, by type; more keys may come. */
export interface TypeOptions {
  /** int8 values: `'string'` (default, exact), `'number'` (inexact past 2^53) or `'bigint'`. */
  int8?: Int8Mode
}

export interface NormalisedConnectionOptions {
  autocommit: boolean
  types: TypeSettings
}

const CONNECTION_OPTION_NAMES = new Set(['autocommit', 'types'])

export function connectionOptionsFrom(options: ConnectionOptions | undefined): NormalisedConnectionOptions {
  if (options === undefined || options === null) return { autocommit: false, types: DEFAULT_TYPE_SETTINGS }
  if (typeof options !== 'object') throw new TypeError(`connection options must be an object, not ${typeof options}`)
  for (const name of Object.keys(options)) {
    if (!CONNECTION_OPTION_NAMES.has(name)) throw new TypeError(`unknown connection option '${name}'`)
  }
  const autocommit = options.autocommit ?? false
  if (typeof autocommit !== 'boolean') {
    throw new TypeError(`connection option 'autocommit' must be a boolean, not ${typeof autocommit}`)
  }
  return { autocommit, types: typeSettingsFrom(options.types) }
}

const INT8_MODES: readonly Int8Mode[] = ['string', 'number', 'bigint']

function typeSettingsFrom(types: TypeOptions | undefined): TypeSettings {
  if (types === undefined) return DEFAULT_TYPE_SETTINGS
  if (typeof types !== 'object' || types === null) {
    throw new TypeError(`connection option 'types' must be an object, not ${types === null ? 'null' : typeof types}`)
  }
  for (const name of Object.keys(types)) {
    if (!(name in DEFAULT_TYPE_SETTINGS)) throw new TypeError(`unknown connection option 'types.${name}'`)
  }
  const int8 = types.int8 ?? DEFAULT_TYPE_SETTINGS.int8
  if (typeof int8 !== 'string') {
    throw new TypeError(`connection option 'types.int8' must be 'string', 'number' or 'bigint', not ${typeof int8}`)
  }
  if (!INT8_MODES.includes(int8)) {
    throw new RangeError(`connection option 'types.int8' must be 'string', 'number' or 'bigint', not '${int8}'`)
  }
  return { int8 }
}
