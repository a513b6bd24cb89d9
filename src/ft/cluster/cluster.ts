// `lockstep ft`: a fault-tolerant pair of host processes on one guest. The cluster starts the
// primary and the backup (each a real OS process, `lockstep host`), gives them an arbiter directory
// and a service address, injects faults, and after a failover starts a new backup cloned from the
// new primary so the service is redundant again. It never touches the guest itself.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FinalState, GuestConfig, HostCommand, HostConfig, HostDebugConfig, HostReport, HostStats, Divergence } from './hostprotocol';
import { DEFAULT_DETECTOR, DetectorOptions, type ServiceAddress } from '../replication';
import type { Fault } from './faults';
import { armEntryDrops, scheduleFaults, type FaultActions } from './faultschedule';
import { joinLogFiles, refuseToRecordOver, segmentFile, type Role } from '../log';
import { HostLauncher, HostLink, connectAgent, forkHost } from './hostlink';
import {
  DEFAULT_VIEW_SERVICE, EmbeddedCoordinator, EtcdCoordinator, ViewStore, type Coordinator, type CoordinatorSpec,
  type View, type ViewServiceOptions,
} from '../view';
import { checkTap, TapBridge, type TapOptions } from './tapbridge';
import { exitOf, nextReport, type HostHandle } from './hosthandle';
import { summarizeCheckpoints, type CheckpointPolicy, type ReplicationMode } from '../checkpoint';
import {
  checkpointsOf, describeEnd, summarizeHosts, type ClusterEnd, type ClusterSummary, type Failover,
  type RoleChange, type ViewChange,
} from './clustersummary';

export type { HostLauncher } from './hostlink';
export { HostError } from './hosthandle';

const STATS_INTERVAL_MS = 100;
/** How long a stop waits for a host to finish (a backup replaying what it lags by: seconds, even for Linux). */
const FINISH_WAIT_MS = 120_000;

export interface ClusterOptions extends GuestConfig {
  service?: Partial<ServiceAddress>;
  faults?: Fault[];
  record?: string;
  detector?: Partial<DetectorOptions>;
  /** Start a new backup after a failover (default true). */
  restoreRedundancy?: boolean;
  maxInstructions?: number;
  arbiterDir?: string;
  launcher?: HostLauncher;
  /** `lockstep host --listen` agents to run hosts on, in order (one host each), instead of child processes. */
  agents?: { host: string; port: number }[];
  agentToken?: string;
  maxUnacked?: number;
  maxLag?: number;
  /** Print host diagnostics on stderr. */
  verbose?: boolean;
  /** Hosts keep a timeline of their machine and answer debug commands (src/adapter/ drives them). */
  debug?: HostDebugConfig;
  /** Plug the guest's network card into this tap interface on the live primary's machine (tapbridge.ts). */
  tap?: TapOptions;
  /** Deterministic replay (default) or checkpoint replication (Remus; its `instructions` set the epoch length). */
  mode?: ReplicationMode;
  checkpoint?: CheckpointPolicy;
  /** Host processes (default 2, the pair without a view service): past 2, the rest are idle spares. */
  hosts?: number;
  /** A view service decides the roles (src/ft/view): on past 2 hosts, or when asked for; embedded by default. */
  views?: Partial<ViewServiceOptions> & { coordinator?: CoordinatorSpec };
}

type ClusterEvents = {
  report: [report: HostReport];
  'role-change': [change: RoleChange];
  failover: [failover: Failover];
  'backup-attached': [host: string, cloned: boolean];
  divergence: [divergence: Divergence];
  'guest-ended': [host: string];
  'host-exit': [host: string, code: number | null, signal: string | null];
  view: [view: ViewChange];
  'coordinator-problem': [line: string];
};

/** Instructions the primary may run ahead of its backup before it is slowed (VM-FT §2.2's flow control). */
export const DEFAULT_MAX_LAG = 500_000_000;

/** The default launcher re-runs this process's own script (`lockstep host`), under the same loader. */
export function selfLauncher(): HostLauncher {
  return { script: process.argv[1], execArgv: process.execArgv };
}

