// The views a debug session reports (src/adapter/viewHistory.ts): causes, acknowledgements and spares,
// from the view service's views and the cluster's role changes, without a cluster.
import { strict as assert } from 'node:assert';
import type { RoleChange } from '../../src/ft/cluster';
import { describeCauses, ViewHistory } from '../../src/adapter/viewHistory';

const role = (host: string, r: RoleChange['role']): RoleChange => ({ host, role: r, generation: 0, atMs: 0, reason: 'test' });
const view = (number: number, primary: string | undefined, backups: string[] = []) => ({ number, primary, backups });

describe('view history (debug adapter)', () => {
  it('says why each view differs from the one before: first, failover, a spare or a booted backup made backup, a backup gone', () => {
    const history = new ViewHistory();
    history.noteRole(role('host-3', 'spare'));
    history.decided(view(1, 'host-1'), 10);
    history.decided(view(2, 'host-1', ['host-2']), 20);
    history.decided(view(3, 'host-2', ['host-3']), 30);
    history.decided(view(4, 'host-2'), 40);
    assert.deepEqual(history.views.map((v) => describeCauses(v.causes)), [
      'host-1 pinged first: primary',
      'host-2 made backup',
      'failover: host-1 gone, backup host-2 promoted; spare host-3 made backup',
      'backup host-3 gone',
    ]);
    assert.deepEqual(history.views.map((v) => v.time), [10, 20, 30, 40]);
  });

  it('counts a view acknowledged when the next is decided, or when the coordinator says so; reports spare changes once', () => {
    const history = new ViewHistory();
    assert.deepEqual(history.decided(view(1, 'host-1'), 0).map((v) => [v.number, v.acked]), [[1, false]]);
    // The view service changes the view only once its primary has acknowledged it.
    assert.deepEqual(history.decided(view(2, 'host-1', ['host-2']), 5).map((v) => [v.number, v.acked]), [[1, true], [2, false]]);
    const state = { view: view(2, 'host-1', ['host-2']), acked: false, idle: ['host-10', 'host-3'] };
    assert.equal(history.observe(state)?.number, 2, 'the spares changed');
    assert.deepEqual(history.spares, ['host-3', 'host-10']);
    assert.equal(history.observe(state), undefined, 'nothing changed');
    // An acknowledgement of an older view than the latest says nothing about the latest.
    assert.equal(history.observe({ ...state, view: view(1, 'host-1'), acked: true }), undefined);
    assert.equal(history.observe({ ...state, acked: true })?.acked, true);
    assert.equal(history.observe({ ...state, acked: true }), undefined, 'said once');
  });
});
