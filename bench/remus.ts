// Deterministic replay (VM-FT) against checkpoint replication (Remus, `--mode checkpoint`), on the
// same guest and workload in one run (issue 20):
//  - kv under client load (4 clients, 2 rounds): ops/s, the Output Rule's delay p50/p99, channel bytes/s primary →
//    backup and CPU per op, replay against checkpoints every 10, 25, 50, 100 and 200 ms, round by round;
//  - spin (CPU-bound, few dirty pages) and spin over 4096 pages (memory-writing, many dirty pages): the
//    primary's MIPS and channel bytes/s, replay against checkpoints every 25 and 200 ms;
//  - the cost of a checkpoint by dirty pages (a machine whose pages are written between checkpoints:
//    the many-dirty-pages case), raw and XOR+RLE, and finding dirty pages by the epoch's page hashes
//    against comparing with a copy;
//  - failover: SIGKILL of the primary to the first reply from the new primary, both modes.
import { Checkpointer, dirtyByHash, ShadowRegion, type CheckpointPolicy } from '../src/ft/checkpoint';
import type { ClusterOptions } from '../src/ft/cluster';
import { loadImage, Machine, Recorder } from '../src/ft/machine';
import { BenchContext, BenchmarkModule, RowInput, collectGarbage, compareRow, formatNumber, median, valueRow } from './harness';
import { buildChildProgram, clusterOptions, hostPids, quantile, withCluster } from './lib/ft';
import {
  cpuPerOp, failover, FailoverDuringRun, ftSetup, latest, measuredWorkload, opsPerSecond, warmUpWorkload,
  withoutFailover, type Setup,
} from './ft';
import { rmSync } from 'node:fs';

const INTERVALS_MS = [10, 25, 50, 100, 200];

/** The replication options of one side: replay, or checkpoints every `ms`. */
function modeOptions(ms: number | undefined): Partial<ClusterOptions> {
  if (ms === undefined) return { mode: 'replay' };
  const checkpoint: CheckpointPolicy = { intervalMs: ms, compress: true };
  return { mode: 'checkpoint', checkpoint };
}

/**
 * The options of a steady-state side (kv, spin): failure detection waits 3 s, as on 2 cores shared
 * with other work a 1 s detector fails over spuriously, which spoils the run; nothing measured there
 * depends on the timeout.
 */
function steadyOptions(ms: number | undefined): Partial<ClusterOptions> {
  return { ...modeOptions(ms), detector: { timeoutMs: 3000 } };
}

function label(ms: number | undefined): string {
  return ms === undefined ? 'replay' : `checkpoint ${ms} ms`;
}

interface KvSide {
  opsPerS: number;
  delayP50: number;
  delayP99: number;
  bytesPerS: number;
  cpuMsPerOp: number;
  checkpoints: number;
  bytesPerCheckpoint: number;
  pauseMs: number;
}

async function kvSide(setup: Setup, ms: number | undefined, ops: number, seed: number): Promise<KvSide> {
  const options = clusterOptions('kv', setup.launcher, setup.ctx.tmpDir, steadyOptions(ms));
  return withCluster(options, async (cluster) => {
    await cluster.start();
    await warmUpWorkload(setup, cluster.service, seed, 'serial', KV_DEADLINE_MS);
    const before = (await cluster.statsOf('primary'))!;
    const started = performance.now();
    const run = await measuredWorkload(cluster.service, ops, seed, hostPids(setup.launcher), 'serial', KV_DEADLINE_MS);
    const seconds = (performance.now() - started) / 1000;
    const after = (await cluster.statsOf('primary'))!;
    if (cluster.failovers.length) throw new FailoverDuringRun(cluster.failovers[0].reason);
    const delays = latest(after.outputDelaysMs, after.outputsReleased - before.outputsReleased);
    const taken = (after.checkpoints?.taken ?? 0) - (before.checkpoints?.taken ?? 0);
    const bytes = (after.checkpoints?.bytes ?? 0) - (before.checkpoints?.bytes ?? 0);
    return {
      opsPerS: opsPerSecond(run.history),
      delayP50: quantile(delays, 0.5),
      delayP99: quantile(delays, 0.99),
      bytesPerS: (after.bytesSent - before.bytesSent) / seconds,
      cpuMsPerOp: cpuPerOp(run).hosts,
      checkpoints: taken,
      bytesPerCheckpoint: taken ? bytes / taken : 0,
      pauseMs: median(latest(after.checkpoints?.recent ?? [], taken).map((r) => r.pauseMs)),
    };
  });
}

