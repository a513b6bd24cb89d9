// Lockstep's single deterministic machine against plain v86 from npm: same image, same process,
// alternating run by run. spin is CPU-bound (MIPS); ticker is timer-driven (wall time to its last line:
// plain v86 waits for its timer ticks in real time, Lockstep's virtual clock skips idle time).
import { DEFAULT_EPOCH_LENGTH, INSTRUCTIONS_PER_MS, type JitTier } from '../src/ft/machine';
import { BenchContext, BenchmarkModule, RowInput, alternate, compareRow } from './harness';
import { GuestRun, runLockstep, runPlainV86 } from './lib/guests';

export const SPIN_CHECKSUM = /^spin checksum=/;
const TICKER_DONE = /^ticker done/;
const PLAIN = 'plain v86 0.5.462';

async function spin(ctx: BenchContext): Promise<RowInput[]> {
  // About 2.4 G instructions (under 2^32: plain v86's counter is 32 bits), so that JIT warm-up (plain
  // v86 compiles its JIT code asynchronously and ramps up over about a second here) weighs little.
  const iterations = ctx.pick(150_000_000, 100_000);
  const cmdline = `iterations=${iterations}`;
  const plain = (jitTier?: JitTier) => runPlainV86({ guest: 'spin', cmdline, until: SPIN_CHECKSUM, jitTier });
  const { a: lockstep, b: plainRuns } = await alternate(
    ctx.pick(7, 1),
    () => runLockstep({ guest: 'spin', cmdline, until: SPIN_CHECKSUM, jit: true, epochLength: DEFAULT_EPOCH_LENGTH }),
    async () => ({ v8: await plain(), liftoff: await plain('liftoff') }),
    { warmup: ctx.pick(1, 0), log: ctx.log, label: 'spin MIPS lockstep|plain' },
  );
  const same = lockstep.every((run, i) =>
    [plainRuns[i].v8, plainRuns[i].liftoff].every((p) => p.serial === run.serial));
  if (!same) throw new Error(`spin printed different output on Lockstep and plain v86: ${lockstep[0].serial} vs ${plainRuns[0].v8.serial}`);
  const name = `spin (${(lockstep[0].instructions / 1e6).toFixed(0)} M instr.): Lockstep machine vs plain v86`;
  const note = `Machine with a Recorder, JIT on (its modules in Liftoff alone: src/ft/machine/jittier.ts), epochs every ${DEFAULT_EPOCH_LENGTH / 1e6} M instructions (32 MiB of page hashes each; the JIT's code is kept across them); plain v86 autostarted. Boot excluded on both sides; same checksum line.`;
  const versus = (baseline: GuestRun[], baselineLabel: string, more: string) => compareRow({
    name: `${name}${more}`, unit: 'MIPS', value: lockstep.map((r) => r.mips), baseline: baseline.map((r) => r.mips), baselineLabel, target: '>= 0.97', note,
  });
  return [
    versus(plainRuns.map((r) => r.v8), PLAIN, ''),
    versus(plainRuns.map((r) => r.liftoff), `${PLAIN}, JIT's modules in Liftoff alone`, ' with the same V8 setting (the JIT\'s modules in Liftoff alone)'),
  ];
}

async function ticker(ctx: BenchContext): Promise<RowInput> {
  const ticks = ctx.pick(1000, 20);
  const cmdline = `hz=1000 ticks=${ticks} every=100`;
  const { a: lockstep, b: plain } = await alternate(
    ctx.pick(5, 1),
    () => runLockstep({ guest: 'ticker', cmdline, until: TICKER_DONE }),
    () => runPlainV86({ guest: 'ticker', cmdline, until: TICKER_DONE }),
    { warmup: ctx.pick(1, 0), log: ctx.log, label: 'ticker s lockstep|plain' },
  );
  return compareRow({
    name: `ticker (${cmdline}): Lockstep machine vs plain v86, time to finish`,
    unit: 's',
    value: lockstep.map((r) => r.ms / 1000),
    baseline: plain.map((r) => r.ms / 1000),
    baselineLabel: PLAIN,
    note: `Lower is faster. ${ticks} PIT ticks = ${ticks / 1000} s of guest time. Plain v86 runs them in real time and, while the guest halts, waits for the next tick with setTimeout (at least 1 ms each in Node), so it takes longer than that; Lockstep's virtual clock (${INSTRUCTIONS_PER_MS / 1000} instructions a µs, the default) skips halted time. The hashes differ by design (other clocks).`,
  });
}

export const machineBenchmark: BenchmarkModule = {
  name: 'machine',
  groups: ['machine'],
  description: 'Lockstep Machine vs plain v86 on spin (MIPS) and ticker (time), alternating in one process',
  run: async (ctx) => [...(await spin(ctx)), await ticker(ctx)],
};
