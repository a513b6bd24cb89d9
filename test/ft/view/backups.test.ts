// `--backups 2` (issue 21): the log fans out to two replaying backups, each acknowledging; the Output
// Rule waits for every live one; a primary failure promotes the most advanced backup, and the other
// follows it (cloned again). Real host processes, the kv guest, the embedded view service.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type ClusterOptions } from '../../../src/ft/cluster';
import { checkKvHistory, runKvWorkload } from '../../../src/ft/workload';
import { clusterOptions, until } from '../../support/cluster';
import { shape, VIEWS } from '../../support/views';

const clusters: Cluster[] = [];
function twoBackups(extra: Partial<ClusterOptions> = {}): Cluster {
  // The pair's detector is long: the view service decides, and no backup is declared dead for silence here.
  const detector = { timeoutMs: 30_000, heartbeatMs: 50 };
  const cluster = new Cluster(clusterOptions('kv', { hosts: 3, views: { ...VIEWS, backups: 2 }, detector, ...extra }));
  clusters.push(cluster);
  return cluster;
}

/** Resolves once `host` pings initialised: its clone restored and the primary's `protect` entry received. */
function initialised(cluster: Cluster, host: string): Promise<void> {
  return new Promise((resolve) => {
    cluster.on('report', (r) => { if (r.type === 'ping' && r.id === host && r.ping.initialised) resolve(); });
  });
}

/** The last log position each host pinged with (what the view service saw too). */
function positions(cluster: Cluster): Map<string, number> {
  const seen = new Map<string, number>();
  cluster.on('report', (r) => { if (r.type === 'ping') seen.set(r.id, r.ping.position); });
  return seen;
}

