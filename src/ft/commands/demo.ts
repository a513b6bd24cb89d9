// `npm start` / `lockstep demo`: the kv guest (or the linux guest, whose kvd speaks the same
// protocol) under FT with a client workload; the primary is killed mid-run, the backup goes live, a
// new backup is cloned from it, and the checker verifies that no acknowledged operation was lost or
// applied twice. With `hosts` past 2 a view service decides the roles (src/ft/view): each view is
// printed as it changes, and `kills` primaries die one after another, each once the one before's
// backup has been cloned (the second time the former spare is the backup).
import { checkKvHistory, CheckResult, KvHistory, runKvWorkload, SerialWatch } from '../workload';
import {
  Cluster, ClusterSummary, describeChannel, describeRoleChange, type ClusterOptions, type GuestConfig,
  type HostLauncher, type ViewChange,
} from '../cluster';
import { DEFAULT_CHECKPOINT_MS, type CheckpointSummary, type ReplicationMode } from '../checkpoint';

/** The guests whose server speaks the kv protocol: the kv guest and the linux guest's kvd. */
export const DEMO_GUESTS = ['kv', 'linux'] as const;
export type DemoGuest = (typeof DEMO_GUESTS)[number];

/** Epochs of the kv demo's machine unless --epoch says otherwise: a checkpoint to clone from every half second. */
export const DEMO_EPOCH_LENGTH = 50_000_000;

/**
 * The pair's detection timeout unless --detect-timeout says otherwise. Linux's host is silent while it hashes
 * 256 MiB at every epoch (0.1-0.25 s) and for a whole clone's snapshot (about 0.6 s on a quiet machine, several
 * times that on a loaded one): at 1 s a loaded machine faked a failure, and the clone made after it faked the next.
 */
export const DEMO_DETECT_TIMEOUT_MS: Record<DemoGuest, number> = { kv: 300, linux: 4000 };

/** The demo's view service: pings every 100 ms, dead after 1 s without one (a loaded machine's pauses are longer). */
const DEMO_VIEWS = { pingIntervalMs: 100, deadPings: 10 };

export interface DemoOptions {
  /** The guest (one of DEMO_GUESTS) and its machine; kv unless given. */
  machine?: GuestConfig;
  ops: number;
  killAfterOps: number;
  seed: number;
  clients: number;
  detectTimeoutMs: number;
  /** Deterministic replay (default) or checkpoint replication, with its default interval. */
  mode?: ReplicationMode;
  /** Host processes: past 2, idle spares and a view service (embedded), tuned by `views`. */
  hosts?: number;
  views?: ClusterOptions['views'];
  /** Primaries killed one after another (default 1). */
  kills?: number;
  /** Host diagnostics and every role change on stderr (what a failover that never completes needs). */
  verbose?: boolean;
  print: (line: string) => void;
  /** How the host processes start (default: this process's own script, `lockstep host`). */
  launcher?: HostLauncher;
}

/** One kill of the primary: how long until a backup went live, and until the new primary had a backup again. */
export interface DemoKill { failoverMs?: number; redundancyRestoredMs?: number }

export interface DemoResult {
  check: CheckResult;
  history: KvHistory;
  summary: ClusterSummary;
  /** The first kill's figures (as `kills[0]`). */
  failoverMs?: number;
  redundancyRestoredMs?: number;
  kills: DemoKill[];
  killsWanted: number;
}

export const describeView = (view: ViewChange): string =>
  `view ${view.number}: primary ${view.primary ?? 'none'}, backup ${view.backups.join(', ') || 'none'}`;

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const hosts = options.hosts ?? 2;
  const cluster = new Cluster({
    ...(options.machine ?? { guest: 'kv', clock: 'virtual', jit: true, epochLength: DEMO_EPOCH_LENGTH }),
    detector: { timeoutMs: options.detectTimeoutMs, heartbeatMs: Math.max(10, options.detectTimeoutMs / 10) },
    mode: options.mode,
    checkpoint: options.mode === 'checkpoint' ? { intervalMs: DEFAULT_CHECKPOINT_MS, compress: true } : undefined,
    hosts,
    launcher: options.launcher,
    ...((hosts > 2 || options.views) && { views: { ...DEMO_VIEWS, ...options.views } }),
    verbose: options.verbose,
  });
  try {
    return await demoOn(cluster, options);
  } catch (error) {
    // Whatever went wrong, no host process outlives the demo.
    cluster.destroy();
    throw error;
  }
}

