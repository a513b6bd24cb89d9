// The debugger (issue 4): what a developer waits for. Driven through the real adapter (DAP on a local
// port, the adapter in this process, as the extension runs it inline) on a real FT pair of host
// processes (the built CLI when there is one), so each figure includes the request, both hosts
// moving and the stop coming back:
//
//  - runToInstruction to random counts of a recording of 10^10 instructions (ticker, idle-heavy: its
//    idle time counts, so it gets there in seconds): both machines restore their nearest snapshot,
//    replay to the count and stop exactly there; target under 1 s;
//  - the same in a busy recording (spin), where every replayed count is an executed instruction;
//  - stepBack after such a stop (the first restores the step's start; further ones restore the
//    stepping base the timeline keeps); target under 300 ms;
//  - a kv client's reply time while the session runs under the debugger (what the guest console
//    sees), against the same pair with no debugger, alternating session by session.
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { Server } from 'node:net';
import { serveTcp, serverPort } from '../src/adapter/server';
import type { HostLauncher } from '../src/ft/cluster';
import type { ServiceAddress } from '../src/ft/replication';
import { BenchContext, BenchmarkModule, RowInput, compareRow, valueRow } from './harness';
import { ProbeClient, clusterOptions, hostLauncher, quantile, warmUp, withCluster } from './lib/ft';

const WAIT_MS = 300_000;

interface Subject {
  label: string;
  guest: string;
  cmdline?: string;
  /** Instructions recorded before measuring. */
  length: number;
}

interface Measured { recordS: number; runTo: number[]; exact: number; stepBack: number[]; stepBackAgain: number[] }

