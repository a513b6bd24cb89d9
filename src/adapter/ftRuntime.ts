// A live FT pair under the debugger: a Cluster whose hosts keep timelines of their machines
// (ClusterOptions.debug) and start held. Threads are hosts with a machine (thread N is host-N); their
// names follow the roles, which change on failover. An idle spare (launch `hosts` past 2) has no machine
// to show: it is no thread until a view makes it a backup; `lockstep/views` lists it. Events from the
// cluster become DAP stops (divergence, the guest's end, a failover while stopped) and the panel's
// custom events.
import { Cluster, describeRoleChange, Failover, HostLauncher, RoleChange } from '../ft/cluster';
import type { View } from '../ft/view';
import type { Divergence, HostReport, HostStats } from '../ft/cluster';
import { FAULT_KIND_NAMES, faultArgument, type FaultKind } from '../ft/cluster';
import { count } from './format';
import type { LaunchConfig, LaunchDisk } from './launch';
import { openLockedDisk, type DiskIdentity, type DiskMode } from '../ft/machine';
import { DEFAULT_DETECTOR } from '../ft/replication';
import type { ChannelEventBody, CheckpointsView, DiskView, HostView, ViewRecord } from './protocol';
import { describeCauses, ViewHistory } from './viewHistory';
import { DivergenceView, Runtime, entryView } from './runtime';
import { HostRequests, HostTarget, Target } from './targets';

const CHANNEL_EVENT_MS = 500;
/** How long a failover may take once the backup has suspected its killed primary (detectTimeout). */
const FAILOVER_WAIT_MS = 30_000;
/** How long a divergence waits for the primary's page hashes before it is reported without pages. */
const PAGES_WAIT_MS = 3_000;
const STOP_WAIT_MS = 10_000;

type LiveConfig = Extract<LaunchConfig, { kind: 'ft' | 'single' }>;

export class FtRuntime extends Runtime {
  private cluster!: Cluster;
  private requests!: HostRequests;
  private timer: NodeJS.Timeout | undefined;
  private readonly divergences = new Map<number, Divergence>();
  private releaseDisk: (() => void) | undefined;
  private readonly viewHistory = new ViewHistory();

  constructor(private readonly config: LiveConfig, private readonly launcher?: HostLauncher) {
    super();
  }

  async launch(): Promise<void> {
    const { kind: _kind, stopOnEntry: _stop, stopAt: _at, disks, ...machine } = this.config;
    const disk = this.claimDisk(disks?.[0]);
    this.cluster = new Cluster({ ...machine, disk, launcher: this.launcher, debug: { hold: true } });
    this.requests = new HostRequests(this.cluster);
    this.cluster.on('role-change', (change) => {
      this.viewHistory.noteRole(change);
      this.onRoleChange(change);
    });
    this.cluster.on('view', (view) => this.onView(view));
    this.cluster.on('coordinator-problem', (line) => this.emit('output', 'console', `view service: ${line}\n`));
    this.cluster.on('failover', (failover) => void this.onFailover(failover));
    this.cluster.on('divergence', (divergence) => void this.onDivergence(divergence));
    this.cluster.on('guest-ended', () => { if (this.freeRunning) void this.pause('end', 'the guest halted for good'); });
    this.cluster.on('report', (report) => this.onReport(report));
    try {
      await this.cluster.start();
    } catch (error) {
      this.cluster.destroy();
      this.releaseDisk?.();
      throw error;
    }
    this.timer = setInterval(() => {
      this.emit('custom', { event: 'lockstep/channel', body: this.channel() });
      this.observeViews();
    }, CHANNEL_EVENT_MS);
  }

  /** The session's disk, locked until it ends (as `lockstep ft --disk` holds it); the hosts open FILE themselves. */
  private claimDisk(disk: LaunchDisk | undefined): (DiskIdentity & { mode: DiskMode }) | undefined {
    if (!disk) return undefined;
    const locked = openLockedDisk(disk.file);
    this.releaseDisk = locked.close;
    return { ...locked.file.identity(), mode: disk.mode };
  }

