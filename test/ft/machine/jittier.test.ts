// The JIT's modules in Liftoff only (jittier.ts): which flags leave the choice to the user, and that
// the choice is invisible to the guest: a recording made by an FT pair under one setting replays to
// the same epoch hashes under the other, in both directions, JIT on. This would catch a v86 JIT
// decision that depended on how fast V8's code for it runs.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jitTierFor } from '../../../src/ft/machine';

interface CliResult { status: number; stdout: string; stderr: string }

/** `lockstep ARGS` as a process of its own, with `nodeFlags` before the script (FT hosts inherit them). */
function lockstep(nodeFlags: string[], args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const argv = [...nodeFlags, '--import', 'tsx', 'src/cli.ts', ...args];
    execFile(process.execPath, argv, { maxBuffer: 16 << 20, timeout: 300_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

const lastJson = (result: CliResult) => JSON.parse(result.stdout.trim().split('\n').at(-1)!);

/** V8's own tiering, chosen by naming it (--wasm-dynamic-tiering is V8's default). */
const V8_TIERS = ['--wasm-dynamic-tiering'];
/** About 500 M instructions: long enough for V8 to optimize spin's loop when it may. */
const SPIN = ['spin', '--cmdline', 'iterations=30000000'];

describe('the JIT\'s modules in Liftoff only', function () {
  this.timeout(600_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'lockstep-jittier-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is the default; any V8 flag about wasm tiers, on the command line or in NODE_OPTIONS, leaves V8 alone', () => {
    assert.equal(jitTierFor([]), 'liftoff');
    assert.equal(jitTierFor(['--import', 'tsx', '--expose-gc', '--max-old-space-size=4096'], '--enable-source-maps'), 'liftoff');
    for (const flag of ['--liftoff-only', '--no-liftoff', '--wasm-tiering-budget=1800000000', '--no-wasm-tier-up', '--wasm_dynamic_tiering']) {
      assert.equal(jitTierFor([flag]), 'v8', flag);
      assert.equal(jitTierFor([], `--inspect ${flag}`), 'v8', `NODE_OPTIONS ${flag}`);
    }
  });

  for (const [recordedUnder, replayedUnder] of [[V8_TIERS, []], [[], V8_TIERS]]) {
    const [from, to] = [recordedUnder, replayedUnder].map((flags) => (flags.length ? 'V8\'s tiers' : 'Liftoff only'));
    it(`an FT recording of spin made with ${from} replays to the same epoch hashes with ${to}`, async () => {
      const record = join(dir, `spin-${from.length}.ftlog`);
      const ft = await lockstep(recordedUnder, ['ft', ...SPIN, '--record', record, '--detect-timeout', '60000', '--json']);
      assert.equal(ft.status, 0, ft.stderr);
      const replay = await lockstep(replayedUnder, ['replay', record, '--json']);
      assert.equal(replay.status, 0, replay.stderr);
      const result = lastJson(replay);
      assert.equal(result.jitTier, replayedUnder.length ? 'v8' : 'liftoff');
      assert.ok(result.epochsMatched >= 4, `only ${result.epochsMatched} epochs compared`);
      assert.deepEqual([result.epochMismatches, result.complete], [[], true]);
      assert.match(result.serial, /^spin checksum=/m);
    });
  }
});
