import { strict as assert } from 'node:assert';
import { Cluster, type ViewChange } from '../../../src/ft/cluster';
import { checkKvHistory, runKvWorkload, type KvHistory } from '../../../src/ft/workload';
import { clusterOptions, lastRole, until } from '../../support/cluster';

const VIEWS = { pingIntervalMs: 200, deadPings: 10 };

const clusters: Cluster[] = [];
function threeHosts(): Cluster {
  const cluster = new Cluster(clusterOptions('kv', { hosts: 3, views: VIEWS, detector: { timeoutMs: 3000, heartbeatMs: 50 } }));
  clusters.push(cluster);
  return cluster;
}

const shape = (v: ViewChange) => `${v.number}: ${v.primary ?? '-'} [${v.backups.join(' ')}]`;

/** The view's backup has its clone and has said so: it could be promoted. */
async function backupInitialised(cluster: Cluster, backup: string): Promise<void> {
  await until(async () => {
    const stats = await cluster.statsOf('backup');
    return stats?.id === backup && stats.cloning === undefined && stats.instructions > 0;
  }, `${backup} to be cloned`);
}

/** Kills the primary while kv clients run, and waits for the view that promotes `next`. */
async function killPrimaryDuringWorkload(
  cluster: Cluster, next: string, seed: number, firstClient: number,
): Promise<KvHistory> {
  let promoted = false;
  const view = cluster.viewWhere((v) => v.primary === next);
  const live = new Promise<void>((resolve) => cluster.on('failover', (f) => f.newPrimary === next && resolve()));
  void Promise.all([view, live]).then(() => (promoted = true));
  const killed = cluster.kill('primary');
  assert.ok(killed);
  const continueWhile = () => !promoted;
  const { service } = cluster;
  const history = await runKvWorkload({ service, ops: 30, seed, clients: 2, firstClient, continueWhile });
  await Promise.all([view, live]);
  return history;
}

describe('the view service in a cluster (embedded coordinator; real processes)', function () {
  this.timeout(240_000);
  afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));

  it('three hosts, two primary kills: views 1→2→3→4 by the rules, the service goes on, no acknowledged op lost', async () => {
    const cluster = threeHosts();
    await cluster.start();
    await cluster.viewWhere((v) => v.number === 2);
    assert.deepEqual(cluster.views.map(shape), ['1: host-1 []', '2: host-1 [host-2]']);
    await until(() => cluster.coordinator!.idle.includes('host-3'), 'host-3 to ping as an idle spare');
    const before = await runKvWorkload({ service: cluster.service, ops: 20, seed: 1, clients: 2, firstClient: 1 });

    const first = await killPrimaryDuringWorkload(cluster, 'host-2', 2, 3);
    assert.equal(shape(cluster.views[2]), '3: host-2 [host-3]', 'the backup is promoted, the idle spare becomes backup');
    await backupInitialised(cluster, 'host-3');
    const second = await killPrimaryDuringWorkload(cluster, 'host-3', 3, 5);
    await cluster.viewWhere((v) => v.primary === 'host-3' && v.backups.length === 1);
    const after = await runKvWorkload({ service: cluster.service, ops: 20, seed: 4, clients: 2, firstClient: 7 });
    const summary = await cluster.stop();

    // Each view's primary was the previous view's backup, or its own primary.
    for (let i = 1; i < summary.views!.length; i++) {
      const [was, is] = [summary.views![i - 1], summary.views![i]];
      assert.ok(is.primary === was.primary || was.backups.includes(is.primary!), `${shape(was)} → ${shape(is)}`);
      assert.equal(is.number, was.number + 1);
    }
    assert.deepEqual(summary.views!.slice(0, 4).map(shape).slice(0, 3), ['1: host-1 []', '2: host-1 [host-2]', '3: host-2 [host-3]']);
    assert.equal(summary.views![3].primary, 'host-3', 'the former spare, cloned, is promoted at the second kill');
    assert.deepEqual(summary.failovers.map((f) => f.newPrimary), ['host-2', 'host-3']);
    for (const history of [before, first, second, after]) assert.deepEqual(checkKvHistory(history).problems, []);
    assert.ok(first.reconnects > 0 && second.reconnects > 0, 'the kills happened while clients ran');
    assert.equal(lastRole(summary, 'host-1'), 'dead');
    assert.equal(lastRole(summary, 'host-2'), 'dead');
    assert.equal(lastRole(summary, 'host-3'), 'primary');
  });

  it('a primary cut off from the view service stops serving; one primary at a time; back, it rejoins as a spare', async () => {
    const cluster = threeHosts();
    await cluster.start();
    await until(() => cluster.coordinator!.idle.includes('host-3'), 'host-3 to ping as an idle spare');
    const workload = runKvWorkload({ service: cluster.service, ops: 60, seed: 9, clients: 3 });
    await new Promise((r) => setTimeout(r, 200));
    cluster.cutFromViewService('host-1', true);
    await cluster.viewWhere((v) => v.primary === 'host-2');
    const history = await workload;
    await until(() => cluster.hosts.get('host-1')!.role === 'halted', 'the old primary to stop');
    cluster.cutFromViewService('host-1', false);
    await until(() => cluster.coordinator!.idle.includes('host-1'), 'host-1 to ping again, as an idle spare');
    const summary = await cluster.stop();

    assert.deepEqual(checkKvHistory(history).problems, [], 'no acknowledged op lost, no read of a state another primary made');
    // Served by one primary at a time: host-1 until host-2's go-live, which waited for host-1 to stop.
    const roles = summary.hosts['host-1'].roles.map((r) => r.role);
    assert.ok(!roles.slice(1).includes('primary'), `host-1 was primary once only: ${roles.join(', ')}`);
    const stoppedAt = summary.hosts['host-1'].roles.find((r) => r.role === 'halted')!;
    const liveAt = summary.failovers.find((f) => f.newPrimary === 'host-2')!;
    assert.match(stoppedAt.reason, /lost the arbiter to host-2|steps down/);
    assert.ok(summary.views!.every((v) => v.number < 3 || v.primary === 'host-2'), summary.views!.map(shape).join(', '));
    assert.ok(liveAt, 'host-2 went live');
  });

  it('the view service stopped and started again (from its saved view): hosts keep their roles, the next view change works', async () => {
    const cluster = threeHosts();
    await cluster.start();
    await until(() => cluster.coordinator!.idle.includes('host-3'), 'host-3 to ping as an idle spare');
    cluster.coordinator!.stop();
    // Longer than a server takes to be declared dead: a restarted service must not count the outage against anyone.
    await new Promise((r) => setTimeout(r, VIEWS.pingIntervalMs * VIEWS.deadPings * 3));
    const during = await runKvWorkload({ service: cluster.service, ops: 10, seed: 5, clients: 1 });
    cluster.coordinator!.start();
    await new Promise((r) => setTimeout(r, VIEWS.pingIntervalMs * VIEWS.deadPings * 2));
    assert.deepEqual(cluster.views.map(shape), ['1: host-1 []', '2: host-1 [host-2]'], 'no view change across the restart');
    assert.equal(cluster.hostIn('primary')?.id, 'host-1');
    assert.equal(cluster.hostIn('backup')?.id, 'host-2');
    const after = await killPrimaryDuringWorkload(cluster, 'host-2', 6, 2);
    const summary = await cluster.stop();
    assert.equal(shape(summary.views![2]), '3: host-2 [host-3]');
    for (const history of [during, after]) assert.deepEqual(checkKvHistory(history).problems, []);
  });
});
