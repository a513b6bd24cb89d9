// The view service (issue 21): failover time per coordinator beside the ping interval. A pair of
// hosts under a view service (no spare, no new backup cloned afterwards), its primary SIGKILLed; the
// figure ends at the first reply from the new primary (bench/ft.ts's failover()). The backup goes
// live when a view names it, so what bounds the figure is the dead-server time: --dead-pings ×
// --ping-interval for the embedded coordinator, the lease TTL (the same, in whole seconds, at least
// 2 s) for etcd. Trials alternate the coordinators, setting by setting.
import { rmSync } from 'node:fs';
import { failover, ftSetup, type FailoverRun, withoutFailover } from './ft';
import { BenchmarkModule, RowInput, collectGarbage, compareRow, formatNumber, median, skippedRow } from './harness';
import { buildChildProgram } from './lib/ft';
import { parseCoordinator, type CoordinatorSpec } from '../src/ft/view';
import { EtcdMember, etcdMissing } from '../test/support/etcd';

/** The pair's own detector: long, so only the view service decides. */
const DETECT_TIMEOUT_MS = 5000;

interface Setting { pingIntervalMs: number; deadPings: number }

const deadMs = (s: Setting) => s.pingIntervalMs * s.deadPings;

export const viewsBenchmark: BenchmarkModule = {
  name: 'views',
  groups: ['ft', 'views'],
  description: 'view service: failover time per coordinator (embedded, etcd) beside the ping interval',
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
    return rows;
  },
};
