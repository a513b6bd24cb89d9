// A recording made under FT is spread over the hosts while they run: the first primary writes FILE,
// every backup writes FILE.host-N beside it (see docs/ft.md). `lockstep ft` joins them when it stops.
// If it never got that far (killed), recoverRecording() joins them from what the files themselves
// say: their session, and which hosts logged a `go-live` entry.
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { goodEntries, joinLogFiles, LogFileReader, LogMeta } from './logfile';

export class RecordingError extends Error {
  override name = 'RecordingError';
}

/** Where host `host` (e.g. "host-2") of a recording to `file` writes its part. */
export function segmentFile(file: string, host: string): string {
  return `${file}.${host}`;
}

export interface RecoveredRecording {
  /** The files joined into the recording, in order (the first is the recording itself). */
  joined: string[];
  /** Segments of the same session removed once their entries were in (or were never needed). */
  removed: string[];
  /** Host files beside it whose header cannot be read (a host killed while creating one): whose run they are is unknown, so they are left alone. */
  unreadable: { path: string; reason: string }[];
}

/**
 * Joins what a killed `lockstep ft --record FILE` left: FILE, then the segments of the hosts that
 * went live in turn (host numbers grow as hosts are started, and only the live primary's backup can
 * go live), each up to where the next was cloned from it. Segments of other sessions are left alone.
 */
export async function recoverRecording(file: string): Promise<RecoveredRecording> {
  const { session } = await readMeta(file);
  if (session === undefined) throw new RecordingError(`${file} has no session id (recorded by an older Lockstep): its hosts' segments cannot be told from others'`);
  const { ours, unreadable } = await hostFiles(file, session);
  const live = [file];
  for (const segment of ours) if (await wentLive(segment)) live.push(segment);
  if (live.length > 1) await joinLogFiles(live, file);
  await Promise.all(ours.map((segment) => rm(segment, { force: true })));
  return { joined: live, removed: ours, unreadable };
}

/** Host files of FILE's run still beside it: FILE is then not the whole recording until joined. `meta`: FILE's, if already read. */
export async function unjoinedSegments(file: string, meta?: LogMeta): Promise<string[]> {
  const { session } = meta ?? (await readMeta(file));
  return session === undefined ? [] : (await hostFiles(file, session)).ours;
}

/** Recording over an earlier run's FILE whose host files were never joined would lose that run: refuse. */
export async function refuseToOverwriteUnjoined(file: string): Promise<void> {
  if (!existsSync(file)) return;
  // A FILE that is not a readable log is no recording to lose.
  const unjoined = await unjoinedSegments(file).catch(() => []);
  if (!unjoined.length) return;
  throw new RecordingError(`${file} is the recording of an earlier run that was never joined (${unjoined.map((path) => basename(path)).join(', ')} lie beside it): \`lockstep join ${file}\` first, or record to another file`);
}

/** FILE.host-N files beside FILE, by host number: those of this session, and those whose header cannot be read. */
async function hostFiles(file: string, session: string): Promise<Pick<RecoveredRecording, 'unreadable'> & { ours: string[] }> {
  const prefix = `${basename(file)}.host-`;
  const numbered = (await readdir(dirname(file)))
    .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .map((name) => ({ path: join(dirname(file), name), host: Number(name.slice(prefix.length)) }))
    .sort((a, b) => a.host - b.host);
  const ours: string[] = [];
  const unreadable: RecoveredRecording['unreadable'] = [];
  for (const { path } of numbered) {
    try {
      if ((await readMeta(path)).session === session) ours.push(path);
    } catch (error) {
      unreadable.push({ path, reason: (error as Error).message });
    }
  }
  return { ours, unreadable };
}

async function readMeta(path: string): Promise<LogMeta> {
  const reader = await LogFileReader.open(path);
  await reader.close();
  return reader.meta;
}

/** Whether the host that wrote `segment` went live: it logged a go-live entry (before any damage). */
async function wentLive(segment: string): Promise<boolean> {
  const reader = await LogFileReader.open(segment);
  try {
    for await (const entry of goodEntries(reader)) if (entry.kind === 'control' && entry.op === 'go-live') return true;
    return false;
  } finally {
    await reader.close();
  }
}
