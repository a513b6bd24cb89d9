// The shared benchmark harness: alternation, medians, pairwise ratios, rows, the machine, whole-process
// measurement (wall time + peak memory) and the results files. Every benchmark in bench/ is a module
// (see BenchmarkModule) listed in bench/registry.ts; bench/main.ts runs them.
//
// Rules every benchmark follows:
//  - A figure is the median of several runs, reported with its min and max.
//  - A comparison is measured pair by pair, alternating in one process (A, B, A, B, ...): the ratio is
//    computed for each pair and the row reports the median of those ratios (not the ratio of medians),
//    so a burst of outside load hurts one pair, not the comparison.
//  - ratio = value / baseline, always; `target` says which way is good (">= 0.97", "<= 2.2"). A target
//    is on the ratio, or on the value itself for a row with `targetOn: 'value'` (an absolute target
//    such as "<= 1" ms, shown with its unit).
//  - Smoke mode (ctx.smoke) runs everything once on tiny inputs, only to prove the code still works.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';

// ---------------------------------------------------------------------------------------------
// Statistics

export interface Stat {
  median: number;
  min: number;
  max: number;
  /** Every sample, in the order measured. */
  samples: number[];
}

export function median(values: number[]): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function stat(samples: number[]): Stat {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
}

// ---------------------------------------------------------------------------------------------
// Rows

/** One line of the results: what was measured, against what, and how they compare. */
export interface Row {
  /** Which benchmark module produced it. */
  bench: string;
  name: string;
  /** Median of the measured thing (Lockstep's side of a comparison). */
  value: number | null;
  unit: string;
  /** Median of the peer / reference it is compared with, or null when it stands alone. */
  baseline: number | null;
  /** What the baseline is ("plain v86 0.5.462", "QEMU 7.2 record"). */
  baselineLabel?: string;
  /** Median of the per-pair ratios value/baseline (not the ratio of the medians). */
  ratio: number | null;
  /** e.g. ">= 0.97" (on the ratio, or on the value with targetOn 'value'), or null. */
  target: string | null;
  /** What the target applies to: the ratio (default) or the value (an absolute target, in `unit`). */
  targetOn?: 'ratio' | 'value';
  /** Whether the median ratio meets the target (null without a target). Informational only. */
  targetMet: boolean | null;
  valueMin?: number;
  valueMax?: number;
  baselineMin?: number;
  baselineMax?: number;
  ratioMin?: number;
  ratioMax?: number;
  /** How many measured runs (pairs, for a comparison) the medians are over. */
  runs: number;
  /** Why the row has no numbers (a peer is not installed, say). A skipped row never fails. */
  skipped?: string;
  /** The benchmark threw: this row stands for all it would have produced, and the run fails. */
  error?: string;
  note?: string;
  /** ISO 8601 time the row was measured. */
  date: string;
  /** Short description of the machine (see MachineInfo for the details). */
  machine: string;
}

export type RowInput = Omit<Row, 'bench' | 'date' | 'machine' | 'targetMet'>;

function parseTarget(target: string | null): ((ratio: number) => boolean) | undefined {
  const match = target?.match(/^(>=|<=)\s*([\d.]+)$/);
  if (!match) return undefined;
  const limit = Number(match[2]);
  return match[1] === '>=' ? (r) => r >= limit : (r) => r <= limit;
}

/** The name, unit and median (min–max) of a measured value: what every measured row starts with. */
function measured(name: string, unit: string, value: number[]) {
  const v = stat(value);
  return { name, unit, value: v.median, valueMin: v.min, valueMax: v.max };
}

/** A comparison row from pairwise samples: value[i] and baseline[i] were measured as pair i. */
export function compareRow(fields: {
  name: string;
  unit: string;
  value: number[];
  baseline: number[];
  baselineLabel?: string;
  target?: string | null;
  note?: string;
  /** Ratio of one pair; default value / baseline. */
  ratioOf?: (value: number, baseline: number) => number;
}): RowInput {
  const { value, baseline } = fields;
  if (value.length !== baseline.length) throw new Error(`${fields.name}: ${value.length} values but ${baseline.length} baselines`);
  const ratioOf = fields.ratioOf ?? ((v: number, b: number) => v / b);
  const ratios = value.map((v, i) => ratioOf(v, baseline[i]));
  const b = stat(baseline);
  const r = stat(ratios);
  return {
    ...measured(fields.name, fields.unit, value),
    baseline: b.median,
    baselineMin: b.min,
    baselineMax: b.max,
    baselineLabel: fields.baselineLabel,
    ratio: r.median,
    ratioMin: r.min,
    ratioMax: r.max,
    target: fields.target ?? null,
    runs: value.length,
    note: fields.note,
  };
}

