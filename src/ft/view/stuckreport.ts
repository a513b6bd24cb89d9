// The line every coordinator prints when the view service is stuck (a rule asks for a view that cannot
// be made: its primary has not acknowledged the current one, or no backup is initialised to promote).
// Said once it has lasted as long as it takes to declare a server dead, and again only after it cleared:
// a primary dead before it acknowledged blocks the service for good (the lab's rule), and says so once.
import type { Stuck, View, ViewServiceOptions } from './viewservice';

export class StuckReport {
  private since: number | undefined;
  private said = false;

  constructor(private readonly options: ViewServiceOptions) {}

  /** The line to print at `nowMs`, if one is due. */
  check(stuck: Stuck | undefined, view: View, nowMs: number): string | undefined {
    if (!stuck) {
      this.since = undefined;
      this.said = false;
      return undefined;
    }
    this.since ??= nowMs;
    if (this.said || nowMs - this.since < this.options.deadPings * this.options.pingIntervalMs) return undefined;
    this.said = true;
    return `view ${view.number} (primary ${view.primary ?? 'none'}) cannot change: ${stuck}`;
  }
}
