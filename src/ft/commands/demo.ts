// `npm start` / `lockstep demo`: the kv guest (or the linux guest, whose kvd speaks the same
// protocol) under FT with a client workload; the primary is killed mid-run, the backup goes live, a
// new backup is cloned from it, and the checker verifies that no acknowledged operation was lost or
// applied twice.
import { checkKvHistory, CheckResult, KvHistory, runKvWorkload } from '../workload';
import { Cluster, ClusterSummary, type GuestConfig } from '../cluster';
import { DEFAULT_CHECKPOINT_MS, type CheckpointSummary, type ReplicationMode } from '../checkpoint';

/** The guests whose server speaks the kv protocol: the kv guest and the linux guest's kvd. */
export const DEMO_GUESTS = ['kv', 'linux'] as const;
export type DemoGuest = (typeof DEMO_GUESTS)[number];

/** Epochs of the kv demo's machine unless --epoch says otherwise: a checkpoint to clone from every half second. */
export const DEMO_EPOCH_LENGTH = 50_000_000;

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
  print: (line: string) => void;
}

export interface DemoResult {
  check: CheckResult;
  history: KvHistory;
  summary: ClusterSummary;
  failoverMs?: number;
  redundancyRestoredMs?: number;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { print } = options;
  const guest = options.machine?.guest ?? 'kv';
  const cluster = new Cluster({
    ...(options.machine ?? { guest: 'kv', clock: 'virtual', jit: true, epochLength: DEMO_EPOCH_LENGTH }),
    detector: { timeoutMs: options.detectTimeoutMs, heartbeatMs: Math.max(10, options.detectTimeoutMs / 10) },
    mode: options.mode,
    checkpoint: options.mode === 'checkpoint' ? { intervalMs: DEFAULT_CHECKPOINT_MS, compress: true } : undefined,
  });
  await cluster.start();
  print(`${cluster.summary().guest} guest under FT (${options.mode ?? 'replay'} mode): primary ${cluster.hostIn('primary')?.id}, backup ${cluster.hostIn('backup')?.id}; service at ${cluster.service.host}:${cluster.service.port}`);
  if (guest === 'linux') {
    print('waiting for Linux to boot and start kvd (about 4.2 G instructions)');
    await kvReady(cluster);
  }
  let killedAt: number | undefined;
  let failoverMs: number | undefined;
  let restoredMs: number | undefined;
  cluster.on('failover', (f) => {
    if (killedAt === undefined) return;
    failoverMs = performance.now() - killedAt;
    print(`${f.newPrimary} went live after ${failoverMs.toFixed(0)} ms (${f.reason})`);
  });
  cluster.on('backup-attached', (host, cloned) => {
    if (killedAt === undefined || !cloned) return;
    restoredMs = performance.now() - killedAt;
    print(`redundancy restored: ${host} now has a backup cloned from its checkpoint (${restoredMs.toFixed(0)} ms after the kill)`);
  });
  const history = await runKvWorkload({
    service: cluster.service, ops: options.ops, seed: options.seed, clients: options.clients,
    onProgress: (done) => {
      if (done !== options.killAfterOps) return;
      killedAt = performance.now();
      print(`${done} operations acknowledged; killing the primary (${cluster.kill('primary')}) with SIGKILL`);
    },
  });
  while (restoredMs === undefined && performance.now() - (killedAt ?? 0) < 30_000) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const summary = await cluster.stop();
  const check = checkKvHistory(history);
  return { check, history, summary, failoverMs, redundancyRestoredMs: restoredMs };
}

/** kvd says "kv ready" at about 4.24 G instructions: past this count it reads requests, not the kernel's console. */
const LINUX_KV_UP = 4_400_000_000;

async function kvReady(cluster: Cluster): Promise<void> {
  while (((await cluster.statsOf('primary'))?.instructions ?? 0) < LINUX_KV_UP) await new Promise((r) => setTimeout(r, 200));
}

export function describeDemo(result: DemoResult): string[] {
  const { check, history, summary } = result;
  const latencies = history.ops.map((op) => op.latencyMs ?? 0).sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]?.toFixed(1);
  return [
    `operations acknowledged: ${check.acknowledged} (${check.writesAcknowledged} writes)`,
    `operations lost: ${check.lost}, applied twice: ${check.duplicated}, inconsistent reads: ${check.inconsistentReads}`,
    `failover: ${result.failoverMs?.toFixed(0) ?? 'none'} ms from the kill to the backup going live; redundancy restored after ${result.redundancyRestoredMs?.toFixed(0) ?? 'never'} ms`,
    `client: ${history.reconnects} reconnects, ${history.duplicateReplies} duplicate replies dropped, latency p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`,
    `logging channel: ${summary.entriesSent} entries, ${summary.bytesSent} bytes; Output Rule released ${summary.outputsReleased} outputs`,
    `end: ${Cluster.describeEnd(summary.end)}`,
    ...(summary.checkpoints ? [describeCheckpoints(summary.checkpoints)] : []),
    ...check.problems.map((problem) => `problem: ${problem}`),
    check.ok ? 'checker: PASS' : 'checker: FAIL',
  ];
}

function describeCheckpoints(c: CheckpointSummary): string {
  return `checkpoints: ${c.count} (${c.full} full), ${c.bytesPerCheckpoint} bytes each on average, ${c.bytesSaved} bytes saved by XOR+RLE; median ${c.dirtyPages} dirty pages, guest paused ${c.pauseMs} ms, ack after ${c.ackDelayMs} ms`;
}
