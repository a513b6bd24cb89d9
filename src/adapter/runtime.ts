// The debugger's model of a session, without DAP: threads (one machine each), where they stand, and
// the movements a developer asks for. A live FT pair (ftRuntime.ts) and a machine in this process
// (localRuntime.ts: a log replay or a single machine) differ in where their machines live and in
// what else they offer (faults, failover, the channel's figures); the rules here are shared:
//  - Moving to a place (pause, run to an instruction, breakpoint runs either way) moves the lead
//    machine (the primary, which the others' logs come from) and then brings every other machine to
//    the same instruction count, so they can be compared. Single steps move one thread only.
//  - A stop is reported once every machine has arrived, with the reason and the count.
import { EventEmitter } from 'node:events';
import type { DebugOp, DebugState, EntryNote, EpochNote, Watch } from '../ft/cluster';
import type { Stop } from '../ft/debug';
import type { Start } from './launch';
import type { EntryView, LockstepEvents } from './protocol';
import { count, hex } from './format';
import { Target, stateOf } from './targets';

export interface StopNote {
  reason: string;
  threadId: number;
  /** Short: VS Code shows it beside the stopped thread. */
  description: string;
  text?: string;
}

export type CustomEvent = { [K in keyof LockstepEvents]: { event: K; body: LockstepEvents[K] } }[keyof LockstepEvents];

type RuntimeEvents = {
  stopped: [note: StopNote];
  thread: [reason: 'started' | 'exited', threadId: number];
  output: [category: 'console' | 'stderr', text: string];
  custom: [event: CustomEvent];
  terminated: [];
};

/** What the divergence scope shows: the last epoch both sides hashed, and divergences found. */
export interface DivergenceView {
  lastCompared?: { epoch: number; at: number; hashes: Record<string, string>; equal: boolean };
  divergences: { epoch: number; at: number; hashes: Record<string, string>; pages: number[]; parts: string[] }[];
}

interface Movement {
  /** The operation the lead machine performs. */
  op: DebugOp;
  /** Bring the other machines to the lead's count afterwards. */
  follow: boolean;
  /** Let the other machines run live meanwhile (they follow the lead's new log). */
  othersRun?: boolean;
  /** The stopped event's reason, from where the lead stopped. */
  reason: (state: DebugState) => string;
  /** The thread the stopped event names (default: the lead's). */
  threadId?: number;
  /** The stopped event's description, from where the lead stopped (default: describeStop's). */
  description?: (state: DebugState) => string | undefined;
}

export class SessionBusy extends Error {
  override name = 'SessionBusy';
}

export abstract class Runtime extends EventEmitter<RuntimeEvents> {
  protected readonly targets = new Map<number, Target>();
  protected breakpoints: number[] = [];
  /** Data breakpoints: memory ranges to stop at when written. */
  protected watches: Watch[] = [];
  protected readonly startedAt = performance.now();
  /** Every machine runs on its own (an FT pair resumed), until something stops them. */
  protected freeRunning = false;
  /** A movement is under way; a pause or an event cuts it short with this reason. */
  private moving = false;
  private cutShort: { reason: string; description?: string } | undefined;
  private readonly states = new Map<number, Promise<DebugState>>();

  /** Starts the machines (stopped at instruction 0). */
  abstract launch(): Promise<void>;
  abstract terminate(): Promise<void>;
  /** The machine the others follow. */
  protected abstract lead(): Target;
  protected abstract threadName(target: Target): string;
  abstract divergence(): Promise<DivergenceView>;
  /** Machines that run on their own when let go (an FT pair's hosts); else they move only in movements. */
  protected abstract readonly runsFree: boolean;
  /** Lets every machine run on (runsFree). */
  protected abstract resumeAll(): Promise<void>;

  get time(): number {
    return Math.round(performance.now() - this.startedAt);
  }

  threads(): { id: number; name: string }[] {
    return [...this.targets.values()]
      .sort((a, b) => a.threadId - b.threadId)
      .map((t) => ({ id: t.threadId, name: this.threadName(t) }));
  }

  target(threadId: unknown): Target {
    const target = typeof threadId === 'number' ? this.targets.get(threadId) : undefined;
    if (!target) throw new RangeError(`no thread ${JSON.stringify(threadId)} (threads: ${[...this.targets.keys()].join(', ') || 'none'})`);
    return target;
  }

  get leadThread(): number {
    return this.lead().threadId;
  }

  get isRunning(): boolean {
    return this.freeRunning || this.moving;
  }

