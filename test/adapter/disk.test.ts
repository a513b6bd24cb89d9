// A debugger launch that replays a disk recording (src/adapter/localRuntime.ts): a shared-mode log
// carries its reads' data, so it replays without FILE; a local-mode log carries only their completions,
// so the replay reads FILE as it was at the start (it never writes it), where the header says or where `disks`
// says it is now, and lays the guest's writes over it.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskGuest } from '../support/rawguest';
import { Adapter } from './support';

type Epochs = Awaited<ReturnType<Adapter['epochs']>>;

describe('debug adapter: disks (a log launch replaying a disk recording; local disks where they mean nothing)', function () {
  this.timeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-dap-disk-'));
  const guest = join(dir, 'diskguest.bin');
  writeFileSync(guest, diskGuest(8, 150_000));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** An FT pair on `disk` in `mode`, recorded to its end: the primary's epochs. */
  async function record(disk: string, mode: 'shared' | 'local', log: string): Promise<Epochs> {
    const adapter = await Adapter.start();
    try {
      const end = adapter.nextStop();
      await adapter.launch({ guest, memory: 16, epochLength: 1_000_000, disks: [{ file: disk, mode }], record: log });
      assert.equal((await end).reason, 'end');
      return await adapter.epochs(1);
    } finally {
      await adapter.stop();
    }
  }

  /**
   * Replays `log` halfway, goes back across the guest's writes to the start, then on to the end: the epochs as
   * recorded (a revisited read sees what it saw the first time, a read past the furthest point what is written).
   */
  async function replays(log: string, live: Epochs, disks?: { file: string }[]): Promise<void> {
    const adapter = await Adapter.start();
    try {
      const half = live[Math.floor(live.length / 2)].at;
      const stop = adapter.nextStop();
      await adapter.launch({ log, stopAt: half, ...(disks && { disks }) });
      assert.equal((await stop).reason, 'goto');
      assert.ok(await adapter.runTo(1, 1000) <= 1000);
      assert.equal((await adapter.stopAfter(() => adapter.dc.continueRequest({ threadId: 1 }))).reason, 'end');
      assert.deepEqual(await adapter.epochs(1), live);
      assert.match((await adapter.scope(1, 'Divergence'))['last compared epoch'], /: equal$/);
    } finally {
      await adapter.stop();
    }
  }

  it('shared: the replay reads from the log alone (FILE moved away) to the recorded epoch hashes; a disk given is refused', async () => {
    const [disk, log] = [join(dir, 'shared.img'), join(dir, 'shared.ftlog')];
    writeFileSync(disk, Buffer.alloc(64 * 1024));
    const live = await record(disk, 'shared', log);
    assert.ok(live.length >= 3, `${live.length} epochs`);
    renameSync(disk, `${disk}.moved`);
    await replays(log, live);
    const adapter = await Adapter.start();
    try {
      await assert.rejects(
        adapter.dc.launchRequest({ log, disks: [{ file: `${disk}.moved` }] } as never),
        /^Error: launch attribute 'disks': .*shared\.ftlog: .*shared\.img\.moved is given as its disk, but the log was recorded with a shared-mode disk: its reads are in the log, so the replay needs no disk file$/,
      );
    } finally {
      await adapter.stop();
    }
  });

  it('local: the replay reads FILE as it was at the start and never writes it; without FILE, one line says so', async () => {
    const [disk, log] = [join(dir, 'local.img'), join(dir, 'local.ftlog')];
    writeFileSync(disk, Buffer.alloc(64 * 1024));
    const live = await record(disk, 'local', log);
    const before = readFileSync(disk);
    await replays(log, live);
    assert.ok(readFileSync(disk).equals(before), 'FILE unchanged');
    const moved = `${disk}.moved`;
    renameSync(disk, moved);
    const adapter = await Adapter.start();
    try {
      await assert.rejects(
        adapter.dc.launchRequest({ log } as never),
        /^Error: launch attribute 'log': .*local\.ftlog: the log was recorded with a local-mode disk, .*local\.img, which is not here: .* put it back there, or say where it is now in 'disks'$/,
      );
      // FILE.host-1 holds the primary's writes: the same size, another hash.
      await assert.rejects(
        adapter.dc.launchRequest({ log, disks: [{ file: `${disk}.host-1` }] } as never),
        /^Error: launch attribute 'disks': .*local\.ftlog: .*local\.img\.host-1 is not the disk this log's run started with: sha256 [0-9a-f]{64} here, [0-9a-f]{64} in the log/,
      );
    } finally {
      await adapter.stop();
    }
    await replays(log, live, [{ file: moved }]);
    assert.ok(readFileSync(moved).equals(before), 'FILE unchanged where it was moved to');
  });

  it('a local disk where it means nothing (mode "single", mode "checkpoint") is refused in one line', async () => {
    const disk = join(dir, 'refused.img');
    writeFileSync(disk, Buffer.alloc(64 * 1024));
    const adapter = await Adapter.start();
    try {
      const launch = (mode: string) => adapter.dc.launchRequest({ guest, mode, disks: [{ file: disk, mode: 'local' }] } as never);
      await assert.rejects(launch('single'), /^Error: launch attribute 'disks': 'mode' "local" is for an FT pair .*; mode "single" reads and writes FILE itself$/);
      await assert.rejects(launch('checkpoint'), /^Error: launch attribute 'disks': 'mode' "local" is for mode "ft": a checkpoint backup runs no guest/);
    } finally {
      await adapter.stop();
    }
    assert.ok(!existsSync(`${disk}.lock`) && !existsSync(`${disk}.host-1`), 'nothing locked or copied');
  });
});