  async terminate(): Promise<void> {
    clearInterval(this.timer);
    try {
      if (!this.cluster) return;
      const stopped = this.cluster.stop().then(() => true, () => false);
      const timedOut = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), STOP_WAIT_MS));
      if (!(await Promise.race([stopped, timedOut]))) this.cluster.destroy();
    } finally {
      this.releaseDisk?.();
    }
  }

  protected lead(): Target {
    const all = [...this.targets.values()];
    const lead = all.find((t) => t.role === 'primary') ?? all.find((t) => t.role === 'backup') ?? all[0];
    if (!lead) throw new Error('no host is running');
    return lead;
  }

  protected threadName(target: Target): string {
    // Short: the generation is in the failover's stop and console line, not in every thread's name.
    return `${target.role} (${target.id})`;
  }

  protected readonly runsFree = true;

  protected async resumeAll(): Promise<void> {
    await Promise.all([...this.targets.values()].map((t) => t.request({ op: 'resume' }).catch(() => undefined)));
  }

  service(): { host: string; port: number } | undefined {
    return this.cluster?.service;
  }

  // ---- faults and failover ----

  /**
   * Kills the primary and resolves with the host that went live in its place. Refused while no backup
   * is attached, or the view service could not promote it: killing the primary then would lose the
   * guest, not fail it over.
   */
  async failover(): Promise<string> {
    if (!this.cluster.redundant) throw new Error(this.whyNotRedundant());
    const waitMs = (this.config.detector ?? DEFAULT_DETECTOR).timeoutMs + FAILOVER_WAIT_MS;
    const failedOver = new Promise<Failover>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no host went live within ${waitMs} ms`)), waitMs);
      this.cluster.once('failover', (failover) => { clearTimeout(timer); resolve(failover); });
    });
    if (!this.cluster.kill('primary')) throw new Error('there is no primary to fail');
    return (await failedOver).newPrimary;
  }

  /** Why killing the primary now would lose the guest rather than fail it over. */
  private whyNotRedundant(): string {
    const backup = this.cluster.hostIn('backup')?.id;
    if (!backup) return 'there is no backup to fail over to';
    if (!this.cluster.backupAttached) {
      return `${backup} is not attached yet (it is cloned from the primary at the primary's next epoch boundary, which a stopped primary does not reach): continue first, then fail over`;
    }
    const coordinator = this.cluster.coordinator!;
    const why = coordinator.acked
      ? `${backup} has not told it that its clone is complete`
      : `the primary has not acknowledged view ${coordinator.view.number}`;
    return `the view service cannot promote ${backup} yet (${why}): continue first, then fail over`;
  }

  injectFault(kind: FaultKind, value?: number): void {
    const cluster = this.cluster;
    switch (kind) {
      case 'kill-primary':
      case 'kill-backup':
        if (!cluster.kill(kind === 'kill-primary' ? 'primary' : 'backup')) throw new Error(`there is no ${kind.slice(5)} to kill`);
        return;
      case 'partition':
      case 'heal':
        return cluster.channelFault(kind);
      case 'slow-backup':
        return cluster.command('backup', { type: 'slow', msPerBatch: faultValue(kind, value) });
      case 'delay':
      case 'drop':
      case 'duplicate':
      case 'corrupt':
      case 'drop-entry':
        return cluster.channelFault(kind, faultValue(kind, value));
      default:
        throw new RangeError(`unknown fault kind ${JSON.stringify(kind satisfies never)} (${FAULT_KIND_NAMES.join(', ')})`);
    }
  }

  // ---- cluster events ----

  private onRoleChange(change: RoleChange): void {
    this.updateThreads(change);
    if (change.reason !== 'started') this.emit('output', 'console', `${describeRoleChange(change)}\n`);
  }

  /** Threads are the hosts with a machine: an idle spare becomes one when a view makes it a backup. */
  private updateThreads(change: RoleChange): void {
    const threadId = Number(change.host.slice('host-'.length));
    const known = this.targets.get(threadId);
    if (change.role === 'dead' || change.role === 'stopped') {
      if (!known) return;
      this.targets.delete(threadId);
      this.requests.failHost(change.host, `${change.host} is ${change.role}: ${change.reason}`);
      this.emit('thread', 'exited', threadId);
    } else if (!known) {
      if (change.role === 'spare') return;
      const target = new HostTarget(change.host, threadId, change.role, change.generation, this.requests);
      this.targets.set(threadId, target);
      // Hosts start held: a new one joins a running session.
      if (this.freeRunning) void target.request({ op: 'resume' }).catch(() => undefined);
      this.emit('thread', 'started', threadId);
    } else {
      known.role = change.role;
      known.generation = change.generation;
      this.emit('thread', 'started', threadId);
    }
  }

  /** A view decided: sent with the one before it when that now counts as acknowledged. */
  private onView(view: View): void {
    const records = this.viewHistory.decided(view, this.time);
    // The spares as of this view; the new record goes out below whatever changed.
    this.viewHistory.observe(this.cluster.coordinator!);
    for (const record of records) this.sendView(record);
    const { number, primary, backups, causes } = records.at(-1)!;
    this.emit('output', 'console', `view ${number}: primary ${primary ?? 'none'}, backup ${backups.join(', ') || 'none'} (${describeCauses(causes)})\n`);
  }

  /** The latest view once its primary acknowledges it, or when the idle spares change. */
  private observeViews(): void {
    const coordinator = this.cluster.coordinator;
    if (!coordinator) return;
    const changed = this.viewHistory.observe(coordinator);
    if (changed) this.sendView(changed);
  }

  private sendView(record: ViewRecord): void {
    this.emit('custom', { event: 'lockstep/views', body: { view: { ...record }, spares: this.viewHistory.spares, time: this.time } });
  }

  private async onFailover(failover: Failover): Promise<void> {
    const { generation, newPrimary, reason, lastSeq } = failover;
    this.emit('custom', { event: 'lockstep/failover', body: { generation, newPrimary, reason, lastSeq, time: this.time } });
    this.forgetStates();
    // Going live took the new primary's machine from the debugger: a stopped session stays stopped.
    if (!this.isRunning) await this.pause('failover', `${newPrimary} went live (generation ${generation}): ${reason}`);
  }

  /**
   * Reported as an event every time; the session stops where a divergence begins (a state that differs
   * goes on differing, so the epochs after it are not new news).
   */
  private async onDivergence(divergence: Divergence): Promise<void> {
    const known = this.divergences.has(divergence.epoch) || this.divergences.has(divergence.epoch - 1);
    this.divergences.set(divergence.epoch, divergence);
    this.emit('custom', { event: 'lockstep/divergence', body: { ...divergence, time: this.time } });
    if (known) return;
    const reported = await this.withPages(divergence.epoch);
    await this.pause('divergence', describeDivergence(reported));
  }

  /** The divergence once the primary's page hashes have named the pages (or after a while without). */
  private async withPages(epoch: number): Promise<Divergence> {
    const deadline = performance.now() + PAGES_WAIT_MS;
    while (!this.divergences.get(epoch)!.pages.length && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return this.divergences.get(epoch)!;
  }

  private onReport(report: HostReport): void {
    if (report.type !== 'debug-events') return;
    if (report.entries.length) this.emit('custom', { event: 'lockstep/entries', body: { entries: report.entries.map((e) => entryView(e, report.acked)), skipped: report.skipped } });
    for (const output of report.outputs) this.emit('custom', { event: 'lockstep/output', body: { ...output, time: this.time } });
  }

  // ---- what the panel and the scopes show ----

  private statsOf(role: 'primary' | 'backup'): HostStats | undefined {
    return this.cluster.hostIn(role)?.stats;
  }

  private channel(): ChannelEventBody {
    const hosts: HostView[] = [...this.cluster.hosts.values()].map((h) => {
      // A spare has generation 0; made backup by a view, it takes its primary's once it follows (its stats say).
      const generation = Math.max(h.generation, h.stats?.generation ?? 0);
      const joining = h.role === 'backup' && generation === 0;
      return {
        id: h.id,
        role: h.role,
        generation,
        instructions: h.stats?.instructions ?? 0,
        ...(h.stats?.debuggerAt === undefined ? {} : { debuggerAt: h.stats.debuggerAt }),
        ...(h.stats?.cloning ? { cloning: h.stats.cloning } : {}),
        ...(h.stats && !joining ? {} : { starting: true as const }),
      };
    });
    const primary = this.statsOf('primary');
    const backup = this.statsOf('backup');
    // Live progress on both sides; the stats of the two hosts come at slightly different times, so a
    // backup that caught up may look ahead for a moment: no lag then. None either for a backup not yet following.
    const following = backup && primary && !backup.cloning && backup.generation > 0;
    const lag = following ? Math.max(0, primary.instructions - backup.instructions) : 0;
    return {
      time: this.time,
      hosts,
      lag,
      checkpointBytes: primary?.checkpointBytesSent ?? 0,
      entriesLogged: primary?.seq ?? 0,
      entriesAcked: primary?.acked ?? 0,
      ackedSeq: primary?.acked,
      bytesSent: primary?.bytesSent ?? 0,
      outputsHeld: primary?.outputsHeld ?? 0,
      outputsReleased: primary?.outputsReleased ?? 0,
      ...(primary?.disk && { disk: diskView(primary.disk) }),
      mode: this.config.mode ?? 'replay',
      ...(primary?.checkpoints ? { checkpoints: checkpointsView(primary) } : {}),
    };
  }

  async divergence(): Promise<DivergenceView> {
    const [primary, backup] = [this.statsOf('primary'), this.statsOf('backup')];
    const divergences = [...this.divergences.values()].map((d) => ({
      epoch: d.epoch,
      at: d.at,
      hashes: { primary: d.primaryHash, backup: d.backupHash },
      pages: d.pages,
      parts: d.parts,
    }));
    const theirs = new Map(backup?.epochs.map((e) => [e.index, e]) ?? []);
    const both = primary?.epochs.filter((e) => theirs.has(e.index)).at(-1);
    if (!both) return { divergences };
    const other = theirs.get(both.index)!;
    const hashes = { primary: both.hash, backup: other.hash };
    return { lastCompared: { epoch: both.index, at: both.at, hashes, equal: both.hash === other.hash }, divergences };
  }
}

