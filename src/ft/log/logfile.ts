// Log files (*.ftlog): a file header with the session's metadata, then the same entry frames the
// logging channel carries. VM-FT's deterministic replay reads such a file instead of a live
// channel. docs/log-format.md describes the bytes.

import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { encodeClockRun, encodeEntry, FrameDecoder, isLogEntry, LogFormatError } from './codec';
import { isRunnableClock, MAX_CLOCK_RUN } from './clockrun';
import type { EndEntry, EndHow, LogEntry, NondetEntry } from './log';
import type { BootFile, ResolvedSettings } from '../machine';

export const FILE_MAGIC = Buffer.from('LOCKSTEP-FTLOG', 'ascii');
/** 2: a file closed cleanly ends with an end entry. Version 1 files (before end entries) still read. */
export const FILE_VERSION = 2;
/** The first version whose files end with an end entry when closed: before it, a missing one says nothing. */
export const END_ENTRY_VERSION = 2;
/** Bytes before the metadata: magic, version, flags, metadata length. */
export const FILE_FIXED_HEADER_BYTES = FILE_MAGIC.length + 1 + 1 + 4;
export const MAX_META_BYTES = 1 << 20;

/** What the recording session was; enough to rebuild the machine that replays the log. */
export interface LogMeta {
  guest: string;
  imageSha256: string;
  memorySize: number;
  clock: 'virtual' | 'host';
  /** The virtual clock's instructions per ms of guest time (files without it: FIRST_INSTRUCTIONS_PER_MS). */
  instructionsPerMs?: number;
  jit: boolean;
  /** Instructions per epoch. */
  epochLength: number;
  cmdline: string;
  /** ISO 8601. */
  createdAt: string;
  /**
   * Set in a segment only: the seq of its first entry, when it does not start at boot (a backup
   * cloned from a checkpoint records from there). A segment replays only after the log before it.
   */
  firstSeq?: number;
  /** The `lockstep ft` run that made it: the files of one recording's hosts share it. */
  session?: string;
  /** The devices its epoch hashes cover (files without it: FIRST_HASHED_DEVICES). */
  hashedDevices?: string[];
  /**
   * Written by every recorder whose epochs keep the JIT's code (snapshots carry the JIT's state). A file
   * without it was recorded when every epoch emptied the JIT's cache: with the JIT on, it is refused.
   */
  jitKept?: boolean;
  /** Every file the machine booted from, by path and content (files without it: imageSha256 alone). */
  bootFiles?: BootFile[];
  /**
   * The guest's disk, as it was when the run started (`--disk`): in shared mode its reads are in the
   * log, so the recording replays without it; in local mode a replay needs a copy of it.
   */
  disk?: { path: string; size: number; sha256: string; mode: 'shared' | 'local' };
  /** Room for what later versions of the recorder add; readers ignore what they do not know. */
  [extra: string]: unknown;
}

/** The header fields that say what machine a log was recorded on: its settings, and the files it booted from. */
export function logMetaOf(settings: ResolvedSettings, bootFiles: BootFile[]): LogMeta {
  const { image, memoryMiB, clock, instructionsPerMs, jit, epochLength, cmdline, hashedDevices } = settings;
  return {
    guest: image.name,
    imageSha256: image.sha256,
    memorySize: memoryMiB * 1024 * 1024,
    clock,
    instructionsPerMs,
    jit,
    jitKept: true,
    epochLength,
    cmdline: cmdline ?? '',
    hashedDevices: [...hashedDevices],
    bootFiles,
    createdAt: new Date().toISOString(),
  };
}

export interface LogFileContents {
  meta: LogMeta;
  /** Every good entry up to the first bad byte, but the end entry. */
  entries: LogEntry[];
  /** The end entry, when the file has one: its recording was closed, not cut short. */
  end?: EndEntry;
  /** The file format's version (header byte 14): files before END_ENTRY_VERSION have no end entries. */
  version: number;
  /** Why reading stopped early; error.offset is where the first bad frame starts. */
  error?: LogFormatError;
}

// ---------------------------------------------------------------------------------------------
// File header

export function encodeFileHeader(meta: LogMeta): Uint8Array {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  if (json.length > MAX_META_BYTES) throw new RangeError(`metadata of ${json.length} bytes exceeds ${MAX_META_BYTES}`);
  const header = Buffer.alloc(FILE_FIXED_HEADER_BYTES + json.length + 4);
  FILE_MAGIC.copy(header, 0);
  header[FILE_MAGIC.length] = FILE_VERSION;
  header[FILE_MAGIC.length + 1] = 0;
  header.writeUInt32LE(json.length, FILE_MAGIC.length + 2);
  json.copy(header, FILE_FIXED_HEADER_BYTES);
  const end = FILE_FIXED_HEADER_BYTES + json.length;
  header.writeUInt32LE(crc32(header.subarray(0, end)), end);
  return header;
}

