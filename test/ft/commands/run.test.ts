import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runGuest } from '../../../src/ft/commands';
import { asError } from '../../../src/ft/files';
import { loadImage } from '../../../src/ft/machine';
import { exitGuest } from '../../support/rawguest';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-run-'));
const image = (name: string, bytes: Uint8Array) => {
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
};
const cli = (args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args]);

describe('lockstep run (src/ft/commands/run.ts)', () => {
  describe('a guest that writes isa-debug-exit (port 0xF4)', () => {
    it('ends the run as an exit with its code, keeping the output before it and none after', async () => {
      const result = await runGuest({ image: loadImage(image('exit3.bin', exitGuest(3))), seed: 1 });
      assert.equal(result.end, 'exited');
      assert.equal(result.exitCode, 3);
      assert.match(result.serial, /bye\n$/);
      assert.ok(!result.serial.includes('after'), `nothing after the exit: ${JSON.stringify(result.serial)}`);
    });

    it('the CLI reports it in --json and on stderr, never as "undefined"', async () => {
      const path = image('exit7.bin', exitGuest(7));
      const json = await cli(['run', path, '--json']);
      assert.equal(JSON.parse(json.stdout).exitCode, 7);
      const plain = await cli(['run', path]);
      assert.match(plain.stderr, /^lockstep: the guest exited with code 7 \(isa-debug-exit, port 0xF4\)\n$/);
      assert.ok(!`${json.stderr}${plain.stdout}`.includes('undefined'));
    });
  });

  describe('--seed: the guest\'s random values (RDRAND) come from a seeded generator', () => {
    it('two runs with the same seed are identical, another seed gives other values', async () => {
      const guest = loadImage(image('random.bin', exitGuest(0)));
      const [a, b, c] = [
        await runGuest({ image: guest, seed: 5 }),
        await runGuest({ image: guest, seed: 5 }),
        await runGuest({ image: guest, seed: 6 }),
      ];
      assert.equal(a.recorded.filter((e) => e.kind === 'nondet' && e.source === 'random').length, 1, 'the guest read RDRAND once');
      assert.equal(b.serial, a.serial);
      assert.equal(b.stateHash, a.stateHash);
      assert.notEqual(c.serial, a.serial);
    });

    it('the CLI seeds by default, so two plain runs agree', async () => {
      const path = image('random-cli.bin', exitGuest(0));
      const [a, b] = [await cli(['run', path, '--json']), await cli(['run', path, '--json'])];
      assert.equal(JSON.parse(b.stdout).stateHash, JSON.parse(a.stdout).stateHash);
      assert.equal(JSON.parse(b.stdout).serial, JSON.parse(a.stdout).serial);
      await assert.rejects(cli(['run', path, '--seed', 'x']), /--seed/);
    });
  });

  it('anything thrown that is not an Error is reported with what it was', () => {
    assert.equal(asError('HALT').message, "something other than an error was thrown: 'HALT' (string)");
    assert.equal(asError(undefined).message, 'something other than an error was thrown: undefined (undefined)');
    assert.equal(asError({ code: 3 }).message, 'something other than an error was thrown: {"code":3} (object)');
    const error = new RangeError('kept');
    assert.equal(asError(error), error);
  });
});
