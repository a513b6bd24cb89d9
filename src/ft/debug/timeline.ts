// The recorded history of one machine, which can be revisited: stop at any exact instruction count,
// step single instructions forwards and backwards, run to breakpoints in either direction.
//
// While the machine runs forward into new territory (its frontier), the timeline records what it
// needs to come back: a snapshot of the machine at epoch boundaries, the slice trace (every slice's
// boundaries and timer counts, see SliceRecord) and every nondeterministic event the machine took.
// Revisiting count n restores the nearest snapshot at or before n, replays whole slices with a
// Replayer positioned there up to the last boundary at or before n, and executes single instructions
// from there to n. Whole slices are exactly the recorded run (the replay checks every slice and epoch
// hash against the recording); single instructions leave the machine stepped, a state to look at:
// anything that continues restores a snapshot and runs unperturbed, so no stop leaves a trace.
import { Machine, MachineEvents, SliceRecord } from '../machine';
import { Nondeterminism, RecordedEvent, Replayer } from '../machine';
import { drain } from './drain';
import { EventRecord } from './eventrecord';
import { SliceTrace, TimelineDivergence } from './slicetrace';
import { Snapshot, Snapshots } from './snapshots';
import { Trail, TRAIL_LENGTH } from './trail';
import { FIRST_LOOK_BACK, Watching } from './watch';

export { TimelineDivergence };
export { DEFAULT_SNAPSHOT_BYTES } from './snapshots';
/** Closer than this, a stepped machine steps on rather than restoring and replaying. */
const STEP_ON_LIMIT = 500_000;
/** A boundary reached by replaying at least this much is kept as the stepping base (see moveTo). */
const STEPPING_BASE_AFTER = 5_000_000;

export interface TimelineOptions {
  /**
   * Where the machine's values come from at the frontier: the live Recorder, or a Replayer fed from
   * a log file or the logging channel. Default: the values run out at the frontier.
   */
  source?: Nondeterminism;
  /** How far the source can supply values: the timeline never runs past it (default: no limit). */
  available?: () => number;
  /** Bytes the snapshots may take; beyond it every other one is dropped (the first is kept). */
  snapshotBytes?: number;
}

export type StopReason =
  /** At the requested count. */
  | 'exact'
  /** The requested count is inside an idle skip: stopped where the guest halted. */
  | 'halted'
  /** The requested count falls between an STI and the instruction v86 executes with it: one below. */
  | 'sti'
  | 'breakpoint'
  /** What a data breakpoint watches changed: stopped right after the instruction that changed it. */
  | 'watch'
  /** Nothing was recorded further yet (the source has no more values). */
  | 'frontier'
  /** The guest ended (halted with interrupts disabled). */
  | 'ended'
  /** The timeline's first snapshot: there is no earlier history. */
  | 'start';

export interface Stop {
  /** The instruction count the machine is at. */
  at: number;
  /** The count asked for, when the stop is elsewhere. */
  requested?: number;
  reason: StopReason;
  /** The guest is halted (waiting for an interrupt, or ended). */
  halted: boolean;
  /** The EIP of the instruction a breakpoint stopped before. */
  eip?: number;
}

export interface BreakOptions {
  /** Linear addresses (as `registers.eip` shows them) to stop before. */
  breakpoints?: Iterable<number>;
  /** Stops before an instruction whose EIP this accepts (with `breakpoints`: either one). */
  stopBefore?: (eip: number) => boolean;
}

export class Timeline {
  private readonly trace: SliceTrace;
  private readonly snapshots: Snapshots;
  private readonly events = new EventRecord();
  private readonly epochHashes = new Map<number, string>();
  private readonly live: Nondeterminism;
  /** The machine takes values from the source (it is at the frontier, extending the recording). */
  private isLive = true;
  private replayer: Replayer | undefined;
  /**
   * The boundary single steps last started from, kept so that stepping back within its step costs a
   * restore rather than a replay. A base for single steps only: that rule dates from when a snapshot
   * emptied the JIT cache (whole steps from it were not the recorded run); snapshots now carry the
   * JIT's state, so it is conservative.
   */
  private steppingBase: Omit<Snapshot, 'epoch'> | undefined;
  /** The machine is at or from the stepping base: it does not run whole steps (above). */
  private offRecord = false;
  private readonly stopObserving: () => void;
  private readonly stepped = new Trail();
  private readonly watching: Watching;

