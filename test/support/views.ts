// The view service's scenarios in a real cluster, run on each coordinator (test/ft/view/views.test.ts,
// test/ft/view/etcd.test.ts).
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import type { Cluster, ClusterSummary, ViewChange } from '../../src/ft/cluster';
import { checkKvHistory, runKvWorkload, type KvHistory } from '../../src/ft/workload';
import { lastRole, until } from './cluster';

export const VIEWS = { pingIntervalMs: 200, deadPings: 10 };

export const shape = (v: ViewChange) => `${v.number}: ${v.primary ?? '-'} [${v.backups.join(' ')}]`;

/** The view's backup has its clone and has said so: it could be promoted. */
export async function backupInitialised(cluster: Cluster, backup: string): Promise<void> {
  await until(async () => {
    const stats = await cluster.statsOf('backup');
    return stats?.id === backup && stats.cloning === undefined && stats.instructions > 0;
  }, `${backup} to be cloned`);
}

/**
 * A primary killed before it acknowledged its view (the cluster not started): never counted redundant, and the
 * coordinator says, in one line, that the service is stuck.
 */
export async function stuckWithoutAcknowledgement(cluster: Cluster): Promise<void> {
  // Cut from view 2 on, before any host hears of it: host-1 can never acknowledge it.
  cluster.cutFromViewService('host-1', true, 2);
  await cluster.start();
  await backupInitialised(cluster, 'host-2');
  await new Promise((r) => setTimeout(r, VIEWS.pingIntervalMs * 3));
  assert.equal(cluster.redundant, false, 'host-2 is initialised in view 2, which host-1 never acknowledged');
  const problem = once(cluster, 'coordinator-problem');
  cluster.kill('primary');
  assert.match(String((await problem)[0]), /^view 2 \(primary host-1\) cannot change: primary has not acknowledged the view$/);
  assert.deepEqual(cluster.views.map(shape), ['1: host-1 []', '2: host-1 [host-2]'], 'the lab\'s rule: no view after it');
}

/** Kills the primary while kv clients run, and waits for the view that promotes `next`. */
export async function killPrimaryDuringWorkload(
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

/**
 * Three hosts, two primary kills (the cluster started): views 1→2→3→4 by the rules, the service goes
 * on, no acknowledged op lost.
 */
export async function twoKills(cluster: Cluster): Promise<ClusterSummary> {
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
  return summary;
}
