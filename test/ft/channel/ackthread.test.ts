import { strict as assert } from 'node:assert';
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AckThread } from '../../../src/ft/channel';
import type { Frame } from '../../../src/ft/log';

const SECRET = 'ack-thread-test';
const ENTRIES = 5;
const HEARTBEAT_MS = 50;

/** Blocks this thread (no event runs) until `path` exists; the bound only stops a broken run. */
function blockUntilExists(path: string, boundMs = 60_000): void {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + boundMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} never appeared`);
    Atomics.wait(nap, 0, 0, 5);
  }
}

function nextLine(peer: ChildProcessWithoutNullStreams, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve) => {
    const lines = createInterface({ input: peer.stdout });
    lines.on('line', (line) => {
      const match = pattern.exec(line);
      if (!match) return;
      lines.close();
      resolve(match);
    });
  });
}

describe('the backup\'s ack thread (a primary in another process, real TCP)', function () {
  this.timeout(60_000);
  let dir: string;
  let peer: ChildProcessWithoutNullStreams;
  let thread: AckThread;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lockstep-ack-'));
  });

  afterEach(() => {
    thread?.stop();
    peer?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges entries and heartbeats while the main thread is blocked, and after the fence hands them all over and acks no more', async () => {
    const marker = join(dir, 'acked');
    peer = spawn(process.execPath, ['--import', 'tsx', 'test/support/ackpeer.ts', marker, SECRET]);
    const [, port] = await nextLine(peer, /^port (\d+)$/);
    const failures: Error[] = [];
    thread = new AckThread(HEARTBEAT_MS, (error) => failures.push(error));
    const channel = await thread.connect({ port: Number(port), secret: SECRET, role: 'backup', expectPeerRole: 'primary' });
    const frames: Frame[] = [];
    channel.on('message', (frame) => frames.push(frame));
    thread.instructions = 123_456_789;
    channel.send({ kind: 'resend-from', seq: 1, at: 0 });

    blockUntilExists(marker);
    assert.equal(readFileSync(marker, 'utf8').trim(), `acked ${ENTRIES} at 123456789`, 'the primary saw every entry acknowledged, with the count the main thread published');
    assert.equal(frames.length, 0, 'while blocked, the main thread had not taken a single frame');
    blockUntilExists(`${marker}.heartbeat`);
    assert.equal(readFileSync(`${marker}.heartbeat`, 'utf8').trim(), 'heartbeat at 123456789', 'the thread heartbeats on its own, with the published count');
    assert.equal(thread.turnaroundsMs.length, 2, 'a turnaround for each of the two outputs (seq 2 and 4)');
    assert.ok(thread.turnaroundsMs.every((ms) => ms >= 0));

    thread.fence();
    assert.deepEqual(frames.map((f) => 'seq' in f && f.seq), [1, 2, 3, 4, 5], 'the fence hands over every acknowledged entry at once, in order');

    peer.stdin.write('more 3\n');
    while (!frames.some((f) => 'seq' in f && f.seq === ENTRIES + 3)) await new Promise((resolve) => setTimeout(resolve, 5));
    // Time for a few of the thread's heartbeats, were the fence not to stop them (the peer counts those after `more`;
    // a slow machine can only make this check weaker, not fail it).
    await new Promise((resolve) => setTimeout(resolve, 4 * HEARTBEAT_MS));
    // Injected drops happen on the thread; the main thread reads their count (HostStats.framesDropped). Past the
    // fence the thread sends nothing of its own, so this frame is the only one dropped.
    channel.setFaults({ dropRate: 1 });
    channel.send({ kind: 'heartbeat', seq: ENTRIES, at: 0, role: 'backup' });
    while (channel.stats.framesDropped === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(channel.stats.framesDropped, 1);
    channel.setFaults({ dropRate: 0 });
    // A partition too: the main thread sees it in effect once the thread has applied it (HostStats.partitioned).
    assert.equal(channel.partitioned, false);
    channel.partition(true);
    while (!channel.partitioned) await new Promise((resolve) => setTimeout(resolve, 5));
    channel.partition(false);
    while (channel.partitioned) await new Promise((resolve) => setTimeout(resolve, 5));

    const highest = nextLine(peer, /^highest ack (\d+), heartbeats after more (\d+)$/);
    await channel.close('test done');
    const [, acked, heartbeats] = await highest;
    assert.equal(Number(acked), ENTRIES, 'nothing received after the fence was acknowledged');
    // One may have been on its way when the fence rose.
    assert.ok(Number(heartbeats) <= 1, `${heartbeats} heartbeats from the thread after the fence`);
    assert.deepEqual(failures, []);
  });

  it('refuses to connect once stopped, and reports a primary it cannot reach', async () => {
    thread = new AckThread(HEARTBEAT_MS, () => undefined);
    await assert.rejects(thread.connect({ port: 1, secret: SECRET, role: 'backup' }), /ECONNREFUSED/);
    thread.stop();
    await assert.rejects(thread.connect({ port: 1, secret: SECRET, role: 'backup' }), /the ack thread has stopped/);
  });
});
