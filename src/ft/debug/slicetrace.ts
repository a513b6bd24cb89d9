// The timeline's slice trace: every slice a machine ran, compactly (see Timeline).
import type { JitExit, SliceRecord } from '../machine';
import { lastAtOrBefore } from './sorted';

/** The history disagrees with itself: replaying it did not reproduce what was recorded. */
export class TimelineDivergence extends Error {
  override name = 'TimelineDivergence';
}

/**
 * Every recorded step, compactly: its end count (8 bytes), plus, only where they are not the usual,
 * its idle tail, its timer counts (the usual: one timer run, where the instructions end) and where
 * compiled code left by exit_jit (the usual: nowhere).
 */
export class SliceTrace {
  private ends = new Float64Array(1024);
  private length = 0;
  private readonly idle = new Map<number, number>();
  private readonly timers = new Map<number, number[]>();
  private readonly exits = new Map<number, JitExit[]>();

  constructor(readonly start: number) {}

  get end(): number {
    return this.length ? this.ends[this.length - 1] : this.start;
  }

  push(step: SliceRecord): void {
    if (step.from !== this.end) throw new TimelineDivergence(`a step from ${step.from} was recorded after the frontier ${this.end}`);
    if (this.length === this.ends.length) {
      const grown = new Float64Array(this.ends.length * 2);
      grown.set(this.ends);
      this.ends = grown;
    }
    const index = this.length++;
    this.ends[index] = step.to;
    if (step.idle) this.idle.set(index, step.idle);
    const usual = step.timers.length === 1 && step.timers[0] === step.to - step.idle;
    if (!usual) this.timers.set(index, [...step.timers]);
    if (step.exits.length) this.exits.set(index, step.exits);
  }

  /** The step that starts at or contains count `n` (none at the frontier). */
  sliceAt(n: number): SliceRecord | undefined {
    if (n < this.start || n >= this.end) return undefined;
    // The first step that ends after n.
    return this.record(lastAtOrBefore(this.ends.subarray(0, this.length), n) + 1);
  }

  *records(): IterableIterator<SliceRecord> {
    for (let i = 0; i < this.length; i++) yield this.record(i);
  }

  /** The last boundary at or before `n`. */
  boundaryAtOrBefore(n: number): number {
    return this.sliceAt(n)?.from ?? this.end;
  }

  private record(index: number): SliceRecord {
    const from = index ? this.ends[index - 1] : this.start;
    const to = this.ends[index];
    const idle = this.idle.get(index) ?? 0;
    return { from, to, idle, timers: this.timers.get(index) ?? [to - idle], exits: this.exits.get(index) ?? [] };
  }
}
