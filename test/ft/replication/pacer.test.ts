// The primary's pacing: an idle guest's time follows wall time; a backup going live lets its guest catch up
// the time the old primary was silent (its guest stood still meanwhile), rather than running on that far behind.
import { strict as assert } from 'node:assert';
import type { Machine } from '../../../src/ft/machine';
import { Pacer } from '../../../src/ft/replication/pacer';
import { Wakeup } from '../../../src/ft/replication/wakeup';

/**
 * Counts the pacer's sleeps (a sleep is the pacer holding the guest back to wall time) on a wall clock of the test's
 * own, which moves only by what the pacer sleeps: the counts do not depend on how fast the machine runs the test.
 */
class CountingWakeup extends Wakeup {
  sleeps = 0;
  wallMs = 0;

  override sleep(ms: number): Promise<void> {
    this.sleeps++;
    this.wallMs += ms;
    return Promise.resolve();
  }
}

/** A halted guest (the machine's pacing surface only) that skips `stepMs` of its time per batch. */
function haltedGuest(): { machine: Machine; skip: (ms: number) => void } {
  const guest = { guestTimeMs: 1000, isHalted: true, waitsForHostTime: false, idleHint: 0 };
  return { machine: guest as unknown as Machine, skip: (ms) => { guest.guestTimeMs += ms; } };
}

/** Paces `batches` batches of a halted guest skipping 10 ms each; returns how many times the pacer slept. */
async function sleepsOver(batches: number, behindMs: number): Promise<number> {
  const { machine, skip } = haltedGuest();
  const wakeup = new CountingWakeup();
  const pacer = new Pacer(machine, wakeup, behindMs, () => wakeup.wallMs);
  for (let i = 0; i < batches; i++) {
    skip(10);
    await pacer.pace(false);
  }
  return wakeup.sleeps;
}

describe('Pacer', () => {
  it('holds a halted guest that runs ahead of wall time back to it', async () => {
    assert.equal(await sleepsOver(5, 0), 5);
  });

  it('after a go-live, lets the guest run unheld until it has caught up the old primary\'s silence', async () => {
    // 200 ms of guest time against 60 s missed: never ahead of wall time.
    assert.equal(await sleepsOver(20, 60_000), 0);
  });
});
