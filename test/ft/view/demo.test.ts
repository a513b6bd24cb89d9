// `lockstep demo --hosts 3 --kills 2`, run as a real child process (its hosts are its own children):
// two primaries killed in turn under a view service, each view printed as it changes, and --json
// carrying the views, the kills and the checker's verdict.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import type { ClusterSummary } from '../../../src/ft/cluster';
import type { DemoKill } from '../../../src/ft/commands';
import type { CheckResult } from '../../../src/ft/workload';

/** For a loaded machine (2 cores, shared): a host dead after 2 s without a ping, a backup after 2 s silent. */
const LOADED_TIMING = ['--ping-interval', '200', '--dead-pings', '10', '--detect-timeout', '2000'];

function demo(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const argv = ['--import', 'tsx', 'src/cli.ts', 'demo', '--hosts', '3', '--kills', '2', ...LOADED_TIMING, ...args];
    execFile(process.execPath, argv, { maxBuffer: 16 << 20, timeout: 200_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

const VIEW_LINE = /^view (\d+): primary (host-\d+), backup (host-\d+|none)$/;

// Once failed (a full npm test at load 2): "client 2: cannot reach the service … before the deadline". The demo could
// kill a primary whose backup was initialised before the primary had acknowledged the view naming that backup; by the
// lab's rule no view follows an unacknowledged one, so no host served again. Cluster.redundant now waits for the
// acknowledgement (views.test.ts: 'a primary killed before it acknowledged its view'), and hosts acknowledge at once.
describe('lockstep demo --hosts 3 --kills 2 (CLI, real processes)', function () {
  this.timeout(240_000);

  // Once failed (0 lost, 78 applied twice, 5 inconsistent reads): the client glued a reply cut off by a kill to the
  // next connection's first line (test/ft/workload/client.test.ts, 'drops the half line').
  it('prints each view as it changes: two kills, each promoting the previous view\'s backup; checker PASS', async () => {
    const { status, stdout, stderr } = await demo(['--ops', '400']);
    assert.equal(status, 0, `demo failed:\n${stdout}\n${stderr}`);
    const views = stdout.split('\n').map((line) => VIEW_LINE.exec(line)).filter((m) => m !== null);
    assert.deepEqual(views.map((m) => Number(m[1])), views.map((_, i) => i + 1), 'every view, in order');
    assert.deepEqual(views.slice(0, 2).map((m) => m[0]), ['view 1: primary host-1, backup none', 'view 2: primary host-1, backup host-2']);
    for (let i = 1; i < views.length; i++) {
      const [was, is] = [views[i - 1], views[i]];
      assert.ok(is[2] === was[2] || is[2] === was[3], `${was[0]} → ${is[0]}: only the previous view's backup is promoted`);
    }
    const primaries = [...new Set(views.map((m) => m[2]))];
    assert.ok(primaries.length >= 3, `three primaries in turn: ${primaries.join(', ')}`);
    assert.equal((stdout.match(/killing the primary/g) ?? []).length, 2);
    assert.match(stdout, /^checker: PASS$/m);
  });

  it('--json: the views, both kills and the checker\'s verdict', async () => {
    const { status, stdout, stderr } = await demo(['--ops', '300', '--seed', '7', '--json']);
    assert.equal(status, 0, `demo failed:\n${stdout}\n${stderr}`);
    const result = JSON.parse(stdout) as ClusterSummary & { check: CheckResult; kills: DemoKill[] };
    assert.ok(result.check.ok, result.check.problems.join('; '));
    assert.equal(result.kills.length, 2);
    for (const kill of result.kills) assert.ok(kill.failoverMs! > 0, JSON.stringify(kill));
    assert.ok(result.views!.length >= 4, JSON.stringify(result.views));
    // Each change of primary in the views is one failover, to that primary.
    const primaries = result.views!.map((v) => v.primary);
    const promoted = primaries.filter((p, i) => i > 0 && p !== primaries[i - 1]);
    assert.deepEqual(result.failovers.map((f) => f.newPrimary), promoted);
  });
});
