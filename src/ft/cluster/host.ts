// A host process (`lockstep host`): one machine in one role, primary or backup, talking to its peer
// over the logging channel and to the cluster over IPC (hostprotocol.ts). A backup that wins a failover
// becomes the primary in the same process, with the same machine.
import { Arbiter, Backup, Claim, LocalDisk, Primary, SharedDisk, type HostContext, type ServiceAddress, type Takeover } from '../replication';
import type { FaultSettings, LogChannel } from '../channel';
import { RECENT_EPOCHS, type ChannelFaultKind, type EpochNote, type HostCommand, type HostConfig, type HostMessage, type HostReport, type HostStats } from './hostprotocol';
import { HostDebugger } from '../debug';
import { AgentError, listenAsAgent } from './hostlink';
import { asError, isUserError } from '../files';
import { DiskFile, DiskOptions, Epoch, Machine, prefault, resolveSpec, type Nondeterminism } from '../machine';
import { LogWriter, logMetaOf, type LogEntry, type Role } from '../log';
import { CheckpointBackup, Checkpointer } from '../checkpoint';
import { checkTap, TapBridge } from './tapbridge';
import { actionFor, addressOf, EtcdCoordinator, type Ping, type PrimaryAddress, type ViewMessage } from '../view';

export class Host implements HostContext {
  private primary: Primary | undefined;
  private backup: Backup | undefined;
  /** Checkpoint mode's backup, which holds checkpoints instead of replaying (src/ft/checkpoint). */
  private checkpointBackup: CheckpointBackup | undefined;
  private machine: Machine | undefined;
  /** The shared disk, once this host is the primary (shared mode). */
  private disk: SharedDisk | undefined;
  /** This host's copy of the disk, FILE.host-N (local mode). */
  private copy: LocalDisk | undefined;
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
  /** With agents: the tap bridge this host opened on its machine when it became the primary. */
  private tapBridge: TapBridge | undefined;
  /** Under a view service: the newest view acted on (what pings carry), and the newest that gave a role. */
  private viewSeen = 0;
  private namedIn = 0;
  /** The newest view number this host has heard of, acted on or not. */
  private viewHeard = 0;
  /** A view's action under way (going live, being cloned): later answers wait for it. */
  private acting = false;
  /** The serial output logged so far ends inside a line (as a backup received it): a go-live carries it on. */
  private serialMidLine = false;
  /** With etcd: this host's own view service client (its pings, the views, its candidacy for the decider). */
  private etcd: EtcdCoordinator | undefined;
  /** With etcd, cut off from the view service from this view number on (a test's partition): no ping, no view. */
  private cutFrom = Infinity;

  /** A spare that a view makes a backup gets a new configuration (clone from the view's primary). */
  constructor(public config: HostConfig, private readonly send: (report: HostReport) => void) {
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
    // Any host may go live and open the tap on its machine: a tap it cannot have is refused before it boots.
    if (this.config.tap) checkTap(this.config.tap);
    // A cloned backup has no log from boot: its file is a segment, created once its checkpoint is in.
    if (this.config.record && !this.config.clone) {
      this.writer = await LogWriter.create(this.config.record, this.logMeta());
    }
    await this.openEtcd();
    if (this.config.spare) return this.startPinging();
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
    this.startPinging();
  }

  // ---- under a view service (src/ft/view) ----

  /** With etcd, the host reaches the view service itself, and stands for the decider (etcd.ts). */
  private async openEtcd(): Promise<void> {
    const etcd = this.config.views?.etcd;
    if (!etcd) return;
    const { pingIntervalMs, backups } = this.config.views!;
    const place = { endpoints: etcd.endpoints, session: this.config.session, candidate: this.config.id };
    this.etcd = new EtcdCoordinator({ pingIntervalMs, backups, deadPings: etcd.deadPings }, place);
    this.etcd.on('problem', (line) => this.say(`view service: ${line}`));
    this.etcd.on('view', () => this.hear());
    await this.etcd.open();
  }

