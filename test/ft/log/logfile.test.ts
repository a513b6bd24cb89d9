import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  encodeClockRun,
  encodeEntry,
  encodeFileHeader,
  encodeFrame,
  fileHeaderLength,
  isComplete,
  joinLogFiles,
  LogFileReader,
  LogFormatError,
  LogWriter,
  readLogFile,
  type LogEntry,
  type LogMeta,
  type NondetEntry,
} from '../../../src/ft/log';
import { FIRST_HASHED_DEVICES, FIRST_INSTRUCTIONS_PER_MS, HASHED_DEVICES, INSTRUCTIONS_PER_MS, loadImage } from '../../../src/ft/machine';
import { ReplayError, replayLogFile, runGuest } from '../../../src/ft/commands';
import { shortRun, TEST_EPOCH } from '../../support/guests';
import { bytes } from '../samples';

const META: LogMeta = {
  guest: 'kv',
  imageSha256: 'ab'.repeat(32),
  memorySize: 64 << 20,
  clock: 'virtual',
  instructionsPerMs: INSTRUCTIONS_PER_MS,
  jit: true,
  jitKept: true,
  epochLength: 10_000_000,
  cmdline: 'console=ttyS0',
  createdAt: '2025-01-02T03:04:05.000Z',
};

/** A well-formed log: consecutive seq from 1, `at` never going back, every entry kind. */
function makeLog(n: number): LogEntry[] {
  const entries: LogEntry[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const at = seq * 1000;
    switch (seq % 5) {
      case 0: entries.push({ kind: 'input', seq, at, device: 'serial', data: bytes(`PUT k${seq} v${seq}\n`) }); break;
      // Not whole microseconds, so each is a frame of its own (clock runs have tests of their own).
      case 1: entries.push({ kind: 'nondet', seq, at, source: 'clock', value: seq / 3 + 1e-9 }); break;
      case 2: entries.push({ kind: 'output', seq, at, device: 'serial', data: bytes(`OK ${seq}\n`) }); break;
      case 3: entries.push({ kind: 'epoch', seq, at, epoch: seq, hash: seq.toString(16).padStart(32, '0'), pages: 16384 }); break;
      default: entries.push({ kind: 'control', seq, at, op: 'clone', detail: JSON.stringify({ seq }) });
    }
  }
  return entries;
}

