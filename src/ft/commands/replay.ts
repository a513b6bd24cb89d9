// Replaying a recorded log file (`lockstep replay`): rebuild the machine the log's header describes,
// feed it the logged inputs and nondeterministic values at their instruction counts, and check each
// logged epoch hash against the replay's.
import { existsSync } from 'node:fs';
import {
  BootRole, BootSpec, checkBootFiles, CLI_OPTION_NAMES, DiskFile, DiskOverlay, FIRST_HASHED_DEVICES,
  FIRST_INSTRUCTIONS_PER_MS, HASHED_DEVICES,
  HashedDevice, isBuiltin, LINUX_GUEST, loadImage, RecordedEvent, resolveSpec, type ResolvedSettings,
} from '../machine';
import { isComplete, LogMeta, readLogFile, type EndHow, type EpochEntry, type LogEntry } from '../log';
import { RunResult, runGuest } from './run';

export class ReplayError extends Error {
  override name = 'ReplayError';
}

export interface ReplayResult extends RunResult {
  meta: LogMeta;
  entries: number;
  /** Epochs whose logged hash the replay reproduced, and those it did not. */
  epochsMatched: number;
  epochMismatches: { epoch: number; at: number; logged: string; replayed: string }[];
  /** Set when the file was cut short or corrupted: the replay covers the good prefix only. */
  fileError?: string;
  /** The file ends with the end entry of a recording closed cleanly: nothing of the run is missing from it. */
  complete: boolean;
  /** How the recording ended, from its end entry (`killed`: `lockstep join` recovered a killed run); none: unknown. */
  ended?: EndHow;
}

/** The devices a log's epoch hashes cover: what its meta says, or, in files from before it said, the first set. */
export function hashedDevicesOf(meta: LogMeta): readonly HashedDevice[] {
  const named: unknown = meta.hashedDevices;
  if (named === undefined) return FIRST_HASHED_DEVICES;
  if (!Array.isArray(named)) throw new ReplayError(`the log's metadata field hashedDevices is not a list of device names: ${JSON.stringify(named)}`);
  const known: readonly unknown[] = HASHED_DEVICES;
  const unknown = named.filter((d) => !known.includes(d));
  if (unknown.length) throw new ReplayError(`the log's epoch hashes cover devices this Lockstep does not hash: ${unknown.map((d) => JSON.stringify(d)).join(', ')}`);
  return named as HashedDevice[];
}

/** The virtual clock's rate a log was recorded at: what its meta says, or, in files from before it said, the first. */
export function instructionsPerMsOf(meta: LogMeta): number {
  const rate: unknown = meta.instructionsPerMs;
  if (rate === undefined) return FIRST_INSTRUCTIONS_PER_MS;
  if (!Number.isSafeInteger(rate) || (rate as number) <= 0) throw new ReplayError(`the log's metadata field instructionsPerMs is not a positive whole number: ${JSON.stringify(rate)}`);
  return rate as number;
}

/**
 * Boot files given for a replay, by path: each takes the place of the one the log's header names; `disk`, the
 * disk as it was when a local-mode run started.
 */
export type ReplayFiles = { image?: string; disk?: string } & Omit<BootSpec, 'guest'>;

/**
 * The machine a log was recorded on: its settings from the header, its boot files where the header says they were
 * (or where `given` says), each checked against the header's hash. `names`: how the options are called, for errors.
 */
export function machineFor(meta: LogMeta, given: ReplayFiles = {}, names = CLI_OPTION_NAMES): ResolvedSettings {
  checkJitKept(meta);
  const recorded = meta.bootFiles ?? [];
  const givenPaths: Record<BootRole, string | undefined> = { image: given.image, bios: given.bios, 'vga-bios': given.vgaBios, initrd: given.initrd };
  const pathOf = (role: BootRole): string | undefined => {
    if (givenPaths[role] !== undefined) return givenPaths[role];
    const path = recorded.find((file) => file.role === role)?.path;
    if (path !== undefined && !existsSync(path)) throw new ReplayError(`the log was recorded with ${role} ${path}, which is not here: give it with ${names[role]}`);
    return path;
  };
  // A built-in guest is found by name wherever Lockstep is installed; an image file where it was.
  const named = isBuiltin(meta.guest) || meta.guest === LINUX_GUEST;
  const guest = given.image ?? (named ? meta.guest : pathOf('image') ?? meta.guest);
  checkImage(meta, guest, given.image === undefined);
  const { settings, files } = resolveSpec({
    guest,
    bios: pathOf('bios'),
    vgaBios: pathOf('vga-bios'),
    initrd: pathOf('initrd'),
    cmdline: meta.cmdline,
    memoryMiB: meta.memorySize / (1024 * 1024),
    clock: meta.clock,
    jit: meta.jit,
    epochLength: meta.epochLength,
  }, names);
  // A log from before boot files were recorded has the image's hash alone.
  if (meta.bootFiles) checkBootFiles(meta.bootFiles, files, names);
  return { ...settings, instructionsPerMs: instructionsPerMsOf(meta) };
}

