// The debugger's side of a machine: a Timeline over the machine a role runs (or a local one), and the
// operations a debug adapter asks for (control.ts DebugOp): exact stops, single steps forwards and
// backwards, breakpoint runs in both directions, registers, memory, the log. MachineDebugger does
// them; HostDebugger is the piece a host process keeps (host.ts): it holds the role's loop while the
// debugger has the machine, and streams what the panel shows (entries logged, outputs held).
//
// Long operations run in slices with turns of the event loop between them, so a host keeps answering
// heartbeats and acks while it scans, and a `pause` can cut them short. Anything beyond the recorded
// history is recorded as the role would (a primary's new history is logged and sent), and nothing a
// debugger does to the past is visible to the other side: continuing is the unperturbed run.
import type {
  DebugOp, DebugResult, DebugState, EntryNote, EpochNote, HostDebugConfig, HostReport, LoggedPoint, LogPosition, OutputNote,
} from '../cluster';
import { describeEntry, encodeEntry, EntryKind, LogEntry, renderDeviceData } from '../log';
import type { Machine } from '../machine';
import type { InputEvent, Nondeterminism } from '../machine';
import type { HeldOutput, OutputRule } from '../replication';
import { Stop, Timeline } from './timeline';
import { REGISTER_NAMES, WritableRegister } from '../machine';
import { PAGE_SIZE } from '../machine';

