// `lockstep ft --tap`: the built-in kv guest's network card on a tap interface, reached by an
// ordinary UDP client (socat) through the host's own IP stack, through a failover; and the one-line
// refusals when the tap cannot be had; the same with `lockstep host` agents, whose live primary owns
// the bridge. Root only (a network namespace and a tap): skipped, saying why, otherwise.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FtProcess, NetNs, tapSkipReason } from '../../support/netns';

describe('lockstep ft --tap (kv guest, UDP through a tap)', function () {
  this.timeout(300_000);
  let ns: NetNs | undefined;
  let ft: FtProcess | undefined;

  before(function () {
    const why = tapSkipReason();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    ns = new NetNs();
  });

  afterEach(async () => {
    await ft?.end();
    ft = undefined;
  });

  after(() => ns?.delete());

  const request = (line: string) => ns!.ask('10.0.2.15', 7070, line);

  it('serves a UDP client on the tap, and the state it left goes on after the primary is SIGKILLed', async () => {
    ft = new FtProcess(ns!, ['kv', '--tap', 'tap0', '--json']);
    assert.equal(await request('1 1 PUT k before'), '1 1 OK\n');
    // A reply is released only once the backup acknowledged it: the backup is attached.
    process.kill(ft.firstHostPid(), 'SIGKILL');
    assert.equal(await request('1 2 GET k'), '1 2 VALUE before\n');
    assert.equal(await request('1 3 APPEND k +after'), '1 3 OK\n');
    assert.equal(await request('1 4 GET k'), '1 4 VALUE before+after\n');
    const { code, summary } = await ft.stop();
    assert.equal(code, 0);
    assert.ok(summary.failovers.length >= 1, 'a failover');
    assert.deepEqual(summary.divergences, []);
    assert.deepEqual(summary.tap, { name: 'tap0', address: '10.0.2.1/24' });
    // ARP and the four requests in, at least; their replies out.
    assert.ok(summary.framesIn >= 5, `frames in: ${summary.framesIn}`);
    assert.ok(summary.framesOut >= 5, `frames out: ${summary.framesOut}`);
    const links = await ns!.run('ip', ['-o', 'link']);
    assert.ok(!links.stdout.includes('tap0'), 'the tap socat made went away with it');
  });

  it('a reply the killed primary held (the backup had it) is sent again by the new primary: the client never asks twice', async () => {
    const record = join(mkdtempSync(join(tmpdir(), 'lockstep-tap-')), 'resend.ftlog');
    const run = await ns!.run(process.execPath, ['--import', 'tsx', 'test/support/tapresend.ts', record]);
    assert.equal(run.code, 0, run.stderr);
    type Said = { asked: string; reply: string | null; goLive?: { host: string; resentFrames?: number } };
    const { asked, reply, goLive } = JSON.parse(run.stdout) as Said;
    assert.equal(goLive?.host, 'host-2', 'the backup went live');
    assert.ok((goLive.resentFrames ?? 0) >= 1, `frames sent again: ${goLive.resentFrames}`);
    assert.equal(reply, `${asked}VALUE v\n`);
  });

  const token = 'tap-agent-token';
  /** `lockstep host --listen` agents in the namespace (which has every port free), listening. */
  async function startAgents(ports: number[]): Promise<ChildProcess[]> {
    const agents = ports.map((port) => ns!.spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'host', '--listen', `127.0.0.1:${port}`, '--token', token]));
    await Promise.all(agents.map((agent) => new Promise((resolve) => agent.stderr!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve(undefined)))));
    return agents;
  }
  const agentArgs = (ports: number[]) => ['--agent-token', token, ...ports.flatMap((port) => ['--agent', `127.0.0.1:${port}`])];

  it('with `lockstep host` agents, the bridge runs beside the live primary and moves to the new one at a failover', async () => {
    const ports = [7101, 7102, 7103];
    const agents = await startAgents(ports);
    try {
      // Which agent bridges is the point: a spurious failover (a host starved of CPU) must not move the bridge.
      ft = new FtProcess(ns!, ['kv', '--tap', 'tap0', '--json', '--detect-timeout', '5000', ...agentArgs(ports)]);
      assert.equal(await request('2 1 PUT k before'), '2 1 OK\n');
      const pids = agents.map((agent) => agent.pid!);
      assert.deepEqual(bridging(pids), [pids[0]], 'the bridge is the first primary\'s, beside its agent');
      agents[0].kill('SIGKILL');
      assert.equal(await request('2 2 GET k'), '2 2 VALUE before\n');
      assert.equal(await request('2 3 APPEND k +after'), '2 3 OK\n');
      assert.deepEqual(bridging(pids), [pids[1]], 'the old bridge died with its agent; the new primary\'s took the tap');
      const { code, summary } = await ft.stop();
      assert.equal(code, 0);
      assert.equal(summary.failovers.length, 1);
      assert.equal(summary.failovers[0].newPrimary, 'host-2');
      assert.deepEqual(summary.divergences, []);
      assert.ok(!(await ns!.run('ip', ['-o', 'link'])).stdout.includes('tap0'), 'the tap went away with the last bridge');
    } finally {
      agents.forEach((agent) => agent.kill('SIGKILL'));
    }
  });

  it('with agents, an agent refuses a tap it cannot have in one line, and starts nothing', async () => {
    const [agent] = await startAgents([7104]);
    try {
      // --json: without it a progress line says host-1 was started on the agent (its machine never boots).
      const run = await ns!.run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'ft', 'kv', '--json', '--tap', 'lo', ...agentArgs([7104])]);
      assert.equal(run.stderr, 'lockstep: host-1: --tap lo: lo exists and is not a tap interface\n');
      assert.equal(run.code, 2);
      assert.equal(run.stdout, '');
      assert.equal(bridging([agent.pid!]).length, 0);
    } finally {
      agent.kill('SIGKILL');
    }
  });

  /** Which of `pids` runs a socat bridging tap0 as its child. */
  function bridging(pids: number[]): number[] {
    const read = (file: string) => {
      try {
        return readFileSync(file, 'latin1');
      } catch {
        return ''; // a process gone
      }
    };
    const children = (pid: number) => read(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/).filter(Boolean);
    return pids.filter((pid) => children(pid).some((child) => read(`/proc/${child}/cmdline`).includes('tun-name=tap0')));
  }

  const refusals: [string, string[], string, string[]?][] = [
    ['an interface that is not a tap', ['--tap', 'lo'], '--tap lo: lo exists and is not a tap interface'],
    ['an address in use', ['--tap', 'tap0', '--tap-address', '127.0.0.1/8'], '--tap-address 127.0.0.1/8: 127.0.0.1 is already in use on lo'],
    ['a bad name', ['--tap', 'tap 0'], "--tap: 'tap 0' is not an interface name (1 to 15 letters, digits, '_', '.', '-')"],
    ['a bad address', ['--tap', 'tap0', '--tap-address', '10.0.2.1'], "--tap-address: expected an IPv4 address with a prefix length (like 10.0.2.1/24), got '10.0.2.1'"],
    ['--tap-address alone', ['--tap-address', '10.0.2.1/24'], '--tap-address is for --tap IFNAME'],
    [
      'no CAP_NET_ADMIN', ['--tap', 'tap0'],
      '--tap tap0: a tap interface needs root or CAP_NET_ADMIN (run as root inside a network namespace: docs/ft.md)',
      ['setpriv', '--bounding-set', '-net_admin'],
    ],
  ];
  for (const [what, args, message, prefix = []] of refusals) {
    it(`refuses ${what} in one line, and starts nothing`, async () => {
      const [command, ...rest] = [...prefix, process.execPath, '--import', 'tsx', 'src/cli.ts', 'ft', 'kv', ...args];
      const run = await ns!.run(command, rest);
      assert.equal(run.stderr, `lockstep: ${message}\n`);
      assert.equal(run.code, 2);
      assert.equal(run.stdout, '');
      assert.ok(!(await ns!.run('ip', ['-o', 'link'])).stdout.includes('tap0'), 'no tap made');
    });
  }
});