async function kv(full: Setup): Promise<RowInput[]> {
  const { ctx } = full;
  const setup = { ...full, warmOps: ctx.pick(KV_WARM_OPS, full.warmOps) };
  const rounds = ctx.pick(2, 1);
  const ops = ctx.pick(KV_OPS, 20);
  const intervals = ctx.pick(INTERVALS_MS, [25]);
  const sides = [undefined, ...intervals];
  const runs = sides.map(() => [] as KvSide[]);
  for (let round = 0; round < rounds; round++) {
    for (const [k, ms] of sides.entries()) {
      collectGarbage();
      const side = await withoutFailover(setup, `kv ${label(ms)}`, () => kvSide(setup, ms, ops, 31 + round));
      ctx.log(`kv ${label(ms)}, round ${round + 1}/${rounds}: ${formatNumber(side.opsPerS)} ops/s, delay p50 ${formatNumber(side.delayP50)} ms`);
      runs[k].push(side);
    }
  }
  const replay = runs[0];
  const pick = (side: KvSide[], f: (s: KvSide) => number) => side.map(f);
  return intervals.flatMap((ms, i) => {
    const cp = runs[i + 1];
    const figures = `checkpoints: ${formatNumber(median(pick(cp, (s) => s.checkpoints)))} in the workload, ${formatNumber(median(pick(cp, (s) => s.bytesPerCheckpoint)))} bytes each (XOR+RLE), guest paused ${formatNumber(median(pick(cp, (s) => s.pauseMs)))} ms per checkpoint (median)`;
    const what = `kv (${KV_LABEL}), checkpoints every ${ms} ms vs replay`;
    return [
      compareRow({ name: `${what}: throughput`, unit: 'ops/s', value: pick(cp, (s) => s.opsPerS), baseline: pick(replay, (s) => s.opsPerS), baselineLabel: 'replay', note: `${figures}.` }),
      compareRow({
        name: `${what}: Output Rule delay p50`, unit: 'ms', value: pick(cp, (s) => s.delayP50), baseline: pick(replay, (s) => s.delayP50), baselineLabel: 'replay',
        note: `p99: checkpoint ${formatNumber(median(pick(cp, (s) => s.delayP99)))} ms, replay ${formatNumber(median(pick(replay, (s) => s.delayP99)))} ms. An output waits for the ack of the checkpoint after it (replay: of its own log entry).`,
      }),
      compareRow({ name: `${what}: channel bytes/s primary → backup`, unit: 'B/s', value: pick(cp, (s) => s.bytesPerS), baseline: pick(replay, (s) => s.bytesPerS), baselineLabel: 'replay' }),
      compareRow({ name: `${what}: CPU per op (both hosts)`, unit: 'ms/op', value: pick(cp, (s) => s.cpuMsPerOp), baseline: pick(replay, (s) => s.cpuMsPerOp), baselineLabel: 'replay', note: 'The replay backup executes every instruction; the checkpoint backup only stores pages.' }),
    ];
  });
}

const KV_OPS = 300;
/** Fewer than ft.ts's warm-up: at checkpoints every 200 ms, 4 clients wait about a second per op on 2 shared cores. */
const KV_WARM_OPS = 300;
const KV_LABEL = `4 clients, ${KV_OPS} ops after ${KV_WARM_OPS} warm-up ops`;
/** Checkpoints every 10 ms pause the guest often: the workload's default 120 s is too short on a loaded machine. */
const KV_DEADLINE_MS = 600_000;

/** A CPU-bound guest: spin on one page (few dirty pages), or spread over `pages` (the memory-writing workload). */
interface SpinWorkload { label: string; pages: number }

const SPIN_WORKLOADS: SpinWorkload[] = [
  { label: 'spin (CPU-bound, one page written: few dirty pages), 100 M instructions', pages: 1 },
  { label: 'memory-writing spin (pages=4096: a store into 16 MiB every 16 instructions, many dirty pages), 100 M instructions', pages: 4096 },
];
const SPIN_INTERVALS_MS = [25, 200];

interface SpinSide { mips: number; bytesPerS: number; dirtyPages: number; bytesPerCheckpoint: number; pauseMs: number }

