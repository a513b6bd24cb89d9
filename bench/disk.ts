// Disks under FT (issue 19), on a disk-bound guest (test/support/rawguest.ts diskGuest: each round
// reads a sector, prints it, writes it back and writes one more sector, by PIO): what the log costs
// against the guest's disk read rate, shared vs local (VM-FT: logging bandwidth follows disk reads
// plus network input; a local disk logs only completions); how long a write waits before it is
// durable, FT vs a single host; and the workload's throughput, FT vs a single host. Each pair runs a
// single host, an FT pair on a shared disk and one on local disks, one after the other (a different one
// first in each pair), each host a fresh process. Throughput is timed alike on every side: from the
// guest's line "go" (after warm-up rounds, so V8 has optimized the emulator's code) to its line "end",
// as they reach the reader: on an FT pair once released, so everything before "end" is acknowledged
// and every write before it durable.
import { spawn } from 'node:child_process';
import { Socket, connect } from 'node:net';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiskFile, DiskMode } from '../src/ft/machine';
import { diskGuest } from '../test/support/rawguest';
import { BenchContext, BenchmarkModule, RowInput, compareRow, median } from './harness';
import { SchedStat, hostLauncher, hostPids, nextEvent, processSchedStat, sleep, withCluster } from './lib/ft';

const DISK_BYTES = 1024 * 1024;
const EPOCH = 2_000_000;
/** Instructions spun between disk commands (about 3 per loop). */
export const SPIN = 20_000;
/**
 * Rounds before the line "go": untimed. V8 compiles v86's hot wasm functions again with TurboFan, on its
 * own threads, as they get hot: after 100 rounds a fresh process still compiled about a second of it
 * after "go"; after 400, 5 ms (--trace-wasm-compilation-times).
 */
export const WARMUP_ROUNDS = 500;
export const TIMED_ROUNDS = 1000;

/** Where a process's threads' time between "go" and "end" went (/proc/<pid>/task/<tid>/schedstat), in ms. */
export interface ThreadTimes {
  /** The main thread (the guest's): on a CPU, runnable but waiting for one, asleep. */
  runMs: number; waitMs: number; asleepMs: number;
  /** Its other threads summed (V8's compiler and GC threads, libuv's pool, the backup's ack thread). */
  othersRunMs: number; othersWaitMs: number;
}

/** The machine's CPUs between "go" and "end" (/proc/stat), in ms of CPU time, and its load then. */
interface MachineTimes { busyMs: number; load: number }

interface SingleRun { seconds: number; fsyncMs: number; thread: ThreadTimes; machine: MachineTimes }

export interface FtRun {
  /** From "go" to "end". */
  seconds: number;
  /** From the pair's start to the guest's end: the log's rate is over the whole run. */
  wholeSeconds: number;
  logBytes: number;
  bytesRead: number;
  /** fdatasyncs the primary and the backup made on their disk (a shared-mode backup has none to make). */
  syncs: [number, number];
  delayMs: number;
  lostBackup: boolean;
  /** The primary's threads, the backup's, then the cluster's (this process). */
  threads: ThreadTimes[];
  machine: MachineTimes;
  /** How long the line "end" was held (the primary's last Output Rule delay): the ack path's share of `seconds`. */
  endHeldMs: number;
}

/** All CPUs' busy time so far (user, nice, system, irq, softirq, steal: all but idle and iowait), in ms. */
function machineBusyMs(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = fields.reduce((sum, n) => sum + n, 0) - fields[3] - fields[4];
  // In USER_HZ ticks (100 a second on Linux).
  return busy * 10;
}

interface Mark { at: number; sched: ReturnType<typeof processSchedStat>[]; busyMs: number; load: number }

/**
 * When the guest's lines "go" and "end" arrived, fed with its serial output as it comes, and where the
 * threads of `pids` and the machine's CPUs spent the time between.
 */
class Marks {
  private text = '\n';
  private go: Mark | undefined;
  private end: Mark | undefined;
  private onEnd: (() => void) | undefined;

  /** `pids`: the processes whose threads are watched, asked at each mark. */
  constructor(private readonly pids: () => number[]) {}

  take(chunk: string): void {
    this.text += chunk;
    const mark = () => ({
      at: performance.now(), sched: this.pids().map(processSchedStat), busyMs: machineBusyMs(),
      load: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
    });
    if (this.go === undefined && this.text.includes('\ngo\n')) this.go = mark();
    if (this.end === undefined && this.text.includes('\nend\n')) {
      this.end = mark();
      this.onEnd?.();
    }
  }

  /** Resolves once "end" has come. */
  ended(): Promise<void> {
    return new Promise((resolve) => {
      this.onEnd = resolve;
      if (this.end !== undefined) resolve();
    });
  }

