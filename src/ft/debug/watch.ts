// Data breakpoints on a timeline: runs forwards or backwards to right after the instruction that
// changed what a watch reads (memory, as a debugger fingerprints it). Whole slices are compared at
// their ends; only a slice where it changed is stepped, one instruction at a time, to find the
// instruction. A change no instruction made (at a slice's end: timers, interrupts, a device) stops
// at that end.
import type { Machine, SliceRecord } from '../machine';
import { drain } from './drain';
import type { SliceTrace } from './slicetrace';
import type { Stop } from './timeline';

/** A reverse search looks back this far first, then four times as far each time. */
export const FIRST_LOOK_BACK = 1_000_000;

/** What the searches move the timeline with (Timeline's own movements). */
export interface WatchedTimeline {
  readonly machine: Machine;
  readonly trace: SliceTrace;
  start(): number;
  position(): number;
  /** Unstepped and on the recorded run: whole slices from here are the recording's. */
  isOnRecord(): boolean;
  runTo(n: number): Stop;
  stopHere(requested: number): Stop;
  /** Records on from the source, whole slices, until the count reaches `n` (as far as the source allows). */
  extend(n: number): void;
  reachBoundary(boundary: number): number;
  moveTo(target: number): void;
  stepForward(target: number, stopBefore?: (eip: number) => boolean): boolean;
}

export class Watching {
  constructor(private readonly timeline: WatchedTimeline) {}

  /** A data breakpoint forwards, in one go: `continueWatchRun` driven to its end. */
  continueWatching(watch: () => string, until = Number.MAX_SAFE_INTEGER): Stop {
    return drain(this.continueWatchRun(watch, until));
  }

  /**
   * A data breakpoint forwards: runs on to right after the first instruction that changes what
   * `watch` reads (memory, as a debugger fingerprints it), or to `until` (where runTo stops for it).
   * Whole slices are run and compared at their ends, at the frontier as they are recorded; only a
   * slice where it changed is stepped, one instruction at a time, to find the instruction. A change
   * no instruction made (at a slice's end: timers, interrupts, a device) stops at that end. Yields
   * the count after every slice, so that a driver can take turns or stop driving it (a pause).
   */
  *continueWatchRun(watch: () => string, until = Number.MAX_SAFE_INTEGER): Generator<number, Stop, void> {
    const { timeline } = this;
    const reference = watch();
    for (;;) {
      const from = timeline.position();
      if (from >= until) return timeline.stopHere(until);
      const recorded = timeline.trace.sliceAt(from);
      const step = recorded ?? this.recordSlice(from);
      if (!step) return timeline.runTo(until);
      const end = Math.min(step.to, until);
      // A slice just recorded left the machine at its end, unless that is past `until`.
      if (recorded || end < step.to) this.replayTo(from, step, end);
      if (watch() !== reference) {
        timeline.moveTo(from);
        timeline.stepForward(end, () => watch() !== reference);
        return { ...timeline.stopHere(timeline.position()), reason: 'watch' };
      }
      // `until` inside an idle skip (or an STI's shadow) is not reached: the machine stops short, as runTo does.
      if (timeline.position() < end) return timeline.stopHere(until);
      yield end;
    }
  }

  /**
   * At the frontier: records the next slice from the source, the machine at its end, and returns it
   * (none when the guest ended or the source has no more). One slice at a time: looking at slices
   * recorded an epoch ahead meant replaying from the epoch's snapshot, more of it for every stretch.
   */
  private recordSlice(from: number): SliceRecord | undefined {
    if (this.timeline.machine.isEnded) return undefined;
    this.timeline.extend(from + 1);
    return this.timeline.trace.sliceAt(from);
  }

  /** From `from`, the start of `step`, to `end` within it: the recorded slice whole when that is all. */
  private replayTo(from: number, step: SliceRecord, end: number): void {
    if (from === step.from && end === step.to && this.timeline.isOnRecord()) this.timeline.reachBoundary(end);
    else this.timeline.moveTo(end);
  }

  /** A data breakpoint backwards, in one go: `reverseWatchRun` driven to its end. */
  reverseWatching(watch: () => string): Stop {
    return drain(this.reverseWatchRun(watch));
  }

  /**
   * A data breakpoint backwards: to right after the last instruction before the current position
   * that changed what `watch` reads (or the start). Looks at ever longer stretches before the
   * position, comparing `watch` at every slice end (whole slices replayed), and steps the slices
   * where it changed, latest first. Yields the count it got to after every `slice` instructions
   * replayed, so that a driver can take turns or stop driving it (a pause), as with `reverseRun`.
   */
  *reverseWatchRun(watch: () => string, slice = Number.MAX_SAFE_INTEGER): Generator<number, Stop, void> {
    const before = this.timeline.position();
    for (let end = before, look = FIRST_LOOK_BACK; end > this.timeline.start(); look *= 4) {
      const from = this.timeline.trace.boundaryAtOrBefore(Math.max(this.timeline.start(), end - look));
      // The slices of [from, end] whose watched memory differs at their two ends.
      const changed: [number, number][] = [];
      this.timeline.reachBoundary(from);
      let last = watch();
      for (let at = from, turn = from; at < end;) {
        const next = Math.min(this.timeline.trace.sliceAt(at)!.to, end);
        if (next === this.timeline.trace.sliceAt(at)!.to) this.timeline.reachBoundary(next);
        else this.timeline.moveTo(next);
        const now = watch();
        if (now !== last) changed.push([at, next]);
        [last, at] = [now, next];
        if (at - turn >= slice && at < end) {
          turn = at;
          yield at;
        }
      }
      for (const [start, stop] of changed.reverse()) {
        const hit = this.lastChange(watch, start, stop, before);
        if (hit !== undefined) return { ...this.timeline.runTo(hit), reason: 'watch' };
      }
      end = from;
      if (end > this.timeline.start()) yield this.timeline.position();
    }
    return this.timeline.runTo(this.timeline.start());
  }

  /** The last count in (start, stop], below `before`, right after a change of `watch`. */
  private lastChange(watch: () => string, start: number, stop: number, before: number): number | undefined {
    this.timeline.reachBoundary(start);
    let last = watch();
    let hit: number | undefined;
    const note = () => {
      const now = watch();
      if (now !== last && this.timeline.position() < before) hit = this.timeline.position();
      last = now;
      return false;
    };
    this.timeline.stepForward(stop, note);
    note();
    return hit;
  }
}
