// The debugger's side of a machine: a Timeline over the machine a role runs (or a local one), and the
// operations a debug adapter asks for (DebugOp, cluster/hostprotocol.ts): exact stops, single steps
// forwards and backwards, breakpoint runs in both directions, registers, memory, the log.
// MachineDebugger does them; HostDebugger is the piece a host process keeps (cluster/host.ts): it
// holds the role's loop while the debugger has the machine, and streams what the panel shows
// (panelstream.ts). Memory is read and written at linear addresses (paging.ts translates them).
//
// Long operations run in slices with turns of the event loop between them, so a host keeps answering
// heartbeats and acks while it scans, and a `pause` can cut them short. Anything beyond the recorded
// history is recorded as the role would (a primary's new history is logged and sent), and nothing a
// debugger does to the past is visible to the other side: continuing is the unperturbed run.
import type { DebugOp, DebugResult, DebugState, EpochNote, HostDebugConfig, HostReport } from '../cluster';
import type { LoggedPoint, LogPosition, Watch } from '../cluster';
import type { DiskRequest, EntryKind, LogEntry } from '../log';
import { type DiskSource, type InputEvent, type Machine, type Nondeterminism, REGISTER_NAMES, WritableRegister } from '../machine';
import type { HeldOutput } from '../replication';
import { Stop, Timeline } from './timeline';
import { entryNote, outputNote, PanelSource, PanelStream } from './panelstream';
import { physicalPieces } from './paging';
import { CheckpointView, type CheckpointSource } from './checkpointview';
import { lastAtOrBefore } from './sorted';

/** Bytes of snapshots a debugged machine may keep (the timeline thins them beyond this). */
const SNAPSHOT_BYTES = 512 * 1024 * 1024;
/**
 * The longest a movement holds the event loop before it takes a turn, so that a host answers heartbeats
 * and acks meanwhile (at 50 M instructions a turn, a loaded machine's turns took over a second, and the
 * detector took a live host for dead). Turns are taken between whole slices or stretches: where the
 * machine is never depends on them.
 */
const TURN_MS = 50;
/** Whole-step instructions between looks at the time (about 15 ms at 300 MIPS). */
const RUN_SLICE = 5_000_000;
/** Single-instruction scanning between looks at the time (about 40 ms at 25 MIPS). */
const SCAN_SLICE = 1_000_000;
/** Largest read in one operation. */
const MAX_READ = 16 * 1024 * 1024;
/**
 * Largest range a data breakpoint watches: it is read at every slice end, and per instruction in a
 * slice that wrote it.
 */
const MAX_WATCH = 4096;
/** Movements that end a forward breakpoint scan. */
const SCAN_ENDS = new Set<Stop['reason']>(['breakpoint', 'frontier', 'ended']);

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a debugger needs from where its machine lives (all optional: a bare local machine). */
export interface DebugEnvironment {
  /** How far the source can supply values (default: no limit, a live recording). */
  available?: () => number;
  /** The highest seq this side has received in order (to trust a LoggedPoint). */
  receivedSeq?: () => number;
  /** How long to wait for the log to reach a count asked for (a backup waits for its primary). */
  logWaitMs?: number;
  /** The log as this side has it, in seq order. */
  entries?: () => readonly LogEntry[];
  /** Primary: highest seq acknowledged; backup: highest received in order. */
  acked?: () => number;
  heldOutputs?: () => readonly HeldOutput[];
  /** The role's loop is held (a host); a local machine only moves when asked. */
  held?: () => boolean;
}

/** A Nondeterminism whose target can change: a backup that goes live records from then on. */
class SwitchableSource implements Nondeterminism {
  constructor(public target: Nondeterminism) {}
  clock(at: number): number { return this.target.clock(at); }
  random(at: number): number { return this.target.random(at); }
  rtc(at: number): number { return this.target.rtc(at); }
  inputsAt(at: number): InputEvent[] { return this.target.inputsAt(at); }
  diskRead(at: number, request: DiskRequest, own: DiskSource): Uint8Array {
    return this.target.diskRead(at, request, own);
  }
}

