// The codec: the one binary frame format that carries log entries and channel messages, on the wire
// and in *.ftlog files. The code tables here are the only place where names meet their byte values;
// docs/log-format.md is the byte-level description and must change together with this file.

import { crc32 } from 'node:zlib';
import type {
  ChannelMessage, ControlOp, EndHow, Frame, FrameKind, HelloMessage, InputDevice, LogEntry, NondetEntry, NondetSource,
  OutputDevice, Role,
} from './log';
import { CLOCK_RUN_CODE, ClockRunError, clockRunPayload, decodeClockRun } from './clockrun';

// ---------------------------------------------------------------------------------------------
// Code tables: the only place where names meet their byte values.

/** Frame kind codes. Below 0x80: log entries. 0x80 and above: channel messages. */
export const KIND_CODES: { readonly [K in FrameKind]: number } = {
  input: 0x01,
  nondet: 0x02,
  epoch: 0x03,
  output: 0x04,
  control: 0x05,
  end: 0x06,
  hello: 0x80,
  ack: 0x81,
  heartbeat: 0x82,
  'resend-from': 0x83,
  bye: 0x84,
  checkpoint: 0x85,
  pages: 0x86,
  released: 0x87,
};

export const INPUT_DEVICE_CODES: { readonly [K in InputDevice]: number } = { serial: 1, keyboard: 2, net: 3, disk: 4 };
export const NONDET_SOURCE_CODES: { readonly [K in NondetSource]: number } = { clock: 1, random: 2, rtc: 3 };
export const OUTPUT_DEVICE_CODES: { readonly [K in OutputDevice]: number } = { serial: 1, net: 2, disk: 3 };
export const CONTROL_OP_CODES: { readonly [K in ControlOp]: number } = { 'go-live': 1, shutdown: 2, clone: 3, start: 4, checkpoint: 5, release: 6, protect: 7 };
export const END_HOW_CODES: { readonly [K in EndHow]: number } = { closed: 1, killed: 2 };
export const ROLE_CODES: { readonly [K in Role]: number } = { primary: 1, backup: 2 };
export const HELLO_STEP_CODES: { readonly [K in HelloMessage['step']]: number } = { challenge: 1, response: 2 };

// ---------------------------------------------------------------------------------------------
// Frame layout (docs/log-format.md)

export const FRAME_MAGIC = Uint8Array.of(0xf7, 0x4c);
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 25;
export const FRAME_TRAILER_BYTES = 4;
export const FRAME_OVERHEAD = FRAME_HEADER_BYTES + FRAME_TRAILER_BYTES;
/** Largest payload a frame may carry; bigger inputs must be split by the recorder. */
export const MAX_PAYLOAD_BYTES = 1 << 20;
export const HELLO_TOKEN_BYTES = 32;

const OFF_VERSION = 2;
const OFF_KIND = 3;
const OFF_FLAGS = 4;
const OFF_LENGTH = 5;
const OFF_SEQ = 9;
const OFF_AT = 17;

export function isLogEntry(f: Frame): f is LogEntry {
  return KIND_CODES[f.kind] < 0x80;
}

export function isChannelMessage(f: Frame): f is ChannelMessage {
  return !isLogEntry(f);
}

// ---------------------------------------------------------------------------------------------
// Errors

export type LogFormatErrorCode =
  | 'bad-magic'
  | 'unsupported-version'
  | 'unknown-kind'
  | 'unknown-flags'
  | 'checksum-mismatch'
  | 'truncated'
  | 'payload-too-large'
  | 'number-too-large'
  | 'bad-payload'
  | 'unexpected-kind'
  | 'out-of-order'
  | 'bad-header';

/** Anything wrong with encoded log bytes. `offset` is where the offending frame (or header) starts. */
export class LogFormatError extends Error {
  constructor(
    readonly code: LogFormatErrorCode,
    readonly reason: string,
    readonly offset: number,
  ) {
    super(`${reason} at byte ${offset}`);
    this.name = 'LogFormatError';
  }
}

// Thrown while decoding a payload; the decoder adds the frame offset.
class PayloadError extends Error {}