/** A row that stands alone (no baseline); an optional target applies to its value (e.g. "<= 1" ms). */
export function valueRow(fields: {
  name: string;
  unit: string;
  value: number[];
  note?: string;
  target?: string | null;
}): RowInput {
  return {
    ...measured(fields.name, fields.unit, fields.value),
    baseline: null,
    ratio: null,
    target: fields.target ?? null,
    ...(fields.target ? { targetOn: 'value' as const } : {}),
    runs: fields.value.length,
    note: fields.note,
  };
}

/** A row that could not be measured here; `reason` says why and how to fix it. */
export function skippedRow(name: string, unit: string, reason: string, target: string | null = null): RowInput {
  return { name, unit, value: null, baseline: null, ratio: null, target, runs: 0, skipped: reason };
}

// ---------------------------------------------------------------------------------------------
// Benchmarks

export interface BenchContext {
  /** Tiny inputs, one run each: only proves the benchmark still works. */
  smoke: boolean;
  /** Scratch files (bench/tmp/ or a temporary directory in smoke mode). */
  tmpDir: string;
  /** Progress to stderr. */
  log(message: string): void;
  /** `full` runs normally, `smoke` in smoke mode. */
  pick<T>(full: T, smoke: T): T;
}

/**
 * One file per benchmark under bench/, each exporting one of these; bench/registry.ts lists them.
 * `run` returns its rows (skipped rows included) and must not throw for a missing peer: it returns a
 * skipped row that says how to install it instead.
 */
export interface BenchmarkModule {
  /** Short id, used by `--only` (e.g. "machine"). */
  name: string;
  /** Groups it belongs to, also matched by `--only` (e.g. "machine" for `npm run bench:machine`). */
  groups: string[];
  description: string;
  run(ctx: BenchContext): Promise<RowInput[]>;
}

/**
 * Runs `a` and `b` alternately, `pairs` times (after `warmup` unrecorded pairs), and returns the
 * samples pair by pair. Each function returns one measurement. Garbage is collected between runs
 * when the process was started with --expose-gc, so one side's garbage is not paid by the other.
 */
export async function alternate<A, B>(
  pairs: number,
  a: () => Promise<A>,
  b: () => Promise<B>,
  options: { warmup?: number; log?: (message: string) => void; label?: string } = {},
): Promise<{ a: A[]; b: B[] }> {
  const out = { a: [] as A[], b: [] as B[] };
  const warmup = options.warmup ?? 0;
  for (let i = 0; i < warmup + pairs; i++) {
    collectGarbage();
    const x = await a();
    collectGarbage();
    const y = await b();
    if (i < warmup) continue;
    out.a.push(x);
    out.b.push(y);
    options.log?.(`${options.label ?? 'pair'} ${i - warmup + 1}/${pairs}: ${show(x)} | ${show(y)}`);
  }
  return out;
}

/** Runs `f` `runs` times (after `warmup` unrecorded runs). */
export async function repeat<T>(runs: number, f: () => Promise<T>, warmup = 0): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    collectGarbage();
    const x = await f();
    if (i >= warmup) out.push(x);
  }
  return out;
}

