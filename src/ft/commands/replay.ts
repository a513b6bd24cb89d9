// Replaying a recorded log file (`lockstep replay`): rebuild the machine the log's header describes,
// feed it the logged inputs and nondeterministic values at their instruction counts, and check each
// logged epoch hash against the replay's.
import { FIRST_HASHED_DEVICES, GuestImage, HASHED_DEVICES, HashedDevice, loadImage, RecordedEvent } from '../machine';
import { LogMeta, readLogFile, type EpochEntry, type LogEntry } from '../log';
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

/** The image a log was recorded with: the one given, or its built-in guest; checked by SHA-256. */
export function imageFor(meta: LogMeta, imagePath: string | undefined): GuestImage {
  const image = imagePath === undefined ? recordedImage(meta) : loadImage(imagePath);
  if (image.sha256 !== meta.imageSha256) {
    throw new ReplayError(`${image.path} is not the image this log was recorded with (sha256 ${image.sha256.slice(0, 12)}…, the log wants ${meta.imageSha256.slice(0, 12)}…)`);
  }
  return image;
}

/** The built-in guest or image file the log names, or an error that says how to give it. */
function recordedImage(meta: LogMeta): GuestImage {
  try {
    return loadImage(meta.guest);
  } catch (error) {
    throw new ReplayError(`the log was recorded with ${JSON.stringify(meta.guest)}, which cannot be loaded here (${(error as Error).message}): give the image as well (lockstep replay FILE IMAGE, or "image" in a launch configuration)`);
  }
}

/** The disk a log was recorded with: in shared mode its reads are in the log, so FILE is not needed. */
function recordedDisk(meta: LogMeta, path: string): { size: number; mode: 'shared' } | undefined {
  if (!meta.disk) return undefined;
  if (meta.disk.mode !== 'shared') {
    throw new ReplayError(`${path} was recorded with a ${meta.disk.mode}-mode disk: its reads are not in the log, and replaying one is not supported yet`);
  }
  return { size: meta.disk.size, mode: 'shared' };
}

export async function replayLogFile(path: string, imagePath?: string): Promise<ReplayResult> {
  const { meta, entries, error } = await readLogFile(path);
  if (meta.firstSeq !== undefined && meta.firstSeq > 1) {
    throw new ReplayError(`${path} is a segment: its log starts at entry ${meta.firstSeq}, from a checkpoint, not at boot; replay the recording it belongs to`);
  }
  if (!entries.length) {
    throw new ReplayError(`${path} holds no log entries${error ? ` (${error.message})` : ''}: its recording ended before the first was written, so there is nothing to replay`);
  }
  const image = imageFor(meta, imagePath);
  const events = entries.filter((e): e is Extract<LogEntry, { kind: 'input' | 'nondet' }> => e.kind === 'input' || e.kind === 'nondet');
  const logged = entries.filter((e): e is EpochEntry => e.kind === 'epoch');
  const last = entries.at(-1)?.at ?? 0;
  const result = await runGuest({
    image,
    cmdline: meta.cmdline,
    clock: meta.clock,
    jit: meta.jit,
    memoryMiB: meta.memorySize / (1024 * 1024),
    epochLength: meta.epochLength,
    hashedDevices: hashedDevicesOf(meta),
    maxInstructions: last + 1,
    replay: events.map(({ seq: _seq, ...event }) => event as RecordedEvent),
    disk: recordedDisk(meta, path),
  });
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
  };
}