// ---------------------------------------------------------------------------------------------
// Payload codecs, one per kind

interface PayloadCodec<F extends Frame> {
  /** The values that go into the header's seq and at fields. */
  header(f: F): { seq: number; at: number };
  encode(f: F): Uint8Array;
  decode(p: Uint8Array, seq: number, at: number): F;
}

type CodecTable = { [K in FrameKind]: PayloadCodec<Extract<Frame, { kind: K }>> };

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

function reverse<N extends string>(table: { readonly [K in N]: number }): Map<number, N> {
  return new Map(Object.entries(table).map(([name, code]) => [code as number, name as N]));
}

function lookup<N extends string>(map: Map<number, N>, code: number, what: string): N {
  const name = map.get(code);
  if (name === undefined) throw new PayloadError(`unknown ${what} ${code}`);
  return name;
}

function codeOf<N extends string>(table: { readonly [K in N]: number }, name: N, what: string): number {
  const code = (table as Record<string, number | undefined>)[name];
  if (code === undefined) throw new RangeError(`unknown ${what} ${String(name)}`);
  return code;
}

const INPUT_DEVICES = reverse(INPUT_DEVICE_CODES);
const NONDET_SOURCES = reverse(NONDET_SOURCE_CODES);
const OUTPUT_DEVICES = reverse(OUTPUT_DEVICE_CODES);
const CONTROL_OPS = reverse(CONTROL_OP_CODES);
const END_HOWS = reverse(END_HOW_CODES);
const ROLES = reverse(ROLE_CODES);
const HELLO_STEPS = reverse(HELLO_STEP_CODES);
const KINDS = reverse(KIND_CODES);

function expectLength(p: Uint8Array, n: number): void {
  if (p.length !== n) throw new PayloadError(`length ${p.length}, expected ${n}`);
}

function expectAtLeast(p: Uint8Array, n: number): void {
  if (p.length < n) throw new PayloadError(`length ${p.length}, expected at least ${n}`);
}

function hexByte(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new PayloadError('invalid UTF-8');
  }
}

function view(p: Uint8Array): DataView {
  return new DataView(p.buffer, p.byteOffset, p.byteLength);
}

/** A one-byte code followed by raw bytes (input, output). */
function codeAndBytes(code: number, data: Uint8Array): Uint8Array {
  const p = new Uint8Array(1 + data.length);
  p[0] = code;
  p.set(data, 1);
  return p;
}

const entryHeader = (e: Pick<LogEntry, 'seq' | 'at'>) => ({ seq: e.seq, at: e.at });