/** mulberry32: the same counts every run. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took over ${WAIT_MS} ms`)), WAIT_MS); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

class Session {
  private constructor(readonly dc: DebugClient, private readonly server: Server) {}

  /** An FT pair on `subject`, stopped at its entry. */
  static async open(subject: Subject, launcher: HostLauncher): Promise<Session> {
    const server = await serveTcp(0, { launcher });
    const dc = new DebugClient('node', '', 'lockstep');
    await dc.start(serverPort(server));
    const session = new Session(dc, server);
    const entry = session.stop();
    await within(Promise.all([dc.configurationSequence(), dc.launch({ guest: subject.guest, cmdline: subject.cmdline, stopOnEntry: true })]), 'launching');
    await entry;
    return session;
  }

  stop(): Promise<unknown> {
    return within(new Promise((resolve) => this.dc.once('stopped', resolve)), 'a stop');
  }

  async runTo(instruction: number): Promise<number> {
    const response = await within(this.dc.customRequest('lockstep/runToInstruction', { threadId: 1, instruction }), `running to ${instruction}`);
    return (response.body as { instruction: number }).instruction;
  }

  /** Milliseconds from the stepBack request to its stop. */
  async stepBack(): Promise<number> {
    const started = performance.now();
    const stopped = this.stop();
    await this.dc.stepBackRequest({ threadId: 1 });
    await stopped;
    return performance.now() - started;
  }

  /** Runs free from the entry stop; resolves with the service endpoint clients use. */
  async run(): Promise<ServiceAddress> {
    await this.dc.continueRequest({ threadId: 1 });
    const response = await this.dc.customRequest('lockstep/service', {});
    const address = (response.body as { address?: ServiceAddress }).address;
    if (!address) throw new Error('the session has no service endpoint');
    return address;
  }

  async close(): Promise<void> {
    await this.dc.stop();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

async function measure(ctx: BenchContext, subject: Subject, launcher: HostLauncher, runs: number): Promise<Measured> {
  const session = await Session.open(subject, launcher);
  try {
    let started = performance.now();
    await session.runTo(subject.length);
    const recordS = (performance.now() - started) / 1000;
    ctx.log(`${subject.label}: recorded ${subject.length} instructions in ${recordS.toFixed(1)} s`);
    const random = prng(0xdeb);
    const measured: Measured = { recordS, runTo: [], exact: 0, stepBack: [], stepBackAgain: [] };
    for (let i = 0; i < runs; i++) {
      const n = 1 + Math.floor(random() * (subject.length - 1));
      started = performance.now();
      const landed = await session.runTo(n);
      measured.runTo.push(performance.now() - started);
      if (landed === n) measured.exact++;
      measured.stepBack.push(await session.stepBack());
      measured.stepBackAgain.push(await session.stepBack());
      ctx.log(`${subject.label}: runTo ${n} -> ${landed} in ${measured.runTo.at(-1)!.toFixed(0)} ms; stepBack ${measured.stepBack.at(-1)!.toFixed(0)} / ${measured.stepBackAgain.at(-1)!.toFixed(0)} ms`);
    }
    return measured;
  } finally {
    await session.close();
  }
}

function rows(subject: Subject, m: Measured, setup: string): RowInput[] {
  const note = `${setup}. Recorded first in ${m.recordS.toFixed(1)} s; ${m.exact} of ${m.runTo.length} random counts were instructions and were landed on exactly, the others are inside idle time and stop where the guest halted. Default epochs (100 M instructions, or 1 G of count while idle): a snapshot at each.`;
  return [
    valueRow({ name: `runToInstruction N, random N in ${subject.label}: both machines stop at N`, unit: 'ms', value: m.runTo, target: '<= 1000', note }),
    valueRow({ name: `stepBack after a runToInstruction, ${subject.label}`, unit: 'ms', value: m.stepBack, target: '<= 300', note: `${setup}. From the request to the stop (one machine).` }),
    valueRow({ name: `a further stepBack, ${subject.label}`, unit: 'ms', value: m.stepBackAgain, target: '<= 300', note: `${setup}. The timeline restores the stepping base it kept.` }),
  ];
}

/** Reply times (ms) of `count` requests from one client, one at a time, after a warm-up. */
async function replyTimes(service: ServiceAddress, count: number): Promise<number[]> {
  await warmUp(service, 5);
  const client = new ProbeClient(service, 1);
  const times: number[] = [];
  try {
    for (let seq = 1; seq <= count; seq++) {
      const started = performance.now();
      const reply = await client.request(seq, seq % 2 ? `PUT k${seq % 10} ${seq}` : `GET k${(seq - 1) % 10}`, WAIT_MS);
      if (!reply) throw new Error(`request ${seq} got no reply`);
      times.push(performance.now() - started);
    }
  } finally {
    client.close();
  }
  return times;
}

async function consoleRows(ctx: BenchContext, launcher: HostLauncher, hosts: string): Promise<RowInput[]> {
  const count = ctx.pick(200, 20);
  const debugged: number[][] = [];
  const plain: number[][] = [];
  for (let i = 0; i < ctx.pick(3, 1); i++) {
    const session = await Session.open({ label: 'kv', guest: 'kv', length: 0 }, launcher);
    try {
      debugged.push(await replyTimes(await session.run(), count));
    } finally {
      await session.close();
    }
    plain.push(await withCluster(clusterOptions('kv', launcher, ctx.tmpDir), async (cluster) => {
      await cluster.start();
      return replyTimes(cluster.service, count);
    }));
    ctx.log(`kv console ${i + 1}: under the debugger p50 ${quantile(debugged[i], 0.5).toFixed(2)} p99 ${quantile(debugged[i], 0.99).toFixed(2)} ms; without p50 ${quantile(plain[i], 0.5).toFixed(2)} p99 ${quantile(plain[i], 0.99).toFixed(2)} ms`);
  }
  const note = `The adapter in process (DAP on a local port), hosts: ${hosts}. One client (as the guest console is one), ${count} requests one at a time (PUT and GET), after 5 warm-up requests; the session launched with stopOnEntry, then continued (running free under the debugger). Baseline: the same pair started as \`lockstep ft kv\` does, no debugger, alternating with it.`;
  return [0.5, 0.99].map((q) =>
    compareRow({
      name: `kv: a client's reply time while running under the debugger vs without, p${q * 100}`,
      unit: 'ms',
      value: debugged.map((t) => quantile(t, q)),
      baseline: plain.map((t) => quantile(t, q)),
      baselineLabel: `no debugger, p${q * 100}`,
      note,
    }),
  );
}

export const debugBenchmark: BenchmarkModule = {
  name: 'debug',
  groups: ['debug'],
  description: 'the debug adapter on an FT pair: runToInstruction in a 10^10-instruction recording, stepBack latency, a client\'s reply time while running under the debugger',
  run: async (ctx) => {
    const { launcher, label } = hostLauncher();
    const setup = `DAP request to stop, adapter in process, hosts: ${label}`;
    const idle: Subject = { label: ctx.pick('a 10^10-instruction ticker recording', 'a 10^8-instruction ticker recording'), guest: 'ticker', cmdline: 'hz=1000 ticks=30000 every=0', length: ctx.pick(1e10, 1e8) };
    const busy: Subject = { label: 'a 2·10^9-instruction spin recording', guest: 'spin', cmdline: 'iterations=200000000', length: 2e9 };
    const out = rows(idle, await measure(ctx, idle, launcher, ctx.pick(15, 2)), setup);
    if (!ctx.smoke) out.push(...rows(busy, await measure(ctx, busy, launcher, 10), setup).slice(0, 1));
    out.push(...(await consoleRows(ctx, launcher, label)));
    return out;
  },
};
