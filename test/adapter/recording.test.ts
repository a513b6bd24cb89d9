// A replayed log's panel events (src/adapter/recording.ts), made from a log with a failover, and the
// panel's model built from them: entries, released outputs, the failover, charts over the recording.
import { strict as assert } from 'node:assert';
import type { LogEntry, LogMeta } from '../../src/ft/log';
import { recordingClock, recordingEvents } from '../../src/adapter/recording';
import type { PanelInboundMessage } from '../../src/adapter/protocol';
import { PanelModel } from '../../src/extension/panel/model';

const META: LogMeta = {
  guest: 'kv', imageSha256: '0'.repeat(64), memorySize: 32 << 20, clock: 'virtual', jit: true,
  epochLength: 100_000_000, cmdline: '', createdAt: '2025-01-01T00:00:00Z',
};

/** A recording of `epochs` epochs, an output in each, the primary failing over after the `failAfter`-th. */
function recording(epochs: number, failAfter: number): LogEntry[] {
  const entries: LogEntry[] = [];
  const add = (entry: Record<string, unknown>) => entries.push({ ...entry, seq: entries.length + 1 } as LogEntry);
  for (let e = 1; e <= epochs; e++) {
    const at = e * 100_000_000;
    add({ kind: 'output', at: at - 5, device: 'serial', data: Buffer.from(`out ${e}\n`) });
    add({ kind: 'epoch', at, epoch: e, hash: 'ab'.repeat(16), pages: 8192 });
    if (e === failAfter) add({ kind: 'control', at, op: 'go-live', detail: JSON.stringify({ host: 'host-2', reason: 'primary killed' }) });
  }
  return entries;
}

const panel = (events: ReturnType<typeof recordingEvents>): PanelModel => {
  const model = new PanelModel();
  model.apply({ type: 'session', state: 'started', name: 'replay' });
  for (const e of events) model.apply({ type: 'event', ...e } as PanelInboundMessage);
  return model;
};

describe('a replayed log in the panel', () => {
  it('has every entry, every output released, the failover, and charts spanning the recording', () => {
    const entries = recording(1200, 700);
    const events = recordingEvents(META, entries);
    const model = panel(events);
    assert.deepEqual(model.entries.map((e) => e.seq), entries.map((e) => e.seq));
    assert.ok(model.entries.every((e) => e.state === 'acked'));
    assert.equal(model.outputs.length, 1200);
    assert.ok(model.outputs.every((o) => o.state === 'released'));
    assert.equal(model.outputs[0].text, 'out 1\n');
    assert.deepEqual(model.failovers.map((f) => [f.generation, f.newPrimary, f.reason, f.lastSeq]), [[2, 'host-2', 'primary killed', 2 * 700]]);
    assert.ok(model.timeline.some((t) => t.kind === 'failover' && t.time === 70_000), JSON.stringify(model.timeline));
    // 1,201 epochs and controls, at most 500 points plus the last; the last at the recording's end (120 s).
    const times = model.series.time;
    assert.ok(times.length > 100 && times.length <= 501, `${times.length} points`);
    assert.equal(times.at(-1), 120);
    assert.ok(model.series.bandwidth.slice(1).every((b) => b !== null && b > 0), 'the log\'s bandwidth is charted');
    assert.ok(model.series.primary.every((p, i) => i === 0 || p! >= model.series.primary[i - 1]!));
    assert.equal(model.generation, 2);
  });

  it('times a host-clock recording by the clock readings it logged', () => {
    const entries: LogEntry[] = [
      { seq: 1, kind: 'nondet', at: 0, source: 'clock', value: 5000 },
      { seq: 2, kind: 'nondet', at: 1_000_000, source: 'clock', value: 5400 },
      { seq: 3, kind: 'epoch', at: 2_000_000, epoch: 1, hash: 'cd'.repeat(16), pages: 8192 },
    ];
    const clock = recordingClock({ ...META, clock: 'host' }, entries);
    assert.deepEqual([clock(0), clock(999_999), clock(1_000_000), clock(2_000_000)], [0, 0, 400, 400]);
    assert.equal(recordingClock(META, entries)(2_000_000), 2);
  });
});