/** The panel's few latest checkpoints: what fits in a line. */
const CHECKPOINTS_SHOWN = 5;

function checkpointsView(primary: HostStats): CheckpointsView {
  const { taken, acknowledged, bytes, recent } = primary.checkpoints!;
  return { taken, acknowledged, bytes, recent: recent.slice(-CHECKPOINTS_SHOWN), held: primary.heldByCheckpoint ?? [] };
}

/** The value a fault that takes one acts with (FAULT_ARGUMENTS: its range, and its fallback when none is given). */
function faultValue(kind: FaultKind, value: unknown): number {
  const { means, range, fallback } = faultArgument(kind);
  if (!range) throw new RangeError(`fault ${kind} takes no value`);
  if (value === undefined && fallback !== undefined) return fallback;
  const { min, max, whole } = range;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (whole && !Number.isInteger(value))) {
    throw new RangeError(`fault ${kind} needs ${whole ? `${means} (a whole number from ${min})` : `a value from ${min} to ${max}`}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function describeDivergence(d: Divergence): string {
  // Blocks come with the page hashes: with them known, no pages means none differ.
  const pages = d.pages.length ? `pages ${d.pages.map((p) => `0x${p.toString(16)}`).join(', ')}` : d.blocks ? 'no pages' : 'pages not known yet';
  const blocks = d.blocks?.length ? `; disk blocks ${d.blocks.join(', ')}` : '';
  const parts = d.parts.length ? `; ${d.parts.join(', ')}` : '';
  return `divergence at epoch ${count(d.epoch)} (instruction ${count(d.at)}): ${pages}${blocks}${parts}`;
}

function diskView({ reads, bytesRead, writes, bytesWritten, held, reissued }: NonNullable<HostStats['disk']>): DiskView {
  return { reads, bytesRead, writes, bytesWritten, held, reissued };
}
