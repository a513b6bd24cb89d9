// Backups waiting to be cloned (FT VMotion at the primary's next epoch): those that ask for the log from
// the start (seq 0), and those whose log the primary cannot resume. A backup asks again while it waits (a
// gap at every heartbeat): it is queued once, or a request per ask would take one epoch's clone each and
// starve every other backup's.
import type { Channel } from '../channel';
import type { Frame } from '../log';

export class CloneQueue {
  private waiting: Channel[] = [];

  /** Queues a backup's channel; false if it is queued already. */
  add(channel: Channel): boolean {
    if (this.waiting.includes(channel)) return false;
    this.waiting.push(channel);
    return true;
  }

  /** The next one still connected (a closed one would take an epoch's clone for nothing). */
  next(): Channel | undefined {
    this.waiting = this.waiting.filter((channel) => !channel.isClosed);
    return this.waiting.shift();
  }

  /** Every one still connected, the queue emptied. */
  takeAll(): Channel[] {
    const open = this.waiting.filter((channel) => !channel.isClosed);
    this.waiting = [];
    return open;
  }

  /** Keeps those waiting alive: they hear the primary's heartbeats, not its log. */
  send(frame: Frame): void {
    for (const channel of this.waiting) if (!channel.isClosed) channel.send(frame);
  }
}
