// `npm run bench -- --only NAMES --merge`: the rows of the benchmarks run again replace theirs in the
// committed results, every other row stays, and the results say when and under what load.
import { strict as assert } from 'node:assert';
import { finishRow, mergeResults, renderMarkdown, valueRow, type Results } from '../../bench/harness';

function results(date: string, rows: [bench: string, name: string, value: number][], load: number): Results {
  const machine = { cores: 2, cpuModel: 'cpu', memoryGiB: 1, node: 'v20', os: 'linux', loadAtStart: [load, load, load], loadAtEnd: [load, load, load] };
  return {
    date, machine, smoke: false, durationS: 1,
    rows: rows.map(([bench, name, value]) => finishRow(valueRow({ name, unit: 'B', value: [value] }), bench, date, 'm')),
  };
}

describe('bench results merge', () => {
  it('replaces the rows of the benchmarks run again where they stood, appends new ones, and notes the run', () => {
    const full = results('2026-01-01T00:00:00.000Z', [['a', 'a1', 1], ['b', 'b1', 2], ['b', 'b2', 3], ['c', 'c1', 4]], 1);
    const fresh = results('2026-02-02T00:00:00.000Z', [['b', 'b1', 20], ['d', 'd1', 50]], 23.5);
    const merged = mergeResults(full, fresh, ['b', 'd']);
    assert.deepEqual(merged.rows.map((r) => [r.name, r.value]), [['a1', 1], ['b1', 20], ['c1', 4], ['d1', 50]]);
    assert.equal(merged.date, full.date);
    assert.deepEqual(merged.remeasured, [{ benches: ['b', 'd'], date: fresh.date, loadAtStart: [23.5, 23.5, 23.5], loadAtEnd: [23.5, 23.5, 23.5] }]);
    assert.match(renderMarkdown(merged), /Rows of `b`, `d` measured again on 2026-02-02 .* load average at start 23.5 \/ 23.5 \/ 23.5/);
    const again = mergeResults(merged, results('2026-03-03T00:00:00.000Z', [['b', 'b1', 30]], 2), ['b']);
    assert.deepEqual(again.remeasured?.map((r) => r.benches), [['b', 'd'], ['b']], 'an earlier re-run of other benchmarks is kept');
  });

  it('keeps the earlier rows of a benchmark that failed, and does not note it as measured again', () => {
    const full = results('2026-01-01T00:00:00.000Z', [['a', 'a1', 1], ['b', 'b1', 2], ['c', 'c1', 4]], 1);
    const fresh = results('2026-02-02T00:00:00.000Z', [['a', 'a1', 10]], 3);
    const failure = finishRow({ name: 'b (failed)', unit: '', value: null, baseline: null, ratio: null, target: null, runs: 0, error: 'gave up' }, 'b', fresh.date, 'm');
    const merged = mergeResults(full, { ...fresh, rows: [...fresh.rows, failure] }, ['a', 'b']);
    assert.deepEqual(merged.rows.map((r) => [r.name, r.value]), [['a1', 10], ['b1', 2], ['c1', 4]]);
    assert.deepEqual(merged.remeasured?.map((r) => r.benches), [['a']]);
    assert.equal(mergeResults(full, { ...fresh, rows: [failure] }, ['b']), full, 'nothing measured: nothing changes');
  });
});
