// The primary (VM-FT §2): runs the guest live, records every input and nondeterministic value with
// its instruction count, streams the log to its backups (backupset.ts; one unless `--backups K`), and
// holds each output until every counted backup has acknowledged it (the Output Rule, outputrule.ts). It
// also serves the service endpoint, clones a new backup from a checkpoint on request, and claims the
// arbiter when its backup goes silent.
import { Channel, ChannelServer, CHECKPOINT_CHUNK, checkpointChunks, listenChannel, sendCheckpointChunks } from '../channel';
import type { Checkpointer } from '../checkpoint';
import { BackupSet } from './backupset';
import { CloneQueue } from './clonequeue';
import { Detector } from './detector';
import { HostContext, Takeover } from './hostcontext';
import { diskPieces, encodeDiskIo, passesBoundary, type Frame, type InputDevice, type LogEntry, type OutputDevice, type OutputEntry } from '../log';
import { DiskWrite, Epoch, Machine, RecordedEvent, Recorder } from '../machine';
import { HeldOutput, OutputRule } from './outputrule';
import { SharedDisk } from './shareddisk';
import type { LocalDisk } from './localdisk';
import { Service } from './service';
import { Wakeup } from './wakeup';
import { Pacer } from './pacer';

/** Inputs waiting for the next boundary past which the service drops frames: a guest that does not run (its backup
 * never acknowledges) would otherwise have them pile up without end. A NIC's ring is a few hundred. */
const MAX_WAITING_INPUTS = 1024;
const BATCH_INSTRUCTIONS = 1_000_000;
/** A batch also ends after this much wall time: a slice can be slow (a BIOS or an early kernel at interpreter
 * speed), and the heartbeat timer only runs between batches. */
const BATCH_MS = 50;
const KEPT_PAGE_EPOCHS = 8;

type Unlogged = LogEntry extends infer E ? (E extends LogEntry ? Omit<E, 'seq'> : never) : never;

function bytesOf(hashes: BigUint64Array): Uint8Array {
  return new Uint8Array(hashes.buffer, hashes.byteOffset, hashes.byteLength);
}

export class Primary {
  readonly recorder: Recorder;
  /** Bytes of checkpoints sent to new backups (part of the channel's bytes: the panel charts them apart). */
  checkpointBytesSent = 0;
  readonly outputRule: OutputRule;
  private machine!: Machine;
  private seq: number;
  private readonly backups = new BackupSet();
  private readonly cloneRequests = new CloneQueue();
  /** Acknowledged by every counted backup (what the Output Rule has been told). */
  private acked: number;
  private server: ChannelServer | undefined;
  readonly service: Service;
  private readonly detector: Detector;
  private readonly pageHashes = new Map<number, Epoch>();
  private running = true;
  private dieMidCheckpoint = false;
  /** The loop is making an epoch for a time-based checkpoint (machine.epochNow). */
  private makingEpoch = false;
  /** Finishing (before a stop): the guest runs no further, so the backup can reach the same end. */
  private finishing = false;
  private protectedFromStart: boolean;
  private readonly wakeup = new Wakeup();
  private slowMs = 0;
  /** A backup gone live: when it last heard from the old primary (its guest catches up the time since). */
  private silentSince: number | undefined;
  private lastBeatSeq = 0;
  /** The newest entry whose arrival tells the backup the primary has reached its count (log.ts, passesBoundary). */
  private lastPassing: LogEntry | undefined;
  /**
   * A clone of this primary, alone until then, has not acknowledged anything yet: outputs go out unprotected and the
   * log is not kept for resending (the clone is cloned again should it ask).
   */
  private cloningAlone = false;
  /** The last output released, and the last the backup was told of (it re-issues disk writes after it). */
  private releasedSeq = 0;
  private releasedSent = 0;
  /** Releases waiting for a disk write before them to be durable, in release order. */
  private releasing: Promise<void> = Promise.resolve();
  private releasesPending = 0;
  /** The shared disk, in shared mode: guest writes are held here until released. */
  private readonly disk: SharedDisk | undefined;
  /** This host's copy, in local mode: guest writes go there at once. */
  private readonly localDisk: LocalDisk | undefined;
  /** Checkpoint replication (Remus): checkpoints instead of the log go to the backup. */
  readonly checkpoints: Checkpointer | undefined;
  entriesSent = 0;

