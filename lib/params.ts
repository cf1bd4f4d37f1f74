// Query parameters leave JavaScript as one Buffer in the engine's tagged form
// (crates/core/src/params.rs): one crossing, however many parameters.

const TAG_NULL = 0
const TAG_TEXT = 1
const TAG_NUMBER = 2
const TAG_BOOL = 3

const EMPTY = Buffer.alloc(0)

/** Encodes parameter values; throws a TypeError naming the position of one it cannot send. */
export function encodeParams(values: readonly unknown[] | undefined): Buffer {
  if (values === undefined || values.length === 0) return EMPTY
  if (!Array.isArray(values)) throw new TypeError(`query parameters must be an array, not ${typeof values}`)
  let size = 0
  const texts: (string | undefined)[] = new Array(values.length)
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    if (value === null || value === undefined) size += 1
    else if (typeof value === 'number') size += 9
    else if (typeof value === 'boolean') size += 2
    else {
      const text = asText(value, i + 1)
      texts[i] = text
      size += 5 + Buffer.byteLength(text)
    }
  }
  const buf = Buffer.allocUnsafe(size)
  let at = 0
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    if (value === null || value === undefined) {
      buf[at++] = TAG_NULL
    } else if (typeof value === 'number') {
      buf[at++] = TAG_NUMBER
      at = buf.writeDoubleBE(value, at)
    } else if (typeof value === 'boolean') {
      buf[at++] = TAG_BOOL
      buf[at++] = value ? 1 : 0
    } else {
      buf[at++] = TAG_TEXT
      const length = buf.write(texts[i]!, at + 4)
      buf.writeUInt32BE(length, at)
      at += 4 + length
    }
  }
  return buf
}

/** Values without an exact binary form travel as text and the server parses them. */
function asText(value: unknown, position: number): string {
  switch (typeof value) {
    case 'string':
      return value
    case 'bigint':
      return value.toString()
    case 'object':
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new TypeError(`parameter $${position}: invalid Date`)
        return value.toISOString()
      }
      if (Buffer.isBuffer(value)) return '\\x' + value.toString('hex')
      return JSON.stringify(value)
    default:
      throw new TypeError(`parameter $${position}: cannot send a value of type ${typeof value}`)
  }
}
