import { strict as assert } from 'node:assert';
import { createServer, type Server, type Socket } from 'node:net';
import { checkKvHistory, KeySpace, runKvWorkload, WorkloadError } from '../../../src/ft/workload';
import { Cluster } from '../../../src/ft/cluster';
import { SeededRandom } from '../../../src/ft/random';
import { clusterOptions } from '../../support/cluster';

/** The kv guest's limits, as guests/kv/kv.c defines them. */
const VALUE_MAX = 1024;
const KEYS_MAX = 512;

describe('kv workload (src/ft/workload/client.ts)', function () {
  this.timeout(120_000);

  it('keeps every value and the number of keys within the kv guest\'s limits, and writes shared keys only by APPEND', () => {
    const clients = 4;
    const keys = new KeySpace(clients, 's1.');
    const random = new SeededRandom(7);
    const lengths = new Map<string, number>();
    const written = new Set<string>();
    for (let index = 0; index < 100_000; index++) {
      const op = keys.next(random, 1 + (index % clients), index);
      if (op.op === 'GET') continue;
      if (op.key.startsWith('s1.')) assert.equal(op.op, 'APPEND', `${op.key} is shared`);
      lengths.set(op.key, (op.op === 'PUT' ? 0 : lengths.get(op.key) ?? 0) + op.value!.length);
      written.add(op.key);
      assert.ok(lengths.get(op.key)! <= VALUE_MAX, `${op.key} would hold ${lengths.get(op.key)} bytes after op ${index}`);
    }
    assert.ok(written.size > 10 && written.size <= KEYS_MAX, `${written.size} keys`);
    const finalReads = new Set(Array.from({ length: clients }, (_, c) => keys.finalReads(c + 1)).flat());
    for (const key of written) assert.ok(finalReads.has(key), `${key} is read at the end`);
  });

  it('says so, rather than overflow the guest, when the keys run out', () => {
    assert.throws(() => new KeySpace(200, 's1.'), (e: Error) => e instanceof WorkloadError && /--clients 200 needs 602 keys; the kv guest holds 512/.test(e.message));
    const keys = new KeySpace(4, 's1.');
    const random = new SeededRandom(1);
    assert.throws(() => { for (let index = 0; ; index++) keys.next(random, 1, index); }, (e: Error) => e instanceof WorkloadError && /more than the kv guest's 512 keys/.test(e.message));
  });

  // The service sends every released serial output to every client, and a reply may leave in pieces (one a
  // slice). A primary that dies between the pieces leaves a client with half a line; the rest never comes on
  // the next connection, whose first line is another (here, the new primary's answer to the retry).
  it('drops the half line a lost connection left, rather than glue the next connection\'s reply to it', async () => {
    const connections: Socket[] = [];
    // The first connection dies half way through its reply; later ones answer each request in whole lines.
    const server: Server = createServer((socket) => {
      const first = connections.push(socket) === 1;
      socket.on('data', (data) => {
        for (const line of data.toString('latin1').split('\n').filter(Boolean)) {
          const [client, seq] = line.split(' ');
          if (first) socket.end(`${client} ${seq} VALUE |c1n0|c2`);
          else socket.write(`${client} ${seq} VALUE |c1n0|c2n1\n`);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const service = { host: '127.0.0.1', port: (server.address() as { port: number }).port };
      const history = await runKvWorkload({ service, ops: 1, seed: 1, clients: 1, retryMs: 60_000, deadlineMs: 20e3 });
      assert.equal(connections.length, 2, 'the client reconnected once');
      assert.equal(history.ops[0].reply, 'VALUE |c1n0|c2n1');
    } finally {
      connections.forEach((socket) => socket.destroy());
      server.close();
    }
  });

  it('runs 3000 operations against the real kv guest under FT with a clean history; a second workload needs other client ids, and says so', async () => {
    const cluster = new Cluster(clusterOptions('kv'));
    const clean = async (options: { ops: number; seed: number; firstClient?: number }) => {
      const history = await runKvWorkload({ service: cluster.service, clients: 4, ...options });
      const result = checkKvHistory(history);
      assert.deepEqual(result.problems, []);
      assert.ok(result.ok);
      assert.equal(result.acknowledged, history.ops.length);
    };
    try {
      await cluster.start();
      await clean({ ops: 3000, seed: 5 });
      // The guest remembers clients 1-4 (at-most-once): reusing their ids is refused, not misread as lost writes.
      await assert.rejects(runKvWorkload({ service: cluster.service, ops: 20, seed: 6, clients: 4 }), (e: Error) => e instanceof WorkloadError && /got "ERR stale": the guest has already served a client \d.*--first-client/.test(e.message));
      await clean({ ops: 300, seed: 6, firstClient: 5 });
    } finally {
      cluster.destroy();
    }
  });
});
