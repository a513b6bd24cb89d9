// `lockstep demo --guest linux`: the FT demo on the linux guest, as a user runs it (the CLI, real host
// processes, real TCP). It waits for kvd's "kv ready" (about 4.2 G instructions of boot), drives the kv
// workload through the service, kills the primary, and the checker judges the history; the new primary
// gets a backup cloned from it (a 256 MiB machine) and both end in the same state.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { linuxGuestDir } from '../../src/ft/machine';

/** How long the whole demo may take: a boot, the workload, a failover and a clone (minutes on a loaded machine). */
const DEMO_WAIT_MS = 840_000;

function demo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const options = { maxBuffer: 16 << 20, timeout: DEMO_WAIT_MS };
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'demo', ...args], options, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('lockstep demo --guest linux (npm run build:linux)', function () {
  this.timeout(900_000);

  before(function () {
    if (!existsSync(join(linuxGuestDir(), 'manifest.json'))) {
      console.log('      (skipped: the linux guest is not built; run npm run build:linux)');
      this.skip();
    }
  });

  it('runs the kv workload through a failover: the checker passes, and the cloned backup ends with the new primary', async () => {
    // A generous detector: only the kill may fail a host here, not a loaded machine's pauses (a clone's snapshot).
    const { code, stdout, stderr } = await demo(['--guest', 'linux', '--ops', '200', '--detect-timeout', '10000', '--json']);
    assert.equal(code, 0, `exit ${code}: ${stderr.slice(-2000)}`);
    const result = JSON.parse(stdout);
    assert.equal(result.guest, 'linux');
    assert.equal(result.check.ok, true, result.check.problems.join('; '));
    assert.ok(result.check.acknowledged >= 200, `${result.check.acknowledged} operations acknowledged`);
    assert.deepEqual([result.check.lost, result.check.duplicated, result.check.inconsistentReads], [0, 0, 0]);
    assert.equal(result.kills.length, 1);
    const [kill] = result.kills;
    assert.ok(kill.failoverMs !== undefined && kill.redundancyRestoredMs !== undefined, JSON.stringify(kill));
    // The new primary (the former backup) and the backup cloned from it ran to the same state.
    const { end } = result;
    assert.ok(end.primary && end.backup, JSON.stringify(end));
    assert.equal(end.primary.host, 'host-2');
    assert.deepEqual([end.backup.at, end.backup.hash, end.same], [end.primary.at, end.primary.hash, true]);
  });
});
