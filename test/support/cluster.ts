// Starting real FT clusters from tests: hosts are separate processes running the CLI from source.
import { createServer } from 'node:net';
import { strict as assert } from 'node:assert';
import { Cluster, ClusterOptions, ClusterSummary, HostLauncher } from '../../src/ft/cluster';
import { checkKvHistory, runKvWorkload } from '../../src/ft/workload';
import { TEST_EPOCH } from './guests';

export const SOURCE_LAUNCHER: HostLauncher = { script: 'src/cli.ts', execArgv: ['--import', 'tsx'] };

export function clusterOptions(guest: string, extra: Partial<ClusterOptions> = {}): ClusterOptions {
  return {
    guest, clock: 'virtual', jit: true, memoryMiB: 16, epochLength: TEST_EPOCH,
    launcher: SOURCE_LAUNCHER, detector: { timeoutMs: 1000, heartbeatMs: 50 },
    ...extra,
  };
}

export const until = async (
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

/**
 * A port free now, for a process the test starts that takes its port as an argument (an agent,
 * code-server). Another socket could take it before that process binds it: the cluster itself never
 * does this (its first primary binds port 0 and reports the port).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * What a cluster went through, for a failing test's message: its failovers and divergences, and each host's roles,
 * latest statistics and last lines on stderr (a workload that timed out says nothing of why the service stopped
 * answering).
 */
export function clusterStory(cluster: Cluster): string {
  const hosts = [...cluster.hosts.values()].map(({ id, roles, stderr, stats }) => {
    const path = roles.map((r) => `${r.role}@${r.atMs}ms (${r.reason})`).join(' -> ');
    const { instructions, seq, acked, outputsHeld, outputsReleased, framesIn, framesOut, disk } = stats ?? {};
    const counts = JSON.stringify({
      instructions, seq, acked, outputsHeld, outputsReleased, framesIn, framesOut, diskHeld: disk?.held,
    });
    return `${id}: ${path}; last stats ${counts}; stderr: ${stderr.slice(-8).join(' | ') || 'none'}`;
  });
  const { failovers, divergences } = cluster;
  return [`failovers ${JSON.stringify(failovers)}`, `divergences ${JSON.stringify(divergences)}`, ...hosts].join('\n');
}

/**
 * `promise`, or after `timeoutMs` an error naming what was waited for; either failure comes with the cluster's story
 * told from fresh statistics (withStory): a wait that would hang says where, and in what state the hosts were.
 */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string, cluster: Cluster): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, late]).catch(withStory(cluster));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * For a failed wait: its error again, followed by the cluster's story with every live host's statistics asked for
 * twice, a second apart (whose guest still runs, what each holds). A host that does not answer within 5 s (its
 * main thread stuck) is said to, rather than waited for.
 */
export function withStory(cluster: Cluster): (error: Error) => Promise<never> {
  const statsNow = (id: string) => Promise.race([
    cluster.statsOfHost(id),
    new Promise<undefined>((resolve) => setTimeout(resolve, 5000)),
  ]);
  return async (error) => {
    const ids = [...cluster.hosts.keys()];
    const before = await Promise.all(ids.map(statsNow));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await Promise.all(ids.map(statsNow));
    const ran = ids.map((id, i) => (after[i] && before[i]
      ? `${id} ran ${after[i]!.instructions - before[i]!.instructions} instructions in that second`
      : `${id}: no statistics (gone, or no answer within 5 s)`));
    throw new Error(`${error.message}\n${clusterStory(cluster)}\n${ran.join('; ')}`);
  };
}

/** A host's last role in a summary, its stop with the cluster left out. */
export function lastRole(summary: ClusterSummary, host: string): string | undefined {
  return summary.hosts[host].roles.filter((r) => r.role !== 'stopped').at(-1)?.role;
}

/**
 * Cuts the logging channel of a started pair while kv clients run (later in each `trial`): exactly one of the two
 * hosts ends live, the other halted, and no acknowledged operation is lost.
 */
export async function partitionLeavesOneLive(cluster: Cluster, trial: number): Promise<void> {
  const decided = new Promise<void>((resolve) => cluster.on('role-change', (c) => c.role === 'halted' && resolve()));
  const workload = runKvWorkload({ service: cluster.service, ops: 40, seed: 100 + trial, clients: 2 });
  await new Promise((r) => setTimeout(r, 50 + 40 * trial));
  cluster.channelFault('partition');
  await decided;
  const history = await workload;
  const summary = await cluster.stop();
  const finalRoles = ['host-1', 'host-2'].map((h) => lastRole(summary, h));
  assert.equal(finalRoles.filter((r) => r === 'primary').length, 1, `final roles: ${finalRoles.join(', ')}`);
  assert.equal(finalRoles.filter((r) => r === 'halted').length, 1, `final roles: ${finalRoles.join(', ')}`);
  assert.ok(checkKvHistory(history).ok, 'no acknowledged operation is lost across the partition');
}
