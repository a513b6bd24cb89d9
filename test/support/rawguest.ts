// Tiny multiboot kernels assembled here, for behaviour no built-in guest has (an isa-debug-exit,
// RDRAND): a raw image whose multiboot header gives its load address (flag 16), loaded at 1 MiB.

const MAGIC = 0x1badb002;
const FLAGS = 0x00010000;
const LOAD = 0x100000;
const HEADER = 32;

/** The bytes of an image whose code (32-bit protected mode, interrupts off) is `code`. */
export function multibootImage(code: number[]): Uint8Array {
  const image = new Uint8Array(HEADER + code.length);
  const words = new DataView(image.buffer);
  const fields = [MAGIC, FLAGS, (-(MAGIC + FLAGS)) >>> 0, LOAD, LOAD, 0, 0, LOAD + HEADER];
  fields.forEach((value, i) => words.setUint32(i * 4, value, true));
  image.set(code, HEADER);
  return image;
}

const COM1 = [0x66, 0xba, 0xf8, 0x03]; // mov dx, 0x3f8
const out = (byte: number) => [0xb0, byte, 0xee]; // mov al, byte; out dx, al
const text = (s: string) => [...Buffer.from(s, 'latin1')].flatMap(out);
// rdrand eax; 4 × (out dx, al; shr eax, 8)
const RDRAND_TO_SERIAL = [0x0f, 0xc7, 0xf0, ...[0, 1, 2, 3].flatMap((i) => [...(i ? [0xc1, 0xe8, 0x08] : []), 0xee])];
const EXIT = (code: number) => [0xb0, code, 0xe6, 0xf4]; // mov al, code; out 0xf4, al
const HALT = [0xfa, 0xf4, 0xeb, 0xfc]; // cli; hlt; jmp back

/**
 * Prints four random bytes (RDRAND) and "bye\n", exits with `code` through port 0xF4, then prints "after" (which must
 * not be seen).
 */
export function exitGuest(code: number): Uint8Array {
  return multibootImage([...COM1, ...RDRAND_TO_SERIAL, ...text('bye\n'), ...EXIT(code), ...text('after\n'), ...HALT]);
}
