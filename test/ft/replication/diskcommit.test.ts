// The group commit both disk modes make their writes durable with (src/ft/replication/groupcommit.ts),
// on a real file: fdatasync off the caller's thread, one for every write made while another ran.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskFile } from '../../../src/ft/machine';
import { GroupCommit } from '../../../src/ft/replication/groupcommit';
import { LocalDisk, localDiskPath, SharedDisk } from '../../../src/ft/replication';

describe('a host\'s disk: the group commit (groupcommit.ts), a local copy, the shared disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-commit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A disk file whose fdatasyncs (the real ones) are counted. */
  function countedFile(name: string): { file: DiskFile; syncs: () => number } {
    const path = join(dir, name);
    writeFileSync(path, Buffer.alloc(64 * 512));
    const file = DiskFile.open(path);
    let syncs = 0;
    const sync = file.syncInBackground.bind(file);
    file.syncInBackground = () => {
      syncs++;
      return sync();
    };
    return { file, syncs: () => syncs };
  }

  it('writes asked for together share one fdatasync, those asked while it runs the next; they settle in the order asked', async () => {
    const { file, syncs } = countedFile('group.img');
    const commit = new GroupCommit(file);
    const settled: number[] = [];
    const write = (i: number) => {
      file.writeUnsynced(i * 512, new Uint8Array(512).fill(i + 1));
      return commit.sync().then(() => settled.push(i));
    };
    // Two more writes are asked as the first fdatasync starts: while it runs.
    const counted = file.syncInBackground;
    let during: Promise<number>[] = [];
    file.syncInBackground = () => {
      const running = counted();
      if (syncs() === 1) during = [write(50), write(51)];
      return running;
    };
    const writes = Array.from({ length: 50 }, (_, i) => write(i));
    assert.equal(syncs(), 0, 'no fdatasync before the code asking has run to its end: its later writes join it');
    await new Promise(setImmediate);
    assert.equal(during.length, 2, 'the first fdatasync has started');
    writes.push(...during);
    await Promise.all(writes);
    assert.deepEqual(settled, writes.map((_, i) => i));
    assert.equal(syncs(), 2, 'the 50 asked together shared one, the 2 asked while it ran the next');
    await Promise.all([commit.sync(), commit.sync()]);
    assert.equal(syncs(), 3, 'writes asked once all is durable start again, together');
    await commit.drained();
    file.close();
  });

  it('an fdatasync that fails rejects the writes that waited for it; the next ones are synced again', async () => {
    const { file, syncs } = countedFile('failing.img');
    const commit = new GroupCommit(file);
    const counted = file.syncInBackground;
    file.syncInBackground = () => Promise.reject(new Error('EIO: i/o error, fdatasync'));
    const failing = [commit.sync(), commit.sync()].map((waiting) => waiting.then(() => 'durable', (e: Error) => e.message));
    assert.deepEqual(await Promise.all(failing), ['EIO: i/o error, fdatasync', 'EIO: i/o error, fdatasync']);
    file.syncInBackground = counted;
    await commit.sync();
    assert.equal(syncs(), 1, 'the next write got an fdatasync of its own');
    file.close();
  });

  it('local mode: a write is on the copy at once (a read sees it) and durable once its promise settles; close waits for it', async () => {
    const path = join(dir, 'local.img');
    writeFileSync(path, Buffer.alloc(64 * 512));
    const copy = LocalDisk.create(path, 'host-1');
    const data = new Uint8Array(512).fill(7);
    const durable = copy.write({ offset: 3 * 512, data });
    assert.deepEqual(copy.read(3 * 512, 512), data, 'read back before it is durable');
    await durable;
    await copy.close();
    assert.deepEqual(new Uint8Array(readFileSync(localDiskPath(path, 'host-1'))).subarray(3 * 512, 4 * 512), data);
    assert.deepEqual(readFileSync(path), Buffer.alloc(64 * 512), 'FILE itself untouched');
  });

  it('local mode, a backup\'s writes: on the copy at once, no fdatasync until durable() (go-live), then one for them all', async () => {
    const path = join(dir, 'backup.img');
    writeFileSync(path, Buffer.alloc(64 * 512));
    const copy = LocalDisk.create(path, 'host-2');
    const sync = copy.file.syncInBackground.bind(copy.file);
    let syncs = 0;
    copy.file.syncInBackground = () => {
      syncs++;
      return sync();
    };
    for (let i = 0; i < 10; i++) copy.writeUnsynced({ offset: i * 512, data: new Uint8Array(512).fill(i + 1) });
    assert.equal(copy.read(9 * 512, 512)[0], 10, 'read back');
    await new Promise(setImmediate);
    assert.deepEqual([syncs, copy.syncs], [0, 0], 'replayed writes start no fdatasync');
    await copy.durable();
    assert.deepEqual([syncs, copy.syncs], [1, 1], 'going live: one fdatasync for all of them');
    assert.equal(copy.counts.writes, 10);
    await copy.close();
    assert.equal(readFileSync(localDiskPath(path, 'host-2'))[9 * 512], 10);
  });

  it('shared: a read of a sector whose write is still held returns the held data; FILE gets it once released', async () => {
    const path = join(dir, 'shared.img');
    writeFileSync(path, Buffer.alloc(64 * 512));
    const disk = new SharedDisk(DiskFile.open(path));
    const [first, second] = [new Uint8Array(1024).fill(1), new Uint8Array(512).fill(2)];
    disk.hold({ offset: 4 * 512, data: first });
    disk.hold({ offset: 5 * 512, data: second });
    const read = disk.read(3 * 512, 4 * 512);
    assert.deepEqual([...read].filter((_, i) => i % 512 === 0), [0, 1, 2, 0], 'sector 4 from the first write, 5 from the later one');
    assert.equal(readFileSync(path)[4 * 512], 0, 'nothing on FILE while held');
    assert.equal(disk.holding, 2);
    await disk.releaseOldest();
    assert.equal(readFileSync(path)[4 * 512], 1, 'released: on FILE');
    assert.equal(readFileSync(path)[5 * 512], 1, 'the later write, still held, is not');
    assert.equal(disk.read(5 * 512, 512)[0], 2, 'and reads still see it');
    await disk.releaseOldest();
    assert.equal(disk.holding, 0);
    assert.equal(disk.counts.writes, 2);
    await disk.drained();
    disk.file.close();
  });
});