/** `offset`: the byte where the header goes wrong. */
function headerError(reason: string, offset: number): LogFormatError {
  return new LogFormatError('bad-header', `bad file header: ${reason}`, offset);
}

/** Size of the whole file header, known once the fixed part is read. Throws on a bad fixed part. */
export function fileHeaderLength(fixed: Uint8Array): number {
  const b = Buffer.from(fixed.buffer, fixed.byteOffset, fixed.byteLength);
  if (b.length < FILE_FIXED_HEADER_BYTES) throw headerError('truncated', b.length);
  if (!b.subarray(0, FILE_MAGIC.length).equals(FILE_MAGIC)) throw headerError('not a Lockstep log (bad magic)', 0);
  const version = b[FILE_MAGIC.length];
  if (version < 1 || version > FILE_VERSION) throw headerError(`unsupported version ${version}`, FILE_MAGIC.length);
  if (b[FILE_MAGIC.length + 1] !== 0) throw headerError(`unknown flags ${b[FILE_MAGIC.length + 1]}`, FILE_MAGIC.length + 1);
  const metaLength = b.readUInt32LE(FILE_MAGIC.length + 2);
  if (metaLength > MAX_META_BYTES) throw headerError(`metadata too large (${metaLength} bytes)`, FILE_MAGIC.length + 2);
  return FILE_FIXED_HEADER_BYTES + metaLength + 4;
}

/** Decodes a complete file header (as sized by fileHeaderLength). */
export function decodeFileHeader(header: Uint8Array): LogMeta {
  const length = fileHeaderLength(header);
  if (header.length < length) throw headerError('truncated', header.length);
  const b = Buffer.from(header.buffer, header.byteOffset, length);
  if (crc32(b.subarray(0, length - 4)) !== b.readUInt32LE(length - 4)) throw headerError('checksum mismatch', length - 4);
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(FILE_FIXED_HEADER_BYTES, length - 4)));
  } catch (err) {
    throw headerError(`metadata is not UTF-8 JSON (${(err as Error).message})`, FILE_FIXED_HEADER_BYTES);
  }
  return checkMeta(meta);
}

const META_FIELDS: { [K in keyof LogMeta & string]?: string } = {
  guest: 'string',
  imageSha256: 'string',
  memorySize: 'number',
  clock: 'string',
  jit: 'boolean',
  epochLength: 'number',
  cmdline: 'string',
  createdAt: 'string',
};

/** What a machine can be built from: the rest is checked when the machine is. */
const META_VALUES: [keyof LogMeta & string, (value: number | string) => boolean, string][] = [
  ['memorySize', (v) => Number.isSafeInteger(v) && (v as number) > 0 && (v as number) % (1024 * 1024) === 0, 'a whole number of MiB in bytes'],
  ['epochLength', (v) => Number.isSafeInteger(v) && (v as number) > 0, 'a positive whole number'],
  ['clock', (v) => v === 'virtual' || v === 'host', '"virtual" or "host"'],
];

function checkMeta(meta: unknown): LogMeta {
  const at = FILE_FIXED_HEADER_BYTES;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw headerError('metadata is not an object', at);
  const fields = meta as Record<string, unknown>;
  for (const [field, type] of Object.entries(META_FIELDS)) {
    if (typeof fields[field] !== type) throw headerError(`metadata field ${field} is not a ${type}`, at);
  }
  for (const [field, ok, what] of META_VALUES) {
    if (!ok(fields[field] as number | string)) throw headerError(`metadata field ${field} is ${JSON.stringify(fields[field])}, not ${what}`, at);
  }
  const { firstSeq, bootFiles } = fields;
  const isBootFile = (f: Record<string, unknown>) => typeof f?.role === 'string' && typeof f.path === 'string' && Number.isSafeInteger(f.size) && typeof f.sha256 === 'string';
  if (bootFiles !== undefined && !(Array.isArray(bootFiles) && bootFiles.every(isBootFile))) throw headerError('metadata field bootFiles is not a list of {role, path, size, sha256}', at);
  if (firstSeq !== undefined && !(Number.isSafeInteger(firstSeq) && (firstSeq as number) >= 1)) throw headerError('metadata field firstSeq is not a seq (a whole number from 1)', at);
  return meta as LogMeta;
}

// ---------------------------------------------------------------------------------------------
// Order checks shared by the writer and the reader: a log is consecutive, runs forward, and ends at its end entry.

class LogOrder {
  lastAt = 0;
  private ended = false;
  constructor(public nextSeq = 1) {}

