// The guest's clock. v86 reads time (PIT, RTC, APIC, TSC) through one function, microtick(), in
// milliseconds; a machine gives it one of these instead of performance.now.
//
// Both clocks are latched: the time base only moves at slice ends (and when idle time is skipped),
// never with the live instruction counter inside a slice, so an exact stop in the middle of a slice
// sees the same times as an unstopped run. Every reading is strictly greater than the one before
// (by at least MIN_TICK_MS): v86's RDTSC extrapolates with hidden state when two readings are equal.
import type { Nondeterminism } from './nondet';

/** The rate of logs recorded before the rate was in their header: 1 instruction a ns. */
export const FIRST_INSTRUCTIONS_PER_MS = 1_000_000;
/**
 * Nominal speed that maps instruction counts to guest time (the default; `--clock-rate`, launch attribute
 * `clockRate`). A guest's busy waits (udelay, a driver polling a device for so many ms) cost this many
 * instructions a ms: at 350 a µs, about v86's speed on Linux here, Linux's boot runs 0.38 G fewer
 * instructions but no faster (docs/machine.md).
 */
export const INSTRUCTIONS_PER_MS = FIRST_INSTRUCTIONS_PER_MS;
/** The highest rate `--clock-rate` and the launch attribute `clockRate` take, in instructions per µs. */
export const MAX_CLOCK_RATE_PER_US = 100_000;
export const MIN_TICK_MS = 2e-6;
/** Smallest idle skip, so a masked timer that is always "due" cannot stall the count. */
const MIN_IDLE_MS = 0.001;
/** Largest idle skip: bounds how far past a wanted instruction count an input can land. */
const MAX_IDLE_MS = 1;

/**
 * Instructions a halted guest's idle time counts as: up to its next timer, `idleMs` away. While a
 * disk read is pending, the least: the read completes at the end of this slice, the guest waits for it.
 */
export function idleSkip(idleMs: number, readPending: boolean, instructionsPerMs: number): number {
  const ms = readPending ? MIN_IDLE_MS : idleMs;
  return Math.round(Math.min(Math.max(ms, MIN_IDLE_MS), MAX_IDLE_MS) * instructionsPerMs);
}

export type ClockMode = 'virtual' | 'host';

/** What a snapshot must carry for the clock to continue exactly. */
export interface ClockState { last: number; base: number }

export abstract class Clock {
  protected last = 0;
  protected base = 0;

  /** Moves the time base to the machine's 64-bit instruction count (at slice ends and idle skips). */
  abstract latch(instructions: number): void;

  /** One reading, as v86's microtick() returns it (ms). */
  read(): number {
    this.last = Math.max(this.base, this.last + MIN_TICK_MS);
    return this.last;
  }

  /** The current time without taking a reading (for RTC and display; changes nothing). */
  peek(): number {
    return this.last;
  }

  get state(): ClockState {
    return { last: this.last, base: this.base };
  }

  set state(s: ClockState) {
    this.last = s.last;
    this.base = s.base;
  }
}

/** Time derived from the instruction count: nothing about time needs logging. */
export class VirtualClock extends Clock {
  constructor(private readonly instructionsPerMs: number) {
    super();
  }

  latch(instructions: number): void {
    this.base = instructions / this.instructionsPerMs;
  }
}

/**
 * Time read from the host at each latch and logged as a nondeterministic value, as VM-FT logs timer
 * events; on replay the same values come back from the log in the same order.
 */
export class HostClock extends Clock {
  constructor(private readonly nondet: () => Nondeterminism) {
    super();
  }

  latch(instructions: number): void {
    this.base = Math.max(this.base, this.nondet().clock(instructions));
  }
}

/** `nondet` is a getter: a machine can switch between recording and replaying. */
export function createClock(mode: ClockMode, nondet: () => Nondeterminism, instructionsPerMs: number): Clock {
  return mode === 'virtual' ? new VirtualClock(instructionsPerMs) : new HostClock(nondet);
}
