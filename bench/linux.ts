// The linux guest (npm run build:linux): boot to kvd's ready line on a Lockstep Machine vs plain v86
// on the same files (BIOS, bzImage, initrd, command line, 256 MiB), alternating in one process; with
// epochs vs without (what they cost); the
// FT pair (two host processes) vs two plain v86 processes started together, to the same line; the
// debugger's runTo and stepBack inside it; the size of a booted Linux's snapshot and the time to
// clone it (restore into a fresh v86). Skipped, saying how to build it, when the guest is not built.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Timeline } from '../src/ft/debug';
import { Cluster } from '../src/ft/cluster';
import { linuxGuestDir, loadImage, Machine, Recorder, type JitTier } from '../src/ft/machine';
import { SerialWatch } from '../src/ft/workload';
import { SeededRandom } from '../src/ft/random';
import { BenchContext, BenchmarkModule, RowInput, alternate, compareRow, formatNumber, median, skippedRow, valueRow } from './harness';
import { GuestRun, runLockstep, runPlainV86 } from './lib/guests';
import { NO_EPOCHS } from './epoch';
import { buildChildProgram, clusterOptions, hostLauncher, runPlainV86Process } from './lib/ft';

const KV_READY = /^kv ready/;
const PLAIN = 'plain v86 0.5.462';
const EPOCH = 100_000_000;

async function boot(ctx: BenchContext): Promise<RowInput[]> {
  const { memoryMiB, cmdline } = loadImage('linux').boot!;
  const plain = (jitTier?: JitTier) => runPlainV86({ guest: 'linux', until: KV_READY, memoryMiB, cmdline, timeoutMs: 600_000, jitTier });
  const { a: lockstep, b: plainRuns } = await alternate(
    ctx.pick(3, 1),
    () => runLockstep({ guest: 'linux', until: KV_READY, memoryMiB, cmdline, epochLength: EPOCH }),
    async () => ({ v8: await plain(), liftoff: await plain('liftoff') }),
    { log: ctx.log, label: 'linux boot s lockstep|plain' },
  );
  const name = 'linux boot to kvd\'s ready line: Lockstep machine vs plain v86';
  const note = `Ratio: plain time / Lockstep time (higher is better). About ${(lockstep[0].instructions / 1e9).toFixed(2)} G instructions. Lockstep: a Recorder, JIT on (its modules in Liftoff alone: src/ft/machine/jittier.ts), epochs every ${EPOCH / 1e6} M instructions (256 MiB of page hashes each; the JIT's code is kept across them). Same files, command line and memory on both sides. Plain v86 waits for its timers in real time while the guest halts; Lockstep's virtual clock skips them. Its rate, 1 instruction a ns, makes the kernel's busy waits (udelay) run 0.58 G more instructions than on plain v86 (docs/machine.md).`;
  const versus = (baseline: GuestRun[], baselineLabel: string, more: string) => compareRow({
    name: `${name}${more}`,
    unit: 's',
    value: lockstep.map((r) => r.ms / 1000),
    baseline: baseline.map((r) => r.ms / 1000),
    baselineLabel,
    ratioOf: (value, base) => base / value,
    target: '>= 0.97',
    note,
  });
  return [
    versus(plainRuns.map((r) => r.v8), PLAIN, ', same files'),
    versus(plainRuns.map((r) => r.liftoff), `${PLAIN}, JIT's modules in Liftoff alone`, ' with the same V8 setting (the JIT\'s modules in Liftoff alone), same files'),
  ];
}

/** A Lockstep boot to kvd's ready line, with the process's CPU time over it (machine creation included). */
async function timedBoot(epochLength: number): Promise<{ ms: number; cpuMs: number }> {
  const { memoryMiB, cmdline } = loadImage('linux').boot!;
  const before = process.cpuUsage();
  const run = await runLockstep({ guest: 'linux', until: KV_READY, memoryMiB, cmdline, epochLength });
  const used = process.cpuUsage(before);
  return { ms: run.ms, cpuMs: (used.user + used.system) / 1000 };
}