/** What a host under a view service is told of it: its rules, and etcd's endpoints when it reaches etcd itself. */
function hostViews(coordinator: Coordinator): NonNullable<HostConfig['views']> {
  const { pingIntervalMs, deadPings, backups } = coordinator.options;
  const etcd = coordinator instanceof EtcdCoordinator ? { etcd: { endpoints: coordinator.endpoints, deadPings } } : {};
  return { pingIntervalMs, backups, ...etcd };
}

export class Cluster extends EventEmitter<ClusterEvents> {
  readonly hosts = new Map<string, HostHandle>();
  readonly failovers: Failover[] = [];
  readonly divergences: Divergence[] = [];
  private readonly secret = randomBytes(32).toString('hex');
  private readonly session = randomBytes(8).toString('hex');
  private readonly started = performance.now();
  private readonly arbiterDir: string;
  private readonly detector: DetectorOptions;
  private nextHost = 1;
  private nextAgent = 0;
  private stopping = false;
  private end: ClusterEnd = {};
  /** The live primary has a backup attached (reported by the primary; lost on a failover). */
  backupAttached = false;
  private timers: NodeJS.Timeout[] = [];
  service!: ServiceAddress;
  /** The view service, when views decide the roles. */
  readonly coordinator: Coordinator | undefined;
  readonly views: ViewChange[] = [];
  /** Hosts cut off from the view service (a partition from it) from a view number on (0: at once). */
  private readonly cutFromViews = new Map<string, number>();
  private tapBridge: TapBridge | undefined;

  constructor(readonly options: ClusterOptions) {
    super();
    this.arbiterDir = options.arbiterDir ?? mkdtempSync(join(tmpdir(), 'lockstep-arbiter-'));
    this.detector = { ...DEFAULT_DETECTOR, ...options.detector };
    if ((options.hosts ?? 2) > 2 || options.views) {
      this.coordinator = this.createCoordinator(options.views ?? {});
      this.coordinator.on('view', (view) => this.onView(view));
      this.coordinator.on('problem', (line) => {
        process.stderr.write(`lockstep: view service: ${line}\n`);
        this.emit('coordinator-problem', line);
      });
    }
  }

  private createCoordinator({ coordinator, ...tuning }: NonNullable<ClusterOptions['views']>): Coordinator {
    const views = { ...DEFAULT_VIEW_SERVICE, ...tuning };
    if (coordinator?.kind === 'etcd') return new EtcdCoordinator(views, { endpoints: coordinator.endpoints, session: this.session });
    return new EmbeddedCoordinator(views, new ViewStore(join(this.arbiterDir, 'view-service.json')));
  }

  /** Whether the primary could fail now without losing the service: its backup is attached (and initialised). */
  get redundant(): boolean {
    return this.backupAttached && (this.coordinator?.canPromote ?? true);
  }

  private get elapsedMs(): number {
    return performance.now() - this.started;
  }

  /** Starts the pair; resolves when the backup is attached and the guest is running protected. */
  async start(): Promise<void> {
    // With no port given, the first primary binds port 0 and says which it got: a port picked here
    // and bound there later could be taken in between (by any connection's ephemeral port).
    this.service = { host: this.options.service?.host ?? '127.0.0.1', port: this.options.service?.port ?? 0 };
    if (this.options.record) await refuseToRecordOver(this.options.record);
    // With agents, each host checks and opens the tap on its own machine (Host.bridgeTap); otherwise the cluster.
    const localTap = this.options.agents ? undefined : this.options.tap;
    if (localTap) checkTap(localTap);
    await this.coordinator?.open();
    const primary = await this.spawn('primary', 1, {});
    const ready = await nextReport(primary, 'ready');
    this.service = { ...this.service, port: ready.servicePort! };
    if (localTap) await this.openTap(localTap);
    armEntryDrops(this.options.faults ?? [], this.faultActions);
    const attached = nextReport(primary, 'backup-attached');
    const backup = await this.spawn('backup', 1, { primary: { host: this.channelHost(primary.id), port: ready.channelPort! } });
    // Either host gone before the attach ends the wait (the primary: nextReport refuses); nothing else would.
    await Promise.race([attached, exitOf(backup, 'attached')]);
    await this.spawnSpares(backup);
    scheduleFaults(this.options.faults ?? [], this.faultActions);
    this.timers.push(setInterval(() => this.pollStats(), STATS_INTERVAL_MS));
  }

