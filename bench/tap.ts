// Real clients through a tap (lockstep ft linux --tap, in a network namespace of its own): curl's
// download throughput and HTTP request latency, FT pair vs a single unreplicated host, and the stall
// a downloading client sees at a failover beside the detection timeout. Two Linux boots. The first
// (--no-restore) runs the FT rounds, then its backup is SIGKILLed and the primary, alone with no new
// backup, is the single unreplicated host of the same rounds: the same guest, host process, tap,
// bridge and service, without the log's backup and the Output Rule (as bench/ft.ts's kv baseline).
// The second kills the primary in the middle of a download (the stall), as test/linux/tap.test.ts.
// Root only, and the linux guest must be built; skipped otherwise, saying why.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { linuxGuestDir } from '../src/ft/machine';
import { FtProcess, NetNs, tapSkipReason } from '../test/support/netns';
import { BenchContext, BenchmarkModule, compareRow, RowInput, skippedRow, valueRow } from './harness';

const GUEST = '10.0.2.15';
const FILE_BYTES = 4_194_306;
const DETECT_TIMEOUT_MS = 5000;
const ROUNDS = 3;
const REQUESTS = 40;
/**
 * Connections made before the FT rounds, unmeasured: the guest's first hundred or so cost its kernel about 8 M
 * instructions each, the later ones about 0.6 M (traced: docs/ft.md, "Where a request's time goes"), and the single
 * host's rounds come after the FT rounds, so without this FT alone would pay for it.
 */
const WARM_UP_REQUESTS = 160;
/** The primary is killed once this much of the stall download has arrived. */
const KILL_AFTER = 1 << 20;
/** No curl may wait for ever (a guest that stopped answering): the bench fails saying so. */
const CURL_MAX_S = '300';

interface Round { mbps: number; latenciesMs: number[] }

async function waitForHttpd(ns: NetNs): Promise<void> {
  const deadline = Date.now() + 1_200_000;
  for (;;) {
    const { stdout } = await ns.run('curl', ['-s', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code}', '-r', '0-0', `http://${GUEST}/big.txt`]);
    if (stdout === '206') return;
    if (Date.now() > deadline) throw new Error('the linux guest did not serve HTTP on the tap within 20 minutes');
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** One download of big.txt (MB/s from curl's own timing) and REQUESTS small requests, one connection each. */
async function round(ns: NetNs): Promise<Round> {
  const download = await ns.run('curl', ['-sS', '--max-time', CURL_MAX_S, '-o', '/dev/null', '-w', '%{size_download} %{time_total}', `http://${GUEST}/big.txt`]);
  const [bytes, seconds] = download.stdout.split(' ').map(Number);
  if (download.code !== 0 || bytes !== FILE_BYTES) throw new Error(`download: curl exit ${download.code}, ${bytes} bytes: ${download.stderr.trim()}`);
  // -o pairs with one URL: each needs its own.
  const urls = Array.from({ length: REQUESTS }, () => ['-o', '/dev/null', `http://${GUEST}/big.txt`]).flat();
  const requests = await ns.run('curl', ['-sS', '--max-time', CURL_MAX_S, '-r', '0-99', '-w', '%{time_total}\\n', ...urls]);
  if (requests.code !== 0) throw new Error(`requests: curl exit ${requests.code}: ${requests.stderr.trim()}`);
  return { mbps: bytes / seconds / 1e6, latenciesMs: requests.stdout.trim().split('\n').map((s) => Number(s) * 1000) };
}

/**
 * A download during which the primary is SIGKILLed: the longest time without a byte from the kill on (bytes the old
 * primary released before it died still arrive just after the kill: the stall is the gap after them).
 */
async function stall(ns: NetNs, ft: FtProcess): Promise<number> {
  const primary = ft.firstHostPid();
  const curl = ns.spawn('curl', ['-sS', '--max-time', CURL_MAX_S, `http://${GUEST}/big.txt`]);
  let received = 0;
  const times: number[] = [];
  curl.stdout!.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (times.length) times.push(performance.now());
    else if (received >= KILL_AFTER) {
      process.kill(primary, 'SIGKILL');
      times.push(performance.now());
    }
  });
  const code = await new Promise<number | null>((resolve) => curl.once('close', resolve));
  if (code !== 0 || received !== FILE_BYTES || times.length < 2) throw new Error(`stall download: curl exit ${code}, ${received} bytes`);
  return Math.max(...times.slice(1).map((t, i) => t - times[i]));
}

function percentile(values: number[], p: number): number {
  return [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))];
}

