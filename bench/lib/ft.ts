// Helpers for the FT benchmarks (bench/ft.ts): FT clusters of real host processes, the baselines that
// run as processes of their own (bench/lib/child.ts: plain v86, a plain v86 line service, an echo
// server), a probing client for failover, peak memory of a process, and a loopback round-trip
// reference.
import { buildSync } from 'esbuild';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { Socket, connect } from 'node:net';
import { join } from 'node:path';
import { Cluster, ClusterOptions, HostLauncher } from '../../src/ft/cluster';
import { DEFAULT_EPOCH_LENGTH, DEFAULT_MEMORY_MIB, v86WasmPath, type JitTier } from '../../src/ft/machine';
import type { ServiceAddress } from '../../src/ft/replication';
import type { ChildArgs, ChildRun } from './child';
import { image, type BenchGuest } from './guests';
import { CLI, REPO } from './processes';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// FT clusters

/** Hosts run the built CLI (as `lockstep ft` does); from source under tsx only when it is missing. */
export function hostLauncher(): { launcher: HostLauncher; label: string; built: boolean } {
  if (existsSync(CLI)) return { launcher: { script: CLI, execArgv: [] }, label: 'node dist/cli.js host', built: true };
  return { launcher: { script: join(REPO, 'src', 'cli.ts'), execArgv: ['--import', 'tsx'] }, label: 'src/cli.ts under tsx (dist/cli.js missing: npm run build)', built: false };
}

/**
 * The options `lockstep ft GUEST` uses by default (virtual clock, JIT on, 32 MiB, 100 M-instruction
 * epochs, detector 1000/50 ms), with a scratch arbiter directory under `tmpDir`.
 */
export function clusterOptions(
  guest: ClusterOptions['guest'],
  launcher: HostLauncher,
  tmpDir: string,
  extra: Partial<ClusterOptions> = {},
): ClusterOptions {
  return {
    guest, clock: 'virtual', jit: true, memoryMiB: DEFAULT_MEMORY_MIB, epochLength: DEFAULT_EPOCH_LENGTH,
    launcher, arbiterDir: mkdtempSync(join(tmpDir, 'arbiter-')),
    ...extra,
  };
}

/** Runs `body` with a started cluster, and always takes it down (and its arbiter directory) afterwards. */
export async function withCluster<T>(
  options: ClusterOptions,
  body: (cluster: Cluster) => Promise<T>,
  timeoutMs = 300_000,
): Promise<T> {
  const cluster = new Cluster(options);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${options.guest} under FT: gave up after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([body(cluster), timeout]);
  } finally {
    clearTimeout(timer);
    const live = [...cluster.hosts.values()].some((h) => h.link.alive);
    if (live) await Promise.race([cluster.stop(), sleep(10_000)]);
    cluster.destroy();
    if (options.arbiterDir) rmSync(options.arbiterDir, { recursive: true, force: true });
  }
}

/** Resolves with the first event `name` the cluster emits, or rejects after `timeoutMs`. */
export function nextEvent<A extends unknown[]>(cluster: Cluster, name: 'failover' | 'guest-ended' | 'backup-attached', timeoutMs: number): Promise<A> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    (cluster as unknown as NodeJS.EventEmitter).once(name, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as A);
    });
  });
}

/**
 * The host processes this process forked with `launcher` that are still running, oldest first (the
 * cluster does not expose their pids; /proc does, on Linux: empty elsewhere).
 */
export function hostPids(launcher: HostLauncher): number[] {
  const found: { pid: number; start: number }[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  for (const name of entries) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ... starttime is field 22; comm may hold spaces, so count after its ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue;
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv.at(-1) === 'host' && argv.includes(launcher.script)) found.push({ pid: Number(name), start: Number(fields[19]) });
    } catch {
      // Gone meanwhile.
    }
  }
  return found.sort((a, b) => a.start - b.start || a.pid - b.pid).map((p) => p.pid);
}

