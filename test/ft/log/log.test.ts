import { strict as assert } from 'node:assert';
import { crc32 } from 'node:zlib';
import {
  CLOCK_RUN_CODE,
  clockUnits,
  decodeFrame,
  decodeFrames,
  describeEntry,
  encodeClockRun,
  encodeEntry,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FRAME_OVERHEAD,
  FrameDecoder,
  isLogEntry,
  KIND_CODES,
  LogFormatError,
  MAX_PAYLOAD_BYTES,
  type Frame,
  type LogEntry,
  type NondetEntry,
} from '../../../src/ft/log';
import { bytes, SAMPLE_ENTRIES, SAMPLE_MESSAGES } from '../samples';

const ALL: Frame[] = [...SAMPLE_ENTRIES, ...SAMPLE_MESSAGES];

/** Recomputes a frame's CRC after a deliberate header edit, so only the edit is wrong. */
function reseal(frame: Uint8Array): Uint8Array {
  const end = frame.length - 4;
  new DataView(frame.buffer, frame.byteOffset).setUint32(end, crc32(frame.subarray(0, end)), true);
  return frame;
}

function decodeError(data: Uint8Array): { frames: Frame[]; error: LogFormatError } {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  try {
    decoder.push(data);
    for (const f of decoder) frames.push(f);
    decoder.end();
  } catch (err) {
    assert.ok(err instanceof LogFormatError, `expected LogFormatError, got ${String(err)}`);
    return { frames, error: err };
  }
  assert.fail(`no error; decoded ${frames.map((f) => describeEntry(f)).join(', ')}`);
}