export class MachineDebugger {
  readonly timeline: Timeline;
  private readonly source: SwitchableSource;
  private readonly epochs: EpochNote[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** Bumped by a pause: operations that arrived before it stop at their next turn. */
  private token = 0;
  private logged: LoggedPoint | undefined;
  private lastStop: Stop | undefined;
  /** EIP at the timeline's start. */
  private readonly entry: number;

  /**
   * Starts recording `machine`, which takes its values from `source` (at instruction 0, an epoch
   * boundary, or right after a restore: see Timeline).
   */
  constructor(readonly machine: Machine, source: Nondeterminism, private readonly env: DebugEnvironment = {}) {
    this.source = new SwitchableSource(source);
    this.entry = machine.registers.eip;
    this.timeline = new Timeline(machine, {
      source: this.source,
      available: () => this.available(),
      snapshotBytes: SNAPSHOT_BYTES,
    });
    this.timeline.observe({ epoch: ({ index, at, hash }) => this.epochs.push({ index, at, hash }) });
  }

  /** Machine events at `at` repeat recorded history (a revisit), rather than make new history. */
  isHistory(at: number): boolean {
    return at <= this.timeline.frontier;
  }

  /** Where values come from at the frontier from now on. */
  useSource(source: Nondeterminism): void {
    this.source.target = source;
  }

  /** Stops whatever operation is running at its next turn (it answers with where it got to). */
  cancel(): void {
    this.token++;
  }

  /** Runs `op` after those before it; a pause first cuts short the one running. */
  execute(op: DebugOp): Promise<DebugResult> {
    if (op.op === 'pause') this.cancel();
    const token = this.token;
    const result = this.queue.then(() => this.perform(op, token));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async perform(op: DebugOp, token: number): Promise<DebugResult> {
    const timeline = this.timeline;
    // Cut short before it began (a pause, or the role took its machine back): nothing moves. A resume
    // is never cut short: it takes no time, and a pause that follows it stops at the live edge it reaches.
    if (this.cancelled(token) && MOVES.has(op.op) && op.op !== 'resume') return this.stateResult();
    switch (op.op) {
      case 'state':
      case 'pause':
        return this.stateResult();
      case 'resume':
        await this.drive(timeline.returningToFrontier());
        return this.stateResult();
      case 'runTo':
        return this.moved(await this.runTo(count('instruction', op.at), op.logged, token));
      case 'step':
        return this.moved(await this.move(timeline.steppingInstruction(), token));
      case 'stepBack':
        return this.moved(await this.move(timeline.steppingBack(), token));
      case 'continue':
        if (op.watches?.length) {
          return this.moved(await this.watchForward(watches(op.watches), addresses(op.breakpoints), token));
        }
        return this.moved(
          addresses(op.breakpoints).length
            ? await this.scanForward(addresses(op.breakpoints), token)
            : await this.runFree(token),
        );
      case 'reverseContinue':
        if (op.watches?.length) {
          return this.moved(await this.watchBackward(watches(op.watches), addresses(op.breakpoints), token));
        }
        return this.moved(await this.reverseContinue(addresses(op.breakpoints), token));
      case 'read':
        return this.read(count('address', op.address), count('length', op.length, MAX_READ));
      case 'write':
        this.write(count('address', op.address), Buffer.from(op.data, 'base64'));
        return this.stateResult();
      case 'writeDisk':
        this.requireLive('the disk');
        this.timeline.changeAtFrontier(() => this.machine.writeDisk(count('offset', op.offset), Buffer.from(op.data, 'base64')));
        return this.stateResult();
      case 'setRegister':
        this.setRegister(op.name, op.value);
        return this.stateResult();
      case 'entries':
        return this.entries(op.from, op.count, op.kinds);
      case 'epochs':
        return { kind: 'epochs', epochs: [...this.epochs] };
      default:
        throw new RangeError(`unknown debug operation ${JSON.stringify((op as { op: unknown }).op)}`);
    }
  }

  private moved(stop: Stop): DebugResult {
    this.lastStop = stop;
    return this.stateResult();
  }

  private cancelled(token: number): boolean {
    return token !== this.token;
  }

  // ---- moving ----

  private available(): number {
    const own = this.env.available?.() ?? Number.MAX_SAFE_INTEGER;
    const logged = this.logged && (this.env.receivedSeq?.() ?? 0) >= this.logged.seq ? this.logged.at : 0;
    return Math.max(own, logged);
  }

  private async runTo(at: number, logged: LoggedPoint | undefined, token: number): Promise<Stop> {
    if (logged && logged.at > (this.logged?.at ?? -1)) this.logged = logged;
    if (at > this.timeline.frontier) await this.advance(at, token);
    if (this.cancelled(token)) return this.here();
    return this.move(this.timeline.moving(at), token);
  }

  /** A timeline movement, driven with turns (see TURN_MS); paused, it stops where it got to. */
  private async move(run: Generator<number, Stop, void>, token: number): Promise<Stop> {
    return (await this.drive(run, token))?.value ?? this.here();
  }

  /**
   * Records on, live, to the first boundary at or past `target` (or as far as the source allows,
   * waiting up to logWaitMs for more): whole steps a slice per turn, as the role itself would run.
   */
  private async advance(target: number, token: number): Promise<void> {
    const machine = this.machine;
    const deadline = performance.now() + (this.env.logWaitMs ?? 0);
    if (!(await this.drive(this.timeline.returningToFrontier(), token))) return;
    let turnStarted = performance.now();
    while (!this.cancelled(token) && !machine.isEnded && machine.instructions < target) {
      const limit = Math.min(target, machine.instructions + RUN_SLICE, this.available());
      const before = machine.instructions;
      if (limit > before) machine.run(limit);
      else if (performance.now() < deadline) await sleep(20);
      else return;
      // A run that got nowhere (a halted guest waiting for host time) takes its turn at once.
      if (machine.instructions > before && performance.now() - turnStarted < TURN_MS) continue;
      await turn();
      turnStarted = performance.now();
    }
  }

  /** Runs on with no breakpoints, as far as the source allows (a log's end) or until paused. */
  private async runFree(token: number): Promise<Stop> {
    await this.advance(Number.MAX_SAFE_INTEGER, token);
    return this.here();
  }

  private async scanForward(breakpoints: number[], token: number): Promise<Stop> {
    for (; !this.cancelled(token); await turn()) {
      const stop = this.timeline.continue({ breakpoints, until: this.timeline.position + SCAN_SLICE });
      if (SCAN_ENDS.has(stop.reason)) return stop;
    }
    return this.here();
  }

  /**
   * To the last breakpoint stop before the current position: the timeline's reverse run, driven a
   * slice per turn, and left where it got to when paused.
   */
  private reverseContinue(breakpoints: number[], token: number): Promise<Stop> {
    return this.move(this.timeline.reverseRun({ breakpoints }, SCAN_SLICE), token);
  }

  /**
   * Runs a timeline generator to its end, taking a turn of the event loop whenever TURN_MS have passed
   * since the last; its end, or nothing when a pause (an operation's `token` gone stale) cut it short.
   */
  private async drive<T>(run: Generator<number, T, void>, token?: number): Promise<{ value: T } | undefined> {
    let turnStarted = performance.now();
    for (let next = run.next(); ; next = run.next()) {
      if (next.done) return next;
      if (performance.now() - turnStarted < TURN_MS) continue;
      await turn();
      if (token !== undefined && this.cancelled(token)) return undefined;
      turnStarted = performance.now();
    }
  }

  /**
   * Data breakpoints forwards: on to right after the first write that changes watched memory, slices
   * between turns; with breakpoints too, whichever comes first. No count in between is asked for: one
   * inside an idle skip cannot be reached (looking for it looped for ever at 350 instructions a µs).
   */
  private async watchForward(watched: Watch[], breakpoints: number[], token: number): Promise<Stop> {
    const read = this.watchReader(watched);
    const from = this.timeline.position;
    const hit = breakpoints.length ? await this.scanForward(breakpoints, token) : undefined;
    if (this.cancelled(token)) return this.here();
    const until = hit?.reason === 'breakpoint' ? hit.at : Number.MAX_SAFE_INTEGER;
    if (hit) this.timeline.runTo(from);
    const stop = await this.move(this.timeline.continueWatchRun(read, until), token);
    if (stop.reason !== 'watch' && stop.at >= until && hit) return { ...this.timeline.runTo(hit.at), reason: hit.reason, eip: hit.eip };
    return stop;
  }

  /** Data breakpoints backwards: the last write before here; with breakpoints too, whichever is later. */
  private async watchBackward(watched: Watch[], breakpoints: number[], token: number): Promise<Stop> {
    const from = this.timeline.position;
    const hit = breakpoints.length ? await this.reverseContinue(breakpoints, token) : undefined;
    if (this.cancelled(token)) return this.here();
    if (hit) this.timeline.runTo(from);
    const written = await this.move(this.timeline.reverseWatchRun(this.watchReader(watched), RUN_SLICE), token);
    if (this.cancelled(token)) return written;
    if (!hit || hit.reason !== 'breakpoint' || written.reason === 'watch' && written.at >= hit.at) return written;
    this.timeline.runTo(from);
    return this.reverseContinue(breakpoints, token);
  }

  /** What the watched memory holds now, as one string (unmapped pages say so). */
  private watchReader(watched: Watch[]): () => string {
    const machine = this.machine;
    const piece = ({ physical, length }: { physical?: number; length: number }) => {
      if (physical === undefined || physical + length > machine.memory.length) return `-${length}`;
      return Buffer.from(machine.readPhysical(physical, length)).toString('latin1');
    };
    const range = ({ address, length }: Watch) => [...physicalPieces(machine, address, length)].map(piece).join('');
    return () => watched.map(range).join('|');
  }

  private here(): Stop {
    const { machine, timeline } = this;
    const at = machine.instructions;
    const reason = machine.isEnded ? 'ended' : at === timeline.frontier ? 'frontier' : 'exact';
    return { at, reason, halted: machine.isHalted };
  }

  // ---- inspecting and changing ----

  private stateResult(): DebugResult {
    return { kind: 'state', state: this.state() };
  }

  state(): DebugState {
    const { machine, timeline } = this;
    const registers = machine.registers;
    const position = machine.instructions;
    const step = timeline.sliceAt(position);
    return {
      position,
      frontier: timeline.frontier,
      start: timeline.start,
      live: position === timeline.frontier,
      held: this.env.held?.() ?? true,
      halted: machine.isHalted,
      ended: machine.isEnded,
      registers,
      bits: registers.cr0 & 1 ? 32 : 16,
      entry: this.entry,
      trail: timeline.trail,
      guestTimeMs: machine.guestTimeMs,
      epoch: this.epochs.filter((e) => e.at <= position).at(-1)?.index ?? 0,
      ...(step ? { slice: { from: step.from, to: step.to, idle: step.idle } } : {}),
      log: this.logPosition(position),
      heldOutputs: (this.env.heldOutputs?.() ?? []).map((o) => outputNote(o, 'held', performance.now() - o.heldAt)),
      stop: this.lastStop,
    };
  }

  private logPosition(position: number): LogPosition {
    const entries = this.env.entries?.() ?? [];
    const applied = lastAtOrBefore(entries, position, (e) => e.at);
    return {
      lastSeq: entries.at(-1)?.seq ?? 0,
      applied: applied < 0 ? 0 : entries[applied].seq,
      pending: entries.length - applied - 1,
      acked: this.env.acked?.() ?? 0,
    };
  }

  private entries(from: number, count: number, kinds?: EntryKind[]): DebugResult {
    const all = this.env.entries?.() ?? [];
    const wanted = kinds?.length ? all.filter((e) => kinds.includes(e.kind)) : all;
    const first = wanted.findIndex((e) => e.seq >= from);
    const picked = first < 0 ? [] : wanted.slice(first, first + count);
    return { kind: 'entries', entries: picked.map(entryNote), total: wanted.length };
  }

  private read(address: number, length: number): DebugResult {
    const bytes = new Uint8Array(length);
    let readable = 0;
    for (const { physical, length: chunk } of physicalPieces(this.machine, address, length)) {
      if (physical === undefined || physical + chunk > this.machine.memory.length) break;
      bytes.set(this.machine.readPhysical(physical, chunk), readable);
      readable += chunk;
    }
    return { kind: 'bytes', address, data: Buffer.from(bytes.subarray(0, readable)).toString('base64'), unreadable: length - readable };
  }

  /** Writes at the live edge only: a change to the past would be undone by the next replay of it. */
  private write(address: number, bytes: Uint8Array): void {
    this.requireLive('memory');
    const pieces: { physical: number; data: Uint8Array }[] = [];
    for (const { offset, linear, physical, length } of physicalPieces(this.machine, address, bytes.length)) {
      if (physical === undefined) throw new RangeError(`address 0x${linear.toString(16)} is not mapped`);
      pieces.push({ physical, data: bytes.subarray(offset, offset + length) });
    }
    // All or nothing: an unmapped page anywhere refuses the whole write.
    this.timeline.changeAtFrontier(() => {
      pieces.forEach(({ physical, data }) => this.machine.writePhysical(physical, data));
    });
  }

  private setRegister(name: string, value: number): void {
    const register = name.toLowerCase() as WritableRegister;
    if (register !== 'eip' && !(REGISTER_NAMES as readonly string[]).includes(register)) {
      throw new RangeError(`register '${name}' cannot be set (only ${REGISTER_NAMES.join(', ')} and eip)`);
    }
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff) throw new RangeError(`a 32-bit value is needed for ${name}, got ${value}`);
    this.requireLive('a register');
    this.timeline.changeAtFrontier(() => this.machine.writeRegister(register, value));
  }

  private requireLive(what: string): void {
    const { timeline } = this;
    if (timeline.position !== timeline.frontier) {
      throw new Error(`${what} can only be written at the live edge (instruction ${timeline.frontier}); this machine is at ${timeline.position}, in its recorded past: run to ${timeline.frontier} first`);
    }
    timeline.returnToFrontier();
  }
}

function count(name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) throw new RangeError(`${name} must be a whole number from 0 to ${max}, got ${JSON.stringify(value)}`);
  return value;
}

