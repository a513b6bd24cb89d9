import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import {
  Channel,
  ChannelAuthError,
  ChannelServer,
  connectChannel,
  FaultInjector,
  helloMac,
  listenChannel,
  type Rejection,
} from '../../../src/ft/channel';
import { encodeEntry, encodeFrame, FrameDecoder, LogFormatError, type Frame, type LogEntry, type Role } from '../../../src/ft/log';
import { bytes, SAMPLE_ENTRIES, SAMPLE_MESSAGES } from '../samples';

const SECRET = 'session-secret-1';

function entry(seq: number): LogEntry {
  return { kind: 'input', seq, at: seq * 100, device: 'serial', data: bytes(`PUT k${seq}`) };
}

/** Waits (without any time limit of its own) until `cond` holds; mocha's timeout bounds it. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

/** The next `n` frames the channel delivers. */
async function take(channel: Channel, n: number): Promise<Frame[]> {
  const out: Frame[] = [];
  if (n === 0) return out;
  for await (const f of channel.messages()) {
    out.push(f);
    if (out.length === n) break;
  }
  return out;
}

/** Frames delivered until (and including) the first one matching `last`. */
async function takeUntil(channel: Channel, last: (f: Frame) => boolean): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of channel.messages()) {
    out.push(f);
    if (last(f)) break;
  }
  return out;
}

/** The error (if any) the channel closes with. Not events.once: that one rejects on 'error'. */
function closeOf(channel: Channel): Promise<Error | undefined> {
  return new Promise((resolve) => channel.once('close', resolve));
}

/** Both hellos (challenge, response) as they are on the wire. */
const HANDSHAKE_BYTES = 2 * (29 + 34);

const isSentinel = (f: Frame) => f.kind === 'control' && f.op === 'shutdown';
const sentinel = (seq: number): LogEntry => ({ kind: 'control', seq, at: seq * 100, op: 'shutdown', detail: 'end' });

