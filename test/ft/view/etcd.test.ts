// The etcd coordinator (`--coordinator etcd://HOST:PORT`) against a real etcd member (Debian's
// etcd-server) this test starts on 127.0.0.1 ports of its own, with real host processes.
import { strict as assert } from 'node:assert';
import { Etcd3 } from 'etcd3';
import { Cluster } from '../../../src/ft/cluster';
import { parseCoordinator, type EtcdCoordinator } from '../../../src/ft/view';
import { checkKvHistory, runKvWorkload } from '../../../src/ft/workload';
import { clusterOptions, until } from '../../support/cluster';
import { EtcdMember, etcdMissing } from '../../support/etcd';
import { shape, stuckWithoutAcknowledgement, twoKills, VIEWS } from '../../support/views';

describe('the etcd coordinator (src/ft/view/etcd.ts; a real etcd member, real processes)', function () {
  this.timeout(240_000);
  let member: EtcdMember | undefined;
  const clusters: Cluster[] = [];

  before(async function () {
    const missing = etcdMissing();
    if (missing) {
      this.test!.parent!.title += ` (skipped: ${missing})`;
      this.skip();
    }
    member = await EtcdMember.start();
  });
  afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));
  after(() => member?.remove());

  function threeHosts(): Cluster {
    const coordinator = parseCoordinator(`etcd://${member!.endpoint}`);
    const views = { ...VIEWS, coordinator };
    const cluster = new Cluster(clusterOptions('kv', { hosts: 3, views, detector: { timeoutMs: 3000, heartbeatMs: 50 } }));
    clusters.push(cluster);
    return cluster;
  }

  it('three hosts, two primary kills, the first the decider\'s process too: a new decider takes over, views by the rules, each stored once in etcd, no acknowledged op lost', async () => {
    const cluster = threeHosts();
    const coordinator = cluster.coordinator as EtcdCoordinator;
    // The decider as the cluster process observed it when each host died (its election lease outlives it by a TTL).
    const deaths: string[] = [];
    cluster.on('role-change', (c) => { if (c.role === 'dead') deaths.push(`${c.host} (decider ${coordinator.decider})`); });
    await cluster.start();
    const summary = await twoKills(cluster);
    // host-1 pinged first, so it took the decider key: the first kill strikes the decider and the primary at once. The
    // next decider is whichever live host claimed the key first (host-2, host-3, or host-4, the spare started for
    // host-1): the views made after the first kill were its. The second kill strikes the primary, and the decider
    // too when that was host-2.
    assert.equal(deaths[0], 'host-1 (decider host-1)');
    assert.match(deaths[1], /^host-2 \(decider host-[2-9]\)$/);
    const client = new Etcd3({ hosts: `http://${member!.endpoint}` });
    try {
      const kvs = (await client.getAll().prefix('lockstep/').exec()).kvs;
      const [number] = kvs.filter((kv) => kv.key.toString().endsWith('/view-number'));
      const [view] = kvs.filter((kv) => kv.key.toString().endsWith('/view'));
      const last = summary.views!.at(-1)!;
      assert.equal(Number(number.value.toString()), last.number, 'etcd holds the last view\'s number');
      const { number: n, primary, backups } = last;
      assert.deepEqual(JSON.parse(view.value.toString()), { number: n, primary, backups });
      // A key's version counts its puts: every view was stored once, none lost, none made twice by two deciders.
      assert.equal(Number(view.version), last.number, 'the view key was written once per view');
      assert.ok(['host-3', 'host-4', 'host-5'].includes(coordinator.decider!), `a live host decides: ${coordinator.decider}`);
    } finally {
      client.close();
    }
  });

  it('a primary killed before it acknowledged its view: the coordinator says the service is stuck, as embedded does', async () => {
    await stuckWithoutAcknowledgement(threeHosts());
  });

  it('etcd killed: the coordinator says so, a primary killed meanwhile is not replaced (no split brain); etcd back, its backup is', async () => {
    const cluster = threeHosts();
    const problems: string[] = [];
    cluster.on('coordinator-problem', (line) => problems.push(line));
    await cluster.start();
    await until(() => cluster.coordinator!.idle.includes('host-3'), 'host-3 to ping as an idle spare');
    const before = cluster.views.map(shape);
    await member!.kill();
    await until(() => problems.length > 0, 'the coordinator to report etcd unreachable');
    assert.match(problems[0], /^etcd .*failed|^etcd did not store/);
    assert.equal(cluster.kill('primary'), 'host-1');
    // Past a dead server's lease twice over: with no etcd, no view may promote anyone.
    await new Promise((r) => setTimeout(r, VIEWS.pingIntervalMs * VIEWS.deadPings * 2));
    assert.deepEqual(cluster.views.map(shape), before, 'no view was made without etcd');
    assert.equal(cluster.failovers.length, 0, 'the backup did not go live on its own');
    assert.equal(cluster.hostIn('backup')?.id, 'host-2');

    await member!.restart();
    await cluster.viewWhere((v) => v.primary === 'host-2');
    await until(() => cluster.failovers.length === 1, 'host-2 to go live');
    assert.ok(problems.some((line) => /^etcd reachable again/.test(line)), problems.join(' | '));
    const history = await runKvWorkload({ service: cluster.service, ops: 20, seed: 3, clients: 2, firstClient: 9 });
    const summary = await cluster.stop();
    assert.deepEqual(checkKvHistory(history).problems, []);
    assert.deepEqual(summary.failovers.map((f) => f.newPrimary), ['host-2'], 'one new primary, the previous backup');
    assert.ok(summary.views!.slice(before.length).every((v) => v.primary === 'host-2'), summary.views!.map(shape).join(', '));
  });
});
