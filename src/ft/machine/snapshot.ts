// Snapshots: the format of a machine's complete state (Machine.snapshot: v86's save_state plus what
// v86 keeps outside it), and snapshot files on disk.
//
// Snapshot files (`lockstep run --snapshot-file` / `--from-snapshot`) are sealed with a CRC-32. In
// memory (the debugger's snapshots, a clone's checkpoint chunks, which the channel checksums per frame)
// snapshots go unsealed: the CRC of 32 MiB costs about 13 ms, paid here once per file rather than at
// every epoch.
import { readFileSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { FIRST_INSTRUCTIONS_PER_MS, type ClockMode, type ClockState } from './clock';
import { PAGE_SIZE } from './hash';
import type { GuestImage } from './image';
import type { EpochSchedule } from './epochschedule';
import type { SavedJit } from './jitstate';

/** 2: the JIT's state after v86's (snapshots of format 1 were taken with the JIT's cache emptied, and are refused). */
const SNAPSHOT_FORMAT = 'lockstep-snapshot-2';
const SNAPSHOT_MAGIC = Buffer.from('LSSNAP\n\0', 'latin1');
/**
 * CPU fields that v86's save_state stores as its view objects instead of their values, so that
 * restore_state neither restores them nor leaves the views in place: snapshots carry them.
 */
export const UNSAVED_CPU_FIELDS = ['last_result', 'fpu_status_word', 'mxcsr'] as const;

/** Everything a snapshot carries besides v86's own state. */
export interface SnapshotHeader {
  format: string;
  image: string;
  memoryMiB: number;
  jit: boolean;
  clockMode: ClockMode;
  /** The virtual clock's rate (absent from snapshots of older versions: FIRST_INSTRUCTIONS_PER_MS). */
  instructionsPerMs?: number;
  epochLength: number;
  count: number;
  counter: number;
  clock: ClockState;
  rtcStart: number | undefined;
  epochs: EpochSchedule;
  idleInstructions: number;
  /** Port state v86 keeps outside its snapshot. */
  ports: { fastA20: number; firmwarePointer: number; exitCode?: number };
  ended: boolean;
  idleMs: number;
  serialInput: number[];
  tsc: string[];
  /** The guest's disk size in bytes, if it has one (its state is in v86's, see disk.ts). */
  diskSize?: number;
  /** UNSAVED_CPU_FIELDS, in order (absent from snapshots of older versions). */
  unsaved?: number[];
  /** The length of v86's state, which comes last. */
  stateBytes: number;
  /** The JIT's state (jitstate.ts) but its bytes: the pages', then each module's, before v86's state. */
  jitState: Omit<SavedJit, 'pageBytes' | 'modules'> & { moduleBytes: number[] };
}

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

type HeaderFields = Omit<SnapshotHeader, 'format' | 'stateBytes' | 'jitState'>;

/**
 * The header as JSON after the magic and its length (u32 little-endian), then the JIT's state, then v86's
 * (last: its bytes keep their offsets from the end, which checkpoints compare page by page).
 */
export function encodeSnapshot(header: HeaderFields, state: Uint8Array, jit: SavedJit): Uint8Array {
  const { pageBytes, modules, ...jitState } = jit;
  const full: SnapshotHeader = {
    format: SNAPSHOT_FORMAT,
    ...header,
    stateBytes: state.length,
    jitState: { ...jitState, moduleBytes: modules.map((module) => module.length) },
  };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return Buffer.concat([SNAPSHOT_MAGIC, length, json, pageBytes, ...modules, state]);
}

export interface DecodedSnapshot { header: SnapshotHeader; state: Uint8Array; jit: SavedJit }

export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 12 || !buffer.subarray(0, 8).equals(SNAPSHOT_MAGIC)) {
    throw new SnapshotError('not a Lockstep snapshot (bad magic at offset 0)');
  }
  const length = buffer.readUInt32LE(8);
  if (12 + length > buffer.length) throw new SnapshotError(`truncated snapshot: header of ${length} bytes at offset 12 runs past the end`);
  let header: SnapshotHeader;
  try {
    header = JSON.parse(buffer.subarray(12, 12 + length).toString('utf8')) as SnapshotHeader;
  } catch (error) {
    throw new SnapshotError(`damaged snapshot header at offset 12: ${(error as Error).message}`);
  }
  if (header.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotError(`unsupported snapshot format '${header.format}' (this Lockstep reads '${SNAPSHOT_FORMAT}', which carries the JIT's state: take the snapshot again)`);
  }
  return { header, ...splitTail(header, buffer.subarray(12 + length)) };
}