  /** The machine's state where it stopped (asked once per stop), or, while it runs, as it is now. */
  state(threadId: number): Promise<DebugState> {
    if (this.isRunning) return stateOf(this.target(threadId));
    let state = this.states.get(threadId);
    if (!state) {
      state = stateOf(this.target(threadId));
      this.states.set(threadId, state);
      state.catch(() => this.states.delete(threadId));
    }
    return state;
  }

  setBreakpoints(addresses: number[]): void {
    this.breakpoints = [...new Set(addresses.map((a) => a >>> 0))];
  }

  setWatches(watches: Watch[]): void {
    this.watches = watches.map(({ address, length }) => ({ address: address >>> 0, length }));
  }

  /** After configuration: stop at the entry, run every machine to `stopAt` and stop there, or run. */
  async begin({ stopOnEntry, stopAt }: Start): Promise<void> {
    if (stopAt !== undefined) {
      // Like continue, this answers configurationDone at once; the stop (or an exception stop) follows.
      void this.move(this.lead(), {
        op: { op: 'runTo', at: stopAt },
        follow: true,
        reason: () => 'goto',
        description: (state) => `stopAt: ${describeStop('goto', state)}`,
      }).catch(() => undefined);
      return;
    }
    if (!stopOnEntry) return this.continue();
    const lead = this.lead();
    this.emitStop('entry', lead.threadId, await this.state(lead.threadId));
  }

  // ---- movements ----

  async continue(): Promise<void> {
    if (this.isRunning) return;
    if (!this.breakpoints.length && !this.watches.length && this.runsFree) {
      // Running from now on: a pause that arrives before the hosts answer stops them again.
      this.freeRunning = true;
      this.states.clear();
      return this.resumeAll();
    }
    void this.move(this.lead(), {
      op: { op: 'continue', breakpoints: this.breakpoints, watches: this.watches },
      follow: true,
      othersRun: true,
      reason: (state) => forwardReason(state.stop),
    }).catch(() => undefined);
  }

  step(threadId: number, back: boolean): Promise<DebugState> {
    this.requireStopped();
    return this.move(this.target(threadId), { op: { op: back ? 'stepBack' : 'step' }, follow: false, reason: (s) => (back && s.stop?.reason === 'start' ? 'start' : 'step') });
  }

  runTo(threadId: number, instruction: number): Promise<DebugState> {
    if (this.moving) throw new SessionBusy('a movement is under way: pause first');
    return this.move(this.lead(), { op: { op: 'runTo', at: instruction }, follow: true, reason: () => 'goto', threadId: this.target(threadId).threadId });
  }

  reverseContinue(threadId: number): Promise<DebugState> {
    this.requireStopped();
    return this.move(this.lead(), {
      op: { op: 'reverseContinue', breakpoints: this.breakpoints, watches: this.watches },
      follow: true,
      reason: (s) => (s.stop?.reason === 'breakpoint' || s.stop?.reason === 'watch' ? forwardReason(s.stop) : 'start'),
      threadId: this.target(threadId).threadId,
    });
  }

  /**
   * Stops everything: cuts a movement short, or holds every machine where the lead is (a free run,
   * a host that went live on its own, threads a single step left apart).
   */
  async pause(reason = 'pause', description?: string): Promise<void> {
    if (this.moving) {
      this.cutShort ??= { reason, description };
      await Promise.all([...this.targets.values()].map((t) => t.request({ op: 'pause' }).catch(() => undefined)));
      return;
    }
    await this.move(this.lead(), { op: { op: 'pause' }, follow: true, reason: () => reason, description: () => description }).catch(() => undefined);
  }

  private requireStopped(): void {
    if (this.isRunning) throw new SessionBusy('the session is running: pause it first');
  }

  private async move(lead: Target, movement: Movement): Promise<DebugState> {
    this.freeRunning = false;
    this.moving = true;
    this.cutShort = undefined;
    this.states.clear();
    const threadId = movement.threadId ?? lead.threadId;
    try {
      if (movement.othersRun) await this.resumeOthers(lead);
      const state = await stateOf(lead, movement.op);
      this.states.set(lead.threadId, Promise.resolve(state));
      if (movement.follow) await this.follow(lead, state);
      const cut = this.cutShort as { reason: string; description?: string } | undefined;
      this.moving = false;
      if (cut) this.emitStop(cut.reason, threadId, state, cut.description);
      else this.emitStop(movement.reason(state), threadId, state, movement.description?.(state));
      return state;
    } catch (error) {
      this.moving = false;
      this.states.clear();
      this.emit('stopped', { reason: 'exception', threadId, description: (error as Error).message, text: (error as Error).message });
      throw error;
    }
  }

