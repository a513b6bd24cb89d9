// A/B of two builds on the disk guest under FT (bench/disk.ts's FT pairs), alternated round by round in one
// run: A is another checkout's built CLI, B this one's dist/cli.js (as bench/ab.ts does for kv).
//   node --expose-gc --import tsx bench/abdisk.ts /path/to/old/dist/cli.js [rounds] [shared,local]
// Prints per round and the medians: rounds/s from "go" to "end", and the CPU time of each host's main thread
// and of its other threads (ms, /proc/<pid>/task/*/schedstat) over that time.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { DiskMode } from '../src/ft/machine';
import { diskGuest } from '../test/support/rawguest';
import { FtRun, SPIN, TIMED_ROUNDS, WARMUP_ROUNDS, ft } from './disk';
import { collectGarbage, median } from './harness';
import { hostLauncher } from './lib/ft';
import { REPO } from './lib/processes';

const MODES: DiskMode[] = ['shared', 'local'];

/** rounds/s, then primary main + others, backup main + others (ms on a CPU). */
function figures(run: FtRun): number[] {
  const [primary, backup] = run.threads;
  return [TIMED_ROUNDS / run.seconds, primary.runMs, primary.othersRunMs, backup.runMs, backup.othersRunMs];
}

function line(f: number[]): string {
  const ms = f.slice(1).map(Math.round);
  return `${f[0].toFixed(0)} rounds/s; primary ${ms[0]} + ${ms[1]} ms, backup ${ms[2]} + ${ms[3]} ms on a CPU (main + others)`;
}

async function main(): Promise<void> {
  const [baseCli, roundsArg, modesArg] = process.argv.slice(2);
  if (!baseCli || !existsSync(baseCli)) throw new Error(`usage: bench/abdisk.ts OLD_DIST_CLI [rounds] [shared,local] (no file ${baseCli ?? ''})`);
  const rounds = Number(roundsArg ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bench/abdisk.ts: rounds must be a whole number from 1, got '${roundsArg}'`);
  const modes = modesArg ? modesArg.split(',') : MODES;
  const unknown = modes.find((m) => !MODES.includes(m as DiskMode));
  if (unknown) throw new Error(`bench/abdisk.ts: a disk mode is shared or local, got '${unknown}'`);
  const log = (message: string) => process.stderr.write(`[abdisk] ${message}\n`);
  const tmpDir = join(REPO, 'bench', 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const ctx = { smoke: false, tmpDir, log, pick: <T>(full: T) => full };
  const guest = join(tmpDir, 'abdisk-guest.bin');
  writeFileSync(guest, diskGuest(TIMED_ROUNDS, SPIN, WARMUP_ROUNDS));
  const launchers = { a: { script: baseCli, execArgv: [] }, b: hostLauncher().launcher };
  const results = new Map<string, number[][]>();
  log(`load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; A ${baseCli}, B ${launchers.b.script}`);
  for (let i = 1; i <= rounds; i++) {
    // The order within a round alternates, so load rising or falling during a round favours neither.
    const order = i % 2 ? (['a', 'b'] as const) : (['b', 'a'] as const);
    for (const mode of modes as DiskMode[]) {
      for (const side of order) {
        collectGarbage();
        const run = figures(await ft(ctx, guest, mode, launchers[side]));
        log(`round ${i} ${mode} ${side.toUpperCase()}: ${line(run)}; load ${loadavg()[0].toFixed(1)}`);
        const key = `${mode} ${side.toUpperCase()}`;
        results.set(key, [...(results.get(key) ?? []), run]);
      }
    }
  }
  for (const [key, runs] of results) log(`median ${key}: ${line(runs[0].map((_, k) => median(runs.map((r) => r[k]))))}`);
  log(`load at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
