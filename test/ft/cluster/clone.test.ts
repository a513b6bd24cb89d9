// What a client sees while a new backup is cloned after a failover (issue 18). The new primary is alone
// until its clone has the checkpoint: it answers clients meanwhile (unprotected, as VM-FT's primary runs
// while no backup exists), then protects outputs with the clone, which can go live in its turn.
// A delay fault on the new primary's channel keeps the checkpoint travelling for seconds: the reply that
// comes meanwhile shows, by the clone's own count of chunks received (0), that it was not waiting for it.
import { strict as assert } from 'node:assert';
import { Cluster } from '../../../src/ft/cluster';
import { checkKvHistory, KvHistory, runKvWorkload } from '../../../src/ft/workload';
import { clusterOptions, lastRole, until } from '../../support/cluster';

/** Longer than any reply takes, shorter than the detection timeout (the clone hears nothing meanwhile). */
const TRANSFER_DELAY_MS = 4000;
const DETECT_TIMEOUT_MS = 3 * TRANSFER_DELAY_MS;

describe('cloning a new backup after a failover', function () {
  this.timeout(180_000);
  let cluster: Cluster | undefined;

  afterEach(() => cluster?.destroy());

  /** kv operations until `done`, so that the primary's guest reaches epoch boundaries (clones happen there). */
  function opsUntil(done: () => boolean, firstClient: number): Promise<KvHistory> {
    const service = cluster!.service;
    return runKvWorkload({ service, ops: 20, seed: 1, clients: 2, firstClient, continueWhile: () => !done() });
  }

  it('the alone primary answers clients while the checkpoint travels; the clone then protects outputs and can go live', async () => {
    cluster = new Cluster(clusterOptions('kv', { detector: { timeoutMs: DETECT_TIMEOUT_MS, heartbeatMs: 50 } }));
    await cluster.start();
    let failovers = 0;
    let cloned = false;
    cluster.on('failover', () => failovers++);
    cluster.on('backup-attached', (host, isClone) => { if (isClone && host === 'host-2') cloned = true; });
    // host-2 keeps the delay for the channels it serves as primary: host-3's checkpoint and log.
    cluster.kill('primary');
    cluster.command('backup', { type: 'channel-fault', kind: 'delay', value: TRANSFER_DELAY_MS, seed: 1 });
    const toClone = await opsUntil(() => cloned, 1);
    assert.ok(checkKvHistory(toClone).ok);
    assert.equal(failovers, 1);

    const reply = await runKvWorkload({ service: cluster.service, ops: 1, seed: 2, clients: 1, firstClient: 50 });
    const clone = await cluster.statsOf('backup');
    assert.equal(clone?.id, 'host-3');
    assert.ok(checkKvHistory(reply).ok);
    assert.equal(clone?.cloning?.received, 0, 'the reply came before any of the clone\'s checkpoint arrived');

    cluster.command('primary', { type: 'channel-fault', kind: 'delay', value: 0, seed: 1 });
    await until(async () => {
      const [primary, backup] = [await cluster!.statsOf('primary'), await cluster!.statsOf('backup')];
      return !!primary && !!backup && !backup.cloning && backup.instructions > 0 && primary.acked === primary.seq;
    }, 'the clone to restore and acknowledge', 120_000);
    // Protected again: the clone goes live when host-2 dies, and no acknowledged operation is lost.
    cluster.kill('primary');
    const history = await opsUntil(() => failovers === 2, 60);
    const check = checkKvHistory(history);
    assert.deepEqual(check.problems, []);
    const summary = await cluster.stop();
    assert.equal(summary.failovers[1].newPrimary, 'host-3');
    assert.equal(lastRole(summary, 'host-3'), 'primary');
  });
});
