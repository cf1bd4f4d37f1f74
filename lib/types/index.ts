// The decoders of one type configuration (`connectionOptions.types`): for a column's type OID
// and wire format, the function that turns its bytes into a JavaScript value.

import { ENGINE_FACTS } from '../engine-facts'
import * as binary from './binary'
import { ascii, utf8, type Decoder } from './decoder'
import { ELEMENT_OF, OID } from './oids'
import { asciiArray } from './text'

export type { Decoder } from './decoder'

/** How int8 values arrive: exact strings (default), numbers (inexact past 2^53) or bigints. */
export type Int8Mode = 'string' | 'number' | 'bigint'

/** `connectionOptions.types`, every key set. */
export interface TypeSettings {
  int8: Int8Mode
}

export const DEFAULT_TYPE_SETTINGS: TypeSettings = { int8: 'string' }

const INT8: Record<Int8Mode, Decoder> = {
  string: binary.int8String,
  number: binary.int8Number,
  bigint: binary.int8BigInt,
}

const FORMAT_BINARY = 1

export class TypeDecoders {
  /** By type OID, for the types the engine asks for in binary (ENGINE_FACTS.binaryResultTypes). */
  private readonly binary = new Map<number, Decoder>()
  /** By type OID, for the types with a text decoder of their own. */
  private readonly text = new Map<number, Decoder>()

  constructor(settings: TypeSettings) {
    // The binary decoders this side has. Which types come back binary is the engine's choice
    // (crates/core/src/result.rs), asked of it; every one it names must have a decoder here.
    const available = new Map<number, Decoder>([
      [OID.bool, binary.bool],
      [OID.bytea, binary.bytea],
      [OID.int2, binary.int2],
      [OID.int4, binary.int4],
      [OID.int8, INT8[settings.int8]],
      [OID.oid, binary.oid],
      [OID.float4, binary.float4],
      [OID.float8, binary.float8],
      [OID.text, binary.text],
      [OID.varchar, binary.text],
      [OID.bpchar, binary.text],
      [OID.name, binary.text],
      [OID.json, binary.json],
      [OID.jsonb, binary.jsonb],
      [OID.date, binary.date],
      [OID.timestamp, binary.timestamp],
      [OID.timestamptz, binary.timestamp],
    ])
    for (const oid of ENGINE_FACTS.binaryResultTypes) {
      const decoder = available.get(oid)
      if (!decoder) throw new Error(`pgtide: the engine asks for type ${oid} in binary, which lib/types cannot decode`)
      this.binary.set(oid, decoder)
    }
    const asText = [OID.numeric, OID.uuid, OID.time, OID.timetz, OID.interval, OID.inet, OID.cidr, OID.macaddr, OID.macaddr8]
    for (const oid of asText) this.text.set(oid, ascii)
    // An array comes in the format of its elements.
    for (const [arrayOid, elementOid] of ELEMENT_OF) {
      const element = this.binary.get(elementOid)
      if (element) this.binary.set(arrayOid, binary.array(element))
      else if (this.text.has(elementOid)) this.text.set(arrayOid, asciiArray)
    }
  }

  /** The decoder of one column. Types without a decoder arrive as PostgreSQL's text form. */
  decoderFor(oid: number, format: number): Decoder {
    if (format === FORMAT_BINARY) {
      const decoder = this.binary.get(oid)
      // The engine asks for binary only for the types it listed; anything else is a bug there.
      if (!decoder) throw new Error(`pgtide: no binary decoder for type ${oid}`)
      return decoder
    }
    if (this.binary.has(oid)) throw new Error(`pgtide: type ${oid} arrived as text, its decoder reads binary`)
    return this.text.get(oid) ?? utf8
  }
}
