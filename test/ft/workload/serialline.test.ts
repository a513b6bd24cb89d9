import { strict as assert } from 'node:assert';
import { connect } from 'node:net';
import { Cluster } from '../../../src/ft/cluster';
import { SerialWatch } from '../../../src/ft/workload';
import { clusterOptions } from '../../support/cluster';

describe('waiting for a line on the guest\'s serial port (src/ft/workload/serialline.ts)', function () {
  this.timeout(120_000);
  let cluster: Cluster;

  before(async () => {
    cluster = new Cluster(clusterOptions('kv'));
    await cluster.start();
  });
  after(() => cluster.destroy());

  it('resolves on a line the kv guest prints once it is connected, and says what it saw when the line never comes', async () => {
    const watch = await SerialWatch.open(cluster.service);
    try {
      // The request goes out after the watch is connected, so its reply is released to it.
      const client = connect(cluster.service, () => client.end('7 1 PUT serialline yes\n'));
      await watch.until('7 1 OK', 60_000);
      await assert.rejects(watch.until('7 1 NEVER', 300), /the guest did not print "7 1 NEVER" within 0.3 s \(its last output: ".*7 1 OK\\n"\)/);
    } finally {
      watch.close();
    }
  });
});
