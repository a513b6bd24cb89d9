import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, parseFault, type ClusterOptions } from '../../../src/ft/cluster';
import { checkKvHistory, runKvWorkload } from '../../../src/ft/workload';
import { readLogFile } from '../../../src/ft/log';
import { SeededRandom } from '../../../src/ft/random';
import { clusterOptions, lastRole, partitionLeavesOneLive, until } from '../../support/cluster';
import { TEST_EPOCH } from '../../support/guests';

const KILL_TRIALS = Number(process.env.LOCKSTEP_CHECKPOINT_KILL_TRIALS ?? 4);
const PARTITION_TRIALS = Number(process.env.LOCKSTEP_PARTITION_TRIALS ?? 2);

function checkpointOptions(guest: string, extra: Partial<ClusterOptions> = {}): ClusterOptions {
  return clusterOptions(guest, { mode: 'checkpoint', checkpoint: { intervalMs: 25, compress: true }, ...extra });
}

/** kv's SHUTDOWN, sent until its reply comes (a request may be lost with a primary). */
function shutdownKv(cluster: Cluster): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(cluster.service);
    socket.on('data', (d) => { if (d.toString().includes('kv bye')) { socket.destroy(); resolve(); } });
    socket.on('error', reject);
    socket.on('connect', () => socket.write('0 0 SHUTDOWN\n'));
  });
}

const clusters: Cluster[] = [];
function track(cluster: Cluster): Cluster {
  clusters.push(cluster);
  return cluster;
}