  /**
   * Bridges the tap to the service's frame port, once the first primary has bound it. That primary learns the
   * bridge from the frames it sends (a client on the tap always speaks first: ARP); every later one is told it
   * (tapBridge in HostConfig). Nothing runs on without the bridge.
   */
  private async openTap(tap: TapOptions): Promise<void> {
    try {
      this.tapBridge = await TapBridge.open(tap, this.service, (why) => process.stderr.write(`lockstep: ${why}\n`));
    } catch (error) {
      this.destroy();
      throw error;
    }
  }

  /**
   * Keeps every host's latest stats, so a host that is killed still has figures in the summary. Brief:
   * the delay lists are for statsOf's callers, and carrying them ten times a second cost the hosts CPU.
   */
  private pollStats(): void {
    for (const handle of this.hosts.values()) if (handle.link.alive) handle.link.send({ type: 'stats', brief: true });
  }

  /**
   * The spares start once the first backup is in a view: the view service makes the first servers to
   * ping primary and backup, and those must be the ones already booted as such.
   */
  private async spawnSpares(backup: HostHandle): Promise<void> {
    if (!this.coordinator) return;
    // The view may have come before the primary reported the backup attached: look at those decided first.
    await this.viewWhere((view) => view.backups.includes(backup.id));
    for (let spare = 2; spare < (this.options.hosts ?? 2); spare++) await this.spawnSpare();
  }

  /** Resolves with the first view for which `test` holds, already decided or still to come. */
  viewWhere(test: (view: ViewChange) => boolean): Promise<ViewChange> {
    const decided = this.views.find(test);
    if (decided) return Promise.resolve(decided);
    return new Promise((resolve) => {
      const listener = (view: ViewChange) => {
        if (!test(view)) return;
        this.off('view', listener);
        resolve(view);
      };
      this.on('view', listener);
    });
  }

  private spawnSpare(): Promise<HostHandle> {
    return this.spawn('backup', 0, { spare: true, clone: true });
  }

  private hostConfig(id: string, role: Role, generation: number, extra: Partial<HostConfig>): HostConfig {
    const o = this.options;
    return {
      id, role, generation,
      guest: o.guest,
      bios: o.bios,
      vgaBios: o.vgaBios,
      initrd: o.initrd,
      cmdline: o.cmdline,
      clock: o.clock,
      instructionsPerMs: o.instructionsPerMs,
      jit: o.jit,
      memoryMiB: o.memoryMiB,
      epochLength: o.mode === 'checkpoint' ? o.checkpoint?.instructions ?? o.epochLength : o.epochLength,
      disk: o.disk,
      secret: this.secret,
      session: this.session,
      service: this.service,
      arbiterDir: this.arbiterDir,
      detector: this.detector,
      // A checkpoint backup receives no log: only the first primary records.
      record: o.record && (role === 'primary' ? o.record : o.mode === 'checkpoint' ? undefined : segmentFile(o.record, id)),
      maxUnacked: o.maxUnacked ?? 4096,
      maxLag: o.maxLag ?? DEFAULT_MAX_LAG,
      waitForBackupMs: 30_000,
      maxInstructions: o.maxInstructions,
      debug: o.debug,
      ...(this.coordinator && { views: hostViews(this.coordinator) }),
      channelHost: this.channelHost(id),
      tapBridge: this.tapBridge?.address,
      tap: o.agents && o.tap,
      mode: o.mode,
      checkpoint: o.checkpoint,
      ...extra,
    };
  }

