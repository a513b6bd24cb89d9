// The log's vocabulary: every entry the primary records for the backup (VM-FT's "log entries"), the
// messages that only travel on the logging channel, and their one-line text form. Everything else
// imports these definitions; codec.ts carries them in frames.

import { describeFrame } from '../workload';
import { describeDiskIo } from './diskio';

// ---------------------------------------------------------------------------------------------
// Types

export type InputDevice = 'serial' | 'keyboard' | 'net' | 'disk';
export type NondetSource = 'clock' | 'random' | 'rtc';
export type OutputDevice = 'serial' | 'net' | 'disk';
export type ControlOp = 'go-live' | 'shutdown' | 'clone' | 'start' | 'checkpoint' | 'release' | 'protect';
/** How a recording ended: its writer closed it, or `lockstep join` recovered it after its run was killed. */
export type EndHow = 'closed' | 'killed';
export type Role = 'primary' | 'backup';

/** Fields every log entry has: its place in the log and the instruction count where it applies. */
interface EntryBase {
  /** Position in the log: 1, 2, 3, ... without gaps. */
  seq: number;
  /** 64-bit guest instruction count at which the entry applies. */
  at: number;
}

/** Guest input (a serial byte stream, key presses, a network packet). */
export interface InputEntry extends EntryBase {
  kind: 'input';
  device: InputDevice;
  data: Uint8Array;
}

/** A nondeterministic value the primary read; the backup returns it instead of reading its own. */
export interface NondetEntry extends EntryBase {
  kind: 'nondet';
  source: NondetSource;
  /** clock/rtc: milliseconds (f64); random: an int32. */
  value: number;
}

/** State hash at an epoch boundary, compared by the backup to detect divergence. */
export interface EpochEntry extends EntryBase {
  kind: 'epoch';
  epoch: number;
  /** 128-bit state hash as 32 lowercase hex digits. */
  hash: string;
  /** How many 4 KiB pages the hash covers. */
  pages: number;
}

/** Output marker: the unit the Output Rule holds until the backup has acknowledged it. */
export interface OutputEntry extends EntryBase {
  kind: 'output';
  device: OutputDevice;
  /** The bytes the guest emitted since the previous output marker. */
  data: Uint8Array;
}

/** Session control events that must happen at the same instruction on both sides. */
export interface ControlEntry extends EntryBase {
  kind: 'control';
  op: ControlOp;
  /** Free UTF-8 text, often JSON. */
  detail: string;
}

/**
 * The last entry of a log file, and only of a file (never on the channel): the recording was closed,
 * not cut short. A file without one may lack entries at its end, even when it ends at a frame boundary.
 * `seq` is the seq after the last entry, `at` the last entry's instruction count.
 */
export interface EndEntry extends EntryBase {
  kind: 'end';
  how: EndHow;
  /** Free UTF-8 text: what closed it. */
  detail: string;
}

export type LogEntry = InputEntry | NondetEntry | EpochEntry | OutputEntry | ControlEntry | EndEntry;
export type EntryKind = LogEntry['kind'];

/**
 * Whether receiving `entry` says the primary has logged everything the slice ending at `entry.at` needs.
 * Not a nondeterministic value: it can be read mid-slice (v86 runs its timers when the guest halts), so its
 * count is no boundary. Not a disk entry: the end of a slice logs its disk writes, then its reads'
 * completions, one entry each, and the backup's slice ending there takes them all; the entries after them
 * (outputs, the epoch, the heartbeat after the batch) say the primary is past them.
 */
export function passesBoundary(entry: LogEntry): boolean {
  if (entry.kind === 'nondet') return false;
  return !((entry.kind === 'input' || entry.kind === 'output') && entry.device === 'disk');
}

// Channel-only messages: never part of the log, never written to a file.

/** Handshake, step 1: "here is my nonce". */
export interface HelloChallenge {
  kind: 'hello';
  step: 'challenge';
  role: Role;
  nonce: Uint8Array;
}

/** Handshake, step 2: HMAC proving knowledge of the session secret (see channel/handshake.ts). */
export interface HelloResponse {
  kind: 'hello';
  step: 'response';
  role: Role;
  mac: Uint8Array;
}

export type HelloMessage = HelloChallenge | HelloResponse;

/** Backup -> primary: every entry with seq <= `seq` has been received; `at` is the backup's count. */
export interface AckMessage {
  kind: 'ack';
  seq: number;
  at: number;
}

/** Liveness: `seq` is the sender's highest seq (logged or received in order), `at` its count. */
export interface HeartbeatMessage {
  kind: 'heartbeat';
  seq: number;
  at: number;
  role: Role;
}

/** Backup -> primary: a gap was seen; retransmit every entry from `seq` on. */
export interface ResendFromMessage {
  kind: 'resend-from';
  seq: number;
  at: number;
}

/** Orderly goodbye before closing the connection. */
export interface ByeMessage {
  kind: 'bye';
  at: number;
  reason: string;
}