/** CPU time (user + system) a live process has used so far, in ms, from /proc (NaN when unknown). */
export function cpuTimeMs(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15, in clock ticks (USER_HZ, 100 on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

const CLOCK_TICKS = 100;

/** Time on a CPU and runnable but waiting for one, ms. */
export interface SchedStat { runMs: number; waitMs: number }

/** /proc/<pid>/schedstat or /proc/<pid>/task/<tid>/schedstat (ns → ms); NaNs when unknown. */
function readSchedStat(path: string): SchedStat {
  try {
    const [run, wait] = readFileSync(path, 'utf8').trim().split(' ').map(Number);
    return { runMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    return { runMs: NaN, waitMs: NaN };
  }
}

/**
 * A live process's main thread so far: time on a CPU and time runnable but waiting for one
 * (/proc/<pid>/schedstat); NaNs when unknown. Wall time minus both is time asleep.
 */
export function schedStat(pid: number | undefined): SchedStat {
  return readSchedStat(`/proc/${pid}/schedstat`);
}

/**
 * Every thread of a live process so far, as schedStat gives the main thread's: the main thread (whose
 * id is the process's) apart from all the others summed (V8's compiler and GC threads, libuv's pool,
 * worker threads). A thread that ended is not counted.
 */
export function processSchedStat(pid: number): { main: SchedStat; others: SchedStat } {
  const others = { runMs: 0, waitMs: 0 };
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`).filter((tid) => tid !== String(pid));
  } catch {
    // Gone: NaNs below.
  }
  for (const tid of tids) {
    const thread = readSchedStat(`/proc/${pid}/task/${tid}/schedstat`);
    // A thread that ended between the listing and the read counts nothing.
    if (Number.isFinite(thread.runMs)) {
      others.runMs += thread.runMs;
      others.waitMs += thread.waitMs;
    }
  }
  return { main: schedStat(pid), others };
}

/**
 * Peak resident set size (VmHWM) of a live process in KiB, from /proc (Linux); NaN elsewhere or
 * when the process is gone.
 */
export function peakRssKiB(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** A cluster running one host alone: the pair is started, its backup killed, and the primary goes on unreplicated. */
export async function aloneAfterBackupLoss(cluster: Cluster): Promise<void> {
  const alone = nextEvent(cluster, 'failover', 30_000);
  cluster.kill('backup');
  await alone;
}

// ---------------------------------------------------------------------------------------------
// Processes of their own (bench/lib/child.ts)

/** bench/lib/child.ts bundled into plain JavaScript in `dir`; returns its path. */
export function buildChildProgram(dir: string): string {
  const out = join(dir, `bench-child-${process.pid}.cjs`);
  buildSync({ entryPoints: [join(__dirname, 'child.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: out, logLevel: 'warning' });
  return out;
}

function childArgs(guest: BenchGuest, extra: Partial<ChildArgs>): ChildArgs {
  const { path, boot } = image(guest);
  const bios = boot && { ...boot.paths, initrd: boot.initrd && boot.paths.initrd, memoryMiB: boot.memoryMiB };
  return { mode: 'run', image: path, wasm: v86WasmPath(), memoryMiB: DEFAULT_MEMORY_MIB, bios, ...extra };
}

export interface PlainProcessRun extends ChildRun {
  /** From spawning the process to its result line (start-up, boot and run). */
  spawnToLineMs: number;
}

/** Plain v86 in a fresh process of its own, to the first output line matching `until`. */
export function runPlainV86Process(
  program: string,
  guest: BenchGuest,
  cmdline: string,
  until: RegExp,
  timeoutMs = 300_000,
  jitTier?: JitTier,
): Promise<PlainProcessRun> {
  const args = childArgs(guest, { mode: 'run', cmdline, until: until.source, jitTier });
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [program, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let result: PlainProcessRun | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const nl = stdout.indexOf('\n');
      if (nl >= 0 && !result) {
        result = { ...(JSON.parse(stdout.slice(0, nl)) as ChildRun), spawnToLineMs: performance.now() - started };
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else reject(new Error(`plain v86 ${guest} (${cmdline}) ended without ${until} (exit ${code ?? signal}): ${stderr.slice(-400)}`));
    });
  });
}

export interface ChildServer { service: ServiceAddress; child: ChildProcess; stop(): Promise<void> }

/** Starts a child in `serve` or `echo` mode and resolves once it announced its port. */
export function startChildServer(program: string, args: ChildArgs, timeoutMs = 60_000): Promise<ChildServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [program, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<void>((r) => child.once('close', () => r()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`bench child ${args.mode} did not announce a port within ${timeoutMs} ms: ${stderr.slice(-400)}`));
    }, timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const { port } = JSON.parse(stdout.slice(0, nl)) as { port: number };
      resolve({ service: { host: '127.0.0.1', port }, child, stop });
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
  });
}

/** Plain v86 running the kv guest behind a TCP line service, ready for requests. */
export function startPlainKvService(program: string): Promise<ChildServer> {
  return startChildServer(program, childArgs('kv', { mode: 'serve', ready: '^kv ready' }));
}

// ---------------------------------------------------------------------------------------------
// Clients

/**
 * One kv client with one request at a time, that knows when its connection was made (a reply on a
 * connection made after a kill comes from the new primary). Request lines are
 * `<client> <seq> <body>`; the reply is the line that starts with `<client> <seq> `.
 */
export class ProbeClient {
  private socket: Socket | undefined;
  private buffer = '';
  private waiting: { prefix: string; resolve: (line: string | undefined) => void } | undefined;
  /** performance.now() when the current connection was made. */
  connectedAt = 0;
  connects = 0;

  constructor(private readonly service: ServiceAddress, readonly id: number) {}

  private connect(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(this.service);
      socket.setNoDelay(true);
      let settled = false;
      socket.once('connect', () => {
        settled = true;
        this.socket = socket;
        this.connectedAt = performance.now();
        this.connects++;
        resolve(true);
      });
      socket.on('data', (chunk: Buffer) => this.receive(chunk.toString('latin1')));
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        if (this.socket === socket) {
          this.socket = undefined;
          this.waiting?.resolve(undefined);
        }
        if (!settled) resolve(false);
      });
    });
  }

  private receive(text: string): void {
    this.buffer += text;
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (this.waiting && line.startsWith(this.waiting.prefix)) this.waiting.resolve(line);
    }
  }

  /** Sends one request; resolves with the reply line, or undefined (no connection, dropped, or timed out). */
  async request(seq: number, body: string, timeoutMs: number): Promise<string | undefined> {
    if (!this.socket && !(await this.connect())) return undefined;
    const socket = this.socket!;
    const prefix = `${this.id} ${seq} `;
    return new Promise((resolve) => {
      const done = (line: string | undefined) => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve(line);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.waiting = { prefix, resolve: done };
      socket.write(`${this.id} ${seq} ${body}\n`);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }
}

/**
 * A few requests from a client id the workload never uses, until they are answered: the guest is
 * up and reading, and the paths a request takes are warm.
 */
export async function warmUp(service: ServiceAddress, requests: number, deadlineMs = 30_000): Promise<void> {
  const probe = new ProbeClient(service, 100);
  const deadline = performance.now() + deadlineMs;
  try {
    for (let seq = 1; seq <= requests; seq++) {
      while (!(await probe.request(seq, 'GET warm', 500))) {
        if (performance.now() > deadline) throw new Error(`the service at ${service.host}:${service.port} did not answer within ${deadlineMs} ms`);
        await sleep(10);
      }
    }
  } finally {
    probe.close();
  }
}

/**
 * Loopback round trips between two Node processes of their own (bench/lib/child.ts `ping` and
 * `echo`): `count` 32-byte messages, one at a time, `gapMs` apart (both sides go idle in between, as
 * primary and backup do between replies). Returns every round-trip time in ms.
 */
export async function loopbackRoundTrips(program: string, count: number, gapMs: number): Promise<number[]> {
  const stop = await startRoundTrips(program, gapMs, count);
  return stop();
}

/**
 * The same round trips, measured by a bystander pair while something else runs: starts them and
 * returns the function that stops them and resolves to their times. On a loaded machine this is the
 * floor for anything that waits for one exchange between two processes, such as the Output Rule.
 */
export async function startRoundTrips(
  program: string,
  gapMs: number,
  count?: number,
): Promise<() => Promise<number[]>> {
  const echo = await startChildServer(program, { mode: 'echo' });
  const args: ChildArgs = { mode: 'ping', port: echo.service.port, gapMs, count };
  const pinger = spawn(process.execPath, [program, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const ended = new Promise<number | null>((resolve) => pinger.once('close', resolve));
  const connected = new Promise<boolean>((resolve) => {
    pinger.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n')) resolve(true);
    });
    void ended.then(() => resolve(false));
  });
  pinger.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<number[]> => {
    if (pinger.exitCode === null && count === undefined) pinger.kill('SIGTERM');
    const code = await ended;
    await echo.stop();
    if (code !== 0) throw new Error(`bench child ping exited with ${code}: ${stderr.slice(-400)}`);
    return (JSON.parse(stdout.trim().split('\n').at(-1)!) as { rtts: number[] }).rtts;
  };
  // SIGTERM before the pinger is connected would find it without its handler.
  if (!(await connected)) await stop();
  return stop;
}

export function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