const CODECS: CodecTable = {
  input: {
    header: entryHeader,
    encode: (e) => codeAndBytes(codeOf(INPUT_DEVICE_CODES, e.device, 'input device'), e.data),
    decode: (p, seq, at) => {
      expectAtLeast(p, 1);
      return { kind: 'input', seq, at, device: lookup(INPUT_DEVICES, p[0], 'input device'), data: p.slice(1) };
    },
  },
  nondet: {
    header: entryHeader,
    encode: (e) => {
      const code = codeOf(NONDET_SOURCE_CODES, e.source, 'nondet source');
      // random values are int32 (what the guest sees); times are f64 milliseconds.
      if (e.source === 'random') {
        if (!Number.isInteger(e.value) || e.value < -0x80000000 || e.value > 0x7fffffff) {
          throw new RangeError(`random value ${e.value} is not an int32`);
        }
        const p = new Uint8Array(5);
        p[0] = code;
        view(p).setInt32(1, e.value, true);
        return p;
      }
      const p = new Uint8Array(9);
      p[0] = code;
      view(p).setFloat64(1, e.value, true);
      return p;
    },
    decode: (p, seq, at) => {
      expectAtLeast(p, 1);
      const source = lookup(NONDET_SOURCES, p[0], 'nondet source');
      expectLength(p, source === 'random' ? 5 : 9);
      const value = source === 'random' ? view(p).getInt32(1, true) : view(p).getFloat64(1, true);
      return { kind: 'nondet', seq, at, source, value };
    },
  },
  epoch: {
    header: entryHeader,
    encode: (e) => {
      assertU32(e.epoch, 'epoch');
      assertU32(e.pages, 'pages');
      if (!/^[0-9a-fA-F]{32}$/.test(e.hash)) throw new RangeError(`hash ${JSON.stringify(e.hash)} is not 32 hex digits`);
      const p = new Uint8Array(24);
      view(p).setUint32(0, e.epoch, true);
      view(p).setUint32(4, e.pages, true);
      p.set(Buffer.from(e.hash, 'hex'), 8);
      return p;
    },
    decode: (p, seq, at) => {
      expectLength(p, 24);
      const hash = Buffer.from(p.subarray(8, 24)).toString('hex');
      return { kind: 'epoch', seq, at, epoch: view(p).getUint32(0, true), hash, pages: view(p).getUint32(4, true) };
    },
  },
  output: {
    header: entryHeader,
    encode: (e) => codeAndBytes(codeOf(OUTPUT_DEVICE_CODES, e.device, 'output device'), e.data),
    decode: (p, seq, at) => {
      expectAtLeast(p, 1);
      return { kind: 'output', seq, at, device: lookup(OUTPUT_DEVICES, p[0], 'output device'), data: p.slice(1) };
    },
  },
  control: {
    header: entryHeader,
    encode: (e) => codeAndBytes(codeOf(CONTROL_OP_CODES, e.op, 'control op'), utf8Encoder.encode(e.detail)),
    decode: (p, seq, at) => {
      expectAtLeast(p, 1);
      return { kind: 'control', seq, at, op: lookup(CONTROL_OPS, p[0], 'control op'), detail: decodeUtf8(p.subarray(1)) };
    },
  },
  end: {
    header: entryHeader,
    encode: (e) => codeAndBytes(codeOf(END_HOW_CODES, e.how, 'end'), utf8Encoder.encode(e.detail)),
    decode: (p, seq, at) => {
      expectAtLeast(p, 1);
      return { kind: 'end', seq, at, how: lookup(END_HOWS, p[0], 'end'), detail: decodeUtf8(p.subarray(1)) };
    },
  },
  hello: {
    header: () => ({ seq: 0, at: 0 }),
    encode: (m) => {
      const token = m.step === 'challenge' ? m.nonce : m.mac;
      if (token.length !== HELLO_TOKEN_BYTES) throw new RangeError(`hello ${m.step} needs ${HELLO_TOKEN_BYTES} bytes`);
      const p = new Uint8Array(2 + HELLO_TOKEN_BYTES);
      p[0] = codeOf(ROLE_CODES, m.role, 'role');
      p[1] = codeOf(HELLO_STEP_CODES, m.step, 'hello step');
      p.set(token, 2);
      return p;
    },
    decode: (p) => {
      expectLength(p, 2 + HELLO_TOKEN_BYTES);
      const role = lookup(ROLES, p[0], 'role');
      const step = lookup(HELLO_STEPS, p[1], 'hello step');
      const token = p.slice(2);
      return step === 'challenge'
        ? { kind: 'hello', step, role, nonce: token }
        : { kind: 'hello', step, role, mac: token };
    },
  },
  ack: {
    header: (m) => ({ seq: m.seq, at: m.at }),
    encode: () => new Uint8Array(0),
    decode: (p, seq, at) => {
      expectLength(p, 0);
      return { kind: 'ack', seq, at };
    },
  },
  heartbeat: {
    header: (m) => ({ seq: m.seq, at: m.at }),
    encode: (m) => Uint8Array.of(codeOf(ROLE_CODES, m.role, 'role')),
    decode: (p, seq, at) => {
      expectLength(p, 1);
      return { kind: 'heartbeat', seq, at, role: lookup(ROLES, p[0], 'role') };
    },
  },
  'resend-from': {
    header: (m) => ({ seq: m.seq, at: m.at }),
    encode: () => new Uint8Array(0),
    decode: (p, seq, at) => {
      expectLength(p, 0);
      return { kind: 'resend-from', seq, at };
    },
  },
  released: {
    header: (m) => ({ seq: m.seq, at: m.at }),
    encode: () => new Uint8Array(0),
    decode: (p, seq, at) => {
      expectLength(p, 0);
      return { kind: 'released', seq, at };
    },
  },
  bye: {
    header: (m) => ({ seq: 0, at: m.at }),
    encode: (m) => utf8Encoder.encode(m.reason),
    decode: (p, _seq, at) => ({ kind: 'bye', at, reason: decodeUtf8(p) }),
  },
  checkpoint: {
    header: (m) => ({ seq: m.seq, at: m.at }),
    encode: (m) => {
      assertU32(m.index, 'checkpoint chunk index');
      assertU32(m.total, 'checkpoint chunk total');
      if (m.index >= m.total) throw new RangeError(`checkpoint chunk ${m.index} of ${m.total}`);
      const p = new Uint8Array(8 + m.data.length);
      view(p).setUint32(0, m.index, true);
      view(p).setUint32(4, m.total, true);
      p.set(m.data, 8);
      return p;
    },
    decode: (p, seq, at) => {
      expectAtLeast(p, 8);
      const index = view(p).getUint32(0, true);
      const total = view(p).getUint32(4, true);
      if (index >= total) throw new PayloadError(`checkpoint chunk ${index} of ${total}`);
      return { kind: 'checkpoint', seq, at, index, total, data: p.slice(8) };
    },
  },
  pages: {
    header: (m) => ({ seq: m.epoch, at: m.at }),
    encode: (m) => {
      assertU32(m.epoch, 'epoch');
      if (m.hashes.length % 8) throw new RangeError(`page hashes of ${m.hashes.length} bytes are not 8-byte hashes`);
      return m.hashes;
    },
    decode: (p, seq, at) => {
      if (p.length % 8) throw new PayloadError(`page hashes of ${p.length} bytes are not 8-byte hashes`);
      if (seq > 0xffffffff) throw new PayloadError(`epoch ${seq} is not a u32`);
      return { kind: 'pages', epoch: seq, at, hashes: p.slice() };
    },
  },
};

