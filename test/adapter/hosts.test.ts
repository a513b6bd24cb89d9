// A debug session with `hosts: 3` (DAP against `lockstep dap`, real host processes, the kv guest): a view
// service decides the roles, the idle spare is no thread, and killing the primary makes the views go
// 1 → 2 → 3 (the backup promoted, the spare made backup), each acknowledged, as `lockstep/views` says.
import { strict as assert } from 'node:assert';
import type { ViewsEventBody } from '../../src/adapter/protocol';
import { until } from '../support/cluster';
import { TEST_EPOCH } from '../support/guests';
import { Adapter } from './support';

/** A host silent this long is dead to the view service: long enough that a loaded machine kills no live one. */
const DETECT_MS = 3000;

const shape = ({ view }: ViewsEventBody) => `${view.number}: ${view.primary ?? '-'} [${view.backups.join(' ')}]${view.acked ? ' acked' : ''}`;

describe('a debug session with hosts (DAP, view service, kv)', function () {
  this.timeout(120_000);
  let adapter: Adapter;
  const views = () => (adapter.events.get('lockstep/views') ?? []) as ViewsEventBody[];
  const seen = (what: string) => until(() => views().some((v) => shape(v) === what), `view ${what}`);

  before(async () => {
    adapter = await Adapter.start();
    await adapter.launch({ guest: 'kv', hosts: 3, epochLength: TEST_EPOCH, memory: 16, detectTimeout: DETECT_MS });
  });
  after(async () => adapter?.stop());

  it('names views 1 and 2 as they are decided and acknowledged; the idle spare is listed, not a thread', async () => {
    await seen('2: host-1 [host-2] acked');
    await until(() => views().at(-1)!.spares.includes('host-3'), 'host-3 listed as an idle spare');
    const [first, second] = [1, 2].map((n) => views().filter((v) => v.view.number === n));
    assert.deepEqual(first.map(shape), ['1: host-1 []', '1: host-1 [] acked'], 'view 1 decided, then acknowledged before view 2');
    assert.deepEqual(first[0].view.causes, [{ kind: 'first', host: 'host-1' }]);
    assert.deepEqual(second[0].view.causes, [{ kind: 'backup', host: 'host-2', spare: false }]);
    assert.ok(second[0].view.time >= first[0].view.time);
    assert.deepEqual(await adapter.threads(), { 1: 'primary (host-1)', 2: 'backup (host-2)' });
  });

  it('kills the primary: view 3 promotes the backup and makes the spare the backup, a thread once it is', async () => {
    // The failover request is refused until the view service could promote host-2 (its clone state said).
    await until(() => adapter.dc.customRequest('lockstep/failover', {}).then(() => true, () => false), 'a failover the view service can make');
    await seen('3: host-2 [host-3]');
    const third = views().find((v) => v.view.number === 3)!;
    assert.deepEqual(third.view.causes, [
      { kind: 'failover', from: 'host-1', host: 'host-2' },
      { kind: 'backup', host: 'host-3', spare: true },
    ]);
    assert.ok(!third.spares.includes('host-3'), 'a backup is no spare');
    await seen('3: host-2 [host-3] acked');
    await until(async () => (await adapter.threads())[3] === 'backup (host-3)', 'host-3 as the backup thread');
    const threads = await adapter.threads();
    assert.equal(threads[2], 'primary (host-2)');
    assert.equal(threads[1], undefined, 'the killed primary is gone');
    // The cluster replaces the dead host with a fresh spare, which is listed once it pings.
    await until(() => views().at(-1)!.spares.includes('host-4'), 'host-4 listed as an idle spare');
    assert.equal(threads[4], undefined, 'a spare is no thread');
    assert.deepEqual(views().map((v) => v.view.number).filter((n, i, all) => n !== all[i - 1]), [1, 2, 3], 'views in order, none skipped');
  });
});
