// A machine's options: their defaults, their checks, and the v86 settings they become.
import { attachBiosImage, BiosFiles, checkBiosGiven, checkInitrdFits } from './bios';
import { BootFile, BootRole, BootSpec, CLI_OPTION_NAMES, loadBoot } from './bootfiles';
import { INSTRUCTIONS_PER_MS, type ClockMode } from './clock';
import { DiskOptions, GuestDisk } from './disk';
import { SECTOR_SIZE } from '../log';
import type { GuestImage } from './image';
import type { Nondeterminism } from './nondet';
import * as v86 from './v86types';

export const DEFAULT_EPOCH_LENGTH = 100_000_000;
export const DEFAULT_MEMORY_MIB = 32;
/** v86's boot order when it has no hard disk (CD-ROM, floppy, hard disk). */
const NO_DISK_BOOT_ORDER = 0x123;

export interface MachineOptions {
  image: GuestImage;
  nondet: Nondeterminism;
  cmdline?: string;
  memoryMiB?: number;
  jit?: boolean;
  clock?: ClockMode;
  epochLength?: number;
  /** Required for anything but a multiboot kernel. */
  bios?: BiosFiles;
  /** The guest's IDE disk (primary master), if it has one. */
  disk?: DiskOptions;
  /** The devices in the state hash: all of HASHED_DEVICES, unless a log recorded with fewer is checked. */
  hashedDevices?: readonly v86.HashedDevice[];
  /** The virtual clock's rate: INSTRUCTIONS_PER_MS, unless a log recorded at another is replayed. */
  instructionsPerMs?: number;
}

/** A machine's options but its source of nondeterminism. */
type Settings = Omit<MachineOptions, 'nondet'>;
/** The settings with their defaults filled in. */
export type ResolvedSettings = Required<Omit<Settings, 'bios' | 'cmdline' | 'disk'>> & Pick<Settings, 'bios' | 'cmdline' | 'disk'>;
/** The options with their defaults filled in. */
export type ResolvedOptions = ResolvedSettings & Pick<MachineOptions, 'nondet'>;

/**
 * A machine's options as a person gives them, the same for every command and launch configuration, as text that
 * travels (the host protocol): the boot files by path, and what is left out takes the guest's own or the default.
 */
export interface MachineSpec extends BootSpec {
  cmdline?: string;
  memoryMiB?: number;
  clock?: ClockMode;
  jit?: boolean;
  epochLength?: number;
  /** The virtual clock's rate (`--clock-rate`, launch attribute `clockRate`, given per µs). */
  instructionsPerMs?: number;
}

/** A spec's files read and its defaults resolved (as withDefaults does): the settings, and the boot files' records. */
export function resolveSpec(
  spec: MachineSpec,
  names: Record<BootRole, string> = CLI_OPTION_NAMES,
): { settings: ResolvedSettings; files: BootFile[] } {
  const { image, bios, files } = loadBoot(spec, names);
  const { cmdline, memoryMiB, clock, jit, epochLength, instructionsPerMs } = spec;
  const settings = withDefaults({ image, bios, cmdline, memoryMiB, clock, jit, epochLength, instructionsPerMs });
  validate(settings);
  return { settings, files };
}

/** Defaults, and what a guest that names its own boot files (linux) brings: BIOS, initrd, command line, memory. */
export function withDefaults<T extends Settings>(options: T): T & ResolvedSettings {
  const boot = options.image.boot;
  return {
    ...options,
    bios: options.bios ?? boot,
    cmdline: options.cmdline ?? boot?.cmdline,
    memoryMiB: options.memoryMiB ?? boot?.memoryMiB ?? DEFAULT_MEMORY_MIB,
    jit: options.jit ?? true,
    clock: options.clock ?? 'virtual',
    epochLength: options.epochLength ?? DEFAULT_EPOCH_LENGTH,
    hashedDevices: options.hashedDevices ?? v86.HASHED_DEVICES,
    instructionsPerMs: options.instructionsPerMs ?? INSTRUCTIONS_PER_MS,
  };
}

export function validate(options: ResolvedSettings): void {
  const { memoryMiB, epochLength, image, bios } = options;
  if (!Number.isInteger(memoryMiB) || memoryMiB < 4 || memoryMiB > 2048) {
    throw new RangeError(`memory must be a whole number of MiB from 4 to 2048, got ${memoryMiB}`);
  }
  if (!Number.isSafeInteger(epochLength) || epochLength < 100_000) {
    throw new RangeError(`epoch length must be a whole number of instructions of at least 100000, got ${epochLength}`);
  }
  const size = options.disk?.size;
  if (size !== undefined && (!Number.isSafeInteger(size) || size <= 0 || size % SECTOR_SIZE)) {
    throw new RangeError(`a disk must be a whole number of ${SECTOR_SIZE}-byte sectors, got ${size} bytes`);
  }
  checkBiosGiven(image, bios);
  checkInitrdFits(image, bios, memoryMiB);
}

/** v86's settings for a machine; `wasmFn` instantiates v86's wasm (the machine's hooks). */
export function v86Settings(
  options: ResolvedOptions,
  wasmFn: (imports: { env: Record<string, unknown> }) => Promise<v86.WasmExports>,
  disk?: GuestDisk,
): Record<string, unknown> {
  const { image, cmdline, memoryMiB, jit, bios } = options;
  const settings: Record<string, unknown> = {
    wasm_fn: wasmFn,
    memory_size: memoryMiB * 1024 * 1024,
    vga_memory_size: 2 * 1024 * 1024,
    autostart: false,
    disable_jit: !jit,
    disable_speaker: true,
    disable_keyboard: true,
    disable_mouse: true,
    acpi: false,
    cmdline: cmdline ?? '',
    log_level: 0,
    // Without it v86 restores neither the NE2000's MAC nor its card memory from a snapshot.
    preserve_mac_from_state_image: true,
  };
  if (disk && image.kind === 'disk') {
    // A disk-image guest is the primary master, which the BIOS boots: the disk is the primary slave (v86's hdb).
    settings.hdb = disk;
  } else if (disk) {
    settings.hda = disk;
    // v86 boots from a hard disk first when it has one: keep the boot order of a machine without.
    settings.boot_order = NO_DISK_BOOT_ORDER;
  }
  if (image.kind === 'multiboot') settings.multiboot = { buffer: v86.arrayBuffer(image.bytes) };
  else attachBiosImage(settings, image, bios!);
  return settings;
}