  private async spawn(role: Role, generation: number, extra: Partial<HostConfig>): Promise<HostHandle> {
    const id = `host-${this.nextHost++}`;
    const link = await this.link();
    const handle: HostHandle = {
      id, link, role, generation, roles: [], epochs: [], stderr: [], awaited: 0,
      exited: new Promise((resolve) => link.once('exit', () => resolve())),
    };
    this.hosts.set(id, handle);
    if (extra.spare) this.noteRole(handle, 'spare', generation, 'started as an idle spare');
    else this.noteRole(handle, role, generation, 'started');
    link.on('stderr', (line) => {
      handle.stderr.push(line);
      handle.stderr.splice(0, Math.max(0, handle.stderr.length - 200));
      if (this.options.verbose) process.stderr.write(`${line}\n`);
    });
    link.on('message', (report) => this.onReport(handle, report));
    link.once('exit', (code, signal) => {
      if (handle.role === 'halted') return this.emit('host-exit', id, code, signal);
      if (this.stopping) this.noteRole(handle, 'stopped', handle.generation, 'stopped with the cluster');
      else this.noteRole(handle, 'dead', handle.generation, signal ? `killed (${signal})` : `exited (${code})`);
      this.emit('host-exit', id, code, signal);
      // Under a view service a dead host is replaced by a fresh spare, so the view can fill its backup again.
      if (this.coordinator && !this.stopping && this.options.restoreRedundancy !== false) void this.spawnSpare();
    });
    link.send({ type: 'config', config: this.hostConfig(id, role, generation, extra) });
    if (this.cutFromViews.has(id)) this.cutHost(handle);
    return handle;
  }

  /** The next agent, if the cluster runs on agents; otherwise a child process. */
  private link(): Promise<HostLink> {
    if (!this.options.agents) return Promise.resolve(forkHost(this.options.launcher ?? selfLauncher()));
    const agent = this.options.agents[this.nextAgent++];
    if (!agent) return Promise.reject(new Error(`no agent left for another host (${this.options.agents.length} given)`));
    return connectAgent(agent, this.options.agentToken ?? '');
  }

  private noteRole(handle: HostHandle, role: RoleChange['role'], generation: number, reason: string): void {
    handle.role = role;
    handle.generation = generation;
    const atMs = Math.round(this.elapsedMs);
    const change = { host: handle.id, role, generation, atMs, reason, pid: handle.link.pid };
    handle.roles.push(change);
    this.emit('role-change', change);
  }

  private onReport(handle: HostHandle, report: HostReport): void {
    this.emit('report', report);
    switch (report.type) {
      case 'ready': handle.channelPort = report.channelPort; return;
      case 'role': return this.onNewGeneration(handle, report);
      case 'halted': return this.noteRole(handle, 'halted', handle.generation, report.reason);
      case 'backup-attached':
        this.backupAttached = true;
        this.emit('backup-attached', handle.id, report.cloned);
        return;
      case 'backup-lost': this.backupAttached = false; return;
      case 'divergence': this.divergences.push(report.divergence); this.emit('divergence', report.divergence); return;
      case 'guest-ended': this.emit('guest-ended', handle.id); return;
      case 'stats': handle.stats = report.stats; return;
      case 'epoch': handle.epochs.push(report.epoch); return;
      case 'error': if (!handle.awaited) process.stderr.write(`lockstep: ${handle.id} failed: ${report.message}\n`); return;
      case 'ping': return this.onPing(handle, report);
      default: return;
    }
  }

  /** A host won a failover: it is the primary of the next generation; give it a new backup. */
  private onNewGeneration(handle: HostHandle, report: Extract<HostReport, { type: 'role' }>): void {
    handle.channelPort = report.channelPort;
    this.noteRole(handle, report.role, report.generation, report.reason);
    const failover = {
      generation: report.generation,
      newPrimary: handle.id,
      atMs: Math.round(this.elapsedMs),
      reason: report.reason,
      lastSeq: report.lastSeq,
    };
    this.backupAttached = false;
    this.failovers.push(failover);
    this.emit('failover', failover);
    if (this.coordinator) return; // the view service names the next backup
    if (this.options.restoreRedundancy !== false && !this.stopping && report.channelPort) {
      void this.spawn('backup', report.generation, { primary: { host: this.channelHost(handle.id), port: report.channelPort }, clone: true });
    }
  }

  // ---- the view service ----