  private startPinging(): void {
    const views = this.config.views;
    if (!views) return;
    this.ping();
    setInterval(() => {
      this.ping();
      this.hear();
    }, views.pingIntervalMs).unref();
  }

  /**
   * Its position is how far its log goes (the view service promotes the most advanced backup); a live primary's
   * ping says where it takes backups. The cluster hears every ping; with etcd, etcd gets it from here.
   */
  private ping(left = false): void {
    if (this.cut) return;
    const position = this.primary?.lastSeq ?? this.backup?.receivedSeq ?? 0;
    const ping: Ping = { server: this.config.id, viewNumber: this.viewSeen, initialised: this.initialised, position };
    if (left) ping.left = true;
    const channel = this.channelAddress();
    if (channel) ping.channel = channel;
    this.report({ type: 'ping', id: this.config.id, ping });
    this.etcd?.ping(ping);
  }

  /**
   * Not while going live: its generation and channel are the new primary's only once it is live. Nor once halted: a
   * stopped primary's channel server has no address.
   */
  private channelAddress(): PrimaryAddress | undefined {
    if (this.halted || this.acting) return undefined;
    const port = this.primary?.channelPort;
    if (port === undefined) return undefined;
    return { host: this.config.channelHost ?? '127.0.0.1', port, generation: this.generation };
  }

  /** With etcd: the view as this host follows it, acted on as the embedded service's answer to a ping would be. */
  private hear(): void {
    if (this.etcd && !this.cut && this.etcd.view.number > 0) this.onView(this.etcd.message);
  }

  private get cut(): boolean {
    return this.etcd !== undefined && this.etcd.view.number >= this.cutFrom;
  }

  private get initialised(): boolean {
    return !this.halted && this.backup?.initialised === true;
  }

  private onView(message: ViewMessage): void {
    this.viewHeard = Math.max(this.viewHeard, message.view.number);
    if (this.acting) return;
    const { view } = message;
    const role = this.halted ? 'none' : this.primary ? 'primary' : this.backup ? 'backup' : 'none';
    const following = role === 'backup' && this.config.primary ? addressOf(this.config.primary) : undefined;
    const { initialised, namedIn, viewSeen: seen } = this;
    const action = actionFor(this.config.id, message, { role, following, initialised, namedIn, seen });
    const named = view.primary === this.config.id || view.backups.includes(this.config.id);
    switch (action.act) {
      case 'wait': return;
      case 'adopt':
        // A newer view naming it primary without a backup: the service gave up on the backup (never at boot).
        if (view.primary === this.config.id && !view.backups.length && namedIn > 0 && view.number > namedIn) {
          this.primary?.dropBackup(`view ${view.number} has no backup`);
        }
        break;
      case 'step-down':
        this.halt(`view ${view.number} names ${view.primary} primary and leaves this host out: it steps down to an idle spare`);
        break;
      case 'go-live': return this.act(view.number, () => this.backup!.goLive(`view ${view.number} names it primary`));
      case 'follow':
        // It pings with this view from now on: with its old number it would look restarted (and dead) to the service.
        this.viewSeen = this.namedIn = view.number;
        return this.act(view.number, () => this.follow(action.primary));
    }
    if (named) this.namedIn = view.number;
    this.saw(view.number);
  }

  /**
   * A view acted on is acknowledged at once, not at the next interval: until its primary has, the service can
   * replace no one, and a primary that dies meanwhile blocks it for good (the lab's rule).
   */
  private saw(viewNumber: number): void {
    const news = viewNumber !== this.viewSeen;
    this.viewSeen = viewNumber;
    if (news) this.ping();
  }

  /** Carries out a view's action; the view counts as seen once it is done (a failed one halts the host). */
  private act(viewNumber: number, action: () => Promise<void>): void {
    this.acting = true;
    action().then(() => {
      if (this.halted) return;
      this.namedIn = viewNumber;
      this.saw(viewNumber);
    }, (error: Error) => this.halt(`could not act on view ${viewNumber}: ${error.message}`)).finally(() => { this.acting = false; });
  }