async function demoOn(cluster: Cluster, options: DemoOptions): Promise<DemoResult> {
  const { print } = options;
  const guest = options.machine?.guest ?? 'kv';
  const hosts = options.hosts ?? 2;
  cluster.on('view', (view) => print(describeView(view)));
  if (options.verbose) {
    cluster.on('role-change', (c) => process.stderr.write(`lockstep: ${c.atMs} ms: ${describeRoleChange(c)}\n`));
    cluster.on('view', (v) => process.stderr.write(`lockstep: ${v.atMs} ms: ${describeView(v)}\n`));
  }
  await cluster.start();
  // Listening from the start: kvd's "kv ready" is released once, to the clients connected then.
  const serial = guest === 'linux' ? await SerialWatch.open(cluster.service) : undefined;
  const spares = hosts > 2 ? `, ${hosts - 2} idle spare(s)` : '';
  print(`${cluster.summary().guest} guest under FT (${options.mode ?? 'replay'} mode): primary ${cluster.hostIn('primary')?.id}, backup ${cluster.hostIn('backup')?.id}${spares}; service at ${cluster.service.host}:${cluster.service.port}`);
  if (serial) {
    print('waiting for Linux to boot and kvd to say "kv ready" (about 4.2 G instructions)');
    try {
      await serial.until('kv ready', LINUX_BOOT_WAIT_MS);
    } finally {
      serial.close();
    }
  }
  const kills = new KillSchedule(cluster, options, print);
  const history = await runKvWorkload({
    service: cluster.service, ops: options.ops, seed: options.seed, clients: options.clients,
    onProgress: (done) => kills.onProgress(done),
    continueWhile: () => kills.pending,
  });
  await kills.restored();
  const summary = await cluster.stop();
  const check = checkKvHistory(history);
  const [first] = kills.done;
  const { failoverMs, redundancyRestoredMs } = first ?? {};
  const killsWanted = options.kills ?? 1;
  return { check, history, summary, failoverMs, redundancyRestoredMs, kills: kills.done, killsWanted };
}

/** How long the workload goes on past its operations for a kill still to come (a backup to be cloned first). */
const KILL_WAIT_MS = 60_000;

/**
 * Kills the primary `kills` times: the first after `killAfterOps` operations, each next one as many
 * operations later, and each only while a backup could take over (killing the primary of a backup
 * still being cloned leaves no initialised backup to promote: the view service, rightly, waits).
 * The workload goes on until every kill has struck and failed over (a minute at most for each).
 */
class KillSchedule {
  readonly done: (DemoKill & { at: number })[] = [];
  private readonly wanted: number;
  private readonly startedAt = performance.now();

  constructor(
    private readonly cluster: Cluster,
    private readonly options: DemoOptions,
    private readonly print: (line: string) => void,
  ) {
    this.wanted = options.kills ?? 1;
    cluster.on('failover', (f) => {
      const kill = this.done.at(-1);
      if (!kill || kill.failoverMs !== undefined) return;
      kill.failoverMs = performance.now() - kill.at;
      print(`${f.newPrimary} went live after ${kill.failoverMs.toFixed(0)} ms (${f.reason})`);
    });
    cluster.on('backup-attached', (host, cloned) => {
      const kill = this.done.at(-1);
      if (!kill || !cloned || kill.redundancyRestoredMs !== undefined) return;
      kill.redundancyRestoredMs = performance.now() - kill.at;
      print(`redundancy restored: ${host} now has a backup cloned from its checkpoint (${kill.redundancyRestoredMs.toFixed(0)} ms after the kill)`);
    });
  }