describe('checkpoint mode (Remus) pair (real processes, real TCP)', function () {
  this.timeout(300_000);
  afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));

  describe(`killing the primary under kv load (${KILL_TRIALS} trials)`, () => {
    const random = new SeededRandom(2027);
    for (let trial = 0; trial < KILL_TRIALS; trial++) {
      const offset = 5_000_000 + Math.floor(random.next() * 100_000_000);
      it(`trial ${trial + 1}: killed ${offset} instructions in, the backup goes live from its last checkpoint and no acknowledged op is lost`, async () => {
        const cluster = track(new Cluster(checkpointOptions('kv')));
        await cluster.start();
        const restored = new Promise<void>((resolve) => cluster.on('backup-attached', (_h, cloned) => cloned && resolve()));
        const start = (await cluster.statsOf('primary'))!.instructions;
        let failedOver = false;
        const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
        void failover.then(() => (failedOver = true));
        cluster.command('primary', { type: 'kill-at', at: start + offset });
        const continueWhile = () => !failedOver;
        const { service } = cluster;
        const history = await runKvWorkload({ service, ops: 60, seed: trial, clients: 3, continueWhile });
        await failover;
        await restored;
        // Attached, it gets its full checkpoint at the new primary's next epoch.
        await until(async () => ((await cluster.statsOf('backup'))?.checkpointStore?.applied ?? 0) >= 1, 'the new backup to hold a checkpoint');
        const summary = await cluster.stop();
        const check = checkKvHistory(history);
        assert.deepEqual(check.problems, []);
        assert.ok(check.ok);
        assert.ok(history.reconnects > 0, 'the kill happened while the clients were running');
        assert.equal(summary.mode, 'checkpoint');
        assert.equal(summary.failovers[0]?.newPrimary, 'host-2');
        assert.equal(lastRole(summary, 'host-1'), 'dead');
        assert.equal(lastRole(summary, 'host-2'), 'primary');
        assert.equal(lastRole(summary, 'host-3'), 'backup', 'a new backup got a full checkpoint');
        const store = summary.hosts['host-3'].stats!.checkpointStore!;
        assert.ok(store.applied >= 1 && store.latest, 'the new backup holds a checkpoint');
        assert.ok(summary.checkpoints!.full >= 2, 'each backup started from a full checkpoint');
      });
    }
  });

  it('a guest with no input, after a failover from a checkpoint, ends in the state of a run never killed', async () => {
    const options = (extra: Partial<ClusterOptions>) => checkpointOptions('spin', {
      cmdline: 'iterations=4000000 hz=1000', checkpoint: { instructions: TEST_EPOCH, compress: false }, ...extra,
    });
    // A detection timeout long enough that no failover but the kill happens on a loaded machine.
    const detector = { timeoutMs: 10_000, heartbeatMs: 50 };
    const run = async (cluster: Cluster, last: string) => {
      const ended = new Promise<string>((resolve) => cluster.once('guest-ended', resolve));
      await cluster.start();
      assert.equal(await ended, last, `${last} ran the guest to its end`);
      const epochs = cluster.hosts.get(last)!.epochs;
      const summary = await cluster.stop();
      return { epochs, summary, instructions: summary.hosts[last].stats!.instructions };
    };
    const whole = await run(track(new Cluster(options({ detector }))), 'host-1');
    assert.equal(whole.summary.failovers.length, 0);
    const kill = parseFault(`kill-primary@${Math.round(whole.instructions / 2)}`);
    const killed = await run(track(new Cluster(options({ detector, faults: [kill], restoreRedundancy: false }))), 'host-2');
    assert.equal(killed.summary.failovers.length, 1);
    assert.ok(killed.epochs.length >= 2, `the new primary crossed ${killed.epochs.length} epochs`);
    const byIndex = new Map(whole.epochs.map((e) => [e.index, e]));
    for (const epoch of killed.epochs) assert.deepEqual(epoch, byIndex.get(epoch.index), `epoch ${epoch.index}`);
    assert.deepEqual(killed.epochs.at(-1), whole.epochs.at(-1), 'the same last epoch');
    assert.equal(killed.instructions, whole.instructions, 'ended at the same instruction');
  });

  it('a primary killed halfway through sending a checkpoint: the backup never applies it and goes live from the one before', async () => {
    // spin writing over 4096 pages, sent raw: an incremental checkpoint takes 2 chunks (512 KiB each) or more.
    const cluster = track(new Cluster(checkpointOptions('spin', {
      cmdline: 'iterations=2000000000 pages=4096',
      checkpoint: { intervalMs: 25, compress: false },
      detector: { timeoutMs: 10_000, heartbeatMs: 50 },
      restoreRedundancy: false,
    })));
    await cluster.start();
    await until(async () => ((await cluster.statsOf('backup'))?.checkpointStore?.applied ?? 0) >= 2, 'two checkpoints applied');
    const applied = (await cluster.statsOf('backup'))!.checkpointStore!.applied;
    const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
    cluster.command('primary', { type: 'kill-mid-checkpoint' });
    await failover;
    const line = cluster.hosts.get('host-2')!.stderr.find((l) => l.includes('going live from checkpoint'));
    const match = /going live from checkpoint (\d+) \(instruction (\d+), .*the checkpoint after it was cut off \((\d+) of (\d+) chunks\) and is not applied/.exec(line ?? '');
    assert.ok(match, `host-2 said: ${line}`);
    const [index, at, received, total] = match.slice(1).map(Number);
    assert.ok(index >= applied, `went live from checkpoint ${index}, the latest complete one (${applied} applied before the kill)`);
    assert.ok(received >= 1 && received < total, `${received} of ${total} chunks of the cut-off checkpoint arrived`);
    // The machine restored from the complete checkpoint runs on as the primary.
    await until(async () => ((await cluster.statsOf('primary'))?.instructions ?? 0) > at, 'the new primary to run past its checkpoint');
    const summary = await cluster.stop();
    assert.equal(lastRole(summary, 'host-1'), 'dead');
    assert.equal(lastRole(summary, 'host-2'), 'primary');
  });

  describe(`partitioning the channel with both hosts alive (${PARTITION_TRIALS} trials)`, () => {
    for (let trial = 0; trial < PARTITION_TRIALS; trial++) {
      it(`trial ${trial + 1}: exactly one of the two stays live`, async () => {
        const cluster = track(new Cluster(checkpointOptions('kv', { restoreRedundancy: false })));
        await cluster.start();
        // A backup without a checkpoint has nothing to go live with (it waits): partition a replicating pair.
        await until(async () => ((await cluster.statsOf('backup'))?.checkpointStore?.applied ?? 0) >= 1, 'a first checkpoint');
        await partitionLeavesOneLive(cluster, trial);
      });
    }
  });

  it('the log shows every output released only under the ack of a checkpoint logged after it', async () => {
    const record = join(mkdtempSync(join(tmpdir(), 'lockstep-remus-')), 'kv.ftlog');
    const cluster = track(new Cluster(checkpointOptions('kv', { record, detector: { timeoutMs: 5000, heartbeatMs: 50 } })));
    const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
    await cluster.start();
    const history = await runKvWorkload({ service: cluster.service, ops: 30, seed: 9, clients: 2 });
    assert.ok(checkKvHistory(history).ok);
    await shutdownKv(cluster);
    await ended;
    const summary = await cluster.stop();
    assert.equal(summary.failovers.length, 0);
    const { entries } = await readLogFile(record);
    const position = new Map(entries.map((e, i) => [e.seq, i]));
    const checkpoints = new Set(entries.flatMap((e) => (e.kind === 'control' && e.op === 'checkpoint' ? [e.seq] : [])));
    const outputs = entries.filter((e) => e.kind === 'output');
    const releases = entries.flatMap((e) => (e.kind === 'control' && e.op === 'release' ? [{ seq: e.seq, ...JSON.parse(e.detail) as { output: number; acked: number } }] : []));
    assert.ok(outputs.length > 10, `${outputs.length} outputs`);
    assert.deepEqual(releases.map((r) => r.output), outputs.map((o) => o.seq), 'every output released once, in order');
    for (const release of releases) {
      assert.ok(checkpoints.has(release.acked), `output ${release.output} was released under the ack of seq ${release.acked}, a checkpoint`);
      assert.ok(release.output < release.acked, `output ${release.output} is covered by checkpoint ${release.acked}, logged after it`);
      assert.ok(position.get(release.acked)! < position.get(release.seq)!, `the checkpoint ${release.acked} comes before release ${release.seq}`);
    }
    assert.equal(summary.checkpoints!.acknowledged, summary.checkpoints!.count, 'every checkpoint was acknowledged');
  });
});