  constructor(
    private readonly host: HostContext,
    lastSeq: number,
    options: { waitForBackup: boolean; disk?: SharedDisk; localDisk?: LocalDisk; checkpoints?: Checkpointer },
  ) {
    this.seq = lastSeq;
    this.checkpoints = options.checkpoints;
    this.acked = lastSeq;
    this.releasedSeq = this.releasedSent = lastSeq;
    this.protectedFromStart = options.waitForBackup;
    this.disk = options.disk;
    this.localDisk = options.localDisk;
    this.recorder = new Recorder((event: RecordedEvent) => this.log(event));
    this.outputRule = new OutputRule((output) => this.release(output), () => this.host.shownUpTo());
    this.service = new Service(host.config.service, {
      line: (line) => this.receiveInput('serial', line),
      frame: (frame) => this.receiveInput('net', frame),
      full: () => this.recorder.pendingCount >= MAX_WAITING_INPUTS,
    });
    this.detector = new Detector(host.config.detector);
    this.detector.on('heartbeat', () => {
      this.heartbeat();
      this.dropDead();
    });
    this.detector.on('suspect', (silentMs) => void this.backupSilent(`no word from the backup for ${Math.round(silentMs)} ms`));
  }

  get channelPort(): number | undefined {
    return this.server?.port;
  }

  get lastSeq(): number {
    return this.seq;
  }

  get ackedSeq(): number {
    return this.acked;
  }

  get backupInstructions(): number | undefined {
    return this.backups.slowestAt;
  }

  /**
   * Starts serving: the logging channel for backups, the service endpoint, and the guest. A backup going live
   * passes `takeover` (hostcontext.ts: why, the inputs, disk writes and frames it hands over).
   */
  async start(machine: Machine, takeover?: Takeover): Promise<void> {
    this.machine = machine;
    // A debugger revisiting history makes the machine repeat outputs and epochs: not new ones. An epoch
    // the loop makes is new though its count is the frontier's (the debugger has recorded the batch).
    machine.on({
      output: (data, at) => this.produceOutput('serial', data, at),
      frame: (frame, at) => this.produceOutput('net', frame, at),
      diskWrite: (write, at) => this.produceDiskWrite(write, at),
      epoch: (epoch) => { if (this.makingEpoch || !this.host.isHistory(epoch.at)) this.reachEpoch(epoch); },
      slice: () => this.backups.endSlice(),
    });
    if (takeover) {
      // Local mode: the writes this host made as the backup, unsynced, are durable before this primary's first output.
      if (this.localDisk) this.afterEarlierReleases(() => this.localDisk!.durable());
      this.service.midLine = takeover.serialMidLine ?? false;
      this.silentSince = takeover.silentSince;
      this.recorder.queueLogged(takeover.leftoverInputs);
      // Written again, in log order: the disk writes the old primary may not have written (the log says which).
      const reissued = takeover.reissue.length ? this.disk!.reissue(takeover.reissue) : undefined;
      const resent = takeover.resend?.length ? { resentFrames: takeover.resend.length } : undefined;
      this.logControl('go-live', { host: this.host.config.id, reason: takeover.reason, ...reissued, ...resent });
      // `lockstep join` follows the hosts whose files have this entry: hand it to the OS now.
      this.host.flushRecording();
    }
    this.server = await listenChannel({ port: 0, secret: this.host.config.secret, role: 'primary', expectPeerRole: 'backup' });
    this.server.on('channel', (channel) => this.accept(channel));
    await this.service.open();
    const service = { host: this.host.config.service.host, port: this.service.port! };
    this.service.tapBridge = await this.host.bridgeTap(service);
    // Before the guest runs on: the receiver fills its gap at once rather than after its sender's retransmission timer.
    for (const frame of takeover?.resend ?? []) this.service.sendFrame(frame.data);
    this.detector.start();
    if (!this.protectedFromStart) this.outputRule.unprotect();
    else setTimeout(() => this.runAloneIfNoBackup(), this.host.config.waitForBackupMs).unref();
    void this.loop();
  }

