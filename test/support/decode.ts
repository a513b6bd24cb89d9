// Decoding guest code with iced-x86, to check stepping against an independent x86 decoder.
import { Decoder, DecoderOptions, FlowControl, Mnemonic } from 'iced-x86';

/** Instructions after which v86 may deliver an interrupt or end a block early. */
const MAY_INTERRUPT = new Set([Mnemonic.Sti, Mnemonic.Hlt, Mnemonic.In, Mnemonic.Out, Mnemonic.Popf, Mnemonic.Iret]);

export interface Decoded { length: number; flow: FlowControl; target: number; sti: boolean; mayInterrupt: boolean }

/** Decodes the 32-bit instruction in `bytes`, which start at address `eip`. */
export function decodeAt(bytes: Uint8Array, eip: number): Decoded {
  const decoder = new Decoder(32, bytes, DecoderOptions.None);
  decoder.ip = BigInt(eip);
  const instruction = decoder.decode();
  const { length, flowControl: flow, nearBranch32: target, mnemonic } = instruction;
  const decoded = { length, flow, target, sti: mnemonic === Mnemonic.Sti, mayInterrupt: MAY_INTERRUPT.has(mnemonic) };
  instruction.free();
  decoder.free();
  return decoded;
}
