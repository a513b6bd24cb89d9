// `lockstep ft --tap`: the built-in kv guest's network card on a tap interface, reached by an
// ordinary UDP client (socat) through the host's own IP stack, through a failover; and the one-line
// refusals when the tap cannot be had. Root only (a network namespace and a tap): skipped, saying
// why, otherwise.
import { strict as assert } from 'node:assert';
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