describe('logging channel (real TCP on 127.0.0.1)', function () {
  this.timeout(60_000);
  let server: ChannelServer;
  const opened: Array<Channel | Socket> = [];

  beforeEach(async () => {
    server = await listenChannel({ secret: SECRET, role: 'backup' });
  });

  afterEach(async () => {
    for (const c of opened.splice(0)) c.destroy();
    await server.close();
  });

  /** primary connects, backup listens. */
  async function pair(): Promise<{ primary: Channel; backup: Channel }> {
    const [backup, primary] = await Promise.all([server.accept(), connectChannel({ port: server.port, secret: SECRET, role: 'primary' })]);
    opened.push(primary, backup);
    return { primary, backup };
  }

  function nextRejection(): Promise<Rejection> {
    return once(server, 'rejected').then(([r]) => r as Rejection);
  }

  async function rawSocket(): Promise<Socket> {
    const socket = netConnect({ host: '127.0.0.1', port: server.port });
    opened.push(socket);
    await once(socket, 'connect');
    return socket;
  }

  /** Performs the handshake by hand, as a peer outside this code base would. */
  async function rawHandshake(secret: string, role: Role = 'primary'): Promise<Socket> {
    const socket = await rawSocket();
    const nonce = randomBytes(32);
    socket.write(encodeFrame({ kind: 'hello', step: 'challenge', role, nonce }));
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        decoder.push(chunk);
        for (const f of decoder) {
          frames.push(f);
          if (f.kind === 'hello' && f.step === 'challenge') {
            socket.write(encodeFrame({ kind: 'hello', step: 'response', role, mac: helloMac(secret, 'connect', role, f.nonce, nonce) }));
          }
        }
        if (frames.length >= 2) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
    });
    return socket;
  }

  describe('handshake', () => {
    it('authenticates both sides and carries every kind of frame both ways', async () => {
      const { primary, backup } = await pair();
      assert.equal(primary.peerRole, 'backup');
      assert.equal(backup.peerRole, 'primary');
      assert.ok(primary.isOpen && backup.isOpen);
      const toBackup = [...SAMPLE_ENTRIES, ...SAMPLE_MESSAGES.filter((m) => m.kind !== 'hello' && m.kind !== 'bye')];
      for (const f of toBackup) assert.equal(primary.send(f), true);
      assert.deepEqual(await take(backup, toBackup.length), toBackup);
      backup.send({ kind: 'ack', seq: 13, at: 5000 });
      assert.deepEqual(await take(primary, 1), [{ kind: 'ack', seq: 13, at: 5000 }]);

      const toBackupArrived = () => backup.stats.bytesReceived === primary.stats.bytesSent;
      const toPrimaryArrived = () => primary.stats.bytesReceived === backup.stats.bytesSent;
      await until(() => toBackupArrived() && toPrimaryArrived());
      assert.equal(primary.stats.framesSent, 2 + toBackup.length); // challenge + response + ours
      assert.equal(backup.stats.framesReceived, 2 + toBackup.length);
      assert.equal(backup.stats.framesDelivered, toBackup.length);
      const expectedBytes = toBackup.reduce((n, f) => n + encodeFrame(f).length, 0);
      assert.equal(primary.stats.bytesSent, expectedBytes + HANDSHAKE_BYTES);
    });

    it('refuses to send a hello after the handshake', async () => {
      const { primary } = await pair();
      assert.throws(() => primary.send({ kind: 'hello', step: 'challenge', role: 'primary', nonce: new Uint8Array(32) }), RangeError);
    });

    it('keeps frames that arrive before anyone listens', async () => {
      const acceptedWith = server.accept();
      const primary = await connectChannel({ port: server.port, secret: SECRET, role: 'primary' });
      opened.push(primary);
      for (let i = 1; i <= 5; i++) primary.send(entry(i));
      const backup = await acceptedWith;
      opened.push(backup);
      await until(() => backup.stats.framesReceived === 2 + 5);
      const got: Frame[] = [];
      backup.on('message', (f) => got.push(f));
      await until(() => got.length === 5);
      assert.deepEqual(got, [1, 2, 3, 4, 5].map(entry));
    });

    it('rejects a peer with the wrong secret on both sides', async () => {
      let channels = 0;
      server.on('channel', () => channels++);
      const rejected = nextRejection();
      await assert.rejects(connectChannel({ port: server.port, secret: 'not-the-secret', role: 'primary' }), (e: unknown) => e instanceof ChannelAuthError && e.reason === 'authentication failed');
      const r = await rejected;
      assert.equal(r.reason, 'authentication failed');
      assert.ok(r.error instanceof ChannelAuthError);
      assert.equal(r.remoteAddress, '127.0.0.1');
      assert.equal(channels, 0);
    });

    it('rejects a peer announcing an unexpected role', async () => {
      const strict = await listenChannel({ secret: SECRET, role: 'backup', expectPeerRole: 'primary' });
      const rejected = once(strict, 'rejected');
      await assert.rejects(connectChannel({ port: strict.port, secret: SECRET, role: 'backup' }), ChannelAuthError);
      assert.equal(((await rejected)[0] as Rejection).reason, 'peer is backup, expected primary');
      await strict.close();
    });

    it('rejects garbage bytes from a raw socket and closes it', async () => {
      const rejected = nextRejection();
      const socket = await rawSocket();
      socket.on('data', () => undefined);
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const r = await rejected;
      assert.ok(r.error instanceof LogFormatError);
      assert.equal(r.reason, 'bad magic');
      await once(socket, 'close');
    });

    it('rejects a well-formed entry sent instead of a hello', async () => {
      const rejected = nextRejection();
      const socket = await rawSocket();
      socket.on('data', () => undefined);
      socket.write(encodeEntry(entry(1)));
      assert.equal((await rejected).reason, 'expected hello, got input');
      await once(socket, 'close');
    });

    it('rejects a forged response and never accepts the entries that follow it', async () => {
      let channels = 0;
      server.on('channel', () => channels++);
      const rejected = nextRejection();
      const socket = await rawHandshake('guessed-secret');
      socket.on('data', () => undefined);
      socket.write(encodeEntry(entry(1)));
      assert.equal((await rejected).reason, 'authentication failed');
      await once(socket, 'close');
      assert.equal(channels, 0);
    });

    it('rejects a peer that stays silent past the handshake timeout', async () => {
      const impatient = await listenChannel({ secret: SECRET, role: 'backup', handshakeTimeoutMs: 50 });
      const rejected = once(impatient, 'rejected');
      const socket = netConnect({ host: '127.0.0.1', port: impatient.port });
      opened.push(socket);
      socket.on('data', () => undefined);
      assert.equal(((await rejected)[0] as Rejection).reason, 'handshake timeout');
      await impatient.close();
    });

    it('drops connections still in their handshake when the server closes', async () => {
      const socket = await rawSocket();
      socket.on('data', () => undefined);
      const rejected = nextRejection();
      await until(() => socket.bytesRead > 0); // the server's challenge: its Channel exists
      await server.close();
      await once(socket, 'close');
      assert.equal((await rejected).reason, 'closed during handshake');
    });

    it('reports garbage after the handshake as an error and closes, delivering only what came before', async () => {
      const accepted = server.accept();
      const socket = await rawHandshake(SECRET);
      socket.on('data', () => undefined);
      const backup = await accepted;
      opened.push(backup);
      const errors: Error[] = [];
      backup.on('error', (e) => errors.push(e));
      const closed = closeOf(backup);
      const good = encodeEntry(entry(1));
      socket.write(Buffer.concat([good, Buffer.from('garbage!'), encodeEntry(entry(2))]));
      const closeError = await closed;
      assert.ok(closeError instanceof LogFormatError);
      assert.equal(closeError.reason, 'bad magic');
      assert.equal(closeError.offset, HANDSHAKE_BYTES + good.length);
      assert.equal(errors.length, 1);
      assert.equal(errors[0], closeError);
      // The iterator yields what was good, then throws what ended the channel.
      const delivered: Frame[] = [];
      await assert.rejects(
        (async () => {
          for await (const f of backup.messages()) delivered.push(f);
        })(),
        (e: unknown) => e === closeError,
      );
      assert.deepEqual(delivered, [entry(1)]);
    });

    it('reports a peer that stops in the middle of a frame', async () => {
      const accepted = server.accept();
      const socket = await rawHandshake(SECRET);
      const backup = await accepted;
      opened.push(backup);
      const closed = closeOf(backup);
      socket.end(encodeEntry(entry(1)).subarray(0, 20));
      const error = await closed;
      assert.ok(error instanceof LogFormatError);
      assert.equal(error.reason, 'truncated frame');
      assert.equal(error.offset, HANDSHAKE_BYTES);
    });
  });

  it('flush() hands the frames sent this turn to the OS at once; without it they wait for the end of the turn', async () => {
    const { primary, backup } = await pair();
    primary.send(entry(1));
    assert.ok(primary.pendingBytes > 0, 'held until the turn ends (coalesce.ts)');
    primary.flush();
    assert.equal(primary.pendingBytes, 0);
    primary.send(entry(2));
    assert.ok(primary.pendingBytes > 0, 'a send after the flush is held again');
    assert.deepEqual((await take(backup, 2)).map((f) => (f as LogEntry).seq), [1, 2]);
  });

  describe('closing', () => {
    it('ends the iterator after an orderly close, with queued frames and a bye delivered', async () => {
      const { primary, backup } = await pair();
      primary.setFaults({ delayMs: 60_000 }); // close() must still write what is queued
      for (let i = 1; i <= 3; i++) primary.send(entry(i));
      const received: Frame[] = [];
      const done = (async () => {
        for await (const f of backup) received.push(f);
      })();
      await primary.close('done');
      await done;
      assert.deepEqual(received, [entry(1), entry(2), entry(3), { kind: 'bye', at: 0, reason: 'done' }]);
      assert.equal(backup.isClosed, true);
      assert.equal(backup.closeError, undefined);
      assert.equal(primary.send(entry(4)), false);
    });

    it('tells the other side when a host dies', async () => {
      const { primary, backup } = await pair();
      const closed = closeOf(backup);
      primary.destroy();
      await closed;
      assert.equal(backup.isClosed, true);
    });
  });

  describe('fault injection', () => {
    it('drops frames as the seeded PRNG decides', async () => {
      const { primary, backup } = await pair();
      primary.setFaults({ dropRate: 0.4, seed: 42 });
      const model = new FaultInjector({ dropRate: 0.4, seed: 42 });
      const expected: Frame[] = [];
      for (let i = 1; i <= 200; i++) {
        primary.send(entry(i));
        if (!model.decide(encodeEntry(entry(i)).length, i).drop) expected.push(entry(i));
      }
      primary.setFaults({ dropRate: 0 });
      primary.send(sentinel(201));
      const got = await takeUntil(backup, isSentinel);
      assert.deepEqual(got, [...expected, sentinel(201)]);
      assert.ok(expected.length > 60 && expected.length < 200, `kept ${expected.length}`);
      assert.equal(primary.stats.framesDropped, 200 - expected.length);
    });

    it('drops the named log entry on its next sends, as many as armed, and no other frame with that seq', async () => {
      const { primary, backup } = await pair();
      primary.setFaults({ dropEntries: [3] });
      primary.setFaults({ dropEntries: [3] }); // drops add up: its first two sends
      assert.deepEqual(primary.faults.dropEntries, [3, 3]);
      const beat: Frame = { kind: 'heartbeat', seq: 3, at: 300, role: 'primary' };
      const ack: Frame = { kind: 'ack', seq: 3, at: 300 };
      const frames = [beat, ack, entry(1), entry(2), entry(3), entry(4), entry(3), entry(3), sentinel(5)];
      for (const frame of frames) primary.send(frame);
      const got = await takeUntil(backup, isSentinel);
      assert.deepEqual(got, [beat, ack, entry(1), entry(2), entry(4), entry(3), sentinel(5)]);
      assert.equal(primary.stats.framesDropped, 2);
      assert.deepEqual(primary.faults.dropEntries, [], 'both drops made, none left');
    });

    it('armed entry drops leave every random fate as the seed gives it', () => {
      const rates = { dropRate: 0.3, duplicateRate: 0.3, corruptRate: 0.3, seed: 5 };
      // Entry 2 is sent three times (twice resent); the heartbeat carries seq 2 as well.
      const sends = [1, 2, undefined, 3, 2, 4, 5, 2, 6, 5, 7];
      const plain = new FaultInjector(rates);
      const armed = new FaultInjector({ ...rates, dropEntries: [2, 5, 2] });
      const dropped = [1, 4, 6]; // the first two sends of entry 2, the first of entry 5
      sends.forEach((seq, i) => {
        const expected = plain.decide(64, seq);
        assert.deepEqual(armed.decide(64, seq), dropped.includes(i) ? { ...expected, drop: true } : expected, `send ${i} (seq ${seq})`);
      });
      assert.deepEqual(armed.current.dropEntries, []);
    });

    it('duplicates frames', async () => {
      const { primary, backup } = await pair();
      primary.setFaults({ duplicateRate: 1 });
      for (let i = 1; i <= 10; i++) primary.send(entry(i));
      const got = await take(backup, 20);
      assert.deepEqual(got, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10].map(entry));
      assert.equal(primary.stats.framesDuplicated, 10);
    });

    it('delays frames without reordering them', async () => {
      const { primary, backup } = await pair();
      primary.setFaults({ delayMs: 15 });
      for (let i = 1; i <= 30; i++) primary.send(entry(i));
      assert.ok(primary.pendingBytes > 0);
      assert.deepEqual(await take(backup, 30), Array.from({ length: 30 }, (_, i) => entry(i + 1)));
    });

    it('corrupted frames are reported as errors and never delivered, wherever the flip lands', async () => {
      for (let seed = 1; seed <= 12; seed++) {
        const { primary, backup } = await pair();
        const delivered: Frame[] = [];
        backup.on('message', (f) => delivered.push(f));
        const errors: Error[] = [];
        backup.on('error', (e) => errors.push(e));
        const closed = closeOf(backup);
        const primaryClosed = closeOf(primary);
        primary.send(entry(1));
        primary.setFaults({ corruptRate: 1, seed });
        primary.send(entry(2));
        primary.setFaults({ corruptRate: 0 });
        primary.send(entry(3));
        const error = await closed;
        assert.ok(error instanceof LogFormatError, `seed ${seed}: ${String(error)}`);
        assert.equal(errors[0], error);
        assert.equal(error.offset, HANDSHAKE_BYTES + encodeEntry(entry(1)).length, `seed ${seed}`);
        assert.deepEqual(delivered, [entry(1)], `seed ${seed}`);
        assert.equal(primary.stats.framesCorrupted, 1);
        await primaryClosed; // the backup hung up on it
      }
    });

    it('gives a log entry the same fate whatever other frames are sent around it, and a resend a fate of its own', () => {
      const rates = { dropRate: 0.3, duplicateRate: 0.3, corruptRate: 0.3, seed: 5 };
      const quiet = new FaultInjector(rates);
      const busy = new FaultInjector(rates);
      for (let seq = 1; seq <= 50; seq++) {
        for (let beat = 0; beat < seq % 4; beat++) busy.decide(30); // heartbeats and acks between entries
        assert.deepEqual(busy.decide(64, seq), quiet.decide(64, seq), `entry ${seq}`);
      }
      const resends = Array.from({ length: 20 }, () => quiet.decide(64, 7));
      assert.ok(resends.some((fate) => !fate.drop) && resends.some((fate) => fate.drop), 'resends of one entry meet different fates');
    });

    it('is deterministic for a given seed', () => {
      const fates = (seed: number) => {
        const f = new FaultInjector({ dropRate: 0.3, duplicateRate: 0.3, corruptRate: 0.3, seed });
        return Array.from({ length: 100 }, () => f.decide(64));
      };
      assert.deepEqual(fates(9), fates(9));
      assert.notDeepEqual(fates(9), fates(10));
      for (const fate of fates(3)) {
        if (fate.corruptAt !== undefined) {
          assert.ok(fate.corruptAt < 5 || fate.corruptAt >= 9, 'never the length field');
          assert.ok(fate.corruptAt < 64 && fate.corruptMask! >= 1 && fate.corruptMask! <= 255);
        }
      }
    });

    it('a partition at the receiver stops delivery both ways; healing resumes it', async () => {
      const { primary, backup } = await pair();
      backup.partition(true);
      primary.send(entry(1));
      await until(() => backup.stats.framesPartitionedIn === 1);
      backup.send({ kind: 'ack', seq: 1, at: 1 });
      assert.equal(backup.stats.framesPartitionedOut, 1);
      backup.partition(false);
      primary.send(entry(2));
      backup.send({ kind: 'ack', seq: 2, at: 2 });
      assert.deepEqual(await take(backup, 1), [entry(2)]);
      assert.deepEqual(await take(primary, 1), [{ kind: 'ack', seq: 2, at: 2 }]);
      assert.ok(primary.isOpen && backup.isOpen, 'sockets stay open');
    });

    it('a partition at the sender stops delivery both ways; healing resumes it', async () => {
      const { primary, backup } = await pair();
      primary.partition(true);
      assert.equal(primary.partitioned, true);
      primary.send(entry(1));
      assert.equal(primary.stats.framesPartitionedOut, 1);
      backup.send({ kind: 'ack', seq: 0, at: 1 });
      await until(() => primary.stats.framesPartitionedIn === 1);
      primary.partition(false);
      primary.send(entry(2));
      backup.send({ kind: 'ack', seq: 2, at: 2 });
      assert.deepEqual(await take(backup, 1), [entry(2)]);
      assert.deepEqual(await take(primary, 1), [{ kind: 'ack', seq: 2, at: 2 }]);
    });
  });
});