  /**
   * Records `machine` from where it is on (any whole-step boundary: a snapshot carries the JIT's
   * state, so taking the first one changes nothing).
   */
  constructor(readonly machine: Machine, private readonly options: TimelineOptions = {}) {
    if (machine.isStepped) throw new RangeError('a timeline starts from a machine at a whole-step boundary');
    const start = machine.instructions;
    this.trace = new SliceTrace(start);
    this.snapshots = new Snapshots(options.snapshotBytes);
    this.live = this.events.tap(options.source ?? new Replayer());
    machine.useNondeterminism(this.live);
    this.stopObserving = machine.observe({
      slice: (slice) => this.onSlice(slice),
      epoch: (epoch) => this.onEpoch(epoch.index, epoch.at, epoch.hash),
    });
    this.addSnapshot(Math.floor(start / machine.options.epochLength), start);
    this.watching = new Watching({
      machine,
      trace: this.trace,
      start: () => this.start,
      position: () => this.position,
      isOnRecord: () => this.isOnRecord,
      runTo: (n) => this.runTo(n),
      stopHere: (requested) => this.stopHere(requested),
      extend: (n) => this.extend(n),
      reachBoundary: (boundary) => this.reachBoundary(boundary),
      moveTo: (target) => this.moveTo(target),
      stepForward: (target, stopBefore) => this.stepForward(target, stopBefore),
    });
  }

  /** The first instruction count the timeline can revisit. */
  get start(): number {
    return this.trace.start;
  }

  /** The furthest boundary recorded so far. */
  get frontier(): number {
    return this.trace.end;
  }

  get position(): number {
    return this.machine.instructions;
  }

  /** Nondeterministic events the machine took since the start, in order. */
  get recorded(): readonly RecordedEvent[] {
    return this.events.all;
  }

  get snapshotCount(): number {
    return this.snapshots.count;
  }

  get snapshotBytes(): number {
    return this.snapshots.bytes;
  }

  /** The recorded step that starts at or contains count `n` (none at or past the frontier). */
  sliceAt(n: number): SliceRecord | undefined {
    return this.trace.sliceAt(n);
  }

  /**
   * The EIPs of up to 64 instructions executed right before the position, oldest first, and the
   * current one's: true instruction boundaries, which a disassembler cannot tell going backwards.
   * Known when the position was reached by single steps (empty at a boundary reached whole): see trail.ts.
   */
  get trail(): number[] {
    return this.stepped.to(this.position);
  }

  /** Every recorded step, in order. */
  slices(): IterableIterator<SliceRecord> {
    return this.trace.records();
  }

  /**
   * Listens to what the machine makes of new history only. Every revisit of the past replays it and
   * the machine tells its own listeners (`machine.observe`) again; these hear each output, frame,
   * disk write and epoch once, when the run first reaches it. Returns how to stop listening.
   */
  observe(events: Pick<MachineEvents, 'output' | 'frame' | 'diskWrite' | 'epoch'>): () => void {
    // The slice's events come before the slice itself reaches the trace: new ones are past its end.
    const isNew = (at: number) => at > this.trace.end;
    const { output, frame, diskWrite, epoch } = events;
    return this.machine.observe({
      output: output && ((data, at) => { if (isNew(at)) output(data, at); }),
      frame: frame && ((data, at) => { if (isNew(at)) frame(data, at); }),
      diskWrite: diskWrite && ((write, at) => { if (isNew(at)) diskWrite(write, at); }),
      epoch: epoch && ((e) => { if (isNew(e.at)) epoch(e); }),
    });
  }

  /** Stops listening to the machine (it stays where it is). */
  dispose(): void {
    this.stopObserving();
  }