  /**
   * A host's ping reaches the view service (unless cut from it); its answer goes back to the host. With etcd, hosts
   * ping it themselves: their reports only say what they pinged.
   */
  private onPing(handle: HostHandle, report: Extract<HostReport, { type: 'ping' }>): void {
    if (!this.coordinator?.relayed || this.isCut(handle.id) || !handle.link.alive) return;
    const view = this.coordinator.ping(report.ping);
    if (!view) return;
    const primary = view.primary === undefined ? undefined : this.hosts.get(view.primary);
    const live = primary?.role === 'primary' && primary.channelPort !== undefined;
    if (!live) return handle.link.send({ type: 'view', view });
    const address = { host: this.channelHost(primary.id), port: primary.channelPort!, generation: primary.generation };
    handle.link.send({ type: 'view', view, primary: address });
  }

  private onView(view: View): void {
    const change = { ...view, atMs: Math.round(this.elapsedMs) };
    this.views.push(change);
    for (const id of view.backups) {
      const handle = this.hosts.get(id);
      if (handle && handle.role !== 'backup') this.noteRole(handle, 'backup', handle.generation, `view ${view.number} names it backup`);
    }
    this.emit('view', change);
  }

  /**
   * Cuts a host off from the view service (its pings are lost, it hears no view) once a view numbered `fromView` or
   * later is decided (at once by default), or heals the cut. The cut may be set before the host is started. With
   * etcd, which hosts reach themselves, the host makes the cut: it stops pinging and acting on views.
   */
  cutFromViewService(host: string, cut: boolean, fromView = 0): void {
    if (cut) this.cutFromViews.set(host, fromView);
    else this.cutFromViews.delete(host);
    const handle = this.hosts.get(host);
    if (handle) this.cutHost(handle);
  }

  private isCut(host: string): boolean {
    return (this.cutFromViews.get(host) ?? Infinity) <= this.coordinator!.view.number;
  }

  private cutHost(handle: HostHandle): void {
    if (!this.coordinator || this.coordinator.relayed) return;
    handle.link.send({ type: 'views-cut', fromView: this.cutFromViews.get(handle.id) });
  }

  /** Where a host's logging channel can be reached: its agent's address, or this machine. */
  private channelHost(id: string): string {
    return this.options.agents?.[Number(id.slice(5)) - 1]?.host ?? '127.0.0.1';
  }

  /** Whether any host process is still running: with none, nothing can run the guest again. */
  get anyHostAlive(): boolean {
    return [...this.hosts.values()].some((h) => h.link.alive);
  }

  /** The live host in `role` now, if any. */
  hostIn(role: Role): HostHandle | undefined {
    return [...this.hosts.values()].find((h) => h.role === role);
  }

  command(role: Role, command: HostCommand): void {
    this.hostIn(role)?.link.send(command);
  }

  kill(role: Role): string | undefined {
    const handle = this.hostIn(role);
    handle?.link.kill();
    return handle?.id;
  }

  channelFault(kind: Extract<HostCommand, { type: 'channel-fault' }>['kind'], value?: number): void {
    for (const role of ['primary', 'backup'] as const) this.command(role, { type: 'channel-fault', kind, value, seed: 7 });
  }

  /** What the fault schedule (faultschedule.ts) does to this cluster. */
  private get faultActions(): FaultActions {
    return {
      command: (role, command) => this.command(role, command),
      kill: (role) => this.kill(role),
      channelFault: (kind, value) => this.channelFault(kind, value),
      after: (ms, action) => this.timers.push(setTimeout(action, ms)),
    };
  }

  /** The current statistics of the live host in `role` (undefined if there is none, or it died meanwhile). */
  statsOf(role: Role): Promise<HostStats | undefined> {
    return this.statsFrom(this.hostIn(role));
  }

  /** The current statistics of host `id`, whatever its role (undefined if it died meanwhile). */
  statsOfHost(id: string): Promise<HostStats | undefined> {
    return this.statsFrom(this.hosts.get(id));
  }

  private async statsFrom(handle: HostHandle | undefined): Promise<HostStats | undefined> {
    if (!handle?.link.alive) return undefined;
    const reply = nextReport(handle, 'stats', (r) => !r.brief).catch(() => undefined);
    handle.link.send({ type: 'stats' });
    return (await reply)?.stats;
  }

