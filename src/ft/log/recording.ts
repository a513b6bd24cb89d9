// A recording made under FT is spread over the hosts while they run: the first primary writes FILE,
// every backup writes FILE.host-N beside it (see docs/ft.md). `lockstep ft` joins them when it stops.
// If it never got that far (killed), recoverRecording() joins them from what the files themselves
// say: their session, and which hosts logged a `go-live` entry.
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { joinLogFiles, LogFileReader, LogMeta, readLogFile } from './logfile';
import type { EndHow } from './log';

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
  /** Segments of the same session left in place: they hold entries the joined recording lacks. */
  kept: { path: string; reason: string }[];
  /** Files whose reading ended at a bad frame other than a partial last one (which a killed host leaves). */
  damaged: { path: string; reason: string }[];
  /**
   * Host files beside it whose header cannot be read (a host killed while creating one): whose run they are is
   * unknown, so they are left alone.
   */
  unreadable: { path: string; reason: string }[];
  /**
   * How the recording ends now: `killed` once join has ended it with an end entry saying its run was killed, `closed`
   * when it already ended with one (nothing to join), undefined when FILE itself is damaged and was left as it is.
   */
  ended?: EndHow;
}

/**
 * Joins what a killed `lockstep ft --record FILE` left: FILE, then the segments of the hosts that
 * went live in turn (host numbers grow as hosts are started, and only the live primary's backup can
 * go live), each up to where the next was cloned from it, then the last one's backup if it holds
 * more. Segments of other sessions are left alone.
 */
export async function recoverRecording(file: string): Promise<RecoveredRecording> {
  const { session } = await readMeta(file);
  if (session === undefined) throw new RecordingError(`${file} has no session id (recorded by an older Lockstep): its hosts' segments cannot be told from others'`);
  const { ours, unreadable } = await hostFiles(file, session);
  const live = [file];
  const damaged: RecoveredRecording['damaged'] = [];
  const lastSeqOf = new Map<string, number>();
  const firstSeqOf = new Map<string, number>();
  let ended: EndHow | undefined;
  for (const path of [file, ...ours]) {
    const { meta, entries, end, error } = await readLogFile(path);
    if (path === file) ended = end?.how;
    lastSeqOf.set(path, entries.at(-1)?.seq ?? 0);
    firstSeqOf.set(path, meta.firstSeq ?? 1);
    if (error && error.code !== 'truncated') damaged.push({ path, reason: error.message });
    if (path !== file && entries.some((e) => e.kind === 'control' && e.op === 'go-live')) live.push(path);
  }
  // The last live primary's backup may hold entries that primary died before writing: the same log,
  // received over the channel, so it ends the chain.
  const last = live.at(-1)!;
  const follows = (path: string) =>
    firstSeqOf.get(path)! <= lastSeqOf.get(last)! + 1 && lastSeqOf.get(path)! > lastSeqOf.get(last)!;
  const tail = ours.slice(ours.indexOf(last) + 1).filter(follows).at(-1);
  const chain = tail ? [...live, tail] : live;
  // The joined file ends with an end entry saying its run was killed (replay then knows why it stops where it does);
  // a lone FILE is rewritten only to add one: not when it has one, nor when it is damaged (the bytes after stay).
  const join = chain.length > 1 || (ended === undefined && !damaged.some((d) => d.path === file));
  const detail = `lockstep join: ${chain.map((path) => basename(path)).join(' + ')}`;
  const recorded = join ? await joinLogFiles(chain, file, 'killed', detail) : lastSeqOf.get(file)!;
  if (join) ended = 'killed';
  // A host file goes only when the recording has all it holds: nothing read from disk is lost.
  const kept = ours.filter((path) => lastSeqOf.get(path)! > recorded).map((path) => ({ path, reason: `it holds entries up to #${lastSeqOf.get(path)}, the joined recording ends at #${recorded}` }));
  const removed = ours.filter((path) => !kept.some((k) => k.path === path));
  await Promise.all(removed.map((segment) => rm(segment, { force: true })));
  return { joined: chain, removed, kept, unreadable, damaged, ended };
}

/**
 * Host files of FILE's run still beside it: FILE is then not the whole recording until joined. `meta`: FILE's, if
 * already read.
 */
export async function unjoinedSegments(file: string, meta?: LogMeta): Promise<string[]> {
  const { session } = meta ?? (await readMeta(file));
  return session === undefined ? [] : (await hostFiles(file, session)).ours;
}

/**
 * Recording replaces an earlier recording in FILE, and nothing else: not a file that is no Lockstep
 * log (a guest image named by mistake), nor an earlier run whose host files were never joined.
 */
export async function refuseToRecordOver(file: string): Promise<void> {
  if (!existsSync(file)) {
    const leftover = (await numberedHostFiles(file)).map(({ path }) => basename(path));
    if (leftover.length) throw new RecordingError(`${leftover.join(', ')} of an earlier run lie where ${file}'s hosts would write, and ${file} itself is gone: move them away, or record to another file`);
    return;
  }
  let meta: LogMeta;
  try {
    meta = await readMeta(file);
  } catch (error) {
    throw new RecordingError(`${file} exists and is not a Lockstep log (${(error as Error).message}): refusing to record over it; remove it or record to another file`);
  }
  const unjoined = await unjoinedSegments(file, meta);
  if (!unjoined.length) return;
  throw new RecordingError(`${file} is the recording of an earlier run that was never joined (${unjoined.map((path) => basename(path)).join(', ')} lie beside it): \`lockstep join ${file}\` first, or record to another file`);
}

/** FILE.host-N files beside FILE, by host number: those of this session, and those whose header cannot be read. */
async function hostFiles(file: string, session: string): Promise<Pick<RecoveredRecording, 'unreadable'> & { ours: string[] }> {
  const numbered = await numberedHostFiles(file);
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

/** Every FILE.host-N beside FILE, by host number. */
async function numberedHostFiles(file: string): Promise<{ path: string; host: number }[]> {
  const prefix = `${basename(file)}.host-`;
  const names = await readdir(dirname(file)).catch(() => [] as string[]);
  return names
    .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .map((name) => ({ path: join(dirname(file), name), host: Number(name.slice(prefix.length)) }))
    .sort((a, b) => a.host - b.host);
}

async function readMeta(path: string): Promise<LogMeta> {
  const reader = await LogFileReader.open(path);
  await reader.close();
  return reader.meta;
}