  /** Why `e` cannot follow the entries seen so far, or undefined if it can. */
  problem(e: LogEntry): string | undefined {
    if (this.ended) return `${e.kind} entry after the end entry`;
    if (e.seq !== this.nextSeq) return `seq ${e.seq} out of order, expected ${this.nextSeq}`;
    if (e.at < this.lastAt) return `at ${e.at} goes back before ${this.lastAt}`;
    return undefined;
  }

  accept(e: LogEntry): void {
    this.nextSeq = e.seq + 1;
    this.lastAt = e.at;
    this.ended = e.kind === 'end';
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

const FLUSH_THRESHOLD_BYTES = 64 * 1024;

/**
 * Appends entries to a new log file. append() only buffers whole frames; flush() and close()
 * write them, so a file closed through this class never ends in a partial frame, and close() ends it
 * with the end entry, so a reader can tell it from a file cut short at a frame boundary.
 */
export class LogWriter {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Consecutive clock readings not yet encoded: they go into one clock run frame (codec.ts). */
  private run: NondetEntry[] = [];
  private writing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;
  private readonly order: LogOrder;
  private written: number;

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    headerBytes: number,
    firstSeq: number,
  ) {
    this.written = headerBytes;
    this.order = new LogOrder(firstSeq);
  }

  /** Creates (or replaces) the file and writes its header. */
  static async create(path: string, meta: LogMeta): Promise<LogWriter> {
    const header = encodeFileHeader(meta);
    const handle = await open(path, 'w');
    try {
      await writeAll(handle, header);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new LogWriter(handle, path, header.length, meta.firstSeq ?? 1);
  }

  /** The seq the next appended entry must have. */
  get nextSeq(): number {
    return this.order.nextSeq;
  }

  /** Bytes in the file once everything appended so far is flushed (an open clock run counted as it stands). */
  get size(): number {
    return this.written + this.pendingBytes + (this.run.length ? encodeClockRun(this.run).length : 0);
  }

  /** Buffers one entry. Throws if it breaks the log's order or the writer is closed. */
  append(entry: LogEntry): void {
    if (this.closed) throw new Error('log writer is closed');
    if (this.failure) throw this.failure;
    if (entry.kind === 'end') throw new RangeError('the end entry is written by close(), not appended');
    this.add(entry);
  }

  /** An entry in order: a clock reading joins the open run, anything else ends it and gets its own frame. */
  private add(entry: LogEntry): void {
    const problem = this.order.problem(entry);
    if (problem) throw new RangeError(problem);
    if (isRunnableClock(entry)) {
      this.order.accept(entry);
      this.run.push(entry);
      if (this.run.length === MAX_CLOCK_RUN) this.endRun();
      return;
    }
    const frame = encodeEntry(entry);
    this.endRun();
    this.order.accept(entry);
    this.buffer(frame);
  }

  private endRun(): void {
    if (!this.run.length) return;
    const run = this.run;
    this.run = [];
    this.buffer(encodeClockRun(run));
  }

  private buffer(frame: Uint8Array): void {
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    // Keep memory bounded for long recordings; errors surface at the next flush()/close().
    if (this.pendingBytes >= FLUSH_THRESHOLD_BYTES) this.flush().catch(() => undefined);
  }

  /** Writes every buffered frame; with `durable`, also waits until the data is on disk. */
  flush(durable = false): Promise<void> {
    this.endRun();
    const chunk = Buffer.concat(this.pending);
    this.pending = [];
    this.written += chunk.length;
    this.pendingBytes = 0;
    // Chained so writes land in append order even when flushes overlap.
    this.writing = this.writing.then(async () => {
      if (this.failure) throw this.failure;
      try {
        if (chunk.length > 0) await writeAll(this.handle, chunk);
        if (durable) await this.handle.datasync();
      } catch (err) {
        this.failure = err as Error;
        throw err;
      }
    });
    return this.writing;
  }

  /**
   * Ends the log with its end entry (`how`: closed, or recovered after a killed run), flushes and closes the file.
   */
  async close(how: EndHow = 'closed', detail = ''): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.failure) this.add({ kind: 'end', seq: this.order.nextSeq, at: this.order.lastAt, how, detail });
      await this.flush();
    } finally {
      await this.handle.close();
    }
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

const READ_CHUNK_BYTES = 256 * 1024;

/** Streams a log file: the header is read by open(), entries one chunk at a time. */
export class LogFileReader {
  private constructor(
    private readonly handle: FileHandle,
    readonly meta: LogMeta,
    /** File offset of the first frame. */
    readonly headerLength: number,
    /** The file format's version. */
    readonly version: number,
  ) {}