  /**
   * Moves to instruction count `n`, forwards or backwards: exactly there when the guest executes an
   * instruction there, else at the closest count below it that it can stop at (see StopReason).
   * Past the frontier the machine runs on from the source, recording.
   */
  runTo(n: number): Stop {
    return drain(this.moving(n));
  }

  /**
   * `runTo` as a generator: it yields the count after every whole slice it replays (a revisit can
   * replay an epoch's worth), so that a driver can take turns; its return value is the stop.
   */
  *moving(n: number): Generator<number, Stop, void> {
    if (n > this.trace.end) this.extend(n);
    const target = Math.max(this.start, Math.min(n, this.trace.end));
    yield* this.movingTo(target);
    return this.stopHere(n);
  }

  /** Executes the next instruction (an idle skip, when the guest is halted). */
  stepInstruction(): Stop {
    return drain(this.steppingInstruction());
  }

  /** `stepInstruction` as a generator, yielding as `moving` does. */
  *steppingInstruction(): Generator<number, Stop, void> {
    const from = this.position;
    if (from === this.trace.end) this.extend(from + 1);
    const stop = yield* this.moving(this.nextPosition(from));
    return stop.at === from && stop.reason === 'sti' ? yield* this.moving(from + 2) : stop;
  }

  /** Goes back one instruction (to where the guest halted, from the end of an idle skip). */
  stepBack(): Stop {
    return drain(this.steppingBack());
  }

  /** `stepBack` as a generator, yielding as `moving` does. */
  *steppingBack(): Generator<number, Stop, void> {
    const from = this.position;
    if (from <= this.start) return { ...this.stopHere(from), reason: 'start' };
    return yield* this.moving(this.previousPosition(from));
  }

  /**
   * Runs on to the first stop `options` asks for, or to `until` (default: as far as the source
   * allows, or the end of the guest). With no breakpoints this is the unperturbed run itself.
   */
  continue(options: BreakOptions & { until?: number } = {}): Stop {
    const until = options.until ?? Number.MAX_SAFE_INTEGER;
    const stopBefore = breakCheck(options);
    if (!stopBefore) return this.runTo(until);
    // A stop before an instruction that the breakpoints accept is where we are, not where we go.
    let skipCurrent = this.machine.isInsideSlice;
    for (;;) {
      const hit = this.scan(Math.min(until, this.trace.end), stopBefore, () => true, skipCurrent);
      skipCurrent = false;
      if (hit !== undefined) return this.stopHere(hit, this.machine.registers.eip);
      const end = this.trace.end;
      if (until <= end || !this.extendFrom(end, until)) return this.runTo(until);
    }
  }

  /**
   * Runs backwards to the last stop `options` asks for before the current count (or the start), in
   * one go: `reverseRun` driven to its end.
   */
  reverseContinue(options: BreakOptions): Stop {
    return drain(this.reverseRun(options));
  }

  /**
   * Runs backwards to the last stop `options` asks for before the current count (or the start): scans
   * ever longer stretches before it, each forwards from a boundary, and goes to the last hit found.
   * Yields the count it got to after every `slice` instructions scanned and after every stretch
   * without a hit, so that a driver can take turns (MachineDebugger yields to the event loop) or stop
   * driving it (a pause: the machine is then wherever the scan was). Its return value is the stop.
   */
  *reverseRun(options: BreakOptions, slice = Number.MAX_SAFE_INTEGER): Generator<number, Stop, void> {
    const stopBefore = breakCheck(options);
    if (!stopBefore) return this.runTo(this.start);
    const before = this.position;
    for (let end = before, look = FIRST_LOOK_BACK; end > this.start; look *= 4) {
      const from = this.trace.boundaryAtOrBefore(Math.max(this.start, end - look));
      this.moveTo(from);
      let last: number | undefined;
      yield* this.scanInSlices(end, stopBefore, (at) => { if (at < before) last = at; return false; }, slice);
      if (last !== undefined) return this.landOnHit(last, stopBefore);
      end = from;
      if (end > this.start) yield this.position;
    }
    return this.runTo(this.start);
  }

  /** A data breakpoint forwards, in one go (see watch.ts). */
  continueWatching(watch: () => string, until = Number.MAX_SAFE_INTEGER): Stop {
    return this.watching.continueWatching(watch, until);
  }

