// The linux guest under `ft` (real host processes, real TCP): the pair computes the same epochs and
// ends in the same state; a recording replays to them; a primary killed in user space, while kv
// clients run on the serial console or the network card, leaves a backup that goes live, loses no
// acknowledged operation and ends where an unkilled replay of the same log ends.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, ClusterOptions, ClusterSummary } from '../../src/ft/cluster';
import { runGuest, replayLogFile } from '../../src/ft/commands';
import { readLogFile } from '../../src/ft/log';
import { linuxGuestDir, loadImage, type RecordedEvent } from '../../src/ft/machine';
import { checkKvHistory, runKvWorkload, SerialWatch, type KvTransport } from '../../src/ft/workload';
import { clusterStory, SOURCE_LAUNCHER, until } from '../support/cluster';

/** How long Linux may take to boot and start kvd (about 4.2 G instructions, under a minute on a quiet machine). */
const BOOT_WAIT_MS = 600_000;
/** How far the first test runs on past "kv ready": the guest idles there, serving nobody. */
const PAST_READY = 400_000_000;

function linuxCluster(extra: Partial<ClusterOptions>): Cluster {
  const { memoryMiB, cmdline } = loadImage('linux').boot!;
  // A kill is what these tests inject; a long timeout keeps a loaded machine's scheduling from faking one.
  return new Cluster({
    guest: 'linux', memoryMiB, cmdline, clock: 'virtual', jit: true, epochLength: 100_000_000,
    launcher: SOURCE_LAUNCHER, detector: { timeoutMs: 4000, heartbeatMs: 50 }, ...extra,
  });
}

/**
 * Starts the cluster and waits for kvd's "kv ready" on the serial console (the event, wherever a kernel
 * or init puts it); returns the primary's count then, which is past it.
 */
async function startUntilKvReady(cluster: Cluster): Promise<number> {
  await cluster.start();
  const serial = await SerialWatch.open(cluster.service);
  try {
    await serial.until('kv ready', BOOT_WAIT_MS);
  } finally {
    serial.close();
  }
  return (await cluster.statsOf('primary'))!.instructions;
}

async function primaryReached(cluster: Cluster, at: number): Promise<void> {
  await until(async () => ((await cluster.statsOf('primary'))?.instructions ?? 0) >= at, `the primary to reach ${at}`, 600_000);
}

/** An unkilled run of the recording: the logged inputs and values replayed in one machine, up to `at`. */
async function replayTo(file: string, at: number) {
  const { meta, entries } = await readLogFile(file);
  const events = entries.flatMap(({ seq: _seq, ...e }) => (e.kind === 'input' || e.kind === 'nondet' ? [e as RecordedEvent] : []));
  return runGuest({
    image: loadImage(meta.guest), cmdline: meta.cmdline, memoryMiB: meta.memorySize / (1 << 20),
    epochLength: meta.epochLength, clock: meta.clock, jit: meta.jit, maxInstructions: at, replay: events,
  });
}

function assertSameEnd(summary: ClusterSummary, primary: string, backup: string, ranTo: number): void {
  const { end } = summary;
  assert.ok(end.primary && end.backup, JSON.stringify(end));
  assert.deepEqual([end.primary.host, end.backup.host], [primary, backup]);
  assert.ok(end.primary.at >= ranTo, `the primary ran to ${end.primary.at}`);
  assert.deepEqual([end.backup.at, end.backup.hash, end.same], [end.primary.at, end.primary.hash, true]);
}

