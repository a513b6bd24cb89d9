// Guest images: the built-in guests by name, or a file the user points at. A multiboot kernel boots
// with no BIOS; anything else needs a BIOS (e.g. Debian's seabios) and boots as a disk, CD or bzImage.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, extname, join, resolve } from 'node:path';

export const BUILTIN_GUESTS = ['spin', 'kv', 'lock', 'ticker'] as const;
export type BuiltinGuest = (typeof BUILTIN_GUESTS)[number];

const MULTIBOOT_MAGIC = 0x1badb002;
const MULTIBOOT_SEARCH_BYTES = 8192;

export type ImageKind = 'multiboot' | 'bzimage' | 'cdrom' | 'disk';

export interface GuestImage {
  /** Built-in name or file name. */
  name: string;
  path: string;
  kind: ImageKind;
  bytes: Uint8Array;
  sha256: string;
  /** How the image boots when its name says it all (the linux guest): BIOS, initrd, command line, memory. */
  boot?: GuestBoot;
}

export interface GuestBoot {
  bios: Uint8Array;
  vgaBios: Uint8Array;
  initrd?: Uint8Array;
  cmdline: string;
  memoryMiB: number;
  /** Where the files came from (log headers record them). */
  paths: { bios: string; vgaBios: string; initrd: string };
}

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The guest built from Debian's i386 packages by `npm run build:linux` (guests/linux/), outside git. */
export const LINUX_GUEST = 'linux';

/** Where `npm run build:linux` puts the linux guest: $LOCKSTEP_LINUX_DIR, else ~/.cache/lockstep/linux. */
export function linuxGuestDir(): string {
  return process.env.LOCKSTEP_LINUX_DIR || join(homedir(), '.cache', 'lockstep', 'linux');
}

interface LinuxManifest {
  cmdline: string;
  memoryMiB: number;
  bios: string;
  vgaBios: string;
  files: Record<'bzImage' | 'initrd.gz', { sha256: string }>;
}

/** The built linux guest: its bzImage, with the BIOS, initrd, command line and memory its manifest names. */
function loadLinuxGuest(): GuestImage {
  const dir = linuxGuestDir();
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) throw new ImageError(`the linux guest is not built (no ${manifestPath}): run \`npm run build:linux\``);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as LinuxManifest;
  const read = (path: string, sha256?: string): Uint8Array => {
    if (!existsSync(path)) throw new ImageError(`the linux guest is incomplete (no ${path}): run \`npm run build:linux\``);
    const bytes = new Uint8Array(readFileSync(path));
    if (sha256 && sha256Hex(bytes) !== sha256) {
      throw new ImageError(`${path} is not what ${manifestPath} says was built: run \`npm run build:linux\``);
    }
    return bytes;
  };
  const path = join(dir, 'bzImage');
  const bytes = read(path, manifest.files.bzImage.sha256);
  const paths = { bios: manifest.bios, vgaBios: manifest.vgaBios, initrd: join(dir, 'initrd.gz') };
  return {
    name: LINUX_GUEST,
    path,
    kind: classify(bytes, path),
    bytes,
    sha256: manifest.files.bzImage.sha256,
    boot: {
      bios: read(paths.bios),
      vgaBios: read(paths.vgaBios),
      initrd: read(paths.initrd, manifest.files['initrd.gz'].sha256),
      cmdline: manifest.cmdline,
      memoryMiB: manifest.memoryMiB,
      paths,
    },
  };
}

export class ImageError extends Error {
  override name = 'ImageError';
}

/** The folder holding the built images: beside the bundle when packaged, else guests/images. */
export function imagesDir(): string {
  // dist/guests beside the bundle; guests/images beside dist/; from source (src/ft/machine), the repo's.
  const candidates = [join(__dirname, 'guests'), join(__dirname, '..', 'guests', 'images'), join(__dirname, '..', '..', '..', 'guests', 'images')];
  const found = candidates.find((dir) => existsSync(join(dir, 'kv.elf')));
  if (!found) throw new ImageError(`the built-in guest images are missing (looked in ${candidates.join(', ')})`);
  return found;
}

export function isBuiltin(name: string): name is BuiltinGuest {
  return (BUILTIN_GUESTS as readonly string[]).includes(name);
}

function hasMultibootHeader(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = Math.min(bytes.length, MULTIBOOT_SEARCH_BYTES) - 12;
  for (let offset = 0; offset <= end; offset += 4) {
    if (view.getUint32(offset, true) !== MULTIBOOT_MAGIC) continue;
    const flags = view.getUint32(offset + 4, true);
    if (((MULTIBOOT_MAGIC + flags + view.getUint32(offset + 8, true)) >>> 0) === 0) return true;
  }
  return false;
}

function isBzImage(bytes: Uint8Array): boolean {
  return bytes.length > 0x206 && Buffer.from(bytes.subarray(0x202, 0x206)).toString('latin1') === 'HdrS';
}

function isIso(bytes: Uint8Array): boolean {
  return bytes.length > 0x8006 && Buffer.from(bytes.subarray(0x8001, 0x8006)).toString('latin1') === 'CD001';
}

function hasBootSignature(bytes: Uint8Array): boolean {
  return bytes.length >= 512 && bytes[510] === 0x55 && bytes[511] === 0xaa;
}

export function classify(bytes: Uint8Array, path: string): ImageKind {
  if (hasMultibootHeader(bytes)) return 'multiboot';
  if (isBzImage(bytes)) return 'bzimage';
  if (isIso(bytes)) return 'cdrom';
  if (hasBootSignature(bytes)) return 'disk';
  throw new ImageError(
    `${path}: not a bootable image (no multiboot header in its first 8 KiB, not a bzImage, not an ISO 9660 CD, no boot sector signature)`,
  );
}

/** Resolves a built-in guest name or an image path. Errors name what was wrong. */
export function loadImage(nameOrPath: string): GuestImage {
  if (nameOrPath === LINUX_GUEST) return loadLinuxGuest();
  const path = isBuiltin(nameOrPath) ? join(imagesDir(), `${nameOrPath}.elf`) : resolve(nameOrPath);
  if (!isBuiltin(nameOrPath) && !existsSync(path)) {
    throw new ImageError(
      `unknown guest '${nameOrPath}': not a built-in guest (${BUILTIN_GUESTS.join(', ')}), not ${LINUX_GUEST}, and no such file`,
    );
  }
  if (statSync(path).isDirectory()) throw new ImageError(`${path}: is a directory, not a guest image`);
  const bytes = new Uint8Array(readFileSync(path));
  return {
    name: isBuiltin(nameOrPath) ? nameOrPath : basename(path),
    path,
    kind: classify(bytes, path),
    bytes,
    sha256: sha256Hex(bytes),
  };
}

/** Built-in guests that exist as images (for listings and tests). */
export function builtinImages(): string[] {
  return readdirSync(imagesDir()).filter((f) => extname(f) === '.elf').map((f) => basename(f, '.elf'));
}
