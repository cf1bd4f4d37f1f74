// Option normalisation: one place, with errors that name the option.

/** psycopg's connection keyword arguments, in camelCase. */
export interface ConnectionOptions {
  /** Commit every statement on its own (default false: the first statement opens a transaction). */
  autocommit?: boolean
}

export interface NormalisedConnectionOptions {
  autocommit: boolean
}

const CONNECTION_OPTION_NAMES = new Set(['autocommit'])

export function connectionOptionsFrom(options: ConnectionOptions | undefined): NormalisedConnectionOptions {
  if (options === undefined || options === null) return { autocommit: false }
  if (typeof options !== 'object') throw new TypeError(`connection options must be an object, not ${typeof options}`)
  for (const name of Object.keys(options)) {
    if (!CONNECTION_OPTION_NAMES.has(name)) throw new TypeError(`unknown connection option '${name}'`)
  }
  const autocommit = options.autocommit ?? false
  if (typeof autocommit !== 'boolean') {
    throw new TypeError(`connection option 'autocommit' must be a boolean, not ${typeof autocommit}`)
  }
  return { autocommit }
}