/** What epochs cost a Linux boot: the default epochs against none, Lockstep machines alternated in one process. */
async function epochCost(ctx: BenchContext): Promise<RowInput> {
  const { a: epochs, b: none } = await alternate(ctx.pick(3, 1), () => timedBoot(EPOCH), () => timedBoot(NO_EPOCHS), {
    log: ctx.log,
    label: 'linux boot epochs|none',
  });
  const cpu = (runs: { cpuMs: number }[]) => formatNumber(median(runs.map((r) => r.cpuMs / 1000)));
  return compareRow({
    name: 'linux boot to kvd\'s ready line: epochs every 100 M instr. vs no epochs (Lockstep machine)',
    unit: 's',
    value: epochs.map((r) => r.ms / 1000),
    baseline: none.map((r) => r.ms / 1000),
    baselineLabel: 'Lockstep, no epochs',
    ratioOf: (value, baseline) => baseline / value,
    note: `Ratio: time without epochs / time with them (higher is better). The same instructions on both sides (the boot reaches the line at the same count). An epoch hashes 256 MiB and the devices; the JIT's code stays compiled across it (snapshots carry the JIT's state). CPU time of the process per boot, medians: ${cpu(epochs)} s with epochs, ${cpu(none)} s without (machine creation included). docs/machine.md, "What an epoch costs", splits it.`,
  });
}

/** From the hosts' start (their emulators made) to kvd's ready line released by the FT pair, ms. */
async function ftBoot(ctx: BenchContext): Promise<number> {
  const { memoryMiB, cmdline } = loadImage('linux').boot!;
  const { launcher } = hostLauncher();
  // A generous detector: a spurious failover on a loaded machine would time a failover, not a boot.
  const cluster = new Cluster(clusterOptions('linux', launcher, ctx.tmpDir, {
    memoryMiB, cmdline, detector: { timeoutMs: 8000, heartbeatMs: 200 },
  }));
  try {
    await cluster.start();
    const started = performance.now();
    const serial = await SerialWatch.open(cluster.service);
    try {
      await serial.until('kv ready', 600_000);
    } finally {
      serial.close();
    }
    if (cluster.failovers.length) throw new Error(`a failover during the boot: ${cluster.failovers[0].reason}`);
    return performance.now() - started;
  } finally {
    await cluster.stop({ finish: false });
    cluster.destroy();
  }
}

interface Twins { mean: number; each: string }

/** Two plain v86 processes started together, to kvd's ready line: the mean of their times, ms. */
async function plainTwins(program: string, cmdline: string, jitTier?: JitTier): Promise<Twins> {
  const pair = await Promise.all([0, 1].map(() => runPlainV86Process(program, 'linux', cmdline, KV_READY, 600_000, jitTier)));
  return { mean: pair.reduce((sum, r) => sum + r.ms, 0) / pair.length, each: pair.map((r) => (r.ms / 1000).toFixed(1)).join(' + ') };
}

/** The FT pair against two plain v86 processes started together (what running two emulators costs here). */
async function ftPair(ctx: BenchContext): Promise<RowInput[]> {
  const { cmdline } = loadImage('linux').boot!;
  const program = buildChildProgram(ctx.tmpDir);
  const ft: number[] = [];
  const twins: number[] = [];
  const liftoffTwins: number[] = [];
  for (let i = 0; i < ctx.pick(3, 1); i++) {
    ft.push(await ftBoot(ctx));
    const v8 = await plainTwins(program, cmdline);
    const liftoff = await plainTwins(program, cmdline, 'liftoff');
    twins.push(v8.mean);
    liftoffTwins.push(liftoff.mean);
    ctx.log(`linux ft pair ${i + 1}: FT ${(ft[i] / 1000).toFixed(1)} s, two plain at once ${v8.each} s, the same in Liftoff ${liftoff.each} s`);
  }
  const versus = (baseline: number[], label: string, more: string) => compareRow({
    name: `linux boot to kvd's ready line: FT pair vs two plain v86 processes at once${more}`,
    unit: 's',
    value: ft.map((ms) => ms / 1000),
    baseline: baseline.map((ms) => ms / 1000),
    baselineLabel: `${label}, two processes started together (mean of the two)`,
    ratioOf: (value, base) => base / value,
    target: '>= 0.9',
    note: 'Ratio: plain time / FT time (higher is better). FT: `lockstep ft` defaults with the guest\'s files, 256 MiB (built CLI when dist/cli.js exists; the JIT\'s modules in Liftoff alone: src/ft/machine/jittier.ts), from the cluster\'s start (both hosts\' emulators made) to the line reaching a service client (released by the Output Rule: the backup has it). Plain: each process from emulator-started to the line; v86\'s timers wait in real time there while Lockstep\'s virtual clock skips idle time.',
  });
  return [
    versus(twins, PLAIN, ''),
    versus(liftoffTwins, `${PLAIN}, JIT's modules in Liftoff alone`, ' with the same V8 setting (the JIT\'s modules in Liftoff alone)'),
  ];
}

