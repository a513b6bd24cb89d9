// Every benchmark, in the order `npm run bench` runs them. To add one: write bench/<name>.ts exporting a
// BenchmarkModule (see bench/harness.ts: alternate(), compareRow(), runProcess() for whole processes
// with peak memory), list it here, and drop its entries from PLANNED.
import { BenchmarkModule } from './harness';
import { epochBenchmark } from './epoch';
import { jitBenchmark } from './jit';
import { logBytesBenchmark } from './logbytes';
import { machineBenchmark } from './machine';
import { recordBenchmark } from './record';

export const BENCHMARKS: BenchmarkModule[] = [
  machineBenchmark, // npm run bench:machine (group "machine")
  epochBenchmark,
  jitBenchmark,
  recordBenchmark, // group "qemu": needs qemu-system-i386, skipped (saying how to install) without it
  logBytesBenchmark,
  // ---- HOOK: FT benchmarks go here (bench/ft.ts ...), see PLANNED ----
  // ---- HOOK: debugger benchmarks go here (bench/debugger.ts ...), see PLANNED ----
];

/**
 * Rows that belong in the results but whose benchmark is not written yet. Each shows up in
 * bench/results.md as a skipped row naming the file that should produce it, so the gap stays
 * visible. Whoever writes the benchmark removes its entries here.
 */
export interface PlannedRow { bench: string; name: string; unit: string; target: string | null; how: string }

export const PLANNED: PlannedRow[] = [
  {
    bench: 'ft',
    name: 'spin: FT pair (primary + backup) vs plain v86',
    unit: 'MIPS',
    target: '>= 0.94',
    how: 'bench/ft.ts: `lockstep ft spin` primary MIPS vs runPlainV86() alternating (VM-FT Table 1: 0.94–0.99)',
  },
  {
    bench: 'ft',
    name: 'kv: Output Rule delay (guest output to release)',
    unit: 'ms',
    target: null,
    how: 'bench/ft.ts: time from the output entry to its acknowledgement, median over a kv workload',
  },
  {
    bench: 'ft',
    name: 'kv: failover time (primary killed to backup live)',
    unit: 'ms',
    target: null,
    how: 'bench/ft.ts: `lockstep ft kv --fault kill-primary@T`, kill to go-live',
  },
  {
    bench: 'ft',
    name: 'spin: peak memory, FT pair vs single machine',
    unit: 'MiB',
    target: '<= 2.2',
    how: 'bench/ft.ts: sum of both host processes\' peak RSS vs `lockstep run` (harness runProcess() reads /usr/bin/time -v)',
  },
  {
    bench: 'debugger',
    name: 'runToInstruction N (from the nearest epoch)',
    unit: 'ms',
    target: null,
    how: 'bench/debugger.ts, once the debug adapter exists',
  },
  {
    bench: 'debugger',
    name: 'stepBack latency',
    unit: 'ms',
    target: null,
    how: 'bench/debugger.ts, once reverse execution exists',
  },
];