  private receiveInput(device: InputDevice, data: Uint8Array): void {
    this.recorder.queue(device, data);
    this.wakeup.wake();
  }

  /** Every output is logged as an output marker and held under the Output Rule. */
  private produceOutput(device: OutputDevice, data: Uint8Array, at: number): void {
    if (!this.host.isHistory(at)) this.outputRule.produce(this.log({ kind: 'output', at, device, data }) as OutputEntry);
  }

  /**
   * Shared mode: a disk write is an output, held on the shared disk (reads see it) until released, then
   * written to FILE. Local mode: it goes to this host's copy at once (the backup makes it on its own), and
   * the outputs after it are released once it is durable there.
   */
  private produceDiskWrite(write: DiskWrite, at: number): void {
    if (this.host.isHistory(at)) return;
    if (this.localDisk) {
      const durable = this.localDisk.write(write);
      return this.afterEarlierReleases(() => durable);
    }
    if (!this.disk) return;
    // One held write and one output marker per piece: the Output Rule releases them in the same order.
    for (const { offset, length } of diskPieces(write.offset, write.data.length)) {
      const data = write.data.subarray(offset - write.offset, offset - write.offset + length);
      this.disk.hold({ offset, data });
      this.produceOutput('disk', encodeDiskIo(offset, length, data), at);
    }
  }

  /**
   * The Output Rule lets an output go: to the service, or (a disk write) to FILE. A write is made in the
   * background while the guest runs on; an output after it goes once it is durable.
   */
  private release(output: HeldOutput): void {
    // Checkpoint mode logs each release with the ack it came under: the log's order shows the rule held.
    if (this.checkpoints) this.logControl('release', { output: output.seq, acked: this.acked });
    if (output.device === 'disk') {
      const durable = this.disk!.releaseOldest();
      return this.afterEarlierReleases(() => durable, output.seq);
    }
    const send = () => (output.device === 'net' ? this.service.sendFrame(output.data) : this.service.broadcast(output.data));
    if (this.releasesPending) return this.afterEarlierReleases(send, output.seq);
    send();
    this.releasedSeq = output.seq;
  }

  /**
   * Runs `step` once every release before it is done (a disk write durable), then counts output `seq`, if
   * any, as released (the backup re-issues the writes after it, should this primary fail).
   */
  private afterEarlierReleases(step: () => unknown, seq?: number): void {
    this.releasesPending++;
    this.releasing = this.releasing.then(step).then(() => {
      if (seq !== undefined) this.releasedSeq = seq;
      this.releasesPending--;
    }, (error: Error) => this.host.halt(`could not ${seq === undefined ? 'make a disk write durable' : `release output ${seq}`}: ${error.message}`));
  }

  private log(entry: Unlogged): LogEntry {
    const logged = { ...entry, seq: ++this.seq } as LogEntry;
    if (passesBoundary(logged)) this.lastPassing = logged;
    this.host.record(logged);
    if (this.checkpoints) return logged;
    if ((!this.backups.isEmpty && !this.cloningAlone) || this.protectedFromStart) this.backups.keep(logged);
    this.sendToBackup(logged);
    return logged;
  }

  /**
   * Where the log changes hands (go-live) or a new backup starts from (clone): what a reader of the log needs to
   * see.
   */
  private logControl(op: 'go-live' | 'clone' | 'protect' | 'checkpoint' | 'release', detail: Record<string, unknown>): void {
    this.log({ kind: 'control', at: this.machine.instructions, op, detail: JSON.stringify(detail) });
  }

  private sendToBackup(frame: Frame): void {
    // Log entries only: not the liveness and release notices that go with heartbeats.
    if (this.backups.send(frame) && frame.kind !== 'heartbeat' && frame.kind !== 'released') this.entriesSent++;
  }