function watches(values: unknown): Watch[] {
  if (!Array.isArray(values)) throw new RangeError(`watches must be a list of memory ranges, got ${JSON.stringify(values)}`);
  return values.map((w: Partial<Watch>) => ({
    address: count('watched address', w?.address, 0xffffffff),
    length: count('watched length', w?.length, MAX_WATCH),
  }));
}

function addresses(values: unknown): number[] {
  if (!Array.isArray(values)) throw new RangeError(`breakpoints must be a list of addresses, got ${JSON.stringify(values)}`);
  return values.map((v) => count('breakpoint address', v));
}

// ---- the host's piece ----

export interface HostDebugEnvironment extends DebugEnvironment, PanelSource {}

/**
 * A host's debugger: the hold on the role's loop, the MachineDebugger once the role has a machine (a
 * cloned backup gets one later), the log as this host has it, and the panel's stream of new entries
 * and outputs (PanelStream).
 */
export class HostDebugger {
  private debugger: MachineDebugger | undefined;
  /** Checkpoint mode's backup, which has no machine of its own: what it shows instead. */
  private checkpoints: CheckpointView | undefined;
  private held: boolean;
  /** Operations received, and the last one that took the machine (held it). */
  private received = 0;
  private lastHold = 0;
  private readonly log: LogEntry[] = [];
  private readonly panel: PanelStream;
  /** Where the last operation left the machine: what the debugger shows (outputs after it stay held). */
  private shown = 0;