  /** A data breakpoint forwards, yielding after every slice (see watch.ts). */
  continueWatchRun(watch: () => string, until = Number.MAX_SAFE_INTEGER): Generator<number, Stop, void> {
    return this.watching.continueWatchRun(watch, until);
  }

  /** A data breakpoint backwards, in one go (see watch.ts). */
  reverseWatching(watch: () => string): Stop {
    return this.watching.reverseWatching(watch);
  }

  /** A data breakpoint backwards, yielding after every `slice` instructions replayed (see watch.ts). */
  reverseWatchRun(watch: () => string, slice = Number.MAX_SAFE_INTEGER): Generator<number, Stop, void> {
    return this.watching.reverseWatchRun(watch, slice);
  }

  /** Unstepped and on the recorded run: whole slices from here are the recording's. */
  private get isOnRecord(): boolean {
    return !this.machine.isStepped && !this.offRecord;
  }

  /**
   * Changes the machine at the frontier, as a debugger writing memory or a register does. The change
   * is history from here on: it is snapshotted, so replaying any later count starts from it, while
   * counts before it replay as they were recorded.
   */
  changeAtFrontier(change: () => void): void {
    this.returnToFrontier();
    change();
    const at = this.trace.end;
    if (this.steppingBase && this.steppingBase.at >= at) this.steppingBase = undefined;
    this.snapshots.addChange({ at, epoch: 'change', events: this.events.length, state: this.machine.snapshot() });
  }

  // ---- moving ----

  /** Puts the machine at `target` (a count within the trace it can stop at, or just below). */
  private moveTo(target: number): void {
    drain(this.movingTo(target));
  }

  private *movingTo(target: number): Generator<number, void, void> {
    const machine = this.machine;
    const here = machine.instructions;
    // Stepping on across a change (changeAtFrontier) would miss it: only its snapshot has it.
    const crossesChange = this.snapshots.hasChangeIn(here, target);
    const near = here <= target && target - here <= STEP_ON_LIMIT;
    const stepOn = (machine.isStepped || this.offRecord) && near && !crossesChange;
    if (!stepOn) yield* this.reachingSteppingBase(this.trace.boundaryAtOrBefore(target));
    this.stepForward(target);
  }

  /** Brings the machine to `boundary` to step on from there: from the stepping base when it is there. */
  private *reachingSteppingBase(boundary: number): Generator<number, void, void> {
    if (this.steppingBase?.at === boundary) {
      this.restore(this.steppingBase);
      this.offRecord = true;
      return;
    }
    if ((yield* this.reachingBoundary(boundary)) < STEPPING_BASE_AFTER) return;
    const events = this.isLive ? this.events.length : this.events.length - this.replayer!.buffered;
    this.steppingBase = { at: boundary, events, state: this.machine.snapshot() };
    this.offRecord = true;
  }

  /**
   * Steps single instructions (crossing boundaries with the trace) up to `target`, noting the EIPs of
   * the last ones (`trail`; before them, with no `stopBefore`, without a callback per instruction).
   */
  private stepForward(target: number, stopBefore?: (eip: number) => boolean): boolean {
    const machine = this.machine;
    this.stepped.stepFrom(machine.instructions);
    if (!stopBefore && machine.instructions < target - TRAIL_LENGTH) {
      this.stepSlices(target - TRAIL_LENGTH);
      this.stepped.restart();
    }
    const hit = this.stepSlices(target, (eip) => {
      this.stepped.note(eip);
      return stopBefore?.(eip) ?? false;
    });
    this.stepped.endAt(machine.instructions);
    return hit;
  }

  /** Single instructions up to `target`, crossing boundaries with the trace; true at a `stopBefore` hit. */
  private stepSlices(target: number, stopBefore?: (eip: number) => boolean): boolean {
    const machine = this.machine;
    while (machine.instructions < target) {
      const step = this.trace.sliceAt(machine.instructions);
      if (!step) return false;
      const result = machine.stepTo(target, step, stopBefore);
      if (result === 'breakpoint') return true;
      if (result === 'target') return false;
    }
    return false;
  }