describe('log files', () => {
  let dir: string;
  let counter = 0;
  const path = () => join(dir, `t${++counter}.ftlog`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lockstep-logfile-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeLog(entries: LogEntry[], meta: LogMeta = META): Promise<string> {
    const p = path();
    const writer = await LogWriter.create(p, meta);
    for (const e of entries) writer.append(e);
    await writer.close();
    return p;
  }

  /** The end entry LogWriter.close() writes after `entries`. */
  function endAfter(entries: LogEntry[], firstSeq = 1): LogEntry {
    return { kind: 'end', seq: (entries.at(-1)?.seq ?? firstSeq - 1) + 1, at: entries.at(-1)?.at ?? 0, how: 'closed', detail: '' };
  }

  /** File offset of every frame, plus the end of the file (after the end entry). */
  function frameOffsets(entries: LogEntry[], meta = META): number[] {
    const offsets = [encodeFileHeader(meta).length];
    for (const e of [...entries, endAfter(entries)]) offsets.push(offsets[offsets.length - 1] + encodeEntry(e).length);
    return offsets;
  }

  it('writes and reads back metadata and every entry', async () => {
    const entries = makeLog(25);
    const meta = { ...META, extra: { rate: 3 } };
    const p = await writeLog(entries, meta);
    const read = await readLogFile(p);
    assert.equal(read.error, undefined);
    assert.deepEqual(read.meta, meta);
    assert.deepEqual(read.entries, entries);
    assert.deepEqual(read.end, endAfter(entries));
    assert.equal((await stat(p)).size, frameOffsets(entries, meta).at(-1));
  });

  it('lays out the file header as docs/log-format.md says', () => {
    const h = Buffer.from(encodeFileHeader(META));
    const json = Buffer.from(JSON.stringify(META));
    assert.equal(h.subarray(0, 14).toString('ascii'), 'LOCKSTEP-FTLOG');
    assert.deepEqual([h[14], h[15]], [2, 0]);
    assert.equal(h.readUInt32LE(16), json.length);
    assert.deepEqual(h.subarray(20, 20 + json.length), json);
    assert.equal(h.readUInt32LE(20 + json.length), crc32(h.subarray(0, 20 + json.length)));
    assert.equal(h.length, 24 + json.length);
  });

  it('reads an empty log', async () => {
    const read = await readLogFile(await writeLog([]));
    assert.deepEqual(read, { meta: META, entries: [], end: endAfter([]), version: 2 });
  });

  it('handles a log bigger than the write buffer and the read chunk', async () => {
    const entries = makeLog(20);
    for (let i = 0; i < 6; i++) {
      const last = entries[entries.length - 1];
      entries.push({ kind: 'input', seq: last.seq + 1, at: last.at, device: 'net', data: new Uint8Array(100_000).fill(i) });
    }
    entries.push(...makeLog(2000).slice(26).map((e) => ({ ...e, at: e.at + 100_000 })));
    const p = path();
    const writer = await LogWriter.create(p, META);
    for (const e of entries) writer.append(e);
    assert.equal(writer.nextSeq, entries.length + 1);
    await writer.flush(true);
    assert.equal((await stat(p)).size, writer.size);
    await writer.close();
    assert.deepEqual((await readLogFile(p)).entries, entries);
    const reader = await LogFileReader.open(p);
    let n = 0;
    const all = [...entries, endAfter(entries)];
    for await (const e of reader.entries()) assert.deepEqual(e, all[n++]);
    await reader.close();
    assert.equal(n, all.length);
  });

  it('refuses entries out of order, and appends after close', async () => {
    const writer = await LogWriter.create(path(), META);
    const [a, b] = makeLog(2);
    assert.throws(() => writer.append(b), /seq 2 out of order, expected 1/);
    writer.append(a);
    assert.throws(() => writer.append({ ...b, at: a.at - 1 }), /goes back/);
    writer.append(b);
    assert.throws(() => writer.append(endAfter([a, b])), /written by close\(\), not appended/);
    await writer.close();
    assert.throws(() => writer.append(makeLog(3)[2]), /closed/);
  });

  it('ends a closed file with its end entry, and refuses anything after it', async () => {
    const entries = makeLog(3);
    const clean = await readFile(await writeLog(entries));
    const after = encodeEntry({ ...makeLog(5)[4], seq: 5 });
    const p = path();
    await writeFile(p, Buffer.concat([clean, after]));
    const read = await readLogFile(p);
    assert.deepEqual([read.entries, read.end], [entries, endAfter(entries)]);
    assert.equal(read.error?.code, 'out-of-order');
    assert.equal(read.error?.reason, 'input entry after the end entry');
    assert.equal(read.error?.offset, clean.length);
  });

  it('tells a file cut at a frame boundary from a whole one; a version 1 file (no end entries) counts as whole', async () => {
    const entries = makeLog(4);
    const whole = await readFile(await writeLog(entries));
    const header = encodeFileHeader(META);
    const frames = Buffer.concat(entries.map((entry) => encodeEntry(entry)));
    const cut = path();
    await writeFile(cut, Buffer.concat([header, frames]));
    const old = Buffer.from(header);
    old[14] = 1;
    old.writeUInt32LE(crc32(old.subarray(0, old.length - 4)), old.length - 4);
    const version1 = path();
    await writeFile(version1, Buffer.concat([old, frames]));
    const damaged = path();
    await writeFile(damaged, Buffer.concat([old, frames.subarray(0, frames.length - 1)]));
    assert.equal(whole[14], 2);
    const read = async (file: string) => { const c = await readLogFile(file); return [c.version, isComplete(c)]; };
    assert.deepEqual(await read(cut), [2, false]);
    assert.deepEqual(await read(version1), [1, true]);
    assert.deepEqual(await read(damaged), [1, false]);
  });

  it('joins files into one that ends with an end entry saying how, and none of theirs', async () => {
    const entries = makeLog(9);
    const first = await writeLog(entries.slice(0, 6));
    const second = path();
    const writer = await LogWriter.create(second, { ...META, firstSeq: 5 });
    for (const e of entries.slice(4)) writer.append(e);
    await writer.close();
    const out = path();
    assert.equal(await joinLogFiles([first, second], out, 'killed', 'joined'), 9);
    const read = await readLogFile(out);
    assert.deepEqual(read.entries, entries);
    assert.deepEqual(read.end, { ...endAfter(entries), how: 'killed', detail: 'joined' });
  });

  it('returns the good prefix and the offset of a corrupted middle frame, whichever byte is hit', async function () {
    this.timeout(120_000);
    const entries = makeLog(7);
    const clean = await readFile(await writeLog(entries));
    const offsets = frameOffsets(entries);
    const k = 3; // the fourth frame
    for (let i = offsets[k]; i < offsets[k + 1]; i++) {
      const p = path();
      const bad = Buffer.from(clean);
      bad[i] ^= 0x20;
      await writeFile(p, bad);
      const read = await readLogFile(p);
      assert.deepEqual(read.entries, entries.slice(0, k), `byte ${i}`);
      assert.ok(read.error instanceof LogFormatError, `byte ${i}`);
      assert.equal(read.error.offset, offsets[k], `byte ${i}: ${read.error.message}`);
    }
  });

  it('returns the good prefix of a file cut at any length', async () => {
    const entries = makeLog(4);
    const clean = await readFile(await writeLog(entries));
    const offsets = frameOffsets(entries);
    for (let cut = offsets[0]; cut <= clean.length; cut++) {
      const p = path();
      await writeFile(p, clean.subarray(0, cut));
      const read = await readLogFile(p);
      const whole = offsets.filter((o) => o <= cut).length - 1;
      assert.deepEqual(read.entries, entries.slice(0, whole), `cut ${cut}`);
      // Only the whole file has its end entry: a cut at a frame boundary is told from it.
      assert.deepEqual(read.end, cut === clean.length ? endAfter(entries) : undefined, `cut ${cut}`);
      if (offsets.includes(cut)) {
        assert.equal(read.error, undefined, `cut ${cut}`);
      } else {
        assert.equal(read.error?.reason, 'truncated frame', `cut ${cut}`);
        assert.equal(read.error?.offset, offsets[whole], `cut ${cut}`);
      }
    }
  });

  /** Host clock readings as a Recorder takes them (whole microseconds), some at the same count. */
  function readings(firstSeq: number, n: number, at = 0): NondetEntry[] {
    return Array.from({ length: n }, (_, i) => ({
      kind: 'nondet', seq: firstSeq + i, at: at + Math.floor(i / 2) * 137_000, source: 'clock', value: (1_000_000 + i * 731) / 1000,
    }));
  }

  it('writes consecutive clock readings as clock runs, a few bytes each, and reads back the same entries', async () => {
    const clocks = readings(1, 300);
    const input: LogEntry = { kind: 'input', seq: 301, at: clocks[299].at, device: 'serial', data: bytes('GET a\n') };
    const more = readings(302, 5000, input.at + 1);
    const entries: LogEntry[] = [...clocks, input, ...more];
    const p = await writeLog(entries);
    const read = await readLogFile(p);
    assert.equal(read.error, undefined);
    assert.deepEqual(read.entries, entries);
    // Frames: a run of 300, the input, a full run (MAX_CLOCK_RUN = 4096), the rest, and the end entry.
    const expected = frameOffsets([], META)[0] + encodeClockRun(clocks).length + encodeEntry(input).length +
      encodeClockRun(more.slice(0, 4096)).length + encodeClockRun(more.slice(4096)).length +
      encodeEntry(endAfter(entries)).length;
    assert.equal((await stat(p)).size, expected);
    assert.ok(expected < 8 * entries.length, `${expected} bytes for ${entries.length} entries`);
  });

  it('refuses a bad clock reading when it is appended, not when its run is written', async () => {
    const writer = await LogWriter.create(path(), META);
    writer.append(readings(1, 1)[0]);
    assert.throws(() => writer.append({ ...readings(2, 1)[0], at: 2 ** 53 }), /must be a safe integer/);
    await writer.close();
  });

  it('reports a clock run that breaks the order at the run frame, after the entries before it', async () => {
    const first = readings(1, 3);
    const p = await writeLog(first);
    const good = await readFile(p);
    await writeFile(p, Buffer.concat([good, encodeClockRun(readings(5, 4, first[2].at))]));
    const read = await readLogFile(p);
    assert.deepEqual(read.entries, first);
    assert.equal(read.error?.code, 'out-of-order');
    assert.equal(read.error?.offset, good.length);
  });

  it('still reads clock readings written one frame each (files from before clock runs)', async () => {
    const entries = readings(1, 10);
    const p = path();
    await writeFile(p, Buffer.concat([encodeFileHeader(META), ...entries.map(encodeEntry)]));
    assert.deepEqual((await readLogFile(p)).entries, entries);
  });

  it('rejects channel messages, gaps and time going back inside a file', async () => {
    const entries = makeLog(3);
    const header = encodeFileHeader(META);
    const offsets = frameOffsets(entries);
    const cases: Array<[Uint8Array, string]> = [
      [encodeFrame({ kind: 'ack', seq: 3, at: 1 }), 'unexpected-kind'],
      [encodeEntry({ ...entries[0], seq: 5, at: 9_999_999 }), 'out-of-order'],
      [encodeEntry({ ...entries[0], seq: 4, at: 1 }), 'out-of-order'],
    ];
    for (const [frame, code] of cases) {
      const p = path();
      await writeFile(
        p,
        Buffer.concat([header, ...entries.map(encodeEntry), frame, encodeEntry({ ...entries[0], seq: 4, at: 10_000 })]),
      );
      const read = await readLogFile(p);
      assert.deepEqual(read.entries, entries);
      assert.equal(read.error?.code, code);
      assert.equal(read.error?.offset, offsets[3]);
    }
  });

  it('throws on a bad file header, at the byte where it goes wrong', async () => {
    const good = await readFile(await writeLog(makeLog(2)));
    const headerLength = fileHeaderLength(good);
    const edits: Array<[string, number, (b: Buffer) => Buffer]> = [
      ['bad magic', 0, (b) => ((b[0] = 0x4d), b)],
      ['unsupported version 9', 14, (b) => ((b[14] = 9), b)],
      ['checksum mismatch', headerLength - 4, (b) => ((b[30] ^= 1), b)],
      ['truncated', 40, (b) => b.subarray(0, 40)],
      ['truncated', 10, (b) => b.subarray(0, 10)],
    ];
    for (const [reason, offset, edit] of edits) {
      const p = path();
      await writeFile(p, edit(Buffer.from(good)));
      await assert.rejects(readLogFile(p), (e: unknown) => e instanceof LogFormatError && e.code === 'bad-header' && e.message.includes(reason) && e.offset === offset, reason);
    }
    const p = path();
    const noGuest: Partial<LogMeta> = { ...META };
    delete noGuest.guest;
    await writeFile(p, encodeFileHeader(noGuest as LogMeta));
    await assert.rejects(readLogFile(p), /metadata field guest/);
    // A header with a valid checksum around values no machine can be built from.
    for (const [field, value] of [['clock', 'bogus'], ['memorySize', -1], ['epochLength', 0.5]] as const) {
      await writeFile(p, encodeFileHeader({ ...META, [field]: value }));
      await assert.rejects(readLogFile(p), new RegExp(`metadata field ${field} is ${JSON.stringify(value)}, not `), field);
    }
  });

  it('streams entries and stops at the first bad frame', async () => {
    const entries = makeLog(5);
    const clean = await readFile(await writeLog(entries));
    const offsets = frameOffsets(entries);
    clean[offsets[2] + 30] ^= 1;
    const p = path();
    await writeFile(p, clean);
    const reader = await LogFileReader.open(p);
    assert.deepEqual(reader.meta, META);
    const seen: LogEntry[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of reader.entries()) seen.push(e);
      })(),
      (e: unknown) => e instanceof LogFormatError && e.offset === offsets[2] && e.reason === 'checksum mismatch',
    );
    await reader.close();
    assert.deepEqual(seen, entries.slice(0, 2));
  });

  describe('segments and joining (a recording across failovers)', () => {
    /** Entries `from`..`to` of a log whose every output says which host wrote it. */
    const part = (from: number, to: number, host: string): LogEntry[] =>
      makeLog(to).slice(from - 1).map((e) => (e.kind === 'output' ? { ...e, data: bytes(host) } : e));
    const sources = (entries: LogEntry[]) => entries.filter((e) => e.kind === 'output').map((e) => `${e.seq}:${Buffer.from((e as { data: Uint8Array }).data).toString()}`);

    it('writes and reads a segment from its firstSeq, and refuses a bad firstSeq', async () => {
      const p = await writeLog(part(6, 9, 'b'), { ...META, firstSeq: 6 });
      const { meta, entries, error } = await readLogFile(p);
      assert.equal(error, undefined);
      assert.equal(meta.firstSeq, 6);
      assert.deepEqual(entries.map((e) => e.seq), [6, 7, 8, 9]);
      const writer = await LogWriter.create(path(), { ...META, firstSeq: 6 });
      assert.throws(() => writer.append(makeLog(1)[0]), /seq 1 out of order, expected 6/);
      await writer.close();
      for (const firstSeq of [0, 1.5, '6']) {
        const bad = path();
        await writeFile(bad, encodeFileHeader({ ...META, firstSeq } as LogMeta));
        await assert.rejects(LogFileReader.open(bad), /firstSeq is not a seq/);
      }
    });

    it('joins each file up to where the next starts, the last one whole', async () => {
      const a = await writeLog(part(1, 10, 'a'));
      const b = await writeLog(part(6, 15, 'b'), { ...META, firstSeq: 6 });
      const c = await writeLog(part(12, 20, 'c'), { ...META, firstSeq: 12 });
      const out = path();
      await joinLogFiles([a, b, c], out);
      const { meta, entries, error } = await readLogFile(out);
      assert.equal(error, undefined);
      assert.equal(meta.firstSeq, undefined, 'the joined log starts at boot');
      assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(sources(entries), ['2:a', '7:b', '12:c', '17:c']);
    });

    it('takes a file that ends in a bad frame up to its last good entry; refuses a gap and leaves the output alone', async () => {
      const a = await writeLog(part(1, 10, 'a'));
      const cut = await readFile(a);
      const torn = path();
      await writeFile(torn, cut.subarray(0, frameOffsets(makeLog(10))[8] + 5)); // entry 9 torn mid-frame
      const b = await writeLog(part(9, 12, 'b'), { ...META, firstSeq: 9 });
      const out = path();
      await joinLogFiles([torn, b], out);
      assert.deepEqual((await readLogFile(out)).entries.map((e) => e.seq), Array.from({ length: 12 }, (_, i) => i + 1));
      const late = await writeLog(part(11, 12, 'b'), { ...META, firstSeq: 11 });
      const kept = path();
      await writeFile(kept, 'untouched');
      await assert.rejects(joinLogFiles([torn, late], kept), /ends at entry 8, but .* starts at 11/);
      assert.equal(await readFile(kept, 'utf8'), 'untouched');
      await assert.rejects(stat(`${kept}.joining`), /ENOENT/, 'nothing half-joined is left behind');
    });

    it('a segment alone does not replay: it does not start at boot', async () => {
      const p = await writeLog(part(6, 9, 'b'), { ...META, firstSeq: 6 });
      await assert.rejects(replayLogFile(p), (e: Error) => e instanceof ReplayError && /is a segment: its log starts at entry 6/.test(e.message));
    });
  });

  describe('replaying', () => {
    /** A run's recorded events and epoch entries in log order, as a primary logs them. */
    function logOf(run: Awaited<ReturnType<typeof runGuest>>): LogEntry[] {
      const timed = [...run.recorded.map((e) => ({ at: e.at, entry: e })), ...run.epochs.map((e) => ({ at: e.at, entry: { kind: 'epoch' as const, at: e.at, epoch: e.index, hash: e.hash, pages: 8192 } }))];
      return timed.sort((a, b) => a.at - b.at).map(({ entry }, i) => ({ ...entry, seq: i + 1 }) as LogEntry);
    }

    it('a host clock recording, its readings in clock runs, replays to the same epoch hashes', async () => {
      const recorded = await runGuest(shortRun('ticker', { clock: 'host' }));
      const image = loadImage('ticker');
      const meta: LogMeta = { ...META, guest: 'ticker', clock: 'host', hashedDevices: [...HASHED_DEVICES], imageSha256: image.sha256, memorySize: 32 << 20, epochLength: TEST_EPOCH, cmdline: shortRun('ticker').cmdline! };
      const entries = logOf(recorded);
      const clocks = entries.filter((e) => e.kind === 'nondet' && e.source === 'clock').length;
      assert.ok(clocks > 10, `${clocks} clock readings`);
      const p = await writeLog(entries, meta);
      const oneFrameEach = frameOffsets(entries, meta).at(-1)!;
      assert.ok((await stat(p)).size < oneFrameEach - 25 * clocks, `${(await stat(p)).size} bytes, ${oneFrameEach} one frame each`);
      const replay = await replayLogFile(p);
      assert.deepEqual(replay.epochMismatches, []);
      assert.equal(replay.epochsMatched, recorded.epochs.length);
    });

    it('a file from before the NE2000 was in the state hash (no hashedDevices) is checked as it was hashed', async () => {
      const old = await runGuest(shortRun('ticker', { hashedDevices: FIRST_HASHED_DEVICES }));
      const now = await runGuest(shortRun('ticker'));
      assert.notDeepEqual(old.epochHashes, now.epochHashes, 'the card is in the hash now');
      const image = loadImage('ticker');
      const meta: LogMeta = { ...META, guest: 'ticker', imageSha256: image.sha256, memorySize: 32 << 20, epochLength: TEST_EPOCH, cmdline: shortRun('ticker').cmdline! };
      const entries = logOf(old);
      const replay = await replayLogFile(await writeLog(entries, meta));
      assert.deepEqual(replay.epochMismatches, []);
      assert.equal(replay.epochsMatched, old.epochs.length);
      const claimsAll = await replayLogFile(await writeLog(entries, { ...meta, hashedDevices: [...HASHED_DEVICES] }));
      assert.equal(claimsAll.epochMismatches.length, old.epochs.length, 'checked with the card, every epoch differs');
      await assert.rejects(replayLogFile(await writeLog(entries, { ...meta, hashedDevices: ['net', 'gpu'] })), (e: Error) => e instanceof ReplayError && /does not hash: "gpu"/.test(e.message));
      await assert.rejects(replayLogFile(await writeLog(entries, { ...meta, hashedDevices: 'net' as unknown as string[] })), (e: Error) => e instanceof ReplayError && /hashedDevices is not a list of device names: "net"/.test(e.message));
    });

    it('a JIT-on file from when epochs emptied the JIT cache (no jitKept) is refused in one line; JIT off it replays', async () => {
      const run = await runGuest(shortRun('ticker', { jit: false }));
      const image = loadImage('ticker');
      const { jitKept: _now, ...before } = META;
      const meta: LogMeta = { ...before, guest: 'ticker', hashedDevices: [...HASHED_DEVICES], imageSha256: image.sha256, memorySize: 32 << 20, epochLength: TEST_EPOCH, cmdline: shortRun('ticker').cmdline! };
      await assert.rejects(
        replayLogFile(await writeLog(logOf(run), meta)),
        (e: Error) => e instanceof ReplayError && /^the log was recorded with the JIT on by an older Lockstep, whose epochs emptied the JIT's cache \(no jitKept in its header\)[^\n]*$/.test(e.message),
      );
      const jitOff = await replayLogFile(await writeLog(logOf(run), { ...meta, jit: false }));
      assert.deepEqual(jitOff.epochMismatches, []);
      assert.equal(jitOff.epochsMatched, run.epochs.length);
    });

    it('a file from before the clock rate was in the header (no instructionsPerMs) replays at 1 instruction a ns', async () => {
      const old = await runGuest(shortRun('ticker', { instructionsPerMs: FIRST_INSTRUCTIONS_PER_MS }));
      // Another rate (about v86's speed on Linux here): the header's rate is what a replay must use.
      const otherRate = 350_000;
      const other = await runGuest(shortRun('ticker', { instructionsPerMs: otherRate }));
      assert.notDeepEqual(old.epochHashes, other.epochHashes, 'the guest sees another time at the same counts');
      const image = loadImage('ticker');
      const { instructionsPerMs: _now, ...before } = META;
      const meta: LogMeta = { ...before, guest: 'ticker', hashedDevices: [...HASHED_DEVICES], imageSha256: image.sha256, memorySize: 32 << 20, epochLength: TEST_EPOCH, cmdline: shortRun('ticker').cmdline! };
      const entries = logOf(old);
      const replay = await replayLogFile(await writeLog(entries, meta));
      assert.deepEqual(replay.epochMismatches, []);
      assert.equal(replay.epochsMatched, old.epochs.length);
      const claimsOther = await replayLogFile(await writeLog(entries, { ...meta, instructionsPerMs: otherRate }));
      assert.ok(claimsOther.epochMismatches.length > 0, 'replayed at another rate, the epochs differ');
      await assert.rejects(replayLogFile(await writeLog(entries, { ...meta, instructionsPerMs: -3 })), (e: Error) => e instanceof ReplayError && /instructionsPerMs is not a positive whole number: -3/.test(e.message));
    });
  });
});
