// The view service (issue 21): failover time per coordinator beside the ping interval. A pair of
// hosts under a view service (no spare, no new backup cloned afterwards), its primary SIGKILLed; the
// figure ends at the first reply from the new primary (bench/ft.ts's failover()). The backup goes
// live when a view names it, so what bounds the figure is the dead-server time: --dead-pings ×
// --ping-interval for the embedded coordinator, the lease TTL (the same, in whole seconds, at least
// 2 s) for etcd. Trials alternate the coordinators, setting by setting. Then a spare brought up as
// backup (state transfer): three hosts, the backup SIGKILLed; from the view that names the spare to
// the first moment the service could promote it (cloned, restored, said so, the view acknowledged),
// and the clone's size. A module of its own (`backups`): the Output Rule's delay with one backup and
// with two (`--backups 2`), trial by trial in one run.
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { failover, FailoverDuringRun, ftSetup, type FailoverRun, withoutFailover } from './ft';
import {
  BenchmarkModule, RowInput, collectGarbage, compareRow, formatNumber, median, skippedRow, valueRow,
} from './harness';
import { buildChildProgram, clusterOptions, hostLauncher, quantile, sleep, withCluster } from './lib/ft';
import type { Setup } from './ft';
import { DEFAULT_EPOCH_LENGTH, DEFAULT_MEMORY_MIB } from '../src/ft/machine';
import { parseCoordinator, type CoordinatorSpec } from '../src/ft/view';
import { runKvWorkload } from '../src/ft/workload';
import { EtcdMember, etcdMissing } from '../test/support/etcd';

/** The pair's own detector: long, so only the view service decides. */
const DETECT_TIMEOUT_MS = 5000;

interface Setting { pingIntervalMs: number; deadPings: number }

const deadMs = (s: Setting) => s.pingIntervalMs * s.deadPings;

/** 2 s to be dead: with 500 ms, a loaded machine (load 18) took a booting primary for dead before the kill. */
const SPARE_VIEWS = { pingIntervalMs: 200, deadPings: 10 };

interface SpareRun { toView: number; toPromotable: number; cloneBytes: number }

/** Three hosts (embedded), the backup SIGKILLed: the idle spare named backup, cloned, then promotable. */
async function spareToBackup(setup: Setup): Promise<SpareRun> {
  const detector = { timeoutMs: DETECT_TIMEOUT_MS, heartbeatMs: 50 };
  const options = clusterOptions('kv', setup.launcher, setup.ctx.tmpDir, { hosts: 3, views: SPARE_VIEWS, detector });
  return withCluster(options, async (cluster) => {
    await cluster.start();
    const coordinator = cluster.coordinator!;
    while (!coordinator.idle.length || !coordinator.canPromote) await sleep(10);
    const [spare] = coordinator.idle;
    const named = new Promise<number>((resolve) => {
      cluster.on('view', (v) => { if (v.backups.includes(spare)) resolve(performance.now()); });
    });
    const killedAt = performance.now();
    cluster.kill('backup');
    const namedAt = await named;
    while (!coordinator.canPromote) await sleep(5);
    const promotableAt = performance.now();
    const cloneBytes = (await cluster.statsOf('primary'))?.checkpointBytesSent ?? NaN;
    return { toView: namedAt - killedAt, toPromotable: promotableAt - namedAt, cloneBytes };
  });
}

function spareRows(runs: SpareRun[]): RowInput[] {
  const setting = `ping ${SPARE_VIEWS.pingIntervalMs} ms × ${SPARE_VIEWS.deadPings}`;
  const where = `kv guest, ${DEFAULT_MEMORY_MIB} MiB, epochs of ${DEFAULT_EPOCH_LENGTH / 1e6} M instructions (a clone waits for the next)`;
  return [
    valueRow({
      name: `view service (embedded, ${setting}): spare brought up as backup, the view naming it to promotable`,
      unit: 'ms',
      value: runs.map((r) => r.toPromotable),
      note: 'Three hosts, the backup SIGKILLed; the spare is cloned from the primary (state transfer), restores, pings ' +
        `initialised, and the primary acknowledges the view (ViewService.canPromote). ${where}. From the kill to that ` +
        `view: ${formatNumber(median(runs.map((r) => r.toView)))} ms median (the dead-server time).`,
    }),
    valueRow({
      name: 'view service: spare brought up as backup, clone size (snapshot sent over the logging channel)',
      unit: 'MiB',
      value: runs.map((r) => r.cloneBytes / 2 ** 20),
      note: where,
    }),
  ];
}