/** A timeline recorded to just past kvd's start, then stops and steps back at seeded random counts. */
async function debug(ctx: BenchContext): Promise<RowInput[]> {
  const image = loadImage('linux');
  const { memoryMiB, cmdline } = image.boot!;
  const seeded = new SeededRandom(1);
  const source = new Recorder(() => undefined, { random: () => seeded.nextInt32() });
  const machine = await Machine.create({ image, memoryMiB, cmdline, epochLength: EPOCH, nondet: source });
  const timeline = new Timeline(machine, { source });
  try {
    timeline.runTo(ctx.pick(3_300_000_000, 300_000_000));
    const random = new SeededRandom(0x1e57);
    const runTo: number[] = [];
    const stepBack: number[] = [];
    for (let i = 0; i < ctx.pick(20, 2); i++) {
      const n = EPOCH + Math.floor(random.next() * (timeline.frontier - EPOCH));
      let t = performance.now();
      timeline.runTo(n);
      runTo.push(performance.now() - t);
      t = performance.now();
      timeline.stepBack();
      stepBack.push(performance.now() - t);
    }
    const where = `${(timeline.frontier / 1e9).toFixed(2)} G instructions of a Linux boot recorded (snapshots: ${timeline.snapshotCount}, ${(timeline.snapshotBytes / 2 ** 20).toFixed(0)} MiB)`;
    return [
      valueRow({ name: 'linux: runToInstruction N, random N in the boot: the machine stops at N', unit: 'ms', value: runTo, target: '<= 1000', note: where }),
      valueRow({ name: 'linux: stepBack after such a stop', unit: 'ms', value: stepBack, target: '<= 300', note: where }),
    ];
  } finally {
    machine.destroy();
  }
}

/** A booted Linux (kvd running): its snapshot size, and restoring it into a fresh v86 (what a clone costs a host). */
async function clone(ctx: BenchContext): Promise<RowInput[]> {
  const image = loadImage('linux');
  const { memoryMiB, cmdline } = image.boot!;
  const options = { image, memoryMiB, cmdline, epochLength: EPOCH };
  const machine = await Machine.create({ ...options, nondet: new Recorder(() => undefined) });
  try {
    machine.run(ctx.pick(3_300_000_000, 200_000_000));
    const sizes: number[] = [];
    const clones: number[] = [];
    for (let i = 0; i < ctx.pick(5, 1); i++) {
      let t = performance.now();
      const snapshot = machine.snapshot();
      const taken = performance.now() - t;
      sizes.push(snapshot.length / 2 ** 20);
      t = performance.now();
      const clone = await Machine.restore(snapshot, { ...options, nondet: new Recorder(() => undefined) });
      clones.push(taken + performance.now() - t);
      clone.destroy();
    }
    const at = `at ${(machine.instructions / 1e9).toFixed(2)} G instructions, ${memoryMiB} MiB of RAM`;
    return [
      valueRow({ name: 'linux: snapshot of a booted Linux', unit: 'MiB', value: sizes, note: at }),
      valueRow({
        name: 'linux: clone time (snapshot + restore into a fresh v86)', unit: 'ms', value: clones,
        note: `${at}; the channel transfer of a real clone comes on top`,
      }),
    ];
  } finally {
    machine.destroy();
  }
}

export const linuxBenchmark: BenchmarkModule = {
  name: 'linux',
  groups: ['linux'],
  description: 'the linux guest: boot vs plain v86, boot with epochs vs without, runTo/stepBack inside it, snapshot size and clone time',
  run: async (ctx) => {
    const why = ctx.smoke
      ? 'smoke mode: boots Linux (minutes); npm run bench:linux'
      : !existsSync(join(linuxGuestDir(), 'manifest.json')) && 'the linux guest is not built: run npm run build:linux';
    if (why) return [skippedRow('linux boot: Lockstep machine vs plain v86', 's', why, '>= 0.97')];
    return [...(await boot(ctx)), await epochCost(ctx), ...(await ftPair(ctx)), ...(await debug(ctx)),
      ...(await clone(ctx))];
  },
};