/** The JIT's state and v86's, as the header measures them. */
function splitTail(header: SnapshotHeader, tail: Buffer): { state: Uint8Array; jit: SavedJit } {
  const { stateBytes, jitState: { moduleBytes, ...jitState } } = header;
  const pagesEnd = jitState.pages.length * PAGE_SIZE;
  const modulesEnd = moduleBytes.reduce((sum, n) => sum + n, pagesEnd);
  if (tail.length !== modulesEnd + stateBytes) {
    throw new SnapshotError(`damaged snapshot: its header accounts for ${modulesEnd + stateBytes} bytes after it, there are ${tail.length}`);
  }
  let at = pagesEnd;
  const modules = moduleBytes.map((n) => tail.subarray(at, (at += n)));
  return { state: tail.subarray(modulesEnd), jit: { ...jitState, pageBytes: tail.subarray(0, pagesEnd), modules } };
}

/** A snapshot restores only into a machine of the same guest image. */
export function checkCompatible(header: SnapshotHeader, image: GuestImage, diskSize: number | undefined): void {
  if (header.image !== image.sha256) {
    throw new SnapshotError(`snapshot was taken of another guest image (sha256 ${header.image.slice(0, 12)}…, given ${image.sha256.slice(0, 12)}…)`);
  }
  if (header.diskSize !== diskSize) {
    const size = (bytes: number | undefined) => (bytes === undefined ? 'no disk' : `a disk of ${bytes} bytes`);
    throw new SnapshotError(`snapshot was taken of a machine with ${size(header.diskSize)}, this one has ${size(diskSize)}`);
  }
}

/** Restoring into a running machine also needs its settings to match (a new machine takes the snapshot's). */
export function checkSettings(
  header: SnapshotHeader,
  machine: { memoryMiB: number; jit: boolean; epochLength: number; clock: ClockMode; instructionsPerMs: number },
): void {
  const settings: [string, unknown, unknown][] = [
    ['memory', header.memoryMiB, machine.memoryMiB],
    ['jit', header.jit, machine.jit],
    ['epoch length', header.epochLength, machine.epochLength],
    ['clock', header.clockMode, machine.clock],
    ['clock rate (instructions per ms)', header.instructionsPerMs ?? FIRST_INSTRUCTIONS_PER_MS, machine.instructionsPerMs],
  ];
  const mismatch = settings.find(([, snapshot, ours]) => snapshot !== ours);
  if (mismatch) throw new SnapshotError(`snapshot has ${mismatch[0]} ${mismatch[1]}, this machine ${mismatch[2]}`);
}

// ---- snapshot files ----

const FILE_MAGIC = Buffer.from('LSSNAPF\n', 'latin1');
/** Magic, then the CRC-32 of the snapshot that follows (u32 little-endian). */
const PREFIX_BYTES = FILE_MAGIC.length + 4;

export function writeSnapshotFile(path: string, snapshot: Uint8Array): void {
  const prefix = Buffer.alloc(PREFIX_BYTES);
  FILE_MAGIC.copy(prefix);
  prefix.writeUInt32LE(crc32(snapshot), FILE_MAGIC.length);
  writeFileSync(path, Buffer.concat([prefix, snapshot]));
}

/** The snapshot a file holds, checked against its CRC; a bare snapshot (no seal) is taken as it is. */
export function readSnapshotFile(path: string): Uint8Array {
  const bytes = readFileSync(path);
  if (!bytes.subarray(0, FILE_MAGIC.length).equals(FILE_MAGIC)) return new Uint8Array(bytes);
  if (bytes.length < PREFIX_BYTES) throw new SnapshotError(`${path}: truncated snapshot file (${bytes.length} bytes)`);
  const snapshot = bytes.subarray(PREFIX_BYTES);
  const expected = bytes.readUInt32LE(FILE_MAGIC.length);
  if (crc32(snapshot) !== expected) {
    throw new SnapshotError(`${path}: damaged snapshot file: its ${snapshot.length} bytes after byte ${PREFIX_BYTES} do not match the checksum at byte ${FILE_MAGIC.length} (cut short or changed)`);
  }
  return new Uint8Array(snapshot);
}