  /**
   * To the backup, and to backups waiting to be cloned: this primary is alive, and has logged everything up to the
   * boundary it is at (so the backup may replay that far). `beat` false: the last entry said so (lastEntryEnds).
   */
  private heartbeat(beat = true): void {
    this.lastBeatSeq = this.seq;
    const frame = { kind: 'heartbeat', seq: this.seq, at: this.machine?.instructions ?? 0, role: 'primary' } as const;
    if (beat) {
      this.cloneRequests.send(frame);
      this.sendToBackup(frame);
    }
    // With frames too: a backup going live sends again those it did not hear released.
    if ((this.disk || this.service.framesOut > 0) && this.releasedSeq > this.releasedSent) {
      this.releasedSent = this.releasedSeq;
      this.sendToBackup({ kind: 'released', seq: this.releasedSeq, at: frame.at });
    }
  }

  /** The last entry passes the batch's end (an output or epoch there): the backup may replay that far without a
   * heartbeat, so a reply costs it one frame and one wake-up, not two. (Checkpoint mode sends no entries.) */
  private get lastEntryEnds(): boolean {
    return !this.checkpoints && this.lastPassing?.seq === this.seq && this.lastPassing.at === this.machine.instructions;
  }

  private reachEpoch(epoch: Epoch): void {
    this.log({ kind: 'epoch', at: epoch.at, epoch: epoch.index, hash: epoch.hash, pages: epoch.pages.length });
    this.pageHashes.set(epoch.index, epoch);
    this.pageHashes.delete(epoch.index - KEPT_PAGE_EPOCHS);
    this.host.noteEpoch(epoch);
    const channel = this.cloneRequests.next();
    if (channel) this.cloneTo(channel);
    if (this.checkpoints?.due()) this.takeCheckpoint(epoch.pages);
  }

  /** Remus: the changes since the last checkpoint (all of it for a new backup), logged, then sent in chunks. */
  private takeCheckpoint(hashes?: BigUint64Array): void {
    const channel = this.backups.first;
    if (!this.checkpoints || !channel || channel.isClosed) return;
    const captured = this.checkpoints.capture(this.machine, hashes);
    const { index, full, dirtyPages: pages, bytes } = captured;
    this.logControl('checkpoint', { index, full, pages, bytes: bytes.length });
    const cut = this.dieMidCheckpoint && !full && checkpointChunks(bytes.length) >= 2;
    if (cut) return this.dieMidTransfer(channel, bytes);
    sendCheckpointChunks(channel, this.seq, this.machine.instructions, bytes);
    this.checkpoints.sent(this.seq);
    this.checkpointBytesSent += bytes.length;
  }

  /**
   * Test fault (HostCommand `kill-mid-checkpoint`, seed 003's "what if primary fails while sending
   * state to backup?"): the next incremental checkpoint of two chunks or more is cut off. The guest
   * stops, half the chunks are sent, and once they have left this process it is killed (SIGKILL).
   */
  killMidCheckpoint(): void {
    this.dieMidCheckpoint = true;
  }

  private dieMidTransfer(channel: Channel, bytes: Uint8Array): void {
    this.running = false;
    const half = Math.floor(checkpointChunks(bytes.length) / 2);
    sendCheckpointChunks(channel, this.seq, this.machine.instructions, bytes, half);
    void channel.written().then(() => process.kill(process.pid, 'SIGKILL'));
  }

  /** Remus: a backup (new, or reconnected and so behind) starts from a full checkpoint, at the next epoch. */
  private attachForCheckpoints(channel: Channel): void {
    const cloned = !this.protectedFromStart;
    this.backups.keepOnly(channel);
    if (this.backups.isEmpty) this.backups.add(channel, this.acked, false);
    this.protectedFromStart = false;
    this.outputRule.protect(this.acked);
    this.checkpoints!.restart();
    // No grace for a first ack: this backup restores nothing, and its heartbeats go on while it receives.
    this.detector.start();
    this.host.report({ type: 'backup-attached', id: this.host.config.id, at: this.machine.instructions, cloned });
    this.wakeup.wake();
  }