function codecFor<K extends FrameKind>(kind: K): PayloadCodec<Extract<Frame, { kind: K }>> {
  const codec = CODECS[kind] as PayloadCodec<Extract<Frame, { kind: K }>> | undefined;
  if (!codec) throw new RangeError(`unknown frame kind ${String(kind)}`);
  return codec;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function assertU32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${what} ${n} is not a u32`);
}

function assertCount(n: number, what: string, min: number): void {
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`${what} ${n} must be a safe integer >= ${min}`);
}

/** Consecutive clock readings as one clock run frame (clockrun.ts). Throws RangeError on any that do not fit. */
export function encodeClockRun(entries: readonly NondetEntry[]): Uint8Array {
  const payload = clockRunPayload(entries);
  return frameOf(CLOCK_RUN_CODE, entries[0].seq, entries[0].at, payload);
}

/** Encodes any frame (log entry or channel message). Throws RangeError on invalid fields. */
export function encodeFrame(f: Frame): Uint8Array {
  const codec = codecFor(f.kind) as PayloadCodec<Frame>;
  const { seq, at } = codec.header(f);
  assertCount(seq, 'seq', isLogEntry(f) ? 1 : 0);
  assertCount(at, 'at', 0);
  return frameOf(KIND_CODES[f.kind], seq, at, codec.encode(f));
}

/** Header, payload and CRC around a payload. */
function frameOf(kindCode: number, seq: number, at: number, payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_PAYLOAD_BYTES) throw new RangeError(`payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  const frame = new Uint8Array(FRAME_OVERHEAD + payload.length);
  const v = view(frame);
  frame.set(FRAME_MAGIC, 0);
  frame[OFF_VERSION] = FRAME_VERSION;
  frame[OFF_KIND] = kindCode;
  frame[OFF_FLAGS] = 0;
  v.setUint32(OFF_LENGTH, payload.length, true);
  v.setBigUint64(OFF_SEQ, BigInt(seq), true);
  v.setBigUint64(OFF_AT, BigInt(at), true);
  frame.set(payload, FRAME_HEADER_BYTES);
  const end = FRAME_HEADER_BYTES + payload.length;
  v.setUint32(end, crc32(frame.subarray(0, end)), true);
  return frame;
}

