// The linux guest's files given as `lockstep run` takes them (a bzImage, --bios, --initrd, --cmdline, --memory) to
// `lockstep ft`: the hosts boot it, the recording's header names every file by path and hash, and `lockstep replay`
// finds them there and reproduces the epoch hashes; a BIOS with one byte changed is refused, named. Skipped when the
// guest is not built. Boots Linux to about 400 M instructions on two hosts, then once more in the replay.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLogFile } from '../../src/ft/log';
import { linuxGuestDir, loadImage } from '../../src/ft/machine';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { maxBuffer: 16 << 20, timeout: 500_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('linux guest: boot files through ft, the log header and replay', function () {
  this.timeout(900_000);
  let dir: string;

  before(function () {
    if (!existsSync(join(linuxGuestDir(), 'manifest.json'))) {
      console.log(`      (skipped: the linux guest is not built in ${linuxGuestDir()}; run npm run build:linux)`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'lockstep-linux-boot-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('`lockstep ft bzImage --bios --initrd --cmdline --memory` records its files; replay finds them and checks them', async () => {
    const linux = loadImage('linux');
    const boot = linux.boot!;
    const record = join(dir, 'linux.ftlog');
    const ft = await cli([
      'ft', linux.path, '--bios', boot.paths.bios, '--initrd', boot.paths.initrd, '--cmdline', boot.cmdline,
      '--memory', String(boot.memoryMiB), '--record', record, '--max-instructions', '400000000',
      '--detect-timeout', '120000', '--json',
    ]);
    assert.equal(ft.code, 0, ft.stderr);
    const summary = JSON.parse(ft.stdout);
    assert.deepEqual(summary.divergences, []);
    const { meta, end } = await readLogFile(record);
    assert.equal(end?.how, 'closed');
    assert.deepEqual(meta.bootFiles?.map((f) => [f.role, f.path]), [
      ['image', linux.path], ['bios', boot.paths.bios], ['vga-bios', boot.paths.vgaBios], ['initrd', boot.paths.initrd],
    ]);
    assert.deepEqual([meta.memorySize, meta.cmdline], [boot.memoryMiB << 20, boot.cmdline]);

    // No image, no options: everything comes from the header.
    const replay = await cli(['replay', record, '--json']);
    assert.equal(replay.code, 0, replay.stderr);
    const result = JSON.parse(replay.stdout);
    assert.deepEqual([result.complete, result.epochMismatches], [true, []]);
    assert.ok(result.epochsMatched >= 3, `epochs matched: ${result.epochsMatched}`);
    const primary = summary.epochHashes['host-1'] as string[];
    assert.deepEqual(result.epochHashes.slice(0, primary.length), primary.slice(0, result.epochHashes.length));

    const changed = join(dir, 'bios.bin');
    copyFileSync(boot.paths.bios, changed);
    const rom = readFileSync(changed);
    rom[0x100] ^= 1;
    writeFileSync(changed, rom);
    const refused = await cli(['replay', record, '--bios', changed]);
    assert.equal(refused.code, 2, refused.stderr);
    const want = meta.bootFiles!.find((f) => f.role === 'bios')!.sha256;
    assert.match(refused.stderr, new RegExp(`^lockstep: .*${changed} \\(bios\\) is not the file this log was recorded with: sha256 [0-9a-f]{64} here, ${want} in the log`));
    assert.equal(refused.stderr.trimEnd().split('\n').length, 1);
  });
});
