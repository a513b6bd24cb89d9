// Disks under FT (issue 19), on a disk-bound guest (test/support/rawguest.ts diskGuest: each round
// reads a sector, prints it, writes it back and writes one more sector, by PIO): what the log costs
// against the guest's disk read rate, shared vs local (VM-FT: logging bandwidth follows disk reads
// plus network input; a local disk logs only completions); how long a write waits before it is
// durable, FT vs a single host; and the workload's throughput, FT vs a single host. Each pair runs a
// single host, an FT pair on a shared disk and one on local disks, one after the other. Throughput is
// timed alike on every side: from the guest's line "go" (after warm-up rounds, so V8 has compiled the
// emulator's code) to its line "end", as they reach the reader: on an FT pair once released, so
// everything before "end" is acknowledged and every write before it durable.
import { Socket, connect } from 'node:net';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runGuest } from '../src/ft/commands';
import { DiskFile, DiskMode, loadImage } from '../src/ft/machine';
import { diskGuest } from '../test/support/rawguest';
import { BenchContext, BenchmarkModule, RowInput, compareRow, median } from './harness';
import { hostLauncher, hostPids, nextEvent, schedStat, sleep, withCluster } from './lib/ft';

const DISK_BYTES = 1024 * 1024;
const EPOCH = 2_000_000;
/** Instructions spun between disk commands (about 3 per loop). */
const SPIN = 20_000;
/** Rounds before the line "go": untimed. */
const WARMUP_ROUNDS = 100;

/** Where a main thread's wall time between "go" and "end" went (/proc/<pid>/schedstat), in ms. */
interface ThreadTimes { runMs: number; waitMs: number; asleepMs: number }

interface SingleRun { seconds: number; fsyncMs: number; thread: ThreadTimes }

interface FtRun {
  /** From "go" to "end". */
  seconds: number;
  /** From the pair's start to the guest's end: the log's rate is over the whole run. */
  wholeSeconds: number;
  logBytes: number;
  bytesRead: number;
  delayMs: number;
  lostBackup: boolean;
  /** The primary's main thread, then the backup's. */
  threads: ThreadTimes[];
  /** How long the line "end" was held (the primary's last Output Rule delay): the ack path's share of `seconds`. */
  endHeldMs: number;
}

interface Mark { at: number; sched: ReturnType<typeof schedStat>[] }

/**
 * When the guest's lines "go" and "end" arrived, fed with its serial output as it comes, and where the main
 * threads of `pids` spent the time between.
 */
class Marks {
  private text = '\n';
  private go: Mark | undefined;
  private end: Mark | undefined;
  private onEnd: (() => void) | undefined;

  /** `pids`: the processes whose main threads are watched, asked at each mark. */
  constructor(private readonly pids: () => number[]) {}

  take(chunk: string): void {
    this.text += chunk;
    const mark = () => ({ at: performance.now(), sched: this.pids().map(schedStat) });
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

  /** Each thread's time on a CPU, runnable but waiting for one, and asleep, from "go" to "end". */
  threads(): ThreadTimes[] {
    const [go, end] = [this.go!, this.end!];
    return go.sched.map((_, i) => {
      const runMs = end.sched[i].runMs - go.sched[i].runMs;
      const waitMs = end.sched[i].waitMs - go.sched[i].waitMs;
      return { runMs, waitMs, asleepMs: end.at - go.at - runMs - waitMs };
    });
  }
}

function freshDisk(ctx: BenchContext, name: string): string {
  const path = join(ctx.tmpDir, name);
  writeFileSync(path, Buffer.alloc(DISK_BYTES));
  return path;
}

/** The guest alone, on one host (each write durable before the next slice): "go" to "end", and its fsync times. */
async function single(ctx: BenchContext, guest: string): Promise<SingleRun> {
  const file = DiskFile.open(freshDisk(ctx, 'single.img'));
  const marks = new Marks(() => [process.pid]);
  try {
    const run = await runGuest({
      image: loadImage(guest), epochLength: EPOCH, memoryMiB: 16, disk: { size: file.size, mode: 'shared', file },
      onSerial: (data) => marks.take(Buffer.from(data).toString('latin1')),
    });
    if (run.end !== 'exited') throw new Error(`the disk guest did not finish alone: ${run.end}`);
    // What a single host's write waits for before it is durable: one sector, fdatasync'ed, as the run wrote them.
    const times = Array.from({ length: 50 }, (_, i) => {
      const started = performance.now();
      file.write((1 + (i % 8)) * 512, new Uint8Array(512).fill(i));
      return performance.now() - started;
    });
    return { seconds: marks.seconds('single host'), fsyncMs: median(times), thread: marks.threads()[0] };
  } finally {
    file.close();
  }
}

/** An FT pair, recorded: "go" to "end" as released by the primary, and the whole run (the backup acknowledged all). */
async function ft(ctx: BenchContext, guest: string, mode: DiskMode): Promise<FtRun> {
  const path = freshDisk(ctx, `${mode}.img`);
  const record = join(ctx.tmpDir, `disk-${mode}.ftlog`);
  const file = DiskFile.open(path);
  const identity = file.identity();
  file.close();
  const { launcher } = hostLauncher();
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
    const marks = new Marks(() => hostPids(launcher));
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
    return { seconds, wholeSeconds, bytesRead, delayMs: median(delays), lostBackup, threads, endHeldMs };
  });
  // The recording is complete once the cluster has stopped (withCluster stops it).
  return { ...run, logBytes: statSync(record).size };
}