/**
 * Primary -> a new backup: one chunk of a checkpoint (a machine snapshot) to clone from (VM-FT's
 * FT VMotion). `seq` is the last log entry the snapshot includes, `at` its instruction count.
 */
export interface CheckpointMessage {
  kind: 'checkpoint';
  seq: number;
  at: number;
  index: number;
  total: number;
  data: Uint8Array;
}

/**
 * The per-4 KiB-page hashes of one epoch, so a backup that found a divergence can name the pages
 * that differ. Sent empty by the backup as a request; the primary answers with the hashes.
 */
export interface PagesMessage {
  kind: 'pages';
  epoch: number;
  at: number;
  hashes: Uint8Array;
}

/**
 * Primary -> backup: every output up to `seq` has been released (disk writes are on the shared disk), so
 * a backup that goes live need not re-issue them.
 */
export interface ReleasedMessage {
  kind: 'released';
  seq: number;
  at: number;
}

export type ChannelMessage =
  | HelloMessage | AckMessage | HeartbeatMessage | ResendFromMessage | ByeMessage | CheckpointMessage | PagesMessage
  | ReleasedMessage;
export type ChannelMessageKind = ChannelMessage['kind'];

/** Anything a frame can carry. */
export type Frame = LogEntry | ChannelMessage;
export type FrameKind = Frame['kind'];

// ---------------------------------------------------------------------------------------------
// Text rendering

export interface DescribeOptions {
  /** Longest byte payload shown in full; longer ones are cut with a "(+N bytes)" note. */
  maxBytes?: number;
}

function isPrintable(data: Uint8Array): boolean {
  return data.every((c) => (c >= 0x20 && c < 0x7f) || c === 0x09 || c === 0x0a || c === 0x0d);
}

/** Printable ASCII as a quoted string (JSON escapes), anything else as 0x-prefixed hex. */
export function renderBytes(data: Uint8Array, maxBytes = 64): string {
  const shown = data.subarray(0, maxBytes);
  const more = data.length - shown.length;
  const body = isPrintable(shown) ? JSON.stringify(Buffer.from(shown).toString('latin1')) : `0x${Buffer.from(shown).toString('hex')}`;
  return more > 0 ? `${body}... (+${more} bytes)` : body;
}

/**
 * A device's data for a person: a network frame as what it carries, its payload through `render`
 * (`UDP 10.0.2.2:40001 > 10.0.2.15:7070 "1 1 GET a\n"`), a disk read or write as its sectors; other data
 * through `render` as it is.
 */
export function renderDeviceData(
  device: InputDevice | OutputDevice,
  data: Uint8Array,
  render: (bytes: Uint8Array) => string,
): string {
  if (device === 'disk') return describeDiskIo(data);
  return device === 'net' ? describeFrame(data, render) : render(data);
}

/** A JSON object detail as it is (easier to read than escaped inside a string), other text quoted. */
function renderDetail(detail: string): string {
  if (!detail.startsWith('{')) return JSON.stringify(detail);
  try {
    return JSON.stringify(JSON.parse(detail));
  } catch {
    return JSON.stringify(detail);
  }
}

/** One-line text form of a log entry or channel message, e.g. `#42 @1234567 input serial 5 "PUT a"`. */
export function describeEntry(f: Frame, options: DescribeOptions = {}): string {
  const max = options.maxBytes ?? 64;
  switch (f.kind) {
    case 'input':
    case 'output':
      return `#${f.seq} @${f.at} ${f.kind} ${f.device} ${f.data.length} ${renderDeviceData(f.device, f.data, (bytes) => renderBytes(bytes, max))}`;
    case 'nondet':
      return `#${f.seq} @${f.at} nondet ${f.source} ${f.value}`;
    case 'epoch':
      return `#${f.seq} @${f.at} epoch ${f.epoch} hash=${f.hash.toLowerCase()} pages=${f.pages}`;
    case 'control':
      return `#${f.seq} @${f.at} control ${f.op} ${renderDetail(f.detail)}`;
    case 'end':
      return `#${f.seq} @${f.at} end ${f.how} ${renderDetail(f.detail)}`;
    case 'hello':
      return f.step === 'challenge'
        ? `hello challenge ${f.role} nonce=${Buffer.from(f.nonce).toString('hex')}`
        : `hello response ${f.role} mac=${Buffer.from(f.mac).toString('hex')}`;
    case 'ack':
    case 'resend-from':
    case 'released':
      return `${f.kind} #${f.seq} @${f.at}`;
    case 'heartbeat':
      return `heartbeat ${f.role} #${f.seq} @${f.at}`;
    case 'bye':
      return `bye @${f.at} ${JSON.stringify(f.reason)}`;
    case 'checkpoint':
      return `checkpoint #${f.seq} @${f.at} chunk ${f.index + 1}/${f.total} ${f.data.length} bytes`;
    case 'pages':
      return `pages epoch ${f.epoch} @${f.at} ${f.hashes.length / 8} hashes`;
  }
}
