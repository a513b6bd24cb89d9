// The text form of a *.ftlog file, as the editor shows it: a few `//` header lines (the recording's
// metadata, counts, and any damage), then one line per entry in describeEntry's format. No `vscode`
// import, so unit tests read it directly. The ftlog grammar (syntaxes/) highlights exactly this.
import { basename } from 'node:path';
import { describeEntry, LogFormatError, type LogEntry } from '../ft/log';
import { LogFileReader, type LogMeta } from '../ft/log';
import { unjoinedSegments } from '../ft/log';
import { IDLE_EPOCH_FACTOR } from '../ft/machine';
import { count } from '../adapter/format';

export interface RenderedLog {
  text: string;
  /** Entries successfully read (all of them unless `error`), not counting the end entry. */
  entries: number;
  /** Why reading stopped early: the byte offset where the bad frame (or header) starts. */
  error?: { offset: number; reason: string; code: string };
  /** Zero-based line of the error message that stands where the unreadable bytes begin. */
  errorLine?: number;
}

/** Payload bytes shown per entry; the rest is summarised as "(+N bytes)". */
const MAX_BYTES = 48;

/** `#seq @at ...`: the seq and the instruction count of an entry line. */
const ENTRY_LINE = /^#(\d+) @(\d+) /;

/** The instruction count an entry line applies at, or undefined for header and message lines. */
export function entryLineInstruction(line: string): { seq: number; at: number } | undefined {
  const m = ENTRY_LINE.exec(line);
  return m ? { seq: Number(m[1]), at: Number(m[2]) } : undefined;
}

function metaLines(meta: LogMeta): string[] {
  const jit = meta.jit ? 'JIT on' : 'JIT off';
  const mib = Math.round(meta.memorySize / (1 << 20));
  // The machine's rule (src/ft/machine): executed instructions count, idle time does not, up to a bound.
  const epochs = `epochs every ${count(meta.epochLength)} executed instructions`
    + ` (or ${count(IDLE_EPOCH_FACTOR * meta.epochLength)} of count when the guest idles)`;
  return [
    `// guest ${meta.guest}, ${mib} MiB, clock ${meta.clock}, ${jit}, ${epochs}`,
    `// recorded ${meta.createdAt}, image sha256 ${meta.imageSha256}${meta.cmdline ? `, cmdline ${JSON.stringify(meta.cmdline)}` : ''}`,
  ];
}

/** The entries of the recording, not its end entry. */
function countLine(all: LogEntry[]): string {
  const entries = all.filter((e) => e.kind !== 'end');
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  const parts = [...counts].map(([kind, n]) => `${n} ${kind}`);
  const last = entries.at(-1);
  const span = last ? `, up to instruction ${last.at}` : '';
  return `// ${entries.length} entries${parts.length ? ` (${parts.join(', ')})` : ''}${span}`;
}

/** The message for a damaged file: where, why, and what is shown instead. */
export function damageMessage(error: LogFormatError, entriesRead: number): string {
  const shown = entriesRead === 0 ? 'no entry could be read' : `the ${entriesRead} entries before it are shown`;
  return `// ERROR at byte ${error.offset}: ${error.reason}; ${shown}, nothing after it`;
}

/** Whether the recording was closed (its end entry), recovered after a killed run, or may be cut short. */
function endLine(last: LogEntry | undefined): string {
  if (last?.kind !== 'end') return '// no end entry: the recording may be cut short (its writer never closed it)';
  if (last.how === 'killed') return '// its run was killed: `lockstep join` recovered what its hosts had written';
  return '// closed cleanly: the end entry is its last';
}

/** What a reader should know about where the file stands in its recording. */
function placeLines(name: string, meta: LogMeta, unjoined: string[]): string[] {
  const lines: string[] = [];
  if (meta.firstSeq !== undefined && meta.firstSeq > 1) lines.push(`// a segment: a backup cloned from a checkpoint wrote it from entry #${meta.firstSeq} on; it replays only after the log before it`);
  if (unjoined.length) lines.push(`// not the whole recording yet: ${unjoined.map((path) => basename(path)).join(', ')} of the same run lie beside it; \`lockstep join ${name}\` joins them`);
  return lines;
}

/** Renders what was read of a file (its header, the good entries, and the first error if any). */
export function renderLog(
  name: string,
  meta: LogMeta | undefined,
  entries: LogEntry[],
  error?: LogFormatError,
  unjoined: string[] = [],
): RenderedLog {
  const head = [`// Lockstep log ${name}`, ...(meta ? [...metaLines(meta), ...placeLines(name, meta, unjoined), countLine(entries)] : [])];
  if (meta && !error) head.push(endLine(entries.at(-1)));
  // The damage is said at the top too, so it is seen before scrolling through what could be read.
  if (error && entries.length > 0) head.push(damageMessage(error, entries.length));
  const lines = [...head, ...entries.map((e) => describeEntry(e, { maxBytes: MAX_BYTES }))];
  let errorLine: number | undefined;
  if (error) {
    errorLine = lines.length;
    lines.push(damageMessage(error, entries.length));
  }
  return {
    text: `${lines.join('\n')}\n`,
    entries: entries.filter((e) => e.kind !== 'end').length,
    ...(error ? { error: { offset: error.offset, reason: error.reason, code: error.code }, errorLine } : {}),
  };
}

/** Reads a log file and renders it; a damaged file renders what could be read, never throws for it. */
export async function renderLogFile(path: string, name = path): Promise<RenderedLog> {
  let reader: LogFileReader;
  try {
    reader = await LogFileReader.open(path);
  } catch (err) {
    if (err instanceof LogFormatError) return renderLog(name, undefined, [], err);
    throw err;
  }
  const entries: LogEntry[] = [];
  const unjoined = await unjoinedSegments(path, reader.meta);
  try {
    for await (const entry of reader.entries()) entries.push(entry);
    return renderLog(name, reader.meta, entries, undefined, unjoined);
  } catch (err) {
    if (err instanceof LogFormatError) return renderLog(name, reader.meta, entries, err, unjoined);
    throw err;
  } finally {
    await reader.close();
  }
}