  onProgress(done: number): void {
    if (this.done.length >= this.wanted || done < this.options.killAfterOps * (this.done.length + 1)) return;
    // Until the last kill has failed over, the killed primary may still look like the primary with its backup.
    const last = this.done.at(-1);
    if ((last && last.failoverMs === undefined) || !this.cluster.redundant) return;
    this.done.push({ at: performance.now() });
    this.print(`${done} operations acknowledged; killing the primary (${this.cluster.kill('primary')}) with SIGKILL`);
  }

  get pending(): boolean {
    const last = this.done.at(-1);
    const waiting = this.done.length < this.wanted || last?.failoverMs === undefined;
    return waiting && performance.now() - (last?.at ?? this.startedAt) < KILL_WAIT_MS;
  }

  /**
   * Waits (a minute at most) for the last kill's new primary to have a backup again, its clone restored: the
   * primary says attached when it sends the checkpoint, and a Linux clone then restores 256 MiB for seconds.
   */
  async restored(): Promise<void> {
    const last = this.done.at(-1);
    if (!last) return;
    const restored = async () => {
      if (last.redundancyRestoredMs === undefined) return false;
      const backup = await this.cluster.statsOf('backup');
      return !!backup && !backup.cloning && backup.instructions > 0;
    };
    while (!(await restored()) && performance.now() - last.at < KILL_WAIT_MS) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** How long the demo waits for the linux guest's kvd (it boots in under a minute on a quiet machine). */
const LINUX_BOOT_WAIT_MS = 600_000;

export function describeDemo(result: DemoResult): string[] {
  const { check, history, summary } = result;
  const latencies = history.ops.map((op) => op.latencyMs ?? 0).sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]?.toFixed(1);
  return [
    `operations acknowledged: ${check.acknowledged} (${check.writesAcknowledged} writes)`,
    `operations lost: ${check.lost}, applied twice: ${check.duplicated}, inconsistent reads: ${check.inconsistentReads}`,
    ...describeKills(result.kills, result.killsWanted),
    ...(summary.views ? [`views: ${summary.views.length}, the last ${describeView(summary.views.at(-1)!)}`] : []),
    `client: ${history.reconnects} reconnects, ${history.duplicateReplies} duplicate replies dropped, latency p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`,
    `${describeChannel(summary)}; Output Rule released ${summary.outputsReleased} outputs`,
    `end: ${Cluster.describeEnd(summary.end)}`,
    ...(summary.checkpoints ? [describeCheckpoints(summary.checkpoints)] : []),
    ...check.problems.map((problem) => `problem: ${problem}`),
    check.ok ? 'checker: PASS' : 'checker: FAIL',
  ];
}

function describeKills(kills: DemoKill[], wanted: number): string[] {
  const short = kills.length < wanted
    ? [`killed ${kills.length} of ${wanted} times: the workload ended first (no backup could take over at a kill's turn)`]
    : [];
  if (!kills.length) return [...short, 'failover: none (the primary was never killed)'];
  const restored = (ms?: number) => (ms === undefined ? 'redundancy not restored' : `redundancy restored after ${ms.toFixed(0)} ms`);
  return [...short, ...kills.map((kill, i) => `failover${kills.length > 1 ? ` ${i + 1}` : ''}: ${kill.failoverMs?.toFixed(0) ?? 'none'} ms from the kill to the backup going live; ${restored(kill.redundancyRestoredMs)}`)];
}

function describeCheckpoints(c: CheckpointSummary): string {
  return `checkpoints: ${c.count} (${c.full} full), ${c.bytesPerCheckpoint} bytes each on average, ${c.bytesSaved} bytes saved by XOR+RLE; median ${c.dirtyPages} dirty pages, guest paused ${c.pauseMs} ms, ack after ${c.ackDelayMs} ms`;
}
