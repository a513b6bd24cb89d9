// A host process (`lockstep host`): one machine in one role, primary or backup, talking to its peer
// over the logging channel and to the cluster over IPC (hostprotocol.ts). A backup that wins a failover
// becomes the primary in the same process, with the same machine.
import { Arbiter, Backup, Claim, Primary, SharedDisk, type HostContext, type Takeover } from '../replication';
import type { FaultSettings, LogChannel } from '../channel';
import { RECENT_EPOCHS, type ChannelFaultKind, type EpochNote, type HostCommand, type HostConfig, type HostMessage, type HostReport, type HostStats } from './hostprotocol';
import { HostDebugger } from '../debug';
import { AgentError, listenAsAgent } from './hostlink';
import { asError, isUserError } from '../files';
import { DiskFile, DiskOptions, Epoch, Machine, prefault, resolveSpec, type Nondeterminism } from '../machine';
import { LogWriter, logMetaOf, type LogEntry, type Role } from '../log';
import { CheckpointBackup, Checkpointer } from '../checkpoint';

export class Host implements HostContext {
  private primary: Primary | undefined;
  private backup: Backup | undefined;
  /** Checkpoint mode's backup, which holds checkpoints instead of replaying (src/ft/checkpoint). */
  private checkpointBackup: CheckpointBackup | undefined;
  private machine: Machine | undefined;
  /** The shared disk, once this host is the primary (shared mode). */
  private disk: SharedDisk | undefined;
  private writer: LogWriter | undefined;
  /** A cloned backup's segment until its file exists: where it starts, and the entries so far. */
  private segment: { firstSeq: number; unwritten: LogEntry[] } | undefined;
  private readonly arbiter: Arbiter;
  private killAt: number | undefined;
  private recentEpochs: EpochNote[] = [];
  private epochCount = 0;
  private halted = false;
  private faults: Partial<FaultSettings> = {};
  private channelsConfigured = 0;
  /** drop-entry faults that came while no open channel carried the log: the next channel takes them. */
  private entryDrops: number[] = [];
  private partitioned = false;
  private generation: number;
  /** Present under a debugger (config.debug): the machine's timeline and the debug commands. */
  private readonly debugger: HostDebugger | undefined;

  constructor(readonly config: HostConfig, private readonly send: (report: HostReport) => void) {
    this.arbiter = new Arbiter(config.arbiterDir);
    this.generation = config.generation;
    if (config.debug) this.debugger = this.createDebugger(config.debug);
  }

  private createDebugger(debug: NonNullable<HostConfig['debug']>): HostDebugger {
    return new HostDebugger(this.config.id, debug, {
      isPrimary: () => this.primary !== undefined && !this.halted,
      available: () => (this.primary ? Number.MAX_SAFE_INTEGER : this.backup?.replayableTo ?? 0),
      receivedSeq: () => this.primary?.lastSeq ?? this.backup?.receivedSeq ?? 0,
      logWaitMs: 10_000,
      acked: () => this.primary?.ackedSeq ?? this.backup?.receivedSeq ?? 0,
      heldOutputs: () => this.primary?.outputRule.heldOutputs ?? [],
      outputRule: () => this.primary?.outputRule,
    }, (report) => this.report(report));
  }

  async start(): Promise<void> {
    // A cloned backup has no log from boot: its file is a segment, created once its checkpoint is in.
    if (this.config.record && !this.config.clone) {
      this.writer = await LogWriter.create(this.config.record, this.logMeta());
    }
    if (this.config.role === 'primary') await this.startPrimary();
    else if (this.config.mode === 'checkpoint') {
      this.checkpointBackup = new CheckpointBackup(this);
      this.debugger?.showCheckpoints(this.checkpointBackup);
      await this.checkpointBackup.start();
      this.report({ type: 'ready', id: this.config.id, role: 'backup' });
    } else {
      this.backup = new Backup(this);
      await this.backup.start();
      this.report({ type: 'ready', id: this.config.id, role: 'backup' });
    }
  }

  private logMeta() {
    const { settings, files } = resolveSpec(this.config);
    const { session, disk } = this.config;
    return { ...logMetaOf(settings, files), session, ...(disk && { disk }) };
  }