  // ---- backups ----

  private accept(channel: Channel): void {
    this.host.configureChannel(channel);
    channel.on('message', (frame) => this.fromBackup(channel, frame));
    channel.on('close', () => {
      if (!this.backups.has(channel)) return;
      this.host.say('backup channel closed; waiting for it to reconnect');
      this.dropDead();
    });
  }

  private fromBackup(channel: Channel, frame: Frame): void {
    const at = frame.kind === 'ack' || frame.kind === 'heartbeat' ? frame.at : undefined;
    if (this.backups.heard(channel, at)) this.detector.heard();
    switch (frame.kind) {
      case 'ack':
        this.cloneAttached(frame.seq, this.backups.acknowledge(channel, frame.seq));
        return this.advance();
      case 'resend-from': return this.resendFrom(channel, frame.seq);
      case 'pages': return this.sendPages(channel, frame.epoch);
      default: return;
    }
  }

  /** What every counted backup has acknowledged goes to the Output Rule; what every backup has is resent no more. */
  private advance(): void {
    this.backups.trimKept();
    const seq = this.backups.ackedByAll;
    if (seq === undefined || seq <= this.acked) return;
    this.acked = seq;
    this.outputRule.acknowledge(seq);
    this.checkpoints?.acknowledged(seq);
    this.wakeup.wake();
  }

  /**
   * A backup the primary declares dead counts no more: its channel closed, or silent past the detector's timeout,
   * while another is alive (docs/ft.md, "More than one backup"). The last one goes by the pair's rules.
   */
  private dropDead(): void {
    for (const channel of this.backups.dead(this.host.config.detector.timeoutMs)) {
      this.host.say(`a backup is dead (its channel ${channel.isClosed ? 'closed' : 'silent'}); outputs wait for the others only`);
      this.backups.remove(channel);
    }
    this.advance();
  }

  /**
   * A clone's first ack: it has its checkpoint. Outputs wait for its acks from here on, and the `protect` entry tells
   * it so: it may go live once it has that entry, and with it every entry of an output released unprotected before.
   */
  private cloneAttached(seq: number, clonedAt: number | undefined): void {
    if (clonedAt === undefined) return;
    this.detector.start();
    if (this.cloningAlone) {
      this.cloningAlone = false;
      this.acked = seq;
      this.outputRule.protect(seq);
    }
    // Naming the clone by its checkpoint's seq: with several backups, each takes only its own as its `protect`.
    this.logControl('protect', { acked: seq, clonedAt });
  }

  /** A (re)connected backup asks for the log from `seq` on; seq 0 asks to be cloned. */
  private resendFrom(channel: Channel, seq: number): void {
    if (this.checkpoints) return this.attachForCheckpoints(channel);
    const oldest = this.backups.oldestKept(this.seq + 1);
    // A second backup connecting beside an open one is cloned: only a reconnecting one resumes.
    const known = this.backups.has(channel);
    const canResume = seq >= 1 && seq >= oldest && seq <= this.seq + 1 && (known || !this.backups.othersOpen(channel));
    if (!canResume) {
      if (this.cloneRequests.add(channel)) this.host.say(`backup asks for seq ${seq}; cloning it at the next epoch`);
      return;
    }
    if (!known) {
      this.backups.removeClosed();
      this.backups.add(channel, seq - 1, false);
    }
    this.protectedFromStart = false;
    this.cloningAlone = false;
    this.outputRule.protect(this.acked);
    this.detector.start();
    this.entriesSent += this.backups.resend(channel, seq);
    if (!known) this.host.report({ type: 'backup-attached', id: this.host.config.id, at: this.machine.instructions, cloned: false });
    this.wakeup.wake();
  }

