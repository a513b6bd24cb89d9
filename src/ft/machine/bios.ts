// The BIOS: what a machine that boots anything but a multiboot kernel needs, how it is handed to
// v86, and the check that a file can be one at all.
import type { GuestImage } from './image';
import { arrayBuffer } from './v86types';

export interface BiosFiles { bios: Uint8Array; vgaBios: Uint8Array; initrd?: Uint8Array }

/**
 * Why `rom` cannot be a PC BIOS, or undefined: a BIOS fills whole 64 KiB blocks below 1 MiB and
 * starts at its reset vector, 16 bytes from its end, with a jump. Without one the CPU runs whatever
 * is there, and nothing ever says so.
 */
export function biosProblem(rom: Uint8Array): string | undefined {
  if (rom.length === 0 || rom.length % 0x10000 !== 0 || rom.length > 0x100000) return `${rom.length} bytes, where a BIOS fills whole 64 KiB blocks (SeaBIOS: 128 or 256 KiB)`;
  const reset = rom[rom.length - 16];
  if (![0xea, 0xe9, 0xeb].includes(reset)) return `no jump at its reset vector (16 bytes from the end: 0x${reset.toString(16).padStart(2, '0')})`;
  return undefined;
}

/** Puts the BIOS and the image it boots into v86's settings. */
export function attachBiosImage(settings: Record<string, unknown>, image: GuestImage, bios: BiosFiles): void {
  settings.bios = { buffer: arrayBuffer(bios.bios) };
  settings.vga_bios = { buffer: arrayBuffer(bios.vgaBios) };
  const buffer = { buffer: arrayBuffer(image.bytes) };
  if (image.kind === 'bzimage') {
    settings.bzimage = buffer;
    if (bios.initrd) settings.initrd = { buffer: arrayBuffer(bios.initrd) };
  } else if (image.kind === 'cdrom') settings.cdrom = buffer;
  else settings.hda = buffer;
}

/** Where v86 puts a bzImage's initrd in guest memory. */
const INITRD_AT = 64 * 1024 * 1024;

/** Throws unless the initrd fits in guest memory where v86 puts it (it threw a RangeError from deep inside). */
export function checkInitrdFits(image: GuestImage, bios: BiosFiles | undefined, memoryMiB: number): void {
  if (image.kind !== 'bzimage' || !bios?.initrd) return;
  const needed = Math.ceil((INITRD_AT + bios.initrd.length) / (1024 * 1024));
  if (needed > memoryMiB) {
    throw new RangeError(`the initrd (${bios.initrd.length} bytes) does not fit in ${memoryMiB} MiB of memory: v86 puts it at 64 MiB, so it needs at least ${needed} MiB (--memory ${needed})`);
  }
}

/** Throws unless a BIOS is given for an image that needs one (anything but a multiboot kernel). */
export function checkBiosGiven(image: GuestImage, bios: BiosFiles | undefined): void {
  if (image.kind !== 'multiboot' && !bios) {
    throw new RangeError(`${image.path}: a ${image.kind} image needs a BIOS (e.g. --bios /usr/share/seabios/bios.bin)`);
  }
}
