import { strict as assert } from 'node:assert';
import { AddressInfo, connect, createServer } from 'node:net';
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

  it('gives up opening after its timeout when nothing listens, naming the address', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    await assert.rejects(SerialWatch.open({ host: '127.0.0.1', port }, 300), new RegExp(`no service at 127.0.0.1:${port} took a connection within 0.3 s`));
  });

  it('after a failover, sees the answer to a request sent on it, however soon the new primary answers', async () => {
    const pair = new Cluster(clusterOptions('kv', { restoreRedundancy: false }));
    try {
      await pair.start();
      const start = (await pair.statsOf('primary'))!.instructions;
      const failover = new Promise<void>((resolve) => pair.once('failover', () => resolve()));
      pair.command('primary', { type: 'kill-at', at: start + 1_000_000 });
      await failover;
      // At once, as disk.test.ts (linux) asks: the new primary answers within milliseconds, while a watch opened
      // before the kill may still be waiting to reconnect (it would never see "kv bye").
      const asking = await SerialWatch.open(pair.service);
      try {
        asking.send('0 0 SHUTDOWN\n');
        await asking.until('kv bye', 60_000);
      } finally {
        asking.close();
      }
      assert.throws(() => asking.send('0 0 SHUTDOWN\n'), /^Error: the watch is not connected to the service at 127\.0\.0\.1:\d+: open a new one to send "0 0 SHUTDOWN"$/);
    } finally {
      pair.destroy();
    }
  });
});