/** Checkpoints a debugged machine may keep (the timeline thins them beyond this). */
const CHECKPOINT_BYTES = 512 * 1024 * 1024;
/** Whole-step instructions per turn of the event loop (about 70 ms at 700 MIPS). */
const RUN_SLICE = 50_000_000;
/** Single-instruction scanning per turn (about 150 ms at 25 MIPS). */
const SCAN_SLICE = 4_000_000;
/** A reverse run looks back this far first, then four times as far each time. */
const FIRST_LOOK_BACK = 1_000_000;
const EVENTS_INTERVAL_MS = 250;
const MAX_EVENTS_PER_BATCH = 200;
const OUTPUT_TEXT_BYTES = 200;
/** Largest read in one operation. */
const MAX_READ = 16 * 1024 * 1024;
const CR0_PAGING = 0x80000000;
const CR4_PSE = 0x10;
const CR4_PAE = 0x20;
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

  /**
   * Starts recording `machine`, which takes its values from `source` (at instruction 0, an epoch
   * boundary, or right after a restore: see Timeline).
   */
  constructor(readonly machine: Machine, source: Nondeterminism, private readonly env: DebugEnvironment = {}) {
    this.source = new SwitchableSource(source);
    this.timeline = new Timeline(machine, { source: this.source, available: () => this.available(), checkpointBytes: CHECKPOINT_BYTES });
    machine.observe({ epoch: (epoch) => { if (!this.isHistory(epoch.at)) this.epochs.push({ index: epoch.index, at: epoch.at, hash: epoch.hash }); } });
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
    // Cut short before it began (a pause, or the role took its machine back): nothing moves.
    if (this.cancelled(token) && MOVES.has(op.op)) return this.stateResult();
    switch (op.op) {
      case 'state':
      case 'pause':
        return this.stateResult();
      case 'resume':
        timeline.goLive();
        return this.stateResult();
      case 'runTo':
        return this.moved(await this.runTo(count('instruction', op.at), op.logged, token));
      case 'step':
        return this.moved(timeline.stepInstruction());
      case 'stepBack':
        return this.moved(timeline.stepBack());
      case 'continue':
        return this.moved(addresses(op.breakpoints).length ? await this.scanForward(addresses(op.breakpoints), token) : await this.runFree(token));
      case 'reverseContinue':
        return this.moved(await this.reverseContinue(addresses(op.breakpoints), token));
      case 'read':
        return this.read(count('address', op.address), count('length', op.length, MAX_READ));
      case 'write':
        this.write(count('address', op.address), Buffer.from(op.data, 'base64'));
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
    return this.timeline.runTo(at);
  }

  /**
   * Records on, live, to the first boundary at or past `target` (or as far as the source allows,
   * waiting up to logWaitMs for more): whole steps a slice per turn, as the role itself would run.
   */
  private async advance(target: number, token: number): Promise<void> {
    const machine = this.machine;
    const deadline = performance.now() + (this.env.logWaitMs ?? 0);
    this.timeline.goLive();
    while (!this.cancelled(token) && !machine.isEnded && machine.instructions < target) {
      const limit = Math.min(target, machine.instructions + RUN_SLICE, this.available());
      if (limit > machine.instructions) machine.run(limit);
      else if (performance.now() < deadline) await sleep(20);
      else return;
      await turn();
    }
  }

  /** Runs on with no breakpoints, as far as the source allows (a log's end) or until paused. */
  private async runFree(token: number): Promise<Stop> {
    await this.advance(Number.MAX_SAFE_INTEGER, token);
    return this.here();
  }

  private async scanForward(breakpoints: number[], token: number): Promise<Stop> {
    for (let stop = this.here(); !this.cancelled(token); await turn()) {
      stop = this.timeline.continue({ breakpoints, until: this.timeline.position + SCAN_SLICE });
      if (SCAN_ENDS.has(stop.reason)) return stop;
    }
    return this.here();
  }

  /**
   * To the last breakpoint stop before the current position: scans ever longer stretches before it,
   * each forwards, counting stops, then scans the stretch with hits again to the last one (the same
   * route as a forward run takes, so it is the same state).
   */
  private async reverseContinue(breakpoints: number[], token: number): Promise<Stop> {
    const timeline = this.timeline;
    const before = timeline.position;
    for (let end = before, look = FIRST_LOOK_BACK; end > timeline.start; look *= 4) {
      const from = Math.max(timeline.start, end - look);
      const hits = await this.countHits(from, end, before, breakpoints, token);
      if (hits === undefined) return this.here();
      if (hits > 0) return (await this.nthHit(from, hits, breakpoints, token)) ?? this.here();
      end = from;
    }
    return timeline.runTo(timeline.start);
  }

  /** Breakpoint stops before count `before` between `from` and `end` (undefined when cancelled). */
  private async countHits(from: number, end: number, before: number, breakpoints: number[], token: number): Promise<number | undefined> {
    const timeline = this.timeline;
    timeline.runTo(from);
    let hits = 0;
    for (; !this.cancelled(token); await turn()) {
      const until = Math.min(end, timeline.position + SCAN_SLICE);
      const stop = timeline.continue({ breakpoints, until });
      if (stop.reason === 'breakpoint') hits += stop.at < before ? 1 : 0;
      else if (until === end) return hits;
    }
    return undefined;
  }

  private async nthHit(from: number, n: number, breakpoints: number[], token: number): Promise<Stop | undefined> {
    const timeline = this.timeline;
    timeline.runTo(from);
    for (let hits = 0; !this.cancelled(token); await turn()) {
      const stop = timeline.continue({ breakpoints, until: timeline.position + SCAN_SLICE });
      if (stop.reason === 'breakpoint' && ++hits === n) return stop;
      if (SCAN_ENDS.has(stop.reason) && stop.reason !== 'breakpoint') throw new Error(`breakpoint stop ${n} after ${from} was not found again`);
    }
    return undefined;
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
    const step = timeline.stepAt(position);
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
    const applied = lastIndexAtOrBefore(entries, position);
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
    while (readable < length) {
      const linear = address + readable;
      const physical = this.physical(linear);
      const chunk = Math.min(length - readable, PAGE_SIZE - (linear % PAGE_SIZE));
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
    for (let done = 0; done < bytes.length;) {
      const linear = address + done;
      const physical = this.physical(linear);
      const chunk = Math.min(bytes.length - done, PAGE_SIZE - (linear % PAGE_SIZE));
      if (physical === undefined) throw new RangeError(`address 0x${linear.toString(16)} is not mapped`);
      pieces.push({ physical, data: bytes.subarray(done, done + chunk) });
      done += chunk;
    }
    // All or nothing: an unmapped page anywhere refuses the whole write.
    this.timeline.changeAtFrontier(() => pieces.forEach(({ physical, data }) => this.machine.writePhysical(physical, data)));
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
    timeline.goLive();
  }

  /** Linear to physical (32-bit paging, 4 KiB and 4 MiB pages); undefined when not mapped. */
  private physical(linear: number): number | undefined {
    const { cr0, cr3, cr4 } = this.machine.registers;
    if (!(cr0 & CR0_PAGING)) return linear;
    if (cr4 & CR4_PAE) throw new RangeError('PAE paging is not supported by the debugger');
    const pde = this.word(((cr3 & ~0xfff) >>> 0) + (linear >>> 22) * 4);
    if (pde === undefined || !(pde & 1)) return undefined;
    if (pde & 0x80 && cr4 & CR4_PSE) return ((pde & 0xffc00000) >>> 0) + (linear & 0x3fffff);
    const pte = this.word(((pde & ~0xfff) >>> 0) + ((linear >>> 12) & 0x3ff) * 4);
    if (pte === undefined || !(pte & 1)) return undefined;
    return ((pte & ~0xfff) >>> 0) + (linear & 0xfff);
  }

  private word(physical: number): number | undefined {
    if (physical + 4 > this.machine.memory.length) return undefined;
    return Buffer.from(this.machine.readPhysical(physical, 4)).readUInt32LE(0);
  }
}

function count(name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) throw new RangeError(`${name} must be a whole number from 0 to ${max}, got ${JSON.stringify(value)}`);
  return value;
}

function addresses(values: unknown): number[] {
  if (!Array.isArray(values)) throw new RangeError(`breakpoints must be a list of addresses, got ${JSON.stringify(values)}`);
  return values.map((v) => count('breakpoint address', v));
}

/** Index of the last entry whose count is at or before `at` (entries are in count order), or -1. */
function lastIndexAtOrBefore(entries: readonly LogEntry[], at: number): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (entries[middle].at <= at) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

export function entryNote(entry: LogEntry): EntryNote {
  return { seq: entry.seq, at: entry.at, kind: entry.kind, size: encodeEntry(entry).length, text: describeEntry(entry) };
}

