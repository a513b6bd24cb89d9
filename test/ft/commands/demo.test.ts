// runDemo (`lockstep demo`) in this process, with real host processes: whatever fails after its cluster
// started, it rejects with that failure and leaves no host process running.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { runDemo } from '../../../src/ft/commands';
import { SOURCE_LAUNCHER } from '../../support/cluster';

/** This process's children, by pid (not ps itself). */
function children(): Set<number> {
  try {
    const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    const rows = out.split('\n').map((line) => line.trim().split(/\s+/)).filter(([pid, comm]) => pid && comm !== 'ps');
    return new Set(rows.map(([pid]) => Number(pid)));
  } catch {
    return new Set(); // ps exits 1 when there are none
  }
}

/** Children that are not in `before`, once those that are exiting have exited (up to `ms`). */
async function leftOver(before: Set<number>, ms: number): Promise<number[]> {
  const deadline = performance.now() + ms;
  for (;;) {
    const left = [...children()].filter((pid) => !before.has(pid));
    if (!left.length || performance.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('runDemo', function () {
  this.timeout(120_000);

  it('a failure after the cluster started rejects with it and ends every host process', async () => {
    const before = children();
    let hostsSeen = 0;
    const failing = (line: string) => {
      if (!line.includes('under FT')) return;
      hostsSeen = [...children()].filter((pid) => !before.has(pid)).length;
      throw new Error('the terminal went away');
    };
    const options = { ops: 100, killAfterOps: 50, seed: 1, clients: 1, detectTimeoutMs: 10_000 };
    await assert.rejects(runDemo({ ...options, launcher: SOURCE_LAUNCHER, print: failing }), /the terminal went away/);
    assert.equal(hostsSeen, 2, 'the primary and the backup were running when it failed');
    // A host killed by SIGKILL is gone within moments; 30 s is for a loaded machine, not a figure.
    assert.deepEqual(await leftOver(before, 30_000), [], 'no host process outlives the demo');
  });
});