  /**
   * Stops every host (they report their final stats first) and summarizes the run. First, unless
   * `finish` is false (by default under a debugger, whose hosts hold where they are shown), the run
   * is finished: the primary stops at a boundary, its backup replays to it, and both say how they ended.
   */
  async stop(options: { finish?: boolean } = {}): Promise<ClusterSummary> {
    this.stopping = true;
    this.coordinator?.close();
    this.timers.forEach(clearTimeout);
    this.timers.forEach(clearInterval);
    if (options.finish ?? !this.options.debug) await this.finish();
    // Backups first, so none of them takes the primary's orderly exit for a failure.
    const live = [...this.hosts.values()]
      .filter((h) => h.link.alive)
      .sort((a, b) => Number(a.role === 'primary') - Number(b.role === 'primary'));
    for (const handle of live) {
      const final = nextReport(handle, 'stats', (r) => !r.brief).then((r) => { handle.stats = r.stats; }, () => undefined);
      handle.link.send({ type: 'stop' });
      await Promise.race([final.then(() => handle.exited), new Promise((r) => setTimeout(r, 5000))]);
      if (handle.link.alive) handle.link.kill();
    }
    await this.tapBridge?.close();
    await this.settleRecording();
    return this.summary();
  }

  /** VM-FT's backup is stopped short of nothing: it replays to where the primary stopped. */
  private async finish(): Promise<void> {
    const primary = this.hostIn('primary');
    const primaryEnd = primary && await this.finalOf(primary);
    if (!primary || !primaryEnd) return;
    this.end = { primary: { host: primary.id, ...primaryEnd } };
    const backup = this.hostIn('backup');
    const backupEnd = backup && await this.finalOf(backup, primaryEnd.at);
    if (!backup || !backupEnd) return;
    this.end.backup = { host: backup.id, ...backupEnd };
    this.end.same = backupEnd.at === primaryEnd.at && backupEnd.hash === primaryEnd.hash;
  }

  private async finalOf(handle: HostHandle, at?: number): Promise<FinalState | undefined> {
    const reply = nextReport(handle, 'final').then((r) => r.end, () => undefined);
    handle.link.send({ type: 'finish', at });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), FINISH_WAIT_MS);
    });
    const end = await Promise.race([reply, timeout]);
    clearTimeout(timer);
    return end;
  }

  /**
   * The recording is the first primary's log, then, after each failover, the log of the host that
   * went live (each joined at the entry where it was cloned from the one before; the first backup's
   * starts at boot). The other backups' segments are removed.
   */
  private async settleRecording(): Promise<void> {
    const file = this.options.record;
    if (!file || this.options.mode === 'checkpoint') return;
    const [first, ...backups] = [...this.hosts.keys()];
    const segments = backups.map((id) => segmentFile(file, id));
    const live = [first, ...this.failovers.map((f) => f.newPrimary)]
      .filter((id, i, ids) => id !== ids[i - 1]) // a primary that outlived its backup goes on with its own log
      .map((id) => (id === first ? file : segmentFile(file, id)));
    try {
      if (live.length > 1) await joinLogFiles(live, file);
      segments.forEach((segment) => rmSync(segment, { force: true }));
    } catch (error) {
      process.stderr.write(`lockstep: could not join the recording ${file}: ${(error as Error).message}; the hosts' files are kept beside it\n`);
    }
  }

  /** Kills every host at once (for cleaning up after a failure; stop() is the orderly way). */
  destroy(): void {
    this.stopping = true;
    this.coordinator?.close();
    this.timers.forEach(clearTimeout);
    this.timers.forEach(clearInterval);
    for (const handle of this.hosts.values()) handle.link.kill();
    void this.tapBridge?.close();
  }

  /** The end in a line: where each ended, and whether in the same state. */
  static readonly describeEnd = describeEnd;

  summary(): ClusterSummary {
    return {
      guest: this.options.guest,
      mode: this.options.mode ?? 'replay',
      ...(this.options.mode === 'checkpoint' ? { checkpoints: summarizeCheckpoints(checkpointsOf(this.hosts.values())) } : {}),
      service: this.service,
      ...summarizeHosts(this.hosts.values()),
      failovers: this.failovers,
      divergences: this.divergences,
      ...(this.options.tap && { tap: this.options.tap }),
      end: this.end,
      wallMs: Math.round(this.elapsedMs),
      ...(this.coordinator && { views: this.views }),
    };
  }
}