/** spin from the backup's attach to the guest's end: the primary's MIPS, and what its checkpoints cost. */
async function spinSide(setup: Setup, workload: SpinWorkload, ms: number | undefined): Promise<SpinSide> {
  const cmdline = `iterations=${setup.ctx.pick(6_250_000, 300_000)} pages=${workload.pages}`;
  const options = clusterOptions('spin', setup.launcher, setup.ctx.tmpDir, { cmdline, ...steadyOptions(ms) });
  return withCluster(options, async (cluster) => {
    const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
    await cluster.start();
    const started = performance.now();
    await ended;
    const seconds = (performance.now() - started) / 1000;
    const stats = (await cluster.statsOf('primary'))!;
    const recent = stats.checkpoints?.recent ?? [];
    return {
      mips: stats.instructions / seconds / 1e6,
      bytesPerS: stats.bytesSent / seconds,
      dirtyPages: median(recent.map((r) => r.dirtyPages)),
      bytesPerCheckpoint: median(recent.map((r) => r.bytes)),
      pauseMs: median(recent.map((r) => r.pauseMs)),
    };
  });
}

async function spin(setup: Setup): Promise<RowInput[]> {
  const rounds = setup.ctx.pick(2, 1);
  const intervals = setup.ctx.pick(SPIN_INTERVALS_MS, [25]);
  const sides = [undefined, ...intervals];
  const rows: RowInput[] = [];
  for (const workload of SPIN_WORKLOADS) {
    const runs = sides.map(() => [] as SpinSide[]);
    for (let round = 0; round < rounds; round++) {
      for (const [k, ms] of sides.entries()) {
        collectGarbage();
        const side = await withoutFailover(setup, `${workload.label} ${label(ms)}`, () => spinSide(setup, workload, ms));
        setup.ctx.log(`${workload.label}, ${label(ms)}, round ${round + 1}/${rounds}: ${formatNumber(side.mips)} MIPS`);
        runs[k].push(side);
      }
    }
    rows.push(...intervals.flatMap((ms, i) => spinRows(workload, ms, runs[i + 1], runs[0])));
  }
  return rows;
}

function spinRows(workload: SpinWorkload, ms: number, cp: SpinSide[], replay: SpinSide[]): RowInput[] {
  const pick = (sides: SpinSide[], f: (s: SpinSide) => number) => sides.map(f);
  const figures = `${formatNumber(median(pick(cp, (s) => s.dirtyPages)))} dirty pages and ${formatNumber(median(pick(cp, (s) => s.bytesPerCheckpoint)))} bytes (XOR+RLE) per checkpoint, guest paused ${formatNumber(median(pick(cp, (s) => s.pauseMs)))} ms each (medians)`;
  const what = `${workload.label}, checkpoints every ${ms} ms vs replay`;
  return [
    compareRow({
      name: `${what}: the primary's speed`, unit: 'MIPS', value: pick(cp, (s) => s.mips), baseline: pick(replay, (s) => s.mips), baselineLabel: 'replay',
      note: `${figures}. From the backup's attach to the guest's end. Each checkpoint is a forced epoch (page hashes), a snapshot without RAM and the changed pages; the replay backup needs a core of its own to follow.`,
    }),
    compareRow({ name: `${what}: channel bytes/s primary → backup`, unit: 'B/s', value: pick(cp, (s) => s.bytesPerS), baseline: pick(replay, (s) => s.bytesPerS), baselineLabel: 'replay' }),
  ];
}

/** spin on 32 MiB, 50 M instructions in. */
async function spinMachine(): Promise<Machine> {
  const machine = await Machine.create({ image: loadImage('spin'), memoryMiB: 32, nondet: new Recorder(() => undefined) });
  machine.run(50_000_000);
  return machine;
}

/** A checkpoint's pause and size with `dirty` pages written since the last one (`partial`: 64 bytes of each). */
async function capture(ctx: BenchContext): Promise<RowInput[]> {
  const machine = await spinMachine();
  const pages = machine.memory.length / 4096;
  const rows: RowInput[] = [];
  const runs = ctx.pick(7, 1);
  for (const compress of [false, true]) {
    for (const dirty of ctx.pick([16, 256, 2048, pages], [16])) {
      const checkpointer = new Checkpointer({ instructions: 1, compress });
      checkpointer.capture(machine);
      const pause: number[] = [];
      const bytes: number[] = [];
      for (let run = 0; run < runs; run++) {
        const written = new Uint8Array(64).fill(run + 1);
        for (let page = 0; page < dirty; page++) machine.writePhysical(((page * 7919) % pages) * 4096 + 128, written);
        const captured = checkpointer.capture(machine);
        pause.push(captured.pauseMs);
        bytes.push(captured.bytes.length);
      }
      rows.push(valueRow({
        name: `checkpoint of a 32 MiB machine with ${dirty} dirty pages (64 bytes written on each), ${compress ? 'XOR+RLE' : 'raw pages'}: guest paused`, unit: 'ms', value: pause,
        note: `${formatNumber(median(bytes))} bytes per checkpoint. The pause includes hashing every page (an epoch's work, done here by the checkpoint since no epoch came first), the snapshot without RAM (about 3 MB, mostly VGA memory, compared with the last one) and encoding.`,
      }));
    }
  }
  machine.destroy();
  rows.push(await dirtyDetection(runs));
  return rows;
}