  private async startPrimary(): Promise<void> {
    this.disk = this.openSharedDisk();
    const primary = new Primary(this, 0, { waitForBackup: true, disk: this.disk, checkpoints: this.checkpointer() });
    this.primary = primary;
    this.machine = await Machine.create({
      ...resolveSpec(this.config).settings,
      nondet: primary.recorder,
      disk: this.disk && this.diskOptions(this.disk),
    });
    prefault(this.machine.memory);
    this.machineReady(this.machine, primary.recorder);
    await primary.start(this.machine);
    this.report({ type: 'ready', id: this.config.id, role: 'primary', channelPort: primary.channelPort, servicePort: primary.servicePort });
  }

  async becomePrimary(machine: Machine, lastSeq: number, takeover: Takeover): Promise<void> {
    this.backup = undefined;
    this.checkpointBackup = undefined;
    this.machine = machine;
    this.disk = this.openSharedDisk();
    if (this.disk) machine.useDiskReader((offset, length) => this.disk!.read(offset, length));
    const checkpoints = this.checkpointer();
    const primary = new Primary(this, lastSeq, { waitForBackup: false, disk: this.disk, checkpoints });
    this.primary = primary;
    // Under a debugger the machine takes values through its timeline, which records them.
    if (this.debugger) this.debugger.useSource(primary.recorder);
    else machine.useNondeterminism(primary.recorder);
    await primary.start(machine, takeover);
    // The log it took over; what it may have logged since starting is the new generation's.
    this.newGeneration('primary', takeover.reason, primary.channelPort, lastSeq);
  }

  /** Shared mode: FILE, which only the live primary opens. */
  private openSharedDisk(): SharedDisk | undefined {
    const disk = this.config.disk;
    return disk?.mode === 'shared' ? new SharedDisk(DiskFile.open(disk.path)) : undefined;
  }

  private diskOptions(disk: SharedDisk): DiskOptions {
    return { size: disk.file.size, mode: 'shared', read: (offset, length) => disk.read(offset, length) };
  }

  backupDisk(): DiskOptions | undefined {
    const disk = this.config.disk;
    return disk && { size: disk.size, mode: disk.mode };
  }

  private checkpointer(): Checkpointer | undefined {
    return this.config.mode === 'checkpoint' ? new Checkpointer(this.config.checkpoint ?? { compress: false }) : undefined;
  }

  newGeneration(
    role: Role,
    reason: string,
    channelPort: number | undefined,
    lastSeq = this.primary?.lastSeq ?? 0,
  ): void {
    this.generation++;
    this.report({ type: 'role', id: this.config.id, role, generation: this.generation, at: this.machine?.instructions ?? 0, reason, channelPort, lastSeq });
  }

  claim(): Claim {
    return this.arbiter.testAndSet(this.generation, this.config.id);
  }

  record(entry: LogEntry): void {
    if (this.segment) this.segment.unwritten.push(entry);
    else this.writer?.append(entry);
    this.debugger?.noteEntry(entry);
  }

  recordFrom(seq: number): void {
    if (this.config.record && !this.writer) this.segment = { firstSeq: seq + 1, unwritten: [] };
  }

  async openSegment(): Promise<void> {
    const segment = this.segment;
    if (!segment) return;
    try {
      const writer = await LogWriter.create(this.config.record!, { ...this.logMeta(), firstSeq: segment.firstSeq });
      // Entries that came while the file was being created are in `unwritten` too.
      for (const entry of segment.unwritten) writer.append(entry);
      this.writer = writer;
    } catch (error) {
      // The recording loses this host's part (the join says so); the backup itself goes on.
      this.say(`cannot record to ${this.config.record}: ${(error as Error).message}`);
    }
    this.segment = undefined;
  }

  flushRecording(): void {
    this.writer?.flush().catch((error: Error) => this.say(`cannot write the recording: ${error.message}`));
  }

  machineReady(machine: Machine, source: Nondeterminism): void {
    this.debugger?.attach(machine, source);
  }

  isHistory(at: number): boolean {
    return this.debugger?.isHistory(at) ?? false;
  }

  shownUpTo(): number {
    return this.debugger?.shownUpTo ?? Infinity;
  }

  debuggerHolds(): boolean {
    return this.debugger?.holds ?? false;
  }

  takeMachineBack(): void {
    this.debugger?.takeBack();
  }

  private checkpointStats(primary: Primary): Pick<HostStats, 'checkpoints' | 'heldByCheckpoint'> {
    const checkpoints = primary.checkpoints!;
    const held = primary.outputRule.heldOutputs.map((output) => output.seq);
    return { checkpoints: checkpoints.stats, heldByCheckpoint: checkpoints.holding(held) };
  }