  /** Seconds from "go" to "end". */
  seconds(side: string): number {
    if (this.go === undefined || this.end === undefined) throw new Error(`${side}: the guest's lines "go" and "end" were not both seen`);
    return (this.end.at - this.go.at) / 1000;
  }

  /** Each process's threads from "go" to "end". */
  threads(): ThreadTimes[] {
    const [go, end] = [this.go!, this.end!];
    const spent = (from: SchedStat, to: SchedStat) => ({
      runMs: to.runMs - from.runMs, waitMs: to.waitMs - from.waitMs,
    });
    return go.sched.map((_, i) => {
      const main = spent(go.sched[i].main, end.sched[i].main);
      const others = spent(go.sched[i].others, end.sched[i].others);
      const asleepMs = end.at - go.at - main.runMs - main.waitMs;
      return { ...main, asleepMs, othersRunMs: others.runMs, othersWaitMs: others.waitMs };
    });
  }

  /** The machine's CPU time from "go" to "end" (ours and everyone else's), and its load average at "end". */
  machine(): MachineTimes {
    return { busyMs: this.end!.busyMs - this.go!.busyMs, load: this.end!.load };
  }
}

function freshDisk(ctx: BenchContext, name: string): string {
  const path = join(ctx.tmpDir, name);
  writeFileSync(path, Buffer.alloc(DISK_BYTES));
  return path;
}

/**
 * The guest alone, on one host (each write durable before the next slice): `lockstep run --disk`, a fresh
 * process as each FT host is (a process that ran the guest before has V8's optimized code already), "go"
 * to "end" as its output reaches this process, and its fsync times.
 */