  private others(lead: Target): Target[] {
    return [...this.targets.values()].filter((t) => t !== lead);
  }

  private async resumeOthers(lead: Target): Promise<void> {
    await Promise.all(this.others(lead).map((t) => t.request({ op: 'resume' }).catch(() => undefined)));
  }

  /** Brings every other machine to the lead's count (a backup may first wait for the log to get there). */
  private async follow(lead: Target, state: DebugState): Promise<void> {
    const logged = lead.role === 'primary' ? { at: state.frontier, seq: state.log.lastSeq } : undefined;
    await Promise.all(this.others(lead).map(async (target) => {
      try {
        const reached = await stateOf(target, { op: 'runTo', at: state.position, logged });
        this.states.set(target.threadId, Promise.resolve(reached));
      } catch (error) {
        this.emit('output', 'stderr', `${target.id}: ${(error as Error).message}\n`);
      }
    }));
  }

  protected emitStop(reason: string, threadId: number, state: DebugState, description?: string): void {
    this.emit('stopped', { reason, threadId, description: description ?? describeStop(reason, state), text: description });
  }

  protected forgetStates(): void {
    this.states.clear();
  }

  // ---- inspection shared by every kind of session ----

  async epochs(threadId: number): Promise<EpochNote[]> {
    const result = await this.target(threadId).request({ op: 'epochs' });
    return result?.kind === 'epochs' ? result.epochs : [];
  }

  /** Log entries from seq `from` (of the kinds in `filter`), as the lead machine's side has them. */
  async logEntries(from: number, count: number, filter?: EntryView['kind'][]): Promise<{ entries: EntryView[]; total: number }> {
    const lead = this.lead();
    const result = await lead.request({ op: 'entries', from, count, kinds: filter });
    if (result?.kind !== 'entries') return { entries: [], total: 0 };
    const acked = (await this.state(lead.threadId)).log.acked;
    return { entries: result.entries.map((e) => entryView(e, acked)), total: result.total };
  }

  async write(threadId: number, address: number, data: Uint8Array): Promise<void> {
    this.requireStopped();
    this.states.delete(threadId);
    await this.target(threadId).request({ op: 'write', address, data: Buffer.from(data).toString('base64') });
  }

  async setRegister(threadId: number, name: string, value: number): Promise<DebugState> {
    this.requireStopped();
    this.states.delete(threadId);
    return stateOf(this.target(threadId), { op: 'setRegister', name, value });
  }

  /** Reads linear memory: the bytes that could be read, and how many past them could not. */
  async read(threadId: number, address: number, length: number): Promise<{ data: Uint8Array; unreadable: number }> {
    const result = await this.target(threadId).request({ op: 'read', address, length });
    if (result?.kind !== 'bytes') return { data: new Uint8Array(0), unreadable: length };
    return { data: new Uint8Array(Buffer.from(result.data, 'base64')), unreadable: result.unreadable };
  }
}

export function entryView(note: EntryNote, acked: number): EntryView {
  return { ...note, acked: note.seq <= acked };
}

function forwardReason(stop: Stop | undefined): string {
  if (stop?.reason === 'breakpoint') return 'instruction breakpoint';
  if (stop?.reason === 'watch') return 'data breakpoint';
  if (stop?.reason === 'ended' || stop?.reason === 'frontier') return 'end';
  return 'pause';
}

function describeStop(reason: string, state: DebugState): string {
  const at = `instruction ${count(state.position)}`;
  const stop = state.stop;
  if (reason === 'instruction breakpoint') return `breakpoint at 0x${hex(state.registers.eip)}, ${at}`;
  if (reason === 'data breakpoint') return `watched memory written, ${at}`;
  if (reason === 'end') return state.ended ? `the guest halted for good at ${at}` : `end of the recording at ${at}`;
  if (reason === 'start') return `start of the recording at ${at}`;
  if (reason === 'goto' && stop?.requested !== undefined && stop.requested !== state.position) {
    return `${at} (asked for ${count(stop.requested)}: ${STOP_WHY[stop.reason] ?? stop.reason})`;
  }
  return at;
}

const STOP_WHY: Record<string, string> = {
  halted: 'the guest was halted, waiting for an interrupt',
  sti: 'v86 runs STI together with the next instruction',
  frontier: 'not recorded that far',
  ended: 'the guest ended before',
  start: 'before the start of the recording',
};

