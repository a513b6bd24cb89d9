// Guest code as text, decoded with iced-x86: the disassembly view, and the current instruction in
// the call stack. x86 cannot be decoded backwards, and a guess of where instructions before an
// address start changes with where the guess starts: code is instead decoded forwards from fixed
// places (see code.ts), in step with the instruction boundaries the debugger knows to be true.
import { Decoder, DecoderOptions, Formatter, FormatterSyntax, Instruction } from 'iced-x86';

/** Longest x86 instruction. */
export const MAX_INSTRUCTION_BYTES = 15;

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
 * Decodes `bytes` (found at linear address `base`) from its start, in step with every address in
 * `anchors` (true instruction boundaries): an instruction that would run over one is cut short there
 * and shown as data (`db`), and decoding goes on at the anchor. The same bytes, base and anchors
 * always give the same lines, wherever a reader looks into them.
 */
export function sweep(bytes: Uint8Array, base: number, bits: 16 | 32, anchors: ReadonlySet<number>): Decoded[] {
  const out: Decoded[] = [];
  for (let offset = 0, cut: number | undefined; offset < bytes.length; offset = cut) {
    cut = undefined;
    for (const next of decode(bytes.subarray(offset), base + offset, bits)) {
      for (let k = 1; k < next.length && cut === undefined; k++) {
        if (anchors.has((base + offset + k) >>> 0)) cut = offset + k;
      }
      if (cut !== undefined) {
        out.push(data(bytes.subarray(offset, cut), base + offset));
        break;
      }
      out.push(next);
      offset += next.length;
    }
    if (cut === undefined) break;
  }
  return out;
}

function data(bytes: Uint8Array, address: number): Decoded {
  const text = `db ${Array.from(bytes, (b) => `${b.toString(16).padStart(2, '0')}h`).join(', ')}`;
  return { address: address >>> 0, length: bytes.length, bytes, text, invalid: true };
}