  /** Becomes a backup of `primary`, cloned from it (state transfer): whatever this host ran before is dropped. */
  private async follow(primary: PrimaryAddress): Promise<void> {
    this.primary?.stop();
    this.backup?.stop();
    this.backup?.machine?.destroy();
    this.machine?.destroy();
    this.primary = undefined;
    this.machine = undefined;
    this.config = { ...this.config, role: 'backup', clone: true, spare: false, primary: { host: primary.host, port: primary.port }, record: undefined };
    this.generation = primary.generation;
    this.halted = false;
    this.backup = new Backup(this);
    await this.backup.start();
  }

  private logMeta() {
    const { settings, files } = resolveSpec(this.config);
    const { session, disk } = this.config;
    return { ...logMetaOf(settings, files), session, ...(disk && { disk }) };
  }

  private async startPrimary(): Promise<void> {
    this.disk = this.openSharedDisk();
    const primary = new Primary(this, 0, { waitForBackup: true, ...this.disks(), checkpoints: this.checkpointer() });
    this.primary = primary;
    this.machine = await Machine.create({
      ...resolveSpec(this.config).settings,
      nondet: primary.recorder,
      disk: this.disk ? this.diskOptions(this.disk) : this.machineDisk(),
    });
    prefault(this.machine.memory, this.config.detector.timeoutMs);
    this.machineReady(this.machine, primary.recorder);
    await primary.start(this.machine);
    this.report({ type: 'ready', id: this.config.id, role: 'primary', channelPort: primary.channelPort, servicePort: primary.service.port });
  }

  async becomePrimary(machine: Machine, lastSeq: number, takeover: Takeover): Promise<void> {
    this.backup = undefined;
    this.checkpointBackup = undefined;
    this.machine = machine;
    this.disk = this.openSharedDisk();
    if (this.disk) machine.useDiskReader((offset, length) => this.disk!.read(offset, length));
    const checkpoints = this.checkpointer();
    const primary = new Primary(this, lastSeq, { waitForBackup: false, ...this.disks(), checkpoints });
    this.primary = primary;
    // Under a debugger the machine takes values through its timeline, which records them.
    if (this.debugger) this.debugger.useSource(primary.recorder);
    else machine.useNondeterminism(primary.recorder);
    await primary.start(machine, { ...takeover, serialMidLine: this.serialMidLine });
    // The log it took over; what it may have logged since starting is the new generation's.
    this.newGeneration('primary', takeover.reason, primary.channelPort, lastSeq);
  }

  async bridgeTap(service: ServiceAddress): Promise<ServiceAddress | undefined> {
    const tap = this.config.tap;
    if (!tap) return this.config.tapBridge;
    try {
      this.tapBridge = await TapBridge.open(tap, service, (why) => this.say(why));
      return this.tapBridge.address;
    } catch (error) {
      // The first primary's failure stops the start (one line); a host going live runs on without the tap rather
      // than not at all.
      if (this.config.role === 'primary') throw error;
      this.say(`${(error as Error).message}; going on without the tap`);
      return undefined;
    }
  }

  /** Shared mode: FILE, which only the live primary opens. */
  private openSharedDisk(): SharedDisk | undefined {
    const disk = this.config.disk;
    return disk?.mode === 'shared' ? new SharedDisk(DiskFile.open(disk.path)) : undefined;
  }

  /** What a primary writes the guest's disk to: FILE (shared mode) or this host's copy (local mode). */
  private disks(): { disk?: SharedDisk; localDisk?: LocalDisk } {
    return { disk: this.disk, localDisk: this.localDisk() };
  }

  private diskOptions(disk: SharedDisk): DiskOptions {
    return { size: disk.file.size, mode: 'shared', read: (offset, length) => disk.read(offset, length) };
  }

  machineDisk(): DiskOptions | undefined {
    const disk = this.config.disk;
    const copy = this.localDisk();
    return disk && { size: disk.size, mode: disk.mode, read: copy && ((offset, length) => copy.read(offset, length)) };
  }

