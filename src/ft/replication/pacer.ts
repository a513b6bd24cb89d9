// The primary's pacing: an idle guest's time follows wall time, so its leases and timeouts mean what
// they say. Guest time may fall behind wall time while the guest is busy; an idle guest catches up at
// most MAX_CATCH_UP_MS.
import type { Machine } from '../machine';
import type { Wakeup } from './wakeup';

const MAX_CATCH_UP_MS = 100;

export class Pacer {
  private wallBase = 0;
  private guestBase = 0;

  constructor(private readonly machine: Machine, private readonly wakeup: Wakeup) {
    this.reset();
  }

  /** Waits as long as the guest is ahead of wall time (`pending`: inputs wait to be delivered: no wait). */
  async pace(pending: boolean): Promise<void> {
    const ahead = this.machine.guestTimeMs - this.guestBase - (performance.now() - this.wallBase);
    if (ahead < -MAX_CATCH_UP_MS) this.reset();
    if (this.machine.waitsForHostTime && !pending) {
      await this.wakeup.sleep(Math.min(this.machine.idleHint, 10));
    } else if (this.machine.isHalted && !pending && ahead > 0) {
      await this.wakeup.sleep(Math.min(ahead, 10));
    } else {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private reset(): void {
    this.wallBase = performance.now();
    this.guestBase = this.machine.guestTimeMs;
  }
}
