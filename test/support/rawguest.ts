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

// ---- an IDE disk by PIO (primary master, LBA28, one sector at a time, interrupts off: it polls) ----

const u32 = (value: number) => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
const port = (p: number) => [0x66, 0xba, p & 0xff, p >> 8]; // mov dx, p
const outByte = (p: number, byte: number) => [...port(p), ...out(byte)];
/** Where a command's LBA comes from (into eax): a constant, or the round number (ebx) plus `plus`. */
const fixedLba = (lba: number) => [0xb8, ...u32(lba)]; // mov eax, lba
const roundLba = (plus: number) => [0x8d, 0x43, plus]; // lea eax, [ebx + plus]
const SHR_EAX_8 = [0xc1, 0xe8, 0x08];
/**
 * Sends an ATA command for one sector at the LBA `lba` loads (below 2^24: LBA bits 24-27 are 0), then waits
 * for DRQ (in al, dx; test al, 8; jz back).
 */
const ata = (lba: number[], command: number) => [
  ...outByte(0x1f6, 0xe0), ...outByte(0x1f2, 1),
  ...lba, ...port(0x1f3), 0xee, ...SHR_EAX_8, ...port(0x1f4), 0xee, ...SHR_EAX_8, ...port(0x1f5), 0xee,
  ...outByte(0x1f7, command), 0xec, 0xa8, 0x08, 0x74, 0xfb,
];
const BUFFER = 0x200000;
const SECTOR_WORDS = [0xb9, ...u32(256), ...port(0x1f0)]; // mov ecx, 256; mov dx, 0x1f0
// mov edi, BUFFER; rep insw  /  mov esi, BUFFER; rep outsw
const readSector = (lba: number[]) => [...ata(lba, 0x20), 0xbf, ...u32(BUFFER), ...SECTOR_WORDS, 0xf3, 0x66, 0x6d];
const writeSector = (lba: number[]) => [...ata(lba, 0x30), 0xbe, ...u32(BUFFER), ...SECTOR_WORDS, 0xf3, 0x66, 0x6f];
const printBuffer = (bytes: number) => [0xbe, ...u32(BUFFER), 0xb9, ...u32(bytes), ...COM1, 0xf3, 0x6e]; // rep outsb
const INCREMENT_FIRST_BYTE = [0xfe, 0x05, ...u32(BUFFER)]; // inc byte [BUFFER]
/** Spins about 3 × `n` instructions (mov ecx, n; loop $), so a run spans epochs. */
const spin = (n: number) => (n ? [0xb9, ...u32(n), 0xe2, 0xfe] : []);

/** Runs `body` for the rounds ebx = from .. to - 1 (mov ebx, from; body; inc ebx; cmp ebx, to; jb back), if any. */
function rounds(from: number, to: number, body: number[]): number[] {
  if (to <= from) return [];
  const tail = [0x43, 0x81, 0xfb, ...u32(to)];
  const back = -(body.length + tail.length + 6);
  return [0xbb, ...u32(from), ...body, ...tail, 0x0f, 0x82, ...u32(back >>> 0)];
}

/**
 * For each of `count` rounds: reads sector 1, prints its first 16 bytes, adds one to its first byte and
 * writes it back (and to sector 2 + round), spinning `spinFor` loops between disk commands. Then
 * exits with 0. With `warmup`, that many rounds come first, then the line "go", and after the last
 * round the line "end": a benchmark times the rounds between them, the emulator's code compiled.
 * The rounds are a loop (the round number in ebx), as a program's hot code is: one page of code, so
 * the JIT compiles it again at each epoch to the same wasm, which it has compiled before (jitmodules.ts).
 */
export function diskGuest(count: number, spinFor = 0, warmup?: number): Uint8Array {
  const round = [
    ...readSector(fixedLba(1)), ...printBuffer(16), ...out(0x0a), ...INCREMENT_FIRST_BYTE, ...spin(spinFor),
    ...writeSector(fixedLba(1)), ...spin(spinFor), ...writeSector(roundLba(2)), ...spin(spinFor),
  ];
  const body = warmup === undefined
    ? rounds(0, count, round)
    : [...rounds(0, warmup, round), ...COM1, ...text('go\n'), ...rounds(warmup, warmup + count, round), ...COM1, ...text('end\n')];
  return multibootImage([0xfc, ...body, ...EXIT(0), ...HALT]);
}

// ---- a BIOS boot sector (16-bit real mode) on the IDE primary slave, by PIO ----

const port16 = (p: number) => [0xba, p & 0xff, p >> 8]; // mov dx, p
const outByte16 = (p: number, byte: number) => [...port16(p), ...out(byte)];
/** An ATA command for one sector at `lba` of the primary slave (drive select 0xF0), then waits for DRQ. */
const slaveAta = (lba: number, command: number) => [
  ...outByte16(0x1f6, 0xf0 | ((lba >>> 24) & 0x0f)), ...outByte16(0x1f2, 1),
  ...outByte16(0x1f3, lba & 0xff), ...outByte16(0x1f4, (lba >>> 8) & 0xff), ...outByte16(0x1f5, (lba >>> 16) & 0xff),
  ...outByte16(0x1f7, command), 0xec, 0xa8, 0x08, 0x74, 0xfb,
];
/** The sector buffer at 0x8000: off the code's 4 KiB page (0x7C00), above the stack (below 0x6000). */
const SECTOR_WORDS16 = [0xb9, 0x00, 0x01, ...port16(0x1f0)]; // mov cx, 256; mov dx, 0x1f0
// mov di, 0x8000; rep insw  /  mov si, 0x8000; rep outsw
const slaveRead = (lba: number) => [...slaveAta(lba, 0x20), 0xbf, 0x00, 0x80, ...SECTOR_WORDS16, 0xf3, 0x6d];
const slaveWrite = (lba: number) => [...slaveAta(lba, 0x30), 0xbe, 0x00, 0x80, ...SECTOR_WORDS16, 0xf3, 0x6f];

/**
 * A boot sector (a disk image the BIOS boots from the primary master) that reads sector 1 of the primary slave,
 * prints its first 16 bytes and a newline, adds one to its first byte, writes it back to sector 1 and to
 * sector 2, and halts (cli; hlt).
 */
export function slaveDiskBootSector(): Uint8Array {
  const code = [
    // cli; ds = es = ss = 0; sp = 0x6000; cld
    0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x60, 0xfc,
    ...slaveRead(1),
    // mov si, 0x8000; mov cx, 16; rep outsb to COM1; "\n"
    0xbe, 0x00, 0x80, 0xb9, 0x10, 0x00, ...port16(0x3f8), 0xf3, 0x6e, ...out(0x0a),
    0xfe, 0x06, 0x00, 0x80, // inc byte [0x8000]
    ...slaveWrite(1), ...slaveWrite(2), ...HALT,
  ];
  const sector = new Uint8Array(512);
  sector.set(code);
  sector.set([0x55, 0xaa], 510);
  return sector;
}