  /**
   * Brings the machine, unstepped, to the recorded boundary `boundary`: on from where it is when it
   * is there already or on the way, else from the nearest snapshot, replaying whole steps. Returns
   * how many instructions it replayed.
   */
  private reachBoundary(boundary: number): number {
    return drain(this.reachingBoundary(boundary));
  }

  /** `reachBoundary`, yielding the count after every whole slice. */
  private *reachingBoundary(boundary: number): Generator<number, number, void> {
    const machine = this.machine;
    const snapshot = this.snapshots.atOrBefore(boundary);
    const onTheWay = !machine.isStepped && !this.offRecord
      && machine.instructions <= boundary && machine.instructions >= snapshot.at;
    if (!onTheWay) this.restore(snapshot);
    const from = machine.instructions;
    yield* this.wholeSlices(boundary);
    if (machine.instructions !== boundary) {
      throw new TimelineDivergence(`replaying whole steps reached ${machine.instructions}, not the recorded boundary ${boundary}`);
    }
    return boundary - from;
  }

  private restore(snapshot: Omit<Snapshot, 'epoch'>): void {
    this.offRecord = false;
    this.machine.restoreFrom(snapshot.state);
    this.replayer = this.events.replayerFrom(snapshot.events);
    this.machine.useNondeterminism(this.replayer);
    this.isLive = false;
  }

  /** Runs whole steps from the source, recording, until the count reaches `n` (as far as it can). */
  private extend(n: number): void {
    this.returnToFrontier();
    this.runWhole(Math.min(n, this.options.available?.() ?? Number.MAX_SAFE_INTEGER));
  }

  /**
   * Whole steps until the count reaches `limit`. It never waits for host time (as Machine.run does
   * for a halted guest on the host clock): a replay has its times, and a live run takes them as they come.
   */
  private runWhole(limit: number): void {
    drain(this.wholeSlices(limit));
  }

  /** `runWhole`, yielding the count after every slice. */
  private *wholeSlices(limit: number): Generator<number, void, void> {
    const machine = this.machine;
    while (!machine.isEnded && machine.instructions < limit) {
      machine.runSlice();
      yield machine.instructions;
    }
  }

  /** Records on from `end` towards `until` (to the next epoch boundary), then returns to `end`. */
  private extendFrom(end: number, until: number): boolean {
    const epochLength = this.machine.options.epochLength;
    this.extend(Math.min(until, (Math.floor(end / epochLength) + 1) * epochLength));
    if (this.trace.end === end) return false;
    this.reachBoundary(end);
    return true;
  }

  /**
   * At the frontier, unstepped, taking values from the source. Whoever runs the machine itself
   * (Machine.run, as a primary or backup loop does; the timeline records those steps too) calls
   * this first.
   */
  returnToFrontier(): void {
    drain(this.returningToFrontier());
  }

  /** `returnToFrontier`, yielding the count after every whole slice it replays. */
  *returningToFrontier(): Generator<number, void, void> {
    if (this.isLive && !this.offRecord && !this.machine.isStepped) return;
    yield* this.reachingBoundary(this.trace.end);
    if (this.replayer!.buffered) {
      throw new TimelineDivergence(`the replay reached the frontier at ${this.trace.end} with ${this.replayer!.buffered} recorded events not taken`);
    }
    this.machine.useNondeterminism(this.live);
    this.isLive = true;
  }

  /**
   * Steps from where the machine is to `end`, calling `onHit` with the count before every instruction
   * `stopBefore` accepts (but not the one the machine is before, with `skipCurrent`); stops there
   * when `onHit` says so and returns that count.
   */
  private scan(
    end: number,
    stopBefore: (eip: number) => boolean,
    onHit: (at: number) => boolean,
    skipCurrent = false,
  ): number | undefined {
    let skip = skipCurrent;
    const check = (eip: number) => {
      if (!skip) return stopBefore(eip);
      skip = false;
      return false;
    };
    while (this.stepForward(end, check)) {
      const at = this.machine.instructions;
      if (onHit(at)) return at;
      skip = true;
    }
    return undefined;
  }