type FtUse<T> = (ns: NetNs, ft: FtProcess, failovers: () => number) => Promise<T>;

/**
 * `lockstep ft linux --tap tap0` in a namespace of its own, up once httpd serves; `use` it, then end it all. A
 * failure says what the guest's kernel said about its network card meanwhile (its console is the serial line).
 */
async function withFt<T>(extra: string[], use: FtUse<T>): Promise<T> {
  const ns = new NetNs();
  // Not --json: its stderr says who is primary, so a spurious failover (a host starved of CPU) is seen.
  const ft = new FtProcess(ns, ['linux', '--tap', 'tap0', '--detect-timeout', String(DETECT_TIMEOUT_MS), ...extra]);
  let serial: ReturnType<NetNs['readConsole']> | undefined;
  try {
    await waitForHttpd(ns);
    serial = ns.readConsole(/ service at ([\d.]+:\d+)/.exec(ft.stderr)![1]);
    return await use(ns, ft, () => (ft.stderr.match(/ is primary \(generation [2-9]/g) ?? []).length);
  } catch (error) {
    const card = (serial?.text() ?? '').split('\n').filter((line) => line.includes('eth0')).map((line) => line.trim());
    throw new Error(`${(error as Error).message}${card.length ? `; the guest's kernel said: ${card.join(' | ')}` : ''}`, { cause: error });
  } finally {
    serial?.stop();
    await ft.end();
    ns.delete();
  }
}

/** The guest's first connections, unmeasured (WARM_UP_REQUESTS), and one download. */
async function warmUp(ns: NetNs): Promise<void> {
  const urls = Array.from({ length: WARM_UP_REQUESTS }, () => ['-o', '/dev/null', `http://${GUEST}/big.txt`]).flat();
  const requests = await ns.run('curl', ['-sS', '--max-time', CURL_MAX_S, '-r', '0-99', ...urls]);
  if (requests.code !== 0) throw new Error(`warm-up requests: curl exit ${requests.code}: ${requests.stderr.trim()}`);
  await round(ns);
}

async function rounds(ctx: BenchContext, ns: NetNs, label: string): Promise<Round[]> {
  const done: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) done.push(await round(ns));
  ctx.log(`tap: ${label} ${done.map((r) => r.mbps.toFixed(3)).join(' ')} MB/s`);
  return done;
}

/** FT rounds, then the backup is SIGKILLed and the same primary, alone, runs the single host's rounds. */
function ftThenSingle(ctx: BenchContext): Promise<{ ft: Round[]; single: Round[] }> {
  return withFt(['--no-restore'], async (ns, ft, failovers) => {
    await warmUp(ns);
    const pair = await rounds(ctx, ns, 'FT');
    if (failovers()) throw new Error(`a spurious failover during the FT rounds: ${ft.stderr}`);
    process.kill(ft.hostPids()[1], 'SIGKILL');
    // The primary runs alone once it has noticed (detection timeout) and won the arbiter.
    const deadline = Date.now() + 10 * DETECT_TIMEOUT_MS;
    while (!failovers() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (failovers() !== 1) throw new Error(`the primary did not go on alone after its backup was killed: ${ft.stderr}`);
    try {
      return { ft: pair, single: await rounds(ctx, ns, 'single') };
    } catch (error) {
      throw new Error(`single host (after FT ${pair.map((r) => r.mbps.toFixed(3)).join(' ')} MB/s): ${(error as Error).message}`, { cause: error });
    }
  });
}

const DOWNLOAD_ROW = 'tap: HTTP download of 4 MiB through the tap, FT pair vs single unreplicated host';
const latencyRow = (p: number) => `tap: HTTP request latency p${p * 100} (100 bytes, a connection each), FT vs single`;
const STALL_ROW = `tap: failover stall seen by curl mid-download (longest gap between bytes from the SIGKILL on), detection timeout ${DETECT_TIMEOUT_MS} ms`;
const PERCENTILES = [0.5, 0.99] as const;

/** What a boot that failed leaves: the rows it should have given, not measured, saying why. */
const notMeasured = (error: unknown) => `not measured: ${(error as Error).message}`;

async function comparisonRows(ctx: BenchContext): Promise<RowInput[]> {
  let measured: { ft: Round[]; single: Round[] };
  try {
    measured = await ftThenSingle(ctx);
  } catch (error) {
    ctx.log(`tap: ${notMeasured(error)}`);
    return [skippedRow(DOWNLOAD_ROW, 'MB/s', notMeasured(error), '>= 0.8'), ...PERCENTILES.map((p) => skippedRow(latencyRow(p), 'ms', notMeasured(error)))];
  }
  const { ft: ftRounds, single } = measured;
  const how = `curl in a network namespace, \`lockstep ft linux --tap tap0 --no-restore --detect-timeout ${DETECT_TIMEOUT_MS}\`; ` +
    `${WARM_UP_REQUESTS} connections and a round first, unmeasured (the guest's first connections cost it about 8 M ` +
    'instructions each, later ones 0.6 M); then the FT rounds, then the single host (the same primary after its ' +
    'backup was SIGKILLed, no new backup): sequential, not alternated (one Linux boot); ratio per round i.';
  return [
    compareRow({
      name: DOWNLOAD_ROW,
      unit: 'MB/s', value: ftRounds.map((r) => r.mbps), baseline: single.map((r) => r.mbps), baselineLabel: 'single host', target: '>= 0.8',
      note: `${how} curl's size_download / time_total. Every frame in (the client's ACKs) is a logged net input delivered at a boundary, every frame out waits for the backup's ack (Output Rule): the guest's TCP sees that wait as round-trip time. The guest runs while it serves (it is not idle), so an ack that arrives during a slice waits for the slice's end (docs/ft.md, the Output Rule: a per-stage trace).`,
    }),
    ...PERCENTILES.map((p) => compareRow({
      name: latencyRow(p),
      unit: 'ms', value: ftRounds.map((r) => percentile(r.latenciesMs, p)), baseline: single.map((r) => percentile(r.latenciesMs, p)), baselineLabel: 'single host',
      note: `${how} ${REQUESTS} requests per round (curl time_total: connect, request, reply; busybox httpd closes each connection). Lower is faster.`,
    })),
  ];
}

async function stallRow(ctx: BenchContext): Promise<RowInput> {
  const target = `<= ${DETECT_TIMEOUT_MS + 200}`;
  try {
    const stallMs = await withFt([], async (ns, ft, failovers) => {
      if (failovers()) throw new Error(`a spurious failover before the kill: ${ft.stderr}`);
      return stall(ns, ft);
    });
    ctx.log(`tap: stall ${stallMs.toFixed(0)} ms`);
    return valueRow({
      name: STALL_ROW, unit: 'ms', value: [stallMs], target,
      note: `A boot of its own (\`lockstep ft linux --tap tap0 --detect-timeout ${DETECT_TIMEOUT_MS}\`), one failover. The stall is detection (${DETECT_TIMEOUT_MS} ms from the last word heard, checked every heartbeat) + go-live (replay what was received, arbiter, bind) + the first frames out: the new primary sends again, at go-live, the frames it never heard released (the segments the old primary died holding), so no guest timer is waited for (docs/ft.md, "What the old primary may not have sent").`,
    });
  } catch (error) {
    ctx.log(`tap: ${notMeasured(error)}`);
    return skippedRow(STALL_ROW, 'ms', notMeasured(error), target);
  }
}

async function measure(ctx: BenchContext): Promise<RowInput[]> {
  return [...await comparisonRows(ctx), await stallRow(ctx)];
}

export const tapBenchmark: BenchmarkModule = {
  name: 'tap',
  groups: ['tap'],
  description: 'curl through a tap to the linux guest: FT pair vs single host, and the stall at a failover',
  async run(ctx) {
    const names = [DOWNLOAD_ROW];
    const why = ctx.smoke
      ? 'smoke mode: boots Linux (minutes); npm run bench -- --only tap'
      : tapSkipReason() ?? (existsSync(join(linuxGuestDir(), 'manifest.json')) ? undefined : 'the linux guest is not built (npm run build:linux)');
    if (why) return names.map((name) => skippedRow(name, 'MB/s', why, '>= 0.8'));
    return measure(ctx);
  },
};
