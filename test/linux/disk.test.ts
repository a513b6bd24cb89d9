// The linux guest's disk under FT, shared and local: kvd keeps a journal on ext2 (init mounts /dev/sda),
// each acknowledged PUT/APPEND fsync'ed there before its reply. The primary is killed during a stream of
// acknowledged writes; afterwards the disk the live primary uses (shared: FILE, which only the live
// primary touched; local: its own copy, FILE.host-2) holds every one of them, e2fsck finds it clean
// and the kv checker passes. Skipped without the linux guest or e2fsprogs.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../src/ft/cluster';
import { DiskFile, DiskMode, linuxGuestDir, loadImage } from '../../src/ft/machine';
import { checkKvHistory, runKvWorkload, SerialWatch } from '../../src/ft/workload';
import { clusterOptions } from '../support/cluster';

/** How long Linux may take to boot and start kvd (about 4.2 G instructions, under a minute on a quiet machine). */
const BOOT_WAIT_MS = 600_000;

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
    const path = join(mkdtempSync(join(tmpdir(), 'lockstep-linux-disk-')), 'kv.img');
    execFileSync('mke2fs', ['-q', '-t', 'ext2', '-F', path, '8M']);
    const file = DiskFile.open(path);
    const identity = file.identity();
    file.close();
    const { boot } = loadImage('linux');
    const cluster = new Cluster(clusterOptions('linux', {
      memoryMiB: boot!.memoryMiB, cmdline: boot!.cmdline, epochLength: 200_000_000,
      disk: { ...identity, mode }, restoreRedundancy: false,
      // Booting Linux twice at once on a loaded machine: a generous timeout, so only the kill is a failure.
      detector: { timeoutMs: 8000, heartbeatMs: 200 },
    }));
    clusters.push(cluster);
    await cluster.start();
    const serial = await SerialWatch.open(cluster.service);
    await serial.until('kv ready', BOOT_WAIT_MS);
    const start = (await cluster.statsOf('primary'))!.instructions;
    let failedOver = false;
    const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
    void failover.then(() => (failedOver = true));
    cluster.command('primary', { type: 'kill-at', at: start + 300_000_000 });
    const continueWhile = () => !failedOver;
    const history = await runKvWorkload({ service: cluster.service, ops: 40, seed: 7, clients: 2, continueWhile });
    await failover;
    const check = checkKvHistory(history);
    assert.deepEqual(check.problems, []);
    assert.ok(history.reconnects > 0, 'the kill came during the writes');
    const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
    const client = connect(cluster.service, () => client.end('0 0 SHUTDOWN\n'));
    await serial.until('kv bye', BOOT_WAIT_MS);
    serial.close();
    await ended;
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