export const viewsBenchmark: BenchmarkModule = {
  name: 'views',
  groups: ['ft', 'views'],
  description: 'view service: failover time per coordinator (embedded, etcd) beside the ping interval; a spare brought up as backup',
  run: async (ctx) => {
    const fast = { pingIntervalMs: 100, deadPings: 5 };
    const settings: Setting[] = ctx.pick([fast, { pingIntervalMs: 200, deadPings: 10 }], [fast]);
    const trials = ctx.pick(3, 1);
    const missing = etcdMissing();
    const member = missing ? undefined : await EtcdMember.start();
    const coordinators: [string, CoordinatorSpec][] = [['embedded', { kind: 'embedded' }]];
    if (member) coordinators.push(['etcd', parseCoordinator(`etcd://${member.endpoint}`)]);
    const program = buildChildProgram(ctx.tmpDir);
    const setup = ftSetup(ctx, program);
    const runs = new Map<string, FailoverRun[]>();
    const spares: SpareRun[] = [];
    try {
      for (let trial = 0; trial < trials; trial++) {
        for (const setting of settings) {
          for (const [name, coordinator] of coordinators) {
            collectGarbage();
            const what = `${name}, ping ${setting.pingIntervalMs} ms × ${setting.deadPings}`;
            const views = { ...setting, coordinator };
            const r = await withoutFailover(setup, what, () => failover(setup, DETECT_TIMEOUT_MS, 50, { views }));
            ctx.log(`view failover (${what}), trial ${trial + 1}/${trials}: live after ${r.toLive.toFixed(0)} ms, first reply after ${r.toReply.toFixed(0)} ms`);
            runs.set(what, [...(runs.get(what) ?? []), r]);
          }
        }
        collectGarbage();
        const spare = await spareToBackup(setup);
        ctx.log(`spare to backup, trial ${trial + 1}/${trials}: view after ${spare.toView.toFixed(0)} ms, promotable ${spare.toPromotable.toFixed(0)} ms later, clone ${spare.cloneBytes} bytes`);
        spares.push(spare);
      }
    } finally {
      await member?.remove();
      rmSync(program, { force: true });
    }
    const rows: RowInput[] = [];
    for (const setting of settings) {
      for (const [name] of [['embedded'], ['etcd']]) {
        const what = `${name}, ping ${setting.pingIntervalMs} ms × ${setting.deadPings}`;
        const title = `view service (${what}): failover, SIGKILL of the primary to the first reply from the new primary`;
        const measured = runs.get(what);
        if (!measured) {
          rows.push(skippedRow(title, 'ms', missing ?? 'not measured'));
          continue;
        }
        rows.push(compareRow({
          name: title,
          unit: 'ms',
          value: measured.map((r) => r.toReply),
          baseline: measured.map(() => deadMs(setting)),
          baselineLabel: 'dead-pings × ping interval',
          note:
            `Two hosts under the ${name} coordinator, no spare, no new backup afterwards. Kill to go-live: ${formatNumber(median(measured.map((r) => r.toLive)))} ms median. ` +
            (name === 'etcd' ? `The lease TTL is ${Math.max(2, Math.ceil(deadMs(setting) / 1000))} s (whole seconds, etcd's minimum 2). ` : '') +
            'Ratio = failover time / dead-server time.',
        }));
      }
    }
    return [...rows, ...spareRows(spares)];
  },
};

interface DelayRun { p50: number; p99: number; outputs: number }

/** 5 s to be dead: a view change during the workload (a spurious failover at load 20) spoils the trial. */
const DELAY_VIEWS = { pingIntervalMs: 200, deadPings: 25 };