describe('linux under ft (npm run build:linux)', function () {
  this.timeout(900_000);
  let dir: string;
  const clusters: Cluster[] = [];

  before(function () {
    if (!existsSync(join(linuxGuestDir(), 'manifest.json'))) {
      console.log('      (skipped: the linux guest is not built; run npm run build:linux)');
      this.skip();
    }
  });
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'lockstep-linuxft-')); });
  afterEach(() => {
    clusters.splice(0).forEach((c) => c.destroy());
    rmSync(dir, { recursive: true, force: true });
  });

  it('primary and backup compute the same epochs and end in the same state; the recording replays to them', async () => {
    const record = join(dir, 'linux.ftlog');
    const cluster = linuxCluster({ record });
    clusters.push(cluster);
    const end = await startUntilKvReady(cluster) + PAST_READY;
    await primaryReached(cluster, end);
    const summary = await cluster.stop();
    assert.deepEqual(summary.failovers, []);
    assert.deepEqual(summary.divergences, []);
    const hashes = summary.epochHashes['host-1'];
    assert.ok(hashes.length >= 30, `${hashes.length} epochs`);
    assert.deepEqual(summary.epochHashes['host-2'], hashes);
    assertSameEnd(summary, 'host-1', 'host-2', end);

    const replay = await replayLogFile(record);
    assert.equal(replay.fileError, undefined);
    assert.deepEqual(replay.epochMismatches, []);
    assert.equal(replay.epochsMatched, hashes.length);
    const { entries } = await readLogFile(record);
    const logged = Buffer.concat(entries.flatMap((e) => (e.kind === 'output' && e.device === 'serial' ? [e.data] : []))).toString('latin1');
    assert.match(logged, /kv ready/);
    assert.equal(replay.serial.slice(0, logged.length), logged, 'the replay printed what the primary printed');
    const unkilled = await replayTo(record, summary.end.primary!.at);
    assert.equal(unkilled.stateHash, summary.end.primary!.hash, 'a replay to the same count ends in the same state');
  });

  for (const transport of ['serial', 'net'] as KvTransport[]) {
    it(`kill the primary in user space while kv clients run (--via ${transport}): the backup goes live, nothing acknowledged is lost, and it ends where the log replays to`, async () => {
      const record = join(dir, 'linux.ftlog');
      const cluster = linuxCluster({ record });
      clusters.push(cluster);
      await startUntilKvReady(cluster);
      let failedOver = false;
      const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
      void failover.then(() => { failedOver = true; });
      const history = runKvWorkload({
        service: cluster.service, ops: 40, seed: 5, clients: 2, transport, continueWhile: () => !failedOver,
      });
      // Once kvd has answered a few requests, the primary dies part way through the clients' run.
      await until(async () => ((await cluster.statsOf('primary'))?.outputsReleased ?? 0) >= 6, 'kvd to answer', 300_000);
      const killedAt = (await cluster.statsOf('primary'))!.instructions;
      cluster.command('primary', { type: 'kill-at', at: killedAt + 20_000_000 });
      const check = checkKvHistory(await history.catch((error: Error) => { throw new Error(`${error.message}\n${clusterStory(cluster)}`); }));
      assert.ok(check.ok, check.problems.join('; '));
      assert.ok(check.acknowledged >= 40, `${check.acknowledged} operations acknowledged`);
      await failover;
      assert.equal(cluster.failovers[0].newPrimary, 'host-2');
      await until(() => cluster.backupAttached, 'a backup cloned from the new primary', 300_000);
      const clonedAt = (await cluster.statsOf('primary'))!.instructions;
      // Attached is when the primary sent the checkpoint: the new backup restores 256 MiB after that.
      await until(async () => {
        const backup = await cluster.statsOf('backup');
        return !!backup && !backup.cloning && backup.instructions >= clonedAt;
      }, 'the cloned backup to restore and replay', 300_000);
      await primaryReached(cluster, clonedAt + 500_000_000);
      const summary = await cluster.stop();
      assert.equal(summary.failovers.length, 1, `failovers: ${JSON.stringify(summary.failovers)}`);
      assert.deepEqual(summary.divergences, []);
      assert.equal(summary.hosts['host-1'].roles.at(-1)?.role, 'dead');
      assertSameEnd(summary, 'host-2', 'host-3', clonedAt);
      const unkilled = await replayTo(record, summary.end.primary!.at);
      assert.equal(unkilled.instructions, summary.end.primary!.at);
      assert.equal(unkilled.stateHash, summary.end.primary!.hash, 'the unkilled replay of the joined recording ends in the same state');
    });
  }
});
