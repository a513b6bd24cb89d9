// The backup (VM-FT §2): replays the primary's log in lockstep. It applies each entry at exactly the
// recorded instruction count, never runs past what the primary is known to have logged, drops its
// own outputs, compares epoch hashes (a mismatch is a divergence), and when the primary goes silent
// it applies everything it received, claims the arbiter and goes live. Its ack thread (ackthread.ts)
// acknowledges entries as they arrive and heartbeats the primary, whatever the replay is doing.
import { AckThread, type LogChannel } from '../channel';
import { Detector } from './detector';
import {
  differingPages,
  DiskWrite,
  Epoch,
  InputEvent,
  resolveSpec,
  Machine,
  MachineOptions,
  prefault,
  ReplayDivergence,
  Replayer,
} from '../machine';
import { HostContext } from './hostcontext';
import { connectToPrimary } from './primarylink';
import { passesBoundary, type Frame, type LogEntry, type OutputEntry } from '../log';
import type { Divergence } from '../cluster';
import { Wakeup } from './wakeup';

/** Small: acks (and so the primary's held outputs) wait for the batch in progress. */
const BATCH_INSTRUCTIONS = 250_000;
/** A batch of slow slices ends early: heartbeats go out between batches (see BATCH_MS in primary.ts). */
const BATCH_MS = 50;
const KEPT_EPOCHS = 16;

export class Backup {
  machine: Machine | undefined;
  private readonly replayer = new Replayer();
  /** The next log seq wanted. */
  private expected = 1;
  /**
   * A boundary the primary is known to have reached, with every entry before it received: the backup
   * never starts a step at or past it.
   */
  private progress = 0;
  private channel: LogChannel | undefined;
  private ackThread: AckThread | undefined;
  private readonly detector: Detector;
  private readonly primaryEpochs = new Map<number, { at: number; hash: string }>();
  private readonly ownEpochs = new Map<number, Epoch>();
  private readonly divergences = new Map<number, Divergence>();
  /** Disk writes received that the primary has not said it released (shared mode): re-issued at go-live. */
  private unreleasedWrites: OutputEntry[] = [];
  /** Frames received that the primary has not said it released: sent again at go-live. */
  private unreleasedFrames: OutputEntry[] = [];
  /**
   * A clone may go live only once it has the primary's `protect` entry: a primary alone released outputs while the
   * checkpoint travelled, and that entry follows every one of them in the log.
   */
  private protecting: boolean;
  /** A clone: the seq its checkpoint was taken at. */
  private clonedAt: number | undefined;
  private checkpoint: Uint8Array[] | undefined;
  private checkpointChunks = 0;
  private running = true;
  private goingLive = false;
  /** When the backup asked for a resend not yet answered (performance.now()). */
  private resendAskedAt: number | undefined;
  private readonly wakeup = new Wakeup();
  private slowMs = 0;
  duplicatesDropped = 0;
  gapsSeen = 0;
  resendRequests = 0;
  corruptFrames = 0;

  constructor(private readonly host: HostContext) {
    this.protecting = !host.config.clone;
    this.detector = new Detector(host.config.detector);
    // Under a view service the backup goes live when a view names it primary, not on its own suspicion.
    this.detector.on('suspect', (silentMs) => { if (!host.config.views) void this.goLive(`no word from the primary for ${Math.round(silentMs)} ms`); });
  }

  get instructions(): number {
    return this.machine?.instructions ?? 0;
  }

  /** A backup being cloned: checkpoint chunks received of how many (0 before the first arrives). */
  get cloning(): { received: number; total: number } | undefined {
    if (this.machine || !this.host.config.clone) return undefined;
    return { received: this.checkpoint?.length ?? 0, total: this.checkpointChunks };
  }

  get receivedSeq(): number {
    return this.expected - 1;
  }

  /**
   * It could go live: it has its machine (booted, or its clone restored) and, a clone, the primary's `protect` entry
   * (what a view service must know before it counts this backup initialised: goLive refuses a clone without it).
   */
  get initialised(): boolean {
    return this.machine !== undefined && this.protecting;
  }

  /** How far the primary is known to have logged everything: the backup may replay that far. */
  get replayableTo(): number {
    return this.progress;
  }

  get divergenceList(): Divergence[] {
    return [...this.divergences.values()];
  }

  /** The latest outputs' turnarounds, arrival to ack sent (ms): the backup's share of the Output Rule delay. */
  get ackTurnaroundsMs(): readonly number[] {
    return this.ackThread?.turnaroundsMs ?? [];
  }