  constructor(
    private readonly id: string,
    config: HostDebugConfig,
    private readonly env: HostDebugEnvironment,
    private readonly send: (report: HostReport) => void,
  ) {
    this.held = config.hold;
    this.panel = new PanelStream(id, this.log, env, send);
  }

  /** The role's machine exists (booted or restored) and takes its values from `source`. */
  attach(machine: Machine, source: Nondeterminism): void {
    this.checkpoints?.destroy();
    this.checkpoints = undefined;
    this.debugger = new MachineDebugger(machine, source, {
      ...this.env,
      entries: () => this.log,
      held: () => this.held,
    });
    this.shown = machine.instructions;
  }

  useSource(source: Nondeterminism): void {
    this.debugger?.useSource(source);
  }

  /** Checkpoint mode's backup: until it has a machine (goes live), it shows its checkpoints. */
  showCheckpoints(source: CheckpointSource): void {
    this.checkpoints = new CheckpointView(this.id, source);
  }

  noteEntry(entry: LogEntry): void {
    this.log.push(entry);
  }

  /** The role's loop must not run the machine now. */
  get holds(): boolean {
    return this.held;
  }

  /** How far the role has run its machine (the timeline's frontier); none before it has one. */
  get frontier(): number | undefined {
    return this.debugger?.timeline.frontier;
  }

