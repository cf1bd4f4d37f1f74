// What every value decoder is: the bytes of one value, as a range of the result's Buffer.

export type Decoder = (buf: Buffer, start: number, end: number) => unknown

// Buffer's own slicing methods: `toString(encoding, start, end)` is a checked wrapper around
// them, and they measure faster (docs/performance.md). Present in every Node.js since 0.x, but
// not in @types/node: typed here, for this code only (no augmentation of Node's `Buffer`, which
// would leak into every consumer's types).
export interface SlicingBuffer extends Buffer {
  utf8Slice(start: number, end: number): string
  latin1Slice(start: number, end: number): string
}

/** `buf`'s bytes `start` to `end` as UTF-8 text. */
export const utf8: Decoder = (buf, start, end) => (buf as SlicingBuffer).utf8Slice(start, end)

/** For types whose text form is ASCII (numeric, uuid, interval...): a byte is a character. */
export const ascii: Decoder = (buf, start, end) => (buf as SlicingBuffer).latin1Slice(start, end)

export function int32(buf: Buffer, at: number): number {
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!
}

export function uint32(buf: Buffer, at: number): number {
  return int32(buf, at) >>> 0
}
