// The linux guest's disk under FT, shared and local: kvd keeps a journal on ext2 (init mounts /dev/sda),
// each acknowledged PUT/APPEND fsync'ed there before its reply. The primary is killed during a stream of
// acknowledged writes; afterwards the disk the live primary uses (shared: FILE, which only the live
// primary touched; local: its own copy, FILE.host-2) holds every one of them, e2fsck finds it clean
// and the kv checker passes. A recording of the same workload replays (lockstep replay) to the pair's epoch
// hashes and serial output: shared mode without FILE, local mode from FILE as it was at the start, wherever
// it was moved to. Skipped without the linux guest or e2fsprogs.
import { strict as assert } from 'node:assert';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, type ClusterOptions } from '../../src/ft/cluster';
import { readLogFile } from '../../src/ft/log';
import { DiskFile, DiskMode, linuxGuestDir, loadImage } from '../../src/ft/machine';
import { checkKvHistory, runKvWorkload, SerialWatch } from '../../src/ft/workload';
import { clusterOptions, within, withStory } from '../support/cluster';

/** How long Linux may take to boot and start kvd (about 4.2 G instructions, under a minute on a quiet machine). */
const BOOT_WAIT_MS = 600_000;
/**
 * How long kvd may take to say its last line after SHUTDOWN, and the guest to end after it (it unmounts the disk and
 * powers off): seconds each on a loaded machine.
 */
const SHUTDOWN_WAIT_MS = 120_000;

const hasTools = spawnSync('mke2fs', ['-V']).status === 0 && spawnSync('debugfs', ['-V']).status === 0;

describe('linux guest: kvd\'s journal on a disk under FT', function () {
  this.timeout(1_500_000);
  const clusters: Cluster[] = [];
  after(() => clusters.forEach((c) => c.destroy()));

  before(function () {
    const manifest = join(linuxGuestDir(), 'manifest.json');
    if (!existsSync(manifest) || !hasTools) {
      console.log(`      (skipped: needs the linux guest (${manifest}) and e2fsprogs)`);
      this.skip();
    }
  });

  for (const mode of ['shared', 'local'] as DiskMode[]) {
    it(`${mode}: the primary killed during acknowledged writes: every one is on the live primary's disk, e2fsck -fn is clean, the history checks`, () => killDuringWrites(mode));
  }

  async function killDuringWrites(mode: DiskMode): Promise<void> {
    const { cluster, path, identity } = linuxDiskCluster(mode);
    clusters.push(cluster);
    await cluster.start();
    await kvReady(cluster);
    const start = (await cluster.statsOf('primary'))!.instructions;
    let failedOver = false;
    const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
    void failover.then(() => (failedOver = true));
    cluster.command('primary', { type: 'kill-at', at: start + 300_000_000 });
    const continueWhile = () => !failedOver;
    const workload = runKvWorkload({ service: cluster.service, ops: 40, seed: 7, clients: 2, continueWhile });
    const history = await workload.catch(withStory(cluster));
    await failover;
    const check = checkKvHistory(history);
    assert.deepEqual(check.problems, []);
    assert.ok(history.reconnects > 0, 'the kill came during the writes');
    await shutDown(cluster);
    const summary = await cluster.stop();
    assert.equal(summary.failovers.length, 1);
    const live = mode === 'shared' ? path : `${path}.host-2`;
    if (mode === 'local') {
      const original = DiskFile.open(path);
      assert.equal(original.identity().sha256, identity.sha256, 'FILE itself is never written');
      original.close();
    }
    const fsck = spawnSync('e2fsck', ['-fn', live], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
    const journal = execFileSync('debugfs', ['-R', 'cat /kv.journal', live], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'ignore'] });
    const lines = new Set(journal.split('\n'));
    const acknowledged = history.ops.filter((op) => op.op !== 'GET' && op.reply === 'OK');
    assert.ok(acknowledged.length > 10, `${acknowledged.length} acknowledged writes`);
    for (const op of acknowledged) {
      const line = `${op.client} ${op.seq} ${op.op} ${op.key} ${op.value}`;
      assert.ok(lines.has(line), `acknowledged, and on the disk: ${line}`);
    }
  }
});