  /** `scan` in slices of `slice` instructions, yielding the count it got to after each but the last. */
  private *scanInSlices(
    end: number,
    stopBefore: (eip: number) => boolean,
    onHit: (at: number) => boolean,
    slice: number,
  ): Generator<number, number | undefined, void> {
    // A slice can end right at a hit (a hit is reported at its target, and an STI's shadow ends it one
    // short): the next slice then starts before that hit's instruction and must not report it again.
    let lastHit: number | undefined;
    const report = (at: number) => { lastHit = at; return onHit(at); };
    for (let size = slice; ;) {
      const from = this.position;
      const sliceEnd = Math.min(end, from + size);
      const hit = this.scan(sliceEnd, stopBefore, report, lastHit === from);
      if (hit !== undefined) return hit;
      if (sliceEnd === end || !this.trace.sliceAt(this.position)) return undefined;
      // It could not get on: the slice ends where nothing stops (inside an idle skip, or the STI's
      // shadow right after it). A longer one gets past.
      if (this.position === from) {
        size *= 2;
        continue;
      }
      size = slice;
      yield this.position;
    }
  }

  /** Goes to a hit a scan found: its count, then up to the instruction it stopped before. */
  private landOnHit(at: number, stopBefore: (eip: number) => boolean): Stop {
    this.moveTo(at);
    if (this.machine.instructions !== at || !this.stepForward(at + 1, stopBefore)) {
      throw new TimelineDivergence(`the stop before instruction ${at + 1} found by a scan was not there again`);
    }
    return this.stopHere(at, this.machine.registers.eip);
  }

  private nextPosition(from: number): number {
    const step = this.trace.sliceAt(from);
    if (step && step.idle && from >= step.to - step.idle) return step.to;
    return from + 1;
  }

  private previousPosition(from: number): number {
    const step = this.trace.sliceAt(from - 1)!;
    return from - 1 >= step.to - step.idle ? step.to - step.idle : from - 1;
  }

  private stopHere(requested: number, eip?: number): Stop {
    const machine = this.machine;
    const at = machine.instructions;
    const stop: Stop = { at, reason: 'exact', halted: machine.isHalted };
    if (eip !== undefined) return { ...stop, reason: 'breakpoint', eip };
    if (at === requested) return stop;
    return { ...stop, requested, reason: this.reasonFor(requested, at) };
  }

  private reasonFor(requested: number, at: number): StopReason {
    if (requested < at) return 'start';
    if (at === this.trace.end) return this.machine.isEnded ? 'ended' : 'frontier';
    return this.machine.isHalted ? 'halted' : 'sti';
  }

  // ---- recording ----

  private onSlice(step: SliceRecord): void {
    if (this.isLive) {
      this.trace.push(step);
      return;
    }
    const recorded = this.trace.sliceAt(step.from);
    if (!recorded || recorded.from !== step.from || recorded.to !== step.to) {
      throw new TimelineDivergence(`replaying the step from ${step.from} ended at ${step.to}, recorded ${recorded?.to}`);
    }
  }

  private onEpoch(index: number, at: number, hash: string): void {
    if (!this.isLive) {
      const recorded = this.epochHashes.get(at);
      if (recorded !== undefined && recorded !== hash) {
        throw new TimelineDivergence(`replaying epoch ${index} at ${at} computed hash ${hash}, recorded ${recorded}`);
      }
      return;
    }
    this.epochHashes.set(at, hash);
    if (this.snapshots.wants(index)) this.addSnapshot(index, at);
  }

  private addSnapshot(epoch: number, at: number): void {
    this.snapshots.addEpoch({ at, epoch, events: this.events.length, state: this.machine.snapshot() });
  }
}

function breakCheck(options: BreakOptions): ((eip: number) => boolean) | undefined {
  const addresses = new Set([...(options.breakpoints ?? [])].map((a) => a >>> 0));
  const predicate = options.stopBefore;
  if (!addresses.size) return predicate;
  return predicate ? (eip) => addresses.has(eip) || predicate(eip) : (eip) => addresses.has(eip);
}
