// Guest code as text, decoded with iced-x86: the disassembly view, and the current instruction in
// the call stack. x86 cannot be decoded backwards, so instructions before an address are found by
// decoding forwards from far enough before it that the decoding falls into step with the address.
import { Decoder, DecoderOptions, Formatter, FormatterSyntax, Instruction } from 'iced-x86';

/** Longest x86 instruction. */
export const MAX_INSTRUCTION_BYTES = 15;
/** Start offsets tried before giving up on decoding in step with an address. */
const SYNC_TRIES = MAX_INSTRUCTION_BYTES;

export interface Decoded {
  address: number;
  length: number;
  bytes: Uint8Array;
  text: string;
  invalid: boolean;
}

let formatter: Formatter | undefined;

function format(instruction: Instruction): string {
  formatter ??= new Formatter(FormatterSyntax.Intel);
  formatter.spaceAfterOperandSeparator = true;
  return formatter.format(instruction);
}

/** Decodes `bytes` (found at linear address `base`) from its start, up to `limit` instructions. */
export function decode(bytes: Uint8Array, base: number, bits: 16 | 32, limit = Number.MAX_SAFE_INTEGER): Decoded[] {
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  decoder.ip = BigInt(base);
  const out: Decoded[] = [];
  const instruction = new Instruction();
  try {
    for (let offset = 0; offset < bytes.length && out.length < limit;) {
      decoder.decodeOut(instruction);
      const length = Math.max(1, instruction.length);
      // A truncated instruction at the end of what was read is not an instruction yet.
      const invalid = instruction.isInvalid;
      if (invalid && offset + MAX_INSTRUCTION_BYTES > bytes.length) break;
      out.push({ address: (base + offset) >>> 0, length, bytes: bytes.subarray(offset, offset + length), text: invalid ? '(bad)' : format(instruction), invalid });
      offset += length;
      decoder.position = offset;
      decoder.ip = BigInt(base + offset);
    }
  } finally {
    instruction.free();
    decoder.free();
  }
  return out;
}

/**
 * The `count` instructions that end just before `address`, decoded from `bytes` (read from `base`,
 * which must be at least count × 15 bytes before it when it can be): the first start offset whose
 * decoding lands on `address` wins.
 */
export function decodeBefore(
  bytes: Uint8Array,
  base: number,
  address: number,
  count: number,
  bits: 16 | 32,
): Decoded[] {
  const end = address - base;
  for (let start = 0; start < Math.min(SYNC_TRIES, end); start++) {
    const decoded = decode(bytes.subarray(start, end), base + start, bits);
    const next = decoded.at(-1);
    if (next && next.address + next.length === address) return decoded.slice(-count);
  }
  return [];
}
