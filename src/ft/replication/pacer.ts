// The primary's pacing: an idle guest's time follows wall time, so its leases and timeouts mean what
// they say. Guest time may fall behind wall time while the guest is busy; an idle guest catches up at
// most MAX_CATCH_UP_MS. A backup going live catches up the whole time the old primary was silent: its
// guest stood still meanwhile, while a guest on VM-FT's host-derived clock would see that time pass,
// so its timers that fell due in it (TCP's retransmission of what the old primary may not have sent)
// fire at once rather than that long late.
import type { Machine } from '../machine';
import type { Wakeup } from './wakeup';

const MAX_CATCH_UP_MS = 100;

export class Pacer {
  private wallBase = 0;
  private guestBase = 0;
  /** How far behind wall time the guest may be and still catch up. */
  private catchUpMs = MAX_CATCH_UP_MS;

  /**
   * `behindMs`: wall time the guest missed before this pacer starts (a go-live: the old primary's silence). `now`:
   * the wall clock (a test's own, so that what it checks does not depend on how fast the machine runs it).
   */
  constructor(
    private readonly machine: Machine,
    private readonly wakeup: Wakeup,
    behindMs = 0,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.reset();
    this.wallBase -= behindMs;
    this.catchUpMs = MAX_CATCH_UP_MS + behindMs;
  }

  /** Waits as long as the guest is ahead of wall time (`pending`: inputs wait to be delivered: no wait). */
  async pace(pending: boolean): Promise<void> {
    const ahead = this.machine.guestTimeMs - this.guestBase - (this.now() - this.wallBase);
    if (ahead < -this.catchUpMs) this.reset();
    if (ahead >= -MAX_CATCH_UP_MS) this.catchUpMs = MAX_CATCH_UP_MS;
    if (this.machine.waitsForHostTime && !pending) {
      await this.wakeup.sleep(Math.min(this.machine.idleHint, 10));
    } else if (this.machine.isHalted && !pending && ahead > 0) {
      await this.wakeup.sleep(Math.min(ahead, 10));
    } else {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private reset(): void {
    this.wallBase = this.now();
    this.guestBase = this.machine.guestTimeMs;
  }
}