/** Encodes one log entry. */
export function encodeEntry(e: LogEntry): Uint8Array {
  if (!isLogEntry(e)) throw new RangeError(`${(e as Frame).kind} is not a log entry`);
  return encodeFrame(e);
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface FrameDecoderOptions {
  /** Largest accepted payload; defaults to MAX_PAYLOAD_BYTES (a smaller one is used before authentication). */
  maxPayload?: number;
  /** 'entries' rejects channel messages (log files); 'any' accepts both (the channel). */
  accept?: 'any' | 'entries';
  /** Offset of the first pushed byte in the larger stream, so errors name stream offsets. */
  baseOffset?: number;
}

/**
 * Incremental decoder: push() bytes as they arrive, then iterate to take every complete frame.
 * A bad frame throws LogFormatError and the decoder stays failed: nothing after it is decoded,
 * because a damaged length field means the following frame boundaries are unknown.
 */
export class FrameDecoder implements Iterable<Frame> {
  maxPayload: number;
  private readonly accept: 'any' | 'entries';
  private buf = new Uint8Array(0);
  private head = 0;
  private tail = 0;
  private consumed: number;
  private failure: LogFormatError | undefined;
  /** Entries of the last clock run frame not yet taken, and where that frame starts. */
  private queued: LogEntry[] = [];
  private queueHead = 0;
  private queueStart = 0;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxPayload = options.maxPayload ?? MAX_PAYLOAD_BYTES;
    this.accept = options.accept ?? 'any';
    this.consumed = options.baseOffset ?? 0;
  }

  /**
   * Stream offset of the next undecoded byte (the start of the next frame); while entries of a clock
   * run are still to be taken, the start of that run's frame (where an error in them is reported).
   */
  get offset(): number {
    return this.queueHead < this.queued.length ? this.queueStart : this.consumed;
  }

  /** Bytes received but not yet decoded. */
  get buffered(): number {
    return this.tail - this.head;
  }

  /** The error that stopped this decoder, if any. */
  get error(): LogFormatError | undefined {
    return this.failure;
  }

  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    this.reserve(chunk.length);
    this.buf.set(chunk, this.tail);
    this.tail += chunk.length;
  }

  *[Symbol.iterator](): Iterator<Frame> {
    for (;;) {
      const frame = this.next();
      if (frame === undefined) return;
      yield frame;
    }
  }

  /** Takes the next complete frame, or undefined if more bytes are needed. Throws on a bad frame. */
  next(): Frame | undefined {
    if (this.failure) throw this.failure;
    if (this.queueHead < this.queued.length) return this.queued[this.queueHead++];
    try {
      return this.decodeNext();
    } catch (err) {
      if (err instanceof LogFormatError) this.failure = err;
      throw err;
    }
  }

  /** Declares the end of the stream: leftover bytes are a truncated frame. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.buffered > 0) {
      this.failure = new LogFormatError('truncated', 'truncated frame', this.consumed);
      throw this.failure;
    }
  }

  // Grows or compacts the buffer so n more bytes fit after the undecoded ones.
  private reserve(n: number): void {
    if (this.tail + n <= this.buf.length) return;
    const live = this.tail - this.head;
    if (live + n <= this.buf.length) {
      this.buf.copyWithin(0, this.head, this.tail);
    } else {
      const grown = new Uint8Array(Math.max(2 * this.buf.length, live + n, 4096));
      grown.set(this.buf.subarray(this.head, this.tail));
      this.buf = grown;
    }
    this.head = 0;
    this.tail = live;
  }

  private fail(code: LogFormatErrorCode, reason: string): never {
    throw new LogFormatError(code, reason, this.consumed);
  }

  // Checks run as soon as the bytes they need are present, so garbage fails fast.
  private decodeNext(): Frame | undefined {
    const avail = this.tail - this.head;
    const b = this.buf.subarray(this.head, this.tail);
    if (avail >= 1 && b[0] !== FRAME_MAGIC[0]) this.fail('bad-magic', 'bad magic');
    if (avail >= 2 && b[1] !== FRAME_MAGIC[1]) this.fail('bad-magic', 'bad magic');
    if (avail > OFF_VERSION && b[OFF_VERSION] !== FRAME_VERSION) {
      this.fail('unsupported-version', `unsupported version ${b[OFF_VERSION]}`);
    }
    if (avail < FRAME_HEADER_BYTES) return undefined;
    const v = view(b);
    const length = v.getUint32(OFF_LENGTH, true);
    if (length > this.maxPayload) this.fail('payload-too-large', 'payload too large');
    const size = FRAME_OVERHEAD + length;
    if (avail < size) return undefined;
    const end = FRAME_HEADER_BYTES + length;
    if (crc32(b.subarray(0, end)) !== v.getUint32(end, true)) this.fail('checksum-mismatch', 'checksum mismatch');
    const start = this.consumed;
    const frame = this.decodeChecked(b, v, length);
    if (Array.isArray(frame)) {
      this.queued = frame;
      this.queueHead = 1;
      this.queueStart = start;
    }
    this.head += size;
    this.consumed += size;
    if (this.head === this.tail) this.head = this.tail = 0;
    return Array.isArray(frame) ? frame[0] : frame;
  }

  // The checksum is good: what remains wrong was written that way (newer writer or a bug).
  private decodeChecked(b: Uint8Array, v: DataView, length: number): Frame | LogEntry[] {
    const code = b[OFF_KIND];
    if (code === CLOCK_RUN_CODE) return this.decodeRun(b, v, length);
    const kind = KINDS.get(code);
    if (kind === undefined) this.fail('unknown-kind', `unknown kind ${hexByte(code)}`);
    if (b[OFF_FLAGS] !== 0) this.fail('unknown-flags', `unknown flags ${hexByte(b[OFF_FLAGS])}`);
    if (this.accept === 'entries' && KIND_CODES[kind] >= 0x80) {
      this.fail('unexpected-kind', `unexpected channel message ${kind} (kind ${hexByte(code)})`);
    }
    const seq = this.safeNumber(v.getBigUint64(OFF_SEQ, true), 'seq');
    const at = this.safeNumber(v.getBigUint64(OFF_AT, true), 'at');
    if (KIND_CODES[kind] < 0x80 && seq < 1) this.fail('bad-payload', `bad payload for ${kind}: seq 0`);
    const payload = b.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length);
    try {
      return (codecFor(kind) as PayloadCodec<Frame>).decode(payload, seq, at);
    } catch (err) {
      if (err instanceof PayloadError) this.fail('bad-payload', `bad payload for ${kind}: ${err.message}`);
      throw err;
    }
  }

  private decodeRun(b: Uint8Array, v: DataView, length: number): LogEntry[] {
    if (b[OFF_FLAGS] !== 0) this.fail('unknown-flags', `unknown flags ${hexByte(b[OFF_FLAGS])}`);
    const seq = this.safeNumber(v.getBigUint64(OFF_SEQ, true), 'seq');
    const at = this.safeNumber(v.getBigUint64(OFF_AT, true), 'at');
    if (seq < 1) this.fail('bad-payload', 'bad payload for clock run: seq 0');
    try {
      return decodeClockRun(b.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length), seq, at);
    } catch (err) {
      if (err instanceof ClockRunError) this.fail('bad-payload', `bad payload for clock run: ${err.message}`);
      throw err;
    }
  }

  private safeNumber(n: bigint, what: string): number {
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('number-too-large', `${what} ${n} exceeds 2^53-1`);
    return Number(n);
  }
}

/** Decodes a buffer holding exactly one frame. */
export function decodeFrame(bytes: Uint8Array): Frame {
  const frames = decodeFrames(bytes);
  if (frames.length !== 1) throw new RangeError(`expected one frame, found ${frames.length}`);
  return frames[0];
}

/** Decodes a buffer holding whole frames only; throws LogFormatError on anything bad. */
export function decodeFrames(bytes: Uint8Array, options?: FrameDecoderOptions): Frame[] {
  const decoder = new FrameDecoder(options);
  decoder.push(bytes);
  const frames = [...decoder];
  decoder.end();
  return frames;
}