async function single(ctx: BenchContext, guest: string): Promise<SingleRun> {
  const path = freshDisk(ctx, 'single.img');
  // The CLI the FT hosts run (dist/cli.js, or the source under tsx when it is not built).
  const { script, execArgv } = hostLauncher().launcher;
  const args = [...execArgv, script, 'run', guest, '--disk', path, '--memory', '16', '--epoch', String(EPOCH)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const marks = new Marks(() => [child.pid!]);
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => marks.take(chunk.toString('latin1')));
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the disk guest did not finish alone (lockstep run exited with ${code}): ${stderr.trim()}`);
  // What a single host's write waits for before it is durable: one sector, fdatasync'ed, as the run wrote them.
  const file = DiskFile.open(path);
  try {
    const times = Array.from({ length: 50 }, (_, i) => {
      const started = performance.now();
      file.write((1 + (i % 8)) * 512, new Uint8Array(512).fill(i));
      return performance.now() - started;
    });
    return { seconds: marks.seconds('single host'), fsyncMs: median(times), thread: marks.threads()[0], machine: marks.machine() };
  } finally {
    file.close();
  }
}

/**
 * An FT pair, recorded: "go" to "end" as released by the primary, and the whole run (the backup acknowledged all).
 * `launcher`: the hosts' CLI (another build's for an A/B, bench/abdisk.ts).
 */
export async function ft(
  ctx: BenchContext, guest: string, mode: DiskMode, launcher = hostLauncher().launcher,
): Promise<FtRun> {
  const path = freshDisk(ctx, `${mode}.img`);
  const record = join(ctx.tmpDir, `disk-${mode}.ftlog`);
  const file = DiskFile.open(path);
  const identity = file.identity();
  file.close();
  const options = {
    guest, clock: 'virtual' as const, jit: true, memoryMiB: 16, epochLength: EPOCH, launcher, record,
    disk: { ...identity, mode }, detector: { timeoutMs: 15_000, heartbeatMs: 50 },
  };
  const run = await withCluster(options, async (cluster) => {
    // A primary that lost its backup (a spurious failover under load) runs alone: not an FT figure.
    let lostBackup = false;
    cluster.on('report', (report) => { if (report.type === 'backup-lost') lostBackup = true; });
    cluster.on('failover', () => { lostBackup = true; });
    // A backup that diverged halts, and its primary runs on with every output held: no FT figure at all.
    let diverged: string | undefined;
    cluster.on('divergence', (d) => { diverged ??= d.parts.join('; ') || `epoch ${d.epoch}`; });
    const ended = nextEvent(cluster, 'guest-ended', 280_000);
    // The service sends a line only to the clients it has then: connected as soon as the primary says where it is,
    // before its backup is even started (the guest runs only once the backup is attached).
    const marks = new Marks(() => [...hostPids(launcher), process.pid]);
    let socket: Socket | undefined;
    cluster.on('report', (report) => {
      if (report.type !== 'ready' || socket) return;
      socket = connect({ host: cluster.service.host, port: report.servicePort! });
      socket.on('data', (chunk: Buffer) => marks.take(chunk.toString('latin1')));
      socket.on('error', () => socket!.destroy());
    });
    await cluster.start();
    const started = performance.now();
    await ended;
    // The primary reports the end once "end" is released; the line may still be on its way here.
    await Promise.race([marks.ended(), sleep(10_000)]);
    socket?.destroy();
    if (diverged) throw new Error(`the ${mode}-disk backup diverged: ${diverged}`);
    const wholeSeconds = (performance.now() - started) / 1000;
    const seconds = marks.seconds(`FT ${mode} disk`);
    const primary = (await cluster.statsOf('primary'))!;
    const delays = mode === 'shared' ? primary.disk!.durableDelaysMs! : primary.outputDelaysMs;
    const threads = marks.threads();
    const endHeldMs = primary.outputDelaysMs.at(-1)!;
    const bytesRead = primary.disk!.bytesRead;
    const backupSyncs = (await cluster.statsOf('backup'))?.disk?.syncs ?? 0;
    const syncs: [number, number] = [primary.disk!.syncs, backupSyncs];
    const machine = marks.machine();
    const delayMs = median(delays);
    return { seconds, wholeSeconds, bytesRead, syncs, delayMs, lostBackup, threads, machine, endHeldMs };
  });
  // The recording is complete once the cluster has stopped (withCluster stops it).
  return { ...run, logBytes: statSync(record).size };
}

/**
 * Where the threads' time between "go" and "end" went, medians in ms, and the machine's CPU time beside
 * it: what bounds each side (a thread waiting for a CPU that the others' processes hold, or ours).
 */
function threadsNote(single: SingleRun[], ft: FtRun[]): string {
  const ms = (values: number[]) => Math.round(median(values));
  const of = (times: ThreadTimes[]) => `main thread ${ms(times.map((t) => t.runMs))} on a CPU + ${ms(times.map((t) => t.waitMs))} waiting for one + ${ms(times.map((t) => t.asleepMs))} asleep, its other threads ${ms(times.map((t) => t.othersRunMs))} on a CPU + ${ms(times.map((t) => t.othersWaitMs))} waiting`;
  const cluster = (times: ThreadTimes[]) => ms(times.map((t) => t.runMs + t.othersRunMs));
  // Everything but our processes: the other tenants of the machine's 2 cores.
  const ours = (threads: ThreadTimes[]) => threads.reduce((sum, t) => sum + t.runMs + t.othersRunMs, 0);
  const machine = (runs: (SingleRun | FtRun)[], threads: ThreadTimes[][]) => {
    const wall = ms(runs.map((r) => r.seconds * 1000));
    const others = ms(runs.map((r, i) => r.machine.busyMs - ours(threads[i])));
    return `${wall} ms wall, the machine's CPUs busy ${ms(runs.map((r) => r.machine.busyMs))} ms, ${others} of it not ours, load ${median(runs.map((r) => r.machine.load)).toFixed(1)}`;
  };
  return `Threads from "go" to "end" (/proc/<pid>/task/*/schedstat), medians in ms: single host ${of(single.map((r) => r.thread))} (${machine(single, single.map((r) => [r.thread]))}); FT primary ${of(ft.map((r) => r.threads[0]))}; backup ${of(ft.map((r) => r.threads[1]))}; the cluster (the bench process) ${cluster(ft.map((r) => r.threads[2]))} on a CPU (${machine(ft, ft.map((r) => r.threads))}).`;
}

/** The Output Rule's share of FT's time: the line "end" waits for its ack and the writes before it to be durable. */
function heldNote(ft: FtRun[]): string {
  const held = median(ft.map((r) => r.endHeldMs));
  const share = median(ft.map((r) => r.endHeldMs / (r.seconds * 1000)));
  return `The line "end" was held ${held.toFixed(1)} ms (median; the primary's last Output Rule delay, ack and earlier writes durable), ${(share * 100).toFixed(1)}% of FT's time from "go" to "end": the rounds before it never wait for an ack.`;
}

type Pair = { single: SingleRun; shared: FtRun; local: FtRun };

/**
 * One pair: the single host and both FT modes, a different side first in each pair (single, shared, local),
 * so that load rising or falling during a pair favours no side.
 */
async function sides(ctx: BenchContext, guest: string, pair: number): Promise<Pair> {
  const order = (['single', 'shared', 'local'] as const).map((_, i, all) => all[(i + pair) % all.length]);
  const done: Partial<Pair> = {};
  for (const side of order) {
    if (side === 'single') done.single = await single(ctx, guest);
    else done[side] = await ft(ctx, guest, side);
  }
  return done as Pair;
}