function outputNote(output: OutputEntry, state: OutputNote['state'], heldMs?: number): OutputNote {
  const text = renderDeviceData(output.device, output.data, (bytes) => Buffer.from(bytes.subarray(0, OUTPUT_TEXT_BYTES)).toString('latin1'));
  return { seq: output.seq, at: output.at, text, state, ...(heldMs === undefined ? {} : { heldMs: Math.round(heldMs) }) };
}

// ---- the host's piece ----

export interface HostDebugEnvironment extends DebugEnvironment {
  isPrimary(): boolean;
  /** The primary's Output Rule (a new one after a failover). */
  outputRule(): OutputRule | undefined;
}

type OutputEntry = Extract<LogEntry, { kind: 'output' }>;

/**
 * A host's debugger: the hold on the role's loop, the MachineDebugger once the role has a machine (a
 * cloned backup gets one later), the log as this host has it, and batches of new entries and
 * outputs for the panel (a primary's, at a modest rate).
 */
export class HostDebugger {
  private debugger: MachineDebugger | undefined;
  private held: boolean;
  private readonly log: LogEntry[] = [];
  private reported = 0;
  /** The Output Rule whose releases are being followed, and how many of its releases were reported. */
  private rule: OutputRule | undefined;
  private releasesSeen = 0;
  /** Its outputs not yet released, in seq order (the order it releases them in); those reported held. */
  private unreleased: OutputEntry[] = [];
  private readonly announced = new Set<number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly id: string,
    config: HostDebugConfig,
    private readonly env: HostDebugEnvironment,
    private readonly send: (report: HostReport) => void,
  ) {
    this.held = config.hold;
    this.timer = setInterval(() => this.reportEvents(), EVENTS_INTERVAL_MS);
    this.timer.unref();
  }

  /** The role's machine exists (booted or restored) and takes its values from `source`. */
  attach(machine: Machine, source: Nondeterminism): void {
    this.debugger = new MachineDebugger(machine, source, { ...this.env, entries: () => this.log, held: () => this.held });
  }

  useSource(source: Nondeterminism): void {
    this.debugger?.useSource(source);
  }

  noteEntry(entry: LogEntry): void {
    this.log.push(entry);
  }

  /** The role's loop must not run the machine now. */
  get holds(): boolean {
    return this.held;
  }

  isHistory(at: number): boolean {
    return this.debugger?.isHistory(at) ?? false;
  }

  /** The role needs its machine now (a backup going live): back to its frontier, live, and let go. */
  takeBack(): void {
    this.debugger?.cancel();
    this.debugger?.timeline.goLive();
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
    if (op.op !== 'resume' && MOVES.has(op.op)) this.held = true;
    if (!this.debugger) {
      if (op.op === 'resume') this.held = false;
      if (op.op === 'pause' || op.op === 'resume') return undefined;
      throw new Error(`${this.id} has no machine yet (it is being cloned from the primary)`);
    }
    const result = await this.debugger.execute(op);
    if (op.op === 'resume') this.held = false;
    return result;
  }

  private reportEvents(): void {
    if (!this.env.isPrimary()) {
      this.reported = this.log.length;
      return;
    }
    const fresh = this.log.slice(this.reported);
    this.reported = this.log.length;
    const outputs = this.outputNotes(fresh);
    if (!fresh.length && !outputs.length) return;
    const entries = fresh.slice(-MAX_EVENTS_PER_BATCH).map(entryNote);
    this.send({ type: 'debug-events', id: this.id, entries, skipped: fresh.length - entries.length, acked: this.env.acked?.() ?? 0, outputs: outputs.slice(-MAX_EVENTS_PER_BATCH) });
  }

  /**
   * Outputs held and released since the last batch. The rule releases its outputs in seq order and
   * keeps each one's delay in that order, so the k-th release is the k-th output it was given.
   */
  private outputNotes(fresh: LogEntry[]): OutputNote[] {
    const rule = this.env.outputRule();
    if (rule !== this.rule) {
      this.rule = rule;
      this.releasesSeen = 0;
      this.unreleased = [];
      this.announced.clear();
    }
    if (!rule) return [];
    this.unreleased.push(...fresh.filter((e): e is OutputEntry => e.kind === 'output'));
    const notes: OutputNote[] = [];
    const released = this.unreleased.splice(0, rule.released - this.releasesSeen);
    released.forEach((entry, i) => {
      const heldMs = rule.delayOf(this.releasesSeen + i);
      if (heldMs !== undefined && heldMs >= 1 && !this.announced.has(entry.seq)) notes.push(outputNote(entry, 'held'));
      this.announced.delete(entry.seq);
      notes.push(outputNote(entry, 'released', heldMs));
    });
    this.releasesSeen = rule.released;
    for (const entry of this.unreleased.filter((e) => !this.announced.has(e.seq))) {
      this.announced.add(entry.seq);
      notes.push(outputNote(entry, 'held'));
    }
    return notes;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Operations that move the machine (and so take it from the role's loop). */
const MOVES = new Set<DebugOp['op']>(['pause', 'resume', 'runTo', 'step', 'stepBack', 'continue', 'reverseContinue', 'write', 'setRegister']);
