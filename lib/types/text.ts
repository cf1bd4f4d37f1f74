// Decoders of PostgreSQL's text forms, for the types whose value is their text form anyway
// (numeric, uuid, time, interval, inet...) and their arrays.

import { ascii, type Decoder } from './decoder'

const OPEN = 123 // {
const CLOSE = 125 // }
const QUOTE = 34 // "
const BACKSLASH = 92 // \
const BRACKET = 91 // [

/**
 * An array's text form (`{a,"b c",NULL}`, `{{1,2},{3,4}}`, `[0:1]={1,2}`) as nested arrays of
 * strings, or of `element(string)` when given, null for NULL. A quoted "NULL" is the string.
 * Lower bounds other than 1 (the `[0:1]=` prefix) are dropped: a JavaScript array starts at 0.
 * Every built-in type but box separates elements with a comma; box uses ';'.
 */
export function parseArray(text: string, element?: (value: string) => unknown, delimiter = ','): unknown[] {
  const end = text.length
  const separatorCode = delimiter.charCodeAt(0)
  let at = text.charCodeAt(0) === BRACKET ? text.indexOf('=') + 1 : 0

  const malformed = (): Error => new Error(`pgtide: malformed array text from the server: ${text.slice(0, 80)}`)

  const quoted = (): string => {
    let value = ''
    let from = ++at
    while (at < end) {
      const c = text.charCodeAt(at)
      if (c === QUOTE) {
        value += text.slice(from, at++)
        return value
      }
      if (c === BACKSLASH) {
        // Keep the escaped character: it starts the next chunk.
        value += text.slice(from, at)
        from = at + 1
        at += 2
      } else {
        at++
      }
    }
    throw malformed()
  }

  const unquoted = (): string | null => {
    const from = at
    while (at < end) {
      const c = text.charCodeAt(at)
      if (c === separatorCode || c === CLOSE) break
      at++
    }
    const token = text.slice(from, at)
    return token === 'NULL' ? null : token
  }

  const level = (): unknown[] => {
    if (text.charCodeAt(at++) !== OPEN) throw malformed()
    const values: unknown[] = []
    if (text.charCodeAt(at) === CLOSE) {
      at++
      return values
    }
    while (at < end) {
      const c = text.charCodeAt(at)
      if (c === OPEN) {
        values.push(level())
      } else {
        const value = c === QUOTE ? quoted() : unquoted()
        values.push(value === null || !element ? value : element(value))
      }
      const separator = text.charCodeAt(at++)
      if (separator === CLOSE) return values
      if (separator !== separatorCode) break
    }
    throw malformed()
  }

  return level()
}

/** An array of a type whose text form is ASCII, its elements strings. */
export const asciiArray: Decoder = (buf, start, end) => parseArray(ascii(buf, start, end) as string)
