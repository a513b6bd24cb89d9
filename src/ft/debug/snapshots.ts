// The timeline's snapshots: machine states at recorded boundaries that a revisit restores and replays
// from (rr's checkpoints of its ReplayTimeline). They are taken at epoch boundaries and after a
// debugger's change at the frontier. Within a byte budget: past it,
// every other epoch's snapshot is dropped, so a revisit replays further but the memory stays bounded.
import { lastAtOrBefore } from './sorted';

/**
 * The machine's state at a recorded boundary (`machine.snapshot()`), and how many recorded events were
 * taken before it. A snapshot taken after a change (`changeAtFrontier`) has no epoch: it is never
 * thinned, since replaying to a later count from an earlier snapshot would undo the change.
 */
export interface Snapshot { at: number; epoch: number | 'change'; events: number; state: Uint8Array }

export const DEFAULT_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

export class Snapshots {
  /** In count order; the first, at the timeline's start, is always kept. */
  private readonly kept: Snapshot[] = [];
  /** Epochs whose index is a multiple of it are snapshotted (doubled at every thinning). */
  private stride = 1;

  constructor(private readonly budget = DEFAULT_SNAPSHOT_BYTES) {}

  get count(): number {
    return this.kept.length;
  }

  get bytes(): number {
    return this.kept.reduce((sum, s) => sum + s.state.length, 0);
  }

  /** Whether the epoch `index` is to be snapshotted (a snapshot costs a copy of the machine: ask first). */
  wants(index: number): boolean {
    return index % this.stride === 0;
  }

  /** Keeps an epoch's snapshot, then thins them while they are over the budget. */
  addEpoch(snapshot: Snapshot): void {
    this.kept.push(snapshot);
    const thinnable = () => this.kept.length > 2 && this.kept.some((s, i) => i > 0 && s.epoch !== 'change');
    while (this.bytes > this.budget && thinnable()) this.thin();
  }

  /** Keeps the snapshot made after a change at the frontier, in place of one at the same count. */
  addChange(snapshot: Snapshot): void {
    if (this.kept.at(-1)?.at === snapshot.at) this.kept.pop();
    this.kept.push(snapshot);
  }

  /** The last snapshot at or before `at` (the first one when there is none: it is at the start). */
  atOrBefore(at: number): Snapshot {
    return this.kept[Math.max(0, lastAtOrBefore(this.kept, at, (s) => s.at))];
  }

  /** Whether a change was snapshotted after count `from`, at or before `to`. */
  hasChangeIn(from: number, to: number): boolean {
    return this.kept.some((s) => s.epoch === 'change' && s.at > from && s.at <= to);
  }

  /** Keeps every other snapshot (by epoch index), the first one and those after changes. */
  private thin(): void {
    this.stride *= 2;
    const kept = this.kept.filter((s, i) => i === 0 || s.epoch === 'change' || s.epoch % this.stride === 0);
    this.kept.splice(0, Infinity, ...kept);
  }
}