  /** Where the debugger holds the machine; none while the role runs it. */
  get position(): number | undefined {
    return this.held && this.debugger ? this.debugger.machine.instructions : undefined;
  }

  /**
   * The last count whose outputs may be released: while held, where the debugger last stopped the
   * machine. An operation under way does not count: it may run past its stop to record a whole slice.
   */
  get shownUpTo(): number {
    return this.held && this.debugger ? this.shown : Infinity;
  }

  isHistory(at: number): boolean {
    return this.debugger?.isHistory(at) ?? false;
  }

  /** The role needs its machine now (a backup going live): back to its frontier, live, and let go. */
  takeBack(): void {
    this.debugger?.cancel();
    this.debugger?.timeline.returnToFrontier();
    this.held = false;
  }

  command(request: number, op: DebugOp): void {
    this.execute(op).then(
      (result) => this.send({ type: 'debug-reply', id: this.id, request, result }),
      (error: Error) => this.send({ type: 'debug-reply', id: this.id, request, error: error.message || String(error) }),
    );
  }

  private async execute(op: DebugOp): Promise<DebugResult | undefined> {
    if (!op || typeof op !== 'object') throw new RangeError(`not a debug operation: ${JSON.stringify(op)}`);
    // At once: the loop must not run another batch once the debugger has asked for the machine.
    const arrival = ++this.received;
    if (op.op !== 'resume' && MOVES.has(op.op)) {
      this.held = true;
      this.lastHold = arrival;
    }
    if (!this.debugger && this.checkpoints) return this.checkpoints.execute(op);
    if (!this.debugger) {
      if (op.op === 'resume') this.held = false;
      if (op.op === 'pause' || op.op === 'resume') return undefined;
      const reason = `${this.id} has no machine yet (it is being cloned from the primary)`;
      if (op.op === 'state') return { kind: 'waiting', reason };
      throw new Error(reason);
    }
    try {
      const result = await this.debugger.execute(op);
      // Not if a pause (or any movement) came after it: that one holds the machine where it stopped.
      if (op.op === 'resume' && this.lastHold < arrival) this.held = false;
      return result;
    } finally {
      this.shown = this.debugger.machine.instructions;
      this.env.outputRule()?.reveal();
    }
  }

  stop(): void {
    this.panel.stop();
    this.checkpoints?.destroy();
  }
}

/** Operations that move the machine (and so take it from the role's loop). */
const MOVES = new Set<DebugOp['op']>(['pause', 'resume', 'runTo', 'step', 'stepBack', 'continue', 'reverseContinue', 'write', 'writeDisk', 'setRegister']);
