// The files a machine boots from (image, BIOS, VGA BIOS, initrd; disks can join the list), named by path so
// that what to boot travels as text (the host protocol, a launch configuration) and a log header can record
// each file by content hash, which a replay then checks.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { biosProblem, type BiosFiles } from './bios';
import { loadImage, type GuestImage } from './image';

export type BootRole = 'image' | 'bios' | 'vga-bios' | 'initrd';

/** One boot file as a log header records it. */
export interface BootFile { role: BootRole; path: string; size: number; sha256: string }

/** What a machine boots, by path: a built-in guest name or an image file, and a BIOS (with its VGA BIOS, initrd). */
export interface BootSpec {
  guest: string;
  bios?: string;
  vgaBios?: string;
  initrd?: string;
}

/** What loadBoot read: the image, the BIOS files v86 takes (none for a multiboot kernel), and every file's record. */
export interface Boot {
  image: GuestImage;
  bios?: BiosFiles;
  files: BootFile[];
}

/** Debian's SeaBIOS VGA BIOS (package `seabios`), taken with --bios unless --vga-bios names another. */
export const DEFAULT_VGA_BIOS = '/usr/share/seabios/vgabios-stdvga.bin';

/** A boot file that cannot be read, is no BIOS, or is not the one a log was recorded with. */
export class BootFileError extends Error {
  override name = 'BootFileError';
}

/** How the command line names the option for a role (a launch configuration names its attributes instead). */
export const CLI_OPTION_NAMES: Record<BootRole, string> = { image: 'the image argument', bios: '--bios', 'vga-bios': '--vga-bios', initrd: '--initrd' };

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function bootFile(role: BootRole, path: string, bytes: Uint8Array): BootFile {
  return { role, path: resolve(path), size: bytes.length, sha256: sha256Hex(bytes) };
}

function problemOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}

/**
 * Reads the files `spec` names. A guest that brings its own (the linux guest's manifest) gives what the spec leaves
 * out; a BIOS named alone takes Debian's VGA BIOS. Errors name the option (`names`) and the file, on one line.
 */
export function loadBoot(spec: BootSpec, names: Record<BootRole, string> = CLI_OPTION_NAMES): Boot {
  const image = loadImage(spec.guest);
  const read = (role: BootRole, path: string): Uint8Array => {
    try {
      return new Uint8Array(readFileSync(path));
    } catch (error) {
      throw new BootFileError(`${names[role]}: cannot read ${path}: ${problemOf(error)}`);
    }
  };
  const own = image.boot;
  if (spec.bios === undefined && !own) {
    const stray = spec.initrd !== undefined ? 'initrd' : spec.vgaBios !== undefined ? 'vga-bios' : undefined;
    if (stray) throw new BootFileError(`${names[stray]} needs ${names.bios}`);
    return { image, files: [bootFile('image', image.path, image.bytes)] };
  }
  const biosPath = spec.bios ?? own!.paths.bios;
  const vgaPath = spec.vgaBios ?? (spec.bios === undefined ? own!.paths.vgaBios : DEFAULT_VGA_BIOS);
  const initrdPath = spec.initrd ?? own?.paths.initrd;
  const bios = read('bios', biosPath);
  const problem = biosProblem(bios);
  if (problem) throw new BootFileError(`${names.bios}: ${biosPath} is not a BIOS ROM: ${problem}`);
  const files: BiosFiles = { bios, vgaBios: read('vga-bios', vgaPath) };
  if (initrdPath !== undefined) files.initrd = read('initrd', initrdPath);
  return {
    image,
    bios: files,
    files: [
      bootFile('image', image.path, image.bytes),
      bootFile('bios', biosPath, files.bios),
      bootFile('vga-bios', vgaPath, files.vgaBios),
      ...(files.initrd ? [bootFile('initrd', initrdPath!, files.initrd)] : []),
    ],
  };
}

/**
 * Throws unless the files loaded for a replay are those a log was recorded with, role by role: one line naming the
 * file and both hashes, or the file the log wants that was not given.
 */
export function checkBootFiles(
  recorded: readonly BootFile[],
  loaded: readonly BootFile[],
  names = CLI_OPTION_NAMES,
): void {
  for (const want of recorded) {
    const have = loaded.find((file) => file.role === want.role);
    if (!have) throw new BootFileError(`the log was recorded with ${want.role} ${want.path} (sha256 ${want.sha256}), and none is given: name it with ${names[want.role]}`);
    if (have.sha256 !== want.sha256) {
      throw new BootFileError(`${have.path} (${want.role}) is not the file this log was recorded with: sha256 ${have.sha256} here, ${want.sha256} in the log (recorded from ${want.path})`);
    }
  }
  const extra = loaded.find((file) => !recorded.some((want) => want.role === file.role));
  if (extra) throw new BootFileError(`${extra.path} (${extra.role}): the log was recorded without a ${extra.role}`);
}
