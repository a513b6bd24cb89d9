import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../../src/ft/cluster';
import { replayLogFile, runGuest } from '../../../src/ft/commands';
import { DiskFile, loadImage } from '../../../src/ft/machine';
import { readLogFile } from '../../../src/ft/log';
import { clusterOptions, until } from '../../support/cluster';
import { diskGuest } from '../../support/rawguest';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-ftdisk-'));
const ROUNDS = 60;
const guest = join(dir, 'disk.bin');
writeFileSync(guest, diskGuest(ROUNDS, 150_000));
const DISK_BYTES = 64 * 1024;
const EPOCH = 2_000_000;

function freshDisk(name: string): string {
  const bytes = Buffer.alloc(DISK_BYTES);
  bytes.write('hello-disk-12345', 512);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** FILE after the guest ran alone, start to end (what every FT run must leave on the disk), and its length. */
async function reference(): Promise<{ bytes: Buffer; instructions: number }> {
  const path = freshDisk('reference.img');
  const file = DiskFile.open(path);
  const result = await runGuest({ image: loadImage(guest), seed: 1, epochLength: EPOCH, disk: { size: file.size, mode: 'shared', file } });
  file.close();
  assert.equal(result.end, 'exited');
  return { bytes: readFileSync(path), instructions: result.instructions };
}

async function diskCluster(name: string, record?: string): Promise<{ cluster: Cluster; path: string }> {
  const path = freshDisk(name);
  const file = DiskFile.open(path);
  const identity = file.identity();
  file.close();
  const cluster = new Cluster(clusterOptions(guest, {
    epochLength: EPOCH, record, disk: { ...identity, mode: 'shared' }, detector: { timeoutMs: 3000, heartbeatMs: 50 },
  }));
  clusters.push(cluster);
  return { cluster, path };
}

const clusters: Cluster[] = [];

describe('a shared disk under FT (src/ft/replication/shareddisk.ts)', function () {
  this.timeout(240_000);
  let expected: Buffer;
  let length = 0;
  before(async () => ({ bytes: expected, instructions: length } = await reference()));
  afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));

  it('only the primary touches FILE; it ends as the guest alone leaves it; the backup keeps the same epoch hashes', async () => {
    const record = join(dir, 'plain.ftlog');
    const { cluster, path } = await diskCluster('plain.img', record);
    const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
    await cluster.start();
    await ended;
    await until(async () => (await cluster.statsOf('backup'))?.instructions === (await cluster.statsOf('primary'))?.instructions, 'the backup to catch up');
    // The last writes are released once the backup has acknowledged them.
    await until(async () => (await cluster.statsOf('primary'))?.disk?.writes === 2 * ROUNDS, 'every write released');
    const [primary, backup] = [(await cluster.statsOf('primary'))!, (await cluster.statsOf('backup'))!];
    const summary = await cluster.stop();
    assert.ok(readFileSync(path).equals(expected), 'FILE holds every write, in order');
    assert.equal(primary.disk!.writes, 2 * ROUNDS);
    assert.equal(primary.disk!.reads, ROUNDS);
    assert.equal(primary.disk!.held, 0);
    assert.equal(backup.disk, undefined, 'the backup never opened FILE');
    const [p, b] = Object.values(summary.epochHashes);
    assert.ok(p.length >= 5);
    assert.deepEqual(b, p);
    // The recording replays without FILE: its reads are in the log.
    renameSync(path, `${path}.away`);
    const replay = await replayLogFile(record, { image: guest });
    assert.equal(replay.epochMismatches.length, 0);
    assert.equal(replay.epochsMatched, p.length);
    const { meta } = await readLogFile(record);
    assert.equal(meta.disk?.size, DISK_BYTES);
    assert.equal(meta.disk?.mode, 'shared');
  });

  for (const fraction of [0.05, 0.3, 0.6]) {
    it(`the primary killed ${fraction * 100}% into the run: the new primary re-issues the writes it did not see released, and FILE ends as the guest alone leaves it`, async () => {
      const offset = Math.floor(length * fraction);
      const record = join(dir, `killed-${offset}.ftlog`);
      const { cluster, path } = await diskCluster(`killed-${offset}.img`, record);
      const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
      const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
      await cluster.start();
      cluster.command('primary', { type: 'kill-at', at: offset });
      await failover;
      await ended;
      // No backup is left to wait for until the new one is cloned; none is held after that either.
      await until(async () => (await cluster.statsOf('primary'))?.disk?.held === 0, 'no write held');
      const newPrimary = (await cluster.statsOf('primary'))!;
      const summary = await cluster.stop();
      assert.equal(summary.failovers.length, 1);
      assert.ok(readFileSync(path).equals(expected), 'every write is on FILE, in order');
      const { entries } = await readLogFile(record);
      const goLive = entries.find((e) => e.kind === 'control' && e.op === 'go-live');
      assert.ok(goLive, 'the new primary logged its go-live');
      assert.equal(newPrimary.id, 'host-2');
      const { reissuedWrites } = JSON.parse((goLive as { detail: string }).detail) as { reissuedWrites?: number };
      assert.equal(newPrimary.disk!.reissued, reissuedWrites ?? 0, 'the log says how many writes were re-issued');
    });
  }
});