  /** Boots the machine first (unless it is to be cloned): that takes a while, and no log is waiting yet. */
  async start(): Promise<void> {
    this.ackThread = new AckThread(this.host.config.detector.heartbeatMs, (error) => this.host.halt(`the ack thread failed: ${error.stack ?? error.message}`));
    if (!this.host.config.clone) this.setMachine(await this.prefaulted(Machine.create(this.machineOptions())));
    await this.connect();
    this.detector.start();
    void this.loop();
  }

  private async connect(): Promise<void> {
    const channel = await connectToPrimary(this.host, {
      open: (options) => this.ackThread!.connect(options),
      wanted: () => this.running && !this.goingLive,
      frame: (frame) => this.receive(frame),
      closed: (error) => {
        if (error?.name === 'LogFormatError') this.corruptFrames++;
        if (this.running && !this.goingLive) void this.connect();
      },
    });
    if (channel) this.attach(channel);
  }

  private attach(channel: LogChannel): void {
    this.channel = channel;
    const wantsClone = this.host.config.clone && !this.machine && !this.checkpoint;
    this.resendAskedAt = performance.now();
    channel.send({ kind: 'resend-from', seq: wantsClone ? 0 : this.expected, at: this.instructions });
  }

  private send(frame: Frame): void {
    if (this.channel && !this.channel.isClosed) this.channel.send(frame);
  }

  // ---- receiving the log ----

  private receive(frame: Frame): void {
    this.detector.heard();
    switch (frame.kind) {
      case 'heartbeat': return this.primaryProgress(frame.seq, frame.at);
      case 'checkpoint': return this.receiveCheckpoint(frame.seq, frame.at, frame.index, frame.total, frame.data);
      case 'pages': return this.comparePages(frame.epoch, frame.hashes);
      case 'released': return this.released(frame.seq);
      case 'input': case 'nondet': case 'epoch': case 'output': case 'control': return this.receiveEntry(frame);
      default: return;
    }
  }

  private receiveEntry(entry: LogEntry): void {
    if (entry.seq < this.expected) {
      this.duplicatesDropped++;
      return;
    }
    if (entry.seq > this.expected) return this.gap();
    this.expected++;
    this.resendAskedAt = undefined;
    if (passesBoundary(entry)) this.progress = Math.max(this.progress, entry.at);
    this.host.record(entry);
    if (entry.kind === 'input' || entry.kind === 'nondet') this.replayer.push(entry);
    else if (entry.kind === 'output' && entry.device === 'disk') this.unreleasedWrites.push(entry);
    else if (entry.kind === 'output' && entry.device === 'net') this.unreleasedFrames.push(entry);
    else if (entry.kind === 'control' && entry.op === 'protect') this.protecting ||= this.isOwn(entry.detail);
    else if (entry.kind === 'epoch') {
      this.primaryEpochs.set(entry.epoch, { at: entry.at, hash: entry.hash });
      this.compareEpoch(entry.epoch);
    }
    this.wakeup.wake();
  }

  /**
   * A missing entry (dropped or reordered): never apply past it; ask for it again. The resend can be
   * lost too: a gap still there a heartbeat period after asking is asked for again.
   */
  private gap(): void {
    this.gapsSeen++;
    // A backup waiting to be cloned asked for a checkpoint, not for entries: the primary sends it at its next epoch.
    if (!this.machine && this.host.config.clone) return;
    const now = performance.now();
    if (this.resendAskedAt !== undefined && now - this.resendAskedAt < this.host.config.detector.heartbeatMs) return;
    this.resendAskedAt = now;
    this.resendRequests++;
    this.send({ kind: 'resend-from', seq: this.expected, at: this.instructions });
  }

  /**
   * A `protect` entry for this clone: it names the seq of the clone's checkpoint (one logged for another clone of the
   * same primary does not say the primary counts this one). An entry without it (an older primary's) counts.
   */
  private isOwn(detail: string): boolean {
    const { clonedAt } = JSON.parse(detail) as { clonedAt?: number };
    return clonedAt === undefined || clonedAt === this.clonedAt;
  }

  private released(seq: number): void {
    this.unreleasedWrites = after(this.unreleasedWrites, seq);
    this.unreleasedFrames = after(this.unreleasedFrames, seq);
  }

  private primaryProgress(seq: number, at: number): void {
    if (seq >= this.expected) return this.gap();
    this.progress = Math.max(this.progress, at);
    this.wakeup.wake();
  }