/** Where the main threads' time between "go" and "end" went, medians in ms: what bounds each side. */
function threadsNote(single: ThreadTimes[], ft: ThreadTimes[][]): string {
  const ms = (values: number[]) => Math.round(median(values));
  const of = (times: ThreadTimes[]) => `${ms(times.map((t) => t.runMs))} on a CPU + ${ms(times.map((t) => t.waitMs))} waiting for one + ${ms(times.map((t) => t.asleepMs))} asleep`;
  return `Main threads from "go" to "end" (/proc/<pid>/schedstat), medians in ms: single host ${of(single)}; FT primary ${of(ft.map((t) => t[0]))} (asleep: waiting for nothing the guest needs, flow control or pacing); backup ${of(ft.map((t) => t[1]))}.`;
}

/** The Output Rule's share of FT's time: the line "end" waits for its ack and the writes before it to be durable. */
function heldNote(ft: FtRun[]): string {
  const held = median(ft.map((r) => r.endHeldMs));
  const share = median(ft.map((r) => r.endHeldMs / (r.seconds * 1000)));
  return `The line "end" was held ${held.toFixed(1)} ms (median; the primary's last Output Rule delay, ack and earlier writes durable), ${(share * 100).toFixed(1)}% of FT's time from "go" to "end": the rounds before it never wait for an ack.`;
}

export const diskBenchmark: BenchmarkModule = {
  name: 'disk',
  groups: ['ft'],
  description: 'Disks under FT: log rate vs disk read rate (shared vs local), write latency and throughput FT vs single',
  run: async (ctx) => {
    const rounds = ctx.pick(200, 4);
    const guest = join(ctx.tmpDir, 'diskguest.bin');
    const warmup = ctx.pick(WARMUP_ROUNDS, 2);
    writeFileSync(guest, diskGuest(rounds, SPIN, warmup));
    const runs: { single: SingleRun; shared: FtRun; local: FtRun }[] = [];
    for (let pair = 0; pair < ctx.pick(3, 1); pair++) {
      ctx.log(`disk: pair ${pair + 1}`);
      runs.push({ single: await single(ctx, guest), shared: await ft(ctx, guest, 'shared'), local: await ft(ctx, guest, 'local') });
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
      note: `The whole .ftlog (header, epochs, output markers, reads) over the FT run's wall time. Log bytes per run: ${median(runs.map((r) => r[mode].logBytes))}.${lost(mode)}`,
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
        note: `Both sides from the guest's line "go" (after ${warmup} untimed rounds: V8 has compiled the emulator's code) to its line "end" as it reaches the reader: the FT pair's once released (everything before it acknowledged, every write durable), the single host's as printed (each write fdatasync'ed before the next slice). The guest never waits for an ack or an fdatasync (a write completes at once in the guest, a read at the end of its slice): the primary runs as fast as its CPU lets it, and the backup executes the guest again, so the pair needs about twice the CPU of one host: the ratio nears 1 only with two cores free for it; with less (other load; Linux's autogroup scheduler shares one session's CPU among its processes) it falls towards 0.5. ${threadsNote(runs.map((r) => r.single.thread), runs.map((r) => r[mode].threads))} ${heldNote(runs.map((r) => r[mode]))}${lost(mode)}`,
      }));
    }
    return rows;
  },
};