  localDisk(contents?: Uint8Array): LocalDisk | undefined {
    const disk = this.config.disk;
    if (disk?.mode === 'local') this.copy ??= LocalDisk.create(disk.path, this.config.id, contents);
    return this.copy;
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

  claimedBy(): string | undefined {
    return this.arbiter.holder(this.generation);
  }

  record(entry: LogEntry): void {
    if (entry.kind === 'output' && entry.device === 'serial' && entry.data.length) {
      this.serialMidLine = entry.data[entry.data.length - 1] !== 0x0a;
    }
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
    if (!this.halted || ['halted', 'stats', 'debug-reply', 'ping'].includes(report.type)) this.send(report);
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
    // A primary that lost the arbiter lets go of the tap: the live one opens it (on one machine, the same name).
    void this.tapBridge?.close();
    this.primary?.stop();
    this.backup?.stop();
    this.checkpointBackup?.stop();
    this.leaveViews();
  }

  /**
   * A halted host has lost its role's state: it says it has left, acknowledging the newest view it heard of (which it
   * will never act on: a view naming it primary that it failed to go live in blocks the service no more), and from
   * then on pings as a restarted server (view 0, the lab's rule), so it can come back as an idle spare.
   */
  private leaveViews(): void {
    if (!this.config.views) return;
    this.viewSeen = this.viewHeard;
    this.ping(true);
    this.viewSeen = 0;
  }

  command(command: HostCommand): void {
    switch (command.type) {
      case 'kill-at': this.killAt = command.at; return;
      case 'kill-mid-checkpoint': this.primary?.killMidCheckpoint(); return;
      case 'channel-fault': return this.channelFault(command.kind, command.value, command.seed);
      case 'slow': this.primary?.slow(command.msPerBatch); this.backup?.slow(command.msPerBatch); return;
      case 'stats': this.report({ type: 'stats', stats: this.stats(command.brief), brief: !!command.brief }); return;
      case 'finish': void this.finish(command.at); return;
      case 'stop': void this.stop(); return;
      case 'view': return this.onView(command);
      case 'views-cut': this.cutFrom = command.fromView ?? Infinity; return;
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

  /** `brief`: without the latest delays (HostCommand stats). */
  stats(brief = false): HostStats {
    const channel = this.primary?.backupChannel ?? this.backup?.logChannel ?? this.checkpointBackup?.logChannel;
    const rule = this.primary?.outputRule;
    return {
      id: this.config.id,
      role: this.halted || (!this.primary && !this.backup) ? 'halted' : this.primary ? 'primary' : 'backup',
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
      partitioned: channel?.partitioned ?? false,
      outputsHeld: rule?.holding ?? 0,
      outputsReleased: rule?.released ?? 0,
      datagramsRefused: this.primary?.service.datagramsRefused ?? 0,
      framesDiscarded: this.primary?.service.framesDiscarded ?? 0,
      framesIn: this.primary?.service.framesIn ?? 0,
      framesOut: this.primary?.service.framesOut ?? 0,
      ...(this.disk && { disk: this.sharedDiskStats(this.disk, brief) }),
      ...(this.copy && { disk: { ...this.copy.counts, syncs: this.copy.syncs, held: 0, reissued: 0 } }),
      outputDelaysMs: (!brief && rule?.latestDelays(1000)) || [],
      ackTurnaroundsMs: brief ? [] : [...(this.backup?.ackTurnaroundsMs ?? [])],
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

  private sharedDiskStats(disk: SharedDisk, brief: boolean): HostStats['disk'] {
    const durableDelaysMs = brief ? [] : [...disk.durableDelaysMs];
    return { ...disk.counts, syncs: disk.syncs, held: disk.holding, durableDelaysMs };
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
    this.etcd?.close();
    this.report({ type: 'stats', stats: this.stats(), brief: false });
    this.primary?.stop();
    this.backup?.stop();
    this.checkpointBackup?.stop();
    await this.tapBridge?.close();
    await this.writer?.close();
    // Released writes still on their way to FILE get there first.
    await this.disk?.drained();
    this.disk?.file.close();
    await this.copy?.close();
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