/**
 * The Output Rule's delays (ms) over a kv workload with `backups` backups, once each is cloned and initialised
 * (`backups` + 1 hosts, the embedded view service).
 */
async function outputRuleDelays(tmpDir: string, backups: number, ops: number): Promise<DelayRun> {
  const detector = { timeoutMs: DETECT_TIMEOUT_MS, heartbeatMs: 50 };
  const views = { ...DELAY_VIEWS, backups };
  const options = clusterOptions('kv', hostLauncher().launcher, tmpDir, { hosts: backups + 1, views, detector });
  return withCluster(options, async (cluster) => {
    const initialised = new Set<string>();
    cluster.on('report', (r) => { if (r.type === 'ping' && r.ping.initialised) initialised.add(r.id); });
    await cluster.start();
    const full = () => {
      const view = cluster.views.at(-1);
      return view !== undefined && view.backups.length === backups && view.backups.every((b) => initialised.has(b));
    };
    while (!full()) await sleep(10);
    const viewsBefore = cluster.views.length;
    const before = (await cluster.statsOf('primary'))!.outputsReleased;
    await runKvWorkload({ service: cluster.service, ops, seed: 1, clients: 4 });
    // A new primary releases unprotected until its backups are cloned: not this row's figure.
    if (cluster.views.length !== viewsBefore) throw new FailoverDuringRun(`view ${cluster.views.at(-1)!.number}`);
    const stats = (await cluster.statsOf('primary'))!;
    const delays = stats.outputDelaysMs.slice(before - stats.outputsReleased);
    return { p50: quantile(delays, 0.5), p99: quantile(delays, 0.99), outputs: delays.length };
  });
}

export const backupsBenchmark: BenchmarkModule = {
  name: 'backups',
  groups: ['ft', 'views'],
  description: 'view service: Output Rule delay with 1 vs 2 backups (--backups), trial by trial',
  run: async (ctx) => {
    const trials = ctx.pick(5, 1);
    const ops = ctx.pick(400, 20);
    const runs: { one: DelayRun; two: DelayRun }[] = [];
    const load = [loadavg()[0]];
    let discarded = 0;
    const measure = async (backups: number): Promise<DelayRun> => {
      for (;;) {
        collectGarbage();
        try {
          return await outputRuleDelays(ctx.tmpDir, backups, ops);
        } catch (error) {
          if (!(error instanceof FailoverDuringRun) || ++discarded > 3) throw error;
          ctx.log(`Output Rule, ${backups} backup(s): discarded, ${error.message}; running it again`);
        }
      }
    };
    for (let trial = 0; trial < trials; trial++) {
      const one = await measure(1);
      const two = await measure(2);
      ctx.log(`Output Rule, trial ${trial + 1}/${trials}: 1 backup p50 ${one.p50.toFixed(2)} p99 ${one.p99.toFixed(2)} ms ` +
        `(${one.outputs} outputs); 2 backups p50 ${two.p50.toFixed(2)} p99 ${two.p99.toFixed(2)} ms (${two.outputs})`);
      runs.push({ one, two });
      load.push(loadavg()[0]);
    }
    const note = `kv guest, ${ops} ops from 4 clients per trial, ${DEFAULT_MEMORY_MIB} MiB; 2 or 3 host processes ` +
      '(embedded view service), the outputs released during the workload, once every backup was cloned and initialised. ' +
      `Each trial runs 1 backup then 2; ${discarded} run(s) discarded for a view change during the workload. Load average (1 min) across the run: ${load.map((l) => l.toFixed(1)).join(', ')} ` +
      '(2 cores shared with other work).';
    return (['p50', 'p99'] as const).map((q) => compareRow({
      name: `view service: Output Rule delay, ${q}, 2 backups (--backups 2) vs 1`,
      unit: 'ms',
      value: runs.map((r) => r.two[q]),
      baseline: runs.map((r) => r.one[q]),
      baselineLabel: '1 backup',
      note,
    }));
  },
};