  report(report: HostReport): void {
    if (!this.halted || report.type === 'halted' || report.type === 'stats' || report.type === 'debug-reply') this.send(report);
  }

  say(message: string): void {
    process.stderr.write(`[${this.config.id}] ${message}\n`);
  }

  noteEpoch(epoch: Epoch): void {
    const note = { index: epoch.index, at: epoch.at, hash: epoch.hash };
    this.recentEpochs = [...this.recentEpochs.slice(1 - RECENT_EPOCHS), note];
    this.epochCount++;
    this.report({ type: 'epoch', id: this.config.id, epoch: note });
  }

  limit(target: number): number {
    return Math.min(target, this.killAt ?? Infinity, this.config.maxInstructions ?? Infinity);
  }

  afterBatch(machine: Machine): void {
    if (this.killAt !== undefined && machine.instructions >= this.killAt) process.kill(process.pid, 'SIGKILL');
  }

  halt(reason: string): void {
    if (this.halted) return;
    this.report({ type: 'halted', id: this.config.id, reason, at: this.machine?.instructions ?? this.backup?.instructions ?? 0 });
    this.halted = true;
    this.primary?.stop();
    this.backup?.stop();
    this.checkpointBackup?.stop();
  }

  command(command: HostCommand): void {
    switch (command.type) {
      case 'kill-at': this.killAt = command.at; return;
      case 'kill-mid-checkpoint': this.primary?.killMidCheckpoint(); return;
      case 'channel-fault': return this.channelFault(command.kind, command.value, command.seed);
      case 'slow': this.primary?.slow(command.msPerBatch); this.backup?.slow(command.msPerBatch); return;
      case 'stats': this.report({ type: 'stats', stats: this.stats() }); return;
      case 'finish': void this.finish(command.at); return;
      case 'stop': void this.stop(); return;
      case 'debug':
        if (this.debugger) this.debugger.command(command.request, command.op);
        else this.report({ type: 'debug-reply', id: this.config.id, request: command.request, error: `${this.config.id} was not started under a debugger` });
        return;
    }
  }

  /**
   * Rates, delay and partition last as long as the fault does, across reconnects: every new channel
   * gets them too. A drop-entry is one event, not a condition: it is armed once, on the open channel
   * that carries the log or else on the next one, and a reconnect never arms it again, whether the
   * old connection made the drop or not.
   */
  private channelFault(kind: ChannelFaultKind, value = 0, seed = 1): void {
    const channel = this.openLogChannel();
    if (kind === 'drop-entry') return this.dropEntry(channel, value);
    if (kind === 'partition' || kind === 'heal') this.partitioned = kind === 'partition';
    else this.faults = { ...this.faults, [{ drop: 'dropRate', duplicate: 'duplicateRate', corrupt: 'corruptRate', delay: 'delayMs' }[kind]]: value, seed };
    if (channel) this.configureChannel(channel);
  }

  /** A closed channel sends nothing more: its successor is configured when it comes. */
  private openLogChannel(): LogChannel | undefined {
    const channel = this.primary?.backupChannel ?? this.backup?.logChannel ?? this.checkpointBackup?.logChannel;
    return channel?.isClosed === false ? channel : undefined;
  }

  /** Arms without a seed: the random fates of the other frames go on as they were. */
  private dropEntry(channel: LogChannel | undefined, seq: number): void {
    if (channel) channel.setFaults({ dropEntries: [seq] });
    else this.entryDrops.push(seq);
  }

  configureChannel(channel: LogChannel): void {
    // Seeds seed, seed + 1, ... in the order channels are configured: one seed for all would corrupt,
    // on every reconnect, the entry whose corruption closed the connection before.
    const seed = this.faults.seed === undefined ? {} : { seed: (this.faults.seed + this.channelsConfigured) >>> 0 };
    this.channelsConfigured++;
    channel.setFaults({ ...this.faults, ...seed, dropEntries: this.entryDrops.splice(0) });
    channel.partition(this.partitioned);
  }