describe('--backups 2: the log fans out to two backups (real processes)', function () {
  this.timeout(240_000);
  afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));

  it('both acknowledge: an output is held until the slower backup has acked it, and neither replaces the other', async () => {
    // The primary drops a backup silent for the detector's timeout while the other acks: never during this test.
    const cluster = twoBackups({ detector: { timeoutMs: 3_600_000, heartbeatMs: 50 } });
    const attached: string[] = [];
    cluster.on('backup-attached', (id, cloned) => attached.push(`${id} ${cloned ? 'cloned' : 'booted'}`));
    const ready = initialised(cluster, 'host-3');
    await cluster.start();
    await ready;
    assert.deepEqual(cluster.views.map(shape), ['1: host-1 []', '2: host-1 [host-2]', '3: host-1 [host-2 host-3]']);
    const both = await runKvWorkload({ service: cluster.service, ops: 6, seed: 1, clients: 2 });
    assert.deepEqual(checkKvHistory(both).problems, []);

    // host-3's end of its channel is cut (host-2's is not): it receives nothing and acks nothing. Its ack thread
    // applies the cut after the command arrives: the workload starts once its stats say the cut is in effect.
    const host3 = cluster.hosts.get('host-3')!.link;
    host3.send({ type: 'channel-fault', kind: 'partition' });
    await until(async () => (await cluster.statsOfHost('host-3'))?.partitioned === true, "host-3's channel to be cut");
    const before = (await cluster.statsOf('primary'))!.outputsReleased;
    let replied = false;
    const workload = runKvWorkload({ service: cluster.service, ops: 1, seed: 2, clients: 1, firstClient: 3 });
    void workload.then(() => (replied = true));
    // The reply is logged and held, and host-2 has received it (the primary's stats first, then host-2's).
    await until(async () => {
      const primary = await cluster.statsOf('primary');
      return primary!.outputsHeld > 0 && ((await cluster.statsOfHost('host-2'))?.seq ?? 0) >= primary!.seq;
    }, 'host-2 to receive the held reply');
    const held = (await cluster.statsOf('primary'))!;
    assert.ok(held.outputsHeld > 0, 'host-2 has the reply, host-3 has not: it is held');
    assert.equal(replied, false, 'the client has no reply');

    host3.send({ type: 'channel-fault', kind: 'heal' });
    const history = await workload;
    assert.deepEqual(checkKvHistory(history).problems, []);
    const primary = (await cluster.statsOf('primary'))!;
    assert.ok(primary.outputsReleased > before, 'released once host-3 acked it');
    await until(async () => ((await cluster.statsOfHost('host-3'))?.seq ?? 0) >= primary.seq, 'host-3 to catch up');
    assert.deepEqual(attached, ['host-1 booted', 'host-1 cloned'], 'host-2 attached at boot, host-3 cloned, neither again');
  });

  it('one backup killed: outputs are released on the other\'s acks (no spare, no view needed)', async () => {
    const cluster = twoBackups({ restoreRedundancy: false });
    const ready = initialised(cluster, 'host-3');
    await cluster.start();
    await ready;
    cluster.hosts.get('host-3')!.link.kill();
    const history = await runKvWorkload({ service: cluster.service, ops: 20, seed: 2, clients: 2 });
    assert.deepEqual(checkKvHistory(history).problems, []);
    assert.equal(cluster.hostIn('primary')?.id, 'host-1');
    assert.equal(cluster.failovers.length, 0);
  });

  it('the primary killed: the most advanced backup is promoted, the other follows it, no acknowledged op lost', async () => {
    const cluster = twoBackups();
    const seen = positions(cluster);
    const ready = initialised(cluster, 'host-3');
    await cluster.start();
    await ready;
    let atPromotion: Map<string, number> | undefined;
    const promoted = cluster.viewWhere((v) => v.number > 3 && v.primary !== 'host-1').then((v) => {
      atPromotion = new Map(seen);
      return v;
    });
    let done = false;
    void promoted.then(() => until(() => cluster.failovers.length === 1, 'the go-live')).then(() => (done = true));
    const continueWhile = () => !done;
    const workload = runKvWorkload({ service: cluster.service, ops: 30, seed: 3, clients: 2, continueWhile });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(cluster.kill('primary'), 'host-1');
    const view = await promoted;
    const history = await workload;
    const [next, other] = view.primary === 'host-2' ? ['host-2', 'host-3'] : ['host-3', 'host-2'];
    assert.equal(view.primary, next);
    assert.ok(atPromotion!.get(next)! >= atPromotion!.get(other)!, `positions at promotion: ${[...atPromotion!].join(' ')}`);
    assert.ok(view.backups.includes(other), `${shape(view)}: the other backup stays a backup`);
    assert.deepEqual(cluster.failovers.map((f) => f.newPrimary), [next]);
    // It follows the new primary: cloned from it (its log is a prefix of the new primary's), in its generation.
    const { generation } = cluster.failovers[0];
    await until(() => {
      const stats = cluster.hosts.get(other)!.stats;
      return stats?.generation === generation && stats.role === 'backup' && stats.cloning === undefined;
    }, `${other} to be cloned from ${next}`);
    const after = await runKvWorkload({ service: cluster.service, ops: 10, seed: 4, clients: 2, firstClient: 5 });
    for (const h of [history, after]) assert.deepEqual(checkKvHistory(h).problems, []);
    assert.ok(history.reconnects > 0, 'the kill happened while clients ran');
  });

  it('a promoted backup that fails to go live leaves the view: the service promotes the other one', async () => {
    const arbiterDir = mkdtempSync(join(tmpdir(), 'lockstep-arbiter-'));
    try {
      const cluster = twoBackups({ arbiterDir });
      const ready = initialised(cluster, 'host-3');
      await cluster.start();
      await ready;
      // Someone else holds generation 1: the first backup to go live loses the arbiter and halts.
      const claim = join(arbiterDir, 'generation-1.live');
      writeFileSync(claim, 'intruder');
      let failed: string | undefined;
      cluster.on('role-change', (c) => {
        if (c.role !== 'halted' || failed) return;
        failed = c.host;
        // Before its pings after halting reach the service (the same link, in order): the next one may win.
        rmSync(claim);
      });
      cluster.kill('primary');
      await until(() => cluster.failovers.length === 1, 'a backup to go live after the first one failed', 120_000);
      assert.ok(failed === 'host-2' || failed === 'host-3', `halted: ${failed}`);
      const [live] = cluster.failovers.map((f) => f.newPrimary);
      assert.notEqual(live, failed);
      const views = cluster.views.map(shape);
      const named = (host: string) => cluster.views.findIndex((v) => v.primary === host);
      assert.ok(named(failed!) > 0 && named(live) > named(failed!), views.join(', '));
      const history = await runKvWorkload({ service: cluster.service, ops: 10, seed: 5, clients: 2 });
      assert.deepEqual(checkKvHistory(history).problems, []);
    } finally {
      rmSync(arbiterDir, { recursive: true, force: true });
    }
  });
});