export const diskBenchmark: BenchmarkModule = {
  name: 'disk',
  groups: ['ft'],
  description: 'Disks under FT: log rate vs disk read rate (shared vs local), write latency and throughput FT vs single',
  run: async (ctx) => {
    // Timed rounds: at 200 (half a second) the ratio ranged 0.73-0.93 over 3 pairs on a quiet machine.
    const rounds = ctx.pick(TIMED_ROUNDS, 4);
    const guest = join(ctx.tmpDir, 'diskguest.bin');
    const warmup = ctx.pick(WARMUP_ROUNDS, 2);
    writeFileSync(guest, diskGuest(rounds, SPIN, warmup));
    const runs: Pair[] = [];
    for (let pair = 0; pair < ctx.pick(3, 1); pair++) {
      ctx.log(`disk: pair ${pair + 1}`);
      runs.push(await sides(ctx, guest, pair));
    }
    const label = `disk guest (${rounds} rounds of 1 sector read + 2 written, PIO)`;
    const alone = (mode: DiskMode) => runs.filter((r) => r[mode].lostBackup).length;
    const lost = (mode: DiskMode) => (alone(mode) ? ` In ${alone(mode)} of ${runs.length} runs the primary lost its backup (a failover under load) and ran on alone.` : '');
    const rate = (r: FtRun) => r.logBytes / r.wholeSeconds;
    const readRate = (r: FtRun) => r.bytesRead / r.wholeSeconds;
    const rows: RowInput[] = (['shared', 'local'] as const).map((mode) => compareRow({
      name: `${label}, ${mode} disk: log rate vs the guest's disk read rate`,
      unit: 'B/s',
      value: runs.map((r) => rate(r[mode])),
      baseline: runs.map((r) => readRate(r[mode])),
      baselineLabel: 'disk bytes read per second',
      note: `The whole .ftlog (header, epochs, output markers, reads) over the FT run's wall time. Log bytes per run: ${median(runs.map((r) => r[mode].logBytes))}. fdatasyncs per run (${2 * (rounds + warmup)} writes): primary ${median(runs.map((r) => r[mode].syncs[0]))}, backup ${median(runs.map((r) => r[mode].syncs[1]))} (a backup makes its copy durable only when it goes live).${lost(mode)}`,
    }));
    rows.push(compareRow({
      name: `${label}: write latency until durable, FT shared disk vs single host`,
      unit: 'ms',
      value: runs.map((r) => r.shared.delayMs),
      baseline: runs.map((r) => r.single.fsyncMs),
      baselineLabel: 'single host: a sector written and fdatasync\'ed',
      note: 'FT: median delay from the guest\'s write to durable on FILE (held until the backup acks, then written and fdatasync\'ed off the guest\'s thread), HostStats disk.durableDelaysMs of the primary, its latest 200 writes of the run. Single: the same write and fdatasync, timed in the bench process on the same file system.' + lost('shared'),
    }));
    for (const mode of ['shared', 'local'] as const) {
      rows.push(compareRow({
        name: `${label}: throughput, FT ${mode} disk vs single host`,
        unit: 'rounds/s',
        value: runs.map((r) => rounds / r[mode].seconds),
        baseline: runs.map((r) => rounds / r.single.seconds),
        baselineLabel: 'the guest alone (lockstep run --disk)',
        target: '>= 0.8',
        note: `Both sides are fresh processes (the single host \`lockstep run --disk\`, each FT host \`lockstep host\`), timed from the guest's line "go" (after ${warmup} untimed rounds: V8 has compiled v86's hot wasm with TurboFan on its own threads; after 100, a fresh process still spent about a second of CPU on it after "go") to its line "end" as it reaches the reader: the FT pair's once released (everything before it acknowledged, every write durable), the single host's as printed (each write fdatasync'ed on its main thread before the next slice). The guest never waits for an ack or an fdatasync (a write completes at once in the guest, a read at the end of its slice): the primary runs as fast as its CPU lets it, and the backup executes the guest again, so the pair needs about twice the CPU of one host. With a core free for each host the ratio nears the single host's main-thread CPU over the primary's. Under load it says more about the machine's other tenants than about FT: they take what the note says is not ours, and how much they leave each side differs from run to run (the ratio has been from 0.46 to 1.47 at loads of 15 to 24: docs/ft.md); the single host's fdatasyncs, on its main thread, also wait behind their disk I/O. ${threadsNote(runs.map((r) => r.single), runs.map((r) => r[mode]))} ${heldNote(runs.map((r) => r[mode]))}${lost(mode)}`,
      }));
    }
    return rows;
  },
};
