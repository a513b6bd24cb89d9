import { strict as assert } from 'node:assert';
import { Cluster } from '../../../src/ft/cluster';
import { checkKvHistory, runKvWorkload } from '../../../src/ft/workload';
import { clusterOptions, until } from '../../support/cluster';
import { EmbeddedCoordinator } from '../../../src/ft/view';
import { killPrimaryDuringWorkload, shape, stuckWithoutAcknowledgement, twoKills, VIEWS } from '../../support/views';

const clusters: Cluster[] = [];
function threeHosts(): Cluster {
  const cluster = new Cluster(clusterOptions('kv', { hosts: 3, views: VIEWS, detector: { timeoutMs: 3000, heartbeatMs: 50 } }));
  clusters.push(cluster);
  return cluster;
}

describe('the view service in a cluster (embedded coordinator; real processes)', function () {
  this.timeout(240_000);
  afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));

  it('three hosts, two primary kills: views 1→2→3→4 by the rules, the service goes on, no acknowledged op lost', async () => {
    const cluster = threeHosts();
    await cluster.start();
    await twoKills(cluster);
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

  it('a primary killed before it acknowledged its view: never counted redundant, and the service says it is stuck', async () => {
    await stuckWithoutAcknowledgement(threeHosts());
  });

  it('the view service stopped and started again (from its saved view): hosts keep their roles, the next view change works', async () => {
    const cluster = threeHosts();
    await cluster.start();
    await until(() => cluster.coordinator!.idle.includes('host-3'), 'host-3 to ping as an idle spare');
    const coordinator = cluster.coordinator as EmbeddedCoordinator;
    coordinator.stop();
    // Longer than a server takes to be declared dead: a restarted service must not count the outage against anyone.
    await new Promise((r) => setTimeout(r, VIEWS.pingIntervalMs * VIEWS.deadPings * 3));
    const during = await runKvWorkload({ service: cluster.service, ops: 10, seed: 5, clients: 1 });
    coordinator.start();
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
