// Every nondeterministic value that enters a machine goes through one interface with two sides:
// Recorder (the primary, or a recorded run) takes it from the host and logs it; Replayer (the backup,
// or a log-file replay) returns what was logged, at the same instruction count, in the same order.
// Nothing else in the machine may read the host clock, a random source, or the outside world.
import { randomInt } from 'node:crypto';
import { CLOCK_UNITS_PER_MS, decodeDiskIo, diskPieces, encodeDiskIo } from '../log';
import type { DiskRequest, InputDevice, InputEntry, NondetEntry, NondetSource } from '../log';
import type { DiskSource } from './disk';

/** An external input delivered to the guest at the boundary named by `at` (a log entry without its seq). */
export type InputEvent = Omit<InputEntry, 'seq'>;
/** A value the machine read from the host at instruction count `at`. */
export type NondetEvent = Omit<NondetEntry, 'seq'>;
export type RecordedEvent = InputEvent | NondetEvent;

export interface Nondeterminism {
  /** Host time in ms (host clock mode only). */
  clock(at: number): number;
  /** A 32-bit random integer (RDRAND and v86's get_rand_int). */
  random(at: number): number;
  /** The guest's wall-clock time at power-on, in ms since 1970 (the RTC). */
  rtc(at: number): number;
  /** Inputs to deliver at the boundary `at`, in order. */
  inputsAt(at: number): InputEvent[];
  /**
   * Completes a disk read the guest issued, at the boundary `at` that ends the slice that issued it:
   * its data. `own` is this host's disk, and says whether the log carries the data (shared mode) or
   * only the completion (local mode: every host reads its own copy).
   */
  diskRead(at: number, request: DiskRequest, own: DiskSource): Uint8Array;
}

/** Thrown when a replay asks for something the log does not have at that instruction count. */
export class ReplayDivergence extends Error {
  constructor(readonly at: number, readonly expected: string, readonly found: string) {
    super(`replay diverged at instruction ${at}: the machine asked for ${expected}, the log has ${found}`);
    this.name = 'ReplayDivergence';
  }
}

const START_OF_TIME = Date.UTC(2026, 0, 1);

/** The recording side: values come from the host; each one is passed to `sink` as it is taken. */
export class Recorder implements Nondeterminism {
  private pending: { device: InputDevice; data: Uint8Array }[] = [];
  private logged: InputEvent[] = [];
  private readonly started = performance.now();

  /**
   * `random` is where random values come from: the host's randomness by default (a primary logs what
   * it read), a seeded generator for a run that must be a pure function of its inputs.
   */
  constructor(
    private readonly sink: (event: RecordedEvent) => void,
    private readonly options: { rtcStart?: number; random?: () => number } = {},
  ) {}

  /** Queues an input from the outside world; it is delivered (and logged) at the next boundary. */
  queue(device: InputDevice, data: Uint8Array): void {
    if (data.length) this.pending.push({ device, data });
  }

  get hasPending(): boolean {
    return this.pending.length + this.logged.length > 0;
  }

  /** Inputs from the outside world waiting for the next boundary. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Host time in whole microseconds: what a clock run in the log carries in a few bytes (codec.ts). */
  clock(at: number): number {
    return this.take(at, 'clock', Math.round((performance.now() - this.started) * CLOCK_UNITS_PER_MS) / CLOCK_UNITS_PER_MS);
  }

  random(at: number): number {
    return this.take(at, 'random', this.options.random?.() ?? randomInt(-0x80000000, 0x7fffffff));
  }

  rtc(at: number): number {
    return this.take(at, 'rtc', this.options.rtcStart ?? START_OF_TIME);
  }

  /**
   * Inputs already in the log (a backup that went live had received them for the boundary it
   * stopped at): delivered first, at the next boundary, and not logged again.
   */
  queueLogged(inputs: InputEvent[]): void {
    this.logged.push(...inputs);
  }

  inputsAt(at: number): InputEvent[] {
    const due = this.pending.map(({ device, data }): InputEvent => ({ kind: 'input', at, device, data }));
    this.pending = [];
    due.forEach(this.sink);
    return [...this.logged.splice(0).map((input) => ({ ...input, at })), ...due];
  }

  diskRead(at: number, { offset, length }: DiskRequest, own: DiskSource): Uint8Array {
    const data = own.read(offset, length);
    for (const piece of diskPieces(offset, length)) {
      const from = piece.offset - offset;
      const bytes = own.logsData ? data.subarray(from, from + piece.length) : undefined;
      this.sink({ kind: 'input', at, device: 'disk', data: encodeDiskIo(piece.offset, piece.length, bytes) });
    }
    return data;
  }

  private take(at: number, source: NondetSource, value: number): number {
    this.sink({ kind: 'nondet', at, source, value });
    return value;
  }
}

/**
 * The replaying side. Events arrive in log order (from a file or the logging channel) through
 * `push`; the machine takes them back at the same instruction counts. `available` says how far the
 * log is known to be complete, so a backup never runs past what the primary has logged.
 */
export class Replayer implements Nondeterminism {
  private readonly queue: RecordedEvent[] = [];
  private head = 0;

  push(event: RecordedEvent): void {
    this.queue.push(event);
  }

  /** Events not yet consumed. */
  get buffered(): number {
    return this.queue.length - this.head;
  }

  /** The instruction count of the next unconsumed event, if any. */
  get nextAt(): number | undefined {
    return this.queue[this.head]?.at;
  }

  clock(at: number): number {
    return this.takeValue(at, 'clock');
  }

  random(at: number): number {
    return this.takeValue(at, 'random');
  }

  rtc(at: number): number {
    return this.takeValue(at, 'rtc');
  }

  inputsAt(at: number): InputEvent[] {
    const due: InputEvent[] = [];
    for (let next = this.peek(); next && next.at <= at && next.kind === 'input'; next = this.peek()) {
      if (next.at < at) throw new ReplayDivergence(at, 'the inputs of this boundary', `an input logged at ${next.at}, which this run never stopped at`);
      due.push(next);
      this.head++;
    }
    this.compact();
    return due;
  }

  diskRead(at: number, { offset, length }: DiskRequest, own: DiskSource): Uint8Array {
    const data = new Uint8Array(length);
    for (const piece of diskPieces(offset, length)) {
      const next = this.peek();
      const wanted = `the completion of a disk read of ${piece.length} bytes at ${piece.offset}`;
      if (!next || next.kind !== 'input' || next.device !== 'disk' || next.at !== at) {
        throw new ReplayDivergence(at, wanted, next ? describe(next) : 'nothing more');
      }
      const logged = decodeDiskIo(next.data);
      if (logged.offset !== piece.offset || logged.length !== piece.length) {
        throw new ReplayDivergence(at, wanted, `a disk read of ${logged.length} bytes at ${logged.offset}`);
      }
      this.head++;
      data.set(logged.data ?? own.read(piece.offset, piece.length), piece.offset - offset);
    }
    return data;
  }

  private peek(): RecordedEvent | undefined {
    return this.queue[this.head];
  }

  private takeValue(at: number, source: NondetSource): number {
    const next = this.peek();
    if (!next) throw new ReplayDivergence(at, `a ${source} value`, 'nothing more');
    if (next.kind !== 'nondet' || next.source !== source || next.at !== at) {
      throw new ReplayDivergence(at, `a ${source} value`, describe(next));
    }
    this.head++;
    return next.value;
  }

  private compact(): void {
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}

function describe(event: RecordedEvent): string {
  return event.kind === 'input'
    ? `an ${event.device} input at ${event.at}`
    : `a ${event.source} value at ${event.at}`;
}
