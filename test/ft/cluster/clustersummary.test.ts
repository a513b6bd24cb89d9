// What a run's summary says the channel carried (src/ft/cluster/clustersummary.ts describeChannel).
import { strict as assert } from 'node:assert';
import { describeChannel } from '../../../src/ft/cluster';

describe('the channel in a summary line (describeChannel)', () => {
  it('deterministic replay: log entries and bytes', () => {
    const line = describeChannel({ mode: 'replay', entriesSent: 1234, bytesSent: 56_789 });
    assert.equal(line, 'logging channel: 1234 entries, 56789 bytes');
  });

  it('checkpoint mode, which logs no entries: its checkpoints (full among them) and bytes', () => {
    const checkpoints = {
      count: 40, full: 2, acknowledged: 40, bytes: 9000, bytesPerCheckpoint: 225, bytesSaved: 0,
      dirtyPages: 3, pauseMs: 1, ackDelayMs: 2,
    };
    assert.equal(
      describeChannel({ mode: 'checkpoint', checkpoints, entriesSent: 0, bytesSent: 99_000 }),
      'checkpoint channel: 40 checkpoints (2 full), 99000 bytes (the primary\'s state, no log entries)',
    );
    const none = describeChannel({ mode: 'checkpoint', entriesSent: 0, bytesSent: 0 });
    assert.equal(none, 'checkpoint channel: 0 checkpoints (0 full), 0 bytes (the primary\'s state, no log entries)');
  });
});
