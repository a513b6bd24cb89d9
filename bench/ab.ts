// A/B of two builds on the kv workload under FT (bench/ft.ts kvFt), alternated round by round in one run:
// A is another checkout's built CLI, B this one's dist/cli.js. For a change to the hosts whose old
// behaviour has no switch: build the old commit elsewhere (git archive | tar -x, npm run build there).
// For a Node or V8 flag, give the same build twice and the flags A's hosts run with after the rounds.
//   node --expose-gc --import tsx bench/ab.ts /path/to/old/dist/cli.js [rounds] [A's node flags…]
// Prints per round and the medians: Output Rule p50/p99 over the loopback round trip during the workload,
// the hosts' CPU per operation, ops/s.
import { existsSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { collectGarbage, median } from './harness';
import { KvFtRun, ftSetup, kvFt, withoutFailover } from './ft';
import { buildChildProgram, quantile } from './lib/ft';
import { REPO } from './lib/processes';

interface Figures {
  p50: number;
  p99: number;
  rttP50: number;
  rttP99: number;
  cpuPerOp: number;
  primaryCpuPerOp: number;
  opsPerS: number;
}

function figures(run: KvFtRun): Figures {
  const ops = run.history.ops.length;
  return {
    p50: quantile(run.delays, 0.5),
    p99: quantile(run.delays, 0.99),
    rttP50: quantile(run.loadedRtts, 0.5),
    rttP99: quantile(run.loadedRtts, 0.99),
    cpuPerOp: (run.hostCpuMs[0] + run.hostCpuMs[1]) / ops,
    primaryCpuPerOp: run.hostCpuMs[0] / ops,
    opsPerS: run.opsPerS,
  };
}

function line(name: string, f: Figures): string {
  return `${name}: Output Rule p50 ${f.p50.toFixed(3)} ms (${(f.p50 / f.rttP50).toFixed(2)}x RTT ${f.rttP50.toFixed(3)}), p99 ${f.p99.toFixed(3)} ms (${(f.p99 / f.rttP99).toFixed(2)}x RTT ${f.rttP99.toFixed(3)}); ` +
    `hosts ${f.cpuPerOp.toFixed(3)} CPU-ms/op (primary ${f.primaryCpuPerOp.toFixed(3)}); ${f.opsPerS.toFixed(0)} ops/s`;
}

async function main(): Promise<void> {
  const [baseCli, roundsArg, ...aFlags] = process.argv.slice(2);
  if (!baseCli || !existsSync(baseCli)) throw new Error(`usage: bench/ab.ts OLD_DIST_CLI [rounds] (no file ${baseCli ?? ''})`);
  const rounds = Number(roundsArg ?? 4);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bench/ab.ts: rounds must be a whole number from 1, got '${roundsArg}'`);
  const log = (message: string) => process.stderr.write(`[ab] ${message}\n`);
  const tmpDir = join(REPO, 'bench', 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const ctx = { smoke: false, tmpDir, log, pick: <T>(full: T) => full };
  const b = ftSetup(ctx, buildChildProgram(tmpDir));
  const a = { ...b, launcher: { script: baseCli, execArgv: aFlags } };
  const results: { a: Figures[]; b: Figures[] } = { a: [], b: [] };
  log(`load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; A ${[...aFlags, baseCli].join(' ')}, B ${b.launcher.script}`);
  for (let i = 0; i <= rounds; i++) {
    // Round 0 warms up; the order within a round alternates.
    const order = i % 2 ? (['b', 'a'] as const) : (['a', 'b'] as const);
    for (const side of order) {
      collectGarbage();
      const run = figures(await withoutFailover(side === 'a' ? a : b, `kv ${side}`, () => kvFt(side === 'a' ? a : b, 1000, i, 500)));
      log(`round ${i}${i ? '' : ' (warm-up)'} ${line(side.toUpperCase(), run)}; load ${loadavg()[0].toFixed(1)}`);
      if (i) results[side].push(run);
    }
  }
  const med = (list: Figures[]) =>
    Object.fromEntries(Object.keys(list[0]).map((k) => [k, median(list.map((f) => f[k as keyof Figures]))])) as
      unknown as Figures;
  const ratios = (list: Figures[]) => ({
    p50: median(list.map((f) => f.p50 / f.rttP50)),
    p99: median(list.map((f) => f.p99 / f.rttP99)),
  });
  for (const side of ['a', 'b'] as const) {
    const r = ratios(results[side]);
    log(`median ${line(side.toUpperCase(), med(results[side]))}; per-round ratios p50 ${r.p50.toFixed(2)}x, p99 ${r.p99.toFixed(2)}x`);
  }
  log(`load at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