/** A recording made with the JIT on when epochs emptied its cache ran other slices than a replay now would. */
function checkJitKept(meta: LogMeta): void {
  if (meta.jit && meta.jitKept !== true) {
    throw new ReplayError("the log was recorded with the JIT on by an older Lockstep, whose epochs emptied the JIT's cache (no jitKept in its header): this one keeps the JIT's code across epochs, so its slices would end elsewhere; replay it with the Lockstep that recorded it");
  }
}

/** Throws unless `guest` loads and is the image the log was recorded with (checked by SHA-256). */
function checkImage(meta: LogMeta, guest: string, fromLog: boolean): void {
  let image;
  try {
    image = loadImage(guest);
  } catch (error) {
    if (!fromLog) throw error;
    throw new ReplayError(`the log was recorded with ${JSON.stringify(meta.guest)}, which cannot be loaded here (${(error as Error).message}): give the image as well (lockstep replay FILE IMAGE, or "image" in a launch configuration)`);
  }
  if (image.sha256 !== meta.imageSha256) {
    throw new ReplayError(`${image.path} is not the image this log was recorded with: sha256 ${image.sha256} here, ${meta.imageSha256} in the log`);
  }
}

export type ReplayDisk = NonNullable<Parameters<typeof runGuest>[0]['disk']>;

/**
 * The disk a log was recorded with. Shared mode: its reads are in the log, so no file is needed. Local mode:
 * only their completions are, so the replay reads the disk as it was when the run started (FILE, which a
 * local-mode run never writes, or `given`), checked against the header's size and hash, and keeps the guest's
 * writes in memory. `close` lets go of the file after the replay. `howToGive` ends the error for a missing FILE.
 */
export function recordedDisk(
  meta: LogMeta,
  given: string | undefined,
  howToGive = 'give it with --disk FILE',
): { disk?: ReplayDisk; close: () => void } {
  const none = () => undefined;
  if (given !== undefined && meta.disk?.mode !== 'local') {
    const what = meta.disk ? 'a shared-mode disk: its reads are in the log' : 'no disk';
    throw new ReplayError(`${given} is given as its disk, but the log was recorded with ${what}, so the replay needs no disk file`);
  }
  if (!meta.disk) return { close: none };
  const { mode, size, sha256, path } = meta.disk;
  if (mode === 'shared') return { disk: { size, mode }, close: none };
  if (given === undefined && !existsSync(path)) {
    throw new ReplayError(`the log was recorded with a local-mode disk, ${path}, which is not here: its reads are not in the log, so the replay needs that disk as it was at the start: ${howToGive}`);
  }
  const file = DiskFile.open(given ?? path, true);
  const identity = file.identity();
  if (identity.size !== size || identity.sha256 !== sha256) {
    file.close();
    const here = identity.size !== size ? `${identity.size} bytes here, ${size}` : `sha256 ${identity.sha256} here, ${sha256}`;
    throw new ReplayError(`${file.path} is not the disk this log's run started with: ${here} in the log (a local-mode run leaves FILE as it was and writes FILE.host-N)`);
  }
  return { disk: { size, mode, file: new DiskOverlay(file) }, close: () => file.close() };
}

export async function replayLogFile(path: string, given: ReplayFiles = {}): Promise<ReplayResult> {
  const contents = await readLogFile(path);
  const { meta, entries, end, error } = contents;
  if (meta.firstSeq !== undefined && meta.firstSeq > 1) {
    throw new ReplayError(`${path} is a segment: its log starts at entry ${meta.firstSeq}, from a checkpoint, not at boot; replay the recording it belongs to`);
  }
  if (!entries.length) {
    throw new ReplayError(`${path} holds no log entries${error ? ` (${error.message})` : ''}: its recording ended before the first was written, so there is nothing to replay`);
  }
  const settings = machineFor(meta, given);
  const events = entries.filter((e): e is Extract<LogEntry, { kind: 'input' | 'nondet' }> => e.kind === 'input' || e.kind === 'nondet');
  const logged = entries.filter((e): e is EpochEntry => e.kind === 'epoch');
  const last = entries.at(-1)?.at ?? 0;
  const { disk, close } = recordedDisk(meta, given.disk);
  const result = await runGuest({
    ...settings,
    hashedDevices: hashedDevicesOf(meta),
    maxInstructions: last + 1,
    replay: events.map(({ seq: _seq, ...event }) => event as RecordedEvent),
    disk,
  }).finally(close);
  const replayed = new Map(result.epochs.map((e) => [e.index, e]));
  const mismatches = logged
    .filter((e) => replayed.get(e.epoch)?.hash !== e.hash)
    .map((e) => ({ epoch: e.epoch, at: e.at, logged: e.hash, replayed: replayed.get(e.epoch)?.hash ?? 'not reached' }));
  return {
    ...result,
    meta,
    entries: entries.length,
    epochsMatched: logged.length - mismatches.length,
    epochMismatches: mismatches,
    fileError: error?.message,
    complete: isComplete(contents),
    ended: end?.how,
  };
}
