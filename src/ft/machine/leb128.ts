// Unsigned LEB128, the variable-length integers of the wasm binary format: what the modules this folder
// builds or patches (v86wasm.ts, jitexit.ts, pagehasher.ts) write for sizes, counts and indices.

/** `value` (a non-negative 32-bit integer) as unsigned LEB128 bytes. */
export function uleb128(value: number): number[] {
  const out: number[] = [];
  do {
    const byte = value & 0x7f;
    value >>>= 7;
    out.push(value ? byte | 0x80 : byte);
  } while (value);
  return out;
}