/** A measurement for the progress log: numbers only (long text such as captured output is left out). */
function show(x: unknown): string {
  if (typeof x === 'number') return formatNumber(x);
  if (typeof x !== 'object' || x === null) return String(x);
  return Object.entries(x)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k}=${formatNumber(v as number)}`)
    .join(' ');
}

export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// ---------------------------------------------------------------------------------------------
// Whole processes

export interface ProcessResult {
  wallMs: number;
  /** Peak resident set size in KiB (from /usr/bin/time -v), NaN when /usr/bin/time is missing. */
  maxRssKiB: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Whether `until` matched (the process was then ended by us). */
  matched: boolean;
}

export const TIME_BINARY = '/usr/bin/time';

export interface ProcessOptions {
  /** End the process (SIGTERM) as soon as its stdout matches this; for guests that never exit. */
  until?: RegExp;
  /**
   * With `until`: a file the process writes its own pid to (QEMU's -pidfile), so the signal goes to it
   * and not to /usr/bin/time.
   */
  pidFile?: string;
  /** Give up (SIGKILL) after this long. */
  timeoutMs?: number;
  stdin?: string;
}

/**
 * Runs a whole process under /usr/bin/time -v (for its peak memory) and measures its wall time from
 * spawn to exit with the host's monotonic clock.
 */
export function runProcess(command: string, args: string[], options: ProcessOptions = {}): Promise<ProcessResult> {
  const timed = existsSync(TIME_BINARY);
  const [cmd, argv] = timed ? [TIME_BINARY, ['-v', command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, argv, { stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    let stdout = '';
    let stderr = '';
    let matched = false;
    const end = () => {
      if (matched) return;
      matched = true;
      let pid = child.pid;
      if (options.pidFile) {
        try {
          pid = Number(readFileSync(options.pidFile, 'utf8').trim());
        } catch {
          // Not written yet: fall back to the direct child.
        }
      }
      try {
        if (pid) process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    };
    const timer = options.timeoutMs
      ? setTimeout(() => {
        stderr += `\n[bench] timed out after ${options.timeoutMs} ms\n`;
        child.kill('SIGKILL');
        if (options.pidFile) {
          try {
            process.kill(Number(readFileSync(options.pidFile, 'utf8').trim()), 'SIGKILL');
          } catch {
            // Gone.
          }
        }
      }, options.timeoutMs)
      : undefined;
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('latin1');
      if (options.until?.test(stdout)) end();
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('latin1')));
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      const wallMs = performance.now() - started;
      if (timer) clearTimeout(timer);
      const rss = stderr.match(/Maximum resident set size \(kbytes\): (\d+)/);
      resolve({ wallMs, maxRssKiB: rss ? Number(rss[1]) : NaN, exitCode, signal, stdout, stderr, matched });
    });
  });
}

/** Whether a program is on PATH (or is an existing path). */
export function which(program: string): string | undefined {
  if (program.includes('/')) return existsSync(program) ? program : undefined;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, program))) return join(dir, program);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The machine

export interface MachineInfo {
  cores: number;
  memoryGiB: number;
  node: string;
  cpuModel: string;
  os: string;
  /** 1, 5 and 15 minute load averages when the run started and when it ended: noise from other work. */
  loadAtStart: number[];
  loadAtEnd?: number[];
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    os: `${process.platform} ${release()}`,
    loadAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function machineLabel(m: MachineInfo): string {
  return `${m.cores} cores ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}`;
}

// ---------------------------------------------------------------------------------------------
// Results files

export interface Results {
  date: string;
  machine: MachineInfo;
  smoke: boolean;
  /** Seconds the whole run took. */
  durationS: number;
  rows: Row[];
  /** Benchmarks run again since (`--only NAMES --merge`): their rows replaced, when, and under what load. */
  remeasured?: Remeasure[];
}

export interface Remeasure { benches: string[]; date: string; loadAtStart: number[]; loadAtEnd: number[] }

/**
 * `previous` with the rows of the benchmarks in `fresh` replaced by fresh's (where the first of the old ones stood;
 * new benchmarks at the end), and the re-measurement noted. A benchmark that failed keeps its earlier rows: a
 * failure measures nothing, and replacing them would lose what was measured.
 */
export function mergeResults(previous: Results, fresh: Results, asked: string[]): Results {
  const failed = new Set(fresh.rows.filter((r) => r.error !== undefined).map((r) => r.bench));
  const benches = asked.filter((b) => !failed.has(b));
  if (!benches.length) return previous;
  fresh = { ...fresh, rows: fresh.rows.filter((r) => benches.includes(r.bench)) };
  const rows: Row[] = [];
  const placed = new Set<string>();
  for (const row of previous.rows) {
    if (!benches.includes(row.bench)) rows.push(row);
    else if (!placed.has(row.bench)) {
      placed.add(row.bench);
      rows.push(...fresh.rows.filter((r) => r.bench === row.bench));
    }
  }
  rows.push(...fresh.rows.filter((r) => !placed.has(r.bench)));
  const { loadAtStart, loadAtEnd = [] } = fresh.machine;
  const earlier = (previous.remeasured ?? []).filter((r) => !r.benches.every((b) => benches.includes(b)));
  return { ...previous, rows, remeasured: [...earlier, { benches, date: fresh.date, loadAtStart, loadAtEnd }] };
}

export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  const abs = Math.abs(x);
  if (abs >= 1000) return Math.round(x).toString();
  if (abs >= 100) return x.toFixed(0);
  if (abs >= 10) return x.toFixed(1);
  if (abs >= 1) return x.toFixed(2);
  if (abs === 0) return '0';
  return x.toPrecision(2);
}

function withRange(median: number | null, min?: number, max?: number): string {
  if (median === null) return '—';
  if (min === undefined || max === undefined || min === max) return formatNumber(median);
  return `${formatNumber(median)} (${formatNumber(min)}–${formatNumber(max)})`;
}

/** One sentence on rows measured again after the full run. */
export function remeasuredText(r: Remeasure): string {
  return `Rows of ${r.benches.map((b) => `\`${b}\``).join(', ')} measured again on ${r.date.slice(0, 10)} (${r.date}) by ` +
    `\`npm run bench -- --only ${r.benches.map((b) => `=${b}`).join(',')} --merge\`, load average at start ${r.loadAtStart.join(' / ')}, ` +
    `at end ${r.loadAtEnd.join(' / ')}.`;
}