  stats(): HostStats {
    const channel = this.primary?.backupChannel ?? this.backup?.logChannel ?? this.checkpointBackup?.logChannel;
    const rule = this.primary?.outputRule;
    return {
      id: this.config.id,
      role: this.halted ? 'halted' : this.primary ? 'primary' : 'backup',
      generation: this.generation,
      instructions: this.debugger?.frontier ?? this.machine?.instructions ?? this.backup?.instructions
        ?? this.checkpointBackup?.instructions ?? 0,
      guestTimeMs: (this.machine ?? this.backup?.machine)?.guestTimeMs ?? 0,
      seq: this.primary?.lastSeq ?? this.backup?.receivedSeq ?? this.checkpointBackup?.receivedSeq ?? 0,
      acked: this.primary?.ackedSeq ?? this.backup?.receivedSeq ?? this.checkpointBackup?.receivedSeq ?? 0,
      backupInstructions: this.primary?.backupInstructions,
      entriesSent: this.primary?.entriesSent ?? 0,
      bytesSent: channel?.stats.bytesSent ?? 0,
      bytesReceived: channel?.stats.bytesReceived ?? 0,
      framesDropped: channel?.stats.framesDropped ?? 0,
      outputsHeld: rule?.holding ?? 0,
      outputsReleased: rule?.released ?? 0,
      datagramsRefused: this.primary?.datagramsRefused ?? 0,
      framesIn: this.primary?.frames.in ?? 0,
      framesOut: this.primary?.frames.out ?? 0,
      ...(this.disk && { disk: { ...this.disk.counts, held: this.disk.holding } }),
      outputDelaysMs: rule?.latestDelays(1000) ?? [],
      ackTurnaroundsMs: [...(this.backup?.ackTurnaroundsMs ?? [])],
      duplicatesDropped: this.backup?.duplicatesDropped ?? 0,
      gapsSeen: this.backup?.gapsSeen ?? 0,
      resendRequests: this.backup?.resendRequests ?? 0,
      corruptFrames: this.backup?.corruptFrames ?? 0,
      epochs: this.recentEpochs,
      epochCount: this.epochCount,
      divergences: this.backup?.divergenceList ?? [],
      checkpointBytesSent: this.primary?.checkpointBytesSent ?? 0,
      ...(this.backup?.cloning ? { cloning: this.backup.cloning } : {}),
      ...(this.checkpointBackup?.receiving ? { cloning: this.checkpointBackup.receiving } : {}),
      ...(this.primary?.checkpoints ? this.checkpointStats(this.primary) : {}),
      ...(this.checkpointBackup ? { checkpointStore: this.checkpointBackup.stats } : {}),
      ...(this.debugger?.position === undefined ? {} : { debuggerAt: this.debugger.position }),
    };
  }

  /** The primary stops at a boundary with its log delivered; the backup replays up to it (FinalState). */
  private async finish(at: number | undefined): Promise<void> {
    if (this.primary) await this.primary.finish();
    else if (this.backup && at !== undefined) await this.backup.finish(at);
    const machine = this.primary ? this.machine : this.backup?.machine;
    const end = machine && !this.halted
      ? { at: machine.instructions, hash: machine.currentHash(), guestEnded: machine.isEnded }
      : undefined;
    this.report({ type: 'final', id: this.config.id, end });
  }

  async stop(): Promise<void> {
    this.debugger?.stop();
    this.report({ type: 'stats', stats: this.stats() });
    this.primary?.stop();
    this.backup?.stop();
    this.checkpointBackup?.stop();
    await this.writer?.close();
    this.disk?.file.close();
    this.machine?.destroy();
    process.exit(0);
  }
}

/** Runs one host from the cluster's messages: the first configures it, the rest command it. */
function serveHost(
  receive: (handler: (message: HostMessage) => void) => void,
  send: (report: HostReport) => void,
): void {
  let host: Host | undefined;
  receive((message) => {
    if (message.type !== 'config') return host?.command(message);
    host = new Host(message.config, send);
    host.start().catch((thrown: unknown) => {
      const error = asError(thrown);
      const explained = isUserError(error);
      send({ type: 'error', id: message.config.id, message: explained ? error.message : error.stack ?? error.message, explained });
      setTimeout(() => process.exit(1), 100);
    });
  });
}

/** `lockstep host`: started by `lockstep ft`, it waits for its configuration on the IPC channel. */
export function runHostProcess(): void {
  if (!process.send) throw new AgentError('lockstep host is started by `lockstep ft`; to serve a remote cluster, use lockstep host --listen HOST:PORT --token T');
  serveHost((handler) => process.on('message', handler), (report) => process.send?.(report));
  process.on('disconnect', () => process.exit(0));
}

/** `lockstep host --listen HOST:PORT --token T`: a host for a cluster on another machine. */
export async function runHostAgent(address: { host: string; port: number }, token: string): Promise<number> {
  const { port } = await listenAsAgent(address, token, serveHost);
  return port;
}
