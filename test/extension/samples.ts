// Log files for the extension tests: the shared sample entries written by the real LogWriter.
import { join } from 'node:path';
import type { LogEntry } from '../../src/ft/log';
import { LogWriter, type LogMeta } from '../../src/ft/log';
import { SAMPLE_ENTRIES } from '../ft/samples';

export const META: LogMeta = {
  guest: 'kv', imageSha256: 'ab'.repeat(32), memorySize: 32 << 20, clock: 'virtual', jit: true,
  epochLength: 100_000_000, cmdline: '', createdAt: '2026-11-22T00:00:00.000Z',
};

/** Seqs 1..12 of the shared samples: every kind, in file order. */
export const FILE_ENTRIES: LogEntry[] = SAMPLE_ENTRIES.slice(0, 12);

export async function writeLog(dir: string, entries: LogEntry[] = FILE_ENTRIES, name = 'sample.ftlog'): Promise<string> {
  const path = join(dir, name);
  const writer = await LogWriter.create(path, META);
  for (const e of entries) writer.append(e);
  await writer.close();
  return path;
}
