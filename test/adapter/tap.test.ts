// The launch attribute `tap` end to end: `lockstep dap` in a network namespace the test makes launches
// the kv guest with its network card on a tap; an ordinary UDP client (socat) on the tap gets its
// replies, the log the panel shows has the request decoded, and the tap goes when the session ends.
// Root only (a network namespace and a tap): skipped, saying why, otherwise.
import { strict as assert } from 'node:assert';
import type { EntriesEventBody } from '../../src/adapter/protocol';
import { until } from '../support/cluster';
import { NetNs, tapSkipReason } from '../support/netns';
import { Adapter } from './support';

describe('debug adapter: launch with tap (kv guest, UDP through a tap)', function () {
  this.timeout(300_000);
  let ns: NetNs | undefined;
  let adapter: Adapter | undefined;

  before(async function () {
    const why = tapSkipReason();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    ns = new NetNs();
    adapter = await Adapter.start(ns.name);
  });

  after(async () => {
    await adapter?.stop();
    ns?.delete();
  });

  const links = async () => (await ns!.run('ip', ['-o', 'link'])).stdout;

  it('serves a client on the tap, shows its frames decoded in the log, and takes the tap away at the end', async () => {
    await adapter!.launch({ guest: 'kv', tap: 'tap0' });
    assert.equal(await ns!.ask('10.0.2.15', 7070, '1 1 PUT k v'), '1 1 OK\n');
    assert.equal(await ns!.ask('10.0.2.15', 7070, '1 2 GET k'), '1 2 VALUE v\n');
    assert.ok((await links()).includes('tap0'), 'the tap is up while the session runs');
    const texts = (adapter!.events.get('lockstep/entries') as EntriesEventBody[] ?? []).flatMap((e) => e.entries.map((entry) => entry.text));
    assert.ok(texts.some((text) => /UDP 10\.0\.2\.1:\d+ > 10\.0\.2\.15:7070 "1 1 PUT k v\\n"/.test(text)), `the request among ${texts.length} entries`);
    await adapter!.stop();
    adapter = undefined;
    // socat ends with the adapter's cluster (stopped, or killed by the client: its parent-death signal), then the tap.
    await until(async () => !(await links()).includes('tap0'), 'the tap to go with the session');
  });
});