describe('linux guest: a recording of kvd\'s disk workload replays (lockstep replay)', function () {
  this.timeout(1_500_000);
  const clusters: Cluster[] = [];
  after(() => clusters.forEach((c) => c.destroy()));

  before(function () {
    if (!existsSync(join(linuxGuestDir(), 'manifest.json')) || !hasTools) this.skip();
  });

  it('shared: to the pair\'s epoch hashes and serial output, without FILE (its reads are in the log)', async () => {
    const { record, path, hashes, serial } = await recordWrites('shared');
    renameSync(path, `${path}.away`);
    const replay = await replayCli(record);
    assert.deepEqual([replay.epochMismatches, replay.epochsMatched], [[], hashes]);
    assert.equal(replay.serial.slice(0, serial.length), serial, 'the replay printed what the primary printed');
  });

  it('local: to the same, from FILE as it was at the start, moved (--disk); another disk is refused, naming it', async () => {
    const { record, path, hashes, serial } = await recordWrites('local');
    const original = readFileSync(path);
    const moved = `${path}.moved`;
    renameSync(path, moved);
    const missing = await replayCli(record).then(() => 'not refused', (e: { stderr: string }) => e.stderr);
    assert.match(missing, /^lockstep: the log was recorded with a local-mode disk, .*kv\.img, which is not here: .* give it with --disk FILE\n$/);
    // FILE.host-1 holds the primary's writes: the same size, another hash.
    const wrong = await replayCli(record, ['--disk', `${path}.host-1`]).then(() => 'not refused', (e: { stderr: string }) => e.stderr);
    assert.match(wrong, /^lockstep: .*kv\.img\.host-1 is not the disk this log's run started with: sha256 [0-9a-f]{64} here, [0-9a-f]{64} in the log/);
    assert.equal(wrong.trim().split('\n').length, 1, wrong);
    const replay = await replayCli(record, ['--disk', moved]);
    assert.deepEqual([replay.epochMismatches, replay.epochsMatched], [[], hashes]);
    assert.equal(replay.serial.slice(0, serial.length), serial, 'the replay printed what the primary printed');
    assert.ok(readFileSync(moved).equals(original), 'the replay wrote nothing on FILE');
  });

  /**
   * Records an FT pair of the linux guest through boot, a stream of kv writes (each fsync'ed by kvd) and its
   * shutdown; returns the recording, FILE, how many epochs the pair computed (the same on both) and the serial
   * output the primary logged.
   */
  async function recordWrites(mode: DiskMode): Promise<Recorded> {
    const { cluster, path } = linuxDiskCluster(mode, (disk) => join(disk, '..', 'kv.ftlog'));
    clusters.push(cluster);
    await cluster.start();
    await kvReady(cluster);
    const history = await runKvWorkload({ service: cluster.service, ops: 30, seed: 11, clients: 2 });
    assert.deepEqual(checkKvHistory(history).problems, []);
    assert.ok(history.ops.filter((op) => op.op !== 'GET' && op.reply === 'OK').length > 5, 'kvd acknowledged writes');
    await shutDown(cluster);
    const summary = await cluster.stop();
    assert.deepEqual([summary.failovers, summary.divergences], [[], []]);
    const hashes = summary.epochHashes['host-1'];
    assert.deepEqual(summary.epochHashes['host-2'], hashes);
    const record = cluster.options.record!;
    const { entries, meta } = await readLogFile(record);
    assert.equal(meta.disk?.mode, mode);
    const reads = entries.filter((e) => e.kind === 'input' && e.device === 'disk');
    assert.ok(reads.length > 0, 'the recording holds the guest\'s disk reads');
    const serial = Buffer.concat(entries.flatMap((e) => (e.kind === 'output' && e.device === 'serial' ? [e.data] : []))).toString('latin1');
    assert.match(serial, /kv bye/);
    return { record, path, hashes: hashes.length, serial };
  }
});

/** A recording, its FILE, how many epochs the pair computed and the serial output the primary logged. */
interface Recorded { record: string; path: string; hashes: number; serial: string }

/** `lockstep replay FILE.ftlog --json` (from the sources): its summary, or a rejection with its stderr. */
async function replayCli(record: string, args: string[] = []) {
  const { stdout } = await promisify(execFile)(
    process.execPath, ['--import', 'tsx', 'src/cli.ts', 'replay', record, ...args, '--json'], { maxBuffer: 64 << 20 },
  );
  return JSON.parse(stdout) as { epochMismatches: unknown[]; epochsMatched: number; serial: string };
}

/**
 * An FT pair of the linux guest on a fresh 8 MiB ext2 FILE (kvd mounts it); `record(FILE)` names a recording.
 * Not started.
 */
function linuxDiskCluster(mode: DiskMode, record?: (disk: string) => string) {
  const path = join(mkdtempSync(join(tmpdir(), 'lockstep-linux-disk-')), 'kv.img');
  execFileSync('mke2fs', ['-q', '-t', 'ext2', '-F', path, '8M']);
  const file = DiskFile.open(path);
  const identity = file.identity();
  file.close();
  const { boot } = loadImage('linux');
  const options: Partial<ClusterOptions> = {
    memoryMiB: boot!.memoryMiB, cmdline: boot!.cmdline, epochLength: 200_000_000,
    disk: { ...identity, mode }, restoreRedundancy: false, record: record?.(path),
    // Booting Linux twice at once on a loaded machine: a generous timeout, so only the kill is a failure.
    detector: { timeoutMs: 8000, heartbeatMs: 200 },
  };
  return { cluster: new Cluster(clusterOptions('linux', options)), path, identity };
}

/** Waits for kvd's "kv ready" on a watch opened right after the cluster started (before kvd can print it). */
async function kvReady(cluster: Cluster): Promise<void> {
  const watch = await SerialWatch.open(cluster.service);
  try {
    await watch.until('kv ready', BOOT_WAIT_MS);
  } finally {
    watch.close();
  }
}

/**
 * Asks kvd to shut down and waits for its last line and the guest's end. The request goes on a watch of its own,
 * connected before it leaves: the watch opened at the start, reconnecting after the failover, missed the line when
 * the new primary answered before it was back (SerialWatch), and the guest ended while the test waited.
 */
async function shutDown(cluster: Cluster): Promise<void> {
  const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
  const asking = await SerialWatch.open(cluster.service);
  try {
    asking.send('0 0 SHUTDOWN\n');
    await asking.until('kv bye', SHUTDOWN_WAIT_MS).catch(withStory(cluster));
  } finally {
    asking.close();
  }
  await within(ended, SHUTDOWN_WAIT_MS, 'guest-ended event after "kv bye" (the guest unmounts the disk, powers off)', cluster);
}
