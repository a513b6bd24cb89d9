// Disks under FT (issue 19), on a disk-bound guest (test/support/rawguest.ts diskGuest: each round
// reads a sector, prints it, writes it back and writes one more sector, by PIO): what the log costs
// against the guest's disk read rate, shared vs local (VM-FT: logging bandwidth follows disk reads
// plus network input; a local disk logs only completions); how long a write waits before it is
// durable, FT vs a single host; and the workload's throughput, FT vs a single host. Each pair runs a
// single host, an FT pair on a shared disk and one on local disks, one after the other.
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runGuest } from '../src/ft/commands';
import { DiskFile, DiskMode, loadImage } from '../src/ft/machine';
import { diskGuest } from '../test/support/rawguest';
import { BenchContext, BenchmarkModule, RowInput, compareRow, median } from './harness';
import { hostLauncher, nextEvent, withCluster } from './lib/ft';

const DISK_BYTES = 1024 * 1024;
const EPOCH = 2_000_000;
/** Instructions spun between disk commands (about 3 per loop). */
const SPIN = 20_000;

interface FtRun { seconds: number; logBytes: number; bytesRead: number; delayMs: number; lostBackup: boolean }

function freshDisk(ctx: BenchContext, name: string): string {
  const path = join(ctx.tmpDir, name);
  writeFileSync(path, Buffer.alloc(DISK_BYTES));
  return path;
}

/** The guest alone, on one host: its run loop's wall time (machine creation left out), and its writes' fsync times. */
async function single(ctx: BenchContext, guest: string): Promise<{ seconds: number; fsyncMs: number }> {
  const file = DiskFile.open(freshDisk(ctx, 'single.img'));
  try {
    const run = await runGuest({ image: loadImage(guest), epochLength: EPOCH, memoryMiB: 16, disk: { size: file.size, mode: 'shared', file } });
    if (run.end !== 'exited') throw new Error(`the disk guest did not finish alone: ${run.end}`);
    // What a single host's write waits for before it is durable: one sector, fdatasync'ed, as the run wrote them.
    const times = Array.from({ length: 50 }, (_, i) => {
      const started = performance.now();
      file.write((1 + (i % 8)) * 512, new Uint8Array(512).fill(i));
      return performance.now() - started;
    });
    return { seconds: run.wallMs / 1000, fsyncMs: median(times) };
  } finally {
    file.close();
  }
}

/** An FT pair from the primary's start to the guest's end (its backup has acknowledged everything), recorded. */
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
    await cluster.start();
    const started = performance.now();
    await ended;
    if (diverged) throw new Error(`the ${mode}-disk backup diverged: ${diverged}`);
    const seconds = (performance.now() - started) / 1000;
    const primary = (await cluster.statsOf('primary'))!;
    const delays = mode === 'shared' ? primary.disk!.durableDelaysMs! : primary.outputDelaysMs;
    return { seconds, bytesRead: primary.disk!.bytesRead, delayMs: median(delays), lostBackup };
  });
  // The recording is complete once the cluster has stopped (withCluster stops it).
  return { ...run, logBytes: statSync(record).size };
}

export const diskBenchmark: BenchmarkModule = {
  name: 'disk',
  groups: ['ft'],
  description: 'Disks under FT: log rate vs disk read rate (shared vs local), write latency and throughput FT vs single',
  run: async (ctx) => {
    const rounds = ctx.pick(100, 4);
    const guest = join(ctx.tmpDir, 'diskguest.bin');
    writeFileSync(guest, diskGuest(rounds, SPIN));
    const runs: { single: Awaited<ReturnType<typeof single>>; shared: FtRun; local: FtRun }[] = [];
    for (let pair = 0; pair < ctx.pick(3, 1); pair++) {
      ctx.log(`disk: pair ${pair + 1}`);
      runs.push({ single: await single(ctx, guest), shared: await ft(ctx, guest, 'shared'), local: await ft(ctx, guest, 'local') });
    }
    const label = `disk guest (${rounds} rounds of 1 sector read + 2 written, PIO)`;
    const alone = (mode: DiskMode) => runs.filter((r) => r[mode].lostBackup).length;
    const lost = (mode: DiskMode) => (alone(mode) ? ` In ${alone(mode)} of ${runs.length} runs the primary lost its backup (a failover under load) and ran on alone.` : '');
    const rate = (r: FtRun) => r.logBytes / r.seconds;
    const readRate = (r: FtRun) => r.bytesRead / r.seconds;
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
      note: 'FT: median delay from the guest\'s write to durable on FILE (held until the backup acks, then written and fdatasync\'ed off the guest\'s thread), HostStats disk.durableDelaysMs of the primary, 200 writes per run. Single: the same write and fdatasync, timed in the bench process on the same file system.' + lost('shared'),
    }));
    for (const mode of ['shared', 'local'] as const) {
      rows.push(compareRow({
        name: `${label}: throughput, FT ${mode} disk vs single host`,
        unit: 'rounds/s',
        value: runs.map((r) => rounds / r[mode].seconds),
        baseline: runs.map((r) => rounds / r.single.seconds),
        baselineLabel: 'the guest alone (lockstep run --disk)',
        target: '>= 0.8',
        note: `FT: from the pair's start to the guest's end with everything acknowledged and every write durable; single: the run loop, machine creation left out. What bounds it on 2 cores: the backup executes the guest again, so the pair needs about twice the CPU of one host: the ratio can near 1 only with two cores free for it; with less (other load; Linux's autogroup scheduler shares one session's CPU among its processes) it falls towards 0.5.${lost(mode)}`,
      }));
    }
    return rows;
  },
};