/** Dirty pages by the epoch's page hashes (what checkpoints use) vs comparing RAM with a copy of it. */
async function dirtyDetection(runs: number): Promise<RowInput> {
  const machine = await spinMachine();
  const shadow = new ShadowRegion();
  shadow.commit(machine.memory, []);
  let previous = machine.pageHashes();
  const byHash: number[] = [];
  const byCopy: number[] = [];
  for (let run = 0; run < runs; run++) {
    machine.run(machine.instructions + 10_000_000);
    let t = performance.now();
    const hashes = machine.pageHashes();
    dirtyByHash(previous, hashes);
    byHash.push(performance.now() - t);
    previous = hashes;
    t = performance.now();
    const pages = shadow.dirty(machine.memory);
    shadow.commit(machine.memory, pages);
    byCopy.push(performance.now() - t);
  }
  machine.destroy();
  return compareRow({
    name: 'finding the dirty pages of 32 MiB: page hashes vs comparing with a copy', unit: 'ms', value: byHash, baseline: byCopy, baselineLabel: 'compare with a copy (and update it)',
    note: 'At an epoch the page hashes are already computed for divergence detection, so checkpoints use them and pay only the comparison of 8192 hashes; the copy costs another 32 MiB of memory per primary (XOR+RLE keeps one anyway).',
  });
}

async function failovers(setup: Setup): Promise<RowInput[]> {
  const trials = setup.ctx.pick(3, 1);
  const replay: number[] = [];
  const checkpoint: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    replay.push((await withoutFailover(setup, 'failover replay', () => failover(setup, 1000, 50))).toReply);
    checkpoint.push((await withoutFailover(setup, 'failover checkpoint', () => failover(setup, 1000, 50, modeOptions(25)))).toReply);
  }
  return [compareRow({
    name: 'kv: failover, SIGKILL of the primary to the first reply from the new primary (detection 1000 ms, the default), checkpoint 25 ms vs replay', unit: 'ms', value: checkpoint, baseline: replay, baselineLabel: 'replay',
    note: 'Replay: the backup replays what it received, then goes live with its running machine. Checkpoint: the backup boots a machine and restores its last checkpoint into it (a v86 emulator start and a restore) after winning the arbiter.',
  })];
}

const PARTS = ['remus: checkpoint cost', 'remus: kv', 'remus: spin', 'remus: failover'];

/** A part that fails (a failover trial on an overloaded machine, say) is a failed row; the other parts keep theirs. */
async function part(ctx: BenchContext, name: string, run: () => Promise<RowInput[]>): Promise<RowInput[]> {
  try {
    return await run();
  } catch (error) {
    const message = (error as Error).message;
    ctx.log(`${name} FAILED: ${message}`);
    return [{ name: `${name} (failed)`, unit: '', value: null, baseline: null, ratio: null, target: null, runs: 0, error: message }];
  }
}

export const remusBenchmark: BenchmarkModule = {
  name: 'remus',
  groups: ['ft', 'remus'],
  description: 'deterministic replay vs checkpoint replication (Remus): kv throughput, Output Rule delay, channel bytes, CPU per op by checkpoint interval; spin; checkpoint cost by dirty pages; failover',
  run: async (ctx) => {
    const program = buildChildProgram(ctx.tmpDir);
    const setup = ftSetup(ctx, program);
    try {
      const parts = [() => capture(ctx), () => kv(setup), () => spin(setup), () => failovers(setup)];
      const rows: RowInput[] = [];
      for (const [k, run] of parts.entries()) rows.push(...(await part(ctx, PARTS[k], run)));
      return rows;
    } finally {
      rmSync(program, { force: true });
    }
  },
};