  /** No backup came: run unprotected rather than never (reported, so nobody mistakes it for FT). */
  private runAloneIfNoBackup(): void {
    if (!this.backups.isEmpty || !this.protectedFromStart) return;
    this.protectedFromStart = false;
    this.backups.forgetKept();
    this.outputRule.unprotect();
    this.host.report({ type: 'backup-lost', id: this.host.config.id, at: this.machine.instructions, reason: `no backup attached within ${this.host.config.waitForBackupMs} ms; running unprotected` });
    this.wakeup.wake();
  }

  /** A backup asked to be cloned but no epoch boundary will come: the guest has ended. */
  private cloneIfIdle(): void {
    if (!this.machine.isEnded) return;
    for (const channel of this.cloneRequests.takeAll()) this.cloneTo(channel);
  }

  /**
   * FT VMotion: a snapshot at this epoch boundary (in local mode followed by this host's disk copy, as it
   * is here), then the log from the next entry on.
   */
  private cloneTo(channel: Channel): void {
    if (channel.isClosed) return;
    const snapshot = this.machine.snapshot();
    const disk = this.localDisk?.contents();
    const bytes = disk ? Buffer.concat([snapshot, disk]) : snapshot;
    const total = Math.ceil(bytes.length / CHECKPOINT_CHUNK);
    this.checkpointBytesSent += bytes.length;
    this.logControl('clone', { bytes: bytes.length, chunks: total, ...(disk && { diskBytes: disk.length }) });
    // A recording that joins the new backup's segment on needs this host's log up to here in its file.
    this.host.flushRecording();
    sendCheckpointChunks(channel, this.seq, this.machine.instructions, bytes);
    // Room for it: closed ones go, and past the number wanted the oldest (of a pair: the one it replaces).
    this.backups.makeRoom(this.host.config.views?.backups ?? 1);
    // Restoring takes the new backup a while; it is counted and watched from its first ack on.
    this.backups.add(channel, this.seq, true);
    if (!this.backups.anyCounted) this.cloneWithoutOthers();
    this.host.report({ type: 'backup-attached', id: this.host.config.id, at: this.machine.instructions, cloned: true });
  }

  /**
   * No other backup counts: outputs from here on wait for the clone's acks. Alone (after a failover) it stays
   * unprotected while the checkpoint travels, as VM-FT's primary runs while no backup exists: a large or slow
   * transfer would otherwise hold every output, then pause the guest (maxUnacked).
   */
  private cloneWithoutOthers(): void {
    this.acked = this.seq;
    this.backups.forgetKept();
    this.cloningAlone = !this.outputRule.isProtecting;
    if (!this.cloningAlone) this.outputRule.protect(this.seq);
  }

  private sendPages(channel: Channel, epoch: number): void {
    const kept = this.pageHashes.get(epoch);
    // The disk's block hashes follow the pages' (the backup knows how many pages it has).
    const disk = kept?.disk ?? new BigUint64Array(0);
    const hashes = kept ? Buffer.concat([bytesOf(kept.pages), bytesOf(disk)]) : new Uint8Array(0);
    channel.send({ kind: 'pages', epoch, at: kept?.at ?? 0, hashes });
  }

  /**
   * The backup went silent: claim the arbiter; the winner runs on alone, the loser halts. Under a view
   * service the primary goes on alone only when a view says so (dropBackup): here it only learns whether
   * its backup has gone live (claimed the generation), and halts if so.
   */
  private backupSilent(reason: string): void {
    // A backup still restoring is given time, unless its channel is gone too (it died before its first ack).
    if (this.backups.isEmpty || this.backups.anyRestoring) return this.detector.start();
    if (!this.host.config.views) return this.dropBackup(reason);
    const holder = this.host.claimedBy();
    if (holder) return this.host.halt(`lost the arbiter to ${holder} (${reason})`);
    this.detector.start();
  }

  /** Runs on without the backup, once the arbiter says it may (the backup cannot go live after this). */
  dropBackup(reason: string): void {
    if (this.backups.isEmpty) return;
    const claim = this.host.claim();
    if (!claim.won) return this.host.halt(`lost the arbiter to ${claim.holder} (${reason})`);
    this.backups.keepOnly();
    this.cloningAlone = false;
    this.detector.start();
    this.backups.forgetKept();
    this.outputRule.unprotect();
    this.host.report({ type: 'backup-lost', id: this.host.config.id, at: this.machine.instructions, reason });
    this.host.newGeneration('primary', reason, this.channelPort);
  }