  private receiveCheckpoint(seq: number, at: number, index: number, total: number, data: Uint8Array): void {
    if (this.machine) return this.refuseClone(index);
    if (index === 0) {
      this.clonedAt = seq;
      this.checkpoint = [];
      this.checkpointChunks = total;
      this.expected = seq + 1;
      this.progress = at;
      this.host.recordFrom(seq);
    }
    if (!this.checkpoint || index !== this.checkpoint.length) return this.host.halt(`checkpoint chunk ${index} of ${total} arrived out of order`);
    this.checkpoint.push(data);
    if (this.checkpoint.length !== total) return;
    const snapshot = this.takeLocalDisk(Buffer.concat(this.checkpoint));
    if (snapshot) void this.restore(snapshot);
  }

  /**
   * A checkpoint for a backup that has a machine: the primary cannot resume its log (it went on without it, having
   * declared it dead), and a machine is not replaced in place. Asking again would only get it cloned at every epoch:
   * it halts, its channel closes, and the primary's loss of its backup brings a fresh clone.
   */
  private refuseClone(index: number): void {
    if (index !== 0) return;
    this.host.halt(`the primary cannot resume this backup's log from seq ${this.expected} (it sent a checkpoint): a backup with a machine is not cloned in place`);
  }

  /** Local mode: the primary's disk copy follows the snapshot (its last `size` bytes); it becomes this host's copy. */
  private takeLocalDisk(received: Uint8Array): Uint8Array | undefined {
    const disk = this.host.config.disk;
    if (disk?.mode !== 'local') return received;
    const snapshotBytes = received.length - disk.size;
    if (snapshotBytes <= 0) return void this.host.halt(`a clone of ${received.length} bytes cannot carry a ${disk.size}-byte disk`);
    this.host.localDisk(received.subarray(snapshotBytes));
    return received.subarray(0, snapshotBytes);
  }

  private machineOptions(): MachineOptions {
    return { ...resolveSpec(this.host.config).settings, nondet: this.replayer, disk: this.host.machineDisk() };
  }

  private async restore(snapshot: Uint8Array): Promise<void> {
    this.setMachine(await this.prefaulted(Machine.restore(snapshot, this.machineOptions())));
    this.host.say(`cloned from a checkpoint at instruction ${this.instructions}`);
    await this.host.openSegment();
  }

  /** Guest RAM mapped before the primary watches this backup (prefault.ts). */
  private async prefaulted(creating: Promise<Machine>): Promise<Machine> {
    const machine = await creating;
    prefault(machine.memory, this.host.config.detector.timeoutMs);
    return machine;
  }

  private setMachine(machine: Machine): void {
    this.machine = machine;
    // Local mode: the guest's writes, replayed, go to this host's copy (history a debugger revisits is made already),
    // into the kernel's cache: they are made durable at go-live (localdisk.ts).
    const local = this.host.localDisk();
    const onCopy = (write: DiskWrite, at: number) => {
      if (!this.host.isHistory(at)) local!.writeUnsynced(write);
    };
    if (local) machine.on({ diskWrite: onCopy });
    // A debugger revisiting history repeats epochs: only new ones are compared.
    machine.on({ epoch: (epoch) => { if (!this.host.isHistory(epoch.at)) this.reachEpoch(epoch); } });
    this.host.machineReady(machine, this.replayer);
    // A cloned backup is watched from its first ack on: it says the restore is done, even if no entry comes.
    this.send({ kind: 'ack', seq: this.expected - 1, at: this.instructions });
    this.wakeup.wake();
  }

  // ---- divergence ----

  private reachEpoch(epoch: Epoch): void {
    this.ownEpochs.set(epoch.index, epoch);
    this.ownEpochs.delete(epoch.index - KEPT_EPOCHS);
    this.host.noteEpoch(epoch);
    this.compareEpoch(epoch.index);
  }

  private compareEpoch(index: number): void {
    const mine = this.ownEpochs.get(index);
    const theirs = this.primaryEpochs.get(index);
    if (!mine || !theirs) return;
    this.primaryEpochs.delete(index);
    if (mine.hash === theirs.hash && mine.at === theirs.at) return;
    const divergence: Divergence = {
      epoch: index,
      at: mine.at,
      primaryHash: theirs.hash,
      backupHash: mine.hash,
      pages: [],
      parts: mine.hash.slice(16) === theirs.hash.slice(16) ? [] : ['cpu or devices'],
    };
    this.divergences.set(index, divergence);
    this.host.report({ type: 'divergence', id: this.host.config.id, divergence });
    this.send({ kind: 'pages', epoch: index, at: mine.at, hashes: new Uint8Array(0) });
  }