  /** Opens a log file and decodes its header; throws LogFormatError if the header is bad. */
  static async open(path: string): Promise<LogFileReader> {
    const handle = await open(path, 'r');
    try {
      const fixed = await readAt(handle, 0, FILE_FIXED_HEADER_BYTES);
      const header = await readAt(handle, 0, fileHeaderLength(fixed));
      return new LogFileReader(handle, decodeFileHeader(header), header.length, header[FILE_MAGIC.length]);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /**
   * Yields every entry in file order. Throws LogFormatError (offset = start of the bad frame)
   * at the first corrupt, truncated or out-of-order frame, after yielding all good ones before it.
   */
  async *entries(): AsyncGenerator<LogEntry, void, undefined> {
    const decoder = new FrameDecoder({ accept: 'entries', baseOffset: this.headerLength });
    const order = new LogOrder(this.meta.firstSeq ?? 1);
    const chunk = Buffer.alloc(READ_CHUNK_BYTES);
    let position = this.headerLength;
    for (;;) {
      const { bytesRead } = await this.handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      decoder.push(chunk.subarray(0, bytesRead));
      yield* checkedEntries(decoder, order);
    }
    decoder.end();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

function* checkedEntries(decoder: FrameDecoder, order: LogOrder): Generator<LogEntry> {
  for (;;) {
    const start = decoder.offset;
    const frame = decoder.next();
    if (frame === undefined) return;
    // accept: 'entries' already rejected channel messages; the guard narrows the type.
    if (!isLogEntry(frame)) throw new LogFormatError('unexpected-kind', `unexpected ${frame.kind}`, start);
    const problem = order.problem(frame);
    if (problem) throw new LogFormatError('out-of-order', problem, start);
    order.accept(frame);
    yield frame;
  }
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw headerError('truncated', position + done);
    done += bytesRead;
  }
  return buf;
}

/**
 * Whether nothing of the run is missing from a file: it ends with the end entry of a recording
 * closed cleanly. A file from before end entries (version 1) cannot say more than that every frame is
 * whole: it counts as complete then.
 */
export function isComplete({ end, error, version }: LogFileContents): boolean {
  if (error) return false;
  return version < END_ENTRY_VERSION || end?.how === 'closed';
}

/**
 * Reads a whole log file. A bad file header throws; a bad frame ends the read and is returned as
 * `error`, together with every good entry before it.
 */
export async function readLogFile(path: string): Promise<LogFileContents> {
  const reader = await LogFileReader.open(path);
  const entries: LogEntry[] = [];
  let end: EndEntry | undefined;
  try {
    for await (const entry of reader.entries()) {
      if (entry.kind === 'end') end = entry;
      else entries.push(entry);
    }
    return { meta: reader.meta, entries, end, version: reader.version };
  } catch (err) {
    if (err instanceof LogFormatError) return { meta: reader.meta, entries, end, version: reader.version, error: err };
    throw err;
  } finally {
    await reader.close();
  }
}

/**
 * Joins the log files of the hosts that were live in turn into one log from boot, written to `out`:
 * each file up to where the next one starts (its `firstSeq`: the next host was cloned from this one
 * there), the last one whole. A file that ends in a bad frame (its host was killed mid-write) counts
 * up to its last good entry; a file that ends before the next one starts would leave a gap: that is
 * refused (RangeError), and `out` is left alone. The joined log ends with an end entry saying `how`
 * its run ended. Returns the seq of the last entry joined.
 */
export async function joinLogFiles(paths: string[], out: string, how: EndHow = 'closed', detail = ''): Promise<number> {
  const readers: LogFileReader[] = [];
  try {
    for (const path of paths) readers.push(await LogFileReader.open(path));
    const starts = readers.map((reader) => reader.meta.firstSeq ?? 1);
    if (starts[0] !== 1) throw new RangeError(`${paths[0]} starts at entry ${starts[0]}, not at boot`);
    const { firstSeq: _, ...meta } = readers[0].meta;
    let last = 0;
    const joining = `${out}.joining`;
    const writer = await LogWriter.create(joining, meta);
    try {
      for (const [i, reader] of readers.entries()) {
        const end = starts[i + 1] ?? Number.POSITIVE_INFINITY;
        if (writer.nextSeq < starts[i]) throw new RangeError(`${paths[i - 1]} ends at entry ${writer.nextSeq - 1}, but ${paths[i]} starts at ${starts[i]}`);
        for await (const entry of goodEntries(reader)) {
          if (entry.seq >= end || entry.kind === 'end') break;
          if (entry.seq >= writer.nextSeq) writer.append(entry);
        }
      }
      last = writer.nextSeq - 1;
    } finally {
      await writer.close(how, detail);
    }
    await rename(joining, out);
    return last;
  } catch (error) {
    await rm(`${out}.joining`, { force: true });
    throw error;
  } finally {
    await Promise.all(readers.map((reader) => reader.close()));
  }
}

/** A file's entries up to its first bad frame. */
export async function* goodEntries(reader: LogFileReader): AsyncGenerator<LogEntry> {
  try {
    yield* reader.entries();
  } catch (error) {
    if (!(error instanceof LogFormatError)) throw error;
  }
}