  // ---- running the guest ----

  private mayRun(): boolean {
    if (this.finishing || this.host.debuggerHolds()) return false;
    if (this.protectedFromStart && this.backups.isEmpty) return false;
    if (this.checkpoints) return this.backups.isEmpty || this.checkpoints.mayRun;
    return this.seq - this.acked <= this.host.config.maxUnacked || this.backups.isEmpty || this.cloningAlone;
  }

  private async loop(): Promise<void> {
    const missed = this.silentSince === undefined ? 0 : performance.now() - this.silentSince;
    const pacer = new Pacer(this.machine, this.wakeup, missed);
    while (this.running) {
      if (!this.mayRun()) {
        await this.sleep(20);
        continue;
      }
      if (this.machine.isEnded) return this.guestEnded();
      // A held output waits for an ack, a release for its disk write's fdatasync, and both are only seen between
      // batches: while either waits, a batch is one slice.
      const limit = this.host.limit(this.machine.instructions + BATCH_INSTRUCTIONS);
      const deadline = performance.now() + BATCH_MS;
      const waiting = () => this.outputRule.holding > 0 || this.releasesPending > 0;
      this.machine.run(limit, () => waiting() || performance.now() > deadline);
      this.host.afterBatch(this.machine);
      if (this.checkpoints?.wantsEpoch && !this.backups.isEmpty && !this.machine.isEnded) this.epochForCheckpoint();
      if (this.seq !== this.lastBeatSeq) this.heartbeat(!this.lastEntryEnds);
      const lag = this.machine.instructions - (this.backups.slowestAt ?? Infinity);
      if (lag > this.host.config.maxLag) await this.sleep(1);
      if (this.slowMs) await this.sleep(this.slowMs);
      await pacer.pace(this.recorder.hasPending);
    }
  }

  /** Time-based checkpoints: an epoch made here, at the boundary the batch ended at. */
  private epochForCheckpoint(): void {
    this.makingEpoch = true;
    try {
      this.machine.epochNow();
    } finally {
      this.makingEpoch = false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return this.wakeup.sleep(ms);
  }

  /** The guest halted for good: log it, let the backup catch up, and keep serving clones until stopped. */
  private async guestEnded(): Promise<void> {
    this.log({ kind: 'control', at: this.machine.instructions, op: 'shutdown', detail: 'guest halted' });
    // The last epoch's outputs and the shutdown are released by a last checkpoint.
    this.takeCheckpoint();
    // (Checkpoint mode logs the releases this ack brings: they come after it.)
    const last = this.seq;
    while (this.backups.behind(last)) await this.sleep(10);
    await this.releasing;
    this.host.report({ type: 'guest-ended', id: this.host.config.id, at: this.machine.instructions });
    while (this.running) {
      this.cloneIfIdle();
      if (this.checkpoints?.wantsFull) this.takeCheckpoint();
      await this.sleep(50);
    }
  }

  /**
   * Runs the guest no further (the loop is between batches whenever this runs) and waits until every backup
   * (a clone still restoring too) has acknowledged every entry; a heartbeat tells them everything up to here is logged.
   */
  async finish(): Promise<void> {
    this.finishing = true;
    // A checkpoint backup receives no log to catch up on: it holds its last checkpoint, not this end.
    if (this.checkpoints) return;
    this.heartbeat();
    while (this.backups.behind(this.seq)) await this.sleep(10);
    await this.releasing;
  }

  slow(ms: number): void {
    this.slowMs = ms;
  }

  get backupChannel(): Channel | undefined {
    return this.backups.first;
  }

  stop(): void {
    this.running = false;
    this.detector.stop();
    this.service.close();
    this.backups.closeAll('primary stopping');
    void this.server?.close();
    this.wakeup.wake();
  }
}