  private comparePages(epoch: number, hashes: Uint8Array): void {
    const divergence = this.divergences.get(epoch);
    const mine = this.ownEpochs.get(epoch);
    if (!divergence || !mine || hashes.length === 0) return;
    const theirs = new BigUint64Array(hashes.slice().buffer);
    divergence.pages = differingPages(theirs.subarray(0, mine.pages.length), mine.pages);
    if (mine.disk) divergence.blocks = differingPages(theirs.subarray(mine.pages.length), mine.disk);
    this.host.report({ type: 'divergence', id: this.host.config.id, divergence });
  }

  // ---- replaying ----

  private async loop(): Promise<void> {
    while (this.running && !this.goingLive) {
      const machine = this.machine;
      if (!machine || machine.isEnded || machine.instructions >= this.progress || this.host.debuggerHolds()) {
        await this.idle();
        continue;
      }
      if (!this.replay(machine, Math.min(this.progress, machine.instructions + BATCH_INSTRUCTIONS))) return;
      this.ackThread!.instructions = machine.instructions;
      if (this.slowMs) await new Promise((resolve) => setTimeout(resolve, this.slowMs));
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Replays all that was received (a batch ends after BATCH_MS, so batch after batch: one batch alone
   * left the ops of a lagging backup unapplied, and a new primary without acknowledged operations).
   * Stops where a batch makes no progress (a limit of the host's, the guest's end).
   */
  private replayAll(machine: Machine): boolean {
    for (;;) {
      const before = machine.instructions;
      if (!this.replay(machine, this.progress)) return false;
      if (machine.isEnded || machine.instructions >= this.progress || machine.instructions === before) return true;
    }
  }

  /** Replays up to `limit`; false when the log and this machine disagree (reported). */
  private replay(machine: Machine, limit: number): boolean {
    try {
      const deadline = performance.now() + BATCH_MS;
      machine.run(this.host.limit(limit), () => performance.now() > deadline);
      this.host.afterBatch(machine);
      return true;
    } catch (error) {
      if (!(error instanceof ReplayDivergence)) throw error;
      this.host.report({
        type: 'divergence',
        id: this.host.config.id,
        divergence: { epoch: -1, at: error.at, primaryHash: '', backupHash: '', pages: [], parts: [error.message] },
      });
      this.host.halt(error.message);
      return false;
    }
  }

  private idle(): Promise<void> {
    return this.wakeup.sleep(50);
  }

  // ---- going live ----

  /** The primary is gone (or unreachable): apply all that was received, then claim the arbiter. */
  async goLive(reason: string): Promise<void> {
    if (this.goingLive) return;
    this.goingLive = true;
    const silentSince = performance.now() - this.detector.silentMs;
    this.detector.stop();
    // Everything the primary saw acknowledged must be replayed before going live.
    this.ackThread?.fence();
    this.channel?.destroy();
    this.ackThread?.stop();
    const machine = this.machine;
    if (!machine) return this.host.halt(`the primary is gone before this backup had a machine (${reason})`);
    if (!this.protecting) return this.host.halt(`the primary is gone before it protected its outputs with this clone (${reason})`);
    this.host.takeMachineBack();
    if (!this.replayAll(machine)) return;
    const claim = this.host.claim();
    if (!claim.won) return this.host.halt(`lost the arbiter to ${claim.holder} (${reason})`);
    const leftoverInputs = this.leftoverInputs(machine.instructions);
    const resend = this.unreleasedFrames;
    const takeover = { reason, leftoverInputs, reissue: this.unreleasedWrites, resend, silentSince };
    await this.host.becomePrimary(machine, this.expected - 1, takeover);
  }

  /** Inputs logged at the boundary where replay stopped but not yet delivered: the new primary delivers them there. */
  private leftoverInputs(at: number): InputEvent[] {
    return this.replayer.inputsAt(at);
  }

  /**
   * Replays to `at`, the primary's end (it has every entry up to there: the primary waited for the
   * acks), or until the guest ends, the replay fails or this backup goes live.
   */
  async finish(at: number): Promise<void> {
    while (this.running && !this.goingLive && this.machine && !this.machine.isEnded && this.machine.instructions < at) {
      await this.wakeup.sleep(10);
    }
  }

  slow(ms: number): void {
    this.slowMs = ms;
  }

  get logChannel(): LogChannel | undefined {
    return this.channel;
  }

  stop(): void {
    this.running = false;
    this.detector.stop();
    void this.channel?.close('backup stopping').finally(() => this.ackThread?.stop());
    this.wakeup.wake();
  }
}

/** The outputs of `outputs` (in seq order) after seq `seq`. */
function after(outputs: OutputEntry[], seq: number): OutputEntry[] {
  const first = outputs.findIndex((output) => output.seq > seq);
  return first < 0 ? [] : outputs.slice(first);
}
