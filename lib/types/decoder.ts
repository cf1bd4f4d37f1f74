// What every value decoder is: the bytes of one value, as a range of the result's Buffer.

export type Decoder = (buf: Buffer, start: number, end: number) => unknown

// Buffer's own slicing methods: `toString(encoding, start, end)` is a checked wrapper around
// them, and they measure faster (docs/performance.md). Present in every Node.js since 0.x.
declare module 'buffer' {
  interface Buffer {
    utf8Slice(start: number, end: number): string
    latin1Slice(start: number, end: number): string
  }
}

export const utf8: Decoder = (buf, start, end) => buf.utf8Slice(start, end)

/** For types whose text form is ASCII (numeric, uuid, interval...): a byte is a character. */
export const ascii: Decoder = (buf, start, end) => buf.latin1Slice(start, end)

export function int32(buf: Buffer, at: number): number {
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!
}

export function uint32(buf: Buffer, at: number): number {
  return int32(buf, at) >>> 0
}