describe('log entries and frames', () => {
  it('has one unique code per kind, entries below 0x80 and channel messages above', () => {
    const codes = Object.values(KIND_CODES);
    assert.equal(new Set(codes).size, codes.length);
    for (const f of ALL) assert.equal(isLogEntry(f), KIND_CODES[f.kind] < 0x80, f.kind);
    const kinds = new Set(ALL.map((f) => f.kind));
    assert.deepEqual([...kinds].sort(), Object.keys(KIND_CODES).sort(), 'samples cover every kind');
  });

  it('round-trips every kind of entry and channel message', () => {
    for (const f of ALL) {
      const frame = encodeFrame(f);
      assert.deepEqual(decodeFrame(frame), f, describeEntry(f));
    }
    for (const e of SAMPLE_ENTRIES) assert.deepEqual(encodeEntry(e), encodeFrame(e));
  });

  it('decodes a stream pushed one byte at a time', () => {
    const stream = Buffer.concat(ALL.map(encodeFrame));
    const decoder = new FrameDecoder();
    const out: Frame[] = [];
    for (const b of stream) {
      decoder.push(Uint8Array.of(b));
      out.push(...decoder);
    }
    decoder.end();
    assert.deepEqual(out, ALL);
    assert.equal(decoder.offset, stream.length);
  });

  it('puts the header and CRC where docs/log-format.md says', () => {
    const e = SAMPLE_ENTRIES[1];
    const frame = encodeFrame(e);
    const v = new DataView(frame.buffer);
    assert.deepEqual([...frame.subarray(0, 5)], [0xf7, 0x4c, 1, KIND_CODES.input, 0]);
    assert.equal(v.getUint32(5, true), 6); // device byte + "PUT a"
    assert.equal(v.getBigUint64(9, true), 2n);
    assert.equal(v.getBigUint64(17, true), 1234567n);
    assert.equal(frame[FRAME_HEADER_BYTES], 1); // serial
    assert.equal(frame.length, FRAME_OVERHEAD + 6);
    assert.equal(v.getUint32(frame.length - 4, true), crc32(frame.subarray(0, frame.length - 4)));
    // The worked example in docs/log-format.md.
    const doc = 'f74c010100060000000200000000000000 87d6120000000000 0150555420 61 d451ecdf'.replace(/ /g, '');
    assert.equal(Buffer.from(frame).toString('hex'), doc);
  });

  it('detects a corrupted byte at every position of every frame', function () {
    this.timeout(120_000);
    for (const f of ALL) {
      const frame = encodeFrame(f);
      for (let i = 0; i < frame.length; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const bad = frame.slice();
          bad[i] ^= mask;
          const { frames, error } = decodeError(bad);
          assert.equal(frames.length, 0, `${f.kind} byte ${i} mask ${mask}: decoded a corrupt frame`);
          assert.equal(error.offset, 0);
        }
      }
    }
  });

  it('stops at a corrupted middle frame: earlier frames decode, later ones never do', () => {
    const [a, b, c] = SAMPLE_ENTRIES.slice(1, 4).map(encodeEntry);
    for (let i = 0; i < b.length; i++) {
      const bad = b.slice();
      bad[i] ^= 0x5a;
      const { frames, error } = decodeError(Buffer.concat([a, bad, c]));
      assert.deepEqual(frames, [SAMPLE_ENTRIES[1]], `byte ${i}`);
      assert.equal(error.offset, a.length, `byte ${i}`);
    }
  });

  it('stays failed after an error', () => {
    const decoder = new FrameDecoder();
    decoder.push(Uint8Array.of(1, 2, 3));
    assert.throws(() => [...decoder], /bad magic at byte 0/);
    assert.throws(() => decoder.push(encodeFrame(SAMPLE_ENTRIES[0])), LogFormatError);
    assert.throws(() => decoder.next(), LogFormatError);
    assert.equal(decoder.error?.reason, 'bad magic');
  });

  it('never decodes a truncated frame, at any length', () => {
    for (const f of ALL) {
      const frame = encodeFrame(f);
      for (let n = 1; n < frame.length; n++) {
        const decoder = new FrameDecoder();
        decoder.push(frame.subarray(0, n));
        assert.deepEqual([...decoder], [], `${f.kind} cut at ${n}`);
        assert.throws(() => decoder.end(), (e: unknown) => e instanceof LogFormatError && e.reason === 'truncated frame' && e.offset === 0);
      }
    }
  });

  it('reports truncation at the offset of the cut frame', () => {
    const a = encodeEntry(SAMPLE_ENTRIES[0]);
    const b = encodeEntry(SAMPLE_ENTRIES[1]);
    const { frames, error } = decodeError(Buffer.concat([a, b.subarray(0, 10)]));
    assert.deepEqual(frames, [SAMPLE_ENTRIES[0]]);
    assert.equal(error.reason, 'truncated frame');
    assert.equal(error.offset, a.length);
    assert.equal(error.message, `truncated frame at byte ${a.length}`);
  });

  describe('names what is wrong', () => {
    const frame = () => encodeEntry(SAMPLE_ENTRIES[1]);
    const reasonOf = (data: Uint8Array) => decodeError(data).error.reason;

    it('bad magic', () => {
      const f = frame();
      f[0] = 0x47;
      assert.equal(reasonOf(f), 'bad magic');
      assert.equal(reasonOf(bytes('GET / HTTP/1.1\r\n\r\n')), 'bad magic');
    });

    it('unsupported version', () => {
      const f = frame();
      f[2] = 7;
      assert.equal(reasonOf(f), 'unsupported version 7');
    });

    it('unknown kind (with a valid checksum)', () => {
      const f = frame();
      f[3] = 0x33;
      assert.equal(reasonOf(reseal(f)), 'unknown kind 0x33');
    });

    it('unknown flags', () => {
      const f = frame();
      f[4] = 0x01;
      assert.equal(reasonOf(reseal(f)), 'unknown flags 0x01');
    });

    it('checksum mismatch', () => {
      const f = frame();
      f[f.length - 1] ^= 1;
      assert.equal(reasonOf(f), 'checksum mismatch');
    });

    it('payload too large, before waiting for the payload', () => {
      const f = frame();
      new DataView(f.buffer).setUint32(5, MAX_PAYLOAD_BYTES + 1, true);
      const decoder = new FrameDecoder();
      decoder.push(f.subarray(0, FRAME_HEADER_BYTES));
      assert.throws(() => decoder.next(), /payload too large at byte 0/);
    });

    it('a smaller payload limit', () => {
      const decoder = new FrameDecoder({ maxPayload: 4 });
      decoder.push(frame());
      assert.throws(() => decoder.next(), /payload too large/);
    });

    it('seq or at above 2^53-1', () => {
      const f = frame();
      new DataView(f.buffer).setBigUint64(17, 2n ** 53n, true);
      assert.equal(decodeError(reseal(f)).error.code, 'number-too-large');
      const g = frame();
      new DataView(g.buffer).setBigUint64(9, 2n ** 64n - 1n, true);
      assert.equal(decodeError(reseal(g)).error.code, 'number-too-large');
    });

    it('a payload that does not fit its kind', () => {
      const f = encodeEntry({ kind: 'nondet', seq: 1, at: 1, source: 'random', value: 5 });
      f[FRAME_HEADER_BYTES] = 1; // now says "clock", which needs 8 value bytes, not 4
      assert.match(reasonOf(reseal(f)), /^bad payload for nondet: length 5, expected 9/);
      const g = encodeEntry({ kind: 'input', seq: 1, at: 1, device: 'serial', data: bytes('x') });
      g[FRAME_HEADER_BYTES] = 9;
      assert.match(reasonOf(reseal(g)), /^bad payload for input: unknown input device 9/);
      const h = encodeEntry({ kind: 'control', seq: 1, at: 1, op: 'start', detail: 'ab' });
      h[FRAME_HEADER_BYTES + 1] = 0xff;
      assert.match(reasonOf(reseal(h)), /invalid UTF-8/);
    });

    it('a log entry with seq 0', () => {
      const f = frame();
      new DataView(f.buffer).setBigUint64(9, 0n, true);
      assert.match(reasonOf(reseal(f)), /seq 0/);
    });

    it('a channel message where only entries are allowed', () => {
      const data = encodeFrame({ kind: 'ack', seq: 1, at: 2 });
      assert.throws(() => decodeFrames(data, { accept: 'entries' }), (e: unknown) => e instanceof LogFormatError && e.code === 'unexpected-kind');
    });
  });

  it('refuses to encode invalid entries', () => {
    const base: LogEntry = { kind: 'input', seq: 1, at: 0, device: 'serial', data: bytes('x') };
    assert.throws(() => encodeEntry({ ...base, seq: 0 }), RangeError);
    assert.throws(() => encodeEntry({ ...base, at: -1 }), RangeError);
    assert.throws(() => encodeEntry({ ...base, at: 1.5 }), RangeError);
    assert.throws(() => encodeEntry({ ...base, at: Number.MAX_SAFE_INTEGER + 1 }), RangeError);
    assert.throws(() => encodeEntry({ kind: 'nondet', seq: 1, at: 0, source: 'random', value: 2 ** 31 }), RangeError);
    assert.throws(() => encodeEntry({ kind: 'nondet', seq: 1, at: 0, source: 'random', value: 0.5 }), RangeError);
    assert.throws(() => encodeEntry({ kind: 'epoch', seq: 1, at: 0, epoch: 1, hash: 'abc', pages: 1 }), RangeError);
    assert.throws(() => encodeEntry({ kind: 'epoch', seq: 1, at: 0, epoch: -1, hash: '0'.repeat(32), pages: 1 }), RangeError);
    assert.throws(() => encodeEntry({ kind: 'input', seq: 1, at: 0, device: 'usb' as 'net', data: bytes('') }), RangeError);
    assert.throws(() => encodeEntry({ ...base, data: new Uint8Array(MAX_PAYLOAD_BYTES) }), RangeError);
    assert.throws(() => encodeEntry({ kind: 'ack', seq: 1, at: 1 } as unknown as LogEntry), RangeError);
    assert.throws(() => encodeFrame({ kind: 'hello', step: 'challenge', role: 'primary', nonce: new Uint8Array(3) }), RangeError);
  });

  it('accepts the largest payload', () => {
    const e: LogEntry = { kind: 'input', seq: 1, at: 0, device: 'net', data: new Uint8Array(MAX_PAYLOAD_BYTES - 1).fill(9) };
    assert.deepEqual(decodeFrame(encodeEntry(e)), e);
  });

  it('describes entries on one line', () => {
    const d = (f: Frame) => describeEntry(f);
    assert.equal(d({ kind: 'input', seq: 42, at: 1234567, device: 'serial', data: bytes('PUT a') }), '#42 @1234567 input serial 5 "PUT a"');
    assert.equal(d(SAMPLE_ENTRIES[2]), '#3 @1234567 input keyboard 2 0x1c9c');
    assert.equal(d(SAMPLE_ENTRIES[5]), '#6 @2100000 nondet clock 1234.5678901234');
    assert.equal(d(SAMPLE_ENTRIES[6]), '#7 @2100000 nondet random -2147483648');
    assert.equal(d(SAMPLE_ENTRIES[8]), '#9 @3000000 epoch 3 hash=0123456789abcdef00112233445566ff pages=4096');
    assert.equal(d(SAMPLE_ENTRIES[9]), '#10 @3000100 output serial 6 "OK a\\r\\n"');
    assert.equal(d(SAMPLE_ENTRIES[0]), '#1 @0 control start {"guest":"kv","cmdline":"console=ttyS0"}');
    assert.equal(d({ kind: 'control', seq: 2, at: 5, op: 'shutdown', detail: 'guest halted' }), '#2 @5 control shutdown "guest halted"');
    assert.equal(d({ kind: 'control', seq: 2, at: 5, op: 'clone', detail: '{not json' }), '#2 @5 control clone "{not json"');
    assert.equal(d({ kind: 'ack', seq: 41, at: 1234500 }), 'ack #41 @1234500');
    assert.equal(d({ kind: 'heartbeat', seq: 3, at: 9, role: 'backup' }), 'heartbeat backup #3 @9');
    assert.equal(d({ kind: 'bye', at: 9, reason: 'done' }), 'bye @9 "done"');
    const long = describeEntry(SAMPLE_ENTRIES[3]);
    assert.match(long, /^#4 @2000000 input net 1500 ethertype 0x545b 2a:31:38:3f:46:4d > 00:07:0e:15:1c:23 0x6269[0-9a-f]+\.\.\. \(\+1422 bytes\)$/);
    assert.ok(!describeEntry(SAMPLE_ENTRIES[3], { maxBytes: Infinity }).includes('...'));
    for (const f of ALL) assert.ok(!describeEntry(f).includes('\n'), f.kind);
  });
});

