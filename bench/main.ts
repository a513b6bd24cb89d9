// `npm run bench`: runs the benchmarks in bench/registry.ts and writes bench/results.md and
// bench/results.json. Options:
//   --smoke        every benchmark once on tiny inputs (what test/bench/smoke.test.ts runs); writes
//                  results only with --out
//   --only A,B     only the benchmarks with these names or groups (e.g. `machine`); `=NAME` names one
//                  benchmark alone, not the group of that name (`=ft`: bench/ft.ts without remus, disk, views);
//                  prints, writes nothing unless --out is given, so the committed results always come from a full run
//   --out DIR      where results.md/results.json go (default: bench/ for a full run)
//   --merge        with --only: replace those benchmarks' rows in bench/results.json (and results.md), noting
//                  when and under what load they were measured again; every other row stays as the full run left it,
//                  and so do the rows of a benchmark that failed (a failure measures nothing)
//   --no-install   never run scripts/install-bench-deps.sh (a full run as root does when QEMU is missing)
//   --list         list the benchmarks and exit
// Exit status 1 when a benchmark failed (threw): a skipped row (missing peer) is not a failure.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BenchContext,
  Results,
  Row,
  RowInput,
  TIME_BINARY,
  finishRow,
  formatNumber,
  machineInfo,
  machineLabel,
  mergeResults,
  renderMarkdown,
  rowProblem,
  targetMeasure,
  targetText,
  writeResults,
} from './harness';
import { QEMU, qemuBinary, REPO } from './lib/processes';
import { BENCHMARKS } from './registry';

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function maybeInstallDeps(noInstall: boolean): void {
  if (qemuBinary() && existsSync(TIME_BINARY)) return;
  const script = join(REPO, 'scripts', 'install-bench-deps.sh');
  if (noInstall || process.getuid?.() !== 0) {
    log(`${QEMU} or ${TIME_BINARY} is missing; rows that need them will be skipped. To install: apt-get install -y qemu-system-x86 time (or run ${script} as root)`);
    return;
  }
  log(`${QEMU} or ${TIME_BINARY} is missing and we are root: running ${script}`);
  try {
    execFileSync('bash', [script], { stdio: 'inherit' });
  } catch (error) {
    log(`install-bench-deps failed (${(error as Error).message}); the QEMU rows will be skipped`);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      'no-install': { type: 'boolean', default: false },
      merge: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.list) {
    for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(10)} [${b.groups.join(', ')}] ${b.description}\n`);
    return 0;
  }
  const smoke = values.smoke!;
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
  const selected = only
    ? BENCHMARKS.filter((b) => only.includes(`=${b.name}`) || only.includes(b.name) || b.groups.some((g) => only.includes(g)))
    : BENCHMARKS;
  if (only && !selected.length) {
    process.stderr.write(`bench: no benchmark named or grouped ${only.join(', ')} (try --list)\n`);
    return 2;
  }
  if (values.merge && (!only || smoke || values.out)) {
    process.stderr.write('bench: --merge needs --only (and neither --smoke nor --out): it updates bench/results.json\n');
    return 2;
  }
  const outDir = values.out ?? (!smoke && (!only || values.merge) ? join(REPO, 'bench') : undefined);
  if (!smoke && !only) maybeInstallDeps(values['no-install']!);

  const tmpDir = smoke ? mkdtempSync(join(tmpdir(), 'lockstep-bench-')) : join(REPO, 'bench', 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const ctx: BenchContext = { smoke, tmpDir, log, pick: (full, tiny) => (smoke ? tiny : full) };
  const machine = machineInfo();
  const label = machineLabel(machine);
  const started = new Date();
  log(`${smoke ? 'smoke run' : 'run'} of ${selected.map((b) => b.name).join(', ')} on ${label}; load ${machine.loadAtStart.join(' ')}`);
  if (!(globalThis as { gc?: unknown }).gc) log('no --expose-gc: garbage is not collected between runs');

  const rows: Row[] = [];
  for (const bench of selected) {
    const t0 = performance.now();
    log(`== ${bench.name}: ${bench.description}`);
    let produced: RowInput[];
    try {
      produced = await bench.run(ctx);
    } catch (error) {
      const err = error as Error;
      log(`${bench.name} FAILED: ${err.stack ?? err.message}`);
      const failed = finishRow({ name: `${bench.name} (failed)`, unit: '', value: null, baseline: null, ratio: null, target: null, runs: 0, error: err.message }, bench.name, new Date().toISOString(), label);
      rows.push(failed);
      continue;
    }
    for (const row of produced) rows.push(finishRow(row, bench.name, new Date().toISOString(), label));
    log(`== ${bench.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  machine.loadAtEnd = loadavg().map((l) => Math.round(l * 100) / 100);
  const results: Results = {
    date: started.toISOString(),
    machine,
    smoke,
    durationS: (Date.now() - started.getTime()) / 1000,
    rows,
  };
  process.stdout.write(`${renderMarkdown(results)}\n`);
  if (outDir) {
    const previous = join(outDir, 'results.json');
    const merged = values.merge ? mergeResults(JSON.parse(readFileSync(previous, 'utf8')) as Results, results, selected.map((b) => b.name)) : results;
    const keptRows = values.merge ? [...new Set(rows.filter((r) => r.error !== undefined).map((r) => r.bench))] : [];
    if (keptRows.length) log(`kept the earlier rows of ${keptRows.join(', ')} in bench/results.json: it failed`);
    const written = writeResults(merged, outDir);
    log(`wrote ${written.markdown} and ${written.json}`);
  }
  if (smoke) rmSync(tmpDir, { recursive: true, force: true });

  const failed = rows.filter((r) => rowProblem(r));
  for (const row of failed) log(`problem in ${row.bench} / ${row.name}: ${rowProblem(row)}`);
  const met = rows.filter((r) => r.targetMet !== null);
  if (met.length) log(`targets: ${met.map((r) => `${r.name} ${formatNumber(targetMeasure(r))} ${targetText(r).replace(/ [✓✗]$/, '')} ${r.targetMet ? 'met' : 'MISSED'}`).join('; ')}`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