export function renderMarkdown(results: Results): string {
  const m = results.machine;
  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` on ${results.date.slice(0, 10)} (${results.date}), ${results.durationS.toFixed(0)} s.`,
    '',
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}. ` +
      `Load average at start ${m.loadAtStart.join(' / ')}, at end ${m.loadAtEnd?.join(' / ') ?? '?'} (1/5/15 min): ` +
      'other work shares these 2 cores, so read the min–max ranges, not just the medians.',
    ...(results.remeasured ?? []).flatMap((r) => ['', remeasuredText(r)]),
    '',
    'Each figure is a median (min–max) over `runs` runs. A comparison alternates its two sides in one process, ' +
      'pair by pair; **ratio = value / baseline** is computed per pair and the median of those ratios is shown. ' +
      'Targets are informational: timing never fails a test.',
    '',
    '| benchmark | value | unit | baseline | ratio | target | runs | notes |',
    '| --- | ---: | --- | ---: | ---: | --- | ---: | --- |',
  ];
  for (const row of results.rows) {
    const target = targetText(row);
    const baseline = row.baseline === null ? (row.baselineLabel ? `— ${row.baselineLabel}` : '—') : `${withRange(row.baseline, row.baselineMin, row.baselineMax)}${row.baselineLabel ? ` ${row.baselineLabel}` : ''}`;
    const notes = [row.error ? `**FAILED:** ${row.error}` : '', row.skipped ? `**skipped:** ${row.skipped}` : '', row.note ?? ''].filter(Boolean).join(' ');
    lines.push(
      `| ${row.name} | ${withRange(row.value, row.valueMin, row.valueMax)} | ${row.unit} | ${baseline} | ${withRange(row.ratio, row.ratioMin, row.ratioMax)} | ${target} | ${row.runs} | ${notes.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** The figure a row's target applies to: its ratio, or its value (targetOn 'value'). */
export function targetMeasure(row: Pick<Row, 'ratio' | 'value' | 'targetOn'>): number | null {
  return row.targetOn === 'value' ? row.value : row.ratio;
}

/** The target cell: ">= 0.95 ✓" on a ratio, "<= 1 ms ✗" on a value. */
export function targetText(row: Pick<Row, 'target' | 'targetOn' | 'targetMet' | 'unit'>): string {
  if (!row.target) return '';
  const mark = row.targetMet === null ? '' : row.targetMet ? ' ✓' : ' ✗';
  return `${row.target}${row.targetOn === 'value' ? ` ${row.unit}` : ''}${mark}`;
}

export function finishRow(input: RowInput, bench: string, date: string, machine: string): Row {
  const check = parseTarget(input.target);
  const measure = targetMeasure(input);
  const targetMet = check && measure !== null && Number.isFinite(measure) ? check(measure) : null;
  return { bench, ...input, targetMet, date, machine };
}

export function writeResults(results: Results, dir: string): { markdown: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const markdown = join(dir, 'results.md');
  const json = join(dir, 'results.json');
  writeFileSync(markdown, renderMarkdown(results));
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  return { markdown, json };
}

/** Why a row is not good: a comparison must carry finite numbers, or say why it was skipped. */
export function rowProblem(row: Row): string | undefined {
  if (row.error !== undefined) return `failed: ${row.error}`;
  if (row.skipped !== undefined) return row.skipped.trim() ? undefined : 'skipped without a reason';
  if (row.value === null || !Number.isFinite(row.value)) return `value is ${row.value}`;
  if (row.baseline !== null && !Number.isFinite(row.baseline)) return `baseline is ${row.baseline}`;
  if (row.baseline !== null && (row.ratio === null || !Number.isFinite(row.ratio))) return `ratio is ${row.ratio}`;
  if (!(row.runs >= 1)) return `runs is ${row.runs}`;
  return undefined;
}