describe('clock runs', () => {
  const clock = (seq: number, at: number, value: number): NondetEntry =>
    ({ kind: 'nondet', seq, at, source: 'clock', value });
  const run = [
    clock(7, 5_000, 12.345), clock(8, 5_000, 12.346), clock(9, 9_000_000, 12.1), clock(10, 2 ** 52, 2 ** 40 + 0.001),
  ];

  it('decodes into the same entries, whole or pushed a byte at a time', () => {
    const frame = encodeClockRun(run);
    assert.equal(frame[3], CLOCK_RUN_CODE);
    assert.deepEqual(decodeFrames(frame), run);
    const decoder = new FrameDecoder();
    const got: Frame[] = [];
    for (const byte of frame) {
      decoder.push(Uint8Array.of(byte));
      got.push(...decoder);
    }
    assert.deepEqual(got, run);
  });

  it('takes a reading in a few bytes: the count and the value as changes from the reading before', () => {
    const steady = Array.from({ length: 100 }, (_, i) => clock(1 + i, 1_000_000 + i * 100_000, 5000 + i * 0.15));
    // Per reading: 3 bytes of count change (100 000) and 2 of value change (150 us, zigzag 300).
    assert.ok(encodeClockRun(steady).length <= FRAME_OVERHEAD + 5 * 100);
  });

  it('carries only values in whole microseconds, in order, without gaps', () => {
    assert.equal(clockUnits(1.5), 1500);
    assert.equal(clockUnits(1 / 3), undefined);
    assert.equal(clockUnits(-1), undefined);
    assert.throws(() => encodeClockRun([clock(1, 0, 1 / 3)]), /not a clock reading in whole microseconds/);
    assert.throws(() => encodeClockRun([clock(1, 10, 1), clock(3, 10, 2)]), /does not follow/);
    assert.throws(() => encodeClockRun([clock(1, 10, 1), clock(2, 9, 2)]), /does not follow/);
    assert.throws(() => encodeClockRun([]), /1 to 4096 readings/);
    const random: LogEntry = { kind: 'nondet', seq: 1, at: 0, source: 'random', value: 4 };
    assert.throws(() => encodeClockRun([random as NondetEntry]), /not a clock reading/);
  });

  it('names a damaged payload, with the offset of the run frame', () => {
    const before = encodeEntry(SAMPLE_ENTRIES[0]);
    const cut = encodeClockRun([clock(1, 0, 1)]).slice(0, FRAME_HEADER_BYTES);
    const frame = new Uint8Array(FRAME_OVERHEAD + 1);
    frame.set(cut);
    new DataView(frame.buffer).setUint32(5, 1, true);
    frame[FRAME_HEADER_BYTES] = 0x80; // a varint that never ends
    const { frames, error } = decodeError(new Uint8Array([...before, ...reseal(frame)]));
    assert.equal(frames.length, 1);
    assert.equal(error.code, 'bad-payload');
    assert.equal(error.reason, 'bad payload for clock run: a reading cut short');
    assert.equal(error.offset, before.length);
    const empty = reseal(Uint8Array.from([...cut.subarray(0, 5), 0, 0, 0, 0, ...cut.subarray(9), 0, 0, 0, 0]));
    assert.equal(decodeError(empty).error.reason, 'bad payload for clock run: a clock run of no readings');
  });
});
