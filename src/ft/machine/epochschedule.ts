// When epochs come. Every E executed instructions, so an idle guest does not hash its memory over and
// over; but at least every IDLE_EPOCH_FACTOR·E of count (idle time included), so an idle guest still
// gets divergence checks and checkpoints (a new backup is cloned at one). Snapshots carry the schedule.

export const IDLE_EPOCH_FACTOR = 10;

export interface EpochSchedule {
  /** The last epoch's index (0 before the first). */
  index: number;
  /** The next one is due once this many instructions were executed, */
  nextExecuted: number;
  /** or once the count (idle time included) reaches this. */
  nextCount: number;
}

export function firstEpoch(length: number): EpochSchedule {
  return { index: 0, nextExecuted: length, nextCount: IDLE_EPOCH_FACTOR * length };
}

export function epochDue(schedule: EpochSchedule, executed: number, count: number): boolean {
  return executed >= schedule.nextExecuted || count >= schedule.nextCount;
}

/** The schedule after an epoch reached at `count` with `executed` instructions executed. */
export function afterEpoch(schedule: EpochSchedule, length: number, executed: number, count: number): EpochSchedule {
  return {
    index: schedule.index + 1,
    nextExecuted: (Math.floor(executed / length) + 1) * length,
    nextCount: count + IDLE_EPOCH_FACTOR * length,
  };
}
